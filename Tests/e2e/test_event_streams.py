"""Limits and guarantees of GET /events/stream (docs/events.md, docs/rest-api.md): edge follows the conversations
log once and fans it out, so many open streams cannot stall the services; streams are capped per key and per
organisation (429 too_many_streams + Retry-After); a browser that stops reading is cut off without edge's memory
growing; revoking a key ends its streams; ids are opaque cursors that still resume exactly, from the hub's recent
events and from further back (the cluster runs with SWITCHBOARD_STREAM_RECENT_EVENTS=300).

Streams that are only held open (or never read) are raw sockets; streams that are read use the SSE reader of
test_timeline_sse."""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path

import pytest

from conftest import API, assert_error, assert_json, rand_phone
from inbound_helpers import conversations, new_sandbox_message_id, sandbox_inbound, wait_for
from test_timeline_sse import SSE, inbound, sse_has

PER_KEY = 20  # SWITCHBOARD_MAX_STREAMS_PER_KEY default
PER_ORG = 100  # SWITCHBOARD_MAX_STREAMS_PER_ORG default
RING = 300  # SWITCHBOARD_STREAM_RECENT_EVENTS in the test cluster
ID_FORMAT = re.compile(r"^[A-Za-z0-9_-]{48}$")
WAIT = 30.0


# ---------------------------------------------------------------------------------------------------------
# helpers


class RawStream:
    """GET /events/stream on a plain socket: the status and headers are read, the body only when asked."""

    def __init__(self, cluster, key: str, rcvbuf: int | None = None, last_event_id: str | None = None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(30)
        self.sock.connect(("127.0.0.1", cluster.ports["http"]))
        extra = f"Last-Event-ID: {last_event_id}\r\n" if last_event_id else ""
        self.sock.sendall((f"GET {API}/events/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
                           f"Accept: text/event-stream\r\n{extra}\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            assert chunk, f"connection closed before the response head: {head!r}"
            head += chunk
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split(" ")[1])
        self.headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class CountingReader(threading.Thread):
    """Reads a raw stream as fast as it comes and counts its events."""

    def __init__(self, stream: RawStream):
        super().__init__(daemon=True)
        self.stream, self.events, self.ended, self.stop = stream, 0, False, False
        self.start()

    def run(self):
        tail = b""
        self.stream.sock.settimeout(1.0)
        while not self.stop:
            try:
                chunk = self.stream.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not chunk:
                break
            data = tail + chunk
            self.events += data.count(b"\nevent: ")
            tail = data[-16:]
        self.ended = not self.stop


def new_key(org, name="streams") -> dict:
    return assert_json(org.post("/api-keys", json={"name": name, "role": "agent"}), 201)


def edge_pid(cluster) -> int:
    for pid in cluster.descendants():
        try:
            if Path(f"/proc/{pid}/exe").resolve().name == "edge":
                return pid
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
    raise AssertionError("no edge process found")


def still_served(cluster, client_ports: set[int]) -> set[int]:
    """Those of our client ports whose connection edge still holds open (its side ESTABLISHED in /proc/net/tcp):
    a connection edge closed is FIN_WAIT1 or gone, even while the kernel still holds data the client never read."""
    http_port, served = cluster.ports["http"], set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state = fields[1], fields[2], fields[3]
        if int(local.rsplit(":", 1)[1], 16) == http_port and state == "01":
            served.add(int(remote.rsplit(":", 1)[1], 16))
    return served & client_ports


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def flood_org(cluster):
    """An organisation with 100 open conversations: each bulk star or unstar writes 100 console events."""
    org = cluster.create_org()
    for _ in range(100):
        sandbox_inbound(org, "flood", phone=rand_phone(), message_id=new_sandbox_message_id())
    def all_there():
        found = conversations(org)
        return found if len(found) >= 100 else None

    convs = wait_for(all_there, 90, interval=1.0, what="100 conversations")
    org.flood_ids = [c["id"] for c in convs][:100]
    org.flood_round = 0
    return org


def flood(org, rounds: int) -> int:
    """`rounds` bulk stars/unstars of the flood org's conversations; the number of events written."""
    for _ in range(rounds):
        action = "star" if org.flood_round % 2 == 0 else "unstar"
        org.flood_round += 1
        body = assert_json(org.post("/conversations/bulk", json={"action": action, "ids": org.flood_ids}), 200)
        assert body["affected"] == len(org.flood_ids), body
    return rounds * len(org.flood_ids)


def story(org, s: SSE, steps: int = 3) -> list[dict]:
    """Writes an inbound message and `steps` star/unstar changes; answers the events `s` saw for them."""
    conv, msg = inbound(org, rand_phone(), "resume me")
    changes = ["star", "unstar"] * steps
    for i in range(steps):
        assert_json(org.patch(f"/conversations/{conv['id']}", json={"starred": i % 2 == 0}), 200)
    want = changes[steps - 1]
    s.wait(lambda evs: sum(1 for e in evs if e["data"].get("change") in ("star", "unstar")) >= steps
           and sse_has("conversation.updated", change=want)(evs), timeout=WAIT, what="the story")
    org.story_conv = conv
    events = s.snapshot()
    for e in events:
        assert e["id"] and ID_FORMAT.match(e["id"]), f"an id that is not an opaque cursor: {e['id']!r}"
    return events


def view(events: list[dict]) -> list[tuple]:
    return [(e["id"], e["event"], e["data"]) for e in events]


# ---------------------------------------------------------------------------------------------------------
# caps, and many streams not stalling anything


def test_streams_per_key_are_capped_with_429(cluster, org):
    streams = []
    try:
        for _ in range(PER_KEY):
            streams.append(RawStream(cluster, org.key))
            assert streams[-1].status == 200, streams[-1].status
        refused = RawStream(cluster, org.key)
        assert refused.status == 429, f"stream {PER_KEY + 1} of one key: {refused.status}"
        assert refused.headers.get("retry-after", "").isdigit(), refused.headers
        refused.close()
        resp = SSE(cluster, org.key)
        assert_error(resp.resp, 429, "too_many_streams", scope="key", limit=PER_KEY)
        resp.close()
        # another key of the same organisation still gets one
        other = RawStream(cluster, new_key(org)["key"])
        streams.append(other)
        assert other.status == 200, other.status
        # closing one makes room again (edge notices the closed connection)
        streams.pop(0).close()

        def reopened():
            s = RawStream(cluster, org.key)
            if s.status == 200:
                streams.append(s)
                return True
            s.close()
            return False

        wait_for(reopened, WAIT, interval=0.5, what="a stream after closing one")
    finally:
        for s in streams:
            s.close()


def test_many_streams_do_not_stall_other_tenants(cluster):
    big, small, bystander = cluster.create_org(), cluster.create_org(), cluster.create_org()

    def bystander_round() -> float:
        started = time.monotonic()
        health = cluster.health()
        assert health.status_code == 200, f"/healthz with {len(streams)} open streams: {health.status_code}"
        resp = bystander.get("/conversations")
        assert resp.status_code == 200, resp.text[:300]
        return time.monotonic() - started

    streams = []
    # the same reads before any stream is open: the bound below is relative to this machine, busy or not
    baseline = max(bystander_round() for _ in range(3))
    try:
        for _ in range(PER_ORG // PER_KEY):
            key = new_key(big)["key"]
            for _ in range(PER_KEY):
                streams.append(RawStream(cluster, key))
        for _ in range(10):
            streams.append(RawStream(cluster, small.key))
        statuses = [s.status for s in streams]
        assert statuses == [200] * len(streams), statuses
        assert len(streams) >= 110
        for _ in range(3):
            took = bystander_round()
            assert took < max(5.0, 5 * baseline), (
                f"another org's reads slowed down by open streams: {took:.2f} s, {baseline:.2f} s without them")
        # the organisation is at its cap, whichever key asks
        refused = RawStream(cluster, new_key(big)["key"])
        assert refused.status == 429 and refused.headers.get("retry-after"), (refused.status, refused.headers)
        refused.close()
        # and events still flow to a stream opened beside them
        with SSE(cluster, small.key) as s:
            assert s.resp.status_code == 200, s.resp.text[:300]
            time.sleep(0.5)
            _, msg = inbound(small, rand_phone(), "still live")
            s.wait(sse_has("message.created", messageId=msg["id"]), timeout=WAIT, what="an event beside 110 streams")
    finally:
        for s in streams:
            s.close()


# ---------------------------------------------------------------------------------------------------------
# slow readers


def test_stalled_readers_are_cut_off_and_memory_stays_bounded(cluster, flood_org):
    """40 streams that never read while thousands of events flow: edge cuts each off once its buffer is full (the
    kernel's socket buffers absorb the first few MB), its memory stays flat, and a stream that reads keeps going."""
    pid = edge_pid(cluster)
    keys = [new_key(flood_org)["key"] for _ in range(2)]
    stalled, reader = [], None
    try:
        before = rss_kib(pid)
        for i in range(40):
            stalled.append(RawStream(cluster, keys[i % 2], rcvbuf=4096))  # and never read
        assert [s.status for s in stalled] == [200] * 40
        ports = {s.port for s in stalled}
        assert still_served(cluster, ports) == ports
        reader = CountingReader(RawStream(cluster, flood_org.key))
        time.sleep(0.5)
        peak, written = before, 0
        while still_served(cluster, ports) and written < 20_000:
            written += flood(flood_org, 10)
            peak = max(peak, rss_kib(pid))
        left = still_served(cluster, ports)
        assert not left, f"{len(left)} of 40 stalled streams still open after {written} events"
        wait_for(lambda: reader.events >= written, WAIT, interval=0.5,
                 what=f"the reading stream to get all {written} events")
        assert not reader.ended, "the stream that kept reading was cut off too"
        peak = max(peak, rss_kib(pid))
        grown_mib = (peak - before) / 1024
        assert grown_mib < 64, f"edge grew {grown_mib:.0f} MiB ({before // 1024} → {peak // 1024} MiB)"
    finally:
        for s in stalled:
            s.close()
        if reader is not None:
            reader.stop = True
            reader.stream.close()
            reader.join(5)


# ---------------------------------------------------------------------------------------------------------
# revocation


def test_revoking_a_key_ends_its_open_streams(cluster, org):
    doomed, kept = new_key(org, "doomed"), new_key(org, "kept")
    with SSE(cluster, doomed["key"]) as s, SSE(cluster, kept["key"]) as k:
        assert s.resp.status_code == 200 and k.resp.status_code == 200
        time.sleep(0.5)
        resp = org.delete(f"/api-keys/{doomed['id']}")
        assert resp.status_code == 204, resp.text[:300]
        assert wait_ended(s), "the revoked key's stream still open 5 s after revocation"
        assert not k.done, "another key's stream ended with the revocation"
        _, msg = inbound(org, rand_phone(), "after revocation")
        k.wait(sse_has("message.created", messageId=msg["id"]), timeout=WAIT, what="the kept key's stream")
    again = SSE(cluster, doomed["key"])
    assert_error(again.resp, 401, "unauthorized")
    again.close()


def wait_ended(s: SSE, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    with s.cond:
        while not s.done and time.monotonic() < deadline:
            s.cond.wait(0.2)
    return s.done


def test_removing_an_agent_ends_the_streams_of_keys_acting_as_it(cluster, org):
    ag = assert_json(org.post("/agents", json={"name": "Gone Soon", "email": f"gone.{time.time_ns()}@example.com",
                                               "role": "agent"}), 201)
    key = assert_json(org.post("/api-keys", json={"name": "as agent", "role": "agent", "agentId": ag["id"]}), 201)
    with SSE(cluster, key["key"]) as s, SSE(cluster, org.key) as admin:
        assert s.resp.status_code == 200 and admin.resp.status_code == 200
        time.sleep(0.5)
        resp = org.delete(f"/agents/{ag['id']}")
        assert resp.status_code == 204, resp.text[:300]
        assert wait_ended(s), "the removed agent's stream still open 5 s after removal"
        assert not admin.done, "another key's stream ended with the agent"
    # the key itself keeps working, now without the agent
    with SSE(cluster, key["key"]) as again:
        assert again.resp.status_code == 200, again.resp.text[:300]


# ---------------------------------------------------------------------------------------------------------
# opaque ids and resuming


def test_ids_are_opaque_and_bound_to_the_org(cluster, org, other_org):
    with SSE(cluster, org.key) as a, SSE(cluster, org.key) as b:
        time.sleep(0.5)
        events = story(org, a, steps=2)
        b.wait(lambda evs: len(evs) >= len(events), timeout=WAIT, what="the second stream")
        assert view(b.snapshot()[:len(events)]) == view(events), "one event, two ids"
    ids = [e["id"] for e in events]
    for event_id in ids:
        assert ID_FORMAT.match(event_id), f"not an opaque cursor: {event_id!r}"
        assert not event_id.isdigit(), event_id
    assert len(set(ids)) == len(ids), ids
    for bad in (ids[0][:-1] + ("A" if ids[0][-1] != "A" else "B"), "12", "0", ids[0] + "x", "not an id"):
        assert_error(SSE(cluster, org.key, last_event_id=bad).resp, 400, "invalid_last_event_id")
        assert_error(org.get("/events/stream", params={"lastEventId": bad}), 400, "invalid_last_event_id")
    # another organisation's ids are refused, not resumed from
    assert_error(SSE(cluster, other_org.key, last_event_id=ids[0]).resp, 400, "invalid_last_event_id")


def test_resume_replays_exactly_the_missed_events(cluster, org):
    with SSE(cluster, org.key) as s:
        time.sleep(0.5)
        first = story(org, s, steps=3)
    assert len(first) >= 5, first
    for cut in (0, 2):
        with SSE(cluster, org.key, last_event_id=first[cut]["id"]) as again:
            got = again.wait(lambda evs: len(evs) >= len(first) - cut - 1, timeout=WAIT, what="the replay")
            time.sleep(0.5)
            assert view(again.snapshot()) == view(first[cut + 1:]), f"resume after event {cut}"
    # the lastEventId query parameter does the same
    r = org.get("/events/stream", params={"lastEventId": first[-1]["id"]}, stream=True, timeout=(5, 5))
    assert r.status_code == 200, r.text[:300]
    r.close()
    # from the last id: only what happens next
    with SSE(cluster, org.key, last_event_id=first[-1]["id"]) as again:
        time.sleep(0.5)
        assert again.snapshot() == [], again.snapshot()
        assert_json(org.post(f"/conversations/{org.story_conv['id']}/read"), 200)
        got = again.wait(sse_has("conversation.updated", change="read"), timeout=WAIT, what="read")
        assert [e["data"].get("change") for e in got] == ["read"], got


def test_a_stream_cut_before_any_event_resumes_from_where_it_opened(cluster):
    """A stream from now sends its cursor first (a bare id: line, no event): cut before any event, it resumes
    with that Last-Event-ID and gets exactly what happened meanwhile; a stream opened without it does not."""
    fresh = cluster.create_org()
    conv, _ = inbound(fresh, rand_phone(), "before the stream")
    time.sleep(1.0)  # the inbound's events are behind us
    with SSE(cluster, fresh.key) as s:
        start = s.wait_first_id(timeout=WAIT)
        assert ID_FORMAT.match(start), f"not an opaque cursor: {start!r}"
        assert s.events_before_first_id == 0, "the id must come before any event"
        time.sleep(0.5)
        assert s.snapshot() == [], f"the bare id: line must dispatch no event: {s.snapshot()}"
    # the cut: an event happens while no stream is open
    assert_json(fresh.patch(f"/conversations/{conv['id']}", json={"starred": True}), 200)
    time.sleep(0.5)
    with SSE(cluster, fresh.key) as without:
        time.sleep(1.0)
        assert without.snapshot() == [], "a stream from now must not get what happened before it"
        later = without.wait_first_id(timeout=WAIT)
        assert later != start, "the star moved the cursor on"
    with SSE(cluster, fresh.key, last_event_id=start) as again:
        got = again.wait(sse_has("conversation.updated", change="star"), timeout=WAIT, what="the missed star")
        time.sleep(0.5)
        got = again.snapshot()
        assert [(e["event"], e["data"].get("change")) for e in got] == [("conversation.updated", "star")], got
        assert got[0]["data"].get("conversationId") == conv["id"], got
        assert again.first_id == got[0]["id"], "a resumed stream sends no id of its own before the events"
    # another organisation cannot resume from it
    other = cluster.create_org()
    assert_error(SSE(cluster, other.key, last_event_id=start).resp, 400, "invalid_last_event_id")


def test_resume_from_before_the_recent_events(cluster, org, flood_org):
    """An id older than the hub's ring: replayed from the log for the org only, then handed over to live."""
    with SSE(cluster, org.key) as s:
        time.sleep(0.5)
        first = story(org, s, steps=2)
    flood(flood_org, (RING // 100) + 2)  # pushes the story out of the ring
    assert_json(org.patch(f"/conversations/{org.story_conv['id']}", json={"starred": True}), 200)
    with SSE(cluster, flood_org.key) as other:
        time.sleep(0.5)
        with SSE(cluster, org.key, last_event_id=first[0]["id"]) as again:
            want = len(first)  # first[1:] and the star after the flood
            got = again.wait(lambda evs: len(evs) >= want, timeout=WAIT, what="the replay from the log")
            assert view(got[:want - 1]) == view(first[1:]), "the replay differs from what was missed"
            assert got[want - 1]["data"].get("change") == "star", got[want - 1]
            # live after the handover: exactly once
            assert_json(org.patch(f"/conversations/{org.story_conv['id']}", json={"starred": False}), 200)
            got = again.wait(lambda evs: len(evs) >= want + 1, timeout=WAIT, what="live after the replay")
            flood(flood_org, 1)  # the other org's events never appear
            other.wait(lambda evs: len(evs) >= 100, timeout=WAIT, what="the flood org's own stream")
            time.sleep(1.0)
            got = again.snapshot()
            assert got[want]["data"].get("change") == "unstar", got[want:]
            assert len(got) == want + 1, f"doubles or another org's events: {view(got[want + 1:])}"
            ids = [e["id"] for e in got]
            assert len(set(ids)) == len(ids), "an event sent twice"
