"""Consent keywords are what the customer typed: a reply button, a list row or a template button is the business's
own wording. Meta's sample template button "Cancel" (cancel my order) must not opt anyone out; only the template
quick-reply button the business marks `"optOut": true` in the template registry opts out (source `keyword`).

Black box: WhatsApp Cloud webhooks signed like Meta's, the template registry over the REST API."""

from __future__ import annotations

import copy
import time

import pytest

from conftest import assert_error, assert_json, rand_phone, unique
from inbound_helpers import (
    consent_ledger,
    create_whatsapp_channel,
    digits,
    get_contact,
    load_fixture,
    new_wamid,
    retarget,
    send_text,
    send_whatsapp,
    settle,
    wait_contact,
    wait_message,
)

PROMO = {
    "name": "spring_promo", "language": "en_US", "category": "MARKETING",
    "components": [
        {"type": "BODY", "text": "Spring sale: 20% off everything this week."},
        {"type": "BUTTONS", "buttons": [
            {"type": "QUICK_REPLY", "text": "Shop now"},
            {"type": "QUICK_REPLY", "text": "Stop promotions", "optOut": True},
        ]},
    ],
}


def template_button(phone_number_id: str, sender: str, text: str, payload: str | None = None) -> dict:
    """A tap on a template's quick-reply button in the shape of Meta's webhook reference sample (`type: button`,
    `button.text` the button's label, `button.payload` its payload, `context` the template message)."""
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_number_id},
            "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": sender}],
            "messages": [{
                "context": {"from": "15550783881", "id": new_wamid()},
                "from": sender, "id": new_wamid(), "timestamp": str(int(time.time())), "type": "button",
                "button": {"payload": payload if payload is not None else text, "text": text},
            }],
        }}]}],
    }


@pytest.fixture
def customer(org):
    """A WhatsApp channel and a customer who wrote first (opted in by the first message)."""
    wa = create_whatsapp_channel(org)
    phone = rand_phone()
    first = send_text(org.cluster, wa, "hi, where is my order?", sender=digits(phone))
    _, msg = wait_message(org, first["id"])
    wait_contact(org, msg["contactId"], lambda c: c["optedIn"] is True, what="first-message opt-in")
    return wa, phone, msg["contactId"]


def tap(org, wa, phone: str, text: str, payload: str | None = None) -> str:
    body = template_button(wa.phone_number_id, digits(phone), text, payload)
    send_whatsapp(org.cluster, wa, body)
    wamid = body["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    _, msg = wait_message(org, wamid)
    assert msg["type"] == "button" and msg["text"] == text, msg
    return wamid


def still_opted_in(org, contact_id: str) -> None:
    settle()
    contact = get_contact(org, contact_id)
    assert contact["optedIn"] is True, contact
    assert [e["source"] for e in consent_ledger(org, contact_id)] == ["inbound_first_message"]


def test_metas_sample_template_button_cancel_does_not_opt_out(org, customer):
    wa, phone, contact_id = customer
    tap(org, wa, phone, "Cancel")
    still_opted_in(org, contact_id)


@pytest.mark.parametrize("name,kind", [("pywa_interactive_button_reply_with_bsuid.json", "button_reply"),
                                       ("pywa_interactive_list_reply_with_description.json", "list_reply")])
@pytest.mark.parametrize("title", ["STOP", "Cancel", "unsubscribe"])
def test_reply_button_and_list_row_titles_are_not_keywords(org, customer, name, kind, title):
    wa, phone, contact_id = customer
    payload = retarget(load_fixture(name), wa.phone_number_id, sender=digits(phone), user_id=unique("US.9"))
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message["interactive"][kind]["title"] = title
    send_whatsapp(org.cluster, wa, payload)
    _, msg = wait_message(org, message["id"])
    assert msg["text"] == title, msg
    still_opted_in(org, contact_id)


def test_what_the_customer_types_still_opts_out(org, customer):
    wa, phone, contact_id = customer
    stop = send_text(org.cluster, wa, "Cancel", sender=digits(phone))
    contact = wait_contact(org, contact_id, lambda c: c["optedIn"] is False, what="typed CANCEL")
    assert contact["optInSource"] == "keyword", contact
    assert consent_ledger(org, contact_id)[-1]["proof"]["messageId"] == stop["id"]


def test_the_templates_opt_out_button_opts_out_with_source_keyword(org, customer):
    wa, phone, contact_id = customer
    registered = assert_json(org.post(f"/channels/{wa.id}/templates", json=PROMO), 201)
    assert registered["components"][1]["buttons"][1]["optOut"] is True, registered
    tap(org, wa, phone, "Shop now")  # the other button of the same template
    still_opted_in(org, contact_id)
    wamid = tap(org, wa, phone, "Stop promotions")
    contact = wait_contact(org, contact_id, lambda c: c["optedIn"] is False, what="opt-out button")
    assert contact["optInSource"] == "keyword", contact
    last = consent_ledger(org, contact_id)[-1]
    assert (last["optedIn"], last["source"], last["proof"]["messageId"]) == (False, "keyword", wamid), last


def test_an_opt_out_button_of_another_channel_does_not_count(org, customer):
    wa, phone, contact_id = customer
    other = create_whatsapp_channel(org)
    assert_json(org.post(f"/channels/{other.id}/templates", json=PROMO), 201)
    tap(org, wa, phone, "Stop promotions")
    still_opted_in(org, contact_id)


@pytest.mark.parametrize("button", [
    {"type": "URL", "text": "Track", "url": "https://acme.test/t", "optOut": True},
    {"type": "QUICK_REPLY", "optOut": True},
    {"type": "QUICK_REPLY", "text": "Stop", "optOut": "yes"},
    {"type": "QUICK_REPLY", "text": "Stop", "optOut": 1},
])
def test_the_opt_out_flag_belongs_on_a_quick_reply_button(org, button):
    wa = create_whatsapp_channel(org)
    body = copy.deepcopy(PROMO)
    body["components"][1]["buttons"] = [button]
    assert_error(org.post(f"/channels/{wa.id}/templates", json=body), 400, "invalid_components")
