"""Provider webhooks seen from outside: the WhatsApp verification handshake, X-Hub-Signature-256 checks, every
WhatsApp fixture becoming the right message (or a status that opens nothing), Twilio's X-Twilio-Signature and form
callbacks, and duplicate deliveries. Each test makes its own organisation and channel; webhook bodies are the
fixtures of Tests/Fixtures, routed to the test's channel."""

import json
import secrets
import urllib.parse

import pytest
import requests

from conftest import assert_error, assert_json, assert_recent, rand_phone
from inbound_helpers import (
    CONVERSATION_FIELDS,
    MESSAGE_FIELDS,
    WHATSAPP_WEBHOOK,
    assert_twiml,
    contacts_with_phone,
    conversations,
    create_twilio_channel,
    create_twilio_channel_for_form,
    create_whatsapp_channel,
    digits,
    encode,
    fixture_messages,
    form_params,
    get_contact,
    hub_signature,
    load_fixture,
    messages,
    new_phone_number_id,
    post_concurrently,
    post_twilio,
    post_whatsapp,
    prove_nothing_stored,
    retarget,
    send_fixture,
    send_text,
    send_twilio,
    sms_form,
    text_payload,
    twilio_form,
    twilio_signature,
    wait_for,
    wait_message,
    settle,
)

# ---------------------------------------------------------------------------------------------------------
# verification handshake


def _handshake(cluster, **params):
    query = urllib.parse.urlencode(params)
    return cluster.request("GET", f"{cluster.base_url}{WHATSAPP_WEBHOOK}?{query}", key=None)


def test_verification_handshake_echoes_challenge(org):
    wa = create_whatsapp_channel(org)
    challenge = str(secrets.randbelow(10**10))
    r = _handshake(org.cluster, **{"hub.mode": "subscribe", "hub.verify_token": wa.verify_token,
                                   "hub.challenge": challenge})
    assert r.status_code == 200, r.text
    assert r.headers.get("Content-Type", "").startswith("text/plain"), r.headers
    assert r.text == challenge


@pytest.mark.parametrize("case", ["wrong-token", "unsubscribe", "no-mode", "no-token", "no-challenge-token-only"])
def test_verification_refused(org, case):
    wa = create_whatsapp_channel(org)
    params = {"hub.mode": "subscribe", "hub.verify_token": wa.verify_token, "hub.challenge": "1158201444"}
    if case == "wrong-token":
        params["hub.verify_token"] = wa.verify_token + "x"
    elif case == "unsubscribe":
        params["hub.mode"] = "unsubscribe"
    elif case == "no-mode":
        del params["hub.mode"]
    elif case == "no-token":
        del params["hub.verify_token"]
    else:
        params = {"hub.verify_token": wa.verify_token}
    r = _handshake(org.cluster, **params)
    assert_error(r, 403, "verification_failed")
    assert "1158201444" not in r.text


@pytest.mark.parametrize("challenge", [None, ""])
def test_verification_with_the_right_token_but_no_challenge_is_400(org, challenge):
    wa = create_whatsapp_channel(org)
    params = {"hub.mode": "subscribe", "hub.verify_token": wa.verify_token}
    if challenge is not None:
        params["hub.challenge"] = challenge
    err = assert_error(_handshake(org.cluster, **params), 400, "missing_challenge", field="hub.challenge")
    assert wa.verify_token not in str(err)
    # a wrong token still learns nothing more than 403
    params["hub.verify_token"] = wa.verify_token + "x"
    assert_error(_handshake(org.cluster, **params), 403, "verification_failed")


def test_verification_with_an_oversized_challenge_is_400(org):
    wa = create_whatsapp_channel(org)
    r = _handshake(org.cluster, **{"hub.mode": "subscribe", "hub.verify_token": wa.verify_token,
                                   "hub.challenge": "9" * 1025})
    assert_error(r, 400, "invalid_challenge")


def test_verification_stops_when_channel_is_deleted(org):
    wa = create_whatsapp_channel(org)
    params = {"hub.mode": "subscribe", "hub.verify_token": wa.verify_token, "hub.challenge": "42"}
    assert _handshake(org.cluster, **params).status_code == 200
    assert org.delete(f"/channels/{wa.id}").status_code == 204
    assert_error(_handshake(org.cluster, **params), 403, "verification_failed")


# ---------------------------------------------------------------------------------------------------------
# signatures


def test_signed_message_is_accepted_and_stored(org):
    cluster = org.cluster
    wa = create_whatsapp_channel(org)
    sender = digits(rand_phone())
    payload = retarget(load_fixture("courier_wac_hello.json"), wa.phone_number_id, sender=sender)
    body = encode(payload)
    r = post_whatsapp(cluster, body, hub_signature(wa.app_secret, body))
    assert assert_json(r, 200) == {"status": "accepted"}

    wamid = fixture_messages(payload)[0]["id"]
    conv, msg = wait_message(org, wamid)
    assert set(msg) >= MESSAGE_FIELDS, sorted(msg)
    assert msg["direction"] == "inbound" and msg["type"] == "text" and msg["text"] == "Hello World"
    assert msg["channelId"] == wa.id and msg["conversationId"] == conv["id"]
    assert set(conv) >= CONVERSATION_FIELDS, sorted(conv)
    assert conv["channelId"] == wa.id and conv["channel"] == "whatsapp"
    contact = get_contact(org, msg["contactId"])
    assert contact["phone"] == "+" + sender
    assert contact["name"] == "Kerry Fisher"
    assert conv["contact"]["id"] == contact["id"]


def test_pretty_printed_body_signed_as_sent_is_accepted(org):
    """The signature is over the exact bytes: any serialisation works when it is the one signed."""
    wa = create_whatsapp_channel(org)
    payload = retarget(load_fixture("pywa_forwarded.json"), wa.phone_number_id)
    body = json.dumps(payload, indent=2).encode() + b"\n"
    r = post_whatsapp(org.cluster, body, hub_signature(wa.app_secret, body))
    assert assert_json(r, 200)["status"] == "accepted"
    wait_message(org, fixture_messages(payload)[0]["id"])


@pytest.mark.parametrize("case", ["other-secret", "other-bytes", "garbage-hex", "no-prefix", "sha1-prefix",
                                  "empty"])
def test_bad_signature_is_401_and_nothing_is_stored(org, case):
    wa = create_whatsapp_channel(org)
    payload = retarget(load_fixture("courier_wac_hello.json"), wa.phone_number_id, sender=digits(rand_phone()))
    body = encode(payload)
    good = hub_signature(wa.app_secret, body)
    signature = {
        "other-secret": hub_signature(secrets.token_hex(16), body),
        "other-bytes": hub_signature(wa.app_secret, json.dumps(payload, indent=1).encode()),
        "garbage-hex": "sha256=" + "zz" * 32,
        "no-prefix": good.removeprefix("sha256="),
        "sha1-prefix": "sha1=" + good.removeprefix("sha256="),
        "empty": "",
    }[case]
    r = post_whatsapp(org.cluster, body, signature)
    assert r.status_code == 401, f"{case}: {r.status_code} {r.text[:300]}"
    assert_error(r, 401)
    if case in ("other-secret", "other-bytes", "garbage-hex"):
        assert_error(r, 401, "invalid_signature")
    prove_nothing_stored(org)


def test_missing_signature_is_401_and_nothing_is_stored(org):
    wa = create_whatsapp_channel(org)
    payload = retarget(load_fixture("courier_wac_hello.json"), wa.phone_number_id, sender=digits(rand_phone()))
    assert_error(post_whatsapp(org.cluster, encode(payload)), 401, "missing_signature")
    prove_nothing_stored(org)


def test_a_signature_for_another_channel_is_refused(org):
    mine = create_whatsapp_channel(org)
    other = create_whatsapp_channel(org)
    payload = retarget(load_fixture("courier_wac_hello.json"), mine.phone_number_id, sender=digits(rand_phone()))
    body = encode(payload)
    assert_error(post_whatsapp(org.cluster, body, hub_signature(other.app_secret, body)), 401, "invalid_signature")
    prove_nothing_stored(org)


def test_unknown_phone_number_id_is_acknowledged(org):
    payload = retarget(load_fixture("courier_wac_hello.json"), new_phone_number_id(), sender=digits(rand_phone()))
    body = encode(payload)
    r = post_whatsapp(org.cluster, body, hub_signature(secrets.token_hex(16), body))
    assert assert_json(r, 200) == {"status": "unknown_channel"}
    r = post_whatsapp(org.cluster, body, "sha256=" + "0" * 64)
    assert assert_json(r, 200) == {"status": "unknown_channel"}


@pytest.mark.parametrize("raw", [b"not json at all", b"{\"object\": ", b"\xff\xfe\x00garbage"],
                         ids=["text", "truncated", "binary"])
def test_body_that_is_not_json_is_refused(org, raw):
    wa = create_whatsapp_channel(org)
    r = post_whatsapp(org.cluster, raw, hub_signature(wa.app_secret, raw))
    assert r.status_code in (400, 401), f"{r.status_code} {r.text[:300]}"
    if r.status_code == 400:
        assert_error(r, 400, "invalid_payload")
    else:
        assert_error(r, 401)
    prove_nothing_stored(org)


def unknown_channel_count(cluster) -> float:
    text = cluster.session.get(cluster.url("/metrics"), timeout=30).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith("switchboard_webhooks_total{") and 'outcome="unknown_channel"' in line \
                and 'provider="whatsapp"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_unknown_phone_number_id_is_counted_in_the_metrics(org):
    before = unknown_channel_count(org.cluster)
    payload = retarget(load_fixture("courier_wac_hello.json"), new_phone_number_id(), sender=digits(rand_phone()))
    body = encode(payload)
    assert assert_json(post_whatsapp(org.cluster, body, hub_signature("x", body)), 200) == {"status": "unknown_channel"}
    assert unknown_channel_count(org.cluster) == before + 1


def test_body_between_1_and_3_mib_is_accepted(org):
    wa = create_whatsapp_channel(org)
    payload = text_payload(wa.phone_number_id, "y" * (2 * 1024 * 1024), sender=digits(rand_phone()))
    body = encode(payload)
    assert 2 * 1024 * 1024 < len(body) < 3 * 1024 * 1024
    r = post_whatsapp(org.cluster, body, hub_signature(wa.app_secret, body))
    assert assert_json(r, 200) == {"status": "accepted"}
    wamid = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    conv, message = wait_message(org, wamid)
    assert message["content"]["body"] == "y" * (2 * 1024 * 1024)  # all of it; `text` is the bounded preview
    assert message["text"] == "y" * 4096


def test_body_over_3_mib_is_413(org):
    wa = create_whatsapp_channel(org)
    payload = text_payload(wa.phone_number_id, "x" * (3 * 1024 * 1024 + 100), sender=digits(rand_phone()))
    body = encode(payload)
    assert len(body) > 3 * 1024 * 1024
    with requests.Session() as s:  # edge may close this connection: keep it off the shared session
        s.hooks["response"].append(org.cluster._record)
        r = post_whatsapp(org.cluster, body, hub_signature(wa.app_secret, body), session=s)
    assert_error(r, 413, "payload_too_large")
    prove_nothing_stored(org)


# ---------------------------------------------------------------------------------------------------------
# every WhatsApp fixture


# fixture -> expected message type(s) and, for text, the body
MESSAGE_FIXTURES = {
    "courier_wac_hello.json": ("text", "Hello World"),
    "courier_wac_error_msg.json": ("unsupported", None),
    "courier_wac_hello_from_bsuid_no_phone.json": ("text", "Hello World"),
    "pywa_audio.json": ("audio", None),
    "pywa_contacts.json": ("contacts", None),
    "pywa_current_location.json": ("location", None),
    "pywa_document.json": ("document", None),
    "pywa_forwarded.json": ("text", "forwarded text"),
    "pywa_forwarded_many_times.json": ("text", "text forwarded many times"),
    "pywa_interactive_button_reply_with_bsuid.json": ("interactive", None),
    "pywa_interactive_list_reply_with_description.json": ("interactive", None),
    # an interactive message whose content WhatsApp could not deliver (errors[] 131000): either reading is fair
    "pywa_interactive_message_with_err.json": (("interactive", "unsupported"), None),
    "pywa_media_with_url.json": ("image", None),
    "pywa_referral.json": ("text", "BODY"),
    "pywa_reply.json": ("text", "replied text"),
    "pywa_static_sticker.json": ("sticker", None),
    "pywa_unreaction_empty.json": ("reaction", None),
    "pywa_unsupported.json": ("unsupported", None),
    "pywa_video.json": ("video", None),
    "pywa_voice.json": ("voice", None),
    "waapijs_v25_incoming.json": ("text", "this is a text message"),
    "waapijs_v25_incoming_username_only.json": ("text", "this is a text message"),
}

STATUS_FIXTURES = [
    "pywa_status_delivered.json", "pywa_status_read.json", "pywa_status_played.json", "pywa_status_failed.json",
    "waapijs_v25_sent.json", "waapijs_v25_delivered.json", "waapijs_v25_read.json", "courier_wac_error_status.json",
]


@pytest.mark.parametrize("name", sorted(MESSAGE_FIXTURES))
def test_whatsapp_fixture_becomes_a_message(org, name):
    wa = create_whatsapp_channel(org)
    original = fixture_messages(load_fixture(name))[0]
    # courier's sender "5678" is not a phone number anywhere: give that one sender a real one
    sender = digits(rand_phone()) if len(original.get("from", "0" * 10)) < 8 else None
    payload = send_fixture(org.cluster, wa, name, sender=sender)
    sent = fixture_messages(payload)[0]

    conv, msg = wait_message(org, sent["id"])
    want_type, want_text = MESSAGE_FIXTURES[name]
    if isinstance(want_type, tuple):
        assert msg["type"] in want_type, msg
    else:
        assert msg["type"] == want_type, msg
    assert msg["direction"] == "inbound"
    assert msg["providerMessageId"] == sent["id"]
    assert msg["channelId"] == wa.id and msg["conversationId"] == conv["id"]
    if want_text is not None:
        assert msg["text"] == want_text, msg
    if msg["type"] == "unsupported":
        assert msg["content"].get("raw"), f"unsupported message keeps its raw payload: {msg}"

    context = sent.get("context", {})
    forwarded = bool(context.get("forwarded") or context.get("frequently_forwarded"))
    assert msg["forwarded"] is forwarded, msg
    if name == "pywa_reply.json":
        assert msg["replyTo"], f"a reply names the message it answers: {msg}"
    if not context:
        assert msg["replyTo"] is None, msg

    assert conv["channelId"] == wa.id and conv["channel"] == "whatsapp"
    assert conv["lastMessage"]["id"] == msg["id"]
    contact = get_contact(org, msg["contactId"])
    assert conv["contact"]["id"] == contact["id"]
    if "from" in sent:
        assert contact["phone"] == "+" + sent["from"]
    else:  # the user hid their number: known by their business-scoped user id only
        assert contact["phone"] is None
        assert contact["whatsappUserId"] == sent["from_user_id"]


@pytest.mark.parametrize("name", STATUS_FIXTURES)
def test_whatsapp_status_fixture_opens_no_conversation(org, name):
    wa = create_whatsapp_channel(org)
    payload = retarget(load_fixture(name), wa.phone_number_id)
    body = encode(payload)
    r = post_whatsapp(org.cluster, body, hub_signature(wa.app_secret, body))
    assert assert_json(r, 200)["status"] == "accepted"
    prove_nothing_stored(org, contacts=False)


# ---------------------------------------------------------------------------------------------------------
# duplicates


def test_concurrent_duplicate_deliveries_store_one_message(org):
    cluster = org.cluster
    wa = create_whatsapp_channel(org)
    sender = digits(rand_phone())
    payload = retarget(load_fixture("courier_wac_hello.json"), wa.phone_number_id, sender=sender)
    body = encode(payload)
    signature = hub_signature(wa.app_secret, body)
    results = post_concurrently(cluster, 3, lambda s: post_whatsapp(cluster, body, signature, session=s))
    for r in results:
        assert assert_json(r, 200)["status"] == "accepted"

    wamid = fixture_messages(payload)[0]["id"]
    conv, _ = wait_message(org, wamid)
    # a later message from the same sender is processed after the duplicates (in order per sender)
    later = send_text(cluster, wa, "after the duplicates", sender=sender)
    wait_message(org, later["id"])
    settle()
    assert [m["providerMessageId"] for m in messages(org, conv["id"])] == [later["id"], wamid]
    assert len(conversations(org)) == 1
    assert org.get(f"/conversations/{conv['id']}").json()["unreadCount"] == 2


def test_redelivery_after_processing_is_ignored(org):
    cluster = org.cluster
    wa = create_whatsapp_channel(org)
    sender = digits(rand_phone())
    payload = retarget(load_fixture("pywa_media_with_url.json"), wa.phone_number_id, sender=sender)
    body = encode(payload)
    signature = hub_signature(wa.app_secret, body)
    assert assert_json(post_whatsapp(cluster, body, signature), 200)["status"] == "accepted"
    wamid = fixture_messages(payload)[0]["id"]
    conv, _ = wait_message(org, wamid)

    assert assert_json(post_whatsapp(cluster, body, signature), 200)["status"] == "accepted"
    later = send_text(cluster, wa, "next", sender=sender)
    wait_message(org, later["id"])
    settle()
    assert [m["providerMessageId"] for m in messages(org, conv["id"])] == [later["id"], wamid]


def test_one_body_with_two_messages_stores_both(org):
    wa = create_whatsapp_channel(org)
    sender = digits(rand_phone())
    payload = text_payload(wa.phone_number_id, "first", sender=sender)
    second = dict(fixture_messages(payload)[0], id="wamid." + secrets.token_hex(16), text={"body": "second"})
    payload["entry"][0]["changes"][0]["value"]["messages"].append(second)
    body = encode(payload)
    assert assert_json(post_whatsapp(org.cluster, body, hub_signature(wa.app_secret, body)), 200)["status"] == \
        "accepted"
    conv, _ = wait_message(org, second["id"])
    wait_message(org, fixture_messages(payload)[0]["id"])
    assert sorted(m["text"] for m in messages(org, conv["id"])) == ["first", "second"]


# ---------------------------------------------------------------------------------------------------------
# Twilio


def test_twilio_inbound_sms_byte_exact_fixture(org):
    cluster = org.cluster
    form = twilio_form("sms_inbound_real_tw.form", fresh_sids=False)
    tw = create_twilio_channel_for_form(org, form)
    params = form_params(form)
    r = post_twilio(cluster, tw.id, form, twilio_signature(tw.auth_token, tw.webhook_url, form))
    assert_twiml(r)

    conv, msg = wait_message(org, params["MessageSid"])
    assert msg["direction"] == "inbound" and msg["type"] == "text"
    assert msg["text"] == "Hi there from Twilio"
    assert msg["channelId"] == tw.id
    assert conv["channel"] == "sms" and conv["channelId"] == tw.id
    assert conv["window"] is None
    assert conv["unreadCount"] == 1
    assert_recent(conv["lastInboundAt"])
    contact = get_contact(org, msg["contactId"])
    assert contact["phone"] == "+13177592786"
    assert conv["contact"]["id"] == contact["id"]


TWILIO_INBOUND = [
    "sms_inbound_real_tw.form", "sms_inbound_alert_request_variables.form", "sms_inbound_twiml_valid.form",
    "sms_inbound_to_shortcode_messaging_service.form", "mms_inbound_two_media_with_body.form",
    "mms_inbound_two_media_no_body.form", "whatsapp_via_twilio_inbound.form",
]
TWILIO_STATUS = [
    "status_sent_real_tw.form", "status_sent_messaging_service.form", "status_delivered.form", "status_read.form",
    "status_failed_21610_stop.form", "status_failed_63018_rate_limit.form",
]


@pytest.mark.parametrize("name", TWILIO_INBOUND)
def test_twilio_inbound_fixture_becomes_a_message(org, name):
    form = twilio_form(name)
    params = form_params(form)
    tw = create_twilio_channel_for_form(org, form)
    send_twilio(org.cluster, tw, form)

    conv, msg = wait_message(org, params["MessageSid"])
    assert msg["direction"] == "inbound" and msg["channelId"] == tw.id
    if params["NumMedia"] == "0":
        assert msg["type"] == "text" and msg["text"] == params["Body"], msg
    phone = params["From"].removeprefix("whatsapp:")
    assert get_contact(org, msg["contactId"])["phone"] == phone
    if not params["From"].startswith("whatsapp:"):
        assert conv["channel"] == "sms" and conv["window"] is None
    assert len(contacts_with_phone(org, phone)) == 1


@pytest.mark.parametrize("name", TWILIO_STATUS)
def test_twilio_status_callback_opens_no_conversation(org, name):
    form = twilio_form(name)
    tw = create_twilio_channel_for_form(org, form)
    send_twilio(org.cluster, tw, form)
    prove_nothing_stored(org, contacts=False)


def test_twilio_status_with_unknown_value_is_not_a_message(org):
    form = twilio_form("status_invalid_value_huh.form")
    tw = create_twilio_channel(org)
    r = post_twilio(org.cluster, tw.id, form, twilio_signature(tw.auth_token, tw.webhook_url, form))
    assert r.status_code in (200, 400), f"{r.status_code} {r.text[:300]}"
    prove_nothing_stored(org, contacts=False)


@pytest.mark.parametrize("case", ["other-token", "other-url", "tampered-body", "garbage"])
def test_twilio_bad_signature_is_401_and_nothing_is_stored(org, case):
    tw = create_twilio_channel(org)
    form = sms_form(tw, rand_phone(), "should not be stored")
    url = tw.webhook_url
    if case == "other-token":
        signature = twilio_signature(secrets.token_hex(16), url, form)
    elif case == "other-url":
        signature = twilio_signature(tw.auth_token, url + "/other", form)
    elif case == "tampered-body":
        signature = twilio_signature(tw.auth_token, url, form)
        form = form.replace(b"should+not+be+stored", b"tampered+text+here!!")
    else:
        signature = "bm90IGEgc2lnbmF0dXJl"
    assert_error(post_twilio(org.cluster, tw.id, form, signature), 401, "invalid_signature")
    prove_nothing_stored(org)


def test_twilio_missing_signature_is_401(org):
    tw = create_twilio_channel(org)
    form = sms_form(tw, rand_phone(), "unsigned")
    assert_error(post_twilio(org.cluster, tw.id, form), 401, "missing_signature")
    prove_nothing_stored(org)


def test_twilio_signature_of_another_channel_is_refused(org):
    mine = create_twilio_channel(org)
    other = create_twilio_channel(org)
    form = sms_form(mine, rand_phone(), "wrong channel")
    r = post_twilio(org.cluster, mine.id, form, twilio_signature(other.auth_token, mine.webhook_url, form))
    assert_error(r, 401, "invalid_signature")
    prove_nothing_stored(org)


def test_twilio_custom_webhook_url_is_signed_with_and_without_port(org):
    cluster = org.cluster
    tw = create_twilio_channel(org)
    public = "https://hooks.example.test/twilio/" + secrets.token_hex(4)
    assert assert_json(org.patch(f"/channels/{tw.id}", json={"webhookUrl": public}), 200)["webhookUrl"] == public

    # the local address is no longer the signed one
    form = sms_form(tw, rand_phone(), "signed for the local url")
    assert_error(post_twilio(cluster, tw.id, form, twilio_signature(tw.auth_token, tw.webhook_url, form)), 401,
                 "invalid_signature")

    sent = []
    for url in (public, public.replace("hooks.example.test", "hooks.example.test:443")):
        phone = rand_phone()
        form = sms_form(tw, phone, f"signed for {url}")
        send_twilio(cluster, tw, form, url=url)
        sent.append(form_params(form)["MessageSid"])
    for sid in sent:
        wait_message(org, sid)


def test_twilio_webhook_url_with_default_port_accepts_signature_without_it(org):
    """The documented port rule the other way round: a webhookUrl spelled with :443 also accepts a signature made
    for the same URL without the port."""
    tw = create_twilio_channel(org)
    public = "https://hooks.example.test:443/twilio/" + secrets.token_hex(4)
    assert_json(org.patch(f"/channels/{tw.id}", json={"webhookUrl": public}), 200)
    form = sms_form(tw, rand_phone(), "without port")
    send_twilio(org.cluster, tw, form, url=public.replace(":443", ""))
    wait_message(org, form_params(form)["MessageSid"])


def test_twilio_duplicate_deliveries_store_one_message(org):
    cluster = org.cluster
    tw = create_twilio_channel(org)
    phone = rand_phone()
    form = sms_form(tw, phone, "once only")
    signature = twilio_signature(tw.auth_token, tw.webhook_url, form)
    results = post_concurrently(cluster, 3, lambda s: post_twilio(cluster, tw.id, form, signature, session=s))
    for r in results:
        assert_twiml(r)
    sid = form_params(form)["MessageSid"]
    conv, _ = wait_message(org, sid)
    assert_twiml(post_twilio(cluster, tw.id, form, signature))  # a late redelivery too

    later = sms_form(tw, phone, "second")
    send_twilio(cluster, tw, later)
    wait_message(org, form_params(later)["MessageSid"])
    settle()
    assert [m["text"] for m in messages(org, conv["id"])] == ["second", "once only"]
    assert wait_for(lambda: org.get(f"/conversations/{conv['id']}").json()["unreadCount"] == 2)


def test_twilio_webhook_for_unknown_channel_is_acknowledged_and_dropped(org):
    tw = create_twilio_channel(org)
    form = sms_form(tw, rand_phone(), "nowhere")
    missing = "01900000-0000-7000-8000-000000000000"
    url = f"{org.cluster.base_url}/webhooks/twilio/{missing}"
    r = post_twilio(org.cluster, missing, form, twilio_signature(tw.auth_token, url, form))
    # Like an unknown WhatsApp number: 200 so the provider stops retrying, counted in a metric, nothing stored.
    assert r.status_code == 200, f"{r.status_code} {r.text[:300]}"
    prove_nothing_stored(org)
