"""People and sessions (issue 12 §2): agents sign in with email and password and get the session cookie, which
produces the same caller an API key does on every /api/whatsapp-api route and on the event stream. Black box:
the built cluster over real HTTP, driven with `requests` as a browser would (the cookie is sent by hand: a
`Secure` cookie is not sent over http by Python's cookie jar, while browsers treat loopback as secure).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest import API, Cluster, assert_error, assert_json, find_bin_dir, free_ports, unique
from inbound_helpers import open_sandbox_conversation

COOKIE = "__Host-sb_session"
TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")


def strong_password() -> str:
    return "pw-" + secrets.token_urlsafe(12)


class Browser:
    """One browser of an agent: its session cookie, and the headers a same-origin console request carries."""

    def __init__(self, cluster, token: str | None = None):
        self.cluster = cluster
        self.token = token

    def headers(self, extra: dict | None = None, *, same_origin: bool = True) -> dict:
        headers = {}
        if same_origin:
            headers["Origin"] = self.cluster.base_url
            headers["X-Switchboard-Console"] = "1"
        if self.token:
            headers["Cookie"] = f"{COOKIE}={self.token}"
        headers.update(extra or {})
        return {k: v for k, v in headers.items() if v is not None}

    def request(self, method: str, path: str, *, headers: dict | None = None, same_origin: bool = True, **kw):
        return self.cluster.request(method, path, key=None, headers=self.headers(headers, same_origin=same_origin),
                                    **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def login(self, email: str, password: str, **extra) -> requests.Response:
        resp = self.post("/api/auth/login", json={"email": email, "password": password, **extra})
        if resp.status_code == 200:
            self.token = session_token(resp)
        return resp


def session_token(resp: requests.Response) -> str:
    """The token of the response's session cookie, after checking every attribute the contract names."""
    header = resp.headers.get("Set-Cookie", "")
    assert header.startswith(f"{COOKIE}="), header
    value, *attributes = [part.strip() for part in header.split(";")]
    token = value.split("=", 1)[1]
    assert TOKEN.match(token), header
    assert set(attributes) == {"Path=/", "Secure", "HttpOnly", "SameSite=Lax"}, header
    return token


def assert_cleared(resp: requests.Response) -> None:
    header = resp.headers.get("Set-Cookie", "")
    assert header.startswith(f"{COOKIE}=;"), header
    assert "Max-Age=0" in header and "HttpOnly" in header and "Secure" in header, header


def agent_with_password(org, role: str = "agent", password: str | None = None) -> tuple[dict, str, Browser]:
    """An agent of `org` (created with the org's admin key) who set a password through an invitation; answers the
    agent, the password and the browser signed in by accepting."""
    agent = assert_json(org.post("/agents", json={"name": unique("Agent "), "email": f"{unique('a')}@example.com",
                                                  "role": role}), 201)
    invite = assert_json(org.post(f"/agents/{agent['id']}/invite"), 201)
    password = password or strong_password()
    browser = Browser(org.cluster)
    resp = browser.post("/api/auth/invite/accept", json={"token": invite["token"], "password": password})
    body = assert_json(resp, 200)
    browser.token = session_token(resp)
    assert body["agent"]["id"] == agent["id"]
    return agent, password, browser


# ---------------------------------------------------------------------------------------------------------
# signing in


def test_the_bootstrap_admin_signs_in_and_sees_the_demo_org(cluster):
    browser = Browser(cluster)
    resp = browser.login(cluster.admin_email, cluster.admin_password)
    body = assert_json(resp, 200)
    assert body["role"] == "admin" and body["agent"]["email"] == cluster.admin_email
    assert body["agent"]["role"] == "admin"
    assert set(body["org"]) == {"id", "name", "timeZone"} and body["org"]["name"] == "Demo"
    assert set(body["session"]) == {"id", "createdAt", "expiresAt"}
    assert resp.headers.get("Cache-Control") == "no-store"
    # The cookie is a caller of the API like the demo org's admin key: the same org.
    org = assert_json(browser.get("/org"), 200)
    assert org["id"] == body["org"]["id"]
    assert assert_json(cluster.request("GET", "/org"), 200)["id"] == org["id"]
    again = assert_json(browser.get("/api/auth/session"), 200)
    assert again["session"]["id"] == body["session"]["id"] and again["agent"] == body["agent"]


def test_every_login_gets_a_new_token(cluster):
    first, second = Browser(cluster), Browser(cluster)
    assert_json(first.login(cluster.admin_email, cluster.admin_password), 200)
    assert_json(second.login(cluster.admin_email, cluster.admin_password), 200)
    assert first.token != second.token
    assert assert_json(first.get("/api/auth/session"), 200)["session"]["id"] != \
        assert_json(second.get("/api/auth/session"), 200)["session"]["id"]


def test_wrong_password_and_unknown_email_get_one_answer_in_similar_time(cluster, org):
    agents = [agent_with_password(org) for _ in range(2)]
    wrong, unknown = [], []
    for attempt in range(4):  # at most 4 failures per email: below the throttle's 5 free ones
        for agent, _, _ in agents:
            started = time.perf_counter()
            resp = Browser(cluster).login(agent["email"], strong_password())
            wrong.append(time.perf_counter() - started)
            err = assert_error(resp, 401, "invalid_credentials")
            assert err["message"] == "email or password is wrong" and "Set-Cookie" not in resp.headers
            started = time.perf_counter()
            resp = Browser(cluster).login(f"{unique('nobody')}@example.com", strong_password())
            unknown.append(time.perf_counter() - started)
            assert_error(resp, 401, "invalid_credentials")
            assert resp.json()["error"]["message"] == err["message"]
    # An unknown email is checked against a dummy hash: no quicker than a wrong password (a missing hash would
    # answer in a fraction of the time).
    ratio = statistics.median(unknown) / statistics.median(wrong)
    assert 0.5 < ratio < 2.0, (wrong, unknown)
    # The good password still works (4 failures do not delay it).
    agent, password, _ = agents[0]
    assert_json(Browser(cluster).login(agent["email"].upper(), password), 200)


def test_login_validates_its_body(cluster):
    browser = Browser(cluster)
    assert_error(browser.post("/api/auth/login", json={"email": "a@b.co"}), 400, "missing_field", field="password")
    assert_error(browser.post("/api/auth/login", json={"email": 1, "password": "x"}), 400, "invalid_field")
    assert_error(browser.post("/api/auth/login", json={"email": "a@b.co", "password": "x", "extra": 1}), 400,
                 "unknown_field")
    assert_error(browser.post("/api/auth/login", data=b"{", headers={"Content-Type": "application/json"}), 400,
                 "invalid_json")


def test_the_same_email_in_two_orgs_needs_an_org_id(cluster, org, other_org):
    email = f"{unique('both')}@example.com"
    password = strong_password()
    ids = {}
    for o in (org, other_org):
        agent = assert_json(o.post("/agents", json={"name": "Twin", "email": email}), 201)
        invite = assert_json(o.post(f"/agents/{agent['id']}/invite"), 201)
        assert_json(Browser(cluster).post("/api/auth/invite/accept",
                                          json={"token": invite["token"], "password": password}), 200)
        ids[o.id] = agent["id"]
    resp = Browser(cluster).login(email, password)
    err = assert_error(resp, 409, "org_required")
    assert sorted(o["id"] for o in err["details"]["orgs"]) == sorted(ids)
    assert {o["name"] for o in err["details"]["orgs"]} == {org.name, other_org.name}
    assert "Set-Cookie" not in resp.headers
    body = assert_json(Browser(cluster).login(email, password, orgId=other_org.id), 200)
    assert body["org"]["id"] == other_org.id and body["agent"]["id"] == ids[other_org.id]


# ---------------------------------------------------------------------------------------------------------
# the cookie as a caller


def test_the_cookie_is_a_caller_with_the_agents_role(cluster, org):
    agent, _, browser = agent_with_password(org, role="agent")
    me = assert_json(browser.get("/api/auth/session"), 200)
    assert me["role"] == "agent" and me["org"]["id"] == org.id
    contact = org.create_contact(name="Ann")
    assert assert_json(browser.get(f"/contacts/{contact['id']}"), 200)["id"] == contact["id"]
    # An agent session is refused on admin-only routes, as an agent key is.
    assert_error(browser.post("/api-keys", json={"name": "mine"}), 403, "forbidden")
    assert_error(browser.post("/agents", json={"name": "X", "email": f"{unique('x')}@example.com"}), 403, "forbidden")
    assert_error(browser.delete(f"/agents/{agent['id']}"), 403, "forbidden")
    assert_error(browser.post(f"/agents/{agent['id']}/invite", json={}), 403, "forbidden")
    # Writes the agent may make work with the cookie and JSON.
    tagged = assert_json(browser.post(f"/contacts/{contact['id']}/tags", json={"tags": ["vip"]}), 200)
    assert "vip" in tagged["tags"]


def test_another_orgs_conversation_through_the_cookie_is_404(cluster, org, other_org):
    _, _, browser = agent_with_password(org)
    theirs = open_sandbox_conversation(other_org)
    assert_json(other_org.get(f"/conversations/{theirs['id']}"), 200)
    assert_error(browser.get(f"/conversations/{theirs['id']}"), 404, "conversation_not_found")
    assert all(c["id"] != theirs["id"] for c in assert_json(browser.get("/conversations"), 200)["data"])


def test_bearer_wins_over_the_cookie(cluster, org):
    _, _, browser = agent_with_password(org)
    # The demo org's admin key with another org's agent cookie: the key's org answers, no CSRF rule applies.
    resp = cluster.request("POST", "/contacts", json={"phone": "+447700900777", "name": "Bearer"},
                           headers={"Cookie": f"{COOKIE}={browser.token}", "Sec-Fetch-Site": "cross-site"})
    created = assert_json(resp, 201)
    assert assert_json(cluster.request("GET", f"/contacts/{created['id']}"), 200)["id"] == created["id"]
    assert_error(browser.get(f"/contacts/{created['id']}"), 404, "contact_not_found")
    # A wrong key with a good cookie is a wrong key.
    assert_error(cluster.request("GET", "/org", key="sb_wrong-key", headers={"Cookie": f"{COOKIE}={browser.token}"}),
                 401, "unauthorized")
    # API keys work as before, with no Origin or JSON requirement.
    assert_json(org.get("/org"), 200)


def test_a_garbage_or_ended_cookie_is_401_and_cleared(cluster):
    for value in ("x" * 43, "short", secrets.token_urlsafe(32)):
        resp = cluster.request("GET", "/org", key=None, headers={"Cookie": f"{COOKIE}={value}"})
        assert_error(resp, 401, "unauthorized")
        assert_cleared(resp)
    assert_error(cluster.request("GET", "/api/auth/session", key=None), 401, "unauthorized")
    # The admin key is not a session.
    assert_error(cluster.request("GET", "/api/auth/session"), 401, "unauthorized")


# ---------------------------------------------------------------------------------------------------------
# CSRF


def test_csrf_cross_site_cookie_requests_are_refused(cluster, org):
    _, _, browser = agent_with_password(org)
    contact = org.create_contact()
    path = f"/contacts/{contact['id']}/tags"
    body = {"tags": ["csrf"]}
    refused = [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "none"},
        {"Origin": "http://127.0.0.2:8080"},
        {"Origin": "null"},
        {"Origin": None},  # neither header: not a browser request of this site
    ]
    for headers in refused:
        err = assert_error(browser.post(path, json=body, headers=headers), 403, "csrf_refused")
        assert err["message"]
    # Same origin, but a form's content type and no console header.
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None):
        assert_error(browser.post(path, data=b'{"tags":["csrf"]}',
                                  headers={"Content-Type": ctype, "X-Switchboard-Console": None}), 403, "csrf_refused")
    assert_error(browser.post(path, data=b'{"tags":["csrf"]}', headers={
        "Sec-Fetch-Site": "same-origin", "Content-Type": "text/plain", "X-Switchboard-Console": "0"}), 403,
        "csrf_refused")
    assert_error(browser.delete(f"/contacts/{contact['id']}", headers={"X-Switchboard-Console": None}), 403,
                 "csrf_refused")
    assert "csrf" not in assert_json(org.get(f"/contacts/{contact['id']}"), 200)["tags"]
    # What the console sends passes: same-origin with JSON, or with its header.
    assert_json(browser.post(path, json=body, headers={"Sec-Fetch-Site": "same-origin", "Origin": None,
                                                       "X-Switchboard-Console": None}), 200)
    assert_json(browser.post(path, data=b'{"tags":["csrf2"]}',
                             headers={"Content-Type": "text/plain", "X-Switchboard-Console": "1"}), 200)
    assert {"csrf", "csrf2"} <= set(assert_json(org.get(f"/contacts/{contact['id']}"), 200)["tags"])
    # Reading is never refused.
    assert_json(browser.get(f"/contacts/{contact['id']}", headers={"Sec-Fetch-Site": "cross-site"}), 200)
    # Logout and the session routes follow the rule too.
    assert_error(browser.post("/api/auth/logout", headers={"Sec-Fetch-Site": "cross-site"}), 403, "csrf_refused")
    assert_error(browser.delete("/api/auth/sessions", headers={"Origin": "http://evil.test"}), 403, "csrf_refused")
    assert_json(browser.get("/api/auth/session"), 200)


def test_csrf_login_and_accept_follow_the_origin_rule(cluster):
    resp = Browser(cluster).post("/api/auth/login", json={"email": cluster.admin_email,
                                                           "password": cluster.admin_password},
                                 headers={"Origin": "http://127.0.0.2:9"})
    assert_error(resp, 403, "csrf_refused")
    assert "Set-Cookie" not in resp.headers
    resp = Browser(cluster).post("/api/auth/login", same_origin=False,
                                 json={"email": cluster.admin_email, "password": cluster.admin_password})
    assert_error(resp, 403, "csrf_refused")
    resp = Browser(cluster).post("/api/auth/login", data=b"{}", headers={"Content-Type": "text/plain",
                                                                        "X-Switchboard-Console": None})
    assert_error(resp, 403, "csrf_refused")
    resp = Browser(cluster).post("/api/auth/invite/accept", json={"token": "x" * 43, "password": strong_password()},
                                 headers={"Sec-Fetch-Site": "cross-site"})
    assert_error(resp, 403, "csrf_refused")


# ---------------------------------------------------------------------------------------------------------
# logout and the event stream


class Stream:
    """An open `GET /events/stream` read on a thread; `ended` is set when the server closes it."""

    def __init__(self, cluster, headers: dict):
        self.resp = requests.get(cluster.base_url + API + "/events/stream", headers=headers, stream=True,
                                 timeout=(5, 30))
        self.ended = threading.Event()
        self.text = ""
        if self.resp.status_code == 200:
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        try:
            for chunk in self.resp.iter_content(chunk_size=None):
                self.text += chunk.decode(errors="replace")
        except requests.RequestException:
            pass
        self.ended.set()

    def close(self):
        self.resp.close()


def test_the_event_stream_takes_the_cookie_and_logout_closes_it(cluster, org):
    _, _, browser = agent_with_password(org)
    stream = Stream(cluster, browser.headers(same_origin=False))
    try:
        assert stream.resp.status_code == 200, stream.resp.text
        assert stream.resp.headers["Content-Type"].startswith("text/event-stream")
        deadline = time.monotonic() + 20
        while ": connected" not in stream.text and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ": connected" in stream.text
        assert not stream.ended.is_set()
        resp = browser.post("/api/auth/logout")
        assert resp.status_code == 204, resp.text
        assert_cleared(resp)
        # (under the stream's 30 s read timeout, so that a timed-out read cannot pass for the server closing it)
        assert stream.ended.wait(20), "the session's stream is still open after logout"
    finally:
        stream.close()
    # The cookie no longer works anywhere.
    assert_error(browser.get("/api/auth/session"), 401, "unauthorized")
    assert_error(browser.get("/org"), 401, "unauthorized")
    refused = Stream(cluster, browser.headers(same_origin=False))
    assert_error(refused.resp, 401, "unauthorized")
    assert_error(browser.post("/api/auth/logout"), 401, "unauthorized")


def test_an_admin_ends_an_agents_sessions_and_their_streams(cluster, org):
    _, _, browser = agent_with_password(org)
    streams = [Stream(cluster, browser.headers(same_origin=False)) for _ in range(2)]
    try:
        assert all(s.resp.status_code == 200 for s in streams)
        # The admin ends the agent's sessions: both streams close at once.
        resp = org.delete(f"/agents/{browser_agent_id(browser)}/sessions")
        assert resp.status_code == 204, resp.text
        assert all(s.ended.wait(5) for s in streams), "the agent's streams stay open"
    finally:
        for s in streams:
            s.close()
    assert_error(browser.get("/api/auth/session"), 401, "unauthorized")


def browser_agent_id(browser: Browser) -> str:
    return assert_json(browser.get("/api/auth/session"), 200)["agent"]["id"]


# ---------------------------------------------------------------------------------------------------------
# throttling


def test_failures_of_one_email_slow_further_attempts_down(cluster, org):
    agent, password, _ = agent_with_password(org)
    email = agent["email"]
    for _ in range(5):
        assert_error(Browser(cluster).login(email, strong_password()), 401, "invalid_credentials")
    # The sixth attempt within the window waits 1 s, even with the right password (checked before hashing).
    resp = Browser(cluster).login(email, password)
    assert_error(resp, 429, "too_many_attempts", retryAfterSeconds=1)
    assert resp.headers["Retry-After"] == "1" and "Set-Cookie" not in resp.headers
    # Another email from the same address is not slowed down.
    assert_error(Browser(cluster).login(f"{unique('other')}@example.com", "whatever1"), 401, "invalid_credentials")
    time.sleep(1.1)
    assert_error(Browser(cluster).login(email, strong_password()), 401, "invalid_credentials")
    resp = Browser(cluster).login(email, password)
    assert_error(resp, 429, "too_many_attempts", retryAfterSeconds=2)
    assert resp.headers["Retry-After"] == "2"
    # Never a lock-out: after the wait the right password signs in, and that forgets the failures.
    time.sleep(2.1)
    assert_json(Browser(cluster).login(email, password), 200)
    assert_error(Browser(cluster).login(email, strong_password()), 401, "invalid_credentials")
    assert_json(Browser(cluster).login(email, password), 200)


def test_failures_are_counted_in_metrics(cluster):
    def count() -> float:
        text = cluster.request("GET", "/metrics", key=None).text
        found = re.search(r'^switchboard_login_failures_total\{reason="invalid_credentials"\} (\S+)$', text, re.M)
        return float(found.group(1)) if found else 0.0

    before = count()
    assert_error(Browser(cluster).login(f"{unique('m')}@example.com", strong_password()), 401, "invalid_credentials")
    assert count() == before + 1


class SourceAddressAdapter(requests.adapters.HTTPAdapter):
    """Connects from another loopback address, as a second client machine would."""

    def __init__(self, address: str):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


@pytest.fixture(scope="module")
def capped_cluster():
    """A cluster of its own with the per-address cap on (the suite's cluster turns it off): 8 failures a minute."""
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-e2e-auth-"))
    c = Cluster(find_bin_dir(), workdir, extra_env={"SWITCHBOARD_LOGIN_IP_FAILURE_LIMIT": "8"})
    try:
        c.start()
        yield c
    finally:
        code, leftovers = c.stop()
        if code == 0 and not leftovers:
            shutil.rmtree(workdir, ignore_errors=True)


def test_one_address_failing_with_many_emails_is_refused_for_the_minute(capped_cluster):
    cluster = capped_cluster
    for _ in range(8):
        assert_error(Browser(cluster).login(f"{unique('spray')}@example.com", "Spring2024!x"), 401,
                     "invalid_credentials")
    resp = Browser(cluster).login(f"{unique('spray')}@example.com", "Spring2024!x")
    err = assert_error(resp, 429, "too_many_attempts")
    assert 1 <= int(resp.headers["Retry-After"]) <= 60 and err["details"]["retryAfterSeconds"] >= 1
    # The admin's right password from this address waits as well (no hash is computed for it) …
    assert_error(Browser(cluster).login(cluster.admin_email, cluster.admin_password), 429, "too_many_attempts")
    # … while another address signs in.
    other = requests.Session()
    other.mount("http://", SourceAddressAdapter("127.0.0.2"))
    resp = other.post(cluster.base_url + "/api/auth/login", timeout=30,
                      json={"email": cluster.admin_email, "password": cluster.admin_password},
                      headers={"Origin": cluster.base_url})
    assert resp.status_code == 200, resp.text
    assert session_token(resp)


# ---------------------------------------------------------------------------------------------------------
# passwords


@pytest.mark.parametrize("password,reason", [
    ("short7!", "too_short"),
    ("x" * 129, "too_long"),
    ("password123", "common"),
    ("Sunshine1", "common"),
    ("Switchboard2025", "context"),
])
def test_weak_passwords_are_refused_with_a_reason(cluster, org, password, reason):
    agent = assert_json(org.post("/agents", json={"name": "Weak", "email": f"{unique('w')}@example.com"}), 201)
    invite = assert_json(org.post(f"/agents/{agent['id']}/invite"), 201)
    resp = Browser(cluster).post("/api/auth/invite/accept", json={"token": invite["token"], "password": password})
    assert_error(resp, 400, "weak_password", reason=reason, field="password")
    assert "Set-Cookie" not in resp.headers
    # A refused password does not use the link up.
    assert_json(Browser(cluster).post("/api/auth/invite/accept",
                                      json={"token": invite["token"], "password": strong_password()}), 200)


def test_the_email_and_org_name_are_refused_as_passwords(cluster, org):
    agent, password, browser = agent_with_password(org)
    for weak in (agent["email"], agent["email"].upper() + "1", org.name, org.name.replace(" ", "") + "!!"):
        resp = browser.post("/api/auth/password", json={"currentPassword": password, "newPassword": weak})
        assert_error(resp, 400, "weak_password", reason="context", field="newPassword")


def test_changing_the_password_needs_the_current_one_and_ends_the_other_sessions(cluster, org):
    agent, password, first = agent_with_password(org)
    second = Browser(cluster)
    assert_json(second.login(agent["email"], password), 200)
    stream = Stream(cluster, second.headers(same_origin=False))
    try:
        assert stream.resp.status_code == 200
        new = strong_password()
        assert_error(first.post("/api/auth/password", json={"currentPassword": "not-it-at-all", "newPassword": new}),
                     401, "invalid_credentials")
        assert_json(second.get("/api/auth/session"), 200)
        assert_error(first.post("/api/auth/password", json={"newPassword": new}), 400, "missing_field")
        resp = first.post("/api/auth/password", json={"currentPassword": password, "newPassword": new})
        assert resp.status_code == 204, resp.text
        assert stream.ended.wait(5), "the other session's stream stays open"
    finally:
        stream.close()
    assert_json(first.get("/api/auth/session"), 200)
    assert_error(second.get("/api/auth/session"), 401, "unauthorized")
    assert_error(Browser(cluster).login(agent["email"], password), 401, "invalid_credentials")
    third = Browser(cluster)
    assert_json(third.login(agent["email"], new), 200)
    # Told not to, the change leaves the other sessions alone.
    newer = strong_password()
    resp = first.post("/api/auth/password", json={"currentPassword": new, "newPassword": newer,
                                                  "endOtherSessions": False})
    assert resp.status_code == 204, resp.text
    assert_json(third.get("/api/auth/session"), 200)
    assert_json(Browser(cluster).login(agent["email"], newer), 200)


# ---------------------------------------------------------------------------------------------------------
# my sessions


def test_sessions_are_listed_and_ended_one_by_one_or_all_others(cluster, org):
    agent, password, first = agent_with_password(org)
    second, third = Browser(cluster), Browser(cluster)
    second.login(agent["email"], password)
    assert_json(third.post("/api/auth/login", json={"email": agent["email"], "password": password},
                           headers={"User-Agent": "Third browser/1.0"}), 200)
    third.token = session_token(third.login(agent["email"], password))
    listed = assert_json(first.get("/api/auth/sessions"), 200)["data"]
    assert len(listed) == 4  # accepting the invitation, then three sign-ins
    assert [s["current"] for s in listed].count(True) == 1
    for s in listed:
        assert set(s) == {"id", "createdAt", "lastSeenAt", "expiresAt", "ip", "userAgent", "current"}
        assert s["ip"] == "127.0.0.1"
    assert any(s["userAgent"] == "Third browser/1.0" for s in listed)
    mine = next(s for s in listed if s["current"])
    assert mine["id"] == assert_json(first.get("/api/auth/session"), 200)["session"]["id"]
    second_id = assert_json(second.get("/api/auth/session"), 200)["session"]["id"]
    resp = first.delete(f"/api/auth/sessions/{second_id}")
    assert resp.status_code == 204, resp.text
    assert_error(second.get("/api/auth/session"), 401, "unauthorized")
    assert_error(first.delete(f"/api/auth/sessions/{second_id}"), 404, "session_not_found")
    # Another agent's session is not mine to end.
    _, _, stranger = agent_with_password(org)
    stranger_id = assert_json(stranger.get("/api/auth/session"), 200)["session"]["id"]
    assert_error(first.delete(f"/api/auth/sessions/{stranger_id}"), 404, "session_not_found")
    assert_json(stranger.get("/api/auth/session"), 200)
    resp = first.delete("/api/auth/sessions")
    assert resp.status_code == 204, resp.text
    assert_error(third.get("/api/auth/session"), 401, "unauthorized")
    assert [s["current"] for s in assert_json(first.get("/api/auth/sessions"), 200)["data"]] == [True]
    # Ending the current session by id signs out.
    resp = first.delete(f"/api/auth/sessions/{mine['id']}")
    assert resp.status_code == 204
    assert_cleared(resp)
    assert_error(first.get("/api/auth/session"), 401, "unauthorized")


# ---------------------------------------------------------------------------------------------------------
# invitations and resets


def test_invite_accept_then_sign_in(cluster, org):
    agent = assert_json(org.post("/agents", json={"name": "New", "email": f"{unique('n')}@example.com"}), 201)
    assert_error(Browser(cluster).login(agent["email"], "anything-at-all"), 401, "invalid_credentials")
    resp = org.post(f"/agents/{agent['id']}/invite")
    invite = assert_json(resp, 201)
    assert set(invite) == {"url", "token", "expiresAt"}
    assert TOKEN.match(invite["token"])
    assert invite["url"] == f"{cluster.base_url}/accept-invite#token={invite['token']}"
    assert_recent_future(invite["expiresAt"], hours=24)
    assert resp.headers.get("Cache-Control") == "no-store"
    password = strong_password()
    resp = Browser(cluster).post("/api/auth/invite/accept", json={"token": invite["token"], "password": password})
    body = assert_json(resp, 200)
    assert body["agent"]["id"] == agent["id"] and body["role"] == "agent" and body["org"]["id"] == org.id
    assert session_token(resp)
    # Single use: the same token again is refused with the same answer as a made-up one.
    used = assert_error(Browser(cluster).post("/api/auth/invite/accept",
                                              json={"token": invite["token"], "password": strong_password()}),
                        400, "invalid_token")
    unknown = assert_error(Browser(cluster).post("/api/auth/invite/accept",
                                                 json={"token": secrets.token_urlsafe(32), "password": password}),
                           400, "invalid_token")
    assert used["message"] == unknown["message"]
    assert_error(Browser(cluster).post("/api/auth/invite/accept", json={"token": "short", "password": password}),
                 400, "invalid_token")
    assert_json(Browser(cluster).login(agent["email"], password), 200)


def assert_recent_future(value: str, hours: float) -> None:
    from conftest import parse_time
    import datetime as dt
    left = (parse_time(value) - dt.datetime.now(dt.timezone.utc)).total_seconds()
    assert hours * 3600 - 300 < left <= hours * 3600 + 5, value


def test_a_new_invitation_voids_the_previous_one_and_resets_the_password(cluster, org):
    agent, old_password, browser = agent_with_password(org)
    first = assert_json(org.post(f"/agents/{agent['id']}/invite"), 201)
    second = assert_json(org.post(f"/agents/{agent['id']}/invite"), 201)
    assert first["token"] != second["token"]
    assert_error(Browser(cluster).post("/api/auth/invite/accept",
                                       json={"token": first["token"], "password": strong_password()}),
                 400, "invalid_token")
    # Until the reset is accepted the old password still works.
    assert_json(Browser(cluster).login(agent["email"], old_password), 200)
    new = strong_password()
    fresh = Browser(cluster)
    resp = fresh.post("/api/auth/invite/accept", json={"token": second["token"], "password": new})
    assert_json(resp, 200)
    fresh.token = session_token(resp)
    # A reset ends every earlier session and the old password.
    assert_error(browser.get("/api/auth/session"), 401, "unauthorized")
    assert_error(Browser(cluster).login(agent["email"], old_password), 401, "invalid_credentials")
    assert_json(fresh.get("/api/auth/session"), 200)


def test_invitations_are_for_admins_of_the_agents_org(cluster, org, other_org):
    agent = assert_json(org.post("/agents", json={"name": "Mine", "email": f"{unique('m')}@example.com"}), 201)
    assert_error(other_org.post(f"/agents/{agent['id']}/invite"), 404, "agent_not_found")
    assert_error(other_org.delete(f"/agents/{agent['id']}/sessions"), 404, "agent_not_found")
    assert_error(org.post("/agents/no-such-agent/invite"), 404, "agent_not_found")
    key = assert_json(org.post("/api-keys", json={"name": "agent key", "role": "agent"}), 201)["key"]
    assert_error(org.post(f"/agents/{agent['id']}/invite", key=key), 403, "forbidden")
    assert_error(org.delete(f"/agents/{agent['id']}/sessions", key=key), 403, "forbidden")


def test_an_admin_session_invites_and_manages_agents(cluster):
    admin = Browser(cluster)
    assert_json(admin.login(cluster.admin_email, cluster.admin_password), 200)
    agent = assert_json(admin.post("/agents", json={"name": "By cookie", "email": f"{unique('c')}@example.com"}), 201)
    invite = assert_json(admin.post(f"/agents/{agent['id']}/invite"), 201)
    assert_json(Browser(cluster).post("/api/auth/invite/accept",
                                      json={"token": invite["token"], "password": strong_password()}), 200)
    resp = admin.delete(f"/agents/{agent['id']}")
    assert resp.status_code == 204, resp.text


# ---------------------------------------------------------------------------------------------------------
# removal and demotion


def test_removing_an_agent_ends_their_sessions_and_streams(cluster, org):
    agent, password, browser = agent_with_password(org)
    stream = Stream(cluster, browser.headers(same_origin=False))
    try:
        assert stream.resp.status_code == 200
        resp = org.delete(f"/agents/{agent['id']}")
        assert resp.status_code == 204, resp.text
        assert stream.ended.wait(5), "the removed agent's stream stays open"
    finally:
        stream.close()
    assert_error(browser.get("/org"), 401, "unauthorized")
    assert_error(Browser(cluster).login(agent["email"], password), 401, "invalid_credentials")


def test_changing_an_agents_role_ends_their_sessions(cluster, org):
    agent, password, browser = agent_with_password(org, role="admin")
    assert assert_json(browser.get("/api/auth/session"), 200)["role"] == "admin"
    stream = Stream(cluster, browser.headers(same_origin=False))
    try:
        assert stream.resp.status_code == 200
        assert_json(org.patch(f"/agents/{agent['id']}", json={"role": "agent"}), 200)
        assert stream.ended.wait(5), "the demoted agent's stream stays open"
    finally:
        stream.close()
    assert_error(browser.get("/api/auth/session"), 401, "unauthorized")
    demoted = Browser(cluster)
    assert assert_json(demoted.login(agent["email"], password), 200)["role"] == "agent"
    assert_error(demoted.post("/api-keys", json={"name": "k"}), 403, "forbidden")
    # A change that keeps the role keeps the sessions.
    assert_json(org.patch(f"/agents/{agent['id']}", json={"name": "Renamed"}), 200)
    assert assert_json(demoted.get("/api/auth/session"), 200)["agent"]["name"] == "Renamed"


# ---------------------------------------------------------------------------------------------------------
# first start (edge alone: the bootstrap and sign-in need only edge.db)


def edge_env(workdir: Path, **extra) -> dict:
    env = dict(os.environ)
    for name in ("SWITCHBOARD_BOOTSTRAP_ADMIN_PASSWORD", "SWITCHBOARD_BOOTSTRAP_ADMIN_EMAIL",
                 "SWITCHBOARD_BOOTSTRAP_API_KEY"):
        env.pop(name, None)
    env.update(
        SWITCHBOARD_DATA_DIR=str(workdir / "data"), SWITCHBOARD_HTTP_PORT=str(free_ports(1)[0]),
        SWITCHBOARD_INTERNAL_TOKEN="t" + secrets.token_hex(16), SWITCHBOARD_OPERATOR_KEY="op_" + secrets.token_hex(24),
        SWITCHBOARD_PASSWORD_SCRYPT_LOG_N="14", **extra)
    return env


@pytest.mark.parametrize("password,reason", [("password1", "common"), ("short", "at least 8"),
                                             ("admin@demo.local!", "email")])
def test_a_bootstrap_password_the_policy_refuses_stops_edge_with_78(password, reason):
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-weak-password-"))
    try:
        env = edge_env(workdir, SWITCHBOARD_BOOTSTRAP_ADMIN_PASSWORD=password)
        try:
            out = subprocess.run([str(find_bin_dir() / "edge")], env=env, cwd=workdir, stdin=subprocess.DEVNULL,
                                 capture_output=True, timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"edge kept running with SWITCHBOARD_BOOTSTRAP_ADMIN_PASSWORD={password!r}")
        text = (out.stdout + out.stderr).decode(errors="replace")
        assert out.returncode == 78, (out.returncode, text[-2000:])
        assert "SWITCHBOARD_BOOTSTRAP_ADMIN_PASSWORD is refused by the password policy" in text, text[-2000:]
        assert reason in text, text[-2000:]
        assert f": {password}" not in text and f"={password}" not in text, "the password itself is printed"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_without_a_bootstrap_password_edge_prints_a_one_time_sign_in_link():
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-sign-in-link-"))
    env = edge_env(workdir, SWITCHBOARD_BOOTSTRAP_ADMIN_EMAIL="Boss@Example.com")
    base = f"http://127.0.0.1:{env['SWITCHBOARD_HTTP_PORT']}"
    try:
        lines = run_edge_until_listening(env, workdir, base)
        assert f"switchboard: Console: {base}" in lines, lines
        links = [line for line in lines if "sign-in link" in line]
        assert len(links) == 1 and "boss@example.com" in links[0], lines
        url = links[0].rsplit(" ", 1)[1]
        assert url.startswith(f"{base}/accept-invite#token="), url
        token = url.split("#token=", 1)[1]
        assert TOKEN.match(token)
        edge = Browser(BaseURL(base))
        password = strong_password()
        body = assert_json(edge.post("/api/auth/invite/accept", json={"token": token, "password": password}), 200)
        assert body["role"] == "admin" and body["agent"]["email"] == "boss@example.com"
        assert body["org"]["name"] == "Demo"
        # The next start prints no link: the admin has a password, which stays.
        lines = run_edge_until_listening(env, workdir, base)
        assert f"switchboard: Console: {base}" in lines and not any("sign-in link" in line for line in lines), lines
        assert_json(Browser(BaseURL(base)).login("boss@example.com", password), 200)
    finally:
        stop_edge()
        shutil.rmtree(workdir, ignore_errors=True)


class BaseURL:
    """What `Browser` needs of a cluster, for an edge started alone."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.session = requests.Session()

    def request(self, method, path, *, key=None, headers=None, **kw):
        return self.session.request(method, self.base_url + path, headers=headers, timeout=30, **kw)


_EDGE: list[subprocess.Popen] = []


def run_edge_until_listening(env: dict, workdir: Path, base: str) -> list[str]:
    """Stops the previous edge, starts one and answers the lines it printed until it listens."""
    stop_edge()
    proc = subprocess.Popen([str(find_bin_dir() / "edge")], env=env, cwd=workdir, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _EDGE.append(proc)
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"edge exited ({proc.poll()}): {lines}")
        lines.append(line.rstrip("\n"))
        if "Server started and listening" in line:
            return lines
    raise AssertionError(f"edge did not listen within 60 s: {lines}")


def stop_edge() -> None:
    while _EDGE:
        proc = _EDGE.pop()
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
