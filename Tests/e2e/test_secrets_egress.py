"""Issue 11, secrets part, seen from outside: provider base URLs limited to the operator's allow-list and refused
on private, loopback and link-local targets (at create/update and again before each send); provider error text
bounded to the documented fields; channel secrets sealed at rest (never in messaging.db or its WAL, webhooks
still verify, sends still go out); a private data directory; no internal token in a debug log; a revoked
bootstrap key that stays revoked across a restart.

Besides the session cluster (private targets allowed for the fakes, allow-list with http://127.0.0.1) this module
runs its own `strict` cluster: private targets refused, any host allowed (`*`, so only the private rule is
tested there), SWITCHBOARD_LOG_LEVEL=debug, a fixed SWITCHBOARD_SECRETS_KEY and a data directory that does not
exist before the start. Tests on `strict` that restart it come last, in file order."""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import socket
import sqlite3
import stat
import subprocess
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from conftest import Cluster, assert_error, assert_json, find_bin_dir, free_ports, rand_phone, tick
from inbound_helpers import (
    create_twilio_channel,
    create_whatsapp_channel,
    digits,
    send_whatsapp,
    text_payload,
    twilio_channel_body,
    wait_contact,
    wait_message,
    whatsapp_channel_body,
)

WAIT = 30.0
MARKER = "UPSTREAM-MARKER-" + secrets.token_hex(6)


# ---------------------------------------------------------------------------------------------------------
# a provider stand-in that records every request and answers what it is told


class Sink:
    def __init__(self):
        self.requests: list[dict] = []
        self.reply = (400, b"{}", "application/json")
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                sink.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status, payload, ctype = sink.reply
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def sink():
    s = Sink()
    yield s
    s.stop()


def restart(c: Cluster, **env) -> None:
    """Stops `c` and starts it again on the same data directory with `env` changed (None removes a setting)."""
    code, leftovers = c.stop()
    assert code == 0 and not leftovers, f"restart: stop gave {code} {leftovers}\n{c.log_tail(40)}"
    for key, value in env.items():
        if value is None:
            c.extra_env.pop(key, None)
        else:
            c.extra_env[key] = value
    c.session = requests.Session()
    c.session.hooks["response"].append(c._record)
    c.start()


@pytest.fixture(scope="module")
def strict():
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-e2e-strict-"))
    data = workdir / "fresh" / "data"  # does not exist: the launcher makes it
    c = Cluster(find_bin_dir(), workdir, extra_env={
        "SWITCHBOARD_DATA_DIR": str(data),
        "SWITCHBOARD_ALLOW_PRIVATE_PROVIDER_URLS": "false",
        "SWITCHBOARD_PROVIDER_URL_ALLOWLIST": "*",
        "SWITCHBOARD_LOG_LEVEL": "debug",
        "SWITCHBOARD_SECRETS_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    })
    c.data_dir = data
    c.start = _start_without_mkdir(c)
    try:
        c.start()
    except BaseException:
        c.stop()
        raise
    yield c
    code, leftovers = c.stop()
    if code == 0 and not leftovers and not os.environ.get("SWITCHBOARD_E2E_KEEP"):
        shutil.rmtree(workdir, ignore_errors=True)


def _start_without_mkdir(c: Cluster):
    """`Cluster.start` makes the data directory first; here the launcher must make it, so the first start runs
    with a throwaway directory in its place and later starts with the real one."""
    original = Cluster.start.__get__(c)

    def start():
        real = c.data_dir
        c.data_dir = c.workdir / "unused"
        try:
            original()
        finally:
            c.data_dir = real
    return start


def db_bytes(data_dir: Path, name: str = "messaging") -> bytes:
    out = b""
    for suffix in ("", "-wal", "-shm"):
        p = data_dir / f"{name}.db{suffix}"
        if p.exists():
            out += p.read_bytes()
    return out


def inbound(org, wa, phone: str):
    payload = text_payload(wa.phone_number_id, "hello", sender=digits(phone), name="Customer")
    send_whatsapp(org.cluster, wa, payload)
    wamid = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    conv, msg = wait_message(org, wamid)
    wait_contact(org, msg["contactId"], lambda c: c["optedIn"] is True, what="first-message opt-in")
    tick()
    return conv


def send_and_wait(org, conv_id: str, text: str, want: str) -> dict:
    r = org.post(f"/conversations/{conv_id}/messages", json={"type": "text", "text": text})
    msg = assert_json(r, 202) if r.status_code == 202 else assert_json(r, 201)
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        page = assert_json(org.get(f"/conversations/{conv_id}/messages", params={"limit": 50}), 200)
        found = [m for m in page["data"] if m["id"] == msg["id"]]
        if found and found[0]["status"] == want:
            return found[0]
        if found and found[0]["status"] in ("failed", "sent", "delivered") and found[0]["status"] != want:
            raise AssertionError(f"message ended {found[0]['status']}, wanted {want}: {found[0]}")
        time.sleep(0.2)
    raise AssertionError(f"message {msg['id']} not {want} within {WAIT}s")


# ---------------------------------------------------------------------------------------------------------
# session cluster: the allow-list, bounded provider error text, secrets sealed while sends go out


def test_base_url_outside_the_allow_list_is_refused_and_nothing_stored(org):
    before = assert_json(org.get("/channels"), 200)["data"]
    for url in ("https://evil.example.com", "https://graph.facebook.com.evil.example", "http://localhost:9",
                "https://graph.facebook.com@169.254.169.254"):
        r = org.post("/channels", json=whatsapp_channel_body(graphApiBaseUrl=url))
        assert_error(r, 400, "provider_url_not_allowed", field="graphApiBaseUrl")
    r = org.post("/channels", json=twilio_channel_body(apiBaseUrl="https://api.twilio.com.evil.example"))
    assert_error(r, 400, "provider_url_not_allowed", field="apiBaseUrl")
    assert assert_json(org.get("/channels"), 200)["data"] == before
    wa = create_whatsapp_channel(org)  # the default, https://graph.facebook.com, is allowed
    r = org.patch(f"/channels/{wa.id}", json={"graphApiBaseUrl": "https://evil.example.com"})
    assert_error(r, 400, "provider_url_not_allowed", field="graphApiBaseUrl")
    assert assert_json(org.get(f"/channels/{wa.id}"), 200)["graphApiBaseUrl"] == "https://graph.facebook.com"


def test_provider_error_text_is_bounded_and_secrets_sealed_while_sends_go_out(org, cluster, sink):
    wa = create_whatsapp_channel(org, graphApiBaseUrl=sink.base_url)
    conv = inbound(org, wa, rand_phone())  # the webhook verified against the sealed app secret
    sink.requests.clear()
    sink.reply = (400, json.dumps({"error": {"message": "Invalid parameter " + "x" * 400 + MARKER, "code": 100,
                                             "fbtrace_id": MARKER, "debug": MARKER}, "raw": MARKER}).encode(),
                  "application/json")
    failed = send_and_wait(org, conv["id"], "to the sink", "failed")
    assert len(sink.requests) == 1
    assert sink.requests[0]["headers"].get("Authorization") == f"Bearer {wa.access_token}"  # decrypted for the call
    err = failed["error"]
    assert err["code"] == "100" and err["message"].startswith("Invalid parameter"), err
    assert MARKER not in json.dumps(failed) and len(err["message"]) <= 300, err
    sink.reply = (502, f"<html>{MARKER}</html>".encode(), "text/html")
    failed = send_and_wait(org, conv["id"], "to the sink again", "failed")
    assert MARKER not in json.dumps(failed) and "HTTP 502" in failed["error"]["message"], failed
    raw = db_bytes(cluster.data_dir)
    for secret in (wa.access_token, wa.app_secret, wa.verify_token):
        assert secret.encode() not in raw, "a channel secret is readable in messaging.db"
    r = cluster.request("GET", cluster.base_url + "/webhooks/whatsapp?" + urllib.parse.urlencode(
        {"hub.mode": "subscribe", "hub.verify_token": wa.verify_token, "hub.challenge": "4242"}), key=None)
    assert r.status_code == 200 and r.text == "4242", r.text


def test_operator_releases_a_claimed_whatsapp_number(cluster, org, other_org):
    squatter = create_whatsapp_channel(other_org)
    number = squatter.phone_number_id
    r = org.post("/channels", json=whatsapp_channel_body(phoneNumberId=number))
    assert_error(r, 409, "channel_exists")
    assert cluster.admin("DELETE", f"/api/admin/whatsapp-numbers/{number}", key=org.key).status_code == 401
    r = cluster.admin("DELETE", f"/api/admin/whatsapp-numbers/{number}")
    assert r.status_code == 204, r.text
    assert_error(other_org.get(f"/channels/{squatter.id}"), 404)
    assert_json(org.post("/channels", json=whatsapp_channel_body(phoneNumberId=number)), 201)
    assert_error(cluster.admin("DELETE", "/api/admin/whatsapp-numbers/999000111222333"), 404, "phone_number_not_found")


# ---------------------------------------------------------------------------------------------------------
# strict cluster: private targets refused


def _loopback_names() -> list[str]:
    names = []
    for name in ("localhost.", "ip6-localhost", "ip6-loopback", socket.gethostname()):
        try:
            infos = socket.getaddrinfo(name, 80, proto=socket.IPPROTO_TCP)
        except OSError:
            continue
        if infos and all(i[4][0].startswith(("127.", "::1")) for i in infos):
            names.append(name)
    return names


def test_private_targets_are_refused_and_the_fake_receives_nothing(strict, sink):
    org = strict.create_org()
    port = sink.port
    urls = [f"http://127.0.0.1:{port}", "http://10.1.2.3", "http://169.254.169.254", f"http://[::1]:{port}",
            f"http://localhost:{port}", f"http://0.0.0.0:{port}", f"http://[::ffff:127.0.0.1]:{port}",
            "http://100.64.0.1", "http://172.16.0.1", "http://192.168.1.1", "http://[fe80::1]", "http://[fd00::1]",
            f"http://127.1.2.3:{port}"]
    names = _loopback_names()
    assert names, "no name on this machine resolves to loopback"
    urls += [f"http://{name}:{port}" for name in names]
    sink.requests.clear()
    for url in urls:
        r = org.post("/channels", json=whatsapp_channel_body(graphApiBaseUrl=url))
        assert_error(r, 400, "provider_url_not_allowed", field="graphApiBaseUrl")
        r = org.post("/channels", json=twilio_channel_body(apiBaseUrl=url))
        assert_error(r, 400, "provider_url_not_allowed", field="apiBaseUrl")
    channels = assert_json(org.get("/channels"), 200)["data"]
    assert [c["kind"] for c in channels] == ["sandbox"], channels
    wa = create_whatsapp_channel(org, graphApiBaseUrl="https://graph.example.test")  # public name: allowed
    r = org.patch(f"/channels/{wa.id}", json={"graphApiBaseUrl": f"http://{names[0]}:{port}"})
    assert_error(r, 400, "provider_url_not_allowed", field="graphApiBaseUrl")
    assert sink.requests == []


def test_fresh_data_directory_is_private(strict):
    data = strict.data_dir
    assert stat.S_IMODE(data.stat().st_mode) == 0o700, oct(data.stat().st_mode)
    names = set()
    for path in data.rglob("*"):
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_dir():
            assert mode == 0o700, f"{path}: {oct(mode)}"
        elif path.is_file():
            assert mode == 0o600, f"{path}: {oct(mode)}"
            names.add(path.name)
    assert {"messaging.db", "edge.db", "contacts.db", "messaging.db-wal"} <= names, names


def test_debug_log_carries_no_internal_token(strict):
    org = strict.create_org()
    assert_json(org.get("/channels"), 200)
    text = strict.log_path.read_text(errors="replace")
    assert "debug" in text.lower(), "the strict cluster should log at debug level"
    assert strict.internal_token not in text, "the internal token is in the debug log"


def test_secrets_sealed_at_rest_and_webhooks_still_verify(strict):
    org = strict.create_org()
    wa = create_whatsapp_channel(org, graphApiBaseUrl="https://graph.example.test")
    tw = create_twilio_channel(org)
    inbound(org, wa, rand_phone())  # signed with the app secret: verified after decryption
    r = strict.request("GET", strict.base_url + "/webhooks/whatsapp?" + urllib.parse.urlencode(
        {"hub.mode": "subscribe", "hub.verify_token": wa.verify_token, "hub.challenge": "77"}), key=None)
    assert r.status_code == 200 and r.text == "77", r.text
    raw = db_bytes(strict.data_dir)
    for secret in (wa.access_token, wa.app_secret, wa.verify_token, tw.auth_token):
        assert secret.encode() not in raw, "a channel secret is readable in messaging.db"


# ---------------------------------------------------------------------------------------------------------
# strict cluster, restarts (kept last)


def test_revoked_bootstrap_key_stays_revoked_after_a_restart(strict):
    keys = assert_json(strict.request("GET", "/api-keys"), 200)["data"]
    bootstrap = [k for k in keys if k["prefix"] == strict.api_key[:10] and not k["revokedAt"]]
    assert bootstrap, keys
    other = assert_json(strict.request("POST", "/api-keys", json={"name": "second", "role": "admin"}), 201)
    r = strict.request("DELETE", f"/api-keys/{bootstrap[0]['id']}", key=other["key"])
    assert r.status_code == 204, r.text
    assert strict.request("GET", "/channels").status_code == 401
    restart(strict)
    assert strict.request("GET", "/channels").status_code == 401, "the revoked bootstrap key came back"
    assert strict.request("GET", "/channels", key=other["key"]).status_code == 200
    assert "stays revoked" in strict.log_tail(400)
    strict.api_key = other["key"]


def _run_messaging(c: Cluster, **env) -> subprocess.CompletedProcess:
    full = c.env()
    full.update(env)
    full["SWITCHBOARD_MESSAGING_PORT"] = str(free_ports(1)[0])
    for key in [k for k, v in full.items() if v is None]:
        del full[key]
    return subprocess.run([str(c.bin_dir / "messaging-service")], env=full, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def test_plaintext_rows_are_sealed_on_start_and_old_rows_checked_before_each_send(strict, sink):
    org = strict.create_org()
    wa = create_whatsapp_channel(org, graphApiBaseUrl="https://graph.example.test")
    conv = inbound(org, wa, rand_phone())
    code, _ = strict.stop()
    assert code == 0
    # An older row: secrets in plain text and a base URL on loopback, as stored before these rules.
    db = sqlite3.connect(strict.data_dir / "messaging.db")
    settings = json.loads(db.execute("SELECT settings FROM channel WHERE id = ?", (wa.id,)).fetchone()[0])
    settings["graphApiBaseUrl"] = sink.base_url
    plain = json.dumps({"accessToken": wa.access_token, "appSecret": wa.app_secret, "verifyToken": wa.verify_token})
    db.execute("UPDATE channel SET settings = ?, secrets = ? WHERE id = ?", (json.dumps(settings), plain, wa.id))
    db.commit()
    db.close()
    assert wa.access_token.encode() in db_bytes(strict.data_dir)
    # A wrong key, or none, fails the start loudly and changes nothing.
    wrong = _run_messaging(strict, SWITCHBOARD_SECRETS_KEY=base64.b64encode(secrets.token_bytes(32)).decode())
    assert wrong.returncode != 0, wrong.stdout + wrong.stderr
    assert "sealed under another key" in wrong.stdout + wrong.stderr, wrong.stdout + wrong.stderr
    missing = _run_messaging(strict, SWITCHBOARD_SECRETS_KEY=None)
    assert missing.returncode != 0 and "sealed under another key" in missing.stdout + missing.stderr
    assert not (strict.data_dir / "secrets.key").exists(), "a failed start must not write a new key file"
    restart(strict)
    raw = db_bytes(strict.data_dir)
    for secret in (wa.access_token, wa.app_secret, wa.verify_token):
        assert secret.encode() not in raw, "the plaintext row was not sealed on start"
    r = strict.request("GET", strict.base_url + "/webhooks/whatsapp?" + urllib.parse.urlencode(
        {"hub.mode": "subscribe", "hub.verify_token": wa.verify_token, "hub.challenge": "9"}), key=None)
    assert r.status_code == 200 and r.text == "9", r.text
    sink.requests.clear()
    failed = send_and_wait(org, conv["id"], "must not leave", "failed")
    assert failed["error"]["code"] == "provider_url_not_allowed", failed
    assert sink.requests == [], "the token was sent to a loopback address"
