"""Shared helpers for the inbound-messaging black-box tests (channels, webhooks, sandbox, inbox).

Everything here drives edge from outside, exactly as a provider or an API client would:
- WhatsApp Cloud webhooks: a fixture body from Tests/Fixtures/whatsapp, retargeted to a channel made by the test
  (its `metadata.phone_number_id`), serialised once, signed over those exact bytes with the channel's app secret;
- Twilio webhooks: a byte-exact `.form` fixture (only its message SIDs may be swapped for fresh ones), signed with
  twilio-python's own `RequestValidator` for the channel's public `webhookUrl`;
- the sandbox channel: POST /sandbox/inbound with an API key.

Processing is asynchronous (journal -> processor), so effects are polled with `wait_for`.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
import urllib.parse

import requests

from conftest import HTTP_TIMEOUT, REPO_ROOT, assert_json, rand_phone, tick, unique

FIXTURES = REPO_ROOT / "Tests" / "Fixtures"
WA_FIXTURES = FIXTURES / "whatsapp"
TWILIO_FIXTURES = FIXTURES / "twilio" / "inbound"

WHATSAPP_WEBHOOK = "/webhooks/whatsapp"
MASK = "********"
WAIT = 20.0  # seconds an asynchronous effect may take to become visible
SETTLE = 1.0  # extra time given to something that must NOT happen, after a later message was seen

CONVERSATION_FIELDS = {
    "id", "contact", "channelId", "channel", "status", "assigneeId", "lastActivityAt", "lastInboundAt",
    "unreadCount", "starred", "archived", "window", "lastMessage", "createdAt", "resolvedAt", "deletedAt",
}
MESSAGE_FIELDS = {
    "id", "conversationId", "contactId", "channelId", "direction", "type", "text", "content", "providerMessageId",
    "status", "error", "replyTo", "forwarded", "sentAt", "recordedAt", "statusAt", "senderAgentId",
}
CHANNEL_FIELDS = {"id", "kind", "name", "status", "webhookUrl", "createdAt", "updatedAt"}


# ---------------------------------------------------------------------------------------------------------
# waiting


def wait_for(fn, timeout: float = WAIT, interval: float = 0.2, what: str | None = None):
    """Calls `fn` until it answers something truthy (and returns that). An AssertionError raised by `fn` counts as
    "not yet". Fails with the last answer after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last, last_error = None, None
    while True:
        try:
            last, last_error = fn(), None
            if last:
                return last
        except AssertionError as e:
            last_error = e
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    label = what or getattr(fn, "__name__", "condition")
    raise AssertionError(f"{label}: not within {timeout}s (last answer: {last!r}; last error: {last_error})")


def settle() -> None:
    time.sleep(SETTLE)


# ---------------------------------------------------------------------------------------------------------
# ids


def new_wamid() -> str:
    return "wamid." + secrets.token_hex(16)


def new_sandbox_message_id() -> str:
    # the sandbox prefixes every message id with `sandbox.`; one that has it already comes back unchanged
    return "sandbox." + secrets.token_hex(12)


def new_phone_number_id() -> str:
    """A WhatsApp phone number id: 15 digits, unique per call."""
    return str(10**14 + secrets.randbelow(9 * 10**14))


def new_twilio_sid(prefix: str = "SM") -> str:
    return prefix + secrets.token_hex(16)


def digits(phone: str) -> str:
    """The WhatsApp spelling of an E.164 number (no '+')."""
    return phone.lstrip("+")


# ---------------------------------------------------------------------------------------------------------
# channels


class WaChannel:
    """A whatsapp_cloud channel made by a test, with the secrets it was given."""

    def __init__(self, org, raw: dict, body: dict):
        self.org = org
        self.raw = raw
        self.id = raw["id"]
        self.phone_number_id = body["phoneNumberId"]
        self.app_secret = body.get("appSecret")
        self.verify_token = body.get("verifyToken")
        self.access_token = body.get("accessToken")


def whatsapp_channel_body(**overrides) -> dict:
    body = {
        "kind": "whatsapp_cloud",
        "name": unique("WA "),
        "phoneNumberId": new_phone_number_id(),
        "displayPhoneNumber": "+1 555 010 0100",
        "businessAccountId": str(10**15 + secrets.randbelow(9 * 10**15)),
        "accessToken": "EAAG" + secrets.token_urlsafe(40),
        "appSecret": secrets.token_hex(16),
        "verifyToken": "verify-" + secrets.token_urlsafe(18),
    }
    body.update(overrides)
    return body


def create_whatsapp_channel(org, **overrides) -> WaChannel:
    body = whatsapp_channel_body(**overrides)
    raw = assert_json(org.post("/channels", json=body), 201)
    tick()
    return WaChannel(org, raw, body)


class TwilioChannel:
    """A twilio_sms channel made by a test, with its auth token and the URL Twilio signs."""

    def __init__(self, org, raw: dict, body: dict):
        self.org = org
        self.raw = raw
        self.id = raw["id"]
        self.auth_token = body.get("authToken")
        self.account_sid = body["accountSid"]
        self.webhook_url = raw["webhookUrl"]


def new_account_sid() -> str:
    return new_twilio_sid("AC")


def twilio_channel_body(**overrides) -> dict:
    body = {
        "kind": "twilio_sms",
        "name": unique("SMS "),
        "accountSid": new_account_sid(),
        "authToken": secrets.token_hex(16),
        "fromNumber": rand_phone(),
    }
    body.update(overrides)
    return body


def create_twilio_channel(org, **overrides) -> TwilioChannel:
    body = twilio_channel_body(**overrides)
    raw = assert_json(org.post("/channels", json=body), 201)
    tick()
    return TwilioChannel(org, raw, body)


def create_twilio_channel_for_form(org, form: bytes, **overrides) -> TwilioChannel:
    """A Twilio channel whose account SID / number are the fixture's own where they look like real ones."""
    params = form_params(form)
    settings = {}
    if re.fullmatch(r"AC[0-9a-f]{32}", params.get("AccountSid", "")):
        settings["accountSid"] = params["AccountSid"]
    if re.fullmatch(r"\+[1-9]\d{6,14}", params.get("To", "")):
        settings["fromNumber"] = params["To"]
    settings.update(overrides)
    return create_twilio_channel(org, **settings)


def sandbox_channel(org) -> dict:
    channels = assert_json(org.get("/channels"), 200)["data"]
    sandboxes = [c for c in channels if c["kind"] == "sandbox"]
    assert len(sandboxes) == 1, f"expected exactly one sandbox channel: {channels}"
    return sandboxes[0]


# ---------------------------------------------------------------------------------------------------------
# WhatsApp webhooks


def load_fixture(name: str) -> dict:
    return json.loads((WA_FIXTURES / name).read_text())


def changes(payload: dict) -> list[dict]:
    return [change["value"] for entry in payload["entry"] for change in entry["changes"]]


def fixture_messages(payload: dict) -> list[dict]:
    return [m for value in changes(payload) for m in value.get("messages", [])]


def fixture_statuses(payload: dict) -> list[dict]:
    return [s for value in changes(payload) for s in value.get("statuses", [])]


def retarget(payload: dict, phone_number_id: str, *, fresh_ids: bool = True, now: bool = True,
             sender: str | None = None, user_id: str | None = None) -> dict:
    """A copy of a webhook body routed to `phone_number_id`. `fresh_ids` gives every message/status a new provider
    id (so tests never share one); `now` sets their timestamps to the current second; `sender` (digits) replaces
    the customer's number where the fixture has one, `user_id` the customer's business-scoped user id."""
    out = copy.deepcopy(payload)
    stamp = str(int(time.time()))
    for value in changes(out):
        value["metadata"]["phone_number_id"] = phone_number_id
        for m in value.get("messages", []):
            if fresh_ids:
                m["id"] = new_wamid()
            if now:
                m["timestamp"] = stamp
            if sender and "from" in m:
                m["from"] = sender
            if user_id and "from_user_id" in m:
                m["from_user_id"] = user_id
        for s in value.get("statuses", []):
            if fresh_ids:
                s["id"] = new_wamid()
            if now:
                s["timestamp"] = stamp
            if sender and "recipient_id" in s:
                s["recipient_id"] = sender
            if user_id and "recipient_user_id" in s:
                s["recipient_user_id"] = user_id
        for c in value.get("contacts", []):
            if sender and "wa_id" in c:
                c["wa_id"] = sender
            if user_id and "user_id" in c:
                c["user_id"] = user_id
    return out


def text_payload(phone_number_id: str, text: str, *, sender: str | None = None, name: str | None = "Sender",
                 user_id: str | None = None, username: str | None = None, message_id: str | None = None,
                 referral: dict | None = None) -> dict:
    """A one-message text webhook body in the Cloud API shape of the fixtures. `sender` is the customer's number
    (digits); without it the sender is only known by `user_id` (a user who hid their number)."""
    assert sender or user_id
    contact: dict = {"profile": {}}
    if name is not None:
        contact["profile"]["name"] = name
    if username is not None:
        contact["profile"]["username"] = username
    message: dict = {"id": message_id or new_wamid(), "timestamp": str(int(time.time())), "type": "text",
                     "text": {"body": text}}
    if sender:
        contact["wa_id"] = sender
        message["from"] = sender
    if user_id:
        contact["user_id"] = user_id
        message["from_user_id"] = user_id
    if referral is not None:
        message["referral"] = referral
    return {
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "1",
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550100100", "phone_number_id": phone_number_id},
                    "contacts": [contact],
                    "messages": [message],
                },
            }],
        }],
    }


def encode(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def hub_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_whatsapp(cluster, body: bytes, signature: str | None = None, session=None) -> requests.Response:
    """POST /webhooks/whatsapp with `body` as is; `signature` is the whole X-Hub-Signature-256 value (none if None)."""
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    if session is None:
        return cluster.request("POST", cluster.base_url + WHATSAPP_WEBHOOK, key=None, data=body, headers=headers)
    return session.post(cluster.base_url + WHATSAPP_WEBHOOK, data=body, headers=headers, timeout=HTTP_TIMEOUT)


def send_whatsapp(cluster, channel: WaChannel, payload: dict) -> bytes:
    """Signs and posts `payload` for `channel`; checks the documented 200 `accepted`. Returns the bytes sent."""
    body = encode(payload)
    r = post_whatsapp(cluster, body, hub_signature(channel.app_secret, body))
    got = assert_json(r, 200)
    assert got.get("status") == "accepted", f"webhook answer: {got}"
    return body


def send_fixture(cluster, channel: WaChannel, name: str, **rewrite) -> dict:
    """Posts a fixture retargeted to `channel` (see `retarget`); answers the payload that was sent."""
    payload = retarget(load_fixture(name), channel.phone_number_id, **rewrite)
    send_whatsapp(cluster, channel, payload)
    return payload


def send_text(cluster, channel: WaChannel, text: str, **kw) -> dict:
    payload = text_payload(channel.phone_number_id, text, **kw)
    send_whatsapp(cluster, channel, payload)
    return fixture_messages(payload)[0]


def post_concurrently(cluster, n: int, post) -> list[requests.Response]:
    """Runs `post(session)` in `n` threads at once (each with its own session, still watched for 5xx)."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i):
        with requests.Session() as s:
            s.hooks["response"].append(cluster._record)
            barrier.wait(10)
            try:
                results[i] = post(s)
            except Exception as e:  # reported below
                results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for res in results:
        assert isinstance(res, requests.Response), f"a concurrent request failed: {res!r}"
    return results


# ---------------------------------------------------------------------------------------------------------
# Twilio webhooks


def twilio_form(name: str, *, fresh_sids: bool = True) -> bytes:
    """A `.form` fixture's bytes; with `fresh_sids` every message SID (SM…/MM…) is swapped for a new one of the
    same shape, nothing else is touched."""
    body = (TWILIO_FIXTURES / name).read_bytes()
    if fresh_sids:
        for sid in sorted(set(re.findall(rb"(?:SM|MM)[0-9a-f]{32}", body))):
            body = body.replace(sid, new_twilio_sid(sid[:2].decode()).encode())
    return body


def form_params(body: bytes) -> dict:
    return dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))


def sms_form(channel: TwilioChannel, from_phone: str, text: str, sid: str | None = None) -> bytes:
    """A plain inbound SMS callback body in Twilio's shape."""
    sid = sid or new_twilio_sid()
    params = {
        "ToCountry": "US", "SmsMessageSid": sid, "NumMedia": "0", "SmsSid": sid, "SmsStatus": "received",
        "Body": text, "To": channel.raw.get("fromNumber") or "+15550100199", "NumSegments": "1", "MessageSid": sid,
        "AccountSid": channel.account_sid, "From": from_phone, "ApiVersion": "2010-04-01",
    }
    return urllib.parse.urlencode(params).encode()


def twilio_signature(auth_token: str, url: str, body: bytes) -> str:
    from twilio.request_validator import RequestValidator

    return RequestValidator(auth_token).compute_signature(url, form_params(body))


def twilio_path(channel_id: str) -> str:
    return f"/webhooks/twilio/{channel_id}"


def post_twilio(cluster, channel_id: str, body: bytes, signature: str | None = None,
                session=None) -> requests.Response:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    url = cluster.base_url + twilio_path(channel_id)
    if session is None:
        return cluster.request("POST", url, key=None, data=body, headers=headers)
    return session.post(url, data=body, headers=headers, timeout=HTTP_TIMEOUT)


def assert_twiml(r: requests.Response) -> None:
    assert r.status_code == 200, f"twilio webhook: expected 200, got {r.status_code}: {r.text[:500]}"
    ctype = r.headers.get("Content-Type", "")
    assert ctype.startswith("text/xml"), f"twilio webhook answer is not text/xml: {ctype!r}"
    assert "<Response" in r.text, r.text[:500]


def send_twilio(cluster, channel: TwilioChannel, body: bytes, url: str | None = None) -> requests.Response:
    """Posts a form body signed for `url` (default: the channel's webhookUrl); checks the 200 TwiML answer."""
    r = post_twilio(cluster, channel.id, body, twilio_signature(channel.auth_token, url or channel.webhook_url, body))
    assert_twiml(r)
    return r


# ---------------------------------------------------------------------------------------------------------
# the sandbox channel


def sandbox_inbound(org, text: str = "hello", *, phone: str | None = None, message_id: str | None = None,
                    **extra) -> dict:
    """A customer message on the org's sandbox channel (202). A fresh `messageId` is sent unless one is given
    (pass message_id=False to send none)."""
    body = {"text": text, **extra}
    if phone is not None:
        body["from"] = phone
    if message_id is None:
        message_id = new_sandbox_message_id()
    if message_id:
        body["messageId"] = message_id
    return assert_json(org.post("/sandbox/inbound", json=body), 202)


# ---------------------------------------------------------------------------------------------------------
# reading conversations, messages and contacts


def conversations(org, params: dict | None = None, key=None) -> list[dict]:
    if key is None:
        return org.list_all("/conversations", params)
    items, cursor = [], None
    while True:
        query = dict(params or {}, limit=200)
        if cursor:
            query["cursor"] = cursor
        body = assert_json(org.get("/conversations", params=query, key=key), 200)
        items += body["data"]
        cursor = body["nextCursor"]
        if not cursor:
            return items


def conversation_ids(org, params: dict | None = None, key=None) -> list[str]:
    return [c["id"] for c in conversations(org, params, key)]


def get_conversation(org, conv_id: str) -> dict:
    return assert_json(org.get(f"/conversations/{conv_id}"), 200)


def messages(org, conv_id: str) -> list[dict]:
    return org.list_all(f"/conversations/{conv_id}/messages")


def find_message(org, provider_id: str):
    """(conversation, message) carrying `provider_id`, looking through every listed conversation (archived too)."""
    seen = set()
    for params in ({}, {"archived": "true"}):
        for conv in conversations(org, params):
            if conv["id"] in seen:
                continue
            seen.add(conv["id"])
            for m in messages(org, conv["id"]):
                if m["providerMessageId"] == provider_id:
                    return conv, m
    return None


def wait_message(org, provider_id: str, timeout: float = WAIT):
    """Waits for the inbound message with `provider_id`; answers (conversation, message) as then listed."""
    return wait_for(lambda: find_message(org, provider_id), timeout, what=f"message {provider_id}")


def wait_conversation(org, conv_id: str, predicate, timeout: float = WAIT) -> dict:
    def check():
        conv = get_conversation(org, conv_id)
        return conv if predicate(conv) else None

    return wait_for(check, timeout, what=f"conversation {conv_id}")


def contacts_with_phone(org, phone: str) -> list[dict]:
    return [c for c in org.list_all("/contacts", {"q": digits(phone)}) if c["phone"] == phone]


def get_contact(org, contact_id: str) -> dict:
    return assert_json(org.get(f"/contacts/{contact_id}"), 200)


def wait_contact(org, contact_id: str, predicate, timeout: float = WAIT, what: str = "contact") -> dict:
    def check():
        c = get_contact(org, contact_id)
        return c if predicate(c) else None

    return wait_for(check, timeout, what=f"{what} {contact_id}")


def consent_ledger(org, contact_id: str) -> list[dict]:
    return assert_json(org.get(f"/contacts/{contact_id}/consent"), 200)["data"]


def open_sandbox_conversation(org, name: str | None = None, text: str = "hello", phone: str | None = None,
                              **extra) -> dict:
    """Sends one sandbox message and waits until it is stored; answers its conversation."""
    phone = phone or rand_phone()
    body = {"name": name} if name is not None else {}
    body.update(extra)
    sent = sandbox_inbound(org, text, phone=phone, **body)
    conv, _ = wait_message(org, sent["messageId"])
    tick()
    return conv


def prove_nothing_stored(org, phone: str | None = None, contacts: bool = True) -> dict:
    """After a rejected or ignored delivery: a later sandbox message is stored, and then (after a moment more) the
    org holds nothing but that message and its conversation (and, with `contacts`, nothing but its contact).
    Answers the sentinel conversation."""
    phone = phone or rand_phone()
    sent = sandbox_inbound(org, "sentinel", phone=phone, name="Sentinel")
    conv, _ = wait_message(org, sent["messageId"])
    settle()
    convs = conversations(org) + conversations(org, {"archived": "true"})
    assert {c["id"] for c in convs} == {conv["id"]}, f"unexpected conversations: {convs}"
    assert [m["providerMessageId"] for m in messages(org, conv["id"])] == [sent["messageId"]]
    if contacts:
        found = org.list_all("/contacts")
        assert [c["phone"] for c in found] == [phone], f"unexpected contacts: {found}"
    return conv


def assert_no_secret(resp: requests.Response, *secret_values: str) -> None:
    for value in secret_values:
        if value:
            assert value not in resp.text, f"{resp.request.method} {resp.request.url} shows a secret: {resp.text}"
