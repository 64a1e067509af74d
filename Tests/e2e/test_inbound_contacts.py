"""What an inbound customer message does to contacts: found or created by phone (or WhatsApp user id), profile
name, first-message opt-in, STOP/START keywords, merging a hidden-number contact with its phone, auto-tag rules and
Click-to-WhatsApp attribution. Most messages come through the sandbox channel; a few through signed WhatsApp
webhooks. Each test works in a fresh organisation."""

import pytest

from conftest import assert_error, assert_json, parse_time, rand_phone, unique
from inbound_helpers import (
    consent_ledger,
    contacts_with_phone,
    create_whatsapp_channel,
    digits,
    fixture_messages,
    get_contact,
    new_sandbox_message_id,
    prove_nothing_stored,
    sandbox_channel,
    sandbox_inbound,
    send_fixture,
    send_text,
    wait_contact,
    wait_for,
    wait_message,
    settle,
)

STOP_WORDS = ["STOP", "stop", "  Stop  ", "STOPALL", "unsubscribe", "Cancel", "END", "quit", "OptOut", "revoke",
              "STOP\n"]
START_WORDS = ["START", "unstop", " Yes "]


def _send(org, phone, text="hello", **extra):
    """A sandbox message from `phone`, waited for; answers (message id, conversation, message)."""
    mid = new_sandbox_message_id()
    sandbox_inbound(org, text, phone=phone, message_id=mid, **extra)
    conv, msg = wait_message(org, mid)
    return mid, conv, msg


def _opted_in_contact(org, phone):
    mid, _, msg = _send(org, phone, "hello", name="Keyword Tester")
    contact = wait_contact(org, msg["contactId"], lambda c: c["optedIn"] is True, what="first-message opt-in")
    return mid, contact


# ---------------------------------------------------------------------------------------------------------
# contact resolution and first-message opt-in


def test_first_message_creates_an_opted_in_contact(org):
    phone = rand_phone()
    mid = new_sandbox_message_id()
    answer = sandbox_inbound(org, "Hi there", phone=phone, name="Ana Souza", message_id=mid)
    assert set(answer) >= {"channelId", "messageId", "journalId"}, answer
    assert answer["channelId"] == sandbox_channel(org)["id"]
    assert answer["messageId"] == mid
    assert answer["journalId"]

    conv, msg = wait_message(org, mid)
    assert msg["text"] == "Hi there" and msg["direction"] == "inbound"
    c = wait_contact(org, msg["contactId"], lambda c: c["optedIn"] is True, what="first-message opt-in")
    assert c["phone"] == phone and c["name"] == "Ana Souza"
    assert c["optInSource"] == "inbound_first_message"
    assert c["optInProof"]["messageId"] == mid
    assert conv["contact"]["id"] == c["id"] and conv["contact"]["name"] == "Ana Souza"
    assert conv["contact"]["phone"] == phone

    ledger = consent_ledger(org, c["id"])
    assert [(e["optedIn"], e["source"]) for e in ledger] == [(True, "inbound_first_message")]
    assert ledger[0]["proof"]["messageId"] == mid
    assert [x["id"] for x in org.list_all("/contacts")] == [c["id"]]


def test_generated_sandbox_message_id_is_the_provider_id(org):
    answer = sandbox_inbound(org, "no id given", phone=rand_phone(), message_id=False)
    assert isinstance(answer["messageId"], str) and answer["messageId"]
    _, msg = wait_message(org, answer["messageId"])
    c = wait_contact(org, msg["contactId"], lambda c: c["optedIn"] is True)
    assert c["optInProof"]["messageId"] == answer["messageId"]


def test_first_webhook_message_records_the_wamid(org):
    wa = create_whatsapp_channel(org)
    phone = rand_phone()
    sent = send_text(org.cluster, wa, "hola", sender=digits(phone), name="Web Person")
    _, msg = wait_message(org, sent["id"])
    c = wait_contact(org, msg["contactId"], lambda c: c["optedIn"] is True)
    assert c["phone"] == phone and c["name"] == "Web Person"
    assert c["optInSource"] == "inbound_first_message"
    assert c["optInProof"]["messageId"] == sent["id"]


def test_existing_contact_is_reused_and_keeps_its_name(org):
    phone = rand_phone()
    existing = org.create_contact(phone=phone, name="Keep Me", tags=["known"])
    _, conv, msg = _send(org, phone, "it's me", name="Profile Name")
    assert msg["contactId"] == existing["id"]
    assert conv["contact"]["id"] == existing["id"]
    c = get_contact(org, existing["id"])
    assert c["name"] == "Keep Me"
    assert c["tags"] == ["known"]
    assert [x["id"] for x in org.list_all("/contacts")] == [existing["id"]]


def test_profile_name_fills_an_empty_name(org):
    phone = rand_phone()
    existing = org.create_contact(phone=phone)
    assert existing["name"] is None
    _, _, msg = _send(org, phone, "hello", name="Filled In")
    assert msg["contactId"] == existing["id"]
    assert wait_contact(org, existing["id"], lambda c: c["name"] == "Filled In")["phone"] == phone


def test_contact_without_consent_history_is_opted_in_by_first_message(org):
    phone = rand_phone()
    existing = org.create_contact(phone=phone, optedIn=False)
    mid, _, _ = _send(org, phone, "first words")
    c = wait_contact(org, existing["id"], lambda c: c["optedIn"] is True)
    assert c["optInSource"] == "inbound_first_message" and c["optInProof"]["messageId"] == mid


def test_previous_opt_out_is_respected(org):
    phone = rand_phone()
    existing = org.create_contact(phone=phone, optedIn=False, name="Opted Out")
    assert_json(org.post(f"/contacts/{existing['id']}/consent", json={"optedIn": False, "note": "no thanks"}), 200)
    before = consent_ledger(org, existing["id"])
    assert [(e["optedIn"], e["source"]) for e in before] == [(False, "api")]

    _send(org, phone, "hello again")
    _send(org, phone, "anyone there?")  # processed after the first (in order per sender)
    c = get_contact(org, existing["id"])
    assert c["optedIn"] is False
    assert c["optInSource"] == "api"
    assert consent_ledger(org, existing["id"]) == before


def test_only_the_first_message_records_consent(org):
    phone = rand_phone()
    first, _, msg = _send(org, phone, "one")
    _send(org, phone, "two")
    _send(org, phone, "three")
    c = get_contact(org, msg["contactId"])
    assert c["optedIn"] is True and c["optInProof"]["messageId"] == first
    assert [(e["optedIn"], e["source"]) for e in consent_ledger(org, c["id"])] == [(True, "inbound_first_message")]


# ---------------------------------------------------------------------------------------------------------
# keywords


@pytest.mark.parametrize("word", STOP_WORDS, ids=[repr(w) for w in STOP_WORDS])
def test_stop_keyword_opts_out(org, word):
    phone = rand_phone()
    _, contact = _opted_in_contact(org, phone)
    mid = new_sandbox_message_id()
    sandbox_inbound(org, word, phone=phone, message_id=mid)
    c = wait_contact(org, contact["id"], lambda c: c["optedIn"] is False, what=f"opt-out by {word!r}")
    assert c["optInSource"] == "keyword"
    assert c["optInProof"]["messageId"] == mid
    ledger = consent_ledger(org, contact["id"])
    assert [(e["optedIn"], e["source"]) for e in ledger] == [(True, "inbound_first_message"), (False, "keyword")]
    assert ledger[-1]["proof"]["messageId"] == mid
    assert org.list_all("/contacts", {"optedIn": "false"})[0]["id"] == contact["id"]


@pytest.mark.parametrize("word", START_WORDS, ids=[repr(w) for w in START_WORDS])
def test_start_keyword_opts_back_in(org, word):
    phone = rand_phone()
    _, contact = _opted_in_contact(org, phone)
    sandbox_inbound(org, "STOP", phone=phone)
    wait_contact(org, contact["id"], lambda c: c["optedIn"] is False)

    mid = new_sandbox_message_id()
    sandbox_inbound(org, word, phone=phone, message_id=mid)
    c = wait_contact(org, contact["id"], lambda c: c["optedIn"] is True, what=f"opt-in by {word!r}")
    assert c["optInSource"] == "keyword" and c["optInProof"]["messageId"] == mid
    ledger = consent_ledger(org, contact["id"])
    assert [(e["optedIn"], e["source"]) for e in ledger] == [
        (True, "inbound_first_message"), (False, "keyword"), (True, "keyword")]


@pytest.mark.parametrize("text", ["please don't stop", "stop it", "Don't STOP me now", "end of story"])
def test_keyword_inside_a_sentence_changes_nothing_when_opted_in(org, text):
    phone = rand_phone()
    _, contact = _opted_in_contact(org, phone)
    _send(org, phone, text)
    _send(org, phone, "ok")  # processed after `text`
    settle()
    c = get_contact(org, contact["id"])
    assert c["optedIn"] is True and c["optInSource"] == "inbound_first_message"
    assert len(consent_ledger(org, contact["id"])) == 1


@pytest.mark.parametrize("text", ["yes please", "start over", "STARTUP", "hello"])
def test_non_keyword_changes_nothing_when_opted_out(org, text):
    phone = rand_phone()
    _, contact = _opted_in_contact(org, phone)
    sandbox_inbound(org, "stop", phone=phone)
    wait_contact(org, contact["id"], lambda c: c["optedIn"] is False)
    _send(org, phone, text)
    _send(org, phone, "ok")
    settle()
    c = get_contact(org, contact["id"])
    assert c["optedIn"] is False and c["optInSource"] == "keyword"
    assert len(consent_ledger(org, contact["id"])) == 2


def test_stop_over_a_whatsapp_webhook(org):
    wa = create_whatsapp_channel(org)
    phone = rand_phone()
    first = send_text(org.cluster, wa, "hi", sender=digits(phone))
    _, msg = wait_message(org, first["id"])
    wait_contact(org, msg["contactId"], lambda c: c["optedIn"] is True)
    stop = send_text(org.cluster, wa, " Stop ", sender=digits(phone))
    c = wait_contact(org, msg["contactId"], lambda c: c["optedIn"] is False)
    assert c["optInSource"] == "keyword" and c["optInProof"]["messageId"] == stop["id"]


# ---------------------------------------------------------------------------------------------------------
# WhatsApp user ids and merging


def test_hidden_number_sender(org):
    user_id = unique("US.7")
    _, conv, msg = _send(org, None, "who am I", whatsappUserId=user_id, username="ana.hidden", name="Hidden Ana")
    c = wait_contact(org, msg["contactId"], lambda c: c["optedIn"] is True)
    assert c["phone"] is None
    assert c["whatsappUserId"] == user_id
    assert c["whatsappUsername"] == "ana.hidden"
    assert c["name"] == "Hidden Ana"
    assert c["optInSource"] == "inbound_first_message"
    assert conv["contact"]["whatsappUsername"] == "ana.hidden" and conv["contact"]["phone"] is None


def test_hidden_number_then_both_is_one_contact(org):
    user_id = unique("US.7")
    phone = rand_phone()
    _, _, first = _send(org, None, "hidden", whatsappUserId=user_id, name="Later Known")
    _, _, second = _send(org, phone, "now with my number", whatsappUserId=user_id)
    assert second["contactId"] == first["contactId"]
    c = wait_contact(org, first["contactId"], lambda c: c["phone"] == phone)
    assert c["whatsappUserId"] == user_id
    found = org.list_all("/contacts", {"q": digits(phone)})
    assert [x["id"] for x in found] == [c["id"]]
    assert len(org.list_all("/contacts")) == 1


def test_phone_contact_and_user_id_contact_merge_into_one(org):
    user_id = unique("US.7")
    phone = rand_phone()
    _, _, by_phone = _send(org, phone, "by phone", name="Merge Me")
    _, _, by_id = _send(org, None, "by id", whatsappUserId=user_id)
    assert by_phone["contactId"] != by_id["contactId"]
    assert len(org.list_all("/contacts")) == 2

    _send(org, phone, "both at once", whatsappUserId=user_id)
    merged = wait_for(lambda: (lambda cs: cs if len(cs) == 1 else None)(org.list_all("/contacts")),
                      what="the two contacts merged")[0]
    assert merged["phone"] == phone and merged["whatsappUserId"] == user_id
    assert merged["id"] in (by_phone["contactId"], by_id["contactId"])
    found = org.list_all("/contacts", {"q": digits(phone)})
    assert len(found) == 1 and found[0]["whatsappUserId"] == user_id
    assert contacts_with_phone(org, phone)[0]["id"] == merged["id"]


def test_hidden_number_fixture_then_full_fixture_is_one_contact(org):
    wa = create_whatsapp_channel(org)
    hidden = send_fixture(org.cluster, wa, "waapijs_v25_incoming_username_only.json")
    _, first = wait_message(org, fixture_messages(hidden)[0]["id"])
    c = get_contact(org, first["contactId"])
    assert c["phone"] is None and c["whatsappUserId"] == "US.13491208655302741918"

    full = send_fixture(org.cluster, wa, "waapijs_v25_incoming.json")
    _, second = wait_message(org, fixture_messages(full)[0]["id"])
    contacts = wait_for(lambda: (lambda cs: cs if len(cs) == 1 and cs[0]["phone"] else None)(
        org.list_all("/contacts")), what="one contact with the phone")
    assert contacts[0]["phone"] == "+16315551181"
    assert contacts[0]["whatsappUserId"] == "US.13491208655302741918"
    assert second["contactId"] == contacts[0]["id"]
    assert [x["id"] for x in org.list_all("/contacts", {"q": "16315551181"})] == [contacts[0]["id"]]


# ---------------------------------------------------------------------------------------------------------
# auto-tag rules


def _rule(org, match_type, keyword, tag):
    return assert_json(org.post("/auto-tag-rules", json={"matchType": match_type, "keyword": keyword, "tag": tag}),
                       201)


def test_auto_tag_rules_tag_the_sender(org):
    _rule(org, "contains", "order", "buyer")
    _rule(org, "exact", "promo", "promo")
    phone = rand_phone()
    _, _, msg = _send(org, phone, "Where is my ORDER?")
    c = wait_contact(org, msg["contactId"], lambda c: "buyer" in c["tags"])
    assert c["tags"] == ["buyer"]

    _send(org, phone, "  PROMO ")
    c = wait_contact(org, msg["contactId"], lambda c: "promo" in c["tags"])
    assert c["tags"] == ["buyer", "promo"]

    _send(org, phone, "promo code please")  # not exact: no new tag, none removed
    _send(org, phone, "ok")
    settle()
    assert get_contact(org, msg["contactId"])["tags"] == ["buyer", "promo"]


def test_disabled_rule_tags_nobody(org):
    assert_json(org.post("/auto-tag-rules", json={"matchType": "contains", "keyword": "refund", "tag": "refund",
                                                  "enabled": False}), 201)
    _, _, msg = _send(org, rand_phone(), "I want a refund")
    settle()
    assert get_contact(org, msg["contactId"])["tags"] == []


@pytest.mark.parametrize("name", ["pywa_interactive_button_reply_with_bsuid.json",
                                  "pywa_interactive_list_reply_with_description.json"])
def test_auto_tag_rules_read_reply_titles(org, name):
    _rule(org, "exact", "title", "picked")
    wa = create_whatsapp_channel(org)
    payload = send_fixture(org.cluster, wa, name)
    _, msg = wait_message(org, fixture_messages(payload)[0]["id"])
    c = wait_contact(org, msg["contactId"], lambda c: "picked" in c["tags"], what="tag from the reply title")
    assert c["tags"] == ["picked"]


# ---------------------------------------------------------------------------------------------------------
# Click-to-WhatsApp attribution

REFERRAL_1 = {
    "source_url": "https://fb.me/ad-one", "source_id": "120200000000001", "source_type": "ad",
    "headline": "Summer sale", "body": "Half price this week", "media_type": "image",
    "image_url": "https://cdn.example.test/ad-one.jpg", "video_url": "https://cdn.example.test/ad-one.mp4",
    "ctwa_clid": "ARAkLkA8rmlFeiCktEJQ-one",
}
REFERRAL_2 = {
    "source_url": "https://fb.me/post-two", "source_id": "120200000000002", "source_type": "post",
    "headline": "Winter boots", "body": "New arrivals", "media_type": "video",
    "image_url": "https://cdn.example.test/post-two.jpg", "video_url": "https://cdn.example.test/post-two.mp4",
    "ctwa_clid": "ARAkLkA8rmlFeiCktEJQ-two",
}
CTWA_KEYS = {"source_url": "sourceUrl", "source_id": "sourceId", "source_type": "sourceType", "headline": "headline",
             "body": "body", "media_type": "mediaType", "image_url": "imageUrl", "video_url": "videoUrl",
             "ctwa_clid": "ctwaClid"}


def _assert_touch(touch, referral):
    assert isinstance(touch, dict), touch
    for wire, key in CTWA_KEYS.items():
        assert touch.get(key) == referral[wire], f"{key}: {touch}"
    parse_time(touch["at"])


def test_ctwa_first_touch_kept_last_touch_updated(org):
    phone = rand_phone()
    existing = org.create_contact(phone=phone, attributes={"city": "Lisbon"})
    _send(org, phone, "I saw your ad", referral=REFERRAL_1)
    c = wait_contact(org, existing["id"], lambda c: "ctwa" in c["attributes"], what="ctwa attribution")
    ctwa = c["attributes"]["ctwa"]
    _assert_touch(ctwa["firstTouch"], REFERRAL_1)
    _assert_touch(ctwa["lastTouch"], REFERRAL_1)
    assert c["attributes"]["city"] == "Lisbon"
    first = ctwa["firstTouch"]

    _send(org, phone, "and this one", referral=REFERRAL_2)
    c = wait_contact(org, existing["id"],
                     lambda c: c["attributes"]["ctwa"]["lastTouch"].get("sourceId") == REFERRAL_2["source_id"])
    ctwa = c["attributes"]["ctwa"]
    assert ctwa["firstTouch"] == first
    _assert_touch(ctwa["lastTouch"], REFERRAL_2)
    assert parse_time(ctwa["lastTouch"]["at"]) >= parse_time(first["at"])
    assert c["attributes"]["city"] == "Lisbon"

    _send(org, phone, "no ad this time")
    _send(org, phone, "ok")
    assert get_contact(org, existing["id"])["attributes"]["ctwa"] == ctwa


def test_ctwa_from_webhook_referral_fixture(org):
    wa = create_whatsapp_channel(org)
    payload = send_fixture(org.cluster, wa, "pywa_referral.json")
    sent = fixture_messages(payload)[0]
    _, msg = wait_message(org, sent["id"])
    c = wait_contact(org, msg["contactId"], lambda c: "ctwa" in c["attributes"], what="ctwa attribution")
    _assert_touch(c["attributes"]["ctwa"]["firstTouch"], sent["referral"])
    _assert_touch(c["attributes"]["ctwa"]["lastTouch"], sent["referral"])


def test_message_without_referral_sets_no_ctwa(org):
    _, _, msg = _send(org, rand_phone(), "plain hello")
    settle()
    assert "ctwa" not in get_contact(org, msg["contactId"])["attributes"]


# ---------------------------------------------------------------------------------------------------------
# sandbox input


@pytest.mark.parametrize(
    "body",
    [
        {"from": "+447700900123"},
        {"text": "nobody sent this"},
        {"from": "not a phone", "text": "x"},
        {"from": "+447700900123", "text": 5},
        {"from": "+447700900123", "text": "x", "colour": "blue"},
    ],
    ids=["no-text", "no-sender", "bad-phone", "text-not-string", "unknown-field"],
)
def test_sandbox_rejects_bad_input(org, body):
    assert_error(org.post("/sandbox/inbound", json=body), 400)
    prove_nothing_stored(org)


def test_sandbox_field_errors_are_specific(org):
    assert_error(org.post("/sandbox/inbound", json={"from": rand_phone(), "text": 5}), 400, "invalid_field",
                 field="text")
    assert_error(org.post("/sandbox/inbound", json={"from": rand_phone(), "text": "x", "colour": "blue"}), 400,
                 "unknown_field", field="colour")


def test_sandbox_needs_an_api_key(org):
    r = org.cluster.request("POST", "/sandbox/inbound", key=None, json={"from": rand_phone(), "text": "hi"})
    assert_error(r, 401, "unauthorized")
    prove_nothing_stored(org)
