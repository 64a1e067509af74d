"""Outbound sending seen from outside: POST /conversations/{id}/messages and POST /contacts/{id}/messages, the rules
checked before anything is stored, every message type reaching the provider fakes as the provider's own wire body,
retries with backoff, permanent-error mappings (and their side effects on the channel and the contact),
idempotency keys, the SMS channel switcher, the sandbox, the per-number rate limit and delivery statuses.

Providers are the local fakes of Tests/e2e/fakes (one FakeGraphAPI and one FakeTwilioAPI per module): channels are
created with `graphApiBaseUrl` / `apiBaseUrl` pointing at them. The cluster runs with short retry backoffs
(SWITCHBOARD_SEND_RETRY_BASE_MS=50, _MAX_MS=400, SWITCHBOARD_SEND_MAX_ATTEMPTS=5; see conftest.Cluster.env)."""

from __future__ import annotations

import datetime as dt
import secrets
import time
import urllib.parse
from types import SimpleNamespace

import pytest

from conftest import (
    assert_error,
    assert_json,
    assert_recent,
    assert_uuid7,
    free_ports,
    parse_time,
    rand_phone,
    tick,
    unique,
)
from fakes.meta_graph import FakeGraphAPI, text_of
from fakes.twilio_api import FakeTwilioAPI
from inbound_helpers import (
    assert_twiml,
    MESSAGE_FIELDS,
    TwilioChannel,
    consent_ledger,
    create_whatsapp_channel,
    digits,
    form_params,
    get_contact,
    get_conversation,
    load_fixture,
    messages,
    new_twilio_sid,
    open_sandbox_conversation,
    post_concurrently,
    retarget,
    sandbox_channel,
    send_text,
    send_twilio,
    send_whatsapp,
    sms_form,
    twilio_form,
    twilio_signature,
    text_payload,
    twilio_channel_body,
    wait_contact,
    wait_message,
)

SEND_WAIT = 15.0  # an accepted message reaches its final status (sent / failed / delivered) within this
SETTLE = 1.0  # extra time given to something that must NOT happen
MAX_ATTEMPTS = 5  # SWITCHBOARD_SEND_MAX_ATTEMPTS of the test cluster

ORDER_UPDATE = {
    "name": "order_update", "language": "en_US", "category": "UTILITY",
    "components": [
        {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}"},
        {"type": "BODY", "text": "Hi {{1}}, your order {{2}} ships on {{3}}."},
        {"type": "FOOTER", "text": "Acme"},
        {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Track", "url": "https://acme.test/t/{{1}}"}]},
    ],
}
ORDER_PARAMS = {"header": ["A-1"], "body": ["Ana", "A-1", "Monday"], "buttons": [["A-1"]]}
ORDER_RENDERED = "Hi Ana, your order A-1 ships on Monday."
HELLO = {"name": "hello_world", "language": "en_US", "category": "UTILITY",
         "components": [{"type": "BODY", "text": "Hello world"}]}


# ---------------------------------------------------------------------------------------------------------
# fakes


@pytest.fixture(scope="module")
def _meta_server():
    with FakeGraphAPI() as fake:
        yield fake


@pytest.fixture(scope="module")
def _twilio_server():
    with FakeTwilioAPI() as fake:
        yield fake


@pytest.fixture
def meta(_meta_server):
    _meta_server.reset_knobs()
    yield _meta_server
    _meta_server.reset_knobs()


@pytest.fixture
def twilio(_twilio_server):
    _twilio_server.reset_knobs()
    yield _twilio_server
    _twilio_server.reset_knobs()


# ---------------------------------------------------------------------------------------------------------
# setting up sendable conversations


def wa_channel(org, meta, *, register: bool = True, **overrides):
    wa = create_whatsapp_channel(org, graphApiBaseUrl=meta.base_url, **overrides)
    if register:
        meta.add_number(wa.phone_number_id, wa.access_token)
    return wa


def wa_inbound(org, wa, phone: str, text: str = "hello, I have a question", timestamp: int | None = None):
    """A signed inbound WhatsApp text from `phone`; waits until it is stored and its contact opted in."""
    payload = text_payload(wa.phone_number_id, text, sender=digits(phone), name="Customer")
    if timestamp is not None:
        for entry in payload["entry"]:
            for change in entry["changes"]:
                for m in change["value"]["messages"]:
                    m["timestamp"] = str(timestamp)
    send_whatsapp(org.cluster, wa, payload)
    wamid = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    conv, msg = wait_message(org, wamid)
    wait_contact(org, msg["contactId"], lambda c: c["optedIn"] is True, what="first-message opt-in")
    tick()
    return conv, msg


def wa_conversation(org, meta, timestamp: int | None = None, **channel_overrides):
    """A WhatsApp channel on the Meta fake and a conversation with a fresh, opted-in customer whose window is open
    (or closed, with an old `timestamp`)."""
    wa = wa_channel(org, meta, **channel_overrides)
    phone = rand_phone()
    conv, msg = wa_inbound(org, wa, phone, timestamp=timestamp)
    return SimpleNamespace(org=org, wa=wa, channel=wa, phone=phone, conv=conv, id=conv["id"],
                           contact_id=msg["contactId"], inbound_id=msg["id"])


def tw_channel(org, twilio, **overrides):
    """A twilio_sms channel on the Twilio fake; an override of None leaves that setting out of the body."""
    body = twilio_channel_body(apiBaseUrl=twilio.base_url, **overrides)
    body = {k: v for k, v in body.items() if v is not None}
    raw = assert_json(org.post("/channels", json=body), 201)
    tick()
    tw = TwilioChannel(org, raw, body)
    twilio.add_account(tw.account_sid, tw.auth_token)
    return tw


def sms_conversation(org, twilio, **channel_overrides):
    tw = tw_channel(org, twilio, **channel_overrides)
    phone = rand_phone()
    sid = new_twilio_sid()
    send_twilio(org.cluster, tw, sms_form(tw, phone, "hello by sms", sid))
    conv, msg = wait_message(org, sid)
    wait_contact(org, msg["contactId"], lambda c: c["optedIn"] is True, what="first-message opt-in")
    tick()
    return SimpleNamespace(org=org, tw=tw, channel=tw, phone=phone, conv=conv, id=conv["id"],
                           contact_id=msg["contactId"], inbound_id=msg["id"])


def register_template(org, channel_id: str, template: dict, **overrides) -> dict:
    return assert_json(org.post(f"/channels/{channel_id}/templates", json={**template, **overrides}), 201)


# ---------------------------------------------------------------------------------------------------------
# sending and watching


def send(org, conv_id: str, body, *, key=None, idem: str | None = None, raw: bytes | None = None):
    headers = {}
    if idem is not None:
        headers["Idempotency-Key"] = idem
    kw = {} if key is None else {"key": key}
    if raw is not None:
        headers["Content-Type"] = "application/json"
        return org.post(f"/conversations/{conv_id}/messages", data=raw, headers=headers, **kw)
    return org.post(f"/conversations/{conv_id}/messages", json=body, headers=headers, **kw)


def send_to_contact(org, contact_id: str, body, **kw):
    return org.post(f"/contacts/{contact_id}/messages", json=body, **kw)


def assert_accepted(resp, *, type_: str | None = None) -> dict:
    """A 202 with an outbound message that is queued."""
    msg = assert_json(resp, 202)
    assert set(msg) >= MESSAGE_FIELDS, f"message fields: {sorted(msg)}"
    assert_uuid7(msg["id"])
    assert msg["direction"] == "outbound", msg
    assert msg["status"] == "queued", msg
    assert msg["providerMessageId"] is None, msg
    assert msg["error"] is None, msg
    if type_ is not None:
        assert msg["type"] == type_, msg
    assert_recent(msg["recordedAt"])
    return msg


def listed(org, conv_id: str, msg_id: str) -> dict:
    for m in messages(org, conv_id):
        if m["id"] == msg_id:
            return m
    raise AssertionError(f"message {msg_id} is not listed in conversation {conv_id}")


def wait_status(org, conv_id: str, msg_id: str, *wanted: str, timeout: float = SEND_WAIT) -> dict:
    """Polls the conversation's messages until `msg_id` has one of the `wanted` statuses; fails at once when it
    failed and that was not wanted."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = listed(org, conv_id, msg_id)
        except AssertionError:
            last = None
        if last is not None:
            if last["status"] in wanted:
                return last
            if last["status"] == "failed" and "failed" not in wanted:
                raise AssertionError(f"message {msg_id} failed (wanted {wanted}): {last}")
        if time.monotonic() >= deadline:
            raise AssertionError(f"message {msg_id} not {wanted} within {timeout}s; last seen: {last}")
        time.sleep(0.15)


def outbound_ids(org, conv_id: str) -> list[str]:
    return [m["id"] for m in messages(org, conv_id) if m["direction"] == "outbound"]


def wa_body(phone: str, kind: str, obj: dict) -> dict:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": digits(phone), "type": kind,
            kind: obj}


def meta_requests(meta, phone: str) -> list[dict]:
    return meta.messages_to(phone)


def meta_rejected(meta, number_id: str) -> list[dict]:
    return [r for r in meta.rejected if r["phone_number_id"] == number_id]


def wait_meta(meta, phone: str, count: int = 1, timeout: float = SEND_WAIT) -> list[dict]:
    return meta.wait_for(count, timeout=timeout, to=phone)


def wait_twilio(twilio, phone: str, count: int = 1, timeout: float = SEND_WAIT) -> list[dict]:
    return twilio.wait_for(count, timeout=timeout, to=phone)


def assert_sent_once_to_meta(org, meta, c, msg: dict, expected_body: dict) -> dict:
    """The message reached the Meta fake exactly once with `expected_body`, and is `sent` with its wamid."""
    got = wait_meta(meta, c.phone)
    sent = wait_status(org, c.id, msg["id"], "sent", "delivered", "read")
    time.sleep(0.3)
    got = meta_requests(meta, c.phone)
    assert len(got) == 1, f"expected one request at the fake, got {len(got)}: {[r['body'] for r in got]}"
    req = got[0]
    assert req["body"] == expected_body
    assert req["phone_number_id"] == c.wa.phone_number_id and req["version"] == "v21.0"
    assert req["headers"]["authorization"] == f"Bearer {c.wa.access_token}"
    assert sent["providerMessageId"] == req["wamid"], (sent, req["wamid"])
    assert sent["status"] == "sent"
    assert sent["error"] is None
    return sent


def assert_nothing_sent(meta_or_twilio, phone: str) -> None:
    n = len(meta_or_twilio.messages_to(phone))
    assert n == 0, f"{n} request(s) reached the provider for {phone}: {meta_or_twilio.messages_to(phone)}"


def status_webhook(wa, fixture: str, wamid: str, customer_digits: str) -> dict:
    payload = retarget(load_fixture(fixture), wa.phone_number_id, sender=customer_digits)
    for entry in payload["entry"]:
        for change in entry["changes"]:
            for status in change["value"].get("statuses", []):
                status["id"] = wamid
    return payload


# ---------------------------------------------------------------------------------------------------------
# the happy path, every type's wire body


def test_text_is_accepted_listed_and_sent(org, meta):
    c = wa_conversation(org, meta)
    r = send(org, c.id, {"type": "text", "text": "Hi, your order shipped"})
    msg = assert_accepted(r, type_="text")
    assert msg["conversationId"] == c.id and msg["contactId"] == c.contact_id and msg["channelId"] == c.wa.id
    assert msg["text"] == "Hi, your order shipped"
    assert msg["senderAgentId"] is None  # the org's admin key has no agent

    # listed right away, with the same fields
    now = listed(org, c.id, msg["id"])
    assert set(now) == set(msg), (sorted(now), sorted(msg))
    assert now["direction"] == "outbound" and now["text"] == msg["text"]

    sent = assert_sent_once_to_meta(org, meta, c, msg, wa_body(c.phone, "text",
                                                               {"preview_url": False, "body": "Hi, your order shipped"}))
    assert sent["text"] == "Hi, your order shipped"
    assert parse_time(sent["statusAt"]) >= parse_time(msg["statusAt"])
    conv = get_conversation(org, c.id)
    assert conv["lastMessage"]["direction"] == "outbound" and conv["lastMessage"]["id"] == msg["id"]


BUTTONS_FULL = {"type": "button", "header": "Your order", "body": "Did it arrive?", "footer": "Acme",
                "buttons": [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No"},
                            {"id": "help", "title": "Talk to a human"}]}
LIST_FULL = {"type": "list", "header": "Menu", "body": "What do you need?", "footer": "Acme", "button": "Choose",
             "sections": [
                 {"title": "Orders", "rows": [{"id": "track", "title": "Track an order", "description": "Where is it"},
                                              {"id": "cancel", "title": "Cancel an order"}]},
                 {"title": "Other", "rows": [{"id": "agent", "title": "Talk to us", "description": "A human"}]},
             ]}

TYPE_CASES = [
    ("text-unicode", {"type": "text", "text": "Olá 👋 — ça va?"},
     "text", {"preview_url": False, "body": "Olá 👋 — ça va?"}, "Olá 👋 — ça va?"),
    ("image-link-caption", {"type": "image", "media": {"link": "https://cdn.example.com/a.jpg", "caption": "Look"}},
     "image", {"link": "https://cdn.example.com/a.jpg", "caption": "Look"}, "Look"),
    ("image-id", {"type": "image", "media": {"id": "123456"}}, "image", {"id": "123456"}, None),
    ("video-id-caption", {"type": "video", "media": {"id": "987654", "caption": "Clip"}},
     "video", {"id": "987654", "caption": "Clip"}, "Clip"),
    ("video-link", {"type": "video", "media": {"link": "https://cdn.example.com/v.mp4"}},
     "video", {"link": "https://cdn.example.com/v.mp4"}, None),
    ("document-link-caption-filename",
     {"type": "document", "media": {"link": "https://cdn.example.com/i.pdf", "caption": "Invoice",
                                    "filename": "invoice-42.pdf"}},
     "document", {"link": "https://cdn.example.com/i.pdf", "caption": "Invoice", "filename": "invoice-42.pdf"},
     "Invoice"),
    ("document-id", {"type": "document", "media": {"id": "555111"}}, "document", {"id": "555111"}, None),
    ("audio-link", {"type": "audio", "media": {"link": "https://cdn.example.com/a.ogg"}},
     "audio", {"link": "https://cdn.example.com/a.ogg"}, None),
    ("audio-id", {"type": "audio", "media": {"id": "777888"}}, "audio", {"id": "777888"}, None),
    ("buttons-full", {"type": "interactive", "interactive": BUTTONS_FULL}, "interactive",
     {"type": "button", "header": {"type": "text", "text": "Your order"}, "body": {"text": "Did it arrive?"},
      "footer": {"text": "Acme"},
      "action": {"buttons": [{"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
                             {"type": "reply", "reply": {"id": "no", "title": "No"}},
                             {"type": "reply", "reply": {"id": "help", "title": "Talk to a human"}}]}},
     "Did it arrive?"),
    ("buttons-minimal", {"type": "interactive", "interactive": {"type": "button", "body": "OK?",
                                                                "buttons": [{"id": "ok", "title": "OK"}]}},
     "interactive", {"type": "button", "body": {"text": "OK?"},
                     "action": {"buttons": [{"type": "reply", "reply": {"id": "ok", "title": "OK"}}]}}, "OK?"),
    ("list-full", {"type": "interactive", "interactive": LIST_FULL}, "interactive",
     {"type": "list", "header": {"type": "text", "text": "Menu"}, "body": {"text": "What do you need?"},
      "footer": {"text": "Acme"},
      "action": {"button": "Choose", "sections": [
          {"title": "Orders", "rows": [{"id": "track", "title": "Track an order", "description": "Where is it"},
                                       {"id": "cancel", "title": "Cancel an order"}]},
          {"title": "Other", "rows": [{"id": "agent", "title": "Talk to us", "description": "A human"}]}]}},
     "What do you need?"),
    ("list-minimal", {"type": "interactive", "interactive": {
        "type": "list", "body": "Pick one", "button": "Options",
        "sections": [{"title": "All", "rows": [{"id": "r1", "title": "One"}]}]}}, "interactive",
     {"type": "list", "body": {"text": "Pick one"},
      "action": {"button": "Options", "sections": [{"title": "All", "rows": [{"id": "r1", "title": "One"}]}]}},
     "Pick one"),
]


@pytest.mark.parametrize("case", TYPE_CASES, ids=[c[0] for c in TYPE_CASES])
def test_every_type_reaches_meta_as_its_cloud_api_body(org, meta, case):
    _, body, kind, wire, text = case
    c = wa_conversation(org, meta)
    msg = assert_accepted(send(org, c.id, body), type_=body["type"])
    if text is not None:
        assert msg["text"] == text, msg
    assert isinstance(msg["content"], dict), msg
    sent = assert_sent_once_to_meta(org, meta, c, msg, wa_body(c.phone, kind, wire))
    assert sent["type"] == body["type"]
    if text is not None:
        assert sent["text"] == text
        assert text_of(meta_requests(meta, c.phone)[0]["body"]) == text


def test_template_reaches_meta_with_its_components(org, meta):
    c = wa_conversation(org, meta)
    register_template(org, c.wa.id, ORDER_UPDATE)
    body = {"type": "template", "template": {"name": "order_update", "language": "en_US",
                                             "parameters": ORDER_PARAMS}}
    msg = assert_accepted(send(org, c.id, body), type_="template")
    assert msg["text"] == ORDER_RENDERED, msg
    wire = {"name": "order_update", "language": {"code": "en_US"}, "components": [
        {"type": "header", "parameters": [{"type": "text", "text": "A-1"}]},
        {"type": "body", "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "A-1"},
                                        {"type": "text", "text": "Monday"}]},
        {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "A-1"}]},
    ]}
    sent = assert_sent_once_to_meta(org, meta, c, msg, wa_body(c.phone, "template", wire))
    assert sent["text"] == ORDER_RENDERED
    assert meta.count_for(c.phone, body_text="order_update") == 1


def test_template_without_parameters_and_with_a_later_button_parameter(org, meta):
    c = wa_conversation(org, meta)
    register_template(org, c.wa.id, HELLO)
    msg = assert_accepted(send(org, c.id, {"type": "template",
                                           "template": {"name": "hello_world", "language": "en_US"}}))
    assert msg["text"] == "Hello world"
    wait_meta(meta, c.phone)
    wait_status(org, c.id, msg["id"], "sent")
    req = meta_requests(meta, c.phone)[0]["body"]
    assert req["type"] == "template" and req["to"] == digits(c.phone)
    assert req["template"]["name"] == "hello_world" and req["template"]["language"] == {"code": "en_US"}
    assert req["template"].get("components", []) == [], req

    # two URL buttons, only the second takes a parameter: `buttons` has one list per button
    links = {"name": "links", "language": "en", "category": "UTILITY", "components": [
        {"type": "BODY", "text": "Useful links"},
        {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Help", "url": "https://acme.test/help"},
                                        {"type": "URL", "text": "Track", "url": "https://acme.test/t/{{1}}"}]}]}
    register_template(org, c.wa.id, links)
    msg = assert_accepted(send(org, c.id, {"type": "template", "template": {
        "name": "links", "language": "en", "parameters": {"buttons": [[], ["Z-9"]]}}}))
    wait_meta(meta, c.phone, 2)
    wait_status(org, c.id, msg["id"], "sent")
    req = meta_requests(meta, c.phone)[1]["body"]
    assert req["template"]["components"] == [
        {"type": "button", "sub_type": "url", "index": "1", "parameters": [{"type": "text", "text": "Z-9"}]}], req


# ---------------------------------------------------------------------------------------------------------
# rules: refused before anything is stored


def _buttons(n, title="B"):
    return [{"id": f"b{i}", "title": f"{title}{i}"} for i in range(n)]


def _rows(n, prefix="r"):
    return [{"id": f"{prefix}{i}", "title": f"Row {i}"} for i in range(n)]


INTERACTIVE_REFUSALS = [
    ("no buttons", {"type": "button", "body": "Pick", "buttons": []}, "buttons"),
    ("four buttons", {"type": "button", "body": "Pick", "buttons": _buttons(4)}, "buttons"),
    ("button title 21", {"type": "button", "body": "Pick", "buttons": [{"id": "a", "title": "x" * 21}]}, "title"),
    ("duplicate ids", {"type": "button", "body": "Pick",
                       "buttons": [{"id": "a", "title": "One"}, {"id": "a", "title": "Two"}]}, "id"),
    ("eleven rows", {"type": "list", "body": "Pick", "button": "Choose",
                     "sections": [{"title": "A", "rows": _rows(6, "a")}, {"title": "B", "rows": _rows(5, "b")}]},
     "rows"),
    ("row title 25", {"type": "list", "body": "Pick", "button": "Choose",
                      "sections": [{"title": "A", "rows": [{"id": "r", "title": "y" * 25}]}]}, "title"),
    ("list button 21", {"type": "list", "body": "Pick", "button": "z" * 21,
                        "sections": [{"title": "A", "rows": _rows(1)}]}, "button"),
    ("no sections", {"type": "list", "body": "Pick", "button": "Choose", "sections": []}, "sections"),
]

BAD_SHAPES = [
    # (label, json body or raw bytes, accepted codes, details.field or None)
    ("not json", b"{not json", ("invalid_json",), None),
    ("array", b"[]", ("invalid_json",), None),
    ("empty object", {}, ("invalid_field",), None),
    ("text missing", {"type": "text"}, ("invalid_field",), None),
    ("text not a string", {"type": "text", "text": 5}, ("invalid_field",), "text"),
    ("unknown top-level field", {"type": "text", "text": "x", "bogus": 1}, ("unknown_field",), "bogus"),
    ("unknown type", {"type": "carrier_pigeon", "text": "x"}, ("invalid_field",), "type"),
    ("unknown channel", {"type": "text", "text": "x", "channel": "fax"}, ("invalid_field",), "channel"),
    ("image without media", {"type": "image"}, ("invalid_field",), None),
    ("media without link or id", {"type": "image", "media": {}}, ("invalid_field",), None),
    ("media with link and id", {"type": "image", "media": {"link": "https://x.test/a.jpg", "id": "1"}},
     ("invalid_field",), None),
    ("media link not a url", {"type": "image", "media": {"link": "not a url"}}, ("invalid_field",), None),
    ("caption on audio", {"type": "audio", "media": {"link": "https://x.test/a.ogg", "caption": "no"}},
     ("invalid_field", "unknown_field"), None),
    ("filename on image", {"type": "image", "media": {"link": "https://x.test/a.jpg", "filename": "a.jpg"}},
     ("invalid_field", "unknown_field"), None),
    ("interactive missing", {"type": "interactive"}, ("invalid_field", "invalid_interactive"), None),
    ("template missing", {"type": "template"}, ("invalid_field",), None),
]


def test_whatsapp_refusals_store_and_send_nothing(org, meta):
    c = wa_conversation(org, meta)
    register_template(org, c.wa.id, ORDER_UPDATE)
    register_template(org, c.wa.id, ORDER_UPDATE, name="pending_one", status="PENDING")
    register_template(org, c.wa.id, ORDER_UPDATE, name="rejected_one", status="REJECTED")
    other = wa_channel(org, meta)
    register_template(org, other.id, HELLO, name="elsewhere")

    failures = []

    def check(label, resp, status, codes, field=None, field_contains=None):
        try:
            err = assert_error(resp, status)
            assert err["code"] in codes, f"code {err['code']!r} not in {codes}: {err}"
            if field is not None:
                assert err["details"].get("field") == field, f"details.field: {err}"
            if field_contains is not None:
                got = err["details"].get("field")
                assert isinstance(got, str) and field_contains in got, f"details.field should name {field_contains!r}: {err}"
        except AssertionError as e:
            failures.append(f"{label}: {e}")

    for label, interactive, part in INTERACTIVE_REFUSALS:
        check(f"interactive {label}", send(org, c.id, {"type": "interactive", "interactive": interactive}), 400,
              ("invalid_interactive",), field_contains=part)

    def tpl(name="order_update", language="en_US", parameters=None):
        t = {"name": name, "language": language}
        if parameters is not None:
            t["parameters"] = parameters
        return {"type": "template", "template": t}

    check("unknown template", send(org, c.id, tpl("no_such_template", parameters=ORDER_PARAMS)), 422,
          ("template_not_found",))
    check("unknown language", send(org, c.id, tpl(language="en_GB", parameters=ORDER_PARAMS)), 422,
          ("template_not_found",))
    check("template of another channel", send(org, c.id, tpl("elsewhere")), 422, ("template_not_found",))
    check("pending template", send(org, c.id, tpl("pending_one", parameters=ORDER_PARAMS)), 422,
          ("template_not_approved",))
    check("rejected template", send(org, c.id, tpl("rejected_one", parameters=ORDER_PARAMS)), 422,
          ("template_not_approved",))
    check("body short", send(org, c.id, tpl(parameters={**ORDER_PARAMS, "body": ["a", "b"]})), 422,
          ("template_parameter_mismatch",), field_contains="body")
    check("body long", send(org, c.id, tpl(parameters={**ORDER_PARAMS, "body": ["a", "b", "c", "d"]})), 422,
          ("template_parameter_mismatch",), field_contains="body")
    check("header missing", send(org, c.id, tpl(parameters={"body": ["a", "b", "c"], "buttons": [["x"]]})), 422,
          ("template_parameter_mismatch",), field_contains="header")
    check("button parameter missing", send(org, c.id, tpl(parameters={"header": ["h"], "body": ["a", "b", "c"]})),
          422, ("template_parameter_mismatch",), field_contains="button")
    check("button parameters too many",
          send(org, c.id, tpl(parameters={**ORDER_PARAMS, "buttons": [["x", "y"]]})), 422,
          ("template_parameter_mismatch",), field_contains="button")
    check("no parameters", send(org, c.id, tpl()), 422, ("template_parameter_mismatch",))

    for label, body, codes, field in BAD_SHAPES:
        if isinstance(body, bytes):
            resp = send(org, c.id, None, raw=body)
        else:
            resp = send(org, c.id, body)
        check(f"shape {label}", resp, 400, codes, field=field)

    check("sms without an SMS channel", send(org, c.id, {"type": "text", "text": "x", "channel": "sms"}), 409,
          ("no_channel",))
    assert not failures, "refusals not as specified:\n  " + "\n  ".join(failures)

    time.sleep(SETTLE)
    assert outbound_ids(org, c.id) == [], "a refused send stored a message"
    assert_nothing_sent(meta, c.phone)
    # a good send afterwards is the only thing that reaches the provider
    ok = assert_accepted(send(org, c.id, {"type": "text", "text": "barrier"}))
    wait_status(org, c.id, ok["id"], "sent")
    time.sleep(0.3)
    assert [text_of(r["body"]) for r in meta_requests(meta, c.phone)] == ["barrier"]
    assert outbound_ids(org, c.id) == [ok["id"]]


def test_closed_window_refuses_free_form_and_allows_templates(org, meta):
    old = int(time.time()) - 25 * 3600
    c = wa_conversation(org, meta, timestamp=old)
    conv = get_conversation(org, c.id)
    assert conv["window"] is not None and conv["window"]["open"] is False, conv["window"]
    register_template(org, c.wa.id, ORDER_UPDATE)

    closed_at = dt.datetime.fromtimestamp(old + 24 * 3600, dt.timezone.utc)
    for body in ({"type": "text", "text": "too late"},
                 {"type": "image", "media": {"link": "https://cdn.example.com/a.jpg", "caption": "late"}},
                 {"type": "interactive", "interactive": {"type": "button", "body": "late?",
                                                         "buttons": [{"id": "y", "title": "Yes"}]}}):
        err = assert_error(send(org, c.id, body), 409, "window_closed")
        got = err["details"].get("closedAt")
        assert got, f"details.closedAt missing: {err}"
        assert abs((parse_time(got) - closed_at).total_seconds()) <= 1.5, (got, closed_at.isoformat())
    time.sleep(SETTLE)
    assert outbound_ids(org, c.id) == []
    assert_nothing_sent(meta, c.phone)

    msg = assert_accepted(send(org, c.id, {"type": "template", "template": {
        "name": "order_update", "language": "en_US", "parameters": ORDER_PARAMS}}))
    wait_status(org, c.id, msg["id"], "sent")
    assert [r["type"] for r in meta_requests(meta, c.phone)] == ["template"]


def test_window_never_opened_and_contact_route_opens_a_conversation(org, meta):
    first = wa_channel(org, meta)
    second = wa_channel(org, meta)
    register_template(org, first.id, ORDER_UPDATE)
    register_template(org, second.id, ORDER_UPDATE)
    phone = rand_phone()
    contact = org.create_contact(phone=phone, name="Never Wrote", optedIn=True)

    err = assert_error(send_to_contact(org, contact["id"], {"type": "text", "text": "hello?"}), 409, "window_closed")
    assert not err["details"].get("closedAt"), f"a window that never opened has no closedAt: {err}"
    time.sleep(SETTLE)
    assert org.list_all("/conversations", {"contactId": contact["id"]}) == []
    assert_nothing_sent(meta, phone)

    body = {"type": "template", "template": {"name": "order_update", "language": "en_US", "parameters": ORDER_PARAMS}}
    msg = assert_accepted(send_to_contact(org, contact["id"], body), type_="template")
    assert msg["contactId"] == contact["id"] and msg["channelId"] == first.id
    conv = get_conversation(org, msg["conversationId"])
    assert conv["channelId"] == first.id and conv["contact"]["id"] == contact["id"]
    wait_status(org, conv["id"], msg["id"], "sent")
    reqs = wait_meta(meta, phone)
    assert [r["phone_number_id"] for r in reqs] == [first.phone_number_id]

    # the same contact again: the same conversation
    again = assert_accepted(send_to_contact(org, contact["id"], body))
    assert again["conversationId"] == conv["id"]
    # an explicit channelId: that channel's conversation
    other = assert_accepted(send_to_contact(org, contact["id"], {**body, "channelId": second.id}))
    assert other["channelId"] == second.id and other["conversationId"] != conv["id"]
    assert get_conversation(org, other["conversationId"])["channelId"] == second.id
    wait_status(org, other["conversationId"], other["id"], "sent")
    wait_status(org, conv["id"], again["id"], "sent")
    assert sorted(r["phone_number_id"] for r in meta_requests(meta, phone)) == sorted(
        [first.phone_number_id, first.phone_number_id, second.phone_number_id])


def test_contact_route_uses_the_existing_conversation_and_sms(org, meta, twilio):
    c = wa_conversation(org, meta)
    msg = assert_accepted(send_to_contact(org, c.contact_id, {"type": "text", "text": "via contact"}))
    assert msg["conversationId"] == c.id and msg["channelId"] == c.wa.id
    wait_status(org, c.id, msg["id"], "sent")

    assert_error(send_to_contact(org, c.contact_id, {"type": "text", "text": "x", "channel": "sms"}), 409,
                 "no_channel")
    tw = tw_channel(org, twilio)
    tw_channel(org, twilio)  # a second SMS channel: the first one is the default
    sms = assert_accepted(send_to_contact(org, c.contact_id, {"type": "text", "text": "sms via contact",
                                                               "channel": "sms"}))
    assert sms["channelId"] == tw.id
    wait_status(org, sms["conversationId"], sms["id"], "sent")
    reqs = wait_twilio(twilio, c.phone)
    assert [(r["account_sid"], r["body"]) for r in reqs] == [(tw.account_sid, "sms via contact")]

    unknown = "01900000-0000-7000-8000-000000000000"
    assert_error(send_to_contact(org, unknown, {"type": "text", "text": "x"}), 404, "contact_not_found")


def test_opted_out_contact_is_refused(org, meta):
    c = wa_conversation(org, meta)
    register_template(org, c.wa.id, ORDER_UPDATE)
    send_text(org.cluster, c.wa, "STOP", sender=digits(c.phone))
    wait_contact(org, c.contact_id, lambda x: x["optedIn"] is False, what="opt-out by STOP")
    for body in ({"type": "text", "text": "are you sure?"},
                 {"type": "template", "template": {"name": "order_update", "language": "en_US",
                                                   "parameters": ORDER_PARAMS}}):
        assert_error(send(org, c.id, body), 409, "contact_not_opted_in")
        assert_error(send_to_contact(org, c.contact_id, body), 409, "contact_not_opted_in")
    time.sleep(SETTLE)
    assert outbound_ids(org, c.id) == []
    assert_nothing_sent(meta, c.phone)


def test_contact_never_opted_in_is_refused(org, meta):
    wa = wa_channel(org, meta)
    register_template(org, wa.id, ORDER_UPDATE)
    phone = rand_phone()
    contact = org.create_contact(phone=phone, optedIn=False)
    body = {"type": "template", "template": {"name": "order_update", "language": "en_US", "parameters": ORDER_PARAMS}}
    assert_error(send_to_contact(org, contact["id"], body), 409, "contact_not_opted_in")
    time.sleep(SETTLE)
    assert org.list_all("/conversations", {"contactId": contact["id"]}) == []
    assert_nothing_sent(meta, phone)


def test_unknown_or_foreign_conversation_is_404(org, other_org, meta):
    assert_error(send(org, "01900000-0000-7000-8000-000000000000", {"type": "text", "text": "x"}), 404,
                 "conversation_not_found")
    c = wa_conversation(org, meta)
    assert_error(send(other_org, c.id, {"type": "text", "text": "not yours"}), 404, "conversation_not_found")
    assert_error(send_to_contact(other_org, c.contact_id, {"type": "text", "text": "not yours"}), 404,
                 "contact_not_found")
    time.sleep(SETTLE)
    assert outbound_ids(org, c.id) == []
    assert_nothing_sent(meta, c.phone)


# ---------------------------------------------------------------------------------------------------------
# idempotency


def test_idempotent_replay_answers_the_same_and_sends_once(org, meta):
    c = wa_conversation(org, meta)
    key = "order-42-" + secrets.token_hex(8)
    body = {"type": "text", "text": "Your order 42 shipped"}
    first = send(org, c.id, body, idem=key)
    msg = assert_accepted(first)
    assert first.headers.get("Idempotent-Replayed", "false").lower() != "true"
    wait_status(org, c.id, msg["id"], "sent")

    for _ in range(2):
        again = send(org, c.id, body, idem=key)
        assert again.status_code == 202, again.text
        assert again.headers.get("Idempotent-Replayed", "").lower() == "true", dict(again.headers)
        assert again.json() == first.json()
    time.sleep(SETTLE)
    assert meta.count_for(c.phone, body_text="Your order 42 shipped") == 1
    assert outbound_ids(org, c.id) == [msg["id"]]

    # another key, same body: a second message
    other = assert_accepted(send(org, c.id, body, idem=key + "-b"))
    assert other["id"] != msg["id"]
    wait_status(org, c.id, other["id"], "sent")
    assert meta.count_for(c.phone, body_text="Your order 42 shipped") == 2


def test_idempotency_key_reused_with_another_body_is_422(org, meta):
    c = wa_conversation(org, meta)
    key = unique("idem-")
    msg = assert_accepted(send(org, c.id, {"type": "text", "text": "first body"}, idem=key))
    assert_error(send(org, c.id, {"type": "text", "text": "second body"}, idem=key), 422, "idempotency_key_reused")
    wait_status(org, c.id, msg["id"], "sent")
    time.sleep(SETTLE)
    assert outbound_ids(org, c.id) == [msg["id"]]
    assert [text_of(r["body"]) for r in meta_requests(meta, c.phone)] == ["first body"]


def test_idempotency_keys_belong_to_one_org_and_are_checked(org, other_org, meta):
    key = unique("shared-")
    mine = wa_conversation(org, meta)
    theirs = wa_conversation(other_org, meta)
    a = assert_accepted(send(org, mine.id, {"type": "text", "text": "same key"}, idem=key))
    r = send(other_org, theirs.id, {"type": "text", "text": "same key"}, idem=key)
    b = assert_accepted(r)
    assert r.headers.get("Idempotent-Replayed", "false").lower() != "true"
    assert b["id"] != a["id"] and b["conversationId"] == theirs.id
    wait_status(org, mine.id, a["id"], "sent")
    wait_status(other_org, theirs.id, b["id"], "sent")

    assert_error(send(org, mine.id, {"type": "text", "text": "long key"}, idem="k" * 256), 400)
    assert_accepted(send(org, mine.id, {"type": "text", "text": "max key"}, idem="k" * 255))


def test_concurrent_requests_with_one_key_make_one_message(org, meta):
    c = wa_conversation(org, meta)
    cluster = org.cluster
    key = unique("race-")
    body = {"type": "text", "text": "only once " + key}
    url = cluster.url(f"/conversations/{c.id}/messages")
    headers = {"Authorization": f"Bearer {org.key}", "Idempotency-Key": key}
    answers = post_concurrently(cluster, 5, lambda s: s.post(url, json=body, headers=headers, timeout=30))
    ok = [r for r in answers if r.status_code == 202]
    assert ok, [(r.status_code, r.text[:200]) for r in answers]
    for r in answers:
        if r.status_code != 202:
            assert_error(r, 409)  # at most "still in progress" for a request racing the first
    assert len({r.json()["id"] for r in ok}) == 1, [r.json() for r in ok]
    msg_id = ok[0].json()["id"]
    wait_status(org, c.id, msg_id, "sent")
    time.sleep(SETTLE)
    assert outbound_ids(org, c.id) == [msg_id]
    assert meta.count_for(c.phone, body_text=body["text"]) == 1


# ---------------------------------------------------------------------------------------------------------
# SMS and the channel switcher


def test_channel_switch_to_sms_and_back(org, meta, twilio):
    c = wa_conversation(org, meta)
    tw = tw_channel(org, twilio)
    register_template(org, c.wa.id, ORDER_UPDATE)

    m1 = assert_accepted(send(org, c.id, {"type": "text", "text": "by sms now", "channel": "sms"}))
    assert m1["conversationId"] == c.id and m1["channelId"] == tw.id
    reqs = wait_twilio(twilio, c.phone)
    sent = wait_status(org, c.id, m1["id"], "sent")
    req = reqs[0]
    assert req["account_sid"] == tw.account_sid
    assert req["to"] == c.phone
    assert req["from"] == tw.raw["fromNumber"]
    assert req["body"] == "by sms now"
    assert req["media_urls"] == []
    assert req["status_callback"] == tw.webhook_url
    assert sent["providerMessageId"] == req["sid"] and sent["channelId"] == tw.id
    conv = get_conversation(org, c.id)
    assert conv["replyChannel"] == "sms" and conv["replyChannelId"] == tw.id, conv

    # remembered: the next send without `channel` goes by SMS too; SMS refuses templates
    m2 = assert_accepted(send(org, c.id, {"type": "text", "text": "still sms"}))
    assert m2["channelId"] == tw.id
    wait_status(org, c.id, m2["id"], "sent")
    assert [r["body"] for r in twilio.messages_to(c.phone)] == ["by sms now", "still sms"]
    assert_error(send(org, c.id, {"type": "template", "template": {
        "name": "order_update", "language": "en_US", "parameters": ORDER_PARAMS}}), 400, "unsupported_on_channel")

    m3 = assert_accepted(send(org, c.id, {"type": "text", "text": "back on whatsapp", "channel": "whatsapp"}))
    assert m3["channelId"] == c.wa.id
    wait_status(org, c.id, m3["id"], "sent")
    conv = get_conversation(org, c.id)
    assert conv["replyChannel"] == "whatsapp" and conv["replyChannelId"] == c.wa.id, conv
    m4 = assert_accepted(send(org, c.id, {"type": "text", "text": "whatsapp again"}))
    assert m4["channelId"] == c.wa.id
    wait_status(org, c.id, m4["id"], "sent")
    assert [text_of(r["body"]) for r in meta_requests(meta, c.phone)] == ["back on whatsapp", "whatsapp again"]
    assert len(twilio.messages_to(c.phone)) == 2
    assert outbound_ids(org, c.id) == [m4["id"], m3["id"], m2["id"], m1["id"]]  # newest first


def test_sms_conversation_rules_and_media_link(org, twilio):
    c = sms_conversation(org, twilio)
    for body in (
        {"type": "template", "template": {"name": "order_update", "language": "en_US", "parameters": ORDER_PARAMS}},
        {"type": "interactive", "interactive": {"type": "button", "body": "Pick",
                                                "buttons": [{"id": "y", "title": "Yes"}]}},
        {"type": "image", "media": {"id": "123456"}},
        {"type": "document", "media": {"id": "123456", "filename": "a.pdf"}},
    ):
        assert_error(send(org, c.id, body), 400, "unsupported_on_channel")
    time.sleep(SETTLE)
    assert outbound_ids(org, c.id) == []
    assert_nothing_sent(twilio, c.phone)

    text = assert_accepted(send(org, c.id, {"type": "text", "text": "sms text"}))
    assert text["channelId"] == c.tw.id
    wait_status(org, c.id, text["id"], "sent")
    media = assert_accepted(send(org, c.id, {"type": "image", "media": {"link": "https://cdn.example.com/p.jpg",
                                                                         "caption": "a picture"}}))
    assert media["text"] == "a picture"
    sent = wait_status(org, c.id, media["id"], "sent")
    reqs = twilio.messages_to(c.phone)
    assert [(r["body"], r["media_urls"]) for r in reqs] == [("sms text", []),
                                                            ("a picture", ["https://cdn.example.com/p.jpg"])]
    assert sent["providerMessageId"] == reqs[1]["sid"]
    assert all(r["status_callback"] == c.tw.webhook_url and r["from"] == c.tw.raw["fromNumber"] for r in reqs)


def test_twilio_messaging_service_sid_is_the_sender(org, twilio):
    mg = "MG" + secrets.token_hex(16)
    c = sms_conversation(org, twilio, fromNumber=None, messagingServiceSid=mg)
    msg = assert_accepted(send(org, c.id, {"type": "text", "text": "from the service"}))
    wait_status(org, c.id, msg["id"], "sent")
    req = twilio.messages_to(c.phone)[0]
    assert req["messaging_service_sid"] == mg and "From" not in req["params"], req["params"]


# ---------------------------------------------------------------------------------------------------------
# who sent it


def test_sender_agent_id_is_the_keys_agent(org, meta):
    c = wa_conversation(org, meta)
    agent = assert_json(org.post("/agents", json={"name": "Ana", "email": unique("ana") + "@example.com",
                                                  "role": "agent"}), 201)
    key = assert_json(org.post("/api-keys", json={"name": "ana desk", "role": "agent", "agentId": agent["id"]}),
                      201)["key"]
    assert_json(org.post(f"/conversations/{c.id}/assign", json={"agentId": agent["id"]}), 200)
    msg = assert_accepted(send(org, c.id, {"type": "text", "text": "Ana here"}, key=key))
    assert msg["senderAgentId"] == agent["id"]
    assert wait_status(org, c.id, msg["id"], "sent")["senderAgentId"] == agent["id"]
    admin = assert_accepted(send(org, c.id, {"type": "text", "text": "the system here"}))
    assert admin["senderAgentId"] is None


# ---------------------------------------------------------------------------------------------------------
# retries


RETRIED = [(131000, None), (1, 500), (2, None), (130429, None), (131056, None), (131056, 400), (130429, 400),
           (4, None)]


@pytest.mark.parametrize("code,http_status", RETRIED, ids=[f"{c}-{s or 'default'}" for c, s in RETRIED])
def test_meta_transient_errors_are_retried(org, meta, code, http_status):
    c = wa_conversation(org, meta)
    meta.fail_next(2, code=code, http_status=http_status)
    msg = assert_accepted(send(org, c.id, {"type": "text", "text": f"retried {code}"}))
    sent = wait_status(org, c.id, msg["id"], "sent")
    time.sleep(0.3)
    assert meta.count_for(c.phone) == 1
    assert len(meta_rejected(meta, c.wa.phone_number_id)) == 2
    assert sent["providerMessageId"] == meta_requests(meta, c.phone)[0]["wamid"]
    assert sent["error"] is None


def test_meta_gives_up_after_the_last_attempt(org, meta):
    c = wa_conversation(org, meta)
    meta.fail_next(MAX_ATTEMPTS, code=131000)
    msg = assert_accepted(send(org, c.id, {"type": "text", "text": "never arrives"}))
    failed = wait_status(org, c.id, msg["id"], "failed")
    assert failed["error"]["reason"] == "provider_unavailable", failed
    assert failed["error"]["code"] == "131000", failed
    assert isinstance(failed["error"]["message"], str) and failed["error"]["message"], failed
    time.sleep(SETTLE)
    assert len(meta_rejected(meta, c.wa.phone_number_id)) == MAX_ATTEMPTS
    assert meta.count_for(c.phone) == 0
    assert listed(org, c.id, msg["id"])["status"] == "failed"

    # the channel still works
    ok = assert_accepted(send(org, c.id, {"type": "text", "text": "after the outage"}))
    wait_status(org, c.id, ok["id"], "sent")


def test_network_errors_are_retried_then_failed(org, meta):
    dead = f"http://127.0.0.1:{free_ports(1)[0]}"
    wa = create_whatsapp_channel(org, graphApiBaseUrl=dead)
    phone = rand_phone()
    conv, _ = wa_inbound(org, wa, phone)
    started = time.monotonic()
    msg = assert_accepted(send(org, conv["id"], {"type": "text", "text": "nobody listens"}))
    failed = wait_status(org, conv["id"], msg["id"], "failed", timeout=60)
    took = time.monotonic() - started
    assert failed["error"]["reason"] == "provider_unavailable", failed
    assert failed["error"]["code"] and failed["error"]["message"], failed
    # a refused connection fails at once: 5 attempts with backoffs of at most 400 ms take about 2 s
    assert took < SEND_WAIT, f"{MAX_ATTEMPTS} attempts against a refused port took {took:.1f}s: {failed['error']}"


@pytest.mark.parametrize("code", [20500, 20429, 20503])
def test_twilio_transient_errors_are_retried(org, twilio, code):
    c = sms_conversation(org, twilio)
    twilio.fail_next(2, code=code)
    msg = assert_accepted(send(org, c.id, {"type": "text", "text": f"retried {code}"}))
    sent = wait_status(org, c.id, msg["id"], "sent")
    time.sleep(0.3)
    reqs = twilio.messages_to(c.phone)
    assert len(reqs) == 1 and sent["providerMessageId"] == reqs[0]["sid"]
    assert len([r for r in twilio.rejected if r["account_sid"] == c.tw.account_sid]) == 2


# ---------------------------------------------------------------------------------------------------------
# permanent errors


META_PERMANENT = [
    (131047, "window_closed", "text"),
    (131026, "undeliverable", "text"),
    (132000, "template_error", "template"),
    (132001, "template_error", "template"),
    (368, "provider_error", "text"),
    (131051, "provider_error", "text"),
    (131009, "provider_error", "text"),
]


@pytest.mark.parametrize("code,reason,kind", META_PERMANENT, ids=[str(c[0]) for c in META_PERMANENT])
def test_meta_permanent_errors_fail_with_their_reason(org, meta, code, reason, kind):
    c = wa_conversation(org, meta)
    register_template(org, c.wa.id, HELLO)
    meta.fail_for(c.phone, code)
    body = ({"type": "text", "text": f"fails with {code}"} if kind == "text"
            else {"type": "template", "template": {"name": "hello_world", "language": "en_US"}})
    msg = assert_accepted(send(org, c.id, body))
    failed = wait_status(org, c.id, msg["id"], "failed")
    err = failed["error"]
    assert set(err) >= {"code", "message", "reason"}, err
    assert err["code"] == str(code) and err["reason"] == reason, err
    assert isinstance(err["message"], str) and err["message"].strip(), err
    if code == 131026:
        assert "deliver" in err["message"].lower(), err
    time.sleep(SETTLE)
    assert len(meta_rejected(meta, c.wa.phone_number_id)) == 1, "a permanent error must not be retried"
    assert listed(org, c.id, msg["id"])["status"] == "failed"
    assert assert_json(org.get(f"/channels/{c.wa.id}"), 200)["status"] == "active"


def test_invalid_token_flags_the_channel_until_a_new_token(org, meta):
    wa = wa_channel(org, meta, register=False)
    good_token = "EAAG" + secrets.token_urlsafe(40)
    meta.add_number(wa.phone_number_id, good_token)  # the channel's token is not this one: Meta answers 190
    phone = rand_phone()
    conv, _ = wa_inbound(org, wa, phone)
    msg = assert_accepted(send(org, conv["id"], {"type": "text", "text": "with a stale token"}))
    failed = wait_status(org, conv["id"], msg["id"], "failed")
    assert failed["error"]["code"] == "190" and failed["error"]["reason"] == "token_invalid", failed
    channel = assert_json(org.get(f"/channels/{wa.id}"), 200)
    assert channel["status"] == "token_invalid", channel
    assert len(meta_rejected(meta, wa.phone_number_id)) == 1

    before = outbound_ids(org, conv["id"])
    assert_error(send(org, conv["id"], {"type": "text", "text": "again"}), 409, "channel_token_invalid")
    time.sleep(SETTLE)
    assert outbound_ids(org, conv["id"]) == before
    assert len(meta_rejected(meta, wa.phone_number_id)) == 1
    assert meta.count_for(phone) == 0

    patched = assert_json(org.patch(f"/channels/{wa.id}", json={"accessToken": good_token}), 200)
    assert patched["status"] == "active", patched
    ok = assert_accepted(send(org, conv["id"], {"type": "text", "text": "with the new token"}))
    wait_status(org, conv["id"], ok["id"], "sent")
    assert wait_meta(meta, phone)[0]["headers"]["authorization"] == f"Bearer {good_token}"


def test_twilio_21610_opts_the_contact_out(org, twilio):
    c = sms_conversation(org, twilio)
    twilio.fail_for(c.phone, 21610)
    msg = assert_accepted(send(org, c.id, {"type": "text", "text": "to an unsubscribed number"}))
    failed = wait_status(org, c.id, msg["id"], "failed")
    assert failed["error"]["code"] == "21610" and failed["error"]["reason"] == "opted_out", failed
    assert "unsubscribed" in failed["error"]["message"].lower(), failed
    contact = wait_contact(org, c.contact_id, lambda x: x["optedIn"] is False, what="opt-out by 21610")
    assert contact["optInSource"] == "provider", contact
    ledger = consent_ledger(org, c.contact_id)
    assert (ledger[-1]["optedIn"], ledger[-1]["source"]) == (False, "provider"), ledger
    # and from now on the rules refuse to send
    assert_error(send(org, c.id, {"type": "text", "text": "again"}), 409, "contact_not_opted_in")
    time.sleep(SETTLE)
    assert len([r for r in twilio.rejected if r["account_sid"] == c.tw.account_sid]) == 1
    assert outbound_ids(org, c.id) == [msg["id"]]


def sent_sms(org, twilio, text: str):
    """An SMS conversation with one outbound message the Twilio fake accepted: (conversation, message, sid, the
    StatusCallback URL the send named)."""
    c = sms_conversation(org, twilio)
    msg = assert_accepted(send(org, c.id, {"type": "text", "text": text}))
    sent = wait_status(org, c.id, msg["id"], "sent")
    request = wait_twilio(twilio, c.phone)[0]
    assert sent["providerMessageId"] == request["sid"], (sent, request)
    return c, msg, request["sid"], request["status_callback"]


def post_status_callback(c, callback_url: str, body: bytes) -> None:
    """Posts a status callback to the StatusCallback URL the send named, signed by Twilio's own validator."""
    r = c.org.cluster.request(
        "POST", callback_url, key=None, data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "X-Twilio-Signature": twilio_signature(c.tw.auth_token, callback_url, body)})
    assert_twiml(r)


def callback_form(fixture: str, sid: str, to: str) -> bytes:
    """A byte-exact status callback fixture with its message sid and recipient swapped for ours."""
    body = twilio_form(fixture, fresh_sids=False)
    params = form_params(body)
    body = body.replace(params["MessageSid"].encode(), sid.encode())
    if "To" in params:
        body = body.replace(b"To=" + urllib.parse.quote(params["To"], safe="").encode(),
                            b"To=" + urllib.parse.quote(to, safe="").encode())
    return body


def test_a_21610_status_callback_fails_the_message_and_opts_the_contact_out(org, twilio):
    c, msg, sid, callback = sent_sms(org, twilio, "sent, then the carrier says unsubscribed")
    assert get_contact(org, c.contact_id)["optedIn"] is True
    post_status_callback(c, callback, callback_form("status_failed_21610_stop.form", sid, c.phone))
    failed = wait_status(org, c.id, msg["id"], "failed")
    # the callback carries ErrorCode only: the code is kept with Twilio's own wording of it
    assert failed["error"] == {"code": "21610", "message": "Attempt to send to unsubscribed recipient",
                               "reason": "opted_out"}, failed
    contact = wait_contact(org, c.contact_id, lambda x: x["optedIn"] is False, what="opt-out by a 21610 callback")
    assert contact["optInSource"] == "provider", contact
    last = consent_ledger(org, c.contact_id)[-1]
    assert (last["optedIn"], last["source"], last["proof"]["messageId"]) == (False, "provider", sid), last
    assert_error(send(org, c.id, {"type": "text", "text": "again"}), 409, "contact_not_opted_in")


@pytest.mark.parametrize("status", ["failed", "undelivered"])
@pytest.mark.parametrize("code,reason,text", [
    (21211, "invalid_number", "Invalid 'To' phone number"), (30003, "undeliverable", "Unreachable destination handset"),
    (30005, "undeliverable", "Unknown destination handset"), (30006, "undeliverable", "Landline or unreachable carrier"),
    (30007, "provider_error", "Message filtered (carrier violation)"),
])
def test_a_failed_status_callback_gets_the_reason_a_refused_send_would(org, twilio, status, code, reason, text):
    c, msg, sid, callback = sent_sms(org, twilio, f"then {status} {code}")
    body = urllib.parse.urlencode({"MessageSid": sid, "MessageStatus": status, "ErrorCode": str(code),
                                   "AccountSid": c.tw.account_sid, "To": c.phone}).encode()
    post_status_callback(c, callback, body)
    failed = wait_status(org, c.id, msg["id"], "failed")
    assert failed["error"] == {"code": str(code), "message": text, "reason": reason}, failed
    time.sleep(SETTLE)
    assert get_contact(org, c.contact_id)["optedIn"] is True


def test_a_status_callbacks_own_error_message_is_kept(org, twilio):
    c, msg, sid, callback = sent_sms(org, twilio, "then undelivered with a message")
    body = urllib.parse.urlencode({"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "30008",
                                   "ErrorMessage": "Carrier said no", "To": c.phone}).encode()
    post_status_callback(c, callback, body)
    failed = wait_status(org, c.id, msg["id"], "failed")
    assert failed["error"] == {"code": "30008", "message": "Carrier said no", "reason": "provider_error"}, failed


@pytest.mark.parametrize("code,reason", [
    (131047, "window_closed"), (131026, "undeliverable"), (132000, "template_error"), (132001, "template_error"),
    (130472, "provider_error"),
])
def test_a_failed_whatsapp_status_gets_the_reason_the_send_path_gives(org, meta, code, reason):
    c = wa_conversation(org, meta)
    msg = assert_accepted(send(org, c.id, {"type": "text", "text": f"then failed {code}"}))
    wamid = wait_status(org, c.id, msg["id"], "sent")["providerMessageId"]
    payload = status_webhook(c.wa, "pywa_status_failed.json", wamid, digits(c.phone))
    for entry in payload["entry"]:
        for change in entry["changes"]:
            for status in change["value"]["statuses"]:
                status["errors"][0]["code"] = code
    send_whatsapp(org.cluster, c.wa, payload)
    failed = wait_status(org, c.id, msg["id"], "failed")
    assert failed["error"]["code"] == str(code) and failed["error"]["reason"] == reason, failed
    assert failed["error"]["message"] == "User's number is part of an experiment", failed


@pytest.mark.parametrize("code,reason", [(21211, "invalid_number"), (21408, "provider_error"),
                                         (21614, "provider_error")])
def test_twilio_permanent_errors_fail_with_their_reason(org, twilio, code, reason):
    c = sms_conversation(org, twilio)
    twilio.fail_for(c.phone, code)
    msg = assert_accepted(send(org, c.id, {"type": "text", "text": f"fails with {code}"}))
    failed = wait_status(org, c.id, msg["id"], "failed")
    assert failed["error"]["code"] == str(code) and failed["error"]["reason"] == reason, failed
    assert failed["error"]["message"], failed
    time.sleep(SETTLE)
    assert len([r for r in twilio.rejected if r["account_sid"] == c.tw.account_sid]) == 1
    assert get_contact(org, c.contact_id)["optedIn"] is True


# ---------------------------------------------------------------------------------------------------------
# sandbox, rate limit, delivery statuses


def test_sandbox_records_outbound_as_delivered_without_http(org, meta, twilio):
    phone = rand_phone()
    conv = open_sandbox_conversation(org, "Sandy", phone=phone)
    sb = sandbox_channel(org)
    msg = assert_accepted(send(org, conv["id"], {"type": "text", "text": "hello sandbox"}))
    assert msg["channelId"] == sb["id"]
    done = wait_status(org, conv["id"], msg["id"], "delivered")
    assert done["providerMessageId"], done
    time.sleep(0.3)
    assert_nothing_sent(meta, phone)
    assert_nothing_sent(twilio, phone)


def test_rate_limit_per_sending_number(org, meta):
    c = wa_conversation(org, meta, messagesPerSecond=5)
    ids = [assert_accepted(send(org, c.id, {"type": "text", "text": f"burst {i:02d}"}))["id"] for i in range(20)]
    reqs = wait_meta(meta, c.phone, 20, timeout=SEND_WAIT)
    for mid in ids:
        wait_status(org, c.id, mid, "sent")
    times = sorted(r["received_at"] for r in reqs)
    spread = times[-1] - times[0]
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    print(f"\nrate limit 5/s: 20 sends spread over {spread:.2f}s, at most {busiest} in any 1 s window")
    assert spread >= 2.8, f"20 sends at 5/s took only {spread:.2f}s"
    assert busiest <= 6, f"{busiest} sends within one second at 5/s"
    assert sorted(text_of(r["body"]) for r in reqs) == [f"burst {i:02d}" for i in range(20)]


def test_delivered_status_webhook_moves_the_sent_message_forward(org, meta):
    c = wa_conversation(org, meta)
    msg = assert_accepted(send(org, c.id, {"type": "text", "text": "did you get it?"}))
    sent = wait_status(org, c.id, msg["id"], "sent")
    wamid = sent["providerMessageId"]
    send_whatsapp(org.cluster, c.wa, status_webhook(c.wa, "pywa_status_delivered.json", wamid, digits(c.phone)))
    delivered = wait_status(org, c.id, msg["id"], "delivered")
    assert delivered["providerMessageId"] == wamid
    send_whatsapp(org.cluster, c.wa, status_webhook(c.wa, "pywa_status_read.json", wamid, digits(c.phone)))
    wait_status(org, c.id, msg["id"], "read")
    # a late "delivered" does not move it back
    send_whatsapp(org.cluster, c.wa, status_webhook(c.wa, "pywa_status_delivered.json", wamid, digits(c.phone)))
    marker = send_text(org.cluster, c.wa, "thanks!", sender=digits(c.phone))
    wait_message(org, marker["id"])
    assert listed(org, c.id, msg["id"])["status"] == "read"
