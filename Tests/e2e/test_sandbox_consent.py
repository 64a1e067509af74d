"""The sandbox cannot fabricate customer consent: its message ids always carry `sandbox.`, only admin keys may
simulate a customer, an admin can turn the sandbox off for the org, and consent a simulated message causes says
in its proof (and so in the consent ledger) that it came from the sandbox."""

from __future__ import annotations

import json

from conftest import CODE_FORBIDDEN, assert_error, assert_json, rand_phone
from inbound_helpers import consent_ledger, sandbox_inbound, wait_contact, wait_for, wait_message

FAKE_WAMID = "wamid.HBgLMTIxMjU1NTAxMDAVAgASGBQzQTk5RjBBMUY0QjdGNDU1QzAA"


def agent_key(org) -> str:
    return assert_json(org.post("/api-keys", json={"name": "desk", "role": "agent"}), 201)["key"]


def test_sandbox_message_ids_always_carry_the_sandbox_prefix(org):
    given = sandbox_inbound(org, "hello", phone=rand_phone(), message_id=FAKE_WAMID)
    assert given["messageId"] == "sandbox." + FAKE_WAMID, given
    _, msg = wait_message(org, given["messageId"])
    assert msg["providerMessageId"] == "sandbox." + FAKE_WAMID, msg
    generated = sandbox_inbound(org, "hello again", phone=rand_phone(), message_id=False)
    assert generated["messageId"].startswith("sandbox."), generated
    kept = sandbox_inbound(org, "and again", phone=rand_phone(), message_id="sandbox.mine-1")
    assert kept["messageId"] == "sandbox.mine-1", kept


def test_only_admin_keys_may_simulate_a_customer(org):
    key = agent_key(org)
    phone = rand_phone()
    r = org.post("/sandbox/inbound", json={"from": phone, "text": "START"}, key=key)
    assert_error(r, 403, CODE_FORBIDDEN)
    assert assert_json(org.get("/contacts", params={"q": phone}), 200)["data"] == []


def test_an_admin_can_turn_the_sandbox_off_and_on(org):
    assert assert_json(org.get("/org"), 200)["sandboxEnabled"] is True
    assert_error(org.patch("/org", json={"sandboxEnabled": False}, key=agent_key(org)), 403, CODE_FORBIDDEN)
    assert_error(org.patch("/org", json={"sandboxEnabled": "no"}), 400)
    assert_error(org.patch("/org", json={"name": "x"}), 400)
    off = assert_json(org.patch("/org", json={"sandboxEnabled": False}), 200)
    assert off["sandboxEnabled"] is False and off["id"] == org.id
    assert assert_json(org.get("/org"), 200)["sandboxEnabled"] is False
    listed = assert_json(org.cluster.admin("GET", "/api/admin/orgs"), 200)["data"]
    assert [o["sandboxEnabled"] for o in listed if o["id"] == org.id] == [False]
    phone = rand_phone()
    assert_error(org.post("/sandbox/inbound", json={"from": phone, "text": "hi"}), 409, "sandbox_disabled")
    assert assert_json(org.get("/contacts", params={"q": phone}), 200)["data"] == []
    on = assert_json(org.patch("/org", json={"sandboxEnabled": True}), 200)
    assert on["sandboxEnabled"] is True
    sandbox_inbound(org, "hi", phone=phone)


def test_the_off_switch_is_per_org(org, other_org):
    assert_json(org.patch("/org", json={"sandboxEnabled": False}), 200)
    assert assert_json(other_org.get("/org"), 200)["sandboxEnabled"] is True
    sandbox_inbound(other_org, "hello", phone=rand_phone())


def test_consent_from_a_sandbox_message_says_it_came_from_the_sandbox(org):
    phone = rand_phone()
    contact = assert_json(org.post("/contacts", json={"phone": phone, "optedIn": True}), 201)
    assert_json(org.post(f"/contacts/{contact['id']}/consent", json={"optedIn": False}), 200)
    sandbox_inbound(org, "START", phone=phone, message_id=FAKE_WAMID)
    opted = wait_contact(org, contact["id"], lambda c: c["optedIn"], what="opted back in")
    proof = opted["optInProof"]
    assert opted["optInSource"] == "keyword", opted
    assert proof["messageId"] == "sandbox." + FAKE_WAMID, proof
    assert proof["note"] and "sandbox" in proof["note"], proof
    latest = consent_ledger(org, contact["id"])[-1]
    assert latest["optedIn"] is True and "sandbox" in (latest["proof"]["note"] or ""), latest

    def sandbox_consent_on_timeline():
        items = assert_json(org.get(f"/contacts/{contact['id']}/timeline", params={"kind": "consent"}), 200)["data"]
        return [i for i in items if "sandbox: a simulated message" in json.dumps(i["details"])] or None

    wait_for(sandbox_consent_on_timeline, what="the sandbox opt-in on the contact's timeline")
