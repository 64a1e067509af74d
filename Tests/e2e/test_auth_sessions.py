"""People and sessions (issue 12 §2): agents sign in with email and password and get the session cookie, which
produces the same caller an API key does on every /api/whatsapp-api route and on the event stream. Black box:
the built cluster over real HTTP, driven with `requests` as a browser would (the cookie is sent by hand: a
`Secure` cookie is not sent over http by Python's cookie jar, while browsers treat loopback as secure).
"""

from __future__ import annotations

import re
import secrets
import statistics
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest import API, Cluster, assert_error, assert_json, find_bin_dir, unique
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
        deadline = time.monotonic() + 5
        while ": connected" not in stream.text and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ": connected" in stream.text
        assert not stream.ended.is_set()
        resp = browser.post("/api/auth/logout")
        assert resp.status_code == 204, resp.text
        assert_cleared(resp)
        assert stream.ended.wait(5), "the session's stream is still open after logout"
    finally:
        stream.close()
    # The cookie no longer works anywhere.
    assert_error(browser.get("/api/auth/session"), 401, "unauthorized")
    assert_error(browser.get("/org"), 401, "unauthorized")
    refused = Stream(cluster, browser.headers(same_origin=False))
    assert_error(refused.resp, 401, "unauthorized")
    assert_error(browser.post("/api/auth/logout"), 401, "unauthorized")
