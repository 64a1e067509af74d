"""Outbound sending survives a crash of messaging: 300 distinct texts (30 conversations x 10) are accepted (202)
quickly on a WhatsApp channel whose provider (the Meta fake) answers each send 0.2 s late; while deliveries are in
flight the messaging service is SIGKILLed and the launcher restarts it. Afterwards every accepted message reaches
the provider (by text), every one ends `sent`, and at most SWITCHBOARD_SEND_INFLIGHT (8) texts were sent twice
(the requests the provider had received when the process died, whose answers were lost).

Reads during the outage go through this module's own sessions (edge may answer 503/504 while messaging restarts)."""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import API, kill_and_wait_for_restart, rand_phone, unique, wait_healthy
from fakes.meta_graph import FakeGraphAPI, text_of
from inbound_helpers import (
    create_whatsapp_channel,
    digits,
    send_whatsapp,
    text_payload,
    wait_for,
)

SENDERS = 30
PER_SENDER = 10
TOTAL = SENDERS * PER_SENDER
THREADS = 8
INFLIGHT = 8  # SWITCHBOARD_SEND_INFLIGHT of the test cluster
PROVIDER_DELAY = 1.0  # with INFLIGHT, at most 8 sends/s reach the fake: 300 take > 37 s, however slowly a busy
# machine accepts them, so some are always in flight when messaging is killed
DELIVERY_DEADLINE = 150.0
ACCEPT_DEADLINE = 60.0  # one send retried (same Idempotency-Key) at most this long
TRANSIENT_5XX = (503, 504)


class Reader:
    """GETs with the org's key on its own session; a non-200 answers None (retried by the caller), a 5xx other
    than 503/504 is remembered."""

    def __init__(self, cluster, org):
        self.base = cluster.base_url + API
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {org.key}"
        self.server_errors: list[tuple[str, int, str]] = []
        self.last = ""

    def get(self, path: str, params: dict | None = None):
        try:
            r = self.session.get(self.base + path, params=params, timeout=30)
        except requests.RequestException as e:
            self.last = f"GET {path}: {e!r}"
            return None
        if r.status_code != 200:
            self.last = f"GET {path}: {r.status_code} {r.text[:200]}"
            if r.status_code >= 500 and r.status_code not in TRANSIENT_5XX:
                self.server_errors.append((path, r.status_code, r.text[:300]))
            return None
        return r.json()

    def all(self, path: str) -> list[dict] | None:
        items, cursor = [], None
        while True:
            params = {"limit": 200}
            if cursor:
                params["cursor"] = cursor
            body = self.get(path, params)
            if body is None:
                return None
            items += body["data"]
            cursor = body.get("nextCursor")
            if not cursor:
                return items

    def close(self):
        self.session.close()


@pytest.mark.allow_unavailable
def test_sigkill_of_messaging_mid_batch_sends_every_message(cluster):
    org = cluster.create_org()
    health = requests.Session()
    with FakeGraphAPI() as fake:
        wa = create_whatsapp_channel(org, graphApiBaseUrl=fake.base_url, messagesPerSecond=200,
                                     name=unique("Send crash "))
        fake.add_number(wa.phone_number_id, wa.access_token)
        run = secrets.token_hex(3)

        # 30 customers write first: opted in, windows open
        phones = [rand_phone() for _ in range(SENDERS)]
        for p in phones:
            send_whatsapp(cluster, wa, text_payload(wa.phone_number_id, f"hi from {p}", sender=digits(p)))

        def all_conversations():
            convs = org.list_all("/conversations")
            return convs if len(convs) == SENDERS else None

        convs = wait_for(all_conversations, 30, what=f"{SENDERS} conversations")
        conv_of = {c["contact"]["phone"]: c["id"] for c in convs}
        assert set(conv_of) == set(phones), conv_of

        def all_opted_in():
            return all(c["optedIn"] for c in org.list_all("/contacts")) or None

        wait_for(all_opted_in, 20, what="every contact opted in")

        fake.delay(PROVIDER_DELAY)
        jobs = [(phones[s], f"crash {run} s{s:02d} n{n:02d}") for n in range(PER_SENDER) for s in range(SENDERS)]
        texts = {text for _, text in jobs}
        assert len(texts) == TOTAL

        local = threading.local()
        sessions: list[requests.Session] = []

        def post(job):
            """One send, retried after a timeout or a 503/504 under the same Idempotency-Key (as an API client
            should): on a busy machine a lost answer must not become a second message."""
            phone, text = job
            s = getattr(local, "s", None)
            if s is None:
                s = local.s = requests.Session()
                s.headers["Authorization"] = f"Bearer {org.key}"
                sessions.append(s)
            key = f"{run}-{secrets.token_hex(8)}"
            deadline = time.monotonic() + ACCEPT_DEADLINE
            while True:
                try:
                    r = s.post(cluster.url(f"/conversations/{conv_of[phone]}/messages"),
                               json={"type": "text", "text": text}, headers={"Idempotency-Key": key}, timeout=30)
                    if r.status_code not in TRANSIENT_5XX or time.monotonic() > deadline:
                        break
                except requests.RequestException:
                    if time.monotonic() > deadline:
                        raise
                time.sleep(0.2)
            return phone, text, r.status_code, (r.json() if r.headers.get("Content-Type", "").startswith(
                "application/json") else r.text[:200])

        started = time.monotonic()
        with ThreadPoolExecutor(THREADS) as pool:
            answers = list(pool.map(post, jobs))
        accept_seconds = time.monotonic() - started
        for s in sessions:
            s.close()
        refused = [(t, st, b) for _, t, st, b in answers if st != 202]
        assert not refused, f"{len(refused)} sends not accepted, e.g. {refused[:3]}"
        accepted = {t: (conv_of[p], b["id"]) for p, t, _, b in answers}
        assert len(accepted) == TOTAL

        at_kill = len(fake.requests)
        assert at_kill < TOTAL, (
            f"all {TOTAL} sends reached the provider within the {accept_seconds:.1f}s it took to accept them: "
            "nothing was in flight to kill")
        kill = kill_and_wait_for_restart(cluster, health, "messaging")
        wait_healthy(cluster, health)

        # every accepted text reaches the provider
        deadline = time.monotonic() + DELIVERY_DEADLINE
        while True:
            seen = Counter(text_of(r["body"]) for r in fake.requests)
            missing = texts - set(seen)
            if not missing:
                break
            assert time.monotonic() < deadline, (
                f"{len(missing)} of {TOTAL} accepted messages never reached the provider within "
                f"{DELIVERY_DEADLINE:.0f}s of the restart (e.g. {sorted(missing)[:5]}); kill {kill}\n{cluster.log_tail(60)}")
            time.sleep(0.5)

        # every message ends `sent`, with one of the wamids the provider answered for its text
        reader = Reader(cluster, org)
        try:
            last = ""
            while True:
                # late re-sends after the restart answer new wamids: read the provider's record on every pass
                wamids_of: dict[str, set[str]] = {}
                for r in fake.requests:
                    wamids_of.setdefault(text_of(r["body"]), set()).add(r["wamid"])
                statuses: Counter = Counter()
                wrong_id = []
                complete = True
                for conv_id in set(conv_of.values()):
                    listed = reader.all(f"/conversations/{conv_id}/messages")
                    if listed is None:
                        complete = False
                        break
                    for m in listed:
                        if m["direction"] != "outbound":
                            continue
                        statuses[m["status"]] += 1
                        if m["status"] == "sent" and m["providerMessageId"] not in wamids_of.get(m["text"], set()):
                            wrong_id.append((m["text"], m["providerMessageId"]))
                if complete:
                    last = f"statuses {dict(statuses)}"
                    assert statuses.get("failed", 0) == 0, f"messages failed after the crash: {last}"
                    assert sum(statuses.values()) == TOTAL, f"expected {TOTAL} outbound messages: {last}"
                    if statuses.get("sent", 0) == TOTAL:
                        given = {r["wamid"]: text_of(r["body"]) for r in fake.requests}
                        assert not wrong_id, (
                            "sent messages with a wamid the provider never gave their text (text, wamid, the text the "
                            f"provider gave that wamid to): {[(t, w, given.get(w)) for t, w in wrong_id[:5]]}")
                        break
                else:
                    last = reader.last
                assert time.monotonic() < deadline, f"not every message sent in time: {last}"
                time.sleep(0.5)
            assert not reader.server_errors, f"server errors while reading: {reader.server_errors[:3]}"
        finally:
            reader.close()

        ours = [r for r in fake.requests if text_of(r["body"]) in texts]
        counts = Counter(text_of(r["body"]) for r in ours)
        duplicated = {t: n for t, n in counts.items() if n > 1}
        extra = len(ours) - len(counts)
        print(f"\nsend crash test: {TOTAL} sends accepted in {accept_seconds:.1f}s; {at_kill} had reached the "
              f"provider at the kill; kill {kill}; provider received {len(ours)} requests for {len(counts)} "
              f"distinct texts: {len(duplicated)} texts duplicated ({extra} extra requests); rejected "
              f"{len(fake.rejected)}")
        assert extra <= INFLIGHT and len(duplicated) <= INFLIGHT, (
            f"{extra} duplicate sends ({len(duplicated)} texts) after the crash; at most {INFLIGHT} may be in flight: "
            f"{dict(list(duplicated.items())[:10])}")
        fake.delay(0)
    health.close()
