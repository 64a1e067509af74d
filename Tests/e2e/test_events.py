"""The event logs of docs/events.md seen from outside: each of contacts, conversations and messaging serves its
`event` table through the server-streaming `Subscribe` RPC (switchboard.common.v1.SubscribeRequest ->
stream EventBatch). The tests cause changes through the REST API (and the sandbox channel) and read the logs with
grpcio: the types and payloads of the events, their order, replay after a sequence, the org filter, tailing from
the current end (`after_sequence = -1`), batch sizes, and that a refused change leaves no event.

Streams never end by themselves (they tail the log), so every stream is read in a thread with a call deadline and
cancelled by the test; waits are bounded."""

from __future__ import annotations

import json
import threading
import time
import uuid

import grpc
import pytest

try:
    from common.v1 import common_pb2
    from contacts.v1 import contacts_pb2_grpc
    from conversations.v1 import conversations_pb2_grpc
    from messaging.v1 import messaging_pb2_grpc
except ImportError as e:  # pragma: no cover - a setup problem, not a product failure
    raise ImportError(f"Python gRPC stubs missing ({e}): run scripts/setup-test-env") from e

from conftest import assert_error, assert_json, rand_phone, tick
from inbound_helpers import (
    get_conversation,
    messages,
    new_sandbox_message_id,
    sandbox_channel,
    sandbox_inbound,
    wait_contact,
    wait_for,
    wait_message,
)

TOKEN_HEADER = "x-switchboard-token"
WAIT = 20.0  # an event (or an asynchronous effect) shows up within this
TAIL_WAIT = 5.0  # a change reaches a tailing stream within this (the spec says ~100 ms)
SETTLE = 1.0  # extra time given to something that must NOT arrive
CALL_DEADLINE = 180  # seconds: the gRPC deadline of every Subscribe call, so no stream can outlive a test for long

REFERRAL_1 = {
    "source_url": "https://fb.me/ad-events-one", "source_id": "120200000000901", "source_type": "ad",
    "headline": "Event sale", "body": "Everything must go", "media_type": "image",
    "image_url": "https://cdn.example.test/ev-one.jpg", "ctwa_clid": "ARAkLkA8rmlFeiCktEJQ-ev1",
}
REFERRAL_2 = {
    "source_url": "https://fb.me/ad-events-two", "source_id": "120200000000902", "source_type": "post",
    "headline": "Second ad", "body": "Another one", "media_type": "image",
    "image_url": "https://cdn.example.test/ev-two.jpg", "ctwa_clid": "ARAkLkA8rmlFeiCktEJQ-ev2",
}


# ---------------------------------------------------------------------------------------------------------
# gRPC plumbing


def _channel(cluster, service):
    ch = grpc.insecure_channel(f"127.0.0.1:{cluster.ports[service]}")
    grpc.channel_ready_future(ch).result(timeout=30)
    return ch


@pytest.fixture(scope="module")
def channels(cluster):
    chans = {name: _channel(cluster, name) for name in ("contacts", "conversations", "messaging")}
    yield chans
    for ch in chans.values():
        ch.close()


@pytest.fixture
def auth(cluster):
    return ((TOKEN_HEADER, cluster.internal_token),)


@pytest.fixture
def conv_log(channels, auth):
    return Log(conversations_pb2_grpc.ConversationsServiceStub(channels["conversations"]), auth, "conversations")


@pytest.fixture
def contacts_log(channels, auth):
    return Log(contacts_pb2_grpc.ContactsServiceStub(channels["contacts"]), auth, "contacts")


@pytest.fixture
def messaging_log(channels, auth):
    return Log(messaging_pb2_grpc.MessagingServiceStub(channels["messaging"]), auth, "messaging")


class Ev:
    """One `switchboard.common.v1.Event`, with its payload decoded."""

    def __init__(self, pb):
        self.pb = pb
        self.seq = pb.sequence
        self.id = pb.id
        self.org = pb.org_id
        self.type = pb.type
        self.subject = pb.subject_id
        self.contact = pb.contact_id
        self.at_ms = pb.occurred_at.seconds * 1000 + pb.occurred_at.nanos // 1_000_000
        try:
            self.payload = json.loads(pb.payload_json)
        except ValueError as e:
            raise AssertionError(f"event {pb.sequence} {pb.type}: payload_json is not JSON: {pb.payload_json!r}") from e
        assert isinstance(self.payload, dict), f"event {pb.sequence} {pb.type}: payload is not an object: {pb}"

    def __repr__(self):
        return f"<{self.seq} {self.type} org={self.org[:8]} subject={self.subject[:8]} {self.payload}>"


class Stream:
    """A Subscribe call read in a background thread; `events` grows as batches arrive."""

    def __init__(self, stub, auth, name, after: int = 0, org_id: str = "", max_batch: int = 0,
                 metadata=None):
        self.name = name
        self.request = common_pb2.SubscribeRequest(after_sequence=after, org_id=org_id, max_batch=max_batch)
        self.call = stub.Subscribe(self.request, metadata=auth if metadata is None else metadata,
                                   timeout=CALL_DEADLINE)
        self.events: list[Ev] = []
        self.batch_sizes: list[int] = []
        self.error: grpc.RpcError | None = None
        self.failure: BaseException | None = None
        self.done = False
        self.cancelled = False
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"subscribe-{name}")
        self.thread.start()

    def _run(self):
        try:
            for batch in self.call:
                evs = [Ev(pb) for pb in batch.events]
                with self.cond:
                    self.batch_sizes.append(len(batch.events))
                    self.events.extend(evs)
                    self.cond.notify_all()
        except grpc.RpcError as e:
            if not (self.cancelled and e.code() == grpc.StatusCode.CANCELLED):
                self.error = e
        except BaseException as e:  # a decoding problem: reported by wait()
            self.failure = e
        finally:
            with self.cond:
                self.done = True
                self.cond.notify_all()

    def snapshot(self) -> list[Ev]:
        with self.cond:
            return list(self.events)

    def wait(self, predicate, timeout: float = WAIT, what: str = "events") -> list[Ev]:
        """Waits until `predicate(events)` is truthy; answers a snapshot of the events."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                if self.failure is not None:
                    raise AssertionError(f"{self.name} stream: {self.failure!r}") from self.failure
                if predicate(self.events):
                    return list(self.events)
                if self.error is not None:
                    raise AssertionError(f"{self.name} Subscribe failed: {self.error.code()} {self.error.details()}"
                                         f" (waiting for {what}; got {self.events})")
                if self.done:
                    raise AssertionError(f"{self.name} Subscribe ended (it must tail until cancelled) while waiting"
                                         f" for {what}; got {self.events}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{self.name} stream {self.request}: {what} not within {timeout}s;"
                                         f" got {self.events}")
                self.cond.wait(min(remaining, 0.5))

    def wait_for(self, type_: str, timeout: float = WAIT, **match) -> Ev:
        self.wait(lambda evs: find(evs, type_, **match), timeout, what=f"{type_} {match}")
        return find(self.snapshot(), type_, **match)

    def cancel(self):
        self.cancelled = True
        self.call.cancel()
        self.thread.join(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cancel()


class Log:
    """One service's event log."""

    def __init__(self, stub, auth, name):
        self.stub, self.auth, self.name = stub, auth, name

    def subscribe(self, after: int = 0, org_id: str = "", max_batch: int = 0, metadata=None) -> Stream:
        return Stream(self.stub, self.auth, self.name, after, org_id, max_batch, metadata)

    def events(self, org_id: str, until, after: int = 0, timeout: float = WAIT, what: str = "events") -> list[Ev]:
        """The org's events after `after`, read until `until(events)` holds."""
        with self.subscribe(after=after, org_id=org_id) as s:
            return s.wait(until, timeout, what)


def matches(ev: Ev, type_: str, **match) -> bool:
    return ev.type == type_ and all(ev.payload.get(k) == v for k, v in match.items())


def find(events, type_: str, **match) -> Ev | None:
    return next((e for e in events if matches(e, type_, **match)), None)


def find_all(events, type_: str, **match) -> list[Ev]:
    return [e for e in events if matches(e, type_, **match)]


def has(type_: str, **match):
    return lambda evs: find(evs, type_, **match) is not None


def assert_well_formed(events: list[Ev], org_id: str | None = None) -> None:
    """Sequences strictly increasing, ids unique and non-empty, times recent, the org filter honoured."""
    seqs = [e.seq for e in events]
    assert all(a < b for a, b in zip(seqs, seqs[1:])), f"sequences not strictly increasing: {seqs}"
    assert all(s > 0 for s in seqs), seqs
    ids = [e.id for e in events]
    assert all(ids), f"an event without id: {events}"
    assert len(set(ids)) == len(ids), f"duplicate event ids: {ids}"
    now_ms = time.time() * 1000
    for e in events:
        assert abs(now_ms - e.at_ms) < 300_000, f"occurred_at not recent: {e} at {e.at_ms}, now {now_ms:.0f}"
        assert e.type, e
        assert e.subject, f"an event without subject_id: {e}"
        if org_id is not None:
            assert e.org == org_id, f"event of another org in a stream filtered by {org_id}: {e}"


# The payload fields docs/events.md lists per type.
DOC_FIELDS = {
    "conversation.opened": "conversationId contactId channelId medium status openedBy referral",
    "conversation.assigned": "conversationId contactId channelId medium status agentId",
    "conversation.unassigned": "conversationId contactId channelId medium status agentId",
    "conversation.resolved": "conversationId contactId channelId medium status agentId openedAt",
    "conversation.reopened": "conversationId contactId channelId medium status",
    "conversation.status_changed": "conversationId contactId channelId medium status previousStatus",
    "conversation.updated": "conversationId contactId channelId medium status change",
    "message.received": "messageId conversationId contactId channelId medium messageType text providerMessageId sentAt",
    "message.sent": "messageId conversationId contactId channelId medium messageType text status agentId",
    "message.status": "messageId conversationId contactId channelId medium status errorCode reason",
    "contact.created": "contactId name phone source",
    "contact.updated": "contactId changes",
    "contact.deleted": "contactId",
    "consent.changed": "contactId optedIn source proof",
    "tags.changed": "contactId added removed",
    "contact.attributed": "contactId sourceId sourceUrl sourceType headline body ctwaClid",
    "outbound.accepted": "messageId conversationId contactId channelId idempotencyKey",
}


def assert_documented(*events: Ev) -> None:
    """Every documented payload field is there (checked last in a test, so that the other checks run first)."""
    problems = []
    for e in events:
        missing = [f for f in DOC_FIELDS[e.type].split() if f not in e.payload]
        if missing:
            problems.append(f"{e.type} lacks {missing} (has {sorted(e.payload)})")
    assert not problems, "payloads differ from docs/events.md: " + "; ".join(problems)


def assert_recent_ms(value, what: str = "time") -> None:
    assert isinstance(value, int) and not isinstance(value, bool), f"{what} is not Unix milliseconds: {value!r}"
    assert abs(time.time() * 1000 - value) < 300_000, f"{what} {value} is not close to now"


# ---------------------------------------------------------------------------------------------------------
# REST helpers


def agent(org, name="Agent"):
    email = f"{name.lower().replace(' ', '.')}.{uuid.uuid4().hex[:6]}@example.com"
    return assert_json(org.post("/agents", json={"name": name, "email": email, "role": "agent"}), 201)


def inbound(org, phone: str, text: str = "hello", **extra):
    """A sandbox customer message, waited for; answers (conversation, message) as listed."""
    mid = new_sandbox_message_id()
    sandbox_inbound(org, text, phone=phone, message_id=mid, **extra)
    conv, msg = wait_message(org, mid)
    tick()
    return conv, msg


def action(org, conv_id: str, name: str, **body):
    return org.post(f"/conversations/{conv_id}/{name}", json=body or None)


def send_text(org, conv_id: str, text: str) -> dict:
    msg = assert_json(org.post(f"/conversations/{conv_id}/messages", json={"type": "text", "text": text}), 202)
    assert msg["status"] == "queued", msg
    return msg


def wait_delivered(org, conv_id: str, msg_id: str) -> dict:
    def check():
        for m in messages(org, conv_id):
            if m["id"] == msg_id:
                assert m["status"] != "failed", m
                return m if m["status"] == "delivered" else None
        return None

    return wait_for(check, WAIT, what=f"message {msg_id} delivered")


def opted_in_conversation(org, phone: str | None = None, text: str = "hello", **extra):
    """A sandbox conversation whose contact is opted in (first-message opt-in), so that it can be answered."""
    phone = phone or rand_phone()
    conv, msg = inbound(org, phone, text, **extra)
    wait_contact(org, msg["contactId"], lambda c: c["optedIn"] is True, what="first-message opt-in")
    return conv, msg


# ---------------------------------------------------------------------------------------------------------
# conversations log


def test_subscribe_requires_the_internal_token(conv_log, contacts_log, messaging_log):
    for log in (conv_log, contacts_log, messaging_log):
        for metadata in ((), ((TOKEN_HEADER, "wrong-token"),)):
            with log.subscribe(after=-1, metadata=metadata) as s:
                s.thread.join(10)
                assert s.done, f"{log.name}: Subscribe without a valid token did not end"
                assert s.error is not None and s.error.code() == grpc.StatusCode.UNAUTHENTICATED, (
                    f"{log.name}: expected UNAUTHENTICATED, got {s.error and s.error.code()} / {s.events}")


def test_inbound_message_opens_conversation_then_records_message(org, conv_log):
    sb = sandbox_channel(org)
    phone = rand_phone()
    conv, msg = inbound(org, phone, "hi events", name="Eve Events")
    contact_id = msg["contactId"]

    evs = conv_log.events(org.id, has("message.received", messageId=msg["id"]), what="message.received")
    assert_well_formed(evs, org.id)
    opened = find(evs, "conversation.opened", conversationId=conv["id"])
    received = find(evs, "message.received", messageId=msg["id"])
    assert opened is not None, f"no conversation.opened for {conv['id']}: {evs}"
    assert opened.seq < received.seq, f"conversation.opened must come before message.received: {evs}"
    assert len(find_all(evs, "conversation.opened")) == 1, evs
    assert len(find_all(evs, "message.received")) == 1, evs

    assert opened.subject == conv["id"] and opened.contact == contact_id and opened.org == org.id, opened
    p = opened.payload
    assert p["conversationId"] == conv["id"]
    assert p["contactId"] == contact_id == conv["contact"]["id"]
    assert p["channelId"] == sb["id"] == conv["channelId"]
    assert p["medium"] == conv["channel"] and p["medium"] in ("whatsapp", "sms"), p
    assert p["status"] == "OPEN", p
    assert p["openedBy"] == "inbound", p
    assert "referral" in p and p["referral"] is None, p

    assert received.subject == msg["id"] and received.contact == contact_id and received.org == org.id, received
    p = received.payload
    assert p["messageId"] == msg["id"]
    assert p["conversationId"] == conv["id"]
    assert p["contactId"] == contact_id
    assert p["channelId"] == sb["id"]
    assert p["medium"] == conv["channel"], p
    assert p.get("text") == "hi events", p
    assert p.get("providerMessageId") == msg["providerMessageId"], p
    assert_recent_ms(p.get("sentAt"), "sentAt")
    assert_documented(opened, received)
    assert p["messageType"] == "text", p


def test_assign_unassign_resolve_reopen(org, conv_log):
    ag = agent(org, "Ada Events")
    conv, msg = inbound(org, rand_phone(), "please help")
    cid, contact_id = conv["id"], msg["contactId"]

    assert assert_json(action(org, cid, "assign", agentId=ag["id"]), 200)["status"] == "ASSIGNED"
    tick()
    assert assert_json(action(org, cid, "unassign"), 200)["status"] == "OPEN"
    tick()
    assert assert_json(action(org, cid, "assign", agentId=ag["id"]), 200)["status"] == "ASSIGNED"
    tick()
    resolved = assert_json(action(org, cid, "resolve"), 200)
    assert resolved["status"] == "RESOLVED"
    tick()
    assert assert_json(action(org, cid, "reopen"), 200)["status"] == "OPEN"

    evs = conv_log.events(org.id, has("conversation.reopened", conversationId=cid), what="conversation.reopened")
    assert_well_formed(evs, org.id)
    lifecycle = [e for e in evs if e.type.startswith("conversation.") and e.payload.get("conversationId") == cid]
    assert [e.type for e in lifecycle] == [
        "conversation.opened", "conversation.assigned", "conversation.unassigned", "conversation.assigned",
        "conversation.resolved", "conversation.reopened",
    ], lifecycle
    for e in lifecycle:
        assert e.subject == cid and e.contact == contact_id, e
        p = e.payload
        assert p["conversationId"] == cid and p["contactId"] == contact_id, p
        assert p["channelId"] == conv["channelId"] and p["medium"] == conv["channel"], p

    _, assigned, unassigned, _, resolved_ev, reopened = lifecycle
    assert assigned.payload["agentId"] == ag["id"] and assigned.payload["status"] == "ASSIGNED", assigned
    assert "agentId" in unassigned.payload and unassigned.payload["status"] == "OPEN", unassigned
    p = resolved_ev.payload
    # resolved through an admin key without an agent: "the calling agent, else the assignee"
    assert p["status"] == "RESOLVED" and p["agentId"] == ag["id"], p
    assert_recent_ms(p["openedAt"], "openedAt")
    assert p["openedAt"] <= resolved_ev.at_ms, (p, resolved_ev.at_ms)
    assert reopened.payload["status"] == "OPEN", reopened
    assert_documented(*lifecycle)


def test_resolve_without_assignee_has_null_agent(org, conv_log):
    conv, _ = inbound(org, rand_phone(), "quick question")
    assert_json(action(org, conv["id"], "resolve"), 200)
    ev = conv_log.subscribe(org_id=org.id)
    with ev:
        resolved = ev.wait_for("conversation.resolved", conversationId=conv["id"])
    assert resolved.payload["agentId"] is None, resolved
    assert resolved.payload["status"] == "RESOLVED", resolved


def test_conversation_updated_and_status_changed(org, conv_log):
    conv, _ = inbound(org, rand_phone(), "flags")
    cid = conv["id"]
    steps = [
        (lambda: action(org, cid, "read"), "read"),
        (lambda: org.patch(f"/conversations/{cid}", json={"starred": True}), "star"),
        (lambda: org.patch(f"/conversations/{cid}", json={"starred": False}), "unstar"),
        (lambda: org.patch(f"/conversations/{cid}", json={"archived": True}), "archive"),
        (lambda: org.patch(f"/conversations/{cid}", json={"archived": False}), "unarchive"),
    ]
    for do, _ in steps:
        assert_json(do(), 200)
        tick()
    r = org.delete(f"/conversations/{cid}")
    assert r.status_code == 204, r.text
    tick()
    assert_json(action(org, cid, "restore"), 200)
    tick()
    assert assert_json(org.patch(f"/conversations/{cid}", json={"status": "BOT_ACTIVE"}), 200)["status"] == "BOT_ACTIVE"

    evs = conv_log.events(org.id, has("conversation.status_changed", conversationId=cid), what="status_changed")
    assert_well_formed(evs, org.id)
    updated = find_all(evs, "conversation.updated", conversationId=cid)
    assert [e.payload["change"] for e in updated] == [
        "read", "star", "unstar", "archive", "unarchive", "delete", "restore"], updated
    for e in updated:
        assert e.subject == cid and e.payload["contactId"] == conv["contact"]["id"], e
        assert e.payload["status"] == "OPEN", e
    changed = find(evs, "conversation.status_changed", conversationId=cid)
    assert changed.payload["status"] == "BOT_ACTIVE" and changed.payload["previousStatus"] == "OPEN", changed
    assert changed.seq > updated[-1].seq
    assert_documented(*updated, changed)


def test_send_records_message_sent_then_delivered(org, conv_log, messaging_log):
    conv, inbound_msg = opted_in_conversation(org, text="can you answer?")
    cid = conv["id"]
    out = send_text(org, cid, "yes we can")
    wait_delivered(org, cid, out["id"])

    evs = conv_log.events(org.id, has("message.status", messageId=out["id"], status="delivered"),
                          what="message.status delivered")
    assert_well_formed(evs, org.id)
    sent = find_all(evs, "message.sent", messageId=out["id"])
    assert len(sent) == 1, f"expected one message.sent for {out['id']}: {evs}"
    sent = sent[0]
    delivered = find(evs, "message.status", messageId=out["id"], status="delivered")
    assert sent.seq < delivered.seq, evs
    assert sent.subject == out["id"] and sent.contact == inbound_msg["contactId"], sent
    p = sent.payload
    assert p["messageId"] == out["id"] and p["conversationId"] == cid, p
    assert p["contactId"] == inbound_msg["contactId"] and p["channelId"] == conv["channelId"], p
    assert p["medium"] == conv["channel"], p
    assert p.get("text") == "yes we can", p
    assert p.get("status") in ("queued", "sent"), p
    assert "agentId" in p and p["agentId"] is None, p  # an admin key acting for no agent

    assert delivered.subject == out["id"] and delivered.contact == inbound_msg["contactId"], delivered
    p = delivered.payload
    assert p["conversationId"] == cid and p["contactId"] == inbound_msg["contactId"], p
    assert p["channelId"] == conv["channelId"] and p["medium"] == conv["channel"], p
    assert p.get("errorCode") in (None, ""), p
    assert p.get("reason") in (None, ""), p
    # statuses only move forward: nothing for this message after "delivered" but (possibly) "read"
    for e in find_all(evs, "message.status", messageId=out["id"]):
        assert e.payload["status"] in ("sent", "delivered"), e
    assert_documented(sent, delivered)
    assert sent.payload["messageType"] == "text", sent


def test_send_is_accepted_on_the_messaging_log(org, messaging_log):
    conv, inbound_msg = opted_in_conversation(org, text="messaging log")
    out = send_text(org, conv["id"], "accepted by messaging")

    with messaging_log.subscribe(org_id=org.id) as s:
        accepted = s.wait_for("outbound.accepted", messageId=out["id"])
        evs = s.snapshot()
    assert_well_formed(evs, org.id)
    assert len(find_all(evs, "outbound.accepted", messageId=out["id"])) == 1, evs
    assert accepted.subject == out["id"] and accepted.contact == inbound_msg["contactId"], accepted
    p = accepted.payload
    assert p.get("contactId") == inbound_msg["contactId"] and p.get("channelId") == conv["channelId"], p
    assert not find_all(evs, "outbound.failed"), evs
    assert_documented(accepted)
    assert p["messageId"] == out["id"] and p["idempotencyKey"] is None, p
    assert p["conversationId"] == conv["id"], p


def test_csat_survey_message_names_its_survey(org, conv_log):
    """Resolving opens a survey (csat.requested, CSAT is on by default); messaging sends it on the sandbox as plain
    text, and csat.sent names that outbound message."""
    conv, _ = opted_in_conversation(org, text="help me")
    assert_json(action(org, conv["id"], "resolve"), 200)
    evs = conv_log.events(org.id, lambda evs: find(evs, "csat.requested", conversationId=conv["id"]) is not None
                          and find(evs, "csat.sent", conversationId=conv["id"]) is not None,
                          what="csat.requested and csat.sent")
    requested = find(evs, "csat.requested", conversationId=conv["id"])
    survey_id = requested.payload["surveyId"]
    assert requested.subject == survey_id, requested
    resolved = find(evs, "conversation.resolved", conversationId=conv["id"])
    assert resolved is not None and resolved.seq < requested.seq, evs
    sent = [e for e in evs if e.type == "message.sent"]
    assert len(sent) == 1 and sent[0].payload.get("conversationId") == conv["id"], sent
    marked = find(evs, "csat.sent", conversationId=conv["id"])
    assert marked.payload["surveyId"] == survey_id and marked.payload["messageId"] == sent[0].payload["messageId"], (
        marked, sent)
    assert requested.seq < sent[0].seq < marked.seq, evs


# ---------------------------------------------------------------------------------------------------------
# replay, filter, tail, batches


def _activity(org, ag):
    """A few deterministic conversation events in `org` (no asynchronous after-effects)."""
    conv, _ = inbound(org, rand_phone(), "one")
    inbound(org, conv["contact"]["phone"], "two")
    assert_json(action(org, conv["id"], "assign", agentId=ag["id"]), 200)
    tick()
    assert_json(org.patch(f"/conversations/{conv['id']}", json={"starred": True}), 200)
    return conv


def test_replay_after_a_sequence_is_exactly_the_rest_of_the_log(org, conv_log):
    ag = agent(org)
    conv = _activity(org, ag)
    first = conv_log.events(org.id, has("conversation.updated", conversationId=conv["id"], change="star"),
                            what="star")
    assert_well_formed(first, org.id)
    assert [e.type for e in first] == ["conversation.opened", "message.received", "message.received",
                                       "conversation.assigned", "conversation.updated"], first
    last = first[-1].seq

    for cut in (0, 1, 3):
        after = first[cut].seq
        with conv_log.subscribe(after=after, org_id=org.id) as s:
            got = s.wait(lambda evs: any(e.seq >= last for e in evs), what=f"replay after {after}")
        got = [e for e in got if e.seq <= last]
        want = [e for e in first if e.seq > after]
        assert [e.pb for e in got] == [e.pb for e in want], f"after_sequence={after}: {got} != {want}"

    # replaying from the last event: nothing until something new happens
    with conv_log.subscribe(after=last, org_id=org.id) as s:
        time.sleep(SETTLE)
        assert s.snapshot() == [], s.snapshot()
        assert s.error is None and not s.done, s.error
        assert_json(org.patch(f"/conversations/{conv['id']}", json={"starred": False}), 200)
        got = s.wait(lambda evs: len(evs) >= 1, TAIL_WAIT, what="the unstar event")
    assert [(e.type, e.payload["change"]) for e in got] == [("conversation.updated", "unstar")], got
    assert got[0].seq > last


def test_replay_in_small_batches(org, conv_log):
    ag = agent(org)
    conv = _activity(org, ag)
    done = has("conversation.updated", conversationId=conv["id"], change="star")
    whole = conv_log.events(org.id, done)
    for size in (1, 2):
        with conv_log.subscribe(org_id=org.id, max_batch=size) as s:
            got = s.wait(done, what=f"replay with max_batch={size}")
            sizes = list(s.batch_sizes)
        assert [e.pb for e in got] == [e.pb for e in whole]
        assert sizes and max(sizes) <= size, f"max_batch={size}: batch sizes {sizes}"


def test_org_filter_and_the_unfiltered_log(org, other_org, conv_log):
    ag_a, ag_b = agent(org), agent(other_org)
    with conv_log.subscribe(after=-1) as everything:
        time.sleep(0.5)  # let the server take its starting point
        conv_a = _activity(org, ag_a)
        conv_b = _activity(other_org, ag_b)
        a_done = has("conversation.updated", conversationId=conv_a["id"], change="star")
        b_done = has("conversation.updated", conversationId=conv_b["id"], change="star")
        all_evs = everything.wait(lambda evs: a_done(evs) and b_done(evs), what="both orgs' activity")

    assert_well_formed(all_evs)
    seqs = [e.seq for e in all_evs]
    # one writer per database: the log has no gaps in commit order
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), f"gaps in the unfiltered log: {seqs}"
    assert {e.org for e in all_evs} >= {org.id, other_org.id}
    last = max(e.seq for e in all_evs if e.org in (org.id, other_org.id))
    start = seqs[0] - 1

    for o, conv in ((org, conv_a), (other_org, conv_b)):
        with conv_log.subscribe(after=start, org_id=o.id) as s:
            got = s.wait(has("conversation.updated", conversationId=conv["id"], change="star"),
                         what=f"org {o.id} filtered")
        assert_well_formed(got, o.id)
        want = [e.pb for e in all_evs if e.org == o.id and e.seq <= last]
        assert [e.pb for e in got if e.seq <= last] == want
        assert len(want) == 5, want

    # an org that has no events: an empty replay that keeps tailing
    empty = f"org-{uuid.uuid4()}"
    with conv_log.subscribe(after=0, org_id=empty) as s:
        time.sleep(SETTLE)
        assert s.snapshot() == [] and s.error is None and not s.done, (s.snapshot(), s.error)


def test_tail_from_the_current_end(org, conv_log):
    ag = agent(org)
    conv = _activity(org, ag)
    before = conv_log.events(org.id, has("conversation.updated", conversationId=conv["id"], change="star"))
    with conv_log.subscribe(after=-1, org_id=org.id) as s:
        time.sleep(0.5)  # let the server take its starting point
        assert s.snapshot() == [], f"after_sequence=-1 replayed old events: {s.snapshot()}"
        started = time.monotonic()
        assert_json(org.patch(f"/conversations/{conv['id']}", json={"starred": False}), 200)
        got = s.wait(has("conversation.updated", conversationId=conv["id"], change="unstar"), TAIL_WAIT,
                     what="the unstar event")
        latency = time.monotonic() - started
        assert len(got) == 1 and got[0].seq > before[-1].seq, got
        # and it keeps tailing
        inbound(org, conv["contact"]["phone"], "still there?")
        got = s.wait(lambda evs: find(evs, "message.received", text="still there?"), TAIL_WAIT,
                     what="a later message.received")
    assert_well_formed(got, org.id)
    assert [e.type for e in got] == ["conversation.updated", "message.received"], got
    print(f"\ntail latency (REST answer included): {latency * 1000:.0f} ms")


# ---------------------------------------------------------------------------------------------------------
# refused changes leave no event


def test_refused_conversation_changes_leave_no_event(org, conv_log):
    conv, _ = inbound(org, rand_phone(), "refusals")
    cid = conv["id"]
    base = conv_log.events(org.id, has("message.received", conversationId=cid))
    last = base[-1].seq

    assert_error(action(org, cid, "reopen"), 409, "invalid_transition")  # OPEN -> OPEN by reopen
    assert_error(org.patch(f"/conversations/{cid}", json={"status": "ASSIGNED"}), 409, "invalid_transition")
    assert_error(action(org, cid, "assign", agentId=str(uuid.uuid4())), 404, "agent_not_found")
    assert_error(org.patch(f"/conversations/{cid}", json={"starred": "yes"}), 400, "invalid_field")
    assert get_conversation(org, cid)["status"] == "OPEN"
    tick()
    assert_json(org.patch(f"/conversations/{cid}", json={"starred": True}), 200)  # a sentinel

    with conv_log.subscribe(after=last, org_id=org.id) as s:
        s.wait(has("conversation.updated", conversationId=cid, change="star"), what="the sentinel")
        time.sleep(0.3)
        got = s.snapshot()
    assert [(e.type, e.payload.get("change")) for e in got] == [("conversation.updated", "star")], got


def test_refused_contact_changes_leave_no_event(org, contacts_log):
    phone = rand_phone()
    c = org.create_contact(phone=phone, name="Refusal Ray")
    base = contacts_log.events(org.id, has("contact.created", contactId=c["id"]))
    last = base[-1].seq

    assert_error(org.post("/contacts", json={"phone": "12", "name": "Bad"}), 400, "invalid_phone")
    assert_error(org.post("/contacts", json={"name": "Nobody"}), 400, "missing_identity")
    assert_error(org.post("/contacts", json={"phone": phone, "name": "Dup"}), 409, "contact_exists")
    assert_error(org.patch(f"/contacts/{c['id']}", json={"email": "not-an-email"}), 400, "invalid_email")
    assert_error(org.post(f"/contacts/{c['id']}/tags", json={"tags": "vip"}), 400)
    assert get_contact_name(org, c["id"]) == "Refusal Ray"
    tick()
    assert_json(org.patch(f"/contacts/{c['id']}", json={"name": "Sentinel Ray"}), 200)

    with contacts_log.subscribe(after=last, org_id=org.id) as s:
        s.wait(has("contact.updated", contactId=c["id"]), what="the sentinel")
        time.sleep(0.3)
        got = s.snapshot()
    assert [e.type for e in got] == ["contact.updated"], got
    assert got[0].payload["changes"] == {"name": {"from": "Refusal Ray", "to": "Sentinel Ray"}}, got


def get_contact_name(org, contact_id):
    return assert_json(org.get(f"/contacts/{contact_id}"), 200)["name"]


# ---------------------------------------------------------------------------------------------------------
# contacts log


def test_contact_created_updated_deleted(org, contacts_log):
    phone = rand_phone()
    c = org.create_contact(phone=phone, name="Carla Created", email="carla@example.com")
    assert_json(org.patch(f"/contacts/{c['id']}", json={"name": "Carla Changed", "email": None}), 200)
    tick()
    r = org.delete(f"/contacts/{c['id']}")
    assert r.status_code == 204, r.text

    evs = contacts_log.events(org.id, has("contact.deleted", contactId=c["id"]), what="contact.deleted")
    assert_well_formed(evs, org.id)
    mine = [e for e in evs if e.payload.get("contactId") == c["id"]]
    assert [e.type for e in mine] == ["contact.created", "contact.updated", "contact.deleted"], mine
    created, updated, deleted = mine
    for e in mine:
        assert e.subject == c["id"] and e.contact == c["id"] and e.org == org.id, e
    assert created.payload["name"] == "Carla Created" and created.payload["phone"] == phone, created
    assert created.payload["source"] == "api", created
    assert updated.payload["changes"] == {
        "name": {"from": "Carla Created", "to": "Carla Changed"},
        "email": {"from": "carla@example.com", "to": None},
    }, updated
    assert_documented(created, updated, deleted)


def test_tags_changed(org, contacts_log):
    c = org.create_contact(name="Tag Tina")
    assert_json(org.post(f"/contacts/{c['id']}/tags", json={"tags": [" VIP ", "lead"]}), 200)
    tick()
    assert_json(org.post(f"/contacts/{c['id']}/tags", json={"tags": ["vip"]}), 200)  # nothing new: no event
    tick()
    assert_json(org.delete(f"/contacts/{c['id']}/tags/lead"), 200)
    tick()
    assert_json(org.patch(f"/contacts/{c['id']}", json={"name": "Tag Tina Done"}), 200)  # a sentinel

    evs = contacts_log.events(org.id, has("contact.updated", contactId=c["id"]), what="the sentinel")
    assert_well_formed(evs, org.id)
    tags = find_all(evs, "tags.changed", contactId=c["id"])
    # adding a tag the contact already has changes nothing (the spec does not say whether that is an empty
    # event or none: empty ones are ignored here)
    tags = [e for e in tags if e.payload["added"] or e.payload["removed"]]
    assert len(tags) == 2, f"expected two tags.changed: {tags}"
    added, removed = tags
    assert added.subject == c["id"] and added.contact == c["id"], added
    assert sorted(added.payload["added"]) == ["lead", "vip"] and added.payload["removed"] == [], added
    assert removed.payload["added"] == [] and removed.payload["removed"] == ["lead"], removed
    assert_documented(added, removed)


def test_consent_changed_with_source_and_proof(org, contacts_log):
    c = org.create_contact(name="Consent Connie")
    assert_json(org.post(f"/contacts/{c['id']}/consent", json={"optedIn": True, "source": "agent",
                                                               "note": "said yes on the phone"}), 200)
    tick()
    assert_json(org.post(f"/contacts/{c['id']}/consent", json={"optedIn": False}), 200)

    evs = contacts_log.events(org.id, lambda evs: len(find_all(evs, "consent.changed", contactId=c["id"])) >= 2,
                              what="two consent.changed")
    assert_well_formed(evs, org.id)
    yes, no = find_all(evs, "consent.changed", contactId=c["id"])
    assert yes.subject == c["id"] and yes.contact == c["id"], yes
    assert yes.payload["optedIn"] is True and yes.payload["source"] == "agent", yes
    proof = yes.payload["proof"]
    assert isinstance(proof, dict) and proof.get("note") == "said yes on the phone", yes
    assert proof.get("actor", {}).get("kind") == "api_key" and proof["actor"].get("id") == org.key_id, proof
    assert no.payload["optedIn"] is False and no.payload["source"] == "api", no
    assert isinstance(no.payload["proof"], dict), no
    ledger = assert_json(org.get(f"/contacts/{c['id']}/consent"), 200)["data"]
    assert [(x["optedIn"], x["source"]) for x in ledger] == [(True, "agent"), (False, "api")], ledger
    assert_documented(yes, no)


def test_referral_attributes_the_contact_once(org, contacts_log, conv_log):
    phone = rand_phone()
    conv, msg = inbound(org, phone, "I saw your ad", name="Ad Andy", referral=REFERRAL_1)
    contact_id = msg["contactId"]
    wait_contact(org, contact_id, lambda c: "ctwa" in c["attributes"], what="ctwa attribution")
    inbound(org, phone, "and another ad", referral=REFERRAL_2)
    tick()
    assert_json(org.patch(f"/contacts/{contact_id}", json={"email": "andy@example.com"}), 200)  # a sentinel

    evs = contacts_log.events(
        org.id, lambda evs: any(e.type == "contact.updated" and "email" in e.payload.get("changes", {})
                                for e in evs if e.payload.get("contactId") == contact_id),
        what="the sentinel")
    assert_well_formed(evs, org.id)
    created = find(evs, "contact.created", contactId=contact_id)
    assert created is not None and created.payload["source"] == "inbound", evs
    assert created.payload["phone"] == phone and created.payload["name"] == "Ad Andy", created
    attributed = find_all(evs, "contact.attributed", contactId=contact_id)
    assert len(attributed) == 1, f"contact.attributed is first touch only: {attributed}"
    a = attributed[0]
    assert a.subject == contact_id and a.contact == contact_id and a.seq > created.seq, a
    p = a.payload
    assert p["sourceId"] == REFERRAL_1["source_id"], p
    assert p["sourceUrl"] == REFERRAL_1["source_url"], p
    assert p["sourceType"] == REFERRAL_1["source_type"], p
    assert p["headline"] == REFERRAL_1["headline"], p
    assert p["body"] == REFERRAL_1["body"], p
    assert p["ctwaClid"] == REFERRAL_1["ctwa_clid"], p
    assert_documented(created, a)

    with conv_log.subscribe(org_id=org.id) as s:
        opened = s.wait_for("conversation.opened", conversationId=conv["id"])
    ref = opened.payload["referral"]
    assert isinstance(ref, dict), opened
    assert ref["sourceId"] == REFERRAL_1["source_id"] and ref["headline"] == REFERRAL_1["headline"], ref
    assert ref["sourceUrl"] == REFERRAL_1["source_url"] and ref["ctwaClid"] == REFERRAL_1["ctwa_clid"], ref
    assert ref["sourceType"] == REFERRAL_1["source_type"] and ref["body"] == REFERRAL_1["body"], ref
