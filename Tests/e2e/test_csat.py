"""CSAT surveys seen from outside (docs/events.md, section CSAT): the per-organisation settings
(GET/PUT /csat/settings), the survey a resolution sends (plain text on the sandbox, an interactive list on WhatsApp
with the window open, the configured template with the window closed), answers (a leading digit, a list reply
`csat_N`), comments (the rest of the answer, or the next text within 10 minutes), the cooldown, the `enabled`
switch, refused sends (an opted-out contact: `csat.failed`, no provider call), digits that are not answers, who
the survey's agent is, no survey for a customer who never wrote, and the rounding of the CSAT report.

What must NOT happen is proven with a sentinel where possible: a later resolution of another contact whose survey
is visible (surveys and the analytics timeline follow the conversations log in order).

Answers are checked through GET /analytics/csat and the contact timeline (`kind=csat`), both fed asynchronously by
the analytics service, so they are polled. Each test works in a fresh organisation; WhatsApp tests use the Meta
Graph API fake of Tests/e2e/fakes (one per module)."""

from __future__ import annotations

import datetime as dt
import secrets
import time
from types import SimpleNamespace

import pytest

from conftest import CODE_FORBIDDEN, assert_error, assert_json, parse_time, rand_phone, tick, unique
from fakes.meta_graph import FakeGraphAPI
from fakes.twilio_api import FakeTwilioAPI
from inbound_helpers import (
    WAIT,
    TwilioChannel,
    conversations,
    create_whatsapp_channel,
    digits,
    get_conversation,
    messages,
    new_sandbox_message_id,
    sandbox_channel,
    sandbox_inbound,
    send_whatsapp,
    text_payload,
    twilio_channel_body,
    wait_contact,
    wait_for,
    wait_message,
)

SETTINGS = "/csat/settings"
DEFAULTS = {
    "enabled": True,
    "question": "How would you rate our service today?",
    "templateName": None,
    "templateLanguage": "en_US",
    "cooldownHours": 24,
}
QUESTION = DEFAULTS["question"]
SCALE = "1 (poor) to 5 (excellent)"
SCALE_LINE = "Reply with a number from 1 (poor) to 5 (excellent)."
SEND_WAIT = 20.0  # a survey reaches its final state within this


# ---------------------------------------------------------------------------------------------------------
# fakes


@pytest.fixture(scope="module")
def _meta_server():
    with FakeGraphAPI() as fake:
        yield fake


@pytest.fixture(scope="module")
def twilio():
    with FakeTwilioAPI() as fake:
        yield fake


@pytest.fixture
def meta(_meta_server):
    _meta_server.reset_knobs()
    yield _meta_server
    _meta_server.reset_knobs()


# ---------------------------------------------------------------------------------------------------------
# helpers


def report_window() -> dict:
    """from yesterday to tomorrow (UTC): safe around midnight."""
    today = dt.datetime.now(dt.timezone.utc).date()
    return {"from": (today - dt.timedelta(days=1)).isoformat(), "to": (today + dt.timedelta(days=1)).isoformat()}


def get_settings(org) -> dict:
    return assert_json(org.get(SETTINGS), 200)


def put_settings(org, **changes) -> dict:
    body = {**DEFAULTS, **changes}
    got = assert_json(org.api("PUT", SETTINGS, json=body), 200)
    assert got == body, f"PUT {SETTINGS} answered {got}, expected {body}"
    return got


def make_agent(org, name: str = "Agent"):
    """An agent and an API key acting as that agent: (agent, key)."""
    agent = assert_json(org.post("/agents", json={"name": name, "email": unique(name.lower()) + "@example.com",
                                                  "role": "agent"}), 201)
    key = assert_json(org.post("/api-keys", json={"name": f"{name} desk", "role": "agent",
                                                  "agentId": agent["id"]}), 201)["key"]
    return agent, key


def sandbox_message(org, phone: str, text: str, **extra):
    """A sandbox customer message, waited for; answers (conversation, message) as then listed."""
    mid = new_sandbox_message_id()
    sandbox_inbound(org, text, phone=phone, message_id=mid, **extra)
    conv, msg = wait_message(org, mid)
    tick()
    return conv, msg


def sandbox_contact(org, name: str | None = None, text: str = "hello, I need help"):
    """A fresh sandbox customer with an open conversation, opted in by the first message."""
    phone = rand_phone()
    extra = {"name": name} if name else {}
    conv, msg = sandbox_message(org, phone, text, **extra)
    wait_contact(org, msg["contactId"], lambda c: c["optedIn"] is True, what="first-message opt-in")
    return SimpleNamespace(phone=phone, conv=conv, id=conv["id"], contact_id=msg["contactId"], first=msg)


def wait_msg_status(org, conv_id: str, msg_id: str, *wanted: str, timeout: float = SEND_WAIT) -> dict:
    def check():
        for m in messages(org, conv_id):
            if m["id"] == msg_id:
                assert m["status"] != "failed" or "failed" in wanted, f"message failed: {m}"
                return m if m["status"] in wanted else None
        return None

    return wait_for(check, timeout, what=f"message {msg_id} {wanted}")


def reply(org, conv_id: str, text: str, key=None, wanted=("delivered", "sent")) -> dict:
    kw = {} if key is None else {"key": key}
    msg = assert_json(org.post(f"/conversations/{conv_id}/messages", json={"type": "text", "text": text}, **kw),
                      202)
    done = wait_msg_status(org, conv_id, msg["id"], *wanted)
    tick()
    return done


def resolve(org, conv_id: str, key=None) -> dict:
    kw = {} if key is None else {"key": key}
    conv = assert_json(org.post(f"/conversations/{conv_id}/resolve", **kw), 200)
    assert conv["status"] == "RESOLVED", conv
    tick()
    return conv


def outbound(org, conv_id: str) -> list[dict]:
    return [m for m in messages(org, conv_id) if m["direction"] == "outbound"]


def wait_survey_message(org, conv_id: str, known: set[str], wanted=("delivered", "sent"),
                        timeout: float = SEND_WAIT) -> dict:
    """The one outbound message of `conv_id` that is not in `known` (the survey), once it has a `wanted` status."""

    def check():
        new = [m for m in outbound(org, conv_id) if m["id"] not in known]
        assert len(new) <= 1, f"more than one new outbound message (one survey expected): {new}"
        if new and new[0]["status"] in wanted:
            return new[0]
        assert not new or new[0]["status"] != "failed", f"the survey message failed: {new[0]}"
        return None

    return wait_for(check, timeout, what=f"survey message in {conv_id}")


def timeline(org, contact_id: str, *kinds: str) -> list[dict]:
    params = {"kind": ",".join(kinds)} if kinds else {}
    return org.list_all(f"/contacts/{contact_id}/timeline", params)


def csat_items(org, contact_id: str) -> list[dict]:
    """The contact's csat timeline items, oldest first."""
    return list(reversed(timeline(org, contact_id, "csat")))


def csat_types(org, contact_id: str) -> list[str]:
    """The contact's csat item types, oldest first, without `csat.requested` (checked on its own where it
    matters: it is a timeline item, docs/events.md)."""
    return [i["type"] for i in csat_items(org, contact_id) if i["type"] != "csat.requested"]


def wait_csat_types(org, contact_id: str, predicate, timeout: float = WAIT, what: str = "csat timeline") -> list:
    def check():
        items = csat_items(org, contact_id)
        return items if predicate([i["type"] for i in items]) else None

    return wait_for(check, timeout, what=f"{what} of {contact_id}")


def wait_csat_item(org, contact_id: str, type_: str, count: int = 1, timeout: float = WAIT) -> list[dict]:
    items = wait_csat_types(org, contact_id, lambda types: types.count(type_) >= count, timeout,
                            what=f"{count} x {type_}")
    return [i for i in items if i["type"] == type_]


def csat_report(org) -> dict:
    return assert_json(org.get("/analytics/csat", params=report_window()), 200)


def wait_csat_count(org, count: int, timeout: float = WAIT) -> dict:
    def check():
        r = csat_report(org)
        return r if r["count"] == count else None

    return wait_for(check, timeout, what=f"csat report count {count}")


def distribution(*ratings: int) -> dict:
    return {str(n): sum(1 for r in ratings if r == n) for n in range(1, 6)}


def contact_conversations(org, contact_id: str) -> list[dict]:
    return conversations(org, {"contactId": contact_id})


def surveyed_contact(org, agent=None, key=None, name: str | None = None):
    """A sandbox customer who wrote, got a reply (from `key`'s agent), was resolved and received the survey."""
    c = sandbox_contact(org, name=name)
    if agent is not None:
        assert_json(org.post(f"/conversations/{c.id}/assign", json={"agentId": agent["id"]}), 200)
    c.reply = reply(org, c.id, "Happy to help, it is done.", key=key)
    c.resolved = resolve(org, c.id, key=key)
    c.survey = wait_survey_message(org, c.id, {c.reply["id"]})
    # the survey is `sent` (csat.sent) before the customer answers
    wait_csat_item(org, c.contact_id, "csat.sent")
    return c


# ---------------------------------------------------------------------------------------------------------
# settings


def test_settings_defaults_put_and_isolation(org, other_org):
    assert get_settings(org) == DEFAULTS

    changed = {"enabled": False, "question": "How did we do, honestly?", "templateName": "csat_rating",
               "templateLanguage": "pt_BR", "cooldownHours": 48}
    got = assert_json(org.api("PUT", SETTINGS, json=changed), 200)
    assert got == changed
    assert get_settings(org) == changed
    assert get_settings(other_org) == DEFAULTS, "settings of one organisation changed another's"

    # back to a template-less, enabled state; the limits themselves are accepted
    edge = {"enabled": True, "question": "q" * 1024, "templateName": None, "templateLanguage": "en_US",
            "cooldownHours": 0}
    assert assert_json(org.api("PUT", SETTINGS, json=edge), 200) == edge
    assert get_settings(org) == edge


BAD_SETTINGS = [
    ("cooldown-negative", {"cooldownHours": -1}, "invalid_field", "cooldownHours"),
    ("cooldown-721", {"cooldownHours": 721}, "invalid_field", "cooldownHours"),
    ("cooldown-huge", {"cooldownHours": 10**9}, "invalid_field", "cooldownHours"),
    ("cooldown-string", {"cooldownHours": "24"}, "invalid_field", "cooldownHours"),
    ("question-empty", {"question": ""}, "invalid_field", "question"),
    ("question-too-long", {"question": "q" * 1025}, "invalid_field", "question"),
    ("question-not-string", {"question": 5}, "invalid_field", "question"),
    ("enabled-string", {"enabled": "yes"}, "invalid_field", "enabled"),
    ("enabled-number", {"enabled": 1}, "invalid_field", "enabled"),
    ("template-name-number", {"templateName": 7}, "invalid_field", "templateName"),
    ("unknown-field", {"surveyDelay": 5}, "unknown_field", "surveyDelay"),
]


@pytest.mark.parametrize("change,code,field", [c[1:] for c in BAD_SETTINGS], ids=[c[0] for c in BAD_SETTINGS])
def test_settings_reject_bad_values(org, change, code, field):
    before = put_settings(org, question="Before the bad PUT?", cooldownHours=12)
    # alone, and next to valid fields: nothing of the body is applied
    assert_error(org.api("PUT", SETTINGS, json=change), 400, code, field=field)
    assert_error(org.api("PUT", SETTINGS, json={**before, "question": "Not applied?", **change}), 400, code,
                 field=field)
    assert get_settings(org) == before, "a refused PUT changed the settings"


def test_settings_put_takes_a_subset(org):
    got = assert_json(org.api("PUT", SETTINGS, json={"cooldownHours": 720}), 200)
    assert got == {**DEFAULTS, "cooldownHours": 720}, got
    got = assert_json(org.api("PUT", SETTINGS, json={"question": "Rate us?", "templateName": "csat_x"}), 200)
    assert got == {**DEFAULTS, "cooldownHours": 720, "question": "Rate us?", "templateName": "csat_x"}, got
    got = assert_json(org.api("PUT", SETTINGS, json={"templateName": None}), 200)
    assert got["templateName"] is None and got["question"] == "Rate us?", got
    assert assert_json(org.api("PUT", SETTINGS, json={}), 200) == got
    assert get_settings(org) == got


def test_settings_put_needs_an_admin_key(org):
    _, key = make_agent(org, "Ned")
    assert get_settings(org) == DEFAULTS
    assert_error(org.api("PUT", SETTINGS, json={"enabled": False}, key=key), 403, CODE_FORBIDDEN)
    assert get_settings(org) == DEFAULTS


def test_settings_reject_malformed_json(org):
    before = get_settings(org)
    r = org.api("PUT", SETTINGS, data=b'{"enabled": tru', headers={"Content-Type": "application/json"})
    assert_error(r, 400, "invalid_json")
    assert_error(org.api("PUT", SETTINGS, json=[DEFAULTS]), 400, "invalid_json")
    assert get_settings(org) == before


# ---------------------------------------------------------------------------------------------------------
# the sandbox: plain-text survey, answers, comments


def test_sandbox_survey_answered_with_comment(org):
    agent, key = make_agent(org, "Ana")
    c = sandbox_contact(org, name="Carla Survey")
    assert_json(org.post(f"/conversations/{c.id}/assign", json={"agentId": agent["id"]}), 200)
    agent_reply = reply(org, c.id, "Your refund is on its way.", key=key)
    resolved = resolve(org, c.id, key=key)
    assert resolved["resolvedAt"]

    survey = wait_survey_message(org, c.id, {agent_reply["id"]})
    assert survey["type"] == "text", survey
    assert QUESTION in survey["text"], survey
    assert SCALE in survey["text"], survey
    assert SCALE_LINE in survey["text"], survey
    assert survey["channelId"] == sandbox_channel(org)["id"]
    conv = get_conversation(org, c.id)
    assert conv["status"] == "RESOLVED", f"sending the survey changed the conversation: {conv}"

    items = wait_csat_item(org, c.contact_id, "csat.sent")
    sent = items[0]["details"]
    assert sent["messageId"] == survey["id"] and sent["conversationId"] == c.id, items
    requested = [i for i in csat_items(org, c.contact_id) if i["type"] == "csat.requested"]
    assert len(requested) == 1, f"csat.requested is a timeline item: {csat_items(org, c.contact_id)}"
    for r in requested:
        req = r["details"]
        assert req["conversationId"] == c.id and req["contactId"] == c.contact_id, req
        assert req["agentId"] == agent["id"] and req["question"] == QUESTION, req
        assert req["surveyId"] == sent["surveyId"], (req, sent)

    # the answer: rating 4, comment "great help"; stored in the resolved conversation, which stays resolved
    conv, answer = sandbox_message(org, c.phone, "4 great help")
    assert conv["id"] == c.id, f"the answer opened another conversation: {conv}"
    assert answer["direction"] == "inbound" and answer["text"] == "4 great help"
    assert get_conversation(org, c.id)["status"] == "RESOLVED"
    assert [x["id"] for x in contact_conversations(org, c.contact_id)] == [c.id]

    answered = wait_csat_item(org, c.contact_id, "csat.answered")
    assert len(answered) == 1, answered
    d = answered[0]["details"]
    assert d["rating"] == 4 and d["comment"] == "great help", d
    assert d["agentId"] == agent["id"] and d["conversationId"] == c.id and d["contactId"] == c.contact_id, d
    assert d["surveyId"] == sent["surveyId"], (d, sent)
    assert answered[0]["conversationId"] == c.id, answered[0]

    report = wait_csat_count(org, 1)
    today = parse_time(answer["recordedAt"]).date().isoformat()
    assert report["average"] == 4, report
    assert report["distribution"] == distribution(4), report
    assert report["satisfiedShare"] == 1, report
    assert report["byAgent"] == [{"agentId": agent["id"], "count": 1, "average": 4, "satisfiedShare": 1}], report
    assert report["byChannel"] == [{"channel": conv["channel"], "count": 1, "average": 4}], report
    assert [d for d in report["byDay"] if d["count"]] == [{"date": today, "count": 1, "average": 4}], report

    # "thanks" right after: the answer already has a comment, so it is an ordinary message
    thanks_conv, _ = sandbox_message(org, c.phone, "thanks")
    assert thanks_conv["id"] != c.id and thanks_conv["status"] == "OPEN", (
        f"'thanks' after an answer with a comment should open a new conversation: {thanks_conv}")
    # a sentinel on the same log: a later survey elsewhere, visible in its own timeline
    sentinel = surveyed_contact(org)
    assert sentinel
    types = csat_types(org, c.contact_id)
    assert types == ["csat.sent", "csat.answered"], types
    assert csat_report(org)["count"] == 1


def test_answer_without_comment_takes_the_next_text(org):
    agent, key = make_agent(org, "Bruno")
    c = surveyed_contact(org, agent, key, name="Dora")
    conv, _ = sandbox_message(org, c.phone, "5")
    assert conv["id"] == c.id
    answered = wait_csat_item(org, c.contact_id, "csat.answered")[0]["details"]
    assert answered["rating"] == 5 and not answered.get("comment"), answered

    conv, comment_msg = sandbox_message(org, c.phone, "super fast")
    assert conv["id"] == c.id, f"the comment should be stored in the resolved conversation: {conv}"
    assert get_conversation(org, c.id)["status"] == "RESOLVED"
    assert [x["id"] for x in contact_conversations(org, c.contact_id)] == [c.id]
    commented = wait_csat_item(org, c.contact_id, "csat.commented")
    assert len(commented) == 1, commented
    d = commented[0]["details"]
    assert d["comment"] == "super fast" and d["rating"] == 5, d
    assert d["agentId"] == agent["id"] and d["conversationId"] == c.id, d
    assert d["surveyId"] == answered["surveyId"], (d, answered)
    assert csat_types(org, c.contact_id) == ["csat.sent", "csat.answered", "csat.commented"]

    # one comment only: a third text is an ordinary message again
    third, _ = sandbox_message(org, c.phone, "bye now")
    assert third["id"] != c.id and third["status"] == "OPEN", third
    report = wait_csat_count(org, 1)
    assert report["average"] == 5 and report["distribution"] == distribution(5), report


def test_patch_status_resolved_also_sends_the_survey(org):
    c = sandbox_contact(org)
    conv = assert_json(org.patch(f"/conversations/{c.id}", json={"status": "RESOLVED"}), 200)
    assert conv["status"] == "RESOLVED"
    survey = wait_survey_message(org, c.id, set())
    assert QUESTION in survey["text"] and SCALE in survey["text"], survey
    conv, _ = sandbox_message(org, c.phone, "2 slow")
    assert conv["id"] == c.id
    d = wait_csat_item(org, c.contact_id, "csat.answered")[0]["details"]
    assert d["rating"] == 2 and d["comment"] == "slow" and d["agentId"] is None, d
    report = wait_csat_count(org, 1)
    assert report["satisfiedShare"] == 0 and report["distribution"] == distribution(2), report


# ---------------------------------------------------------------------------------------------------------
# cooldown, enabled, custom question


def test_cooldown_blocks_a_second_survey(org):
    c = surveyed_contact(org)
    # a new question from the same contact (not a digit: not an answer) opens a new conversation
    second, _ = sandbox_message(org, c.phone, "another question please")
    assert second["id"] != c.id and second["status"] == "OPEN", second
    resolve(org, second["id"])

    # sentinel: a later resolution of another contact gets its survey (same log, processed in order)
    surveyed_contact(org)
    time.sleep(0.5)
    assert outbound(org, second["id"]) == [], "a second survey was sent within the cooldown"
    assert csat_types(org, c.contact_id) == ["csat.sent"], csat_items(org, c.contact_id)
    assert get_conversation(org, second["id"])["status"] == "RESOLVED"


def test_cooldown_zero_and_custom_question(org):
    put_settings(org, question="Did Ana solve it?", cooldownHours=0)
    c = sandbox_contact(org)
    resolve(org, c.id)
    first = wait_survey_message(org, c.id, set())
    assert "Did Ana solve it?" in first["text"] and SCALE in first["text"], first
    assert QUESTION not in first["text"], first
    second, _ = sandbox_message(org, c.phone, "one more thing")
    assert second["id"] != c.id
    resolve(org, second["id"])
    again = wait_survey_message(org, second["id"], set())
    assert "Did Ana solve it?" in again["text"], again
    wait_csat_item(org, c.contact_id, "csat.sent", count=2)
    assert csat_types(org, c.contact_id) == ["csat.sent", "csat.sent"]


def test_disabled_sends_nothing(org):
    put_settings(org, enabled=False)
    c = sandbox_contact(org)
    resolve(org, c.id)
    # sentinel: enable again and resolve another contact; its survey proves the first resolution was processed
    put_settings(org, enabled=True)
    sentinel = surveyed_contact(org)
    assert sentinel.survey
    time.sleep(0.5)
    assert outbound(org, c.id) == [], "a survey was sent while CSAT was disabled"
    assert csat_items(org, c.contact_id) == []
    assert csat_report(org)["count"] == 0


# ---------------------------------------------------------------------------------------------------------
# WhatsApp: list, list reply, template, refused sends


def wa_channel(org, meta, **overrides):
    wa = create_whatsapp_channel(org, graphApiBaseUrl=meta.base_url, **overrides)
    meta.add_number(wa.phone_number_id, wa.access_token)
    return wa


def wa_text(org, wa, phone: str, text: str, timestamp: int | None = None):
    payload = text_payload(wa.phone_number_id, text, sender=digits(phone), name="Customer")
    msg = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    if timestamp is not None:
        msg["timestamp"] = str(timestamp)
    send_whatsapp(org.cluster, wa, payload)
    conv, stored = wait_message(org, msg["id"])
    tick()
    return conv, stored


def wa_list_reply(org, wa, phone: str, row_id: str, title: str, context_id: str | None = None):
    payload = text_payload(wa.phone_number_id, "x", sender=digits(phone), name="Customer")
    msg = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    del msg["text"]
    msg["type"] = "interactive"
    msg["interactive"] = {"type": "list_reply", "list_reply": {"id": row_id, "title": title}}
    if context_id:
        msg["context"] = {"from": "15550100100", "id": context_id}
    send_whatsapp(org.cluster, wa, payload)
    conv, stored = wait_message(org, msg["id"])
    tick()
    return conv, stored


def wa_customer(org, meta, timestamp: int | None = None, **channel_overrides):
    wa = wa_channel(org, meta, **channel_overrides)
    phone = rand_phone()
    conv, msg = wa_text(org, wa, phone, "hello, a question about my order", timestamp=timestamp)
    wait_contact(org, msg["contactId"], lambda c: c["optedIn"] is True, what="first-message opt-in")
    return SimpleNamespace(wa=wa, phone=phone, conv=conv, id=conv["id"], contact_id=msg["contactId"])


def list_rows(body: dict) -> list[dict]:
    return [row for section in body["interactive"]["action"]["sections"] for row in section["rows"]]


def test_whatsapp_open_window_sends_a_list_and_a_list_reply_answers(org, meta):
    agent, key = make_agent(org, "Wanda")
    c = wa_customer(org, meta)
    assert c.conv["window"]["open"] is True
    resolve(org, c.id, key=key)

    reqs = meta.wait_for(1, timeout=SEND_WAIT, to=c.phone)
    assert len(reqs) == 1, [r["body"] for r in reqs]
    body = reqs[0]["body"]
    assert body["type"] == "interactive" and body["interactive"]["type"] == "list", body
    assert QUESTION in body["interactive"]["body"]["text"], body
    rows = list_rows(body)
    assert [r["id"] for r in rows] == [f"csat_{n}" for n in range(1, 6)], rows
    assert [r["title"] for r in rows] == [str(n) for n in range(1, 6)], rows
    survey = wait_survey_message(org, c.id, set(), wanted=("sent",))
    assert survey["providerMessageId"] == reqs[0]["wamid"], (survey, reqs[0]["wamid"])
    assert survey["type"] == "interactive", survey
    wait_csat_item(org, c.contact_id, "csat.sent")

    conv, answer = wa_list_reply(org, c.wa, c.phone, "csat_3", "3", context_id=reqs[0]["wamid"])
    assert conv["id"] == c.id, f"the list reply opened another conversation: {conv}"
    assert answer["type"] == "interactive", answer
    assert get_conversation(org, c.id)["status"] == "RESOLVED"
    d = wait_csat_item(org, c.contact_id, "csat.answered")[0]["details"]
    assert d["rating"] == 3 and not d.get("comment") and d["agentId"] == agent["id"], d
    assert d["channelId"] == c.wa.id and d["medium"] == "whatsapp", d
    report = wait_csat_count(org, 1)
    assert report["average"] == 3 and report["distribution"] == distribution(3), report
    assert report["satisfiedShare"] == 0, report
    assert report["byAgent"] == [{"agentId": agent["id"], "count": 1, "average": 3, "satisfiedShare": 0}], report
    assert report["byChannel"] == [{"channel": "whatsapp", "count": 1, "average": 3}], report
    time.sleep(0.5)
    assert len(meta.messages_to(c.phone)) == 1, "the survey was sent more than once"


def test_whatsapp_closed_window_sends_the_template(org, meta):
    c = wa_customer(org, meta, timestamp=int(time.time()) - 25 * 3600)
    assert get_conversation(org, c.id)["window"]["open"] is False
    name = "csat_" + secrets.token_hex(3)
    assert_json(org.post(f"/channels/{c.wa.id}/templates", json={
        "name": name, "language": "en_US", "category": "UTILITY", "status": "APPROVED",
        "components": [{"type": "BODY", "text": "How would you rate our service? Reply with a number 1 to 5."}],
    }), 201)
    put_settings(org, templateName=name, templateLanguage="en_US")
    resolve(org, c.id)

    reqs = meta.wait_for(1, timeout=SEND_WAIT, to=c.phone)
    assert len(reqs) == 1, [r["body"] for r in reqs]
    body = reqs[0]["body"]
    assert body["type"] == "template", body
    assert body["template"]["name"] == name, body
    assert body["template"]["language"]["code"] == "en_US", body
    assert not body["template"].get("components"), f"the CSAT template takes no parameters: {body}"
    survey = wait_survey_message(org, c.id, set(), wanted=("sent",))
    assert survey["type"] == "template", survey
    wait_csat_item(org, c.contact_id, "csat.sent")

    # the customer answers by text
    conv, _ = wa_text(org, c.wa, c.phone, "4 good")
    assert conv["id"] == c.id
    d = wait_csat_item(org, c.contact_id, "csat.answered")[0]["details"]
    assert d["rating"] == 4 and d["comment"] == "good", d


def test_whatsapp_closed_window_without_template_fails(org, meta):
    c = wa_customer(org, meta, timestamp=int(time.time()) - 25 * 3600)
    assert get_settings(org)["templateName"] is None
    resolve(org, c.id)
    failed = wait_csat_item(org, c.contact_id, "csat.failed")
    assert failed[0]["details"]["reason"] == "window_closed", failed
    time.sleep(0.5)
    assert meta.messages_to(c.phone) == [], "something reached the provider with the window closed"
    assert outbound(org, c.id) == []
    assert csat_types(org, c.contact_id) == ["csat.failed"]


def test_opted_out_contact_gets_no_survey(org, meta):
    c = wa_customer(org, meta)
    wa_text(org, c.wa, c.phone, "STOP")
    wait_contact(org, c.contact_id, lambda x: x["optedIn"] is False, what="opt-out by STOP")
    assert get_conversation(org, c.id)["status"] != "RESOLVED"
    resolve(org, c.id)
    failed = wait_csat_item(org, c.contact_id, "csat.failed")
    reason = failed[0]["details"]["reason"]
    assert "opted_in" in reason or "opted_out" in reason, f"reason of the failed survey: {failed}"
    time.sleep(0.5)
    assert meta.messages_to(c.phone) == [], "a survey reached the provider for an opted-out contact"
    assert outbound(org, c.id) == []
    assert csat_types(org, c.contact_id) == ["csat.failed"]
    assert csat_report(org)["count"] == 0


# ---------------------------------------------------------------------------------------------------------
# digits that are not answers


def test_digit_without_a_pending_survey_is_an_ordinary_message(org):
    # a first message that is a digit opens a conversation
    phone = rand_phone()
    conv, msg = sandbox_message(org, phone, "3")
    assert conv["status"] == "OPEN" and msg["text"] == "3", conv
    # and another digit continues it
    conv2, _ = sandbox_message(org, phone, "5")
    assert conv2["id"] == conv["id"] and conv2["status"] == "OPEN"

    # a resolution without a survey (disabled): a digit opens a new conversation
    put_settings(org, enabled=False)
    resolve(org, conv["id"])
    conv3, _ = sandbox_message(org, phone, "2")
    assert conv3["id"] != conv["id"] and conv3["status"] == "OPEN", conv3
    assert {x["id"] for x in contact_conversations(org, msg["contactId"])} == {conv["id"], conv3["id"]}
    put_settings(org, enabled=True)
    surveyed_contact(org)  # sentinel for the analytics log
    assert csat_items(org, msg["contactId"]) == []


def test_digit_with_an_open_conversation_is_not_an_answer(org):
    c = surveyed_contact(org)
    # "12 apples": a digit followed by another digit is not an answer
    conv, _ = sandbox_message(org, c.phone, "12 apples please")
    assert conv["id"] != c.id and conv["status"] == "OPEN", conv
    # now the contact has an open conversation on the channel: "5" continues it
    conv2, _ = sandbox_message(org, c.phone, "5")
    assert conv2["id"] == conv["id"] and conv2["status"] == "OPEN", conv2
    surveyed_contact(org)  # sentinel: a later survey of the same logs
    time.sleep(0.5)
    assert csat_types(org, c.contact_id) == ["csat.sent"], csat_items(org, c.contact_id)
    assert get_conversation(org, c.id)["status"] == "RESOLVED"
    assert csat_report(org)["count"] == 0


# ---------------------------------------------------------------------------------------------------------
# who is surveyed, and for whom


def test_the_assignee_is_the_surveys_agent_when_an_admin_resolves(org):
    bo, _ = make_agent(org, "Bo")
    c = sandbox_contact(org)
    assert_json(org.post(f"/conversations/{c.id}/assign", json={"agentId": bo["id"]}), 200)
    resolve(org, c.id)  # the org's admin key: no agent of its own
    wait_survey_message(org, c.id, set())
    wait_csat_item(org, c.contact_id, "csat.sent")
    sandbox_message(org, c.phone, "4")
    d = wait_csat_item(org, c.contact_id, "csat.answered")[0]["details"]
    assert d["agentId"] == bo["id"], d
    report = wait_csat_count(org, 1)
    assert report["byAgent"] == [{"agentId": bo["id"], "count": 1, "average": 4, "satisfiedShare": 1}], report


def test_no_survey_when_the_customer_never_wrote(org, twilio):
    body = twilio_channel_body(apiBaseUrl=twilio.base_url)
    raw = assert_json(org.post("/channels", json=body), 201)
    tw = TwilioChannel(org, raw, body)
    twilio.add_account(tw.account_sid, tw.auth_token)
    contact = org.create_contact(name="Never Wrote", optedIn=True)
    msg = assert_json(org.post(f"/contacts/{contact['id']}/messages",
                               json={"type": "text", "text": "Your order shipped", "channel": "sms"}), 202)
    wait_msg_status(org, msg["conversationId"], msg["id"], "sent")
    resolve(org, msg["conversationId"])
    surveyed_contact(org)  # sentinel: a later survey of the same log
    time.sleep(0.5)
    assert [m["id"] for m in outbound(org, msg["conversationId"])] == [msg["id"]], "a survey went to a customer " \
        "who never wrote in the conversation"
    assert len(twilio.messages_to(contact["phone"])) == 1
    assert csat_items(org, contact["id"]) == []


def test_a_failed_survey_does_not_start_the_cooldown(org, meta):
    c = wa_customer(org, meta, timestamp=int(time.time()) - 25 * 3600)
    resolve(org, c.id)
    wait_csat_item(org, c.contact_id, "csat.failed")
    # the customer writes again (window open now): a new conversation, resolved within the cooldown
    conv, _ = wa_text(org, c.wa, c.phone, "are you there?")
    assert conv["id"] != c.id and conv["window"]["open"] is True, conv
    resolve(org, conv["id"])
    reqs = meta.wait_for(1, timeout=SEND_WAIT, to=c.phone)
    assert reqs[0]["body"]["type"] == "interactive", reqs[0]["body"]
    wait_csat_item(org, c.contact_id, "csat.sent")
    assert csat_types(org, c.contact_id) == ["csat.failed", "csat.sent"]


def test_report_rounds_averages_and_shares(org):
    xena, xena_key = make_agent(org, "Xena")
    yuri, yuri_key = make_agent(org, "Yuri")
    for key, rating in ((xena_key, 5), (xena_key, 4), (yuri_key, 1)):
        c = surveyed_contact(org, key=key)
        conv, _ = sandbox_message(org, c.phone, str(rating))
        assert conv["id"] == c.id
    report = wait_csat_count(org, 3)
    assert report["average"] == 3.33, report
    assert report["satisfiedShare"] == 0.6667, report
    assert report["distribution"] == distribution(5, 4, 1), report
    by_agent = sorted(report["byAgent"], key=lambda a: a["agentId"])
    assert by_agent == sorted([
        {"agentId": xena["id"], "count": 2, "average": 4.5, "satisfiedShare": 1},
        {"agentId": yuri["id"], "count": 1, "average": 1, "satisfiedShare": 0},
    ], key=lambda a: a["agentId"]), report
    assert report["byChannel"] == [{"channel": "whatsapp", "count": 3, "average": 3.33}], report
    assert [d for d in report["byDay"] if d["count"]] == [
        {"date": dt.datetime.now(dt.timezone.utc).date().isoformat(), "count": 3, "average": 3.33}] or \
        sum(d["count"] for d in report["byDay"]) == 3, report
