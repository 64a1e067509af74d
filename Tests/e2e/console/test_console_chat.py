"""The Chat page in a real browser (issue 12 §3–§5): live updates without a reload, replying, the 24-hour window
(templates only once it has closed), the channel switcher (WhatsApp Cloud API ↔ SMS through the provider fakes),
quick replies with their variables rendered, bulk actions on every conversation matching the filter, assign and
resolve from the header, recovery after the stream is cut, and seven tabs of one browser all live.

Every page is watched (conftest): a console error, a CSP violation or an unexpected HTTP error fails the test."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from conftest import assert_json, rand_phone, unique
from fakes.meta_graph import FakeGraphAPI
from fakes.twilio_api import FakeTwilioAPI
from inbound_helpers import (
    conversations,
    digits,
    get_conversation,
    messages,
    open_sandbox_conversation,
    sandbox_inbound,
    wait_for,
)
from test_send import register_template, tw_channel, wa_conversation

from .helpers import (
    LIVE_TIMEOUT,
    CutProxy,
    api_sign_in,
    make_agent,
    assert_same_document,
    connection,
    conversation_list,
    mark_page,
    message_el,
    messages_region,
    open_chat,
    open_conversation,
    record_statuses,
    row,
    statuses_seen,
)

FOLLOW_UP = {"name": "follow_up", "language": "en_US", "category": "UTILITY", "status": "APPROVED",
             "components": [{"type": "BODY", "text": "Hi {{1}}, there is news about your order {{2}}."}]}


@pytest.fixture(scope="module")
def meta():
    with FakeGraphAPI() as fake:
        yield fake


@pytest.fixture(scope="module")
def twilio():
    with FakeTwilioAPI() as fake:
        yield fake


def named_row(page, name: str):
    """The list row whose accessible name begins with `name`."""
    return conversation_list(page).get_by_role("listitem", name=re.compile("^" + re.escape(name)))


def outbound(page, text: str):
    return messages_region(page).locator('[data-direction="outbound"]').filter(has_text=text)


def composer(page):
    return page.get_by_role("textbox", name="Message", exact=True)


def send_text(page, text: str) -> None:
    composer(page).fill(text)
    page.get_by_role("button", name="Send", exact=True).click()


def outbound_messages(org, conv_id: str) -> list[dict]:
    return [m for m in messages(org, conv_id) if m["direction"] == "outbound"]


# ---------------------------------------------------------------------------------------------------------
# live list, replying


def test_customer_message_appears_in_the_open_list_within_a_second(chat, org):
    page = chat
    mark_page(page)
    name = unique("Live Customer ")
    sandbox_inbound(org, "Olá! Is my order on its way? 📦", phone=rand_phone(), name=name)
    sent_at = time.monotonic()
    item = named_row(page, name)
    expect(item).to_be_visible(timeout=LIVE_TIMEOUT)
    took = time.monotonic() - sent_at
    assert_same_document(page)
    expect(item.locator("[data-unread]")).to_have_text("1")
    expect(item).to_contain_text("Is my order on its way?")
    expect(page).to_have_title(re.compile(r"\b1\b"))  # the tab title counts unread conversations
    print(f"sandbox inbound -> row visible: {took * 1000:.0f} ms")


def test_reply_is_shown_queued_then_delivered_and_stored_once(chat, org):
    page = chat
    conv = open_sandbox_conversation(org, name="Ana Souza", text="Hi, can you help me? 🙂")
    open_conversation(page, conv["id"], "Ana Souza")
    inbound = messages_region(page).locator('[data-direction="inbound"]')
    expect(inbound).to_have_count(1)
    expect(inbound.locator('[dir="auto"]')).to_have_text("Hi, can you help me? 🙂")
    record_statuses(page)

    send_text(page, "Sure, one moment!")
    reply = outbound(page, "Sure, one moment!")
    expect(reply).to_have_count(1)
    expect(reply).to_have_attribute("data-status", "delivered")
    expect(composer(page)).to_have_value("")
    message_id = reply.get_attribute("data-message-id")
    seen = statuses_seen(page).get(message_id, [])
    assert seen[:1] == ["queued"] and seen[-1] == "delivered", f"statuses shown: {seen}"

    stored = outbound_messages(org, conv["id"])
    assert [(m["id"], m["type"], m["text"]) for m in stored] == [(message_id, "text", "Sure, one moment!")], stored
    assert stored[0]["senderAgentId"] is not None


def test_enter_sends_and_shift_enter_adds_a_line(chat, org):
    page = chat
    conv = open_sandbox_conversation(org, name="Bruno Lima", text="Two lines please")
    open_conversation(page, conv["id"], "Bruno Lima")
    box = composer(page)
    box.click()
    box.press_sequentially("first line")
    box.press("Shift+Enter")
    box.press_sequentially("second line")
    expect(box).to_have_value("first line\nsecond line")
    box.press("Enter")
    expect(outbound(page, "second line")).to_have_count(1)
    expect(box).to_have_value("")
    wait_for(lambda: [m["text"] for m in outbound_messages(org, conv["id"])] == ["first line\nsecond line"],
             timeout=30, what="one message with both lines")


# ---------------------------------------------------------------------------------------------------------
# the 24-hour window, channels, quick replies


def test_closed_window_offers_only_templates_and_sends_a_template(chat, org, meta):
    page = chat
    c = wa_conversation(org, meta, timestamp=int(time.time()) - 25 * 3600)
    assert get_conversation(org, c.id)["window"]["open"] is False
    register_template(org, c.wa.id, FOLLOW_UP)
    name = get_conversation(org, c.id)["contact"]["name"] or c.phone

    page.reload()
    expect(connection(page)).to_have_attribute("data-state", "live")
    open_conversation(page, c.id, name)
    window = page.locator("[data-window]")
    expect(window).to_have_attribute("data-window", "closed")
    expect(window).to_contain_text("Window closed")

    # free text is blocked: no message box to type into, no plain Send
    expect(composer(page)).to_have_count(0)
    expect(page.get_by_role("button", name="Send", exact=True)).to_have_count(0)

    picker = page.get_by_role("combobox", name="Template")
    expect(picker).to_be_visible()
    option = picker.locator("option").filter(has_text="follow_up")
    expect(option).to_have_count(1)
    picker.select_option(value=option.get_attribute("value"))
    page.get_by_role("textbox", name="Body parameter 1").fill("Ana")
    page.get_by_role("textbox", name="Body parameter 2").fill("A-17")
    page.get_by_role("button", name="Send template").click()

    sent = wait_for(lambda: outbound_messages(org, c.id), timeout=30, what="the template message")
    assert [m["type"] for m in sent] == ["template"], sent
    stored = sent[0]["content"].get("template", sent[0]["content"])
    assert (stored.get("name"), stored.get("language")) == ("follow_up", "en_US"), sent[0]
    expect(message_el(page, sent[0]["id"])).to_be_visible()
    [request] = meta.wait_for(1, to=digits(c.phone))
    assert request["body"]["type"] == "template", request
    params = [p["text"] for comp in request["body"]["template"]["components"] if comp["type"] == "body"
              for p in comp["parameters"]]
    assert params == ["Ana", "A-17"], request["body"]


def test_channel_switcher_sends_by_sms_and_back_by_whatsapp(chat, org, meta, twilio):
    page = chat
    c = wa_conversation(org, meta)
    tw = tw_channel(org, twilio)
    name = get_conversation(org, c.id)["contact"]["name"] or c.phone
    page.reload()
    expect(connection(page)).to_have_attribute("data-state", "live")
    open_conversation(page, c.id, name)

    switcher = page.get_by_role("combobox", name="Reply channel")
    expect(switcher.locator("option:checked")).to_have_text("WhatsApp")
    switcher.select_option(label="SMS")
    send_text(page, "Sending this one by SMS")
    expect(outbound(page, "Sending this one by SMS")).to_have_count(1)
    [sms] = twilio.wait_for(1, to=c.phone)
    assert sms["params"]["Body"] == "Sending this one by SMS", sms
    conv = wait_for(lambda: (lambda v: v if v["replyChannel"] == "sms" else None)(get_conversation(org, c.id)),
                    timeout=30, what="replyChannel sms")
    assert conv["replyChannelId"] == tw.id

    page.reload()  # the choice is the conversation's, not the page's
    expect(page.get_by_role("combobox", name="Reply channel").locator("option:checked")).to_have_text("SMS")
    switcher = page.get_by_role("combobox", name="Reply channel")
    switcher.select_option(label="WhatsApp")
    send_text(page, "And back on WhatsApp")
    expect(outbound(page, "And back on WhatsApp")).to_have_count(1)
    [wa] = meta.wait_for(1, to=digits(c.phone))
    assert wa["body"]["text"]["body"] == "And back on WhatsApp", wa
    assert twilio.count_for(to=c.phone) == 1
    stored = {m["text"]: m["channelId"] for m in outbound_messages(org, c.id)}
    assert stored == {"Sending this one by SMS": tw.id, "And back on WhatsApp": c.wa.id}, stored


def test_quick_reply_picker_filters_and_renders_variables(chat, org, agent):
    page = chat
    assert_json(org.post("/quick-replies", json={
        "shortcut": "/thanks", "content": "Thanks {{contact.firstName|there}}! {{agent.name}} from {{org.name}} here."}),
        201)
    assert_json(org.post("/quick-replies", json={"shortcut": "/hours", "content": "We open at 9 every weekday."}), 201)
    conv = open_sandbox_conversation(org, name="Carla Mendes", text="Thank you!")
    open_conversation(page, conv["id"], "Carla Mendes")

    box = composer(page)
    box.click()
    box.press_sequentially("/")
    picker = page.get_by_role("listbox", name="Quick replies")
    expect(picker).to_be_visible()
    expect(picker.get_by_role("option")).to_have_count(2)
    box.press_sequentially("weekday")  # content, not shortcut
    expect(picker.get_by_role("option")).to_have_count(1)
    expect(picker.get_by_role("option")).to_contain_text("/hours")
    box.fill("")
    box.press_sequentially("/tha")
    expect(picker.get_by_role("option")).to_have_count(1)
    box.press("Enter")  # keyboard: the highlighted reply is taken
    rendered = f"Thanks Carla! {agent.name} from {org.name} here."
    expect(box).to_have_value(rendered)
    expect(picker).to_have_count(0)
    page.get_by_role("button", name="Send", exact=True).click()
    expect(outbound(page, rendered)).to_have_count(1)
    wait_for(lambda: [m["text"] for m in outbound_messages(org, conv["id"])] == [rendered], timeout=30,
             what="the rendered quick reply stored")


# ---------------------------------------------------------------------------------------------------------
# bulk, header actions


def test_the_list_pages_and_bulk_archives_all_conversations_matching_the_filter(chat, org):
    """Infinite scroll on the keyset cursor — one page (50) first, in a pane that scrolls inside the window, the next
    page when its end comes into view — and bulk actions on every conversation matching the filter, not only the
    rows loaded (one set of 60 conversations for both)."""
    page = chat
    tag = unique("Bulk")
    total = 60  # more than one page of the list
    for i in range(total):
        sandbox_inbound(org, f"bulk message {i}", phone=rand_phone(), name=f"{tag} Customer {i:02d}")
    keep = open_sandbox_conversation(org, name="Keep Me", text="not part of the filter")
    wait_for(lambda: len(conversations(org, {"q": tag})) == total, timeout=30, what=f"{total} conversations")

    page.get_by_role("searchbox", name="Search conversations").fill(tag)
    rows = conversation_list(page).get_by_role("listitem")
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text(tag)
    expect(row(page, keep["id"])).to_have_count(0)
    page.wait_for_timeout(500)  # nothing more is loaded while the list's end is out of view
    expect(rows).to_have_count(50)
    doc, inner = page.evaluate("[document.documentElement.scrollHeight, innerHeight]")
    assert doc <= inner + 1, f"the whole page scrolls ({doc} px in a {inner} px window): the list pane is not " \
                             f"held to the window, so every page of the list loads at once"

    # all matching, while only 50 are loaded
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/whatsapp-api/conversations" in r.url else None)
    page.get_by_role("checkbox", name="Select all", exact=True).check()
    everything = page.get_by_role("button", name=f"Select all {total} matching")
    expect(everything).to_be_visible()
    # counted by GET /conversations/count with the list's filter, not by paging the list
    assert any("/conversations/count?" in u and "q=" in u for u in asked), asked
    assert not any("limit=200" in u for u in asked), f"the list was paged to count it: {asked}"
    everything.click()
    page.get_by_role("button", name="Archive", exact=True).click()
    expect(rows).to_have_count(0)
    wait_for(lambda: conversations(org, {"q": tag}) == [], timeout=30, what="none left unarchived")
    assert len(conversations(org, {"q": tag, "archived": "true"})) == total
    assert get_conversation(org, keep["id"])["archived"] is False, "a conversation outside the filter was archived"

    # the archived ones, paged the same way: the next page comes at the end of the list
    page.get_by_role("checkbox", name="Archived", exact=True).check()
    expect(rows).to_have_count(50)
    rows.last.scroll_into_view_if_needed()
    expect(rows).to_have_count(total)


def test_header_actions_assign_resolve_reopen_hand_over_and_take_over(chat, org, agent):
    page = chat
    conv = open_sandbox_conversation(org, name="Dora Silva", text="Who is handling this?")
    open_conversation(page, conv["id"], "Dora Silva")
    status = page.locator("[data-conversation-status]")
    expect(status).to_have_text(re.compile("open", re.I))

    page.get_by_role("button", name="Assign to me").click()
    expect(status).to_have_text(re.compile("assigned", re.I))
    got = get_conversation(org, conv["id"])
    assert (got["status"], got["assigneeId"]) == ("ASSIGNED", agent.id), got

    page.get_by_role("button", name="Resolve", exact=True).click()
    expect(status).to_have_text(re.compile("resolved", re.I))
    assert get_conversation(org, conv["id"])["status"] == "RESOLVED"

    page.get_by_role("button", name="Reopen", exact=True).click()
    expect(status).to_have_text(re.compile("open", re.I))
    assert get_conversation(org, conv["id"])["status"] == "OPEN"

    # hand-over to the bot and the AI and back
    def api_status():
        got = get_conversation(org, conv["id"])
        return got["status"], got["assigneeId"]

    page.get_by_role("button", name="Hand to bot", exact=True).click()
    wait_for(lambda: api_status()[0] == "BOT_ACTIVE", timeout=30, what="BOT_ACTIVE")
    page.get_by_role("button", name="Hand to AI", exact=True).click()
    wait_for(lambda: api_status()[0] == "AI_ACTIVE", timeout=30, what="AI_ACTIVE")
    page.get_by_role("button", name="Take over", exact=True).click()
    wait_for(lambda: api_status() == ("ASSIGNED", agent.id), timeout=30, what="taken over by the agent")
    page.get_by_role("button", name="Unassign", exact=True).click()
    wait_for(lambda: api_status() == ("OPEN", None), timeout=30, what="unassigned")

    # Assign… picks a colleague
    colleague = make_agent(org, name="Casey Colleague")
    page.reload()
    expect(page.get_by_role("heading", name="Dora Silva")).to_be_visible()
    page.get_by_role("button", name="Assign…", exact=True).click()
    dialog = page.get_by_role("dialog", name="Assign conversation")
    expect(dialog).to_be_visible()
    dialog.get_by_role("combobox", name="Agent").select_option(label="Casey Colleague")
    dialog.get_by_role("button", name="Assign", exact=True).click()
    expect(dialog).to_be_hidden()
    wait_for(lambda: api_status() == ("ASSIGNED", colleague.id), timeout=30, what="assigned to the colleague")


# ---------------------------------------------------------------------------------------------------------
# the stream: reconnecting, many tabs


def test_after_the_stream_is_cut_the_message_that_arrived_meanwhile_is_shown(page, context, watch, cluster, org,
                                                                            agent):
    """The browser reaches edge through a TCP proxy that really cuts the network: the open event stream is closed
    and new connections are dropped until it is restored. (Playwright's `set_offline` does not end an open
    EventSource in Chromium, measured: events kept arriving.) A customer writes meanwhile; once the network is
    back the stream resumes from where it was (Last-Event-ID) and the message is in the list, without a reload."""
    proxy = CutProxy(cluster.ports["http"])
    try:
        api_sign_in(context, agent)
        open_chat(page, proxy.url + "/chat")
        mark_page(page)
        expect(connection(page)).to_have_text("Live")
        before = unique("Before ")  # an event on the stream first, so that there is a place to resume from
        sandbox_inbound(org, "first message", phone=rand_phone(), name=before)
        expect(named_row(page, before)).to_be_visible()
        # while the network is cut every request fails: that is the point of this test
        watch.allow("failed", r"/.*")
        watch.allow_console(r"net::ERR_")

        proxy.cut()
        expect(connection(page)).to_have_attribute("data-state", re.compile("^(reconnecting|connecting)$"))
        expect(connection(page)).to_have_text(re.compile("^(Reconnecting…|Connecting…)$"))
        name = unique("Meanwhile ")
        sandbox_inbound(org, "sent while you were away", phone=rand_phone(), name=name)
        wait_for(lambda: conversations(org, {"q": name}), timeout=30, what="the message stored")
        expect(named_row(page, name)).to_have_count(0)

        proxy.restore()
        expect(connection(page)).to_have_attribute("data-state", "live", timeout=10_000)
        expect(named_row(page, name)).to_be_visible()
        expect(named_row(page, name)).to_contain_text("sent while you were away")
        assert_same_document(page)
        streams = proxy.stream_requests()
        assert len(streams) >= 2, f"the stream was not opened again: {streams}"
        resumed = [h for h in streams[1:] if re.search(r"(?im)^last-event-id: *\S", h) or "lastEventId=" in
                   h.splitlines()[0]]
        assert resumed, "no reconnection said where it stopped (Last-Event-ID):\n" + "\n".join(streams)
    finally:
        proxy.close()


def test_a_stream_cut_before_any_event_resumes_with_its_opening_id_and_reloads_nothing(page, context, watch,
                                                                                        cluster, org, agent):
    """No event reached the browser before the cut: the stream's opening `id:` line is still its place, so the
    browser's own reconnect says Last-Event-ID and the message of the meanwhile arrives as a live event, without
    the list being reloaded."""
    proxy = CutProxy(cluster.ports["http"])
    try:
        api_sign_in(context, agent)
        open_chat(page, proxy.url + "/chat")
        mark_page(page)
        expect(connection(page)).to_have_text("Live")
        time.sleep(0.5)
        watch.allow("failed", r"/.*")
        watch.allow_console(r"net::ERR_")
        lists: list[str] = []
        page.on("request", lambda r: lists.append(r.url) if re.search(r"/conversations(\?|$)", r.url) else None)

        proxy.cut()
        expect(connection(page)).to_have_attribute("data-state", re.compile("^(reconnecting|connecting)$"))
        name = unique("Unseen ")
        sandbox_inbound(org, "while nothing had been heard", phone=rand_phone(), name=name)
        wait_for(lambda: conversations(org, {"q": name}), timeout=30, what="the message stored")

        proxy.restore()
        expect(connection(page)).to_have_attribute("data-state", "live", timeout=10_000)
        expect(named_row(page, name)).to_be_visible()
        assert_same_document(page)
        streams = proxy.stream_requests()
        assert len(streams) >= 2, f"the stream was not opened again: {streams}"
        resumed = [h for h in streams[1:] if re.search(r"(?im)^last-event-id: *\S", h)]
        assert resumed, "the reconnect did not say where the stream opened (Last-Event-ID):\n" + "\n".join(streams)
        assert lists == [], f"the list was reloaded instead of resumed: {lists}"
    finally:
        proxy.close()


def test_seven_tabs_of_one_browser_are_all_live(chat, context, org):
    pages = [chat] + [context.new_page() for _ in range(6)]
    for p in pages[1:]:
        open_chat(p)
    for p in pages:
        expect(connection(p)).to_have_attribute("data-state", "live")
    name = unique("Seven Tabs ")
    sandbox_inbound(org, "hello to every tab", phone=rand_phone(), name=name)
    for p in pages:
        expect(named_row(p, name)).to_be_visible(timeout=3_000)
