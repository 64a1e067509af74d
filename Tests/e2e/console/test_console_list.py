"""The conversation list's filters and sort in a real browser (issue 12 §4): each filter narrows the list as the API
does, and the "Waiting longest" sort (FIFO) is remembered for the agent, not for the browser."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from conftest import assert_json
from inbound_helpers import open_sandbox_conversation

from .helpers import conversation_list, cookie_client, make_agent, sign_in


def shown_ids(page) -> list[str]:
    return conversation_list(page).locator("[data-conversation-id]").evaluate_all(
        "rows => rows.map(r => r.getAttribute('data-conversation-id'))")


def test_filters_narrow_the_list(chat, org, agent):
    page = chat
    a = open_sandbox_conversation(org, name="Filter Alpha", text="a")
    b = open_sandbox_conversation(org, name="Filter Beta", text="b")
    c = open_sandbox_conversation(org, name="Filter Gamma", text="c")
    me = cookie_client(agent)
    assert_json(me.post(f"/conversations/{a['id']}/read"), 200)
    assert_json(me.post(f"/conversations/{b['id']}/assign", json={"agentId": "me"}), 200)
    assert_json(me.request("PATCH", f"/conversations/{c['id']}", json={"starred": True}), 200)
    page.reload()
    everything = {a["id"], b["id"], c["id"]}
    expect(conversation_list(page).locator("[data-conversation-id]")).to_have_count(3)

    def only(ids, timeout=30.0):
        """Waits until the list shows exactly `ids` (a filter reloads the list asynchronously)."""
        deadline = time.monotonic() + timeout
        while set(shown_ids(page)) != set(ids) and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        assert set(shown_ids(page)) == set(ids)

    page.get_by_role("checkbox", name="Unread", exact=True).check()
    only({b["id"], c["id"]})
    page.get_by_role("checkbox", name="Unread", exact=True).uncheck()
    only(everything)
    page.get_by_role("combobox", name="Assignee").select_option(label="Me")
    only({b["id"]})
    page.get_by_role("combobox", name="Assignee").select_option(label="Unassigned")
    only({a["id"], c["id"]})
    page.get_by_role("combobox", name="Assignee").select_option(label="Anyone")
    page.get_by_role("checkbox", name="Starred", exact=True).check()
    only({c["id"]})
    page.get_by_role("checkbox", name="Starred", exact=True).uncheck()
    page.get_by_role("combobox", name="Status").select_option(label="Assigned")
    only({b["id"]})
    page.get_by_role("combobox", name="Status").select_option(label="All statuses")
    page.get_by_role("combobox", name="Channel").select_option(label="SMS")
    only(set())
    expect(page.get_by_text("No conversations match these filters.")).to_be_visible()
    page.get_by_role("combobox", name="Channel").select_option(label="All channels")
    page.get_by_role("searchbox", name="Search conversations").fill("Gamma")
    only({c["id"]})


def test_waiting_longest_sort_is_remembered_for_the_agent(chat, watch, org, agent):
    page = chat
    first = open_sandbox_conversation(org, name="Waited First", text="1")
    answered = open_sandbox_conversation(org, name="Answered", text="2")
    last = open_sandbox_conversation(org, name="Waited Last", text="3")
    assert_json(cookie_client(agent).post(f"/conversations/{answered['id']}/messages",
                                          json={"type": "text", "text": "done"}), 202)
    page.reload()
    expect(conversation_list(page).locator("[data-conversation-id]")).to_have_count(3)
    assert shown_ids(page) == [answered["id"], last["id"], first["id"]], "newest activity first"

    sort = page.get_by_role("combobox", name="Sort")
    sort.select_option(label="Waiting longest")
    expect(conversation_list(page).locator("[data-conversation-id]")).to_have_count(2)
    assert shown_ids(page) == [first["id"], last["id"]], "the customers waiting, the longest wait first"

    page.reload()
    expect(page.get_by_role("combobox", name="Sort").locator("option:checked")).to_have_text("Waiting longest")
    expect(conversation_list(page).locator("[data-conversation-id]")).to_have_count(2)

    # the same browser, another agent: their own choice (the default), and the first agent's comes back with them
    colleague = make_agent(org, name="Other Agent")
    watch.allow(401, "/api/auth/session", "GET")
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, watch, colleague)
    expect(page.get_by_role("combobox", name="Sort").locator("option:checked")).to_have_text("Newest activity")
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, watch, agent)
    expect(page.get_by_role("combobox", name="Sort").locator("option:checked")).to_have_text("Waiting longest")
