"""Signing in and out of the console in a real browser (issue 12 §2 and §5): the sign-in form with a good password,
a wrong one and too many wrong ones, signing out, and the invite link an admin hands over (accept → set a
password → signed in → sign out → sign in with it)."""

from __future__ import annotations

import re
import urllib.parse

from playwright.sync_api import expect

from conftest import assert_error, assert_json, unique
from inbound_helpers import open_sandbox_conversation

from .helpers import (
    SESSION_COOKIE,
    CookieClient,
    conversation_list,
    invite,
    open_chat,
    sign_in,
    strong_password,
)


def session_cookies(context, cluster) -> list[dict]:
    return [c for c in context.cookies(cluster.base_url) if c["name"] == SESSION_COOKIE]


def fill_sign_in(page, email: str, password: str) -> None:
    page.get_by_role("textbox", name="Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def test_sign_in_with_the_right_password_opens_the_chat_page(page, context, watch, cluster, agent):
    sign_in(page, watch, agent)
    expect(page).to_have_url(re.compile(r"/chat(/|$|\?)"))
    expect(conversation_list(page)).to_be_attached()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Chat")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    [cookie] = session_cookies(context, cluster)
    assert cookie["httpOnly"] is True and cookie["secure"] is True, cookie
    assert cookie["sameSite"] == "Lax" and cookie["path"] == "/", cookie
    assert cookie["domain"] == "127.0.0.1", f"a __Host- cookie is host-only: {cookie}"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", cookie["value"]), "not 32 random bytes in base64url"
    assert page.evaluate("document.cookie") == "", "the session cookie is readable from JavaScript"

    # the browser's session is the agent's: the API answers who is signed in
    me = assert_json(CookieClient(cluster, cookie["value"]).get("/api/auth/session"), 200)
    assert me["agent"]["id"] == agent.id and me["role"] == "agent" and me["org"]["id"] == agent.org.id, me


def test_wrong_password_and_unknown_email_get_the_same_error_and_no_session(page, context, watch, cluster, agent):
    watch.allow(401, "/api/auth/login", "POST")
    watch.allow(401, "/api/auth/session", "GET")
    page.goto("/signin")
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()

    fill_sign_in(page, agent.email, agent.password + "x")
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible()
    expect(alert).not_to_have_text("")
    wrong_password = alert.inner_text()

    fill_sign_in(page, f"{unique('nobody-')}@example.test", agent.password)
    expect(alert).to_be_visible()
    expect(alert).to_have_text(wrong_password)  # no hint which accounts exist

    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)
    assert session_cookies(context, cluster) == []
    assert watch.statuses("/api/auth/login", "POST") == [401, 401]
    # the password field is a password field the browser may fill
    assert page.get_by_label("Password", exact=True).get_attribute("type") == "password"
    assert page.get_by_label("Password", exact=True).get_attribute("autocomplete") == "current-password"


def test_sign_out_ends_the_session(page, context, watch, cluster, agent):
    sign_in(page, watch, agent)
    [cookie] = session_cookies(context, cluster)
    token = cookie["value"]
    watch.allow(401, "/api/auth/session", "GET")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    assert session_cookies(context, cluster) == [], "the cookie was not cleared"
    assert watch.statuses("/api/auth/logout", "POST") == [204]

    old = CookieClient(cluster, token)
    assert_error(old.get("/api/auth/session"), 401, "unauthorized")
    assert_error(old.get("/conversations"), 401, "unauthorized")

    # the console's pages need a session again
    page.goto("/chat")
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    expect(conversation_list(page)).to_have_count(0)


def test_invite_link_sets_a_password_that_signs_in(page, context, watch, cluster, org):
    email = f"{unique('invited-')}@example.test"
    created = assert_json(org.post("/agents", json={"name": "Ivy Invited", "email": email, "role": "agent"}), 201)
    link = invite(org, created["id"])
    assert link["url"].startswith(cluster.base_url + "/accept-invite#token="), link
    password = strong_password()

    with watch.allowing(401, "/api/auth/session", "GET"):
        page.goto(link["url"])
        expect(page.get_by_role("heading", name="Set your password")).to_be_visible()
        field = page.get_by_label("New password", exact=True)
        assert field.get_attribute("type") == "password"
        assert field.get_attribute("autocomplete") == "new-password"
        field.fill(password)
        page.get_by_role("button", name="Set password").click()
        expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    assert "token" not in page.url, f"the invite token stays in the address bar: {page.url}"
    assert len(session_cookies(context, cluster)) == 1

    watch.allow(401, "/api/auth/session", "GET")
    # The other tab is told before the session ends, but on a busy machine it may take the stream over (the leader
    # let go of it) before it has read that: its one refused reconnect is then expected, and it still signs out.
    watch.allow(401, "/api/whatsapp-api/events/stream", "GET")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    fill_sign_in(page, email, password)
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()

    # the link was single-use: opening it again shows an error, nothing else
    watch.allow(400, "/api/auth/invite/accept", "POST")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    page.goto(link["url"])
    page.get_by_label("New password", exact=True).fill(strong_password())
    page.get_by_role("button", name="Set password").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)
    assert watch.statuses("/api/auth/invite/accept", "POST") == [200, 400]


def test_repeated_wrong_passwords_are_throttled_and_the_wait_is_shown(page, context, watch, cluster, agent):
    """After 5 failures of one email from one address each further attempt must wait (1 s, 2 s, 4 s …; README):
    the form shows why (not "wrong password"), and once the wait is over the right password signs in."""
    watch.allow(401, "/api/auth/login", "POST")
    watch.allow(429, "/api/auth/login", "POST")
    watch.allow(401, "/api/auth/session", "GET")
    page.goto("/signin")
    alert = page.get_by_role("alert")
    fill_sign_in(page, agent.email, "wrong password 0")
    expect(alert).to_be_visible()
    wrong_text = alert.inner_text()
    answers = []
    for attempt in range(1, 9):  # the 6th answers 429 unless the machine took over a second since the 5th
        with page.expect_response(lambda r: r.url.endswith("/api/auth/login")) as got:
            fill_sign_in(page, agent.email, f"wrong password {attempt}")
        answers.append(got.value.status)
        if got.value.status == 429:
            break
    assert answers[:4] == [401] * 4 and answers[-1] == 429, f"answers after the first failure: {answers}"
    throttled = got.value
    retry_after = int(throttled.headers["retry-after"])
    assert 1 <= retry_after <= 60, throttled.headers
    assert throttled.json()["error"]["code"] == "too_many_attempts"
    expect(alert).not_to_have_text(wrong_text)  # "wait", not "wrong password"
    expect(alert).to_contain_text(re.compile(r"\d|again|wait|later", re.I))
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)

    page.wait_for_timeout(retry_after * 1000 + 200)  # the wait is the behaviour under test
    fill_sign_in(page, agent.email, agent.password)
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def test_a_deep_link_opens_after_signing_in(page, watch, org, agent):
    conv = open_sandbox_conversation(org, name="Linked Customer", text="see this one")
    watch.allow(401, "/api/auth/session", "GET")
    page.goto(f"/chat/{conv['id']}")
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    fill_sign_in(page, agent.email, agent.password)
    expect(page).to_have_url(re.compile(re.escape(f"/chat/{conv['id']}") + "$"))
    expect(page.get_by_role("heading", name="Linked Customer")).to_be_visible()


def test_the_page_after_signing_in_is_always_the_consoles_own(page, watch, cluster, agent):
    """`?next=` is followed only to a path of the console (ASVS 3.7.2): never to another site."""
    watch.allow(401, "/api/auth/session", "GET")
    for target in ["https://evil.example/phish", "//evil.example/phish", "/\\evil.example", "javascript:alert(1)"]:
        page.goto("/signin?next=" + urllib.parse.quote(target, safe=""))
        fill_sign_in(page, agent.email, agent.password)
        expect(page.get_by_role("navigation", name="Main")).to_be_visible()
        assert page.url.startswith(cluster.base_url + "/"), f"next={target!r} led to {page.url}"
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()


def test_signing_out_in_one_tab_signs_out_every_tab(page, context, watch, agent):
    sign_in(page, watch, agent)
    other = context.new_page()
    open_chat(other)
    watch.allow(401, "/api/auth/session", "GET")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    expect(other.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    expect(other.get_by_role("navigation", name="Main")).to_have_count(0)
