"""Helpers of the console's browser tests: agents with passwords, cookie sessions driven from Python, signing in
through the UI, and the page watch that fails a test on any console error, uncaught error, CSP violation, failed
request or HTTP status >= 400 the test did not declare expected.

The accessible names used here are the ones fixed in the issue-12 contract (briefs/contract.md): a change there is
a change here."""

from __future__ import annotations

import contextlib
import re
import secrets
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from playwright.sync_api import BrowserContext, Page, expect

from conftest import HTTP_TIMEOUT, assert_json, unique

SESSION_COOKIE = "__Host-sb_session"  # the name whenever the console is served from loopback (always here)
UI_TIMEOUT = 5_000  # ms: how long a locator assertion waits by default in these tests
LIVE_TIMEOUT = 1_000  # ms: "a customer message appears in the open list within 1 s"

# Checked by the init script of every page (see CSP_LISTENER): a securitypolicyviolation event reaches Python
# through this binding, whatever the page's own code does with console.error.
CSP_BINDING = "__sbReportCspViolation"
CSP_LISTENER = """
(() => {
  const report = (e) => {
    try {
      window.%s({directive: e.violatedDirective, effective: e.effectiveDirective, blocked: e.blockedURI,
                 source: e.sourceFile, line: e.lineNumber, sample: e.sample, url: String(location.href)});
    } catch (_) {}
  };
  document.addEventListener("securitypolicyviolation", report, true);
})();
""" % CSP_BINDING


def origin_of(cluster) -> str:
    """The public origin edge checks `Origin` against (SWITCHBOARD_PUBLIC_URL defaults to the listener)."""
    return cluster.base_url


def strong_password() -> str:
    """A password no common list or context check refuses (random, 20+ characters, no org or email words)."""
    return "Qv7-" + secrets.token_urlsafe(15)


# ---------------------------------------------------------------------------------------------------------
# the page watch


@dataclass
class Rule:
    """A failure the test expects: an HTTP status (or "failed" for a network error) on a path (a regular expression
    matched against the whole URL path), optionally for one method only."""

    status: int | str
    path: re.Pattern
    method: str | None = None
    seen: int = 0

    def matches(self, status, method: str | None, url: str) -> bool:
        if status != self.status:
            return False
        if self.method is not None and method is not None and method.upper() != self.method.upper():
            return False
        return bool(self.path.fullmatch(urllib.parse.urlsplit(url).path))


_STATUS_IN_CONSOLE = re.compile(r"the server responded with a status of (\d{3})")


class Watch:
    """Collects every problem of every page of the contexts a test opened (see conftest: `context`, `new_context`).

    A problem is: a console message of type `error`, an uncaught exception, a CSP violation (securitypolicyviolation
    events, Trusted Types included), a failed request (network error; `net::ERR_ABORTED` is the page's own doing —
    a navigation or a closed EventSource — and is not counted) or a response with status >= 400. Failures the test
    expects are declared with `allow(...)` / `allowing(...)`; the console error Chromium logs for such a response
    ("Failed to load resource: … status of 401") is then expected as well."""

    def __init__(self):
        self.problems: list[str] = []
        self.rules: list[Rule] = []
        self.console_rules: list[re.Pattern] = []
        self.csp_rules: list[str] = []
        self.responses: list[tuple[str, str, int]] = []  # (method, url, status) of every response seen
        self.requests: list = []  # every playwright Request seen (for header checks)
        self.pages: list[Page] = []
        self.contexts: list[BrowserContext] = []
        self._lock = threading.Lock()
        self.closed = False

    # -- declaring what is expected -----------------------------------------------------------------

    def allow(self, status: int | str, path: str, method: str | None = None) -> Rule:
        rule = Rule(status, re.compile(path), method)
        self.rules.append(rule)
        return rule

    @contextlib.contextmanager
    def allowing(self, status: int | str, path: str, method: str | None = None):
        """`allow` for the duration of the block (events that arrived meanwhile are processed before it ends)."""
        rule = self.allow(status, path, method)
        try:
            yield rule
        finally:
            self.drain()
            self.rules.remove(rule)

    def allow_console(self, pattern: str) -> None:
        """A console error (regular expression searched in its text) the test provokes on purpose."""
        self.console_rules.append(re.compile(pattern))

    def allow_csp(self, directive: str) -> None:
        """A CSP violation of `directive` (e.g. "require-trusted-types-for") the test provokes on purpose."""
        self.csp_rules.append(directive)

    # -- attaching ---------------------------------------------------------------------------------------

    def attach_context(self, context: BrowserContext) -> None:
        self.contexts.append(context)
        context.expose_binding(CSP_BINDING, self._on_csp)
        context.add_init_script(CSP_LISTENER)
        context.set_default_timeout(UI_TIMEOUT)
        context.set_default_navigation_timeout(10_000)
        context.on("page", lambda p: None if p in self.pages else self.attach_page(p))

    def attach_page(self, page: Page) -> None:
        self.pages.append(page)
        label = f"page {len(self.pages)}"
        page.on("console", lambda msg: self._on_console(label, msg))
        page.on("pageerror", lambda err: self._problem(f"{label}: uncaught error: {err}"))
        page.on("requestfailed", lambda req: self._on_failed(label, req))
        page.on("response", lambda resp: self._on_response(label, resp))
        page.on("request", lambda req: self.requests.append(req))

    # -- events ----------------------------------------------------------------------------------------

    def _problem(self, text: str) -> None:
        if not self.closed:
            with self._lock:
                self.problems.append(text)

    def _expected(self, status, method, url) -> bool:
        for rule in self.rules:
            if rule.matches(status, method, url):
                rule.seen += 1
                return True
        return False

    def _on_console(self, label: str, msg) -> None:
        if msg.type != "error":
            return
        text = msg.text
        url = (msg.location or {}).get("url") or ""
        if text.startswith("Failed to load resource"):
            m = _STATUS_IN_CONSOLE.search(text)
            status = int(m.group(1)) if m else "failed"
            if url and self._expected(status, None, url):
                return
        if any(p.search(text) for p in self.console_rules):
            return
        self._problem(f"{label}: console error: {text} ({url})")

    def _on_csp(self, source, v: dict) -> None:
        directive = (v or {}).get("effective") or (v or {}).get("directive") or ""
        if any(directive.startswith(d) for d in self.csp_rules):
            return
        self._problem(f"CSP violation: {v}")

    def _on_failed(self, label: str, req) -> None:
        failure = req.failure or ""
        if "ERR_ABORTED" in failure:
            return
        if self._expected("failed", req.method, req.url):
            return
        self._problem(f"{label}: request failed: {req.method} {req.url}: {failure}")

    def _on_response(self, label: str, resp) -> None:
        method = resp.request.method
        self.responses.append((method, resp.url, resp.status))
        if resp.status >= 400 and not self._expected(resp.status, method, resp.url):
            self._problem(f"{label}: HTTP {resp.status} for {method} {resp.url}")

    # -- checking --------------------------------------------------------------------------------------

    def drain(self) -> None:
        """Lets Playwright deliver the events the browser already sent (one round trip per open page)."""
        for page in self.pages:
            if not page.is_closed():
                with contextlib.suppress(Exception):
                    page.evaluate("0")

    def statuses(self, path: str, method: str | None = None) -> list[int]:
        """The statuses the pages saw for `path` (a regular expression on the URL path)."""
        pattern = re.compile(path)
        return [s for m, u, s in self.responses
                if pattern.fullmatch(urllib.parse.urlsplit(u).path) and (method is None or m == method)]

    def check(self) -> None:
        self.drain()
        if self.problems:
            raise AssertionError("the browser saw problems the test did not expect:\n  " + "\n  ".join(self.problems))

    def close(self) -> None:
        self.closed = True


# ---------------------------------------------------------------------------------------------------------
# agents and cookie sessions from Python


@dataclass
class Agent:
    org: object
    id: str
    name: str
    email: str
    password: str
    role: str
    raw: dict = field(repr=False, default_factory=dict)


def console_headers(cluster, extra: dict | None = None) -> dict:
    """What the console sends with a state-changing request: its own origin, JSON and the console header."""
    return {"Origin": origin_of(cluster), "Content-Type": "application/json", "X-Switchboard-Console": "1",
            **(extra or {})}


def session_token(resp: requests.Response) -> str | None:
    """The session token a response's Set-Cookie gives (None when it sets none)."""
    for header in set_cookie_headers(resp):
        name, _, rest = header.partition("=")
        if name.strip() == SESSION_COOKIE:
            value = rest.split(";", 1)[0].strip()
            return value or None
    return None


def set_cookie_headers(resp: requests.Response) -> list[str]:
    raw = resp.raw.headers
    if hasattr(raw, "getlist"):
        return list(raw.getlist("Set-Cookie"))
    value = resp.headers.get("Set-Cookie")
    return [value] if value else []


class CookieClient:
    """An HTTP client holding one console session cookie. `requests` never sends a `Secure` cookie over http, so the
    cookie is sent by hand; state-changing requests carry what the console sends (`console_headers`) unless
    `csrf=False`. Responses >= 500 are recorded like every other request of the suite."""

    def __init__(self, cluster, token: str | None = None):
        self.cluster = cluster
        self.token = token
        self.http = requests.Session()
        self.http.hooks["response"].append(cluster._record)

    def request(self, method: str, path: str, *, csrf: bool = True, headers: dict | None = None,
                **kw) -> requests.Response:
        h = {}
        if csrf and method.upper() not in ("GET", "HEAD", "OPTIONS"):
            h.update(console_headers(self.cluster))
        if self.token:
            h["Cookie"] = f"{SESSION_COOKIE}={self.token}"
        h.update(headers or {})
        kw.setdefault("timeout", HTTP_TIMEOUT)
        resp = self.http.request(method, self.cluster.url(path), headers=h, allow_redirects=False, **kw)
        self.http.cookies.clear()
        return resp

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def login(self, email: str, password: str, org_id: str | None = None) -> requests.Response:
        body = {"email": email, "password": password}
        if org_id:
            body["orgId"] = org_id
        resp = self.post("/api/auth/login", json=body)
        token = session_token(resp)
        if resp.status_code == 200:
            assert token, f"login answered 200 without a {SESSION_COOKIE} cookie: {set_cookie_headers(resp)}"
            self.token = token
        return resp

    def close(self):
        self.http.close()


def accept_invite(cluster, token: str, password: str) -> requests.Response:
    client = CookieClient(cluster)
    try:
        return client.post("/api/auth/invite/accept", json={"token": token, "password": password})
    finally:
        client.close()


def invite(org, agent_id: str) -> dict:
    body = assert_json(org.post(f"/agents/{agent_id}/invite"), 201)
    assert set(body) >= {"url", "token", "expiresAt"}, body
    return body


def make_agent(org, *, role: str = "agent", name: str | None = None, password: str | None = None) -> Agent:
    """An agent of `org` with a password: the admin key creates it, invites it, and the invite is accepted (with
    the console's Origin) — exactly the path an invited person takes, minus the browser."""
    name = name or unique("Agent ")
    email = f"{unique('agent-')}@example.test"
    password = password or strong_password()
    raw = assert_json(org.post("/agents", json={"name": name, "email": email, "role": role}), 201)
    token = invite(org, raw["id"])["token"]
    resp = accept_invite(org.cluster, token, password)
    assert resp.status_code == 200, f"invite/accept: {resp.status_code} {resp.text[:300]}"
    return Agent(org=org, id=raw["id"], name=name, email=email, password=password, role=role, raw=raw)


def cookie_client(agent: Agent) -> CookieClient:
    """A signed-in CookieClient for `agent`."""
    client = CookieClient(agent.org.cluster)
    resp = client.login(agent.email, agent.password)
    assert resp.status_code == 200, f"login: {resp.status_code} {resp.text[:300]}"
    return client


# ---------------------------------------------------------------------------------------------------------
# the browser side


def sign_in(page: Page, watch: Watch, agent: Agent, *, path: str = "/signin") -> None:
    """Signs `agent` in through the sign-in form and waits for the console's shell. Until then the console may
    ask who is signed in and hear 401 (allowed in this phase only)."""
    with watch.allowing(401, "/api/auth/session", "GET"):
        page.goto(path)
        expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
        page.get_by_role("textbox", name="Email", exact=True).fill(agent.email)
        page.get_by_label("Password", exact=True).fill(agent.password)
        page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def api_sign_in(context: BrowserContext, agent: Agent) -> None:
    """Signs `agent` in for a whole browser context without the form (the context's request API shares its cookie
    jar): for tests about something else than signing in."""
    cluster = agent.org.cluster
    resp = context.request.post(
        cluster.base_url + "/api/auth/login", data={"email": agent.email, "password": agent.password},
        headers=console_headers(cluster))
    assert resp.status == 200, f"login: {resp.status} {resp.text()[:300]}"
    assert any(c["name"] == SESSION_COOKIE for c in context.cookies(cluster.base_url)), context.cookies()


def connection(page: Page):
    return page.get_by_role("status", name="Connection")


def conversation_list(page: Page):
    return page.get_by_role("list", name="Conversations")


def row(page: Page, conversation_id: str):
    return conversation_list(page).locator(f'[data-conversation-id="{conversation_id}"]')


def messages_region(page: Page):
    return page.get_by_role("region", name="Messages")


def message_el(page: Page, message_id: str):
    return messages_region(page).locator(f'[data-message-id="{message_id}"]')


def open_chat(page: Page, path: str = "/chat") -> None:
    """Opens the Chat page (or a deep link under it) and waits until the list is shown and the stream is live."""
    page.goto(path)
    expect(conversation_list(page)).to_be_attached()  # an empty list has no height: attached, not "visible"
    expect(connection(page)).to_have_attribute("data-state", "live")


def open_conversation(page: Page, conversation_id: str, contact_name: str) -> None:
    """Clicks the conversation's row and waits for its view (the header names the contact)."""
    row(page, conversation_id).click()
    expect(page.get_by_role("heading", name=contact_name)).to_be_visible()
    expect(messages_region(page)).to_be_visible()


def mark_page(page: Page) -> None:
    """Marks the current document: `assert_same_document` proves later that no reload or navigation happened."""
    page.evaluate("window.__sbSameDocument = true")


def assert_same_document(page: Page) -> None:
    assert page.evaluate("window.__sbSameDocument === true"), "the page was reloaded or navigated"


# Records, per message element, every data-status it showed (a MutationObserver, so a short-lived `queued` is not
# missed even when `delivered` follows within milliseconds).
STATUS_RECORDER = """
() => {
  if (window.__sbStatuses) return;
  const seen = window.__sbStatuses = {};
  const note = (el) => {
    const id = el.getAttribute("data-message-id"), st = el.getAttribute("data-status");
    if (!id || !st) return;
    const list = seen[id] || (seen[id] = []);
    if (list[list.length - 1] !== st) list.push(st);
  };
  document.querySelectorAll("[data-message-id]").forEach(note);
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === "attributes") note(r.target);
      for (const n of r.addedNodes || []) {
        if (n.nodeType !== 1) continue;
        if (n.hasAttribute("data-message-id")) note(n);
        n.querySelectorAll && n.querySelectorAll("[data-message-id]").forEach(note);
      }
    }
  }).observe(document.documentElement, {subtree: true, childList: true, attributes: true,
                                        attributeFilter: ["data-status", "data-message-id"]});
}
"""


def record_statuses(page: Page) -> None:
    page.evaluate(STATUS_RECORDER)


def statuses_seen(page: Page) -> dict[str, list[str]]:
    return page.evaluate("window.__sbStatuses || {}")


def no_horizontal_scroll(page: Page) -> tuple[bool, int, int]:
    sw, iw = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    return sw <= iw, sw, iw


# ---------------------------------------------------------------------------------------------------------
# an "attacker" site on another loopback address (127.0.0.2 is a different site from 127.0.0.1)


class AttackerSite:
    """Serves fixed pages on http://<host>:<free port> (default 127.0.0.2, another site than the console):
    `add(path, html, headers)`; every request path is kept in `hits`."""

    def __init__(self, host: str = "127.0.0.2"):
        self.pages: dict[str, tuple[str, dict]] = {"/favicon.ico": ("", {"Content-Type": "image/x-icon"})}
        self.hits: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                site.hits.append(self.path)
                found = site.pages.get(self.path.split("?")[0])
                if found is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body, headers = found
                data = body.encode()
                self.send_response(200)
                headers = {"Content-Type": "text/html; charset=utf-8", **headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="attacker-site")
        self.thread.start()

    def add(self, path: str, html: str, headers: dict | None = None) -> str:
        self.pages[path] = (html, dict(headers or {}))
        return self.url + path

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class CutProxy:
    """A TCP proxy in front of edge (http://127.0.0.1:<its own port>) that can cut the network for real: `cut()`
    closes every open connection (the browser's event stream included) and then closes each new one at once until
    `restore()`. The session cookie is host-only (127.0.0.1, any port) and the console's requests are same-origin,
    so the console works through it unchanged. `requests_seen` keeps every request head the browser sent."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.requests_seen: list[str] = []
        self.refusing = False
        self.lock = threading.Lock()
        self.running = True
        threading.Thread(target=self._accept, daemon=True, name="cut-proxy").start()

    def _accept(self) -> None:
        while self.running:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.refusing:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, from_browser: bool) -> None:
        pending = b""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if from_browser:
                    pending += data
                    while b"\r\n\r\n" in pending:
                        head, _, pending = pending.partition(b"\r\n\r\n")
                        if re.match(rb"(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) ", head):
                            self.requests_seen.append(head.decode("latin-1"))
                    pending = pending[-65536:]
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()

    def stream_requests(self) -> list[str]:
        """The heads of the browser's GET …/events/stream requests, in order."""
        return [h for h in self.requests_seen if re.match(r"GET \S*/events/stream[ ?]", h)]

    def cut(self) -> None:
        self.refusing = True
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()

    def restore(self) -> None:
        self.refusing = False

    def close(self) -> None:
        self.running = False
        self.cut()
        with contextlib.suppress(OSError):
            self.listener.close()


def wait_until(fn, timeout: float = 10.0, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout}s (last: {last!r})")

