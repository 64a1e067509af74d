"""Channels (sandbox, WhatsApp Cloud, Twilio SMS) and agents over the REST API: CRUD, write-only secrets, admin-only
writes, tenant isolation. Each test works in a fresh organisation."""

import secrets

import pytest

from conftest import CODE_FORBIDDEN, assert_error, assert_json, assert_recent, assert_uuid7, parse_time, tick, unique
from inbound_helpers import (
    CHANNEL_FIELDS,
    MASK,
    assert_no_secret,
    create_twilio_channel,
    create_whatsapp_channel,
    encode,
    hub_signature,
    new_account_sid,
    new_phone_number_id,
    post_whatsapp,
    sandbox_channel,
    text_payload,
    twilio_channel_body,
    whatsapp_channel_body,
)

AGENT_FIELDS = {"id", "name", "email", "role", "createdAt", "updatedAt"}


def _agent_key(org, name="desk"):
    return assert_json(org.post("/api-keys", json={"name": name, "role": "agent"}), 201)["key"]


# ---------------------------------------------------------------------------------------------------------
# the sandbox channel


def test_every_org_has_one_sandbox_channel(org, other_org):
    listed = assert_json(org.get("/channels"), 200)
    assert set(listed) >= {"data"}
    assert len(listed["data"]) == 1, listed
    sb = listed["data"][0]
    assert set(sb) >= CHANNEL_FIELDS, f"channel fields: {sorted(sb)}"
    assert sb["kind"] == "sandbox" and sb["status"] == "active"
    assert_uuid7(sb["id"])
    assert assert_json(org.get(f"/channels/{sb['id']}"), 200)["id"] == sb["id"]

    theirs = sandbox_channel(other_org)
    assert theirs["id"] != sb["id"]
    assert_error(other_org.get(f"/channels/{sb['id']}"), 404, "channel_not_found")


def test_sandbox_channel_cannot_be_deleted(org):
    sb = sandbox_channel(org)
    assert_error(org.delete(f"/channels/{sb['id']}"), 409, "sandbox_channel")
    assert sandbox_channel(org)["id"] == sb["id"]
    assert assert_json(org.get(f"/channels/{sb['id']}"), 200)["kind"] == "sandbox"


# ---------------------------------------------------------------------------------------------------------
# WhatsApp Cloud channels


def test_create_whatsapp_channel_hides_secrets(org):
    body = whatsapp_channel_body(graphApiBaseUrl="https://graph.example.test", graphApiVersion="v22.0",
                                 messagesPerSecond=20)
    r = org.post("/channels", json=body)
    ch = assert_json(r, 201)
    assert set(ch) >= CHANNEL_FIELDS | {"phoneNumberId", "displayPhoneNumber", "businessAccountId", "accessToken",
                                        "appSecret", "graphApiBaseUrl", "graphApiVersion"}, sorted(ch)
    assert_uuid7(ch["id"])
    assert ch["kind"] == "whatsapp_cloud" and ch["name"] == body["name"] and ch["status"] == "active"
    assert ch["phoneNumberId"] == body["phoneNumberId"]
    assert ch["displayPhoneNumber"] == body["displayPhoneNumber"]
    assert ch["businessAccountId"] == body["businessAccountId"]
    assert ch["graphApiBaseUrl"] == "https://graph.example.test" and ch["graphApiVersion"] == "v22.0"
    assert ch["messagesPerSecond"] == 20
    assert ch["accessToken"] == MASK and ch["appSecret"] == MASK
    assert_recent(ch["createdAt"])
    secrets_sent = (body["accessToken"], body["appSecret"])
    assert_no_secret(r, *secrets_sent)

    for resp in (org.get(f"/channels/{ch['id']}"), org.get("/channels")):
        assert resp.status_code == 200, resp.text
        assert_no_secret(resp, *secrets_sent)
    got = assert_json(org.get(f"/channels/{ch['id']}"), 200)
    assert got["accessToken"] == MASK and got["appSecret"] == MASK
    assert got["phoneNumberId"] == body["phoneNumberId"]
    listed = assert_json(org.get("/channels"), 200)["data"]
    assert [c["kind"] for c in listed] == ["sandbox", "whatsapp_cloud"]  # oldest first
    assert listed[1]["id"] == ch["id"] and listed[1]["appSecret"] == MASK


def test_whatsapp_channel_defaults(org):
    pnid = new_phone_number_id()
    ch = assert_json(org.post("/channels", json={"kind": "whatsapp_cloud", "name": "Bare", "phoneNumberId": pnid}), 201)
    assert ch["phoneNumberId"] == pnid
    assert ch["graphApiBaseUrl"] == "https://graph.facebook.com"
    assert ch["graphApiVersion"] == "v21.0"
    assert ch["messagesPerSecond"] == 80
    assert ch["status"] == "active"
    # an unset secret is not reported as set
    assert ch.get("accessToken") != MASK and ch.get("appSecret") != MASK


def test_patch_whatsapp_channel_keeps_unsent_secrets_and_replaces_sent_ones(org):
    cluster = org.cluster
    wa = create_whatsapp_channel(org)

    r = org.patch(f"/channels/{wa.id}", json={"name": "Renamed", "displayPhoneNumber": "+1 555 010 0199"})
    p = assert_json(r, 200)
    assert p["name"] == "Renamed" and p["displayPhoneNumber"] == "+1 555 010 0199"
    assert p["appSecret"] == MASK and p["accessToken"] == MASK
    assert p["phoneNumberId"] == wa.phone_number_id
    assert parse_time(p["updatedAt"]) >= parse_time(wa.raw["updatedAt"])
    assert_no_secret(r, wa.app_secret, wa.access_token)

    # the secret that was not sent is still the one that checks signatures
    body = encode(text_payload(wa.phone_number_id, "still signed", sender="447700900001"))
    assert assert_json(post_whatsapp(cluster, body, hub_signature(wa.app_secret, body)), 200)["status"] == "accepted"

    new_secret = secrets.token_hex(16)
    r = org.patch(f"/channels/{wa.id}", json={"appSecret": new_secret})
    assert assert_json(r, 200)["appSecret"] == MASK
    assert_no_secret(r, new_secret, wa.app_secret)
    assert_no_secret(org.get(f"/channels/{wa.id}"), new_secret)
    assert_no_secret(org.get("/channels"), new_secret)

    body = encode(text_payload(wa.phone_number_id, "old secret", sender="447700900002"))
    assert_error(post_whatsapp(cluster, body, hub_signature(wa.app_secret, body)), 401, "invalid_signature")
    body = encode(text_payload(wa.phone_number_id, "new secret", sender="447700900003"))
    assert assert_json(post_whatsapp(cluster, body, hub_signature(new_secret, body)), 200)["status"] == "accepted"


def test_duplicate_phone_number_id_conflicts(org, other_org):
    wa = create_whatsapp_channel(org)
    again = whatsapp_channel_body(phoneNumberId=wa.phone_number_id)
    assert_error(org.post("/channels", json=again), 409, "channel_exists")
    # routing is by phone number id, so another organisation cannot connect the same number either
    assert_error(other_org.post("/channels", json=again), 409, "channel_exists")
    assert [c["kind"] for c in assert_json(other_org.get("/channels"), 200)["data"]] == ["sandbox"]
    assert len(assert_json(org.get("/channels"), 200)["data"]) == 2

    assert org.delete(f"/channels/{wa.id}").status_code == 204
    assert assert_json(other_org.post("/channels", json=again), 201)["phoneNumberId"] == wa.phone_number_id


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "whatsapp_cloud", "name": "no number"},
        {"kind": "fax", "name": "fax", "phoneNumberId": "123456789012345"},
        {"name": "no kind", "phoneNumberId": "123456789012346"},
        {"kind": "twilio_sms", "name": "no account", "authToken": "t", "fromNumber": "+14155550100"},
        {"kind": "whatsapp_cloud", "name": 7, "phoneNumberId": "123456789012347"},
    ],
    ids=["wa-without-phone-number-id", "unknown-kind", "no-kind", "twilio-without-account-sid", "name-not-a-string"],
)
def test_invalid_channel_is_400_and_creates_nothing(org, body):
    assert_error(org.post("/channels", json=body), 400)
    assert [c["kind"] for c in assert_json(org.get("/channels"), 200)["data"]] == ["sandbox"]


def test_wrongly_typed_field_names_it(org):
    body = whatsapp_channel_body(name=["not", "a", "string"])
    assert_error(org.post("/channels", json=body), 400, "invalid_field", field="name")


def test_delete_whatsapp_channel(org):
    wa = create_whatsapp_channel(org)
    r = org.delete(f"/channels/{wa.id}")
    assert r.status_code == 204, r.text
    assert_error(org.get(f"/channels/{wa.id}"), 404, "channel_not_found")
    assert_error(org.patch(f"/channels/{wa.id}", json={"name": "x"}), 404, "channel_not_found")
    assert_error(org.delete(f"/channels/{wa.id}"), 404, "channel_not_found")
    assert [c["kind"] for c in assert_json(org.get("/channels"), 200)["data"]] == ["sandbox"]


def test_other_orgs_channel_is_404(org, other_org):
    wa = create_whatsapp_channel(org)
    tw = create_twilio_channel(org)
    for ch_id in (wa.id, tw.id):
        assert_error(other_org.get(f"/channels/{ch_id}"), 404, "channel_not_found")
        assert_error(other_org.patch(f"/channels/{ch_id}", json={"name": "stolen"}), 404, "channel_not_found")
        assert_error(other_org.delete(f"/channels/{ch_id}"), 404, "channel_not_found")
        assert assert_json(org.get(f"/channels/{ch_id}"), 200)["name"] != "stolen"
    assert [c["kind"] for c in assert_json(other_org.get("/channels"), 200)["data"]] == ["sandbox"]


def test_agent_key_cannot_write_channels(org):
    agent_key = _agent_key(org)
    call = org.cluster.request
    assert_error(call("POST", "/channels", key=agent_key, json=whatsapp_channel_body()), 403, CODE_FORBIDDEN)
    assert_error(call("POST", "/channels", key=agent_key, json=twilio_channel_body()), 403, CODE_FORBIDDEN)
    wa = create_whatsapp_channel(org)
    assert_error(call("PATCH", f"/channels/{wa.id}", key=agent_key, json={"name": "agent was here"}), 403,
                 CODE_FORBIDDEN)
    listed = assert_json(org.get("/channels"), 200)["data"]
    assert [c["kind"] for c in listed] == ["sandbox", "whatsapp_cloud"]
    assert listed[1]["name"] == wa.raw["name"]


# ---------------------------------------------------------------------------------------------------------
# Twilio SMS channels


def test_create_twilio_channel_hides_auth_token(org):
    cluster = org.cluster
    body = twilio_channel_body()
    r = org.post("/channels", json=body)
    ch = assert_json(r, 201)
    assert set(ch) >= CHANNEL_FIELDS | {"accountSid", "authToken", "fromNumber", "apiBaseUrl"}, sorted(ch)
    assert ch["kind"] == "twilio_sms" and ch["status"] == "active"
    assert ch["accountSid"] == body["accountSid"] and ch["fromNumber"] == body["fromNumber"]
    assert ch["authToken"] == MASK
    assert ch["apiBaseUrl"] == "https://api.twilio.com"
    # the public URL Twilio signs: by default edge's own address
    assert ch["webhookUrl"] == f"{cluster.base_url}/webhooks/twilio/{ch['id']}"
    assert_no_secret(r, body["authToken"])
    assert_no_secret(org.get(f"/channels/{ch['id']}"), body["authToken"])
    assert_no_secret(org.get("/channels"), body["authToken"])

    r = org.patch(f"/channels/{ch['id']}", json={"webhookUrl": "https://hooks.example.test/twilio/x",
                                                 "authToken": "rotated-" + secrets.token_hex(8)})
    p = assert_json(r, 200)
    assert p["webhookUrl"] == "https://hooks.example.test/twilio/x"
    assert p["authToken"] == MASK and p["accountSid"] == body["accountSid"]
    assert "rotated-" not in r.text
    assert "rotated-" not in org.get(f"/channels/{ch['id']}").text


def test_twilio_channel_with_messaging_service(org):
    body = {"kind": "twilio_sms", "name": unique("MG "), "accountSid": new_account_sid(), "authToken": "tok",
            "messagingServiceSid": "MG" + secrets.token_hex(16)}
    ch = assert_json(org.post("/channels", json=body), 201)
    assert ch["messagingServiceSid"] == body["messagingServiceSid"]
    assert ch["authToken"] == MASK


# ---------------------------------------------------------------------------------------------------------
# agents


def test_agents_crud(org):
    a = assert_json(org.post("/agents", json={"name": "Ana Agent", "email": "ana@example.com", "role": "agent"}), 201)
    tick()
    assert set(a) >= AGENT_FIELDS, sorted(a)
    assert_uuid7(a["id"])
    assert (a["name"], a["email"], a["role"]) == ("Ana Agent", "ana@example.com", "agent")
    assert_recent(a["createdAt"])
    b = assert_json(org.post("/agents", json={"name": "Bo Boss", "email": "bo@example.com", "role": "admin"}), 201)

    assert assert_json(org.get("/agents"), 200)["data"] == [a, b]  # oldest first
    assert assert_json(org.get(f"/agents/{a['id']}"), 200) == a

    p = assert_json(org.patch(f"/agents/{a['id']}", json={"name": "Ana Lead", "role": "admin"}), 200)
    assert (p["name"], p["role"], p["email"]) == ("Ana Lead", "admin", "ana@example.com")
    assert parse_time(p["updatedAt"]) >= parse_time(a["updatedAt"])

    assert_error(org.post("/agents", json={"name": "Dup", "email": "ana@example.com", "role": "agent"}), 409,
                 "agent_exists")
    assert_error(org.post("/agents", json={"name": "Bad", "email": "c@example.com", "role": "boss"}), 400)

    d = org.delete(f"/agents/{a['id']}")
    assert d.status_code == 204, d.text
    assert_error(org.get(f"/agents/{a['id']}"), 404, "agent_not_found")
    assert_error(org.patch(f"/agents/{a['id']}", json={"name": "x"}), 404, "agent_not_found")
    assert_error(org.delete(f"/agents/{a['id']}"), 404, "agent_not_found")
    assert [x["id"] for x in assert_json(org.get("/agents"), 200)["data"]] == [b["id"]]


def test_same_agent_email_in_two_orgs_is_fine(org, other_org):
    body = {"name": "Shared", "email": "shared@example.com", "role": "agent"}
    a = assert_json(org.post("/agents", json=body), 201)
    b = assert_json(other_org.post("/agents", json=body), 201)
    assert a["id"] != b["id"]


def test_agent_key_cannot_manage_agents(org):
    a = assert_json(org.post("/agents", json={"name": "Solo", "email": "solo@example.com", "role": "agent"}), 201)
    agent_key = _agent_key(org)
    call = org.cluster.request
    assert_error(call("POST", "/agents", key=agent_key, json={"name": "Me", "email": "me@example.com",
                                                               "role": "admin"}), 403, CODE_FORBIDDEN)
    assert_error(call("PATCH", f"/agents/{a['id']}", key=agent_key, json={"role": "admin"}), 403, CODE_FORBIDDEN)
    agents = assert_json(org.get("/agents"), 200)["data"]
    assert [(x["id"], x["role"]) for x in agents] == [(a["id"], "agent")]


def test_agent_key_cannot_see_or_manage_api_keys(org):
    agent_key = _agent_key(org)
    call = org.cluster.request
    assert_error(call("GET", "/api-keys", key=agent_key), 403, CODE_FORBIDDEN)
    assert_error(call("POST", "/api-keys", key=agent_key, json={"name": "mine", "role": "agent"}), 403, CODE_FORBIDDEN)
    keys = assert_json(org.get("/api-keys"), 200)["data"]
    mine = [k for k in keys if k["name"] == "desk"]
    assert len(mine) == 1 and mine[0]["role"] == "agent"
    assert_error(call("DELETE", f"/api-keys/{mine[0]['id']}", key=agent_key), 403, CODE_FORBIDDEN)


def test_other_orgs_agent_is_404(org, other_org):
    a = assert_json(org.post("/agents", json={"name": "Mine", "email": "mine@example.com", "role": "agent"}), 201)
    assert_error(other_org.get(f"/agents/{a['id']}"), 404, "agent_not_found")
    assert_error(other_org.patch(f"/agents/{a['id']}", json={"name": "theirs"}), 404, "agent_not_found")
    assert_error(other_org.delete(f"/agents/{a['id']}"), 404, "agent_not_found")
    assert assert_json(other_org.get("/agents"), 200)["data"] == []
    assert assert_json(org.get(f"/agents/{a['id']}"), 200)["name"] == "Mine"


def test_api_key_for_an_agent(org):
    a = assert_json(org.post("/agents", json={"name": "Keyed", "email": "keyed@example.com", "role": "agent"}), 201)
    k = assert_json(org.post("/api-keys", json={"name": "keyed desk", "role": "agent", "agentId": a["id"]}), 201)
    assert k["role"] == "agent" and k["key"]
    assert org.cluster.request("GET", "/org", key=k["key"]).status_code == 200
    listed = assert_json(org.get("/api-keys"), 200)["data"]
    assert any(e["id"] == k["id"] and e["role"] == "agent" for e in listed)
