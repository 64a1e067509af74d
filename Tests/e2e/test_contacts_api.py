"""Contacts over the public REST API: create as the product documents, identities, search, paging, tags,
consent ledger, audit trail and auto-tag rules. Each test works in a fresh organisation."""

import json
import subprocess

import pytest

from conftest import (
    PRODUCT_SAMPLE_CSV,
    assert_error,
    assert_json,
    assert_recent,
    assert_uuid7,
    parse_time,
    rand_phone,
    tick,
    unique,
)

DOCUMENTED_BODY = {"phone": "+919876543210", "name": "John Doe", "optedIn": True, "tags": ["customer"]}
CONTACT_FIELDS = {
    "id", "phone", "whatsappUserId", "whatsappUsername", "name", "email", "tags", "attributes", "optedIn",
    "optInSource", "optInProof", "createdAt", "updatedAt",
}


def test_create_contact_as_documented(org):
    r = org.post("/contacts", json=DOCUMENTED_BODY)
    c = assert_json(r, 201)
    assert set(c) == CONTACT_FIELDS, f"contact fields: {sorted(c)}"
    assert_uuid7(c["id"])
    assert c["phone"] == "+919876543210"
    assert c["name"] == "John Doe"
    assert c["email"] is None
    assert c["whatsappUserId"] is None and c["whatsappUsername"] is None
    assert c["tags"] == ["customer"]
    assert c["attributes"] == {}
    assert c["optedIn"] is True
    assert c["optInSource"] == "api"
    proof = c["optInProof"]
    assert set(proof) >= {"timestamp", "actor", "importJobId", "messageId", "note"}, proof
    assert_recent(proof["timestamp"])
    assert proof["actor"]["kind"] == "api_key" and proof["actor"]["id"] == org.key_id, proof
    assert proof["importJobId"] is None and proof["messageId"] is None
    created = assert_recent(c["createdAt"])
    assert parse_time(c["updatedAt"]) >= created

    got = assert_json(org.get(f"/contacts/{c['id']}"), 200)
    assert got == c


@pytest.mark.parametrize(
    "raw, e164",
    [
        ("0091 98765-43210", "+919876543210"),
        ("+91 98765 43210", "+919876543210"),
        ("+1 (212) 555-1234", "+12125551234"),
        ("  +442079460958 ", "+442079460958"),
    ],
)
def test_phone_is_normalised_to_e164(org, raw, e164):
    c = assert_json(org.post("/contacts", json={"phone": raw, "name": "Norm"}), 201)
    assert c["phone"] == e164
    # the normalised number is the identity: another spelling of it is the same contact
    assert_error(org.post("/contacts", json={"phone": e164}), 409, "contact_exists", contactId=c["id"])


def test_contact_without_opt_in_has_no_consent(org):
    c = org.create_contact(name="Quiet")
    assert c["optedIn"] is False
    assert c["optInSource"] is None and c["optInProof"] is None
    assert c["tags"] == [] and c["attributes"] == {}


def test_duplicate_phone_conflicts_and_upsert_updates(org):
    first = assert_json(org.post("/contacts", json=DOCUMENTED_BODY), 201)

    err = assert_error(org.post("/contacts", json={"phone": "0091 98765 43210", "name": "Other"}), 409,
                       "contact_exists")
    assert err["details"]["contactId"] == first["id"]
    assert assert_json(org.get(f"/contacts/{first['id']}"), 200)["name"] == "John Doe"

    r = org.post("/contacts", params={"upsert": "true"},
                 json={"phone": "+919876543210", "name": "Johnny Doe", "email": "johnny@example.com"})
    up = assert_json(r, 200)
    assert up["id"] == first["id"]
    assert up["name"] == "Johnny Doe" and up["email"] == "johnny@example.com"
    assert up["optedIn"] is True and up["optInSource"] == "api"  # untouched fields stay
    assert parse_time(up["updatedAt"]) >= parse_time(first["updatedAt"])
    assert up["createdAt"] == first["createdAt"]
    assert len(org.list_all("/contacts", {"q": "9876543210"})) == 1

    # upsert of a new phone creates
    new = org.post("/contacts", params={"upsert": "true"}, json={"phone": rand_phone(), "name": "Fresh"})
    assert assert_json(new, 201)["name"] == "Fresh"


def test_get_patch_delete(org):
    phone = rand_phone()
    c = org.create_contact(phone=phone, name="Ada Lovelace", email="ada@example.com", attributes={"city": "London"})
    assert c["attributes"] == {"city": "London"}

    p = assert_json(org.patch(f"/contacts/{c['id']}", json={"name": "Ada King", "tags": ["Math", "math "]}), 200)
    assert p["id"] == c["id"]
    assert p["name"] == "Ada King"
    assert p["email"] == "ada@example.com" and p["phone"] == phone  # fields not in the patch are unchanged
    assert p["tags"] == ["math"]
    assert parse_time(p["updatedAt"]) >= parse_time(c["updatedAt"])
    assert assert_json(org.get(f"/contacts/{c['id']}"), 200)["name"] == "Ada King"

    p = assert_json(org.patch(f"/contacts/{c['id']}", json={"name": None, "email": None}), 200)
    assert p["name"] is None and p["email"] is None and p["phone"] == phone

    assert_error(org.patch(f"/contacts/{c['id']}", json={"phone": "+0123"}), 400, "invalid_phone")
    assert assert_json(org.get(f"/contacts/{c['id']}"), 200)["phone"] == phone

    r = org.delete(f"/contacts/{c['id']}")
    assert r.status_code == 204, r.text
    assert r.content == b""
    assert_error(org.get(f"/contacts/{c['id']}"), 404, "contact_not_found")
    assert_error(org.patch(f"/contacts/{c['id']}", json={"name": "x"}), 404, "contact_not_found")
    assert_error(org.delete(f"/contacts/{c['id']}"), 404, "contact_not_found")
    # the phone is free again
    assert assert_json(org.post("/contacts", json={"phone": phone}), 201)["id"] != c["id"]


def test_patch_null_phone_keeps_whatsapp_identity(org):
    c = org.create_contact(phone=rand_phone(), whatsappUserId=unique("US.1349"), name="Both")
    p = assert_json(org.patch(f"/contacts/{c['id']}", json={"phone": None}), 200)
    assert p["phone"] is None and p["whatsappUserId"] == c["whatsappUserId"]


def test_whatsapp_user_id_only_contact(org):
    wa = unique("US.13491208655302741918")
    c = assert_json(org.post("/contacts", json={"whatsappUserId": wa, "whatsappUsername": "jdoe"}), 201)
    assert c["phone"] is None
    assert c["whatsappUserId"] == wa and c["whatsappUsername"] == "jdoe"
    assert_error(org.post("/contacts", json={"whatsappUserId": wa}), 409, "contact_exists", contactId=c["id"])
    assert assert_json(org.get(f"/contacts/{c['id']}"), 200)["whatsappUserId"] == wa


@pytest.mark.parametrize("body", [{"name": "Nobody"}, {"email": "no@example.com"}, {}, {"phone": None}])
def test_missing_identity(org, body):
    assert_error(org.post("/contacts", json=body), 400, "missing_identity")
    assert org.list_all("/contacts") == []


def test_search_and_filters(org):
    alice = org.create_contact(phone="+14155550101", name="Alice Zephyr", email="alice.z@example.org",
                               tags=["vip", "retail"], optedIn=True)
    bob = org.create_contact(phone="+442079460958", name="Bob Quartz", email="bob@example.org", tags=["vip"])
    carol = org.create_contact(phone="+919812345678", name="Carol Xylo", email="carol.x@example.net")

    def ids(params):
        return [c["id"] for c in org.list_all("/contacts", params)]

    assert ids({"q": "zephyr"}) == [alice["id"]]  # name fragment, case-insensitive
    assert ids({"q": "ZEPH"}) == [alice["id"]]
    assert ids({"q": "79460"}) == [bob["id"]]  # phone fragment
    assert ids({"q": "+4420794"}) == [bob["id"]]
    assert ids({"q": "example.net"}) == [carol["id"]]  # email fragment
    assert ids({"q": "nobody-matches-this"}) == []
    assert ids({"tag": "vip"}) == [bob["id"], alice["id"]]  # newest first
    assert ids({"tag": ["vip", "retail"]}) == [alice["id"]]  # every tag must match
    assert ids({"tag": ["vip", "lead"]}) == []
    assert ids({"tag": "VIP"}) == [bob["id"], alice["id"]]  # the filter is normalised like tags
    assert ids({"optedIn": "true"}) == [alice["id"]]
    assert ids({"optedIn": "false"}) == [carol["id"], bob["id"]]
    assert ids({"q": "o", "tag": "vip", "optedIn": "false"}) == [bob["id"]]
    assert ids({}) == [carol["id"], bob["id"], alice["id"]]


def test_keyset_paging_is_stable(org):
    tag = unique("page")
    created = []
    for i in range(7):
        created.append(org.create_contact(name=f"Pager {i}", tags=[tag])["id"])
    newest_first = list(reversed(created))

    seen, cursor, pages = [], None, []
    while True:
        params = {"tag": tag, "limit": 3}
        if cursor:
            params["cursor"] = cursor
        body = assert_json(org.get("/contacts", params=params), 200)
        assert set(body) == {"data", "nextCursor"}, body
        pages.append(len(body["data"]))
        seen += [c["id"] for c in body["data"]]
        cursor = body["nextCursor"]
        if len(pages) == 1:
            # a contact created while paging shows on a new first page, never in the middle of this walk
            org.create_contact(name="Late", tags=[tag])
        if cursor is None:
            break
        assert isinstance(cursor, str) and cursor
        assert len(pages) < 10
    assert pages == [3, 3, 1]
    assert len(set(seen)) == 7
    assert seen == newest_first

    again = [c["id"] for c in org.list_all("/contacts", {"tag": tag}, limit=3)]
    assert again[1:] == newest_first and len(again) == 8

    one = assert_json(org.get("/contacts", params={"tag": tag, "limit": 8}), 200)
    assert len(one["data"]) == 8 and one["nextCursor"] is None


def test_tags_add_remove_and_normalise(org):
    c = org.create_contact(name="Tagged", tags=["b"])
    t = assert_json(org.post(f"/contacts/{c['id']}/tags", json={"tags": [" VIP ", "vip", "Gold   Member", "a"]}), 200)
    assert t["tags"] == ["a", "b", "gold member", "vip"]
    t = assert_json(org.post(f"/contacts/{c['id']}/tags", json={"tags": ["VIP"]}), 200)
    assert t["tags"] == ["a", "b", "gold member", "vip"]  # adding an existing tag is a no-op

    t = assert_json(org.delete(f"/contacts/{c['id']}/tags/vip"), 200)
    assert t["tags"] == ["a", "b", "gold member"]
    t = assert_json(org.delete(f"/contacts/{c['id']}/tags/Gold%20Member"), 200)
    assert t["tags"] == ["a", "b"]
    assert assert_json(org.get(f"/contacts/{c['id']}"), 200)["tags"] == ["a", "b"]

    assert_error(org.post(f"/contacts/{c['id']}/tags", json={"tags": ["   "]}), 400, "invalid_tag")
    assert_error(org.post("/contacts", json={"phone": rand_phone(), "tags": [""]}), 400, "invalid_tag")


def test_tag_counts(org):
    a = org.create_contact(tags=["vip", "retail"])
    org.create_contact(tags=["VIP"])
    c = org.create_contact(tags=["lead"])
    org.create_contact()
    body = assert_json(org.get("/tags"), 200)
    assert body == {"data": [{"tag": "lead", "count": 1}, {"tag": "retail", "count": 1}, {"tag": "vip", "count": 2}]}

    assert org.delete(f"/contacts/{a['id']}").status_code == 204
    assert_json(org.delete(f"/contacts/{c['id']}/tags/lead"), 200)
    assert assert_json(org.get("/tags"), 200) == {"data": [{"tag": "vip", "count": 1}]}


def test_consent_ledger(org):
    c = org.create_contact(name="Consent", optedIn=True)
    assert c["optInSource"] == "api"

    out = assert_json(org.post(f"/contacts/{c['id']}/consent",
                               json={"optedIn": False, "source": "agent", "note": "asked by phone"}), 200)
    tick()
    assert out["optedIn"] is False
    assert out["optInSource"] == "agent"
    assert out["optInProof"]["note"] == "asked by phone"

    back = assert_json(org.post(f"/contacts/{c['id']}/consent", json={"optedIn": True}), 200)
    assert back["optedIn"] is True and back["optInSource"] == "api"  # source defaults to api
    assert assert_json(org.get(f"/contacts/{c['id']}"), 200)["optedIn"] is True

    ledger = assert_json(org.get(f"/contacts/{c['id']}/consent"), 200)["data"]
    assert [(e["optedIn"], e["source"]) for e in ledger] == [(True, "api"), (False, "agent"), (True, "api")]
    times = [parse_time(e["recordedAt"]) for e in ledger]
    assert times == sorted(times)
    for e in ledger:
        assert set(e) >= {"id", "optedIn", "source", "proof", "recordedAt"}, e
        assert_uuid7(e["id"])
        assert e["proof"]["actor"]["kind"] == "api_key" and e["proof"]["actor"]["id"] == org.key_id
    assert ledger[1]["proof"]["note"] == "asked by phone"
    assert len({e["id"] for e in ledger}) == 3

    assert_error(org.post(f"/contacts/{c['id']}/consent", json={"optedIn": True, "source": "telepathy"}), 400)
    assert_error(org.post(f"/contacts/{c['id']}/consent", json={"source": "agent"}), 400)
    assert len(assert_json(org.get(f"/contacts/{c['id']}/consent"), 200)["data"]) == 3


def test_audit_trail(org):
    c = org.create_contact(name="Audited")
    cid = c["id"]
    assert_json(org.patch(f"/contacts/{cid}", json={"name": "Audited Twice"}), 200)
    tick()
    assert_json(org.post(f"/contacts/{cid}/tags", json={"tags": ["x", "y"]}), 200)
    tick()
    assert_json(org.delete(f"/contacts/{cid}/tags/x"), 200)
    tick()
    assert_json(org.post(f"/contacts/{cid}/consent", json={"optedIn": True, "source": "agent"}), 200)
    tick()

    entries = org.list_all(f"/contacts/{cid}/audit")
    assert [e["action"] for e in entries] == ["consent_changed", "tags_removed", "tags_added", "updated", "created"]
    for e in entries:
        assert set(e) >= {"id", "action", "actor", "at", "changes"}, e
        assert e["actor"]["kind"] == "api_key" and e["actor"]["id"] == org.key_id, e
        assert isinstance(e["changes"], dict), e
        assert_recent(e["at"])
    assert "name" in entries[3]["changes"], entries[3]
    at = [parse_time(e["at"]) for e in entries]
    assert at == sorted(at, reverse=True)

    page = assert_json(org.get(f"/contacts/{cid}/audit", params={"limit": 2}), 200)
    assert [e["action"] for e in page["data"]] == ["consent_changed", "tags_removed"] and page["nextCursor"]

    assert org.delete(f"/contacts/{cid}").status_code == 204
    after = org.list_all(f"/contacts/{cid}/audit")
    assert [e["action"] for e in after][:2] == ["deleted", "consent_changed"]
    assert after[0]["actor"]["id"] == org.key_id


def _rule(org, match_type, keyword, tag, enabled=True):
    body = {"matchType": match_type, "keyword": keyword, "tag": tag, "enabled": enabled}
    rule = assert_json(org.post("/auto-tag-rules", json=body), 201)
    tick()
    return rule


def test_auto_tag_rules_crud(org):
    r = _rule(org, "contains", "order", "Buyer ")
    assert set(r) == {"id", "matchType", "keyword", "tag", "enabled", "createdAt", "updatedAt"}
    assert_uuid7(r["id"])
    assert (r["matchType"], r["keyword"], r["tag"], r["enabled"]) == ("contains", "order", "buyer", True)
    assert_recent(r["createdAt"])
    r2 = _rule(org, "exact", "PROMO", "promo", enabled=False)

    assert assert_json(org.get("/auto-tag-rules"), 200) == {"data": [r, r2]}  # oldest first
    assert assert_json(org.get(f"/auto-tag-rules/{r['id']}"), 200) == r

    p = assert_json(org.patch(f"/auto-tag-rules/{r2['id']}", json={"enabled": True, "keyword": "promo2"}), 200)
    assert p["enabled"] is True and p["keyword"] == "promo2" and p["matchType"] == "exact" and p["tag"] == "promo"
    assert parse_time(p["updatedAt"]) >= parse_time(r2["updatedAt"])

    assert_error(org.post("/auto-tag-rules", json={"matchType": "regex", "keyword": "x", "tag": "y"}), 400)
    assert_error(org.post("/auto-tag-rules", json={"matchType": "exact", "keyword": "", "tag": "y"}), 400)

    d = org.delete(f"/auto-tag-rules/{r['id']}")
    assert d.status_code == 204, d.text
    assert_error(org.get(f"/auto-tag-rules/{r['id']}"), 404, "rule_not_found")
    assert_error(org.patch(f"/auto-tag-rules/{r['id']}", json={"enabled": False}), 404, "rule_not_found")
    assert_error(org.delete(f"/auto-tag-rules/{r['id']}"), 404, "rule_not_found")
    assert [x["id"] for x in assert_json(org.get("/auto-tag-rules"), 200)["data"]] == [r2["id"]]


def test_auto_tag_rules_evaluate(org):
    buyer = _rule(org, "contains", "Order", "buyer")
    promo = _rule(org, "exact", "promo", "promo")
    ref = _rule(org, "startsWith", "REF", "referral")
    question = _rule(org, "contains", "where", "question")
    off = _rule(org, "contains", "my", "mine", enabled=False)

    def evaluate(text):
        return assert_json(org.post("/auto-tag-rules/evaluate", json={"text": text}), 200)

    # every matching rule applies, in rule creation order; matching ignores case
    got = evaluate("Where is my ORDER?")
    assert got == {"tags": ["buyer", "question"], "matchedRuleIds": [buyer["id"], question["id"]]}
    assert evaluate("  PROMO  ") == {"tags": ["promo"], "matchedRuleIds": [promo["id"]]}  # trimmed, exact
    assert evaluate("promo code inside")["tags"] == []  # exact means the whole text
    assert evaluate("ref123 preorders") == {"tags": ["buyer", "referral"], "matchedRuleIds": [buyer["id"], ref["id"]]}
    assert evaluate("my REF")["tags"] == []  # startsWith is anchored; the disabled rule never applies
    assert evaluate("")["tags"] == []

    assert_json(org.patch(f"/auto-tag-rules/{off['id']}", json={"enabled": True}), 200)
    assert evaluate("my REF") == {"tags": ["mine"], "matchedRuleIds": [off["id"]]}
    assert_json(org.patch(f"/auto-tag-rules/{buyer['id']}", json={"enabled": False}), 200)
    assert evaluate("order")["tags"] == []


def _curl(cluster, method, path, *extra, key=None):
    key = cluster.api_key if key is None else key
    cmd = ["curl", "-sS", "-X", method, "-w", "\n%{http_code}", "-H", f"Authorization: Bearer {key}",
           *extra, cluster.url(path)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    body, _, status = out.stdout.rpartition("\n")
    return int(status), body


def test_readme_walkthrough_with_curl(cluster, org, tmp_path):
    """The product's own steps with plain curl: add a contact, import the sample CSV, search by tag."""
    status, body = _curl(cluster, "POST", "/contacts", "-H", "Content-Type: application/json",
                         "-d", json.dumps(DOCUMENTED_BODY), key=org.key)
    assert status == 201, body
    john = json.loads(body)
    assert john["phone"] == "+919876543210" and john["optedIn"] is True

    status, sample = _curl(cluster, "GET", "/contacts/imports/sample", key=org.key)
    assert status == 200 and sample.lstrip("\ufeff").splitlines()[0].strip() == "phone,name,email,tags,optedIn"

    csv_file = tmp_path / "contacts.csv"
    csv_file.write_bytes(PRODUCT_SAMPLE_CSV)
    status, body = _curl(cluster, "POST", "/contacts/imports?fileName=contacts.csv", "-H", "Content-Type: text/csv",
                         "--data-binary", f"@{csv_file}", key=org.key)
    assert status == 201, body
    job_id = json.loads(body)["id"]
    status, body = _curl(cluster, "POST", f"/contacts/imports/{job_id}/confirm", "-H",
                         "Content-Type: application/json", "-d", "{}", key=org.key)
    assert status == 202, body
    job = org.wait_import(job_id)
    assert job["status"] == "completed" and job["created"] == 1 and job["failed"] == 0, job

    status, body = _curl(cluster, "GET", "/contacts?tag=vip", key=org.key)
    assert status == 200, body
    vip = json.loads(body)["data"]
    assert [c["id"] for c in vip] == [john["id"]]
    assert {"vip", "retail"} <= set(vip[0]["tags"])
    status, body = _curl(cluster, "GET", "/contacts?tag=lead", key=org.key)
    assert [c["name"] for c in json.loads(body)["data"]] == ["Jane Smith"]
