"""Webhook ingestion survives crashes: 2,000 distinct signed WhatsApp Cloud API webhooks (100 senders x 20
messages) are posted by 8 threads that, like the provider, post each one again after any answer but
`200 {"status": "accepted"}`. After a third of them were acknowledged the conversations service is SIGKILLed,
after two thirds the contacts service; the launcher restarts each. Every acknowledged webhook must then be
exactly one message (by provider message id) in exactly one conversation per sender, each sender exactly one
contact, and webhooks delivered again after the restarts must stay deduplicated.

Webhooks go through this module's own `requests.Session`s, not `cluster.session`: while a service is down edge
may answer 503/504, which the poster retries; a 500 (or any other 5xx) is still a failure, asserted here."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import secrets
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests

from conftest import API, assert_json, kill_and_wait_for_restart, rand_phone, service_serving, unique, wait_healthy

SENDERS = 100
PER_SENDER = 20
TOTAL = SENDERS * PER_SENDER
THREADS = 8
REDELIVERED = 50
POST_TIMEOUT = 30.0  # one webhook POST (retried with the same wamid, so a late answer is never a second message)
POST_DEADLINE = 75.0  # every webhook of a batch acknowledged within this
VISIBLE_DEADLINE = 60.0  # every acknowledged message visible in the inbox within this, once all is healthy
# Answers that no outage explains (4xx, or 200 without "accepted", e.g. `unknown_channel`): a webhook that gets
# only these this many times in a row stops the run, so a contract mismatch fails fast instead of at the deadline.
MAX_NON_TRANSIENT = 8
TRANSIENT_5XX = (503, 504)


# ---------------------------------------------------------------------------------------------------------
# signed webhooks


@dataclass(frozen=True)
class Webhook:
    wamid: str
    phone: str  # the sender's E.164 phone (`wa_id` is it without the `+`)
    body: bytes
    signature: str


class Channel:
    """A WhatsApp Cloud API channel of one organisation and the webhooks its provider would send."""

    def __init__(self, org, name: str):
        self.phone_number_id = str(random.SystemRandom().randrange(10**14, 10**15))
        self.app_secret = secrets.token_hex(16)
        body = {
            "kind": "whatsapp_cloud", "name": name, "phoneNumberId": self.phone_number_id,
            "appSecret": self.app_secret, "accessToken": "x", "verifyToken": unique("verify"),
        }
        self.raw = assert_json(org.post("/channels", json=body), 201)
        self.id = self.raw["id"]

    def webhook(self, phone: str, name: str, wamid: str, text: str) -> Webhook:
        wa_id = phone.lstrip("+")
        payload = {
            "object": "whatsapp_business_account",
            "entry": [{
                "id": "8856996819413533",
                "changes": [{
                    "field": "messages",
                    "value": {
                        "messaging_product": "whatsapp",
                        "metadata": {"display_phone_number": "15550001111", "phone_number_id": self.phone_number_id},
                        "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
                        "messages": [{
                            "from": wa_id, "id": wamid, "timestamp": str(int(time.time())),
                            "type": "text", "text": {"body": text},
                        }],
                    },
                }],
            }],
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        signature = "sha256=" + hmac.new(self.app_secret.encode(), body, hashlib.sha256).hexdigest()
        return Webhook(wamid, phone, body, signature)


def _accepted(text: str) -> bool:
    try:
        body = json.loads(text)
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("status") == "accepted"


class Poster:
    """Posts webhooks as the provider does: again (short backoff) after any answer but 200 accepted, or after a
    connection error, until a deadline. Counts every answer; remembers the forbidden ones (5xx but 503/504)."""

    def __init__(self, base_url: str):
        self.url = base_url + "/webhooks/whatsapp"
        self.local = threading.local()
        self.sessions: list[requests.Session] = []
        self.lock = threading.Lock()
        self.answers: Counter = Counter()
        self.forbidden: list[tuple[str, int, str]] = []
        self.accepted = 0
        self.stop = threading.Event()
        self.failure: str | None = None

    def session(self) -> requests.Session:
        s = getattr(self.local, "session", None)
        if s is None:
            s = self.local.session = requests.Session()
            with self.lock:
                self.sessions.append(s)
        return s

    def fail(self, why: str) -> None:
        with self.lock:
            self.failure = self.failure or why
        self.stop.set()

    def post(self, hook: Webhook, deadline: float) -> bool:
        delay, non_transient = 0.02, 0
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": hook.signature}
        while not self.stop.is_set():
            try:
                r = self.session().post(self.url, data=hook.body, headers=headers, timeout=POST_TIMEOUT)
                status, text = r.status_code, r.text
            except requests.RequestException as e:
                status, text = type(e).__name__, str(e)
            ok = status == 200 and _accepted(text)
            with self.lock:
                self.answers["200 accepted" if ok else f"{status} {text[:60]}" if status == 200 else status] += 1
                if ok:
                    self.accepted += 1
                elif isinstance(status, int) and status >= 500 and status not in TRANSIENT_5XX:
                    self.forbidden.append((hook.wamid, status, text[:300]))
            if ok:
                return True
            non_transient = non_transient + 1 if isinstance(status, int) and status < 500 else 0
            if non_transient >= MAX_NON_TRANSIENT:
                self.fail(f"{hook.wamid}: {non_transient} answers in a row that no outage explains, last {status} "
                          f"{text[:300]}")
                return False
            if time.monotonic() + delay > deadline:
                self.fail(f"{hook.wamid}: not accepted before the deadline, last answer {status} {text[:300]}")
                return False
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        return False

    def close(self) -> None:
        for s in self.sessions:
            s.close()

    def summary(self) -> str:
        return f"{self.accepted} accepted; answers {dict(self.answers)}"


def post_all(poster: Poster, hooks: list[Webhook], deadline: float, during=None) -> None:
    """Posts `hooks` on THREADS threads (all must be accepted); `during()` runs on this thread meanwhile."""
    pool = ThreadPoolExecutor(THREADS, thread_name_prefix="webhook")
    try:
        futures = [pool.submit(poster.post, hook, deadline) for hook in hooks]
        if during is not None:
            during()
        done = [f.result() for f in futures]
    finally:
        poster.stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        poster.close()
    assert poster.failure is None, f"webhooks not acknowledged: {poster.failure}; {poster.summary()}"
    assert all(done) and poster.accepted == len(hooks), f"{len(hooks)} webhooks: {poster.summary()}"
    assert not poster.forbidden, (
        f"edge answered {len(poster.forbidden)} webhook(s) with a server error other than 503/504 "
        f"(first: {poster.forbidden[:3]}); {poster.summary()}")


# ---------------------------------------------------------------------------------------------------------
# the processes


# ---------------------------------------------------------------------------------------------------------
# the inbox


def pages(fetch, path: str, params: dict | None = None) -> list[dict] | None:
    """Every item of a cursor-paginated list (None when `fetch` gave up on a page)."""
    items, cursor = [], None
    for _ in range(10_000):
        query = dict(params or {}, limit=200)
        if cursor:
            query["cursor"] = cursor
        body = fetch(path, query)
        if body is None:
            return None
        items += body["data"]
        cursor = body.get("nextCursor")
        if not cursor:
            return items
    raise AssertionError(f"{path}: pagination never ended")


def inbox(fetch) -> dict[str, tuple[dict, list[dict]]] | None:
    """Every conversation of the organisation with all its messages: {conversation id: (conversation, messages)}."""
    conversations = pages(fetch, "/conversations")
    if conversations is None:
        return None
    out = {}
    for c in conversations:
        messages = pages(fetch, f"/conversations/{c['id']}/messages")
        if messages is None:
            return None
        out[c["id"]] = (c, messages)
    return out


class Poller:
    """Reads the inbox with its own session while processing catches up: a non-200 is retried on the next pass
    (a 500 is remembered and asserted against)."""

    def __init__(self, cluster, org):
        self.base = cluster.base_url + API
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {org.key}"
        self.last = "nothing read yet"
        self.server_errors: list[tuple[str, int, str]] = []

    def fetch(self, path: str, params: dict) -> dict | None:
        try:
            r = self.session.get(self.base + path, params=params, timeout=30)
        except requests.RequestException as e:
            self.last = f"GET {path}: {e!r}"
            return None
        if r.status_code != 200:
            self.last = f"GET {path}: {r.status_code} {r.text[:300]}"
            if r.status_code >= 500 and r.status_code not in TRANSIENT_5XX:
                self.server_errors.append((path, r.status_code, r.text[:300]))
            return None
        return r.json()

    def wait_visible(self, wamids, timeout: float = VISIBLE_DEADLINE) -> float:
        """Polls until every one of `wamids` is some message's providerMessageId; answers the seconds it took."""
        wanted = set(wamids)
        started = time.monotonic()
        while True:
            snapshot = inbox(self.fetch)
            if snapshot is not None:
                seen = {m.get("providerMessageId") for _, messages in snapshot.values() for m in messages}
                missing = wanted - seen
                if not missing:
                    return time.monotonic() - started
                self.last = (f"{len(wanted) - len(missing)} of {len(wanted)} visible in {len(snapshot)} "
                             f"conversations ({len(seen)} provider message ids seen); missing e.g. {sorted(missing)[:5]}")
            assert not self.server_errors, f"edge answered inbox reads with server errors: {self.server_errors[:3]}"
            assert time.monotonic() - started < timeout, f"not every message visible within {timeout:.0f} s: {self.last}"
            time.sleep(0.5)


def check_exactly_once(org, expected: dict[str, str], phones: list[str], note: str) -> None:
    """Every wamid of `expected` ({wamid: sender phone}) is exactly one message, in the one conversation of its
    sender; one conversation per sender and nothing else; each sender exactly one contact (also by `q`)."""
    snapshot = inbox(lambda path, params: assert_json(org.get(path, params=params), 200))
    conversations = [c for c, _ in snapshot.values()]
    counts = Counter(m.get("providerMessageId") for _, messages in snapshot.values() for m in messages)
    missing = sorted(set(expected) - set(counts))
    duplicated = {w: n for w, n in counts.items() if n > 1}
    unexpected = sorted(w for w in counts if w not in expected)
    assert not missing and not duplicated and not unexpected, (
        f"{note}: of {len(expected)} acknowledged webhooks {len(missing)} are missing (e.g. {missing[:5]}), "
        f"{len(duplicated)} are duplicated (e.g. {dict(list(duplicated.items())[:5])}), and {len(unexpected)} "
        f"messages are not ours (e.g. {unexpected[:5]}); {sum(counts.values())} messages in {len(conversations)} "
        f"conversations")

    by_phone: dict[str, list[dict]] = defaultdict(list)
    for c in conversations:
        by_phone[(c.get("contact") or {}).get("phone")].append(c)
    not_one = {p: len(by_phone.get(p, [])) for p in phones if len(by_phone.get(p, [])) != 1}
    strangers = {p: len(cs) for p, cs in by_phone.items() if p not in set(phones)}
    assert not not_one and not strangers, (
        f"{note}: expected one conversation per sender ({len(phones)}), got {len(conversations)}: "
        f"{len(not_one)} senders with another count (e.g. {dict(list(not_one.items())[:5])}), conversations "
        f"of unknown contacts {strangers}")

    misplaced = [(m.get("providerMessageId"), c["id"]) for c, messages in snapshot.values() for m in messages
                 if expected[m.get("providerMessageId")] != c["contact"]["phone"]]
    assert not misplaced, f"{note}: {len(misplaced)} messages in another sender's conversation (e.g. {misplaced[:5]})"

    conversation_contact = {p: cs[0]["contact"]["id"] for p, cs in by_phone.items()}
    wrong_contact = [(m.get("providerMessageId"), m.get("contactId")) for c, messages in snapshot.values()
                     for m in messages if m.get("contactId") != c["contact"]["id"]]
    assert not wrong_contact, (
        f"{note}: {len(wrong_contact)} messages whose contactId is not their conversation's contact "
        f"(e.g. {wrong_contact[:5]})")

    by_query = {p: org.list_all("/contacts", {"q": p.lstrip("+")}) for p in phones}
    not_one = {p: [c.get("phone") for c in found] for p, found in by_query.items() if len(found) != 1}
    assert not not_one, (
        f"{note}: {len(phones) - len(not_one)} of {len(phones)} senders resolved to exactly one contact "
        f"(GET /contacts?q=<phone>); the others: {dict(list(not_one.items())[:5])}")
    mismatched = {p: (found[0].get("phone"), found[0]["id"], conversation_contact[p])
                  for p, found in by_query.items()
                  if found[0].get("phone") != p or found[0]["id"] != conversation_contact[p]}
    assert not mismatched, (
        f"{note}: contacts found by phone that are not the conversation's contact (phone, id, conversation's "
        f"contact id): {dict(list(mismatched.items())[:5])}")
    every_contact = org.list_all("/contacts")
    assert len(every_contact) == len(phones), (
        f"{note}: the organisation has {len(every_contact)} contacts for {len(phones)} senders: "
        f"{Counter(c.get('phone') for c in every_contact).most_common(5)}")

    # An inbound message adds 1 to unreadCount (and nobody read these conversations): redelivered or
    # reprocessed webhooks must not count twice either.
    unread = {c["id"]: (c.get("unreadCount"), len(messages)) for c, messages in snapshot.values()
              if c.get("unreadCount") != len(messages)}
    assert not unread, (
        f"{note}: {len(unread)} conversations whose unreadCount is not their number of inbound messages "
        f"(unreadCount, messages): {dict(list(unread.items())[:5])}")


# ---------------------------------------------------------------------------------------------------------
# the test


def test_acknowledged_webhooks_survive_service_crashes_exactly_once(cluster):
    org = cluster.create_org()
    channel = Channel(org, unique("Crash test "))
    run = secrets.token_hex(3).upper()
    phones = [rand_phone() for _ in range(SENDERS)]
    # Round-robin over senders: every third of the posts reaches every conversation.
    hooks = [
        channel.webhook(phones[s], f"Crash Sender {s}", f"wamid.CRASH{run}S{s:03d}N{n:02d}",
                        f"crash test message {s:03d}-{n:02d}")
        for n in range(PER_SENDER) for s in range(SENDERS)
    ]
    assert len({h.wamid for h in hooks}) == TOTAL
    expected = {h.wamid: h.phone for h in hooks}
    health = requests.Session()
    poster = Poster(cluster.base_url)
    kills: list[dict] = []

    def crash_services():
        deadline = time.monotonic() + POST_DEADLINE
        for service, threshold in (("conversations", TOTAL // 3), ("contacts", 2 * TOTAL // 3)):
            while poster.accepted < threshold and not poster.stop.is_set():
                assert time.monotonic() < deadline, f"{threshold} webhooks not accepted in time: {poster.summary()}"
                time.sleep(0.01)
            if poster.stop.is_set():
                return  # the poster failed: its reason is asserted next
            accepted_at_kill = poster.accepted
            kills.append(dict(kill_and_wait_for_restart(cluster, health, service), accepted_at_kill=accepted_at_kill))

    try:
        started = time.monotonic()
        post_all(poster, hooks, time.monotonic() + POST_DEADLINE, during=crash_services)
        posting = time.monotonic() - started
        assert [k["service"] for k in kills] == ["conversations", "contacts"], kills
        wait_healthy(cluster, health)

        poller = Poller(cluster, org)
        visible_after = poller.wait_visible(expected)
        check_exactly_once(org, expected, phones, f"after SIGKILLs {kills}")

        # The provider delivers some webhooks again after the restarts: acknowledged again, stored once. One new
        # message per sender concerned, posted after its redeliveries were acknowledged, is the barrier: webhooks
        # are processed in order per sender, so once it is visible the redeliveries before it were processed.
        again = random.Random(run).sample(hooks, REDELIVERED)
        post_all(Poster(cluster.base_url), again, time.monotonic() + POST_DEADLINE)
        senders = sorted({h.phone for h in again})
        barriers = [channel.webhook(p, f"Crash Sender {phones.index(p)}", f"wamid.CRASH{run}B{i:03d}",
                                    f"crash test barrier {i:03d}") for i, p in enumerate(senders)]
        post_all(Poster(cluster.base_url), barriers, time.monotonic() + POST_DEADLINE)
        expected.update({h.wamid: h.phone for h in barriers})
        poller.wait_visible(expected)
        check_exactly_once(org, expected, phones,
                           f"after {REDELIVERED} redelivered webhooks (+{len(barriers)} barrier messages)")
        assert not poller.server_errors, f"edge answered inbox reads with server errors: {poller.server_errors[:3]}"
        print(f"\ningest crash test: {TOTAL} webhooks acknowledged in {posting:.1f}s ({poster.summary()}); "
              f"kills {kills}; all visible {visible_after:.1f}s after the cluster was healthy again")
    finally:
        # Leave a healthy cluster to the tests after this one, whatever happened here (without hiding the failure).
        deadline = time.monotonic() + 60
        while not service_serving(cluster, health)[0] and time.monotonic() < deadline:
            time.sleep(0.2)
        health.close()


def test_a_killed_messaging_service_loses_no_acknowledged_webhook(cluster):
    """The journal itself: messaging is SIGKILLed while webhooks pour in and while its processor is behind. Every
    webhook acknowledged before the kill was on disk (it is processed after the restart), the ones in flight are
    posted again by the provider, and none is stored twice."""
    org = cluster.create_org()
    channel = Channel(org, unique("Journal crash "))
    run = secrets.token_hex(3).upper()
    senders, per_sender = 30, 20
    phones = [rand_phone() for _ in range(senders)]
    hooks = [
        channel.webhook(phones[s], f"Journal Sender {s}", f"wamid.JRNL{run}S{s:03d}N{n:02d}",
                        f"journal crash message {s:03d}-{n:02d}")
        for n in range(per_sender) for s in range(senders)
    ]
    expected = {h.wamid: h.phone for h in hooks}
    health = requests.Session()
    poster = Poster(cluster.base_url)
    kills: list[dict] = []

    def crash_messaging():
        deadline = time.monotonic() + POST_DEADLINE
        while poster.accepted < len(hooks) // 2 and not poster.stop.is_set():
            assert time.monotonic() < deadline, f"webhooks not accepted in time: {poster.summary()}"
            time.sleep(0.005)
        if not poster.stop.is_set():
            kills.append(dict(kill_and_wait_for_restart(cluster, health, "messaging"), accepted_at_kill=poster.accepted))

    try:
        post_all(poster, hooks, time.monotonic() + POST_DEADLINE, during=crash_messaging)
        assert [k["service"] for k in kills] == ["messaging"], kills
        wait_healthy(cluster, health)
        Poller(cluster, org).wait_visible(expected)
        check_exactly_once(org, expected, phones, f"after SIGKILL of messaging {kills}")
    finally:
        deadline = time.monotonic() + 60
        while not service_serving(cluster, health)[0] and time.monotonic() < deadline:
            time.sleep(0.2)
        health.close()
