"""Authentication, tenant isolation, request validation and API keys, seen from outside. No request here may
make edge answer a 5xx (the autouse fixture in conftest checks every response)."""

import json
import math
import random
import re
import subprocess
import time

import pytest
import requests

from conftest import (
    CODE_API_KEY_NOT_FOUND,
    CODE_FORBIDDEN,
    CODE_IMPORT_NOT_FOUND,
    assert_error,
    assert_json,
    assert_recent,
    assert_uuid7,
    rand_phone,
    unique,
)

# ---------------------------------------------------------------------------------------------------------
# authentication


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer sbk_this-key-does-not-exist-0123456789abcdef"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "sbk_no_scheme"},
    ],
    ids=["none", "empty-bearer", "blank-bearer", "unknown-key", "basic", "no-scheme"],
)
def test_missing_or_bad_key_is_401(cluster, headers):
    for method, path in [("GET", "/contacts"), ("POST", "/contacts"), ("GET", "/org"), ("GET", "/tags"),
                         ("DELETE", "/api-keys/01900000-0000-7000-8000-000000000000")]:
        body = {"phone": rand_phone()} if method == "POST" else None
        r = cluster.request(method, path, key=None, headers=headers, json=body)
        assert_error(r, 401, "unauthorized")


def test_401_with_plain_curl(cluster):
    out = subprocess.run(
        ["curl", "-sS", "-w", "\n%{http_code}", cluster.url("/contacts")], capture_output=True, text=True, timeout=30
    )
    body, _, status = out.stdout.rpartition("\n")
    assert status == "401", out.stdout
    assert json.loads(body)["error"]["code"] == "unauthorized"


def test_api_key_on_operator_routes_and_operator_key_on_api_routes(cluster, org):
    for key in (None, cluster.api_key, org.key, "op_wrong"):
        assert_error(cluster.admin("GET", "/api/admin/orgs", key=key), 401, "unauthorized")
        assert_error(cluster.admin("POST", "/api/admin/orgs", key=key, json={"name": "Sneaky"}), 401, "unauthorized")
    orgs = assert_json(cluster.admin("GET", "/api/admin/orgs"), 200)["data"]
    assert "Sneaky" not in [o["name"] for o in orgs]
    assert org.id in [o["id"] for o in orgs]
    # the operator key is not an API key
    assert_error(cluster.request("GET", "/contacts", key=cluster.operator_key), 401, "unauthorized")


# ---------------------------------------------------------------------------------------------------------
# organisations


def test_org_creation_answers_a_working_admin_key_isolated_from_other_orgs(cluster):
    marker = unique("Hidden ")
    assert_json(cluster.api("POST", "/contacts", json={"phone": rand_phone(), "name": marker, "tags": ["secret"]}),
                201)

    r = cluster.admin("POST", "/api/admin/orgs", json={"name": "Acme Paris", "timeZone": "Europe/Paris"})
    body = assert_json(r, 201)
    assert set(body) == {"org", "apiKey"}
    o, k = body["org"], body["apiKey"]
    assert_uuid7(o["id"])
    assert (o["name"], o["timeZone"]) == ("Acme Paris", "Europe/Paris")
    assert_recent(o["createdAt"])
    assert set(k) >= {"id", "key", "prefix", "name", "role", "createdAt"} and k["role"] == "admin"
    assert k["key"].startswith(k["prefix"])

    me = assert_json(cluster.request("GET", "/org", key=k["key"]), 200)
    assert me == o
    for path in ("/contacts", "/auto-tag-rules", "/contacts/imports", "/tags"):
        assert assert_json(cluster.request("GET", path, key=k["key"]), 200)["data"] == [], path
    assert assert_json(cluster.request("GET", "/contacts", key=k["key"], params={"q": marker}), 200)["data"] == []
    keys = assert_json(cluster.request("GET", "/api-keys", key=k["key"]), 200)["data"]
    assert [x["id"] for x in keys] == [k["id"]]

    # and the default org does not see the new org's data
    c = assert_json(cluster.request("POST", "/contacts", key=k["key"], json={"phone": rand_phone(), "name": marker}),
                    201)
    found = assert_json(cluster.api("GET", "/contacts", params={"q": marker}), 200)["data"]
    assert c["id"] not in [x["id"] for x in found] and len(found) == 1

    listed = assert_json(cluster.admin("GET", "/api/admin/orgs"), 200)["data"]
    assert o in listed


def test_org_time_zone_defaults_to_utc_and_is_validated(cluster):
    o = assert_json(cluster.admin("POST", "/api/admin/orgs", json={"name": "Default TZ"}), 201)["org"]
    assert o["timeZone"] == "UTC"
    before = len(assert_json(cluster.admin("GET", "/api/admin/orgs"), 200)["data"])
    for tz in ("Mars/Olympus_Mons", "Not/A_Zone", "Europe/Nowhere"):
        assert_error(cluster.admin("POST", "/api/admin/orgs", json={"name": "Bad TZ", "timeZone": tz}), 400,
                     "invalid_time_zone")
    assert len(assert_json(cluster.admin("GET", "/api/admin/orgs"), 200)["data"]) == before


# ---------------------------------------------------------------------------------------------------------
# tenant isolation


def test_other_orgs_contact_is_not_found(org, other_org):
    c = org.create_contact(name="Private", tags=["mine"], optedIn=True)
    cid = c["id"]
    audit_before = org.list_all(f"/contacts/{cid}/audit")
    consent_before = assert_json(org.get(f"/contacts/{cid}/consent"), 200)
    b = other_org
    assert_error(b.get(f"/contacts/{cid}"), 404, "contact_not_found")
    assert_error(b.patch(f"/contacts/{cid}", json={"name": "Stolen"}), 404, "contact_not_found")
    assert_error(b.delete(f"/contacts/{cid}"), 404, "contact_not_found")
    assert_error(b.post(f"/contacts/{cid}/tags", json={"tags": ["pwned"]}), 404, "contact_not_found")
    assert_error(b.delete(f"/contacts/{cid}/tags/mine"), 404, "contact_not_found")
    assert_error(b.get(f"/contacts/{cid}/audit"), 404, "contact_not_found")
    assert_error(b.get(f"/contacts/{cid}/consent"), 404, "contact_not_found")
    assert_error(b.post(f"/contacts/{cid}/consent", json={"optedIn": False}), 404, "contact_not_found")
    # same answer as for an id that never existed
    ghost = "01900000-0000-7000-8000-000000000000"
    assert_error(b.get(f"/contacts/{ghost}"), 404, "contact_not_found")

    # the same phone is free in the other org: identities are per org
    assert assert_json(b.post("/contacts", json={"phone": c["phone"]}), 201)["id"] != cid
    assert b.list_all("/contacts", {"q": "Private"}) == []

    assert assert_json(org.get(f"/contacts/{cid}"), 200) == c
    assert org.list_all(f"/contacts/{cid}/audit") == audit_before
    assert assert_json(org.get(f"/contacts/{cid}/consent"), 200) == consent_before


def test_other_orgs_rules_imports_and_keys_are_not_found(org, other_org):
    rule = assert_json(org.post("/auto-tag-rules", json={"matchType": "exact", "keyword": "hi", "tag": "x"}), 201)
    assert_error(other_org.get(f"/auto-tag-rules/{rule['id']}"), 404, "rule_not_found")
    assert_error(other_org.patch(f"/auto-tag-rules/{rule['id']}", json={"enabled": False}), 404, "rule_not_found")
    assert_error(other_org.delete(f"/auto-tag-rules/{rule['id']}"), 404, "rule_not_found")
    assert assert_json(other_org.post("/auto-tag-rules/evaluate", json={"text": "hi"}), 200)["tags"] == []

    job = assert_json(org.upload_csv(b"phone,name\n+14155550000,X\n"), 201)
    assert_error(other_org.get(f"/contacts/imports/{job['id']}"), 404, CODE_IMPORT_NOT_FOUND)
    assert_error(other_org.post(f"/contacts/imports/{job['id']}/confirm", json={}), 404, CODE_IMPORT_NOT_FOUND)
    assert_error(other_org.get(f"/contacts/imports/{job['id']}/errors"), 404, CODE_IMPORT_NOT_FOUND)
    assert assert_json(org.get(f"/contacts/imports/{job['id']}"), 200)["status"] == "uploaded"
    assert other_org.list_all("/contacts/imports") == []

    assert_error(other_org.delete(f"/api-keys/{org.key_id}"), 404, CODE_API_KEY_NOT_FOUND)
    assert assert_json(org.get("/org"), 200)["id"] == org.id  # org's key still works


# ---------------------------------------------------------------------------------------------------------
# request bodies


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"phone"', b"null", b"\xff\xfe{}", b'{"phone": "+1'])
def test_bad_json_is_400(org, raw):
    r = org.post("/contacts", data=raw, headers={"Content-Type": "application/json"})
    assert_error(r, 400, "invalid_json")


@pytest.mark.parametrize(
    "field, value",
    [("tags", "vip"), ("optedIn", "yes"), ("phone", 123), ("name", 42), ("email", ["a@b.c"]), ("tags", {"a": 1}),
     ("optedIn", 1), ("whatsappUserId", False)],
)
def test_wrong_type_is_invalid_field(org, field, value):
    body = {"phone": rand_phone(), "name": "Typed"}
    body[field] = value
    assert_error(org.post("/contacts", json=body), 400, "invalid_field", field=field)
    c = org.create_contact(name="Target")
    assert_error(org.patch(f"/contacts/{c['id']}", json={field: value}), 400, "invalid_field", field=field)
    assert org.list_all("/contacts") == [c]


def test_unknown_field(org):
    assert_error(org.post("/contacts", json={"phone": rand_phone(), "nickname": "JD"}), 400, "unknown_field",
                 field="nickname")
    c = org.create_contact()
    assert_error(org.patch(f"/contacts/{c['id']}", json={"optIn": True}), 400, "unknown_field", field="optIn")
    assert_error(org.post("/auto-tag-rules", json={"matchType": "exact", "keyword": "a", "tag": "b", "x": 1}), 400,
                 "unknown_field", field="x")
    assert org.list_all("/contacts") == [c]


@pytest.mark.parametrize("phone", ["abc", "+0123456", "+1234567890123456", "+1", "+44 20 ABCD", "+44-20-7946-095x"])
def test_invalid_phone_creates_nothing(org, phone):
    assert_error(org.post("/contacts", json={"phone": phone, "name": "Bad Phone"}), 400, "invalid_phone")
    assert org.list_all("/contacts") == []


@pytest.mark.parametrize("email", ["not-an-email", "a@", "@example.com", "a b@example.com", "a@@example.com"])
def test_invalid_email_creates_nothing(org, email):
    assert_error(org.post("/contacts", json={"phone": rand_phone(), "email": email}), 400, "invalid_email")
    assert org.list_all("/contacts") == []


def test_oversized_body_is_413(org):
    body = json.dumps({"phone": rand_phone(), "name": "x" * (1024 * 1024 + 10)})
    with requests.Session() as s:  # edge may close this connection: keep it off the shared session
        r = s.post(org.cluster.url("/contacts"), data=body, timeout=60,
                   headers={"Authorization": f"Bearer {org.key}", "Content-Type": "application/json"})
    assert_error(r, 413, "payload_too_large")
    assert org.list_all("/contacts") == []
    ok = org.post("/contacts", json={"phone": rand_phone(), "attributes": {"blob": "y" * 1000}})
    assert ok.status_code == 201, ok.text


# ---------------------------------------------------------------------------------------------------------
# query parameters


@pytest.mark.parametrize(
    "path, params, code, parameter",
    [
        ("/contacts", {"limit": "abc"}, "invalid_query", "limit"),
        ("/contacts", {"limit": "0"}, "invalid_query", "limit"),
        ("/contacts", {"limit": "-1"}, "invalid_query", "limit"),
        ("/contacts", {"limit": "201"}, "invalid_query", "limit"),
        ("/contacts", {"limit": "1000"}, "invalid_query", "limit"),
        ("/contacts", {"limit": "1.5"}, "invalid_query", "limit"),
        ("/contacts", {"optedIn": "maybe"}, "invalid_query", "optedIn"),
        ("/contacts", {"cursor": "garbage"}, "invalid_cursor", None),
        ("/contacts", {"cursor": "eyJub3QiOiJhIGN1cnNvciJ9"}, "invalid_cursor", None),
        ("/contacts/imports", {"limit": "abc"}, "invalid_query", "limit"),
        ("/contacts/imports", {"cursor": "%%%"}, "invalid_cursor", None),
    ],
)
def test_bad_query_parameters(org, path, params, code, parameter):
    err = assert_error(org.get(path, params=params), 400, code)
    if parameter:
        assert err["details"].get("parameter") == parameter, err


def test_bad_query_on_audit(org):
    c = org.create_contact()
    assert_error(org.get(f"/contacts/{c['id']}/audit", params={"limit": "0"}), 400, "invalid_query", parameter="limit")
    assert_error(org.get(f"/contacts/{c['id']}/audit", params={"cursor": "garbage"}), 400, "invalid_cursor")


def test_limit_bounds_are_accepted(org):
    for limit in ("1", "200"):
        assert assert_json(org.get("/contacts", params={"limit": limit}), 200)["data"] == []


# ---------------------------------------------------------------------------------------------------------
# API keys


def _entropy_bits(secret: str) -> float:
    chars = set(secret)
    if chars <= set("0123456789abcdef") or chars <= set("0123456789ABCDEF"):
        alphabet = 16
    elif chars <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") or chars <= set("abcdefghijklmnopqrstuvwxyz234567"):
        alphabet = 32
    else:
        alphabet = 62
    return len(secret) * math.log2(alphabet)


def test_api_key_lifecycle(org):
    r = org.post("/api-keys", json={"name": "ci bot", "role": "admin"})
    k = assert_json(r, 201)
    assert set(k) == {"id", "key", "prefix", "name", "role", "createdAt", "agentId"}
    assert_uuid7(k["id"])
    assert (k["name"], k["role"]) == ("ci bot", "admin")
    assert_recent(k["createdAt"])
    key, prefix = k["key"], k["prefix"]
    assert prefix and key.startswith(prefix) and len(key) - len(prefix) >= 16, (key, prefix)
    secret = re.sub(r"^(?:[A-Za-z]{1,8}_)+", "", key)  # a constant label such as `sbk_` carries no entropy
    assert _entropy_bits(secret) >= 128, f"key {key!r} looks shorter than 128 random bits"
    other = assert_json(org.post("/api-keys", json={"name": "second", "role": "admin"}), 201)
    assert other["key"] != key and other["key"][-16:] != key[-16:]

    listing = org.get("/api-keys")
    keys = assert_json(listing, 200)["data"]
    assert key not in listing.text and other["key"] not in listing.text, "the list must never show a full key"
    entry = next(e for e in keys if e["id"] == k["id"])
    assert set(entry) == {"id", "prefix", "name", "role", "createdAt", "lastUsedAt", "revokedAt", "agentId"}
    assert entry["prefix"] == prefix and entry["lastUsedAt"] is None and entry["revokedAt"] is None
    assert {e["id"] for e in keys} == {org.key_id, k["id"], other["id"]}

    assert assert_json(org.cluster.request("GET", "/org", key=key), 200)["id"] == org.id
    deadline = time.monotonic() + 30
    while True:
        entry = next(e for e in assert_json(org.get("/api-keys"), 200)["data"] if e["id"] == k["id"])
        if entry["lastUsedAt"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert entry["lastUsedAt"] is not None, "lastUsedAt stays null after the key was used"
    assert_recent(entry["lastUsedAt"])

    d = org.delete(f"/api-keys/{k['id']}")
    assert d.status_code == 204, d.text
    assert_error(org.cluster.request("GET", "/org", key=key), 401, "unauthorized")
    assert_error(org.cluster.request("GET", "/contacts", key=key), 401, "unauthorized")
    entry = next(e for e in assert_json(org.get("/api-keys"), 200)["data"] if e["id"] == k["id"])
    assert_recent(entry["revokedAt"])
    # the other keys keep working
    assert org.cluster.request("GET", "/org", key=other["key"]).status_code == 200
    assert_error(org.delete("/api-keys/01900000-0000-7000-8000-000000000000"), 404, CODE_API_KEY_NOT_FOUND)


def test_agent_key_cannot_manage_keys(org):
    agent = assert_json(org.post("/api-keys", json={"name": "agent desk", "role": "agent"}), 201)
    assert agent["role"] == "agent"
    as_agent = org.cluster.request
    assert_error(as_agent("POST", "/api-keys", key=agent["key"], json={"name": "escalate", "role": "admin"}), 403,
                 CODE_FORBIDDEN)
    assert_error(as_agent("DELETE", f"/api-keys/{org.key_id}", key=agent["key"]), 403, CODE_FORBIDDEN)
    names = [e["name"] for e in assert_json(org.get("/api-keys"), 200)["data"]]
    assert "escalate" not in names
    assert org.get("/org").status_code == 200  # the admin key was not revoked
    # agents still work with contacts
    c = assert_json(as_agent("POST", "/contacts", key=agent["key"], json={"phone": rand_phone()}), 201)
    assert assert_json(as_agent("GET", f"/contacts/{c['id']}", key=agent["key"]), 200)["id"] == c["id"]


def test_api_key_validation(org):
    assert_error(org.post("/api-keys", json={"name": "x", "role": "root"}), 400)
    assert_error(org.post("/api-keys", json={"role": "admin", "name": 7}), 400, "invalid_field", field="name")


# ---------------------------------------------------------------------------------------------------------
# never a 500


def _random_json(rng: random.Random, depth: int = 0):
    kind = rng.randrange(10 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 2**63, -(2**64), 10**30, 1.5, 1e308, -0.0])
    if kind == 3:
        return "".join(chr(rng.choice([0, 9, 10, 34, 92, 0x7F, 0xE9, 0x202E, 0x1F600, 0xFEFF, 65 + rng.randrange(26)]))
                       for _ in range(rng.randrange(0, 12)))
    if kind == 4:
        return rng.choice(["", "+919876543210", "0091 98765-43210", "a@b.co", "vip", "=cmd|' /C calc'!A0", "x" * 5000])
    if kind == 5:
        return rng.choice(["exact", "contains", "startsWith", "agent", "api", "true"])
    if kind in (6, 7):
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    keys = ["phone", "name", "email", "tags", "optedIn", "attributes", "whatsappUserId", "whatsappUsername", "text",
            "matchType", "keyword", "tag", "enabled", "source", "note", "mapping", "role", "timeZone", "", "__proto__"]
    return {rng.choice(keys): _random_json(rng, depth + 1) for _ in range(rng.randrange(0, 6))}


def test_fuzz_bodies_never_5xx(org):
    rng = random.Random(20261125)
    c = org.create_contact(name="Fuzz target")
    rule = assert_json(org.post("/auto-tag-rules", json={"matchType": "exact", "keyword": "k", "tag": "t"}), 201)
    job = assert_json(org.upload_csv(b"phone,name\n+14155550199,F\n"), 201)
    targets = [
        ("POST", "/contacts"), ("POST", "/contacts?upsert=true"), ("PATCH", f"/contacts/{c['id']}"),
        ("POST", f"/contacts/{c['id']}/tags"), ("POST", f"/contacts/{c['id']}/consent"),
        ("POST", "/auto-tag-rules"), ("PATCH", f"/auto-tag-rules/{rule['id']}"), ("POST", "/auto-tag-rules/evaluate"),
        ("POST", "/api-keys"), ("POST", f"/contacts/imports/{job['id']}/confirm"),
    ]
    failures = []
    for i in range(240):
        method, path = targets[i % len(targets)]
        if rng.random() < 0.2:
            data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64)))
        elif rng.random() < 0.1:
            data = ("[" * 2000 + "]" * 2000).encode()
        else:
            data = json.dumps(_random_json(rng)).encode()
        r = org.api(method, path, data=data, headers={"Content-Type": "application/json"})
        if r.status_code >= 500:
            failures.append((method, path, data[:200], r.status_code, r.text[:200]))
        elif r.status_code >= 400:
            assert_error(r, r.status_code)
    for path in ("/contacts/" + "a" * 3000, "/contacts/..%2F..%2Fetc", "/contacts/%00", "/contacts/imports/%ff",
                 "/auto-tag-rules/' OR 1=1 --", "/contacts/" + c["id"] + "/tags/%20"):
        for method in ("GET", "PATCH", "DELETE"):
            r = org.api(method, path, json={})
            if r.status_code >= 500:
                failures.append((method, path, b"{}", r.status_code, r.text[:200]))
    assert not failures, failures
    assert assert_json(org.get(f"/contacts/{c['id']}"), 200)["id"] == c["id"]
