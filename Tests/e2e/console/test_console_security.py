"""The console's security promises, tested from outside (issue 12 §2 and §5; CONSOLE.md §4): a cross-site request
carrying the session cookie changes nothing (an "attacker" page on 127.0.0.2, a different site), every Set-Cookie
is HttpOnly, every HTML answer carries the strict CSP with Trusted Types (and the browser enforces it), sessions
end on logout and on the agent's removal (streams too), an agent's session cannot reach admin routes, and another
organisation's conversation is a 404 in the console as in the API."""

from __future__ import annotations

import re
import threading

import pytest
import requests
from playwright.sync_api import expect

from conftest import API, assert_error, assert_json, rand_phone
from inbound_helpers import get_conversation, open_sandbox_conversation

from .helpers import (
    SESSION_COOKIE,
    AttackerSite,
    CookieClient,
    api_sign_in,
    connection,
    conversation_list,
    cookie_client,
    make_agent,
    open_chat,
    set_cookie_headers,
    wait_until,
)

HTML_PATHS = ["/", "/chat", "/chat/x", "/chat/01890000-0000-7000-8000-000000000000", "/signin", "/accept-invite"]
REQUIRED_CSP = {
    "default-src": {"'none'"},
    "script-src": {"'self'"},
    "object-src": {"'none'"},
    "base-uri": {"'none'"},
    "frame-ancestors": {"'none'"},
    "require-trusted-types-for": {"'script'"},
}


def csp_directives(header: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            assert words[0].lower() not in out, f"directive {words[0]} given twice: {header}"
            out[words[0].lower()] = set(words[1:])
    return out


@pytest.fixture
def attacker():
    site = AttackerSite("127.0.0.2")
    yield site
    site.close()


# ---------------------------------------------------------------------------------------------------------
# CSRF


def test_cross_site_requests_with_the_cookie_change_nothing(page, context, watch, cluster, org, agent, attacker):
    conv = open_sandbox_conversation(org, name="Target Customer")
    api_sign_in(context, agent)
    target = f"{cluster.base_url}{API}/conversations/{conv['id']}/resolve"
    star = f"{cluster.base_url}{API}/conversations/{conv['id']}"

    # 1. a form auto-submitted from the attacker's page (a top-level cross-site POST)
    attacker.add("/form", f"""<!doctype html><title>win a prize</title>
        <form id=f method=POST action="{target}" enctype="text/plain"><input name='{{"a":"' value='"}}'></form>
        <script src="/submit.js"></script>""")
    attacker.add("/submit.js", "document.getElementById('f').submit();", {"Content-Type": "text/javascript"})
    # 2. fetch() with credentials from the attacker's page, JSON included (a preflight edge never approves)
    attacker.add("/fetch", """<!doctype html><title>cats</title><script src="/fetch.js"></script>""")
    attacker.add("/fetch.js", f"""
        const results = window.results = [];
        const tries = [
          fetch("{target}", {{method: "POST", mode: "no-cors", credentials: "include", body: "x"}}),
          fetch("{star}", {{method: "PATCH", credentials: "include",
                            headers: {{"Content-Type": "application/json", "X-Switchboard-Console": "1"}},
                            body: JSON.stringify({{starred: true}})}}),
        ];
        Promise.allSettled(tries).then((r) => {{ window.done = r.map((x) => x.status); }});
    """, {"Content-Type": "text/javascript"})

    # what the browser shows for these is the refusal we want; the preflight is refused (no CORS headers)
    watch.allow(401, f"{API}/conversations/.*")
    watch.allow(403, f"{API}/conversations/.*")
    watch.allow("failed", f"{API}/conversations/.*")
    watch.allow_console(r"CORS policy|Access-Control-Allow-Origin")

    page.goto(attacker.url + "/form")
    page.wait_for_url(re.compile(re.escape(target)))
    page.goto(attacker.url + "/fetch")
    page.wait_for_function("window.done !== undefined")

    got = get_conversation(org, conv["id"])
    assert got["status"] == "OPEN" and got["starred"] is False, f"a cross-site request changed it: {got}"

    # the server's own check, for a cookie that does reach it (e.g. a sibling subdomain): refused, nothing changed
    client = cookie_client(agent)
    cross = {"Origin": attacker.url, "Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"}
    assert_error(client.post(f"/conversations/{conv['id']}/resolve", csrf=False, headers=cross), 403, "csrf_refused")
    assert_error(client.post(f"/conversations/{conv['id']}/resolve", csrf=False,
                             headers={"Content-Type": "application/json"}), 403, "csrf_refused")  # no origin at all
    assert_error(client.post(f"/conversations/{conv['id']}/resolve", csrf=False,
                             headers={"Origin": cluster.base_url, "Content-Type": "text/plain"}, data="{}"),
                 403, "csrf_refused")  # a simple (form-like) request from the right origin
    assert_error(client.request("PATCH", f"/conversations/{conv['id']}", csrf=False,
                                headers={"Sec-Fetch-Site": "same-site", "Content-Type": "application/json"},
                                json={"starred": True}), 403, "csrf_refused")
    assert_error(client.post("/api/auth/logout", csrf=False, headers=cross), 403, "csrf_refused")
    got = get_conversation(org, conv["id"])
    assert got["status"] == "OPEN" and got["starred"] is False, got
    assert client.get("/api/auth/session").status_code == 200, "a refused logout ended the session"

    # and the same request from the console's own origin works (the refusals above are not a broken route)
    resolved = assert_json(client.post(f"/conversations/{conv['id']}/resolve",
                                       headers={"Sec-Fetch-Site": "same-origin"}), 200)
    assert resolved["status"] == "RESOLVED"


# ---------------------------------------------------------------------------------------------------------
# cookies and headers


def test_every_set_cookie_is_httponly(cluster, org):
    agent = make_agent(org)
    client = CookieClient(cluster)
    answers = {"login": client.login(agent.email, agent.password)}
    answers["logout"] = client.post("/api/auth/logout")
    token = assert_json(org.post(f"/agents/{agent.id}/invite"), 201)["token"]
    answers["invite/accept"] = CookieClient(cluster).post("/api/auth/invite/accept",
                                                          json={"token": token, "password": agent.password + "2"})
    answers["wrong login"] = CookieClient(cluster).login(agent.email, "not the password at all")
    assert [r.status_code for r in answers.values()] == [200, 204, 200, 401], {k: r.text for k, r in answers.items()}
    seen = 0
    for what, resp in answers.items():
        for header in set_cookie_headers(resp):
            seen += 1
            attrs = {a.strip().split("=")[0].lower() for a in header.split(";")[1:]}
            assert "httponly" in attrs, f"{what}: Set-Cookie without HttpOnly: {header}"
            assert "secure" in attrs and "samesite" in attrs, f"{what}: {header}"
            assert header.startswith(SESSION_COOKIE + "="), f"{what}: unexpected cookie {header}"
            assert "domain" not in attrs, f"{what}: a __Host- cookie has no Domain: {header}"
    assert seen >= 3, "login, logout and invite/accept each set the cookie"
    cleared = set_cookie_headers(answers["logout"])
    assert cleared and all(re.search(r"(?i)max-age=0", h) for h in cleared), cleared
    # the rest of edge sets no cookie at all
    for path in ["/", "/chat", "/signin", "/api/whatsapp-api/conversations", "/healthz"]:
        resp = requests.get(cluster.base_url + path, headers={"Authorization": f"Bearer {org.key}"}, timeout=30)
        assert set_cookie_headers(resp) == [], f"{path} sets a cookie: {set_cookie_headers(resp)}"


def test_every_html_answer_has_the_strict_csp_with_trusted_types(cluster):
    for path in HTML_PATHS:
        resp = requests.get(cluster.base_url + path, timeout=30)
        assert resp.status_code == 200, f"{path}: {resp.status_code} {resp.text[:200]}"
        assert resp.headers.get("Content-Type", "").startswith("text/html"), f"{path}: {resp.headers}"
        header = resp.headers.get("Content-Security-Policy")
        assert header, f"{path}: no Content-Security-Policy"
        csp = csp_directives(header)
        for name, values in REQUIRED_CSP.items():
            assert csp.get(name) == values, f"{path}: {name} is {csp.get(name)}, want {values} ({header})"
        assert "trusted-types" in csp, f"{path}: no trusted-types directive ({header})"
        for name, values in csp.items():
            bad = {v for v in values if v in ("'unsafe-inline'", "'unsafe-eval'", "*", "http:", "https:", "data:")
                   and not (name in ("img-src",) and v == "data:")}
            assert not bad, f"{path}: {name} allows {bad} ({header})"
        for directive in ("style-src", "connect-src"):
            assert csp.get(directive, csp["default-src"]) <= {"'self'", "'none'"}, f"{path}: {directive} ({header})"
        assert resp.headers.get("X-Content-Type-Options") == "nosniff", path
        assert resp.headers.get("Referrer-Policy") == "no-referrer", path
        assert "no-store" in resp.headers.get("Cache-Control", ""), path
        assert resp.headers.get("Cross-Origin-Opener-Policy") == "same-origin", path
        assert resp.headers.get("Permissions-Policy"), path
        assert "Access-Control-Allow-Origin" not in resp.headers and "Access-Control-Allow-Credentials" not in \
            resp.headers, f"{path}: CORS headers on the console"
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", resp.text), f"{path}: an inline script in the HTML"
        assert not re.search(r"\sstyle=|<style", resp.text), f"{path}: inline style in the HTML"
    # unknown API paths keep their JSON 404 (no SPA fallback there)
    resp = requests.get(cluster.base_url + "/api/whatsapp-api/no-such-thing", timeout=30)
    assert resp.status_code in (401, 404) and resp.headers["Content-Type"].startswith("application/json"), resp.text
    resp = requests.get(cluster.base_url + "/api/nothing-here", timeout=30)
    assert resp.status_code == 404 and resp.headers["Content-Type"].startswith("application/json"), resp.text


def test_console_pages_and_files_answer_405_to_methods_that_would_change_something(cluster, org, agent):
    """A page path only reads: POST/PUT/PATCH/DELETE answer 405 `method_not_allowed` with `Allow: GET, HEAD` in
    the house error shape (not the page, not a 404), with or without a session; GET and HEAD still serve it."""
    paths = HTML_PATHS + ["/contacts", "/contacts/a/b", "/settings", "/analytics/x", "/assets/js/main.js",
                          "/favicon.ico"]
    session = cookie_client(agent)
    for path in paths:
        assert requests.get(cluster.base_url + path, timeout=30).status_code == 200, path
        assert requests.head(cluster.base_url + path, timeout=30).status_code == 200, path
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            for resp in (requests.request(method, cluster.base_url + path, json={"x": 1}, timeout=30),
                         session.request(method, cluster.base_url + path, json={"x": 1})):
                err = assert_error(resp, 405, "method_not_allowed")
                assert resp.headers.get("Allow") == "GET, HEAD", f"{method} {path}: Allow {resp.headers.get('Allow')}"
                assert method in err["message"], err
    # API paths keep their own answers
    assert_error(org.post("/conversations/count"), 405, "method_not_allowed")


def test_the_browser_enforces_trusted_types_on_the_console(page, watch):
    watch.allow(401, "/api/auth/session", "GET")
    watch.allow_csp("require-trusted-types-for")
    watch.allow_console(r"requires 'TrustedHTML' assignment")
    page.goto("/signin")
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    outcome = page.evaluate("""() => {
        try { document.body.insertAdjacentHTML("beforeend", "<b id=injected>x</b>"); return "inserted"; }
        catch (e) { return e.name; }
    }""")
    assert outcome == "TypeError", f"HTML was inserted from a string: {outcome}"
    assert page.locator("#injected").count() == 0


# ---------------------------------------------------------------------------------------------------------
# sessions ending


def open_stream(cluster, token: str):
    """GET /events/stream with the cookie; answers the response (stream=True) and a list the reader thread fills
    with every chunk, then "EOF" (or the exception) when the server ends the stream."""
    resp = requests.get(cluster.base_url + API + "/events/stream", stream=True, timeout=(5, 30),
                        headers={"Cookie": f"{SESSION_COOKIE}={token}", "Accept": "text/event-stream"})
    chunks: list = []
    if resp.status_code == 200:
        def read():
            try:
                for chunk in resp.iter_content(chunk_size=None):
                    chunks.append(chunk)
                chunks.append("EOF")
            except Exception as e:  # noqa: BLE001 - a cut connection is an end too
                chunks.append(e)
        threading.Thread(target=read, daemon=True).start()
    return resp, chunks


def ended(chunks) -> bool:
    return bool(chunks) and (chunks[-1] == "EOF" or isinstance(chunks[-1], Exception))


def test_logout_ends_the_session_and_its_streams(cluster, org):
    agent = make_agent(org)
    client = cookie_client(agent)
    other = cookie_client(agent)  # a second session of the same agent stays
    resp, chunks = open_stream(cluster, client.token)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/event-stream"), resp.text
    assert client.post("/api/auth/logout").status_code == 204
    wait_until(lambda: ended(chunks), timeout=30, what="the stream of the signed-out session ended")
    assert_error(client.get("/api/auth/session"), 401, "unauthorized")
    assert_error(client.get("/conversations"), 401, "unauthorized")
    again, _ = open_stream(cluster, client.token)
    assert again.status_code == 401, again.text
    assert other.get("/api/auth/session").status_code == 200, "logout ended another session too"


def test_removing_an_agent_ends_their_session_in_the_browser(page, context, watch, cluster, org):
    agent = make_agent(org, name="Soon Removed")
    api_sign_in(context, agent)
    open_chat(page)
    client = cookie_client(agent)
    resp, chunks = open_stream(cluster, client.token)
    assert resp.status_code == 200

    # once removed, whatever the console asks is refused until it shows the sign-in page
    watch.allow(401, "/api/.*")
    watch.allow_console(r"EventSource|MIME type")
    assert org.delete(f"/agents/{agent.id}").status_code == 204
    wait_until(lambda: ended(chunks), timeout=30, what="the removed agent's stream ended")
    assert_error(client.get("/api/auth/session"), 401, "unauthorized")
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible(timeout=10_000)
    expect(conversation_list(page)).to_have_count(0)
    expect(connection(page)).to_have_count(0)


def test_admin_ending_an_agents_sessions_signs_them_out(cluster, org):
    agent = make_agent(org)
    client = cookie_client(agent)
    assert org.delete(f"/agents/{agent.id}/sessions").status_code == 204
    assert_error(client.get("/api/auth/session"), 401, "unauthorized")
    # and signing in again works: ending sessions is not a lock-out
    assert cookie_client(agent).get("/api/auth/session").status_code == 200


# ---------------------------------------------------------------------------------------------------------
# roles and organisations


def test_an_agent_session_cannot_reach_admin_routes(cluster, org):
    agent = cookie_client(make_agent(org, role="agent"))
    admin = cookie_client(make_agent(org, role="admin"))
    channel = {"kind": "twilio_sms", "name": "x", "accountSid": "AC" + "0" * 32, "authToken": "t" * 32,
               "fromNumber": "+15005550006"}
    refused = {
        ("GET", "/api-keys"): None,
        ("POST", "/api-keys"): {"name": "mine", "role": "admin"},
        ("POST", "/agents"): {"name": "Eve", "email": "eve@example.test", "role": "admin"},
        ("POST", "/channels"): channel,
        ("PATCH", "/org"): {"sandboxEnabled": False},
        ("POST", "/sandbox/inbound"): {"from": rand_phone(), "text": "hi"},
        ("PUT", "/csat/settings"): {"enabled": False},
    }
    for (method, path), body in refused.items():
        kw = {} if body is None else {"json": body}
        assert_error(agent.request(method, path, **kw), 403, "forbidden")
    me = assert_json(agent.get("/api/auth/session"), 200)["agent"]
    assert_error(agent.request("DELETE", f"/agents/{me['id']}/sessions"), 403, "forbidden")
    assert_error(agent.request("POST", f"/agents/{me['id']}/invite"), 403, "forbidden")
    assert_error(agent.request("PATCH", f"/agents/{me['id']}", json={"role": "admin"}), 403, "forbidden")
    assert assert_json(agent.get("/api/auth/session"), 200)["role"] == "agent"
    # operator routes take the operator key only
    assert_error(agent.get("/api/admin/orgs"), 401, "unauthorized")
    assert_error(admin.get("/api/admin/orgs"), 401, "unauthorized")
    # an admin's session may (the refusals above are about the role, not the cookie)
    assert assert_json(admin.get("/api-keys"), 200)["data"] is not None
    created = assert_json(admin.post("/agents", json={"name": "New One", "email": "new-one@example.test",
                                                      "role": "agent"}), 201)
    assert created["role"] == "agent"


def test_another_orgs_conversation_is_a_404_in_the_console(page, context, watch, cluster, org, other_org, agent):
    theirs = open_sandbox_conversation(other_org, name="Their Secret Customer", text="secret order 9931")
    mine = open_sandbox_conversation(org, name="My Customer", text="hello")
    client = cookie_client(agent)
    assert_error(client.get(f"/conversations/{theirs['id']}"), 404, "conversation_not_found")
    assert_error(client.get(f"/conversations/{theirs['id']}/messages"), 404, "conversation_not_found")
    assert_error(client.post(f"/conversations/{theirs['id']}/resolve"), 404, "conversation_not_found")

    api_sign_in(context, agent)
    watch.allow(404, f"{API}/conversations/{theirs['id']}(/.*)?")
    open_chat(page, f"/chat/{theirs['id']}")
    expect(page.get_by_role("alert")).to_be_visible()
    body = page.locator("body")
    expect(body).not_to_contain_text("Their Secret Customer")
    expect(body).not_to_contain_text("secret order 9931")
    assert 404 in watch.statuses(f"{API}/conversations/{theirs['id']}", "GET")
    # the console still works for this org's own data
    expect(conversation_list(page).locator(f'[data-conversation-id="{mine["id"]}"]')).to_be_visible()
    assert get_conversation(other_org, theirs["id"])["status"] == "OPEN"
