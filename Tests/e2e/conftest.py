"""Black-box fixtures: one Switchboard cluster (the built `switchboard` launcher and its five processes) per
test session, on free loopback ports with a fresh data directory, driven by outside clients only.

Binaries come from $SWITCHBOARD_BIN_DIR, else from `swift build --show-bin-path` (debug) in the repo root.
Set SWITCHBOARD_E2E_KEEP=1 to keep the temporary data directory and log after the run.

Test modules import the small helpers below with `from conftest import ...`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
PROTOS_PY = REPO_ROOT / ".venv" / "switchboard_protos"
if str(PROTOS_PY) not in sys.path:
    sys.path.insert(0, str(PROTOS_PY))

API = "/api/whatsapp-api"
SERVICES = ("contacts", "conversations", "messaging", "analytics")
STARTUP_TIMEOUT = 120.0
SHUTDOWN_TIMEOUT = 30.0
HTTP_TIMEOUT = 30.0

# Error codes the tests expect where docs/rest-api.md names a status but not the code. Kept in one place
# so aligning the server (or the doc) with the tests is a one-line change.
CODE_FORBIDDEN = "forbidden"  # an agent key on an admin-only route (403)
CODE_IMPORT_NOT_FOUND = "import_not_found"  # unknown import job (404)
CODE_IMPORT_ALREADY_CONFIRMED = "import_already_confirmed"  # confirm on a job that is not `uploaded` (409)
CODE_API_KEY_NOT_FOUND = "api_key_not_found"  # unknown / other org's API key id (404)

RFC3339_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")

# The product's sample file, byte for byte as documented.
PRODUCT_SAMPLE_CSV = (
    b"phone,name,email,tags,optedIn\n"
    b'+919876543210,John Doe,john@example.com,"vip,retail",true\n'
    b"+12125551234,Jane Smith,,lead,false\n"
)


# ---------------------------------------------------------------------------------------------------------
# small helpers shared by the test modules


def unique(prefix: str = "e2e") -> str:
    """A short, session-unique token for names, emails and tags."""
    return f"{prefix}{secrets.token_hex(4)}"


_phone_seq = itertools.count(random.SystemRandom().randrange(10**8))


def rand_phone() -> str:
    """A valid, session-unique E.164 number (+44 7… UK mobile range, 12 digits)."""
    return f"+447{next(_phone_seq) % 10**9:09d}"


def tick() -> None:
    """Lets the clock move on by a millisecond or two, so that consecutive writes get distinct UUIDv7 ids and
    timestamps: ids are time-ordered only to the millisecond, and lists are ordered by id."""
    time.sleep(0.003)


def parse_time(value: str) -> dt.datetime:
    assert isinstance(value, str) and RFC3339_MS.match(value), f"not an RFC 3339 UTC time with ms: {value!r}"
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc)


def assert_recent(value: str, seconds: float = 300.0) -> dt.datetime:
    t = parse_time(value)
    now = dt.datetime.now(dt.timezone.utc)
    assert abs((now - t).total_seconds()) < seconds, f"time {value} is not close to now ({now.isoformat()})"
    return t


def assert_uuid7(value: str) -> str:
    assert isinstance(value, str) and UUID7.match(value), f"not a UUIDv7 string: {value!r}"
    return value


def assert_error(resp: requests.Response, status: int, code: str | None = None, **details) -> dict:
    """Checks the documented error shape `{"error": {"code", "message", "details"}}` and returns `error`."""
    assert resp.status_code == status, (
        f"{resp.request.method} {resp.request.url}: expected {status} {code or ''}, "
        f"got {resp.status_code}: {resp.text[:600]}"
    )
    ctype = resp.headers.get("Content-Type", "")
    assert ctype.startswith("application/json"), f"error body is not JSON ({ctype!r}): {resp.text[:300]}"
    body = resp.json()
    assert isinstance(body, dict) and set(body) == {"error"}, f"error body shape: {body}"
    err = body["error"]
    assert isinstance(err, dict), body
    assert isinstance(err.get("code"), str) and re.fullmatch(r"[a-z][a-z0-9_]*", err["code"]), body
    assert isinstance(err.get("message"), str) and err["message"].strip(), body
    assert isinstance(err.get("details"), dict), f"`details` must always be an object: {body}"
    if code is not None:
        assert err["code"] == code, f"expected error code {code!r}, got {err['code']!r}: {body}"
    for key, want in details.items():
        assert err["details"].get(key) == want, f"details.{key}: expected {want!r}: {body}"
    return err


def assert_json(resp: requests.Response, status: int) -> dict:
    assert resp.status_code == status, (
        f"{resp.request.method} {resp.request.url}: expected {status}, got {resp.status_code}: {resp.text[:600]}"
    )
    assert resp.headers.get("Content-Type", "").startswith("application/json"), resp.headers
    return resp.json()


def mapping_dict(mapping) -> dict:
    """An import mapping as `{header: field}`, whether the server answers an object or a list of columns."""
    if isinstance(mapping, dict):
        return dict(mapping)
    assert isinstance(mapping, list), f"mapping must be an object or a list of columns: {mapping!r}"
    return {col["header"]: col["field"] for col in mapping}


def preview_rows(preview: dict) -> list[list[str]]:
    """Preview rows as lists of cells, whether the server answers `[[...]]` or `[{"cells": [...]}]`."""
    rows = preview["rows"]
    assert isinstance(rows, list), preview
    return [row["cells"] if isinstance(row, dict) else row for row in rows]


def proc_stat(pid: int) -> tuple[str, int, int, int] | None:
    """(state, ppid, pgrp, start time in clock ticks) of a process, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[2]), int(fields[19])


def live_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


# ---------------------------------------------------------------------------------------------------------
# the cluster


_DEFAULT = object()


# Crash tests: a SIGKILLed service is restarted by the launcher within this.
RESTART_DEADLINE = 30.0


def service_serving(cluster, session: requests.Session, service: str | None = None) -> tuple[bool, str]:
    """Whether edge's /healthz reports `service` (all services when None) SERVING; asked with our own session
    (a 503 there while a service restarts is expected, not a server error of the test)."""
    try:
        r = session.get(cluster.base_url + "/healthz", timeout=10)  # retried by the callers, within their deadline
        services = r.json().get("services", {})
    except (requests.RequestException, ValueError, AttributeError) as e:
        return False, repr(e)
    if service is None:
        return r.status_code == 200, f"{r.status_code} {services}"
    return services.get(service) == "SERVING", f"{r.status_code} {services}"


def kill_and_wait_for_restart(cluster, session: requests.Session, service: str,
                              deadline: float = RESTART_DEADLINE) -> dict:
    """SIGKILLs one service process and waits until the launcher has restarted it and it is SERVING again."""
    old = cluster.service_pid(service)
    assert old, f"no {service}-service process under launcher {cluster.process.pid}"
    os.kill(old, signal.SIGKILL)
    killed_at = time.monotonic()
    state = "not restarted"
    while True:
        elapsed = time.monotonic() - killed_at
        assert elapsed < deadline, (
            f"{service}-service not back within {deadline:.0f} s of SIGKILL ({state})\n{cluster.log_tail(60)}")
        new = cluster.service_pid(service)
        if new and new != old:
            serving, health = service_serving(cluster, session, service)
            if serving:
                return {"service": service, "old": old, "new": new, "seconds": round(elapsed, 2)}
            state = f"restarted as {new}, health {health}"
        time.sleep(0.1)


def wait_healthy(cluster, session: requests.Session, timeout: float = RESTART_DEADLINE) -> None:
    """Waits until edge's /healthz reports every service SERVING."""
    deadline = time.monotonic() + timeout
    while True:
        ok, health = service_serving(cluster, session)
        if ok:
            return
        assert time.monotonic() < deadline, f"cluster not healthy within {timeout:.0f} s: {health}\n{cluster.log_tail(60)}"
        time.sleep(0.2)


class Org:
    """An organisation created through the operator API, with its admin key."""

    def __init__(self, cluster: "Cluster", body: dict):
        self.cluster = cluster
        self.raw = body
        self.id = body["org"]["id"]
        self.name = body["org"]["name"]
        self.time_zone = body["org"]["timeZone"]
        self.key = body["apiKey"]["key"]
        self.key_id = body["apiKey"]["id"]
        self.key_name = body["apiKey"]["name"]

    def api(self, method: str, path: str, **kw) -> requests.Response:
        kw.setdefault("key", self.key)
        return self.cluster.request(method, path, **kw)

    def get(self, path, **kw):
        return self.api("GET", path, **kw)

    def post(self, path, **kw):
        return self.api("POST", path, **kw)

    def patch(self, path, **kw):
        return self.api("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.api("DELETE", path, **kw)

    def create_contact(self, **fields) -> dict:
        if "phone" not in fields and "whatsappUserId" not in fields:
            fields["phone"] = rand_phone()
        contact = assert_json(self.post("/contacts", json=fields), 201)
        tick()
        return contact

    def list_all(self, path: str, params: dict | None = None, limit: int = 200) -> list[dict]:
        """Every item of a cursor-paginated list."""
        items, cursor = [], None
        for _ in range(10_000):
            query = dict(params or {}, limit=limit)
            if cursor:
                query["cursor"] = cursor
            body = assert_json(self.get(path, params=query), 200)
            items += body["data"]
            cursor = body["nextCursor"]
            if not cursor:
                return items
        raise AssertionError(f"{path}: pagination never ended")

    def upload_csv(self, data: bytes, file_name: str = "contacts.csv") -> requests.Response:
        return self.post(
            "/contacts/imports", params={"fileName": file_name}, data=data, headers={"Content-Type": "text/csv"}
        )

    def wait_import(self, job_id: str, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        job: dict = {}
        while time.monotonic() < deadline:
            job = assert_json(self.get(f"/contacts/imports/{job_id}"), 200)
            if job["status"] in ("completed", "failed"):
                return job
            time.sleep(0.2)
        raise AssertionError(f"import {job_id} did not finish within {timeout}s: {job}")

    def import_csv(self, data: bytes, mapping: dict | None = None, file_name: str = "contacts.csv",
                   timeout: float = 60.0) -> dict:
        """Upload, confirm (with `mapping` or the suggested one) and wait; answers the finished job."""
        job = assert_json(self.upload_csv(data, file_name), 201)
        body = {} if mapping is None else {"mapping": mapping}
        confirmed = assert_json(self.post(f"/contacts/imports/{job['id']}/confirm", json=body), 202)
        assert confirmed["id"] == job["id"]
        return self.wait_import(job["id"], timeout)


class Cluster:
    def __init__(self, bin_dir: Path, workdir: Path, extra_env: dict | None = None):
        self.bin_dir = bin_dir
        self.extra_env = dict(extra_env or {})  # applied last by env(): a module's own cluster settings
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.log_path = workdir / "switchboard.log"
        ports = free_ports(1 + len(SERVICES))
        self.ports = {"http": ports[0], **{name: port for name, port in zip(SERVICES, ports[1:])}}
        self.base_url = f"http://127.0.0.1:{self.ports['http']}"
        self.internal_token = secrets.token_hex(24)
        self.operator_key = "op_" + secrets.token_urlsafe(32)
        self.api_key = "sbk_" + secrets.token_urlsafe(32)
        # The demo org's admin agent, who signs in to the console (SWITCHBOARD_BOOTSTRAP_ADMIN_*).
        self.admin_email = "admin@demo.local"
        self.admin_password = "e2e-" + secrets.token_urlsafe(18)
        self.process: subprocess.Popen | None = None
        self.children_seen: dict[int, int] = {}  # pid -> start time
        self.server_errors: list[tuple[str, str, int, str]] = []
        self.session = requests.Session()
        self.session.hooks["response"].append(self._record)

    # -- process -------------------------------------------------------------------------------------

    def env(self) -> dict:
        env = dict(os.environ)
        env.update(
            SWITCHBOARD_DATA_DIR=str(self.data_dir),
            SWITCHBOARD_HTTP_PORT=str(self.ports["http"]),
            SWITCHBOARD_INTERNAL_TOKEN=self.internal_token,
            SWITCHBOARD_OPERATOR_KEY=self.operator_key,
            SWITCHBOARD_BOOTSTRAP_API_KEY=self.api_key,
            SWITCHBOARD_BOOTSTRAP_ADMIN_EMAIL=self.admin_email,
            SWITCHBOARD_BOOTSTRAP_ADMIN_PASSWORD=self.admin_password,
            # passwords: the cheapest scrypt edge allows (2^14), so that sign-ins and invitations are quick
            SWITCHBOARD_PASSWORD_SCRYPT_LOG_N="14",
            # the suite signs in wrongly on purpose, all from 127.0.0.1: no per-address cap on failed sign-ins here
            # (the per email and address delay stays on; test_auth_sessions.py starts a cluster with the cap)
            SWITCHBOARD_LOGIN_IP_FAILURE_LIMIT="0",
            SWITCHBOARD_BIN_DIR=str(self.bin_dir),
            # outbound sending: short retry backoff so that retry tests finish quickly
            SWITCHBOARD_SEND_RETRY_BASE_MS="50",
            SWITCHBOARD_SEND_RETRY_MAX_MS="400",
            SWITCHBOARD_SEND_MAX_ATTEMPTS="5",
            SWITCHBOARD_SEND_INFLIGHT="8",
            # the suite drives one admin key hard and sends wrong keys on purpose: no request limits here
            # (test_limits.py starts its own cluster with low ones)
            SWITCHBOARD_RATE_LIMIT_PER_KEY="0",
            SWITCHBOARD_AUTH_FAILURE_LIMIT="0",
            # the provider fakes listen on 127.0.0.1: allow that origin and private targets
            SWITCHBOARD_PROVIDER_URL_ALLOWLIST=(
                "https://graph.facebook.com,https://api.twilio.com,http://127.0.0.1,https://graph.example.test"),
            SWITCHBOARD_ALLOW_PRIVATE_PROVIDER_URLS="true",
            # event streams: a small ring of recent events, so that resuming from an older id is testable
            SWITCHBOARD_STREAM_RECENT_EVENTS="300",
        )
        for name in SERVICES:
            env[f"SWITCHBOARD_{name.upper()}_PORT"] = str(self.ports[name])
        env.update(self.extra_env)
        return env

    def start(self) -> None:
        launcher = self.bin_dir / "switchboard"
        if not os.access(launcher, os.X_OK):
            raise RuntimeError(f"{launcher} is missing: build first (`swift build`) or set SWITCHBOARD_BIN_DIR")
        self.data_dir.mkdir(parents=True, exist_ok=True)  # exists when a module restarts its own cluster
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [str(launcher)], cwd=self.workdir, env=self.env(), stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        last = "no answer"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"launcher exited with {self.process.returncode} during startup\n{self.log_tail()}")
            self.track_children()
            try:
                r = requests.get(self.base_url + "/healthz", timeout=10)  # five processes starting on busy cores
                if r.status_code == 200:
                    self.track_children()
                    return
                last = f"{r.status_code} {r.text[:300]}"
            except requests.RequestException as e:
                last = repr(e)
            time.sleep(0.25)
        raise RuntimeError(f"/healthz not 200 within {STARTUP_TIMEOUT}s (last: {last})\n{self.log_tail()}")

    def stop(self) -> tuple[int | None, list[int]]:
        """SIGTERM to the launcher; answers its exit code (None if it had to be killed) and the pids of its
        children that outlived it (those are then killed)."""
        proc = self.process
        if proc is None:
            return 0, []
        self.track_children()
        code: int | None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(SHUTDOWN_TIMEOUT)
        except subprocess.TimeoutExpired:
            code = None
            proc.kill()
            proc.wait(10)
        leftovers = self.surviving_children()
        deadline = time.monotonic() + 5
        while leftovers and code is not None and time.monotonic() < deadline:
            time.sleep(0.1)
            leftovers = self.surviving_children()
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.session.close()
        return code, leftovers

    def track_children(self) -> None:
        """Remembers every live descendant of the launcher (each child leads its own process group, so this is
        how the fixture finds them again if the launcher leaves one behind)."""
        if self.process is None or self.process.poll() is not None:
            return
        for pid in self.descendants():
            st = proc_stat(pid)
            if st:
                self.children_seen[pid] = st[3]

    def surviving_children(self) -> list[int]:
        alive = []
        for pid, started in self.children_seen.items():
            st = proc_stat(pid)
            if st and st[3] == started and st[0] != "Z":
                alive.append(pid)
        return sorted(alive)

    def log_tail(self, lines: int = 150) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no launcher log)"
        return f"--- last {lines} lines of {self.log_path} ---\n" + "\n".join(text.splitlines()[-lines:])

    def descendants(self) -> list[int]:
        assert self.process is not None
        children: dict[int, list[int]] = {}
        for pid in live_pids():
            st = proc_stat(pid)
            if st and st[0] != "Z":
                children.setdefault(st[1], []).append(pid)
        found, todo = [], [self.process.pid]
        while todo:
            for child in children.get(todo.pop(), []):
                found.append(child)
                todo.append(child)
        return found

    def service_pid(self, service: str) -> int | None:
        """The pid of `<service>-service` started by this cluster's launcher (None while it is down)."""
        exe_name = f"{service}-service"
        candidates = []
        self.track_children()
        for pid in self.descendants():
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:2]
                exe = os.readlink(f"/proc/{pid}/exe")
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
            names = {os.path.basename(exe)} | {os.path.basename(a.decode(errors="replace")) for a in argv}
            if exe_name in names:
                try:
                    environ = Path(f"/proc/{pid}/environ").read_bytes()
                except (FileNotFoundError, ProcessLookupError, PermissionError):
                    environ = b""
                mine = str(self.data_dir).encode() in environ or str(self.workdir).encode() in environ
                candidates.append((not mine, pid))  # prefer processes whose environment names our data dir
        return sorted(candidates)[0][1] if candidates else None

    # -- HTTP ----------------------------------------------------------------------------------------

    def _record(self, resp: requests.Response, *args, **kwargs):
        if resp.status_code >= 500:
            self.server_errors.append((resp.request.method, resp.request.url, resp.status_code, resp.text[:300]))

    def url(self, path: str) -> str:
        if path.startswith("http://") or path.startswith("https://"):
            return path
        if path.startswith("/api/") or path in ("/healthz", "/metrics") or path.startswith("/healthz?"):
            return self.base_url + path
        return self.base_url + API + path

    def request(self, method: str, path: str, *, key=_DEFAULT, headers: dict | None = None,
                **kw) -> requests.Response:
        """An HTTP request to edge; `path` without `/api/` is relative to /api/whatsapp-api. `key=None` sends
        no Authorization header; the default is the bootstrap API key."""
        headers = dict(headers or {})
        key = self.api_key if key is _DEFAULT else key
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        kw.setdefault("timeout", HTTP_TIMEOUT)
        return self.session.request(method, self.url(path), headers=headers, **kw)

    def api(self, method: str, path: str, **kw) -> requests.Response:
        return self.request(method, path, **kw)

    def admin(self, method: str, path: str, **kw) -> requests.Response:
        kw.setdefault("key", self.operator_key)
        return self.request(method, path, **kw)

    def create_org(self, name: str | None = None, time_zone: str | None = None) -> Org:
        body = {"name": name or unique("Org ")}
        if time_zone:
            body["timeZone"] = time_zone
        return Org(self, assert_json(self.admin("POST", "/api/admin/orgs", json=body), 201))

    def health(self) -> requests.Response:
        return self.session.get(self.base_url + "/healthz", timeout=HTTP_TIMEOUT)


def free_ports(count: int) -> list[int]:
    """`count` distinct free loopback ports (all bound at once, then released)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def find_bin_dir() -> Path:
    if os.environ.get("SWITCHBOARD_BIN_DIR"):
        return Path(os.environ["SWITCHBOARD_BIN_DIR"]).resolve()
    out = subprocess.run(
        ["swift", "build", "--show-bin-path"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600
    )
    if out.returncode != 0 or not out.stdout.strip():
        raise RuntimeError(f"`swift build --show-bin-path` failed ({out.returncode}): {out.stderr[-2000:]}")
    return Path(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------------------
# fixtures and hooks

_CLUSTER: Cluster | None = None


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "allow_unavailable: the test may see 503/504 from edge (a service is down on purpose)"
    )


@pytest.fixture(scope="session")
def cluster():
    global _CLUSTER
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-e2e-"))
    c = Cluster(find_bin_dir(), workdir)
    _CLUSTER = c
    try:
        c.start()
    except BaseException:
        c.stop()
        raise
    yield c
    code, leftovers = c.stop()
    _CLUSTER = None
    ok = code == 0 and not leftovers
    if ok and not os.environ.get("SWITCHBOARD_E2E_KEEP"):
        shutil.rmtree(workdir, ignore_errors=True)
    assert code is not None, f"launcher did not exit within {SHUTDOWN_TIMEOUT}s of SIGTERM\n{c.log_tail()}"
    assert code == 0, f"launcher exited with {code} after SIGTERM\n{c.log_tail()}"
    assert not leftovers, f"processes left running after the launcher exited: {leftovers}\n{c.log_tail()}"


@pytest.fixture
def org(cluster) -> Org:
    """A fresh organisation (with its own admin key) for one test: no other test's data is visible."""
    return cluster.create_org()


@pytest.fixture
def other_org(cluster) -> Org:
    """A second fresh organisation, for cross-org isolation tests."""
    return cluster.create_org()


@pytest.fixture(autouse=True)
def _never_a_server_error(request, cluster):
    """Fails any test during which edge answered a 5xx (503/504 allowed for tests that stop a service)."""
    before = len(cluster.server_errors)
    yield
    seen = cluster.server_errors[before:]
    if request.node.get_closest_marker("allow_unavailable"):
        seen = [e for e in seen if e[2] not in (503, 504)]
    assert not seen, f"edge answered server errors: {seen}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and _CLUSTER is not None:
        report.sections.append(("switchboard log", _CLUSTER.log_tail(80)))
