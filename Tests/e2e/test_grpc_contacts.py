"""The contacts service called directly over gRPC with Python stubs generated from Protos/ (by
scripts/setup-test-env into .venv/switchboard_protos), next to the REST API that fronts it."""

import json

import grpc
import pytest

try:
    import health_pb2
    import health_pb2_grpc
    from common.v1 import common_pb2
    from contacts.v1 import contacts_pb2, contacts_pb2_grpc
except ImportError as e:  # pragma: no cover - a setup problem, not a product failure
    raise ImportError(f"Python gRPC stubs missing ({e}): run scripts/setup-test-env") from e

from conftest import SERVICES, assert_json, rand_phone, tick, unique

TOKEN_HEADER = "x-switchboard-token"
TIMEOUT = 30  # gRPC deadline per call: calls queue on a busy machine
ACTOR = common_pb2.Actor(kind="system", id="e2e", name="e2e tests")


@pytest.fixture(scope="module")
def channel(cluster):
    ch = grpc.insecure_channel(f"127.0.0.1:{cluster.ports['contacts']}")
    grpc.channel_ready_future(ch).result(timeout=30)
    yield ch
    ch.close()


@pytest.fixture
def stub(channel):
    return contacts_pb2_grpc.ContactsServiceStub(channel)


@pytest.fixture
def auth(cluster):
    return ((TOKEN_HEADER, cluster.internal_token),)


@pytest.fixture
def org_id(org):
    return assert_json(org.get("/org"), 200)["id"]


def create(stub, auth, org_id, upsert=False, **fields):
    req = contacts_pb2.CreateContactRequest(
        org_id=org_id, contact=contacts_pb2.ContactInput(**fields), upsert=upsert, actor=ACTOR
    )
    resp = stub.CreateContact(req, metadata=auth, timeout=TIMEOUT)
    tick()
    return resp


def test_create_get_list_round_trip(stub, auth, org, org_id):
    assert org_id == org.id
    phone = rand_phone()
    spaced = f"{phone[:3]} {phone[3:7]} {phone[7:]}"
    name = unique("Grpc Person ")
    resp = create(stub, auth, org_id, phone=spaced, name=name, email="grpc@example.com", tags_present=True,
                  tags=[" VIP ", "grpc"], opted_in=True, attributes_json=json.dumps({"tier": "gold"}))
    assert resp.created is True
    c = resp.contact
    assert c.id and c.org_id == org_id
    assert c.phone == phone and c.name == name and c.email == "grpc@example.com"
    assert list(c.tags) == ["grpc", "vip"]
    assert json.loads(c.attributes_json) == {"tier": "gold"}
    assert c.opted_in is True and c.opt_in_source == "api"
    assert c.opt_in_proof.at.seconds > 0 and c.opt_in_proof.actor.kind == "system"
    assert c.created_at.seconds > 0

    got = stub.GetContact(contacts_pb2.GetContactRequest(org_id=org_id, id=c.id), metadata=auth, timeout=TIMEOUT)
    assert got == c

    for query in (name.upper(), phone[-6:], "grpc@example"):
        listed = stub.ListContacts(contacts_pb2.ListContactsRequest(org_id=org_id, query=query), metadata=auth,
                                   timeout=TIMEOUT)
        assert [x.id for x in listed.contacts] == [c.id], query
    by_tag = stub.ListContacts(contacts_pb2.ListContactsRequest(org_id=org_id, tags=["vip", "grpc"], opted_in=True),
                               metadata=auth, timeout=TIMEOUT)
    assert [x.id for x in by_tag.contacts] == [c.id]
    none = stub.ListContacts(contacts_pb2.ListContactsRequest(org_id=org_id, opted_in=False), metadata=auth,
                             timeout=TIMEOUT)
    assert list(none.contacts) == [] and none.page.next_cursor == ""


def test_list_pages_with_cursor(stub, auth, org_id):
    ids = [create(stub, auth, org_id, phone=rand_phone(), name=f"Paged {i}").contact.id for i in range(5)]
    seen, cursor = [], ""
    for _ in range(5):
        page = stub.ListContacts(
            contacts_pb2.ListContactsRequest(org_id=org_id, page=common_pb2.PageRequest(cursor=cursor, limit=2)),
            metadata=auth, timeout=TIMEOUT,
        )
        seen += [x.id for x in page.contacts]
        cursor = page.page.next_cursor
        if not cursor:
            break
    assert seen == list(reversed(ids))


def test_grpc_and_rest_see_the_same_contacts(stub, auth, org, org_id):
    via_grpc = create(stub, auth, org_id, phone=rand_phone(), name="From gRPC", tags_present=True, tags=["g"]).contact
    rest = assert_json(org.get(f"/contacts/{via_grpc.id}"), 200)
    assert (rest["phone"], rest["name"], rest["tags"]) == (via_grpc.phone, "From gRPC", ["g"])
    assert rest["email"] is None  # proto's empty string is JSON null

    via_rest = org.create_contact(name="From REST", email="rest@example.com", tags=["r"], attributes={"k": "v"})
    got = stub.GetContact(contacts_pb2.GetContactRequest(org_id=org_id, id=via_rest["id"]), metadata=auth,
                          timeout=TIMEOUT)
    assert (got.phone, got.name, got.email, list(got.tags)) == (via_rest["phone"], "From REST", "rest@example.com",
                                                                ["r"])
    assert json.loads(got.attributes_json) == {"k": "v"}
    assert got.opted_in is False and got.opt_in_source == ""


def test_duplicate_and_upsert(stub, auth, org_id):
    phone = rand_phone()
    first = create(stub, auth, org_id, phone=phone, name="One").contact
    with pytest.raises(grpc.RpcError) as e:
        create(stub, auth, org_id, phone=phone, name="Two")
    assert e.value.code() == grpc.StatusCode.ALREADY_EXISTS
    again = create(stub, auth, org_id, upsert=True, phone=phone, name="Two")
    assert again.created is False and again.contact.id == first.id and again.contact.name == "Two"


def test_evaluate_rules(stub, auth, org, org_id):
    rule = assert_json(org.post("/auto-tag-rules", json={"matchType": "contains", "keyword": "order", "tag": "buyer"}),
                       201)
    tick()
    assert_json(org.post("/auto-tag-rules", json={"matchType": "exact", "keyword": "hi", "tag": "greeting"}), 201)
    got = stub.EvaluateRules(contacts_pb2.EvaluateRulesRequest(org_id=org_id, text="Where is my ORDER"),
                             metadata=auth, timeout=TIMEOUT)
    assert list(got.tags) == ["buyer"] and list(got.matched_rule_ids) == [rule["id"]]
    rules = stub.ListRules(contacts_pb2.ListRulesRequest(org_id=org_id), metadata=auth, timeout=TIMEOUT)
    assert [r.tag for r in rules.rules] == ["buyer", "greeting"]


@pytest.mark.parametrize("metadata", [(), (("x-switchboard-token", "wrong-token"),), (("authorization", "Bearer x"),)],
                         ids=["none", "wrong", "other-header"])
def test_missing_or_wrong_token_is_unauthenticated(stub, org_id, metadata):
    with pytest.raises(grpc.RpcError) as e:
        stub.GetContact(contacts_pb2.GetContactRequest(org_id=org_id, id="x"), metadata=metadata, timeout=TIMEOUT)
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as e:
        create(stub, metadata, org_id, phone=rand_phone())
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED


def _reasons(err: grpc.RpcError) -> dict:
    md = {}
    for key, value in err.trailing_metadata() or ():
        md[key] = value
    return md


def test_invalid_phone_is_invalid_argument_with_reason(stub, auth, org, org_id):
    with pytest.raises(grpc.RpcError) as e:
        create(stub, auth, org_id, phone="+0123", name="Bad")
    err = e.value
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    md = _reasons(err)
    assert md.get("switchboard-reason") == "invalid_phone", f"trailing metadata: {md}"
    if "switchboard-error-bin" in md:
        reason = common_pb2.ErrorReason.FromString(md["switchboard-error-bin"])
        assert reason.reason == "invalid_phone"
    assert org.list_all("/contacts") == []


def test_unknown_and_other_orgs_ids_are_not_found(stub, auth, org_id, other_org):
    with pytest.raises(grpc.RpcError) as e:
        stub.GetContact(contacts_pb2.GetContactRequest(org_id=org_id, id="01900000-0000-7000-8000-000000000000"),
                        metadata=auth, timeout=TIMEOUT)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert _reasons(e.value).get("switchboard-reason") == "contact_not_found"

    theirs = other_org.create_contact(name="Theirs")
    with pytest.raises(grpc.RpcError) as e:
        stub.GetContact(contacts_pb2.GetContactRequest(org_id=org_id, id=theirs["id"]), metadata=auth,
                        timeout=TIMEOUT)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize("service", SERVICES)
def test_health_check_on_every_service_without_token(cluster, service):
    with grpc.insecure_channel(f"127.0.0.1:{cluster.ports[service]}") as ch:
        health = health_pb2_grpc.HealthStub(ch)
        got = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=TIMEOUT)
        assert got.status == health_pb2.HealthCheckResponse.SERVING
