"""The conversation view and composer in a real browser, beyond the happy path (issue 12 §4): every message type
the API stores is shown, a failed send shows why, a refused send is explained in words, a double click sends
once (one Idempotency-Key per send), drafts are kept per conversation, the keyboard shortcuts work and never
fire while typing, and the contact panel edits tags and consent as the agent."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from conftest import assert_json, rand_phone
from fakes.meta_graph import FakeGraphAPI
from inbound_helpers import (
    consent_ledger,
    create_whatsapp_channel,
    digits,
    get_contact,
    get_conversation,
    messages,
    open_sandbox_conversation,
    send_fixture,
    wait_for,
)
from test_send import wa_conversation

from .helpers import connection, message_el, messages_region, open_conversation, row

# Inbound webhooks of every kind the API stores (Tests/Fixtures/whatsapp), sent from one customer.
FIXTURES = [
    "courier_wac_hello", "pywa_audio", "pywa_voice", "pywa_video", "pywa_document", "pywa_media_with_url",
    "pywa_static_sticker", "pywa_current_location", "pywa_contacts", "pywa_interactive_button_reply_with_bsuid",
    "pywa_interactive_list_reply_with_description", "pywa_reply", "pywa_forwarded", "pywa_unsupported",
]


@pytest.fixture(scope="module")
def meta():
    with FakeGraphAPI() as fake:
        yield fake


def composer(page):
    return page.get_by_role("textbox", name="Message", exact=True)


def outbound_messages(org, conv_id: str) -> list[dict]:
    return [m for m in messages(org, conv_id) if m["direction"] == "outbound"]


def test_every_stored_message_type_is_shown(chat, org, meta):
    page = chat
    channel = create_whatsapp_channel(org, graphApiBaseUrl=meta.base_url)
    sender = digits(rand_phone())
    for name in FIXTURES:
        send_fixture(org.cluster, channel, name + ".json", sender=sender)
    convs = wait_for(lambda: [c for c in org.list_all("/conversations") if c["channelId"] == channel.id],
                     timeout=30, what="the conversation")
    assert len(convs) == 1, convs
    conv = convs[0]
    stored = wait_for(lambda: (lambda ms: ms if len(ms) >= len(FIXTURES) else None)(messages(org, conv["id"])),
                      timeout=30, what="every fixture stored")
    types = sorted({m["type"] for m in stored})
    assert len(types) >= 10, f"the fixtures should cover most types: {types}"

    name = conv["contact"]["name"] or conv["contact"]["phone"]
    page.reload()
    expect(connection(page)).to_have_attribute("data-state", "live")
    open_conversation(page, conv["id"], name)
    for m in stored:
        el = message_el(page, m["id"])
        expect(el, f"{m['type']} message").to_be_visible()
        expect(el).to_have_attribute("data-direction", "inbound")
        assert el.inner_text().strip(), f"the {m['type']} message shows nothing"
    unsupported = next(m for m in stored if m["type"] == "unsupported")
    expect(message_el(page, unsupported["id"])).to_contain_text(re.compile("not supported|unsupported", re.I))
    location = next(m for m in stored if m["type"] == "location")
    expect(message_el(page, location["id"])).to_contain_text(re.compile(r"\d+\.\d+"))


def test_a_failed_send_shows_its_status_and_reason(chat, org, meta):
    page = chat
    c = wa_conversation(org, meta)
    meta.fail_for(c.phone, 131026)
    try:
        name = get_conversation(org, c.id)["contact"]["name"] or c.phone
        page.reload()
        expect(connection(page)).to_have_attribute("data-state", "live")
        open_conversation(page, c.id, name)
        composer(page).fill("This one will not arrive")
        page.get_by_role("button", name="Send", exact=True).click()
        failed = messages_region(page).locator('[data-direction="outbound"]').filter(has_text="This one will not arrive")
        expect(failed).to_have_attribute("data-status", "failed", timeout=15_000)
        expect(failed).to_contain_text("could not deliver")  # the reason in words (error.reason undeliverable)
        expect(failed).to_contain_text("131026")
        [stored] = outbound_messages(org, c.id)
        assert stored["status"] == "failed" and stored["error"]["reason"] == "undeliverable", stored
    finally:
        meta.clear_fail_for(c.phone)


def test_a_refused_send_is_explained_next_to_the_composer_and_the_text_is_kept(chat, org, watch):
    page = chat
    conv = open_sandbox_conversation(org, name="Opted Out", text="please stop")
    contact_id = conv["contact"]["id"]
    assert_json(org.post(f"/contacts/{contact_id}/consent", json={"optedIn": False, "note": "asked to stop"}), 200)
    watch.allow(409, rf"/api/whatsapp-api/conversations/{conv['id']}/messages", "POST")
    open_conversation(page, conv["id"], "Opted Out")
    composer(page).fill("One more offer!")
    page.get_by_role("button", name="Send", exact=True).click()
    alert = page.get_by_role("alert").filter(has_text="opted in")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("contact_not_opted_in")
    expect(composer(page)).to_have_value("One more offer!")
    assert outbound_messages(org, conv["id"]) == []


def test_a_double_click_on_send_sends_once(chat, org, watch):
    page = chat
    conv = open_sandbox_conversation(org, name="Double Click", text="hi")
    open_conversation(page, conv["id"], "Double Click")
    composer(page).fill("Only once please")
    page.get_by_role("button", name="Send", exact=True).dblclick()
    expect(messages_region(page).locator('[data-direction="outbound"]')).to_have_count(1)
    page.wait_for_timeout(500)  # a second send, if any, would be stored by now
    assert [m["text"] for m in outbound_messages(org, conv["id"])] == ["Only once please"]
    posts = [r for r in watch.requests if r.method == "POST" and r.url.endswith(f"/conversations/{conv['id']}/messages")]
    assert posts, "no send request seen"
    keys = {r.headers.get("idempotency-key") for r in posts}
    assert None not in keys and len(keys) == 1, f"every send attempt of one message carries one key: {keys}"


def test_drafts_are_kept_per_conversation(chat, org):
    page = chat
    first = open_sandbox_conversation(org, name="Draft One", text="one")
    second = open_sandbox_conversation(org, name="Draft Two", text="two")
    open_conversation(page, first["id"], "Draft One")
    composer(page).fill("half-written answer for one")
    open_conversation(page, second["id"], "Draft Two")
    expect(composer(page)).to_have_value("")
    composer(page).fill("and another for two")
    open_conversation(page, first["id"], "Draft One")
    expect(composer(page)).to_have_value("half-written answer for one")
    page.reload()
    expect(page.get_by_role("heading", name="Draft One")).to_be_visible()
    expect(composer(page)).to_have_value("half-written answer for one")
    open_conversation(page, second["id"], "Draft Two")
    expect(composer(page)).to_have_value("and another for two")
    assert outbound_messages(org, first["id"]) == [] and outbound_messages(org, second["id"]) == []


def test_keyboard_shortcuts_work_and_never_fire_while_typing(chat, org):
    page = chat
    older = open_sandbox_conversation(org, name="Key Older", text="older")
    newer = open_sandbox_conversation(org, name="Key Newer", text="newer")
    expect(row(page, older["id"])).to_be_visible()
    expect(row(page, newer["id"])).to_be_visible()
    page.locator("body").click(position={"x": 700, "y": 5})  # focus on nothing that takes text

    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    page.keyboard.press("j")
    expect(page.get_by_role("heading", name="Key Newer")).to_be_visible()  # the first of the list
    page.keyboard.press("j")
    expect(page.get_by_role("heading", name="Key Older")).to_be_visible()
    page.keyboard.press("k")
    expect(page.get_by_role("heading", name="Key Newer")).to_be_visible()

    # typing the same keys in the composer only types them
    box = composer(page)
    box.click()
    box.press_sequentially("Is it ok? jke")
    expect(box).to_have_value("Is it ok? jke")
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("heading", name="Key Newer")).to_be_visible()
    assert get_conversation(org, newer["id"])["status"] == "OPEN"

    # E resolves the open conversation once focus has left the field
    box.fill("")
    page.locator("body").click(position={"x": 700, "y": 5})
    page.keyboard.press("e")
    wait_for(lambda: get_conversation(org, newer["id"])["status"] == "RESOLVED", timeout=30, what="resolved by E")
    expect(page.locator("[data-conversation-status]")).to_have_text(re.compile("resolved", re.I))


def test_contact_panel_adds_tags_and_records_consent_as_the_agent(chat, org, agent):
    page = chat
    conv = open_sandbox_conversation(org, name="Panel Person", text="hello")
    contact_id = conv["contact"]["id"]
    open_conversation(page, conv["id"], "Panel Person")
    panel = page.get_by_role("complementary", name="Contact")
    expect(panel).to_contain_text("Panel Person")

    panel.get_by_role("textbox", name="Add tag").fill("VIP Customer")
    panel.get_by_role("button", name="Add", exact=True).click()
    wait_for(lambda: "vip customer" in get_contact(org, contact_id)["tags"], timeout=30, what="the tag stored")
    expect(panel).to_contain_text("vip customer")

    opted = panel.get_by_role("switch", name="Opted in").or_(panel.get_by_role("checkbox", name="Opted in"))
    expect(opted).to_be_checked()
    opted.click()
    expect(opted).not_to_be_checked()
    wait_for(lambda: get_contact(org, contact_id)["optedIn"] is False, timeout=30, what="opted out")
    latest = consent_ledger(org, contact_id)[-1]
    assert latest["optedIn"] is False and latest["source"] == "agent", latest
    actor = latest["proof"]["actor"]
    assert actor.get("id") == agent.id, f"the consent change is the agent's: {latest}"
