"""Inbox search text that SQLite cannot take as it is (found by schemathesis): answered, never a 500."""

import time

from conftest import assert_json, rand_phone, unique


def test_a_nul_in_the_inbox_search_is_ignored_not_a_server_error(org):
    name = unique("Nul ")
    assert_json(org.post("/sandbox/inbound", json={"from": rand_phone(), "name": name, "text": "hello"}), 202)
    deadline = time.monotonic() + 30
    while True:
        found = assert_json(org.get("/conversations", params={"q": name}), 200)["data"]
        if found:
            break
        assert time.monotonic() < deadline, f"the sandbox conversation of {name!r} never appeared"
        time.sleep(0.2)

    for q in (name + "\u0000", "\u0000" + name, "ab\u0000", 'a"\u0000b', "\u0000"):
        for extra in ({}, {"deleted": "true"}):
            r = org.get("/conversations", params={"q": q, **extra})
            body = assert_json(r, 200)
            assert isinstance(body["data"], list), body
    with_nul = assert_json(org.get("/conversations", params={"q": name + "\u0000"}), 200)["data"]
    assert [c["id"] for c in with_nul] == [c["id"] for c in found]
