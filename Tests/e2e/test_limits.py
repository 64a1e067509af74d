"""Request limits, on a second cluster started with low ones (the session cluster runs without): the per-address
throttle of failed authentication, per-key rate limits, the HTTP header/body/idle deadlines (an event stream
outlives them), and the minimum strength of configured keys (edge refuses to start)."""

from __future__ import annotations

import http.client
import json
import os
import select
import shutil
import socket
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from conftest import API, Cluster, assert_error, assert_json, find_bin_dir, free_ports, rand_phone

LIMITS = {
    "SWITCHBOARD_RATE_LIMIT_PER_KEY": "2",
    "SWITCHBOARD_RATE_LIMIT_BURST": "5",
    "SWITCHBOARD_AUTH_FAILURE_LIMIT": "10",
    "SWITCHBOARD_AUTH_FAILURE_WINDOW_S": "60",
    "SWITCHBOARD_HTTP_HEADER_TIMEOUT_S": "2",
    "SWITCHBOARD_HTTP_BODY_TIMEOUT_S": "2",
    "SWITCHBOARD_HTTP_IDLE_TIMEOUT_S": "3",
}
# A connection the server should have closed after a 2–3 s deadline must be closed well within this.
CLOSE_WITHIN = 20.0


class LimitedCluster(Cluster):
    def env(self) -> dict:
        env = super().env()
        env.update(LIMITS)
        return env


@pytest.fixture(scope="module")
def limited():
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-limits-"))
    c = LimitedCluster(find_bin_dir(), workdir)
    try:
        c.start()
        yield c
    finally:
        code, leftovers = c.stop()
        if code == 0 and not leftovers and not os.environ.get("SWITCHBOARD_E2E_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)


def call(cluster, path: str, key: str | None, source: str = "127.0.0.1", method: str = "GET"):
    """One request on a fresh connection from the loopback address `source`: (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", cluster.ports["http"], timeout=30, source_address=(source, 0))
    try:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        conn.request(method, path if path.startswith("/api/") else API + path, headers=headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------------------
# failed authentication and per-key limits


def test_wrong_keys_from_one_address_are_throttled_before_lookup(limited):
    statuses = []
    for i in range(300):
        status, headers, _ = call(limited, "/org", f"sb_wrong_{i:04d}", source="127.0.0.3")
        statuses.append(status)
        if status == 429:
            retry = headers.get("retry-after")
            assert retry and retry.isdigit() and 1 <= int(retry) <= 60, headers
    assert statuses[:10] == [401] * 10, statuses[:12]
    assert set(statuses[10:]) == {429}, f"after 10 failures every attempt is refused: {sorted(set(statuses[10:]))}"
    # the address is refused even with a valid key (the key is not looked up) ...
    status, headers, body = call(limited, "/org", limited.api_key, source="127.0.0.3")
    assert status == 429 and b"too_many_auth_failures" in body and headers.get("retry-after"), (status, body)
    # ... while another address with the same valid key is served
    status, _, body = call(limited, "/org", limited.api_key, source="127.0.0.4")
    assert status == 200, (status, body[:300])
    # the operator routes count failures the same way
    for i in range(10):
        assert call(limited, "/api/admin/orgs", f"op_wrong_{i}", source="127.0.0.5")[0] == 401
    status, headers, body = call(limited, "/api/admin/orgs", limited.operator_key, source="127.0.0.5")
    assert status == 429 and headers.get("retry-after"), (status, body[:300])


def test_a_key_over_its_rate_gets_429_with_retry_after(limited):
    org = limited.create_org()
    other = limited.create_org()

    def get(_):
        # a session per request: requests' Session is not meant to be shared between threads
        return requests.get(limited.url("/org"), headers={"Authorization": f"Bearer {org.key}"}, timeout=30)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(get, range(40)))
    ok = [r for r in answers if r.status_code == 200]
    limited_answers = [r for r in answers if r.status_code == 429]
    assert len(ok) + len(limited_answers) == 40, sorted({r.status_code for r in answers})
    assert limited_answers, "a burst of 40 requests over a 2/s (burst 5) key must meet 429"
    assert 5 <= len(ok) < 30, f"{len(ok)} of 40 served: the burst is 5 plus 2 per second"
    err = assert_error(limited_answers[0], 429, "rate_limited")
    retry = limited_answers[0].headers.get("Retry-After")
    assert retry and retry.isdigit() and int(retry) >= 1, limited_answers[0].headers
    assert err["details"]["retryAfterSeconds"] == int(retry)
    # another org's key has its own bucket
    assert_json(other.get("/org"), 200)
    # and the key is served again once it has waited
    deadline = time.monotonic() + 30
    while True:
        r = org.get("/org")
        if r.status_code == 200:
            break
        assert r.status_code == 429 and time.monotonic() < deadline, r.text[:300]
        time.sleep(float(r.headers.get("Retry-After", "1")))


# ---------------------------------------------------------------------------------------------------------
# HTTP deadlines


def closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed `sock` (EOF or reset), or None if it was still open after `seconds`."""
    start = time.monotonic()
    while (left := seconds - (time.monotonic() - start)) > 0:
        readable, _, _ = select.select([sock], [], [], left)
        if not readable:
            continue
        try:
            if sock.recv(65536) == b"":
                return time.monotonic() - start
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - start
    return None


def open_socket(cluster) -> socket.socket:
    return socket.create_connection(("127.0.0.1", cluster.ports["http"]), timeout=30)


def read_head(sock, why: str) -> bytes:
    """Reads until the end of a response head; fails with `why` if edge closes the connection first."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"{why}: {data[:200]!r}"
        data += chunk
    return data


@pytest.mark.parametrize("partial", [
    b"GET /healthz HT",
    b"GET /healthz HTTP/1.1\r\nHost: edge\r\nUser-Agent: slow",
    b"GET /healthz HTTP/1.1\r\nHost: edge\r\n",
], ids=["request-line", "header-line", "headers-unfinished"])
def test_a_half_sent_request_head_is_closed(limited, partial):
    with open_socket(limited) as sock:
        sock.sendall(partial)
        took = closed_within(sock, CLOSE_WITHIN)
    assert took is not None, f"a half-sent request head stayed open over {CLOSE_WITHIN} s (header deadline 2 s)"


def test_a_half_sent_body_is_closed(limited):
    org = limited.create_org()
    with open_socket(limited) as sock:
        sock.sendall(
            f"POST {API}/contacts HTTP/1.1\r\nHost: edge\r\nAuthorization: Bearer {org.key}\r\n"
            "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"name\": \"slo".encode())
        took = closed_within(sock, CLOSE_WITHIN)
    assert took is not None, f"a half-sent body stayed open over {CLOSE_WITHIN} s (body deadline 2 s)"


def test_a_body_that_keeps_arriving_is_never_cut(limited):
    """The body deadline is a stall, not a total: a slow upload that keeps sending finishes, however long it takes."""
    org = limited.create_org()
    body = json.dumps({"name": "Trickle", "phone": rand_phone()}).encode().ljust(120)
    with open_socket(limited) as sock:
        sock.sendall(
            f"POST {API}/contacts HTTP/1.1\r\nHost: edge\r\nAuthorization: Bearer {org.key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode())
        for i in range(0, len(body), 24):  # 5 parts, 1 s apart: 4 s in all, twice the 2 s deadline
            sock.sendall(body[i:i + 24])
            if i + 24 < len(body):
                time.sleep(1.0)
        data = read_head(sock, "closed though the body kept arriving")
    assert data.startswith(b"HTTP/1.1 201"), data[:300]


def test_an_idle_kept_alive_connection_is_closed(limited):
    with open_socket(limited) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: edge\r\n\r\n")
        data = read_head(sock, "closed before answering")
        assert data.startswith(b"HTTP/1.1 200"), data[:200]
        took = closed_within(sock, CLOSE_WITHIN)
    assert took is not None, f"an idle connection stayed open over {CLOSE_WITHIN} s (idle deadline 3 s)"


def test_an_event_stream_outlives_the_deadlines(limited):
    org = limited.create_org()
    with open_socket(limited) as sock:
        sock.sendall(
            f"GET {API}/events/stream HTTP/1.1\r\nHost: edge\r\nAuthorization: Bearer {org.key}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode())
        head = read_head(sock, "closed before answering")
        assert head.startswith(b"HTTP/1.1 200"), head[:300]
        # longer than every deadline (2 s, 2 s, 3 s) and their sum
        took = closed_within(sock, 9.0)
        assert took is None, f"the event stream was closed after {took:.1f} s"
        # still live: a customer message arrives as an event
        phone = rand_phone()
        assert_json(org.post("/sandbox/inbound", json={"from": phone, "text": "still there?"}), 202)
        data = b""
        deadline = time.monotonic() + 30
        while b"event: message.created" not in data:
            left = deadline - time.monotonic()
            assert left > 0, f"no event on the stream within 30 s: {data[-500:]!r}"
            readable, _, _ = select.select([sock], [], [], left)
            if readable:
                chunk = sock.recv(65536)
                assert chunk, f"the stream closed: {data[-500:]!r}"
                data += chunk


# ---------------------------------------------------------------------------------------------------------
# configured key strength


@pytest.mark.parametrize("variable,value", [
    ("SWITCHBOARD_OPERATOR_KEY", "op-short-key"),
    ("SWITCHBOARD_OPERATOR_KEY", "a" * 48),
    ("SWITCHBOARD_OPERATOR_KEY", "abcabcabc" * 6),
    ("SWITCHBOARD_BOOTSTRAP_API_KEY", "sb_demo_key"),
])
def test_edge_refuses_to_start_with_a_weak_configured_key(variable, value):
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-weak-key-"))
    try:
        env = dict(os.environ)
        env.update(
            SWITCHBOARD_DATA_DIR=str(workdir / "data"), SWITCHBOARD_HTTP_PORT=str(free_ports(1)[0]),
            SWITCHBOARD_INTERNAL_TOKEN="t" + os.urandom(16).hex(),
            SWITCHBOARD_OPERATOR_KEY="op_" + os.urandom(24).hex(),
            SWITCHBOARD_BOOTSTRAP_API_KEY="sb_demo_0123456789abcdef0123456789abcdef",  # the README's example
        )
        env[variable] = value
        edge = find_bin_dir() / "edge"
        try:
            out = subprocess.run([str(edge)], env=env, cwd=workdir, stdin=subprocess.DEVNULL,
                                 capture_output=True, timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"edge kept running with {variable}={value!r}")
        text = (out.stdout + out.stderr).decode(errors="replace")
        assert out.returncode != 0, text[-2000:]
        assert f"{variable} is too weak" in text, text[-2000:]
        assert value not in text, "the key itself must not be printed"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_the_launcher_stops_instead_of_restarting_edge_with_a_weak_key():
    """A configuration edge refuses (exit status 78) stops the whole system with that status and the reason, instead
    of a restart loop repeating the message for ever."""
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-weak-key-"))
    try:
        env = dict(os.environ)
        ports = free_ports(5)
        env.update(
            SWITCHBOARD_DATA_DIR=str(workdir / "data"), SWITCHBOARD_HTTP_PORT=str(ports[0]),
            SWITCHBOARD_CONTACTS_PORT=str(ports[1]), SWITCHBOARD_CONVERSATIONS_PORT=str(ports[2]),
            SWITCHBOARD_MESSAGING_PORT=str(ports[3]), SWITCHBOARD_ANALYTICS_PORT=str(ports[4]),
            SWITCHBOARD_BIN_DIR=str(find_bin_dir()), SWITCHBOARD_OPERATOR_KEY="too-short",
        )
        env.pop("SWITCHBOARD_BOOTSTRAP_API_KEY", None)
        try:
            out = subprocess.run([str(find_bin_dir() / "switchboard")], env=env, cwd=workdir,
                                 stdin=subprocess.DEVNULL, capture_output=True, timeout=90)
        except subprocess.TimeoutExpired:
            pytest.fail("the launcher kept restarting edge with a weak SWITCHBOARD_OPERATOR_KEY")
        text = (out.stdout + out.stderr).decode(errors="replace")
        assert out.returncode == 78, (out.returncode, text[-2000:])
        assert "SWITCHBOARD_OPERATOR_KEY is too weak" in text, text[-2000:]
        assert "cannot run with this configuration" in text, text[-2000:]
        assert "restarting" not in text, text[-2000:]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
