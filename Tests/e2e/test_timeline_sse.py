"""What edge serves from the event logs (docs/events.md): a contact's timeline (built by analytics, which follows
the contacts, conversations and messaging logs asynchronously) and the Server-Sent Events stream of the caller's
organisation (edge follows the conversations log; the SSE `id:` is an opaque cursor, `Last-Event-ID` resumes).

The timeline is polled (analytics follows the logs on its own); SSE streams are read in a background thread with
a read timeout and closed by the test."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import uuid

import pytest
import requests

from conftest import API, assert_error, assert_json, parse_time, rand_phone, tick
from inbound_helpers import (
    messages,
    new_sandbox_message_id,
    sandbox_inbound,
    wait_contact,
    wait_for,
    wait_message,
)

TIMELINE_WAIT = 20.0  # analytics catches up with the logs within this
WAIT = 20.0
SSE_WAIT = 10.0  # an event reaches an open SSE stream within this
SETTLE = 1.0

ITEM_FIELDS = {"id", "kind", "type", "at", "conversationId", "messageId", "details"}
KINDS = {"message", "conversation", "consent", "tags", "contact", "import", "csat", "attribution"}
KIND_OF = {
    "contact.created": "contact",
    "consent.changed": "consent",
    "tags.changed": "tags",
    "conversation.opened": "conversation",
    "message.received": "message",
    "message.sent": "message",
    "conversation.assigned": "conversation",
    "conversation.resolved": "conversation",
}
# the scripted story, oldest first
STORY = ["contact.created", "consent.changed", "tags.changed", "conversation.opened", "message.received",
         "message.sent", "conversation.assigned", "conversation.resolved"]
STEP = 0.05  # seconds between the story's steps, so that their times differ


# ---------------------------------------------------------------------------------------------------------
# helpers


def agent(org, name="Agent"):
    email = f"{name.lower().replace(' ', '.')}.{uuid.uuid4().hex[:6]}@example.com"
    return assert_json(org.post("/agents", json={"name": name, "email": email, "role": "agent"}), 201)


def inbound(org, phone: str, text: str = "hello", **extra):
    mid = new_sandbox_message_id()
    sandbox_inbound(org, text, phone=phone, message_id=mid, **extra)
    conv, msg = wait_message(org, mid)
    tick()
    return conv, msg


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


def timeline(org, contact_id: str, **params) -> requests.Response:
    return org.get(f"/contacts/{contact_id}/timeline", params=params or None)


def timeline_all(org, contact_id: str, limit: int = 200, **params) -> list[dict]:
    items, cursor, seen_cursors = [], None, set()
    for _ in range(1000):
        query = dict(params, limit=limit)
        if cursor:
            query["cursor"] = cursor
        body = assert_json(timeline(org, contact_id, **query), 200)
        assert set(body) == {"data", "nextCursor"}, body
        assert len(body["data"]) <= limit, f"limit={limit}: {len(body['data'])} items"
        items += body["data"]
        cursor = body["nextCursor"]
        if not cursor:
            return items
        assert cursor not in seen_cursors, f"cursor repeated: {cursor}"
        seen_cursors.add(cursor)
    raise AssertionError("timeline pagination never ended")


def story_view(items: list[dict], message_ids: set[str]) -> list[dict]:
    """The story's own items, oldest first: the STORY types, the message items only for the story's two messages
    (resolving also sends a CSAT survey, another message.sent)."""
    mine = [i for i in items if i["type"] in KIND_OF
            and (i["kind"] != "message" or i.get("messageId") in message_ids)]
    return list(reversed(mine))


def swap_same_transaction(types: list[str]) -> list[str]:
    """conversation.opened and the message.received that opened it are written in one transaction (same time):
    either order is newest-first."""
    out = list(types)
    i = out.index("conversation.opened") if "conversation.opened" in out else -1
    if 0 <= i < len(out) - 1 and out[i + 1] == "message.received":
        out[i], out[i + 1] = out[i + 1], out[i]
    return out


# ---------------------------------------------------------------------------------------------------------
# the timeline: one scripted story per module


@pytest.fixture(scope="module")
def story(cluster):
    org = cluster.create_org()
    ag = agent(org, "Tim Line")
    phone = rand_phone()
    contact = org.create_contact(phone=phone, name="Tess Timeline")
    time.sleep(STEP)
    assert_json(org.post(f"/contacts/{contact['id']}/consent",
                         json={"optedIn": True, "source": "agent", "note": "asked at the counter"}), 200)
    time.sleep(STEP)
    assert_json(org.post(f"/contacts/{contact['id']}/tags", json={"tags": ["VIP", "timeline"]}), 200)
    time.sleep(STEP)
    conv, msg_in = inbound(org, phone, "hi, where is my order?")
    assert msg_in["contactId"] == contact["id"], "the sandbox message was not matched to the contact by phone"
    wait_contact(org, contact["id"], lambda c: c["optedIn"] is True)
    time.sleep(STEP)
    msg_out = send_text(org, conv["id"], "It ships today")
    wait_delivered(org, conv["id"], msg_out["id"])
    time.sleep(STEP)
    assert_json(org.post(f"/conversations/{conv['id']}/assign", json={"agentId": ag["id"]}), 200)
    time.sleep(STEP)
    assert_json(org.post(f"/conversations/{conv['id']}/resolve"), 200)

    def complete():
        items = timeline_all(org, contact["id"])
        types = [i["type"] for i in story_view(items, {msg_in["id"], msg_out["id"]})]
        if types not in (STORY, swap_same_transaction(STORY)):
            raise AssertionError(f"story items so far (oldest first): {types}")
        sent = next((i for i in items if i["type"] == "message.sent" and i.get("messageId") == msg_out["id"]), None)
        if sent is None:
            raise AssertionError(f"no message.sent item with messageId {msg_out['id']}: {items}")
        if (sent.get("details") or {}).get("status") != "delivered":
            raise AssertionError(f"sent message item not delivered yet: {sent}")
        # the resolution's CSAT survey is sent after it: wait for it too, so that no item arrives between two
        # reads of the tests below (they compare the timeline read twice)
        if not any(i["type"] == "csat.sent" for i in items):
            raise AssertionError(f"the CSAT survey of the resolution not on the timeline yet: {items}")
        return items

    items = wait_for(complete, TIMELINE_WAIT, interval=0.5, what="the complete timeline")
    return {"org": org, "agent": ag, "contact": contact, "conv": conv, "in": msg_in, "out": msg_out,
            "items": items, "phone": phone}


def test_timeline_lists_the_story_newest_first(story):
    items = story["items"]
    conv, msg_in, msg_out = story["conv"], story["in"], story["out"]
    for item in items:
        assert set(item) >= ITEM_FIELDS, f"timeline item fields: {sorted(item)}"
        assert item["kind"] in KINDS, item
        assert isinstance(item["details"], dict), item
        assert isinstance(item["id"], str) and item["id"], item
    assert len({i["id"] for i in items}) == len(items), "duplicate timeline item ids"
    times = [parse_time(i["at"]) for i in items]
    assert times == sorted(times, reverse=True), f"timeline not newest first: {[i['at'] for i in items]}"

    view = story_view(items, {msg_in["id"], msg_out["id"]})
    for item in view:
        assert item["kind"] == KIND_OF[item["type"]], item
    by_type = {i["type"]: i for i in view}

    created = by_type["contact.created"]
    assert created["details"]["contactId"] == story["contact"]["id"], created
    assert created["details"]["source"] == "api" and created["details"]["name"] == "Tess Timeline", created
    assert created["conversationId"] is None and created["messageId"] is None, created
    consent = by_type["consent.changed"]
    assert consent["details"]["optedIn"] is True and consent["details"]["source"] == "agent", consent
    tags = by_type["tags.changed"]
    assert sorted(tags["details"]["added"]) == ["timeline", "vip"], tags

    opened = by_type["conversation.opened"]
    assert opened["conversationId"] == conv["id"] and opened["details"]["openedBy"] == "inbound", opened
    received = by_type["message.received"]
    assert received["messageId"] == msg_in["id"] and received["conversationId"] == conv["id"], received
    assert received["details"]["text"] == "hi, where is my order?", received
    sent = by_type["message.sent"]
    assert sent["messageId"] == msg_out["id"] and sent["conversationId"] == conv["id"], sent
    assert sent["details"]["text"] == "It ships today" and sent["details"]["status"] == "delivered", sent
    assigned = by_type["conversation.assigned"]
    assert assigned["conversationId"] == conv["id"], assigned
    assert assigned["details"]["agentId"] == story["agent"]["id"], assigned
    resolved = by_type["conversation.resolved"]
    assert resolved["conversationId"] == conv["id"] and resolved["details"]["status"] == "RESOLVED", resolved
    assert resolved["details"]["agentId"] == story["agent"]["id"], resolved
    # the newest of the story is the resolution, the oldest the creation
    assert view[0]["type"] == "contact.created" and view[-1]["type"] == "conversation.resolved", view


@pytest.mark.parametrize("kinds", ["message,conversation", "consent", "tags,contact", "message"])
def test_timeline_kind_filter(story, kinds):
    org, contact = story["org"], story["contact"]
    wanted = set(kinds.split(","))
    everything = timeline_all(org, contact["id"])
    got = timeline_all(org, contact["id"], kind=kinds)
    assert got, f"kind={kinds}: nothing"
    assert {i["kind"] for i in got} <= wanted, f"kind={kinds}: {[i['kind'] for i in got]}"
    assert [i["id"] for i in got] == [i["id"] for i in everything if i["kind"] in wanted], kinds
    expected_types = {t for t, k in KIND_OF.items() if k in wanted}
    assert expected_types <= {i["type"] for i in got}, f"kind={kinds}: {[i['type'] for i in got]}"


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_timeline_cursor_pagination(story, limit):
    org, contact = story["org"], story["contact"]
    everything = timeline_all(org, contact["id"])
    assert len(everything) >= len(STORY)
    paged = timeline_all(org, contact["id"], limit=limit)
    ids = [i["id"] for i in paged]
    assert len(ids) == len(set(ids)), f"limit={limit}: duplicates across pages"
    assert ids == [i["id"] for i in everything], f"limit={limit}: pages differ from the whole list"
    # with a kind filter too
    convs = timeline_all(org, contact["id"], kind="conversation")
    assert [i["id"] for i in timeline_all(org, contact["id"], limit=limit, kind="conversation")] == \
        [i["id"] for i in convs]


def test_timeline_first_page_has_a_cursor(story):
    org, contact = story["org"], story["contact"]
    body = assert_json(timeline(org, contact["id"], limit=2), 200)
    assert len(body["data"]) == 2 and isinstance(body["nextCursor"], str) and body["nextCursor"], body
    whole = assert_json(timeline(org, contact["id"], limit=200), 200)
    assert whole["nextCursor"] is None, whole


def test_timeline_errors(story, cluster):
    org, contact = story["org"], story["contact"]
    assert_error(timeline(org, str(uuid.uuid4())), 404, "contact_not_found")
    assert_error(timeline(org, "not-a-contact"), 404, "contact_not_found")
    # a contact of another organisation is not found either
    other = cluster.create_org()
    theirs = other.create_contact(name="Not Yours")
    assert_error(timeline(org, theirs["id"]), 404, "contact_not_found")
    assert_error(timeline(other, contact["id"]), 404, "contact_not_found")
    assert_json(timeline(other, theirs["id"]), 200)
    # bad query parameters
    assert_error(timeline(org, contact["id"], kind="bogus"), 400)
    assert_error(timeline(org, contact["id"], kind="message,bogus"), 400)
    for bad in ("0", "201", "abc", "-1"):
        assert_error(timeline(org, contact["id"], limit=bad), 400, "invalid_query", parameter="limit")
    assert_error(timeline(org, contact["id"], cursor="!!not-a-cursor!!"), 400, "invalid_cursor")
    # authentication
    assert_error(org.get(f"/contacts/{contact['id']}/timeline", key=None), 401, "unauthorized")
    assert_error(org.get(f"/contacts/{contact['id']}/timeline", key="sbk_nope"), 401, "unauthorized")


def test_timeline_of_a_new_contact(org):
    c = org.create_contact(name="Fresh Fay")

    def created():
        items = timeline_all(org, c["id"])
        return items if [i["type"] for i in items] == ["contact.created"] else None

    items = wait_for(created, TIMELINE_WAIT, interval=0.5, what="contact.created on the timeline")
    assert items[0]["kind"] == "contact" and items[0]["details"]["contactId"] == c["id"], items


def test_a_merged_away_contacts_timeline_moves_to_the_surviving_contact(org):
    """One person known first by phone, then by WhatsApp user id, then by both: the two contacts merge, and the
    timeline of the one that survives tells the whole story, the other one's items included."""
    user_id = f"US.{uuid.uuid4().int % 10**18}"
    phone = rand_phone()
    _, by_phone = inbound(org, phone, "by phone", name="Merge Me")
    _, by_id = inbound(org, None, "by id", whatsappUserId=user_id)
    assert by_phone["contactId"] != by_id["contactId"]
    for m in (by_phone, by_id):  # each contact's timeline has its own first message before the merge
        wait_for(lambda m=m: m["id"] in {i["messageId"] for i in timeline_all(org, m["contactId"])}, TIMELINE_WAIT,
                 interval=0.3, what="the message on its contact's timeline")
    _, both = inbound(org, phone, "both at once", whatsappUserId=user_id)
    survivor = both["contactId"]
    assert survivor in (by_phone["contactId"], by_id["contactId"]), both
    merged_away = ({by_phone["contactId"], by_id["contactId"]} - {survivor}).pop()
    wanted = {by_phone["id"], by_id["id"], both["id"]}

    def whole_story():
        items = timeline_all(org, survivor)
        return items if wanted <= {i["messageId"] for i in items} and any(
            i["type"] == "contact.merged" for i in items) else None

    items = wait_for(whole_story, TIMELINE_WAIT, interval=0.3, what="the merged contact's items on the survivor")
    opened = [i for i in items if i["type"] == "conversation.opened"]
    assert len(opened) >= 1, items
    merged = next(i for i in items if i["type"] == "contact.merged")
    assert merged["details"]["mergedContactId"] == merged_away, merged
    # nothing is left behind on the contact that is gone
    r = timeline(org, merged_away)
    if r.status_code == 200:
        assert r.json()["data"] == [], r.json()
    else:
        assert_error(r, 404, "contact_not_found")


# ---------------------------------------------------------------------------------------------------------
# Server-Sent Events


class SSE:
    """GET /events/stream read in a background thread; `events` collects `{"id", "event", "data"}` dicts."""

    def __init__(self, cluster, key, last_event_id=None):
        headers = {"Accept": "text/event-stream"}
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.resp = requests.get(cluster.base_url + API + "/events/stream", headers=headers, stream=True,
                                 timeout=(5, 40), hooks={"response": cluster._record})
        self.events: list[dict] = []
        # as EventSource: the last `id:` seen, also from a block without data (which dispatches no event), and how
        # many events had arrived when the first id came
        self.last_id: str | None = None
        self.first_id: str | None = None
        self.events_before_first_id: int | None = None
        self.comments = 0
        self.error: BaseException | None = None
        self.done = False
        self.closing = False
        self.cond = threading.Condition()
        self.thread = None
        if self.resp.status_code == 200:
            self.thread = threading.Thread(target=self._run, daemon=True, name="sse")
            self.thread.start()

    def _dispatch(self, fields: dict):
        if "id" in fields:
            with self.cond:
                self.last_id = fields["id"]
                if self.first_id is None:
                    self.first_id, self.events_before_first_id = fields["id"], len(self.events)
                self.cond.notify_all()
        if "data" not in fields and "event" not in fields:
            return
        ev = {"id": fields.get("id"), "event": fields.get("event", "message"), "raw": "\n".join(fields.get("data", []))}
        try:
            ev["data"] = json.loads(ev["raw"])
        except ValueError:
            ev["data"] = None
        with self.cond:
            self.events.append(ev)
            self.cond.notify_all()

    def _run(self):
        buf = b""
        fields: dict = {}
        try:
            for chunk in self.resp.iter_content(chunk_size=1):
                if not chunk:
                    continue
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    line = line.rstrip(b"\r").decode()
                    if line == "":
                        self._dispatch(fields)
                        fields = {}
                    elif line.startswith(":"):
                        with self.cond:
                            self.comments += 1
                    else:
                        name, _, value = line.partition(":")
                        if value.startswith(" "):
                            value = value[1:]
                        if name == "data":
                            fields.setdefault("data", []).append(value)
                        elif name in ("id", "event", "retry"):
                            fields[name] = value
        except BaseException as e:
            if not self.closing:
                self.error = e
        finally:
            with self.cond:
                self.done = True
                self.cond.notify_all()

    def snapshot(self) -> list[dict]:
        with self.cond:
            return list(self.events)

    def wait(self, predicate, timeout: float = SSE_WAIT, what: str = "events") -> list[dict]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                if predicate(self.events):
                    return list(self.events)
                if self.error is not None:
                    raise AssertionError(f"SSE stream failed ({self.error!r}) waiting for {what}; got {self.events}")
                if self.done:
                    raise AssertionError(f"SSE stream ended waiting for {what}; got {self.events}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"SSE: {what} not within {timeout}s; got {self.events}")
                self.cond.wait(min(remaining, 0.5))

    def wait_first_id(self, timeout: float = SSE_WAIT) -> str:
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.first_id is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.done:
                    raise AssertionError(f"SSE: no id: line within {timeout}s; got {self.events}")
                self.cond.wait(min(remaining, 0.5))
            return self.first_id

    def close(self):
        self.closing = True
        try:
            sock = None
            conn = getattr(self.resp.raw, "_connection", None)
            if conn is not None:
                sock = getattr(conn, "sock", None)
            if sock is None:
                fp = getattr(self.resp.raw, "_fp", None)
                sock = getattr(getattr(getattr(fp, "fp", None), "raw", None), "_sock", None)
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.resp.close()
        if self.thread is not None:
            self.thread.join(10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def sse_find(events, event: str, **match):
    for e in events:
        if e["event"] == event and isinstance(e["data"], dict) and all(e["data"].get(k) == v for k, v in match.items()):
            return e
    return None


def sse_has(event: str, **match):
    return lambda evs: sse_find(evs, event, **match) is not None


def open_stream(cluster, org, **kw) -> SSE:
    s = SSE(cluster, org.key, **kw)
    assert s.resp.status_code == 200, f"GET /events/stream: {s.resp.status_code} {s.resp.text[:300]}"
    ctype = s.resp.headers.get("Content-Type", "")
    assert ctype.startswith("text/event-stream"), f"Content-Type {ctype!r}"
    time.sleep(0.5)  # let edge take its starting point in the log
    return s


def assert_sse_well_formed(events: list[dict]) -> None:
    ids = []
    for e in events:
        assert e["event"] in ("conversation.updated", "message.created", "message.status"), e
        assert isinstance(e["data"], dict), f"data is not a JSON object: {e}"
        assert isinstance(e["data"].get("type"), str) and "at" in e["data"], e
        if e["event"] == "conversation.updated":
            assert e["data"]["type"].startswith("conversation."), e
        elif e["event"] == "message.created":
            assert e["data"]["type"] in ("message.received", "message.sent"), e
        else:
            assert e["data"]["type"] == "message.status", e
        assert e["id"] is not None and re.fullmatch(r"[A-Za-z0-9_-]{48}", e["id"]), f"id must be opaque: {e}"
        ids.append(e["id"])
    assert len(ids) == len(set(ids)), f"SSE ids repeated: {ids}"


def test_stream_requires_an_api_key(cluster):
    for key in (None, "sbk_not-a-key"):
        s = SSE(cluster, key)
        try:
            assert_error(s.resp, 401, "unauthorized")
        finally:
            s.close()


def test_stream_shows_inbound_and_send(cluster, org):
    phone = rand_phone()
    with open_stream(cluster, org) as s:
        conv, msg = inbound(org, phone, "hello stream", name="Sam Stream")
        evs = s.wait(lambda evs: sse_has("conversation.updated", conversationId=conv["id"])(evs)
                     and sse_has("message.created", messageId=msg["id"])(evs), what="inbound events")
        opened = sse_find(evs, "conversation.updated", conversationId=conv["id"])
        created = sse_find(evs, "message.created", messageId=msg["id"])
        assert evs.index(opened) < evs.index(created), evs
        assert opened["data"]["type"] == "conversation.opened", opened
        assert opened["data"]["contactId"] == msg["contactId"] and opened["data"]["status"] == "OPEN", opened
        assert opened["data"]["channelId"] == conv["channelId"], opened
        assert created["data"]["type"] == "message.received", created
        assert created["data"]["conversationId"] == conv["id"] and created["data"]["text"] == "hello stream", created

        wait_contact(org, msg["contactId"], lambda c: c["optedIn"] is True)
        out = send_text(org, conv["id"], "hello back")
        evs = s.wait(sse_has("message.status", messageId=out["id"], status="delivered"), what="delivered status")
        sent = sse_find(evs, "message.created", messageId=out["id"])
        assert sent is not None, f"no message.created for the sent message: {evs}"
        assert sent["data"]["type"] == "message.sent" and sent["data"]["text"] == "hello back", sent
        status = sse_find(evs, "message.status", messageId=out["id"], status="delivered")
        assert evs.index(sent) < evs.index(status), evs
        assert status["data"]["conversationId"] == conv["id"], status

        assert_json(org.post(f"/conversations/{conv['id']}/read"), 200)
        evs = s.wait(sse_has("conversation.updated", conversationId=conv["id"], change="read"), what="read")
        assert sse_find(evs, "conversation.updated", change="read")["data"]["type"] == "conversation.updated"
    assert_sse_well_formed(evs)


def test_stream_ids_are_not_log_sequences(cluster, org):
    """`id:` is an opaque cursor: not the conversations log sequence Subscribe gives the event (whose gaps would
    show other organisations' volume)."""
    grpc = pytest.importorskip("grpc")
    from common.v1 import common_pb2
    from conversations.v1 import conversations_pb2_grpc

    with open_stream(cluster, org) as s:
        conv, msg = inbound(org, rand_phone(), "which sequence?")
        evs = s.wait(sse_has("message.created", messageId=msg["id"]), what="message.created")
    sse_ids = {e["data"]["type"]: e["id"] for e in evs}

    ch = grpc.insecure_channel(f"127.0.0.1:{cluster.ports['conversations']}")
    try:
        stub = conversations_pb2_grpc.ConversationsServiceStub(ch)
        call = stub.Subscribe(common_pb2.SubscribeRequest(after_sequence=0, org_id=org.id),
                              metadata=(("x-switchboard-token", cluster.internal_token),), timeout=20)
        log = {}
        try:
            for batch in call:
                for e in batch.events:
                    log[e.type] = e.sequence
                if "message.received" in log:
                    break
        finally:
            call.cancel()
    finally:
        ch.close()
    assert set(sse_ids) >= {"conversation.opened", "message.received"}, sse_ids
    for kind in ("conversation.opened", "message.received"):
        assert str(log[kind]) not in sse_ids[kind], (sse_ids, log)
        assert not sse_ids[kind].isdigit(), sse_ids


def test_stream_never_shows_another_org(cluster, org, other_org):
    with open_stream(cluster, org) as mine, open_stream(cluster, other_org) as theirs:
        conv_b, msg_b = inbound(other_org, rand_phone(), "for B only")
        conv_a, msg_a = inbound(org, rand_phone(), "for A only")
        theirs.wait(sse_has("message.created", messageId=msg_b["id"]), what="B's message on B's stream")
        mine.wait(sse_has("message.created", messageId=msg_a["id"]), what="A's message on A's stream")
        time.sleep(SETTLE)
        a_evs, b_evs = mine.snapshot(), theirs.snapshot()
    a_convs = {e["data"].get("conversationId") for e in a_evs}
    b_convs = {e["data"].get("conversationId") for e in b_evs}
    assert a_convs == {conv_a["id"]}, a_evs
    assert b_convs == {conv_b["id"]}, b_evs
    for e in a_evs:
        assert msg_b["contactId"] not in json.dumps(e["data"]), e
    assert_sse_well_formed(a_evs)
    assert_sse_well_formed(b_evs)


def test_last_event_id_replays_what_followed(cluster, org):
    phone = rand_phone()
    with open_stream(cluster, org) as s:
        conv, msg = inbound(org, phone, "first")
        wait_contact(org, msg["contactId"], lambda c: c["optedIn"] is True)
        out = send_text(org, conv["id"], "reply")
        assert_json(org.patch(f"/conversations/{conv['id']}", json={"starred": True}), 200)
        first = s.wait(lambda evs: sse_has("message.status", messageId=out["id"], status="delivered")(evs)
                       and sse_has("conversation.updated", change="star")(evs), what="the first run")
    assert_sse_well_formed(first)
    assert len(first) >= 5, first  # opened, received, sent, status, star
    last_id = first[-1]["id"]
    for cut in (0, 2):
        resume_after = first[cut]["id"]
        with SSE(cluster, org.key, last_event_id=resume_after) as again:
            assert again.resp.status_code == 200, again.resp.text[:300]
            got = again.wait(lambda evs: any(e["id"] == last_id for e in evs),
                             what=f"the replay after {resume_after}")
        got = got[:[e["id"] for e in got].index(last_id) + 1]
        want = first[cut + 1:]
        assert [(e["id"], e["event"], e["data"]) for e in got] == [(e["id"], e["event"], e["data"]) for e in want], \
            f"Last-Event-ID {resume_after}"
    # resuming from the last id: only what happens next
    with SSE(cluster, org.key, last_event_id=last_id) as again:
        time.sleep(0.5)
        assert again.snapshot() == [], again.snapshot()
        assert_json(org.patch(f"/conversations/{conv['id']}", json={"starred": False}), 200)
        got = again.wait(sse_has("conversation.updated", change="unstar"), what="unstar")
    assert [e["data"].get("change") for e in got] == ["unstar"], got
    assert got[0]["id"] not in {e["id"] for e in first}
