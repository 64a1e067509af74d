"""The shared inbox: conversations opened by inbound messages, the 24-hour window, unread counts, status
transitions and assignment, list filters, search, keyset paging, message history and bulk actions. Each test works
in a fresh organisation so that every list is exact; messages come mostly through the sandbox channel."""

import datetime as dt
import uuid

import pytest

from conftest import (
    assert_error,
    assert_json,
    assert_recent,
    assert_uuid7,
    parse_time,
    rand_phone,
    tick,
)
from inbound_helpers import (
    CONVERSATION_FIELDS,
    MESSAGE_FIELDS,
    conversation_ids,
    conversations,
    create_twilio_channel,
    create_whatsapp_channel,
    digits,
    form_params,
    get_conversation,
    messages,
    new_sandbox_message_id,
    open_sandbox_conversation,
    sandbox_channel,
    sandbox_inbound,
    send_text,
    send_twilio,
    sms_form,
    wait_conversation,
    wait_message,
)

WINDOW = dt.timedelta(hours=24)


def _agent(org, name="Agent"):
    email = f"{name.lower().replace(' ', '.')}.{uuid.uuid4().hex[:6]}@example.com"
    return assert_json(org.post("/agents", json={"name": name, "email": email, "role": "agent"}), 201)


def _inbound(org, phone, text="again", **extra):
    """Another sandbox message from `phone`, waited for; answers (conversation, message)."""
    mid = new_sandbox_message_id()
    sandbox_inbound(org, text, phone=phone, message_id=mid, **extra)
    conv, msg = wait_message(org, mid)
    tick()
    return conv, msg


def _post(org, conv_id, action, **body):
    return org.post(f"/conversations/{conv_id}/{action}", json=body or None)


# ---------------------------------------------------------------------------------------------------------
# a conversation


def test_inbound_message_opens_a_conversation(org):
    phone = rand_phone()
    sb = sandbox_channel(org)
    mid = new_sandbox_message_id()
    sandbox_inbound(org, "hi", phone=phone, name="Ana Inbox", message_id=mid)
    conv, msg = wait_message(org, mid)

    assert set(conv) >= CONVERSATION_FIELDS, sorted(conv)
    assert_uuid7(conv["id"])
    assert conv["channelId"] == sb["id"]
    assert conv["status"] == "OPEN" and conv["assigneeId"] is None
    assert conv["unreadCount"] == 1
    assert conv["starred"] is False and conv["archived"] is False
    assert conv["resolvedAt"] is None and conv["deletedAt"] is None
    assert conv["contact"]["name"] == "Ana Inbox" and conv["contact"]["phone"] == phone
    assert conv["contact"]["id"] == msg["contactId"]
    last = conv["lastMessage"]
    assert last["id"] == msg["id"] and last["direction"] == "inbound"
    assert last["type"] == "text" and last["text"] == "hi"
    assert_recent(conv["createdAt"])
    assert_recent(conv["lastInboundAt"])
    assert parse_time(conv["lastActivityAt"]) >= parse_time(conv["lastInboundAt"]) - dt.timedelta(seconds=1)

    window = conv["window"]
    assert window["open"] is True
    expires = parse_time(window["expiresAt"])
    assert abs((expires - parse_time(conv["lastInboundAt"]) - WINDOW).total_seconds()) < 5, (window, conv)

    assert set(msg) >= MESSAGE_FIELDS, sorted(msg)
    assert msg["conversationId"] == conv["id"] and msg["channelId"] == sb["id"]
    assert msg["providerMessageId"] == mid and msg["direction"] == "inbound"
    assert msg["type"] == "text" and msg["text"] == "hi"
    assert msg["forwarded"] is False and msg["replyTo"] is None and msg["senderAgentId"] is None

    assert get_conversation(org, conv["id"])["id"] == conv["id"]
    assert conversation_ids(org) == [conv["id"]]


def test_whatsapp_conversation_window_follows_the_last_inbound(org):
    wa = create_whatsapp_channel(org)
    sender = digits(rand_phone())
    first = send_text(org.cluster, wa, "window one", sender=sender)
    conv, _ = wait_message(org, first["id"])
    assert conv["channel"] == "whatsapp" and conv["window"]["open"] is True
    first_expiry = parse_time(conv["window"]["expiresAt"])
    assert abs((first_expiry - parse_time(conv["lastInboundAt"]) - WINDOW).total_seconds()) < 5

    tick()
    second = send_text(org.cluster, wa, "window two", sender=sender)
    wait_message(org, second["id"])
    conv = get_conversation(org, conv["id"])
    assert conv["window"]["open"] is True
    assert parse_time(conv["window"]["expiresAt"]) >= first_expiry
    assert abs((parse_time(conv["window"]["expiresAt"]) - parse_time(conv["lastInboundAt"]) - WINDOW)
               .total_seconds()) < 5


def test_sms_conversation_has_no_window(org):
    tw = create_twilio_channel(org)
    form = sms_form(tw, rand_phone(), "sms hello")
    send_twilio(org.cluster, tw, form)
    conv, _ = wait_message(org, form_params(form)["MessageSid"])
    assert conv["channel"] == "sms" and conv["window"] is None
    assert conv["unreadCount"] == 1 and conv["status"] == "OPEN"


def test_one_open_conversation_per_contact_and_channel(org):
    phone = rand_phone()
    conv = open_sandbox_conversation(org, "Same Person", "one", phone=phone)
    again, _ = _inbound(org, phone, "two")
    assert again["id"] == conv["id"]
    assert [m["text"] for m in messages(org, conv["id"])] == ["two", "one"]

    # the same contact on another channel has a conversation of its own
    wa = create_whatsapp_channel(org)
    sent = send_text(org.cluster, wa, "on whatsapp", sender=digits(phone))
    other, msg = wait_message(org, sent["id"])
    assert other["id"] != conv["id"]
    assert other["contact"]["id"] == conv["contact"]["id"] == msg["contactId"]
    assert other["channelId"] == wa.id
    assert sorted(conversation_ids(org)) == sorted([conv["id"], other["id"]])


def test_unread_count_and_read(org):
    phone = rand_phone()
    conv = open_sandbox_conversation(org, "Unread", "1", phone=phone)
    _inbound(org, phone, "2")
    _inbound(org, phone, "3")
    assert get_conversation(org, conv["id"])["unreadCount"] == 3

    read = assert_json(_post(org, conv["id"], "read"), 200)
    assert read["unreadCount"] == 0 and read["id"] == conv["id"]
    assert get_conversation(org, conv["id"])["unreadCount"] == 0

    _inbound(org, phone, "4")
    assert get_conversation(org, conv["id"])["unreadCount"] == 1


def test_resolved_conversation_is_followed_by_a_new_one(org):
    phone = rand_phone()
    conv = open_sandbox_conversation(org, "Returning", "first visit", phone=phone)
    resolved = assert_json(_post(org, conv["id"], "resolve"), 200)
    assert resolved["status"] == "RESOLVED"
    assert_recent(resolved["resolvedAt"])

    new, msg = _inbound(org, phone, "back again")
    assert new["id"] != conv["id"]
    assert new["status"] == "OPEN" and new["resolvedAt"] is None
    assert new["contact"]["id"] == conv["contact"]["id"]
    assert [m["text"] for m in messages(org, new["id"])] == ["back again"]
    earlier = [m["text"] for m in messages(org, conv["id"])]
    # Newest first: the CSAT survey resolving sent (once it is out), then the customer's message.
    assert earlier[-1] == "first visit" and len(earlier) <= 2, earlier
    assert all("1 (poor) to 5 (excellent)" in text for text in earlier[:-1]), earlier
    old = get_conversation(org, conv["id"])
    assert old["status"] == "RESOLVED"


# ---------------------------------------------------------------------------------------------------------
# transitions and assignment


def test_status_transitions(org):
    conv = open_sandbox_conversation(org, "Flow")
    cid = conv["id"]
    ana, bo = _agent(org, "Ana"), _agent(org, "Bo")

    a = assert_json(_post(org, cid, "assign", agentId=ana["id"]), 200)
    assert a["status"] == "ASSIGNED" and a["assigneeId"] == ana["id"]
    b = assert_json(_post(org, cid, "assign", agentId=bo["id"]), 200)
    assert b["status"] == "ASSIGNED" and b["assigneeId"] == bo["id"]
    u = assert_json(_post(org, cid, "unassign"), 200)
    assert u["status"] == "OPEN" and u["assigneeId"] is None

    bot = assert_json(org.patch(f"/conversations/{cid}", json={"status": "BOT_ACTIVE"}), 200)
    assert bot["status"] == "BOT_ACTIVE"
    ai = assert_json(org.patch(f"/conversations/{cid}", json={"status": "AI_ACTIVE"}), 200)
    assert ai["status"] == "AI_ACTIVE"
    back = assert_json(org.patch(f"/conversations/{cid}", json={"status": "OPEN"}), 200)
    assert back["status"] == "OPEN"

    assert_error(org.patch(f"/conversations/{cid}", json={"status": "ASSIGNED"}), 409, "invalid_transition")
    assert get_conversation(org, cid)["status"] == "OPEN"

    r = assert_json(_post(org, cid, "resolve"), 200)
    assert r["status"] == "RESOLVED"
    assert_error(_post(org, cid, "resolve"), 409, "invalid_transition")
    assert_error(_post(org, cid, "assign", agentId=ana["id"]), 409, "invalid_transition")
    assert_error(org.patch(f"/conversations/{cid}", json={"status": "BOT_ACTIVE"}), 409, "invalid_transition")
    assert get_conversation(org, cid)["status"] == "RESOLVED"

    o = assert_json(_post(org, cid, "reopen"), 200)
    assert o["status"] == "OPEN"
    assert_error(_post(org, cid, "reopen"), 409, "invalid_transition")

    p = assert_json(org.patch(f"/conversations/{cid}", json={"status": "RESOLVED"}), 200)
    assert p["status"] == "RESOLVED"
    assert get_conversation(org, cid)["status"] == "RESOLVED"


def test_reopen_conflicts_with_an_open_conversation(org):
    phone = rand_phone()
    old = open_sandbox_conversation(org, "Twice", "first", phone=phone)
    assert_json(_post(org, old["id"], "resolve"), 200)
    new, _ = _inbound(org, phone, "second")
    assert new["id"] != old["id"]

    assert_error(_post(org, old["id"], "reopen"), 409, "conversation_open_exists")
    assert get_conversation(org, old["id"])["status"] == "RESOLVED"

    assert_json(_post(org, new["id"], "resolve"), 200)
    assert assert_json(_post(org, old["id"], "reopen"), 200)["status"] == "OPEN"


def test_assign_to_unknown_agent_is_404(org, other_org):
    conv = open_sandbox_conversation(org, "Nobody's")
    assert_error(_post(org, conv["id"], "assign", agentId="01900000-0000-7000-8000-000000000000"), 404,
                 "agent_not_found")
    theirs = _agent(other_org, "Theirs")
    assert_error(_post(org, conv["id"], "assign", agentId=theirs["id"]), 404, "agent_not_found")
    gone = _agent(org, "Gone")
    assert org.delete(f"/agents/{gone['id']}").status_code == 204
    assert_error(_post(org, conv["id"], "assign", agentId=gone["id"]), 404, "agent_not_found")
    c = get_conversation(org, conv["id"])
    assert c["status"] == "OPEN" and c["assigneeId"] is None


def test_agent_key_sees_its_own_assignments(org):
    ana, bo = _agent(org, "Ana"), _agent(org, "Bo")
    key = assert_json(org.post("/api-keys", json={"name": "ana desk", "role": "agent", "agentId": ana["id"]}),
                      201)["key"]
    c1 = open_sandbox_conversation(org, "For Ana")
    c2 = open_sandbox_conversation(org, "For Bo")
    c3 = open_sandbox_conversation(org, "For Nobody")
    assert_json(_post(org, c1["id"], "assign", agentId=ana["id"]), 200)
    assert_json(_post(org, c2["id"], "assign", agentId=bo["id"]), 200)

    assert conversation_ids(org, {"assignee": "me"}, key=key) == [c1["id"]]
    assert conversation_ids(org, {"assignee": ana["id"]}) == [c1["id"]]
    assert conversation_ids(org, {"assignee": bo["id"]}) == [c2["id"]]
    assert conversation_ids(org, {"assignee": "unassigned"}) == [c3["id"]]

    mine = assert_json(org.cluster.request("POST", f"/conversations/{c3['id']}/assign", key=key,
                                           json={"agentId": "me"}), 200)
    assert mine["assigneeId"] == ana["id"] and mine["status"] == "ASSIGNED"
    assert set(conversation_ids(org, {"assignee": "me"}, key=key)) == {c1["id"], c3["id"]}
    assert conversation_ids(org, {"assignee": "unassigned"}) == []


# ---------------------------------------------------------------------------------------------------------
# the inbox list


def test_newest_activity_first(org):
    pa, pb, pc = rand_phone(), rand_phone(), rand_phone()
    a = open_sandbox_conversation(org, "Alpha", phone=pa)
    b = open_sandbox_conversation(org, "Bravo", phone=pb)
    c = open_sandbox_conversation(org, "Charlie", phone=pc)
    assert conversation_ids(org) == [c["id"], b["id"], a["id"]]

    _inbound(org, pa, "alpha again")
    listed = conversations(org)
    assert [x["id"] for x in listed] == [a["id"], c["id"], b["id"]]
    times = [parse_time(x["lastActivityAt"]) for x in listed]
    assert times == sorted(times, reverse=True)
    assert listed[0]["lastMessage"]["text"] == "alpha again"


def test_filters(org):
    ana = _agent(org, "Filter Ana")
    open_c = open_sandbox_conversation(org, "Open One")
    assigned = open_sandbox_conversation(org, "Assigned One")
    resolved = open_sandbox_conversation(org, "Resolved One")
    starred = open_sandbox_conversation(org, "Starred One")
    archived = open_sandbox_conversation(org, "Archived One")
    assert_json(_post(org, assigned["id"], "assign", agentId=ana["id"]), 200)
    assert_json(_post(org, resolved["id"], "resolve"), 200)
    assert_json(org.patch(f"/conversations/{starred['id']}", json={"starred": True}), 200)
    assert_json(org.patch(f"/conversations/{archived['id']}", json={"archived": True}), 200)
    assert_json(_post(org, starred["id"], "read"), 200)

    def ids(params):
        return set(conversation_ids(org, params))

    visible = {open_c["id"], assigned["id"], resolved["id"], starred["id"]}
    assert ids({}) == visible  # archived ones are hidden unless asked for
    assert ids({"archived": "true"}) == {archived["id"]}
    assert ids({"archived": "false"}) == visible
    assert ids({"status": "OPEN"}) == {open_c["id"], starred["id"]}
    assert ids({"status": "ASSIGNED"}) == {assigned["id"]}
    assert ids({"status": "RESOLVED"}) == {resolved["id"]}
    assert ids({"status": "OPEN,RESOLVED"}) == {open_c["id"], starred["id"], resolved["id"]}
    assert ids({"status": ["ASSIGNED", "RESOLVED"]}) == {assigned["id"], resolved["id"]}
    assert ids({"assignee": ana["id"]}) == {assigned["id"]}
    assert ids({"assignee": "unassigned"}) == {open_c["id"], resolved["id"], starred["id"]}
    assert ids({"starred": "true"}) == {starred["id"]}
    assert ids({"starred": "false"}) == visible - {starred["id"]}
    assert ids({"unread": "false"}) == {starred["id"]}
    assert ids({"unread": "true"}) == visible - {starred["id"]}
    assert ids({"contactId": assigned["contact"]["id"]}) == {assigned["id"]}
    assert ids({"status": "OPEN", "starred": "true"}) == {starred["id"]}
    assert ids({"channelId": sandbox_channel(org)["id"]}) == visible


def test_channel_filters(org):
    wa = create_whatsapp_channel(org)
    tw = create_twilio_channel(org)
    wa_msg = send_text(org.cluster, wa, "from whatsapp", sender=digits(rand_phone()))
    wa_conv, _ = wait_message(org, wa_msg["id"])
    form = sms_form(tw, rand_phone(), "from sms")
    send_twilio(org.cluster, tw, form)
    sms_conv, _ = wait_message(org, form_params(form)["MessageSid"])

    assert conversation_ids(org, {"channel": "sms"}) == [sms_conv["id"]]
    assert wa_conv["id"] in conversation_ids(org, {"channel": "whatsapp"})
    assert sms_conv["id"] not in conversation_ids(org, {"channel": "whatsapp"})
    assert conversation_ids(org, {"channelId": wa.id}) == [wa_conv["id"]]
    assert conversation_ids(org, {"channelId": tw.id}) == [sms_conv["id"]]


def test_search_by_contact_name_and_phone(org):
    zed_phone, bob_phone = "+447700911234", "+14155550177"
    zed = open_sandbox_conversation(org, "Zephyr Quinn", phone=zed_phone)
    bob = open_sandbox_conversation(org, "Bob Marlow", phone=bob_phone)

    assert conversation_ids(org, {"q": "Zephyr"}) == [zed["id"]]
    assert conversation_ids(org, {"q": "Marlow"}) == [bob["id"]]
    assert conversation_ids(org, {"q": "0091123"}) == [zed["id"]]
    assert conversation_ids(org, {"q": "5550177"}) == [bob["id"]]
    assert conversation_ids(org, {"q": "no-such-person"}) == []
    assert conversation_ids(org, {"q": "Zephyr", "status": "RESOLVED"}) == []


def test_keyset_paging_has_no_gaps_or_duplicates(org):
    made = [open_sandbox_conversation(org, f"Pager {i}")["id"] for i in range(5)]
    newest_first = list(reversed(made))

    seen, pages, cursor = [], [], None
    while True:
        params = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        body = assert_json(org.get("/conversations", params=params), 200)
        assert set(body) == {"data", "nextCursor"}, body
        pages.append(len(body["data"]))
        seen += body["data"]
        cursor = body["nextCursor"]
        if cursor is None:
            break
        assert len(pages) < 10
    assert pages == [2, 2, 1]
    ids = [c["id"] for c in seen]
    assert ids == newest_first
    times = [parse_time(c["lastActivityAt"]) for c in seen]
    assert times == sorted(times, reverse=True)


def test_messages_newest_first_with_cursor(org):
    phone = rand_phone()
    mids = [new_sandbox_message_id() for _ in range(5)]
    for i, mid in enumerate(mids):
        sandbox_inbound(org, f"m{i}", phone=phone, message_id=mid)
    conv, _ = wait_message(org, mids[-1])
    wait_conversation(org, conv["id"], lambda c: c["unreadCount"] == 5)

    texts, pages, cursor = [], [], None
    while True:
        params = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        body = assert_json(org.get(f"/conversations/{conv['id']}/messages", params=params), 200)
        pages.append(len(body["data"]))
        texts += [m["text"] for m in body["data"]]
        cursor = body["nextCursor"]
        if cursor is None:
            break
        assert len(pages) < 10
    assert pages == [2, 2, 1]
    assert texts == ["m4", "m3", "m2", "m1", "m0"]
    assert [m["providerMessageId"] for m in messages(org, conv["id"])] == list(reversed(mids))
    assert get_conversation(org, conv["id"])["lastMessage"]["text"] == "m4"


@pytest.mark.parametrize(
    "params",
    [{"status": "FOO"}, {"status": "OPEN,FOO"}, {"channel": "fax"}, {"starred": "maybe"}, {"archived": "perhaps"},
     {"unread": "2"}, {"limit": "0"}, {"limit": "201"}, {"limit": "ten"}],
    ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()),
)
def test_invalid_list_query_is_400(org, params):
    assert_error(org.get("/conversations", params=params), 400, "invalid_query")


def test_malformed_cursor_is_400(org):
    assert_error(org.get("/conversations", params={"cursor": "not-a-cursor!!"}), 400, "invalid_cursor")


# ---------------------------------------------------------------------------------------------------------
# star, archive, delete, isolation


def test_star_and_archive_one_conversation(org):
    conv = open_sandbox_conversation(org, "Flags")
    s = assert_json(org.patch(f"/conversations/{conv['id']}", json={"starred": True}), 200)
    assert s["starred"] is True and s["archived"] is False and s["status"] == "OPEN"
    a = assert_json(org.patch(f"/conversations/{conv['id']}", json={"archived": True}), 200)
    assert a["archived"] is True and a["starred"] is True
    assert conversation_ids(org) == []
    assert conversation_ids(org, {"archived": "true"}) == [conv["id"]]
    u = assert_json(org.patch(f"/conversations/{conv['id']}", json={"archived": False, "starred": False}), 200)
    assert u["archived"] is False and u["starred"] is False
    assert conversation_ids(org) == [conv["id"]]
    assert_error(org.patch(f"/conversations/{conv['id']}", json={"starred": "yes"}), 400, "invalid_field",
                 field="starred")


def test_delete_and_restore_one_conversation(org):
    keep = open_sandbox_conversation(org, "Keeper")
    conv = open_sandbox_conversation(org, "Trash Me")
    r = org.delete(f"/conversations/{conv['id']}")
    assert r.status_code == 204, r.text
    assert conversation_ids(org) == [keep["id"]]
    trash = conversations(org, {"deleted": "true"})
    assert [c["id"] for c in trash] == [conv["id"]]
    assert_recent(trash[0]["deletedAt"])

    back = assert_json(_post(org, conv["id"], "restore"), 200)
    assert back["id"] == conv["id"] and back["deletedAt"] is None
    assert set(conversation_ids(org)) == {keep["id"], conv["id"]}
    assert conversation_ids(org, {"deleted": "true"}) == []
    assert [m["text"] for m in messages(org, conv["id"])] == ["hello"]


def test_other_orgs_conversation_is_404(org, other_org):
    conv = open_sandbox_conversation(org, "Private")
    cid = conv["id"]
    agent = _agent(other_org, "Snoop")
    for method, path, body in [
        ("GET", f"/conversations/{cid}", None),
        ("GET", f"/conversations/{cid}/messages", None),
        ("PATCH", f"/conversations/{cid}", {"starred": True}),
        ("POST", f"/conversations/{cid}/assign", {"agentId": agent["id"]}),
        ("POST", f"/conversations/{cid}/unassign", None),
        ("POST", f"/conversations/{cid}/resolve", None),
        ("POST", f"/conversations/{cid}/read", None),
        ("POST", f"/conversations/{cid}/restore", None),
        ("DELETE", f"/conversations/{cid}", None),
    ]:
        assert_error(other_org.api(method, path, json=body), 404, "conversation_not_found")
    assert conversation_ids(other_org) == []
    c = get_conversation(org, cid)
    assert c["starred"] is False and c["status"] == "OPEN" and c["unreadCount"] == 1 and c["deletedAt"] is None
    assert_error(org.get("/conversations/01900000-0000-7000-8000-000000000000"), 404, "conversation_not_found")


# ---------------------------------------------------------------------------------------------------------
# bulk actions


def _bulk(org, **body):
    return assert_json(org.post("/conversations/bulk", json=body), 200)


def test_a_null_or_mistyped_bulk_filter_is_refused_not_every_conversation(org):
    """`"filter": null` once read as an empty filter — every conversation of the org — and a boolean where a
    string belongs as that text; both are 400 now, and nothing changes."""
    a = open_sandbox_conversation(org, "Bulk null A")
    b = open_sandbox_conversation(org, "Bulk null B")
    assert_error(org.post("/conversations/bulk", json={"action": "delete", "filter": None}), 400, "invalid_field")
    assert_error(org.post("/conversations/bulk", json={"action": "star", "filter": {"contactId": False}}), 400,
                 "invalid_field")
    assert sorted(conversation_ids(org)) == sorted([a["id"], b["id"]])
    assert conversation_ids(org, {"starred": "true"}) == []


def test_bulk_star_by_ids(org):
    a = open_sandbox_conversation(org, "Bulk A")
    b = open_sandbox_conversation(org, "Bulk B")
    c = open_sandbox_conversation(org, "Bulk C")
    assert _bulk(org, action="star", ids=[a["id"], c["id"]]) == {"affected": 2}
    assert set(conversation_ids(org, {"starred": "true"})) == {a["id"], c["id"]}
    assert get_conversation(org, b["id"])["starred"] is False

    assert _bulk(org, action="unstar", ids=[a["id"]]) == {"affected": 1}
    assert conversation_ids(org, {"starred": "true"}) == [c["id"]]


def test_bulk_archive_by_filter(org):
    ana = _agent(org, "Bulk Ana")
    acme1 = open_sandbox_conversation(org, "Acme One")
    acme2 = open_sandbox_conversation(org, "Acme Two")
    other = open_sandbox_conversation(org, "Globex Three")
    assert_json(_post(org, acme2["id"], "assign", agentId=ana["id"]), 200)

    got = _bulk(org, action="archive", filter={"q": "Acme", "status": ["OPEN"]})
    assert got == {"affected": 1}
    assert conversation_ids(org, {"archived": "true"}) == [acme1["id"]]
    assert set(conversation_ids(org)) == {acme2["id"], other["id"]}
    assert get_conversation(org, acme2["id"])["archived"] is False

    assert _bulk(org, action="unarchive", ids=[acme1["id"]]) == {"affected": 1}
    assert conversation_ids(org, {"archived": "true"}) == []
    assert set(conversation_ids(org)) == {acme1["id"], acme2["id"], other["id"]}


def test_bulk_mark_read(org):
    pa, pb = rand_phone(), rand_phone()
    a = open_sandbox_conversation(org, "Read A", phone=pa)
    b = open_sandbox_conversation(org, "Read B", phone=pb)
    _inbound(org, pa, "more")
    assert get_conversation(org, a["id"])["unreadCount"] == 2
    assert _bulk(org, action="mark_read", ids=[a["id"]]) == {"affected": 1}
    assert get_conversation(org, a["id"])["unreadCount"] == 0
    assert get_conversation(org, b["id"])["unreadCount"] == 1
    assert conversation_ids(org, {"unread": "true"}) == [b["id"]]


def test_bulk_delete_and_restore(org):
    a = open_sandbox_conversation(org, "Del A")
    b = open_sandbox_conversation(org, "Del B")
    c = open_sandbox_conversation(org, "Del C")
    assert _bulk(org, action="delete", ids=[a["id"], b["id"]]) == {"affected": 2}
    assert conversation_ids(org) == [c["id"]]
    assert set(conversation_ids(org, {"deleted": "true"})) == {a["id"], b["id"]}

    assert _bulk(org, action="restore", ids=[a["id"], b["id"]]) == {"affected": 2}
    assert set(conversation_ids(org)) == {a["id"], b["id"], c["id"]}
    assert conversation_ids(org, {"deleted": "true"}) == []
    assert all(get_conversation(org, x)["deletedAt"] is None for x in (a["id"], b["id"]))


def test_bulk_skips_other_orgs_ids(org, other_org):
    mine = open_sandbox_conversation(org, "Mine")
    theirs = open_sandbox_conversation(other_org, "Theirs")
    assert _bulk(org, action="star", ids=[mine["id"], theirs["id"]]) == {"affected": 1}
    assert get_conversation(other_org, theirs["id"])["starred"] is False
    assert get_conversation(org, mine["id"])["starred"] is True
    assert _bulk(org, action="delete", ids=[theirs["id"]]) == {"affected": 0}
    assert conversation_ids(other_org) == [theirs["id"]]


@pytest.mark.parametrize(
    "body",
    [
        {"action": "explode", "ids": []},
        {"ids": []},
        {"action": "star", "ids": [str(uuid.UUID(int=i, version=4)) for i in range(1001)]},
    ],
    ids=["unknown-action", "no-action", "over-1000-ids"],
)
def test_bulk_rejects_bad_requests(org, body):
    conv = open_sandbox_conversation(org, "Untouched")
    if body.get("action") == "explode":
        body = dict(body, ids=[conv["id"]])
    assert_error(org.post("/conversations/bulk", json=body), 400)
    c = get_conversation(org, conv["id"])
    assert c["starred"] is False and c["deletedAt"] is None and c["archived"] is False


# ---------------------------------------------------------------------------------------------------------
# the "waiting longest" queue (sort=waiting)


def test_waiting_longest_lists_customers_awaiting_a_reply_oldest_wait_first(org):
    first = open_sandbox_conversation(org, name="First waiter")
    second = open_sandbox_conversation(org, name="Second waiter")
    third = open_sandbox_conversation(org, name="Third waiter")
    answered = open_sandbox_conversation(org, name="Answered")
    resolved = open_sandbox_conversation(org, name="Resolved unanswered")
    assert_json(org.post(f"/conversations/{resolved['id']}/resolve"), 200)
    # The first customer writes again: the wait still began with the first message (no jump to the back).
    again = sandbox_inbound(org, "still there?", phone=first["contact"]["phone"])
    wait_message(org, again["messageId"])
    # A reply ends the wait.
    assert_json(org.post(f"/conversations/{answered['id']}/messages", json={"type": "text", "text": "hi"}), 202)
    wait_conversation(org, answered["id"], lambda c: c["waitingSince"] is None)

    queue = conversations(org, {"sort": "waiting"})
    assert [c["id"] for c in queue] == [first["id"], second["id"], third["id"]]
    assert queue[0]["waitingSince"] == first["lastInboundAt"]
    # WhatsApp and the sandbox time messages to the second; equal waits keep the order the conversations began.
    assert parse_time(queue[0]["waitingSince"]) <= parse_time(queue[1]["waitingSince"])
    # The default order still lists every conversation.
    assert set(conversation_ids(org)) == {c["id"] for c in (first, second, third, answered, resolved)}
    # Filters combine with the queue.
    assert conversation_ids(org, {"sort": "waiting", "q": "Second"}) == [second["id"]]
    agent = assert_json(org.post("/agents", json={"name": "Queue Agent", "email": "queue@example.com", "role": "agent"}), 201)
    assert_json(org.post(f"/conversations/{second['id']}/assign", json={"agentId": agent["id"]}), 200)
    assert conversation_ids(org, {"sort": "waiting", "status": "OPEN"}) == [first["id"], third["id"]]

    # Keyset pages of one, and cursors of one order are refused by the other.
    page = assert_json(org.get("/conversations", params={"sort": "waiting", "limit": 1}), 200)
    assert [c["id"] for c in page["data"]] == [first["id"]]
    page2 = assert_json(org.get("/conversations", params={"sort": "waiting", "limit": 1, "cursor": page["nextCursor"]}), 200)
    assert [c["id"] for c in page2["data"]] == [second["id"]]
    inbox = assert_json(org.get("/conversations", params={"limit": 1}), 200)
    assert_error(org.get("/conversations", params={"sort": "waiting", "cursor": inbox["nextCursor"]}), 400,
                 "invalid_cursor")
    assert_error(org.get("/conversations", params={"cursor": page["nextCursor"]}), 400, "invalid_cursor")
    assert_error(org.get("/conversations", params={"sort": "oldest"}), 400, "invalid_query", parameter="sort")


# ---------------------------------------------------------------------------------------------------------
# GET /conversations/count: how many the list answers


def _count(org, params=None) -> int:
    body = assert_json(org.get("/conversations/count", params=params or {}), 200)
    assert set(body) == {"count"} and isinstance(body["count"], int), body
    return body["count"]


def test_count_is_exact_for_the_lists_filters_and_never_counts_another_org(org, other_org):
    ana = _agent(org, "Count Ana")
    open_c = open_sandbox_conversation(org, "Count Open")
    assigned = open_sandbox_conversation(org, "Count Assigned")
    resolved = open_sandbox_conversation(org, "Count Resolved")
    starred = open_sandbox_conversation(org, "Count Starred")
    archived = open_sandbox_conversation(org, "Count Archived")
    trashed = open_sandbox_conversation(org, "Count Trashed")
    assert_json(_post(org, assigned["id"], "assign", agentId=ana["id"]), 200)
    assert_json(_post(org, resolved["id"], "resolve"), 200)
    assert_json(org.patch(f"/conversations/{starred['id']}", json={"starred": True}), 200)
    assert_json(org.patch(f"/conversations/{archived['id']}", json={"archived": True}), 200)
    assert_json(_post(org, starred["id"], "read"), 200)
    assert org.delete(f"/conversations/{trashed['id']}").status_code == 204
    # another organisation's rows, matching every filter below, are never counted
    for name in ("Count Other A", "Count Other B", "Count Other C"):
        theirs = open_sandbox_conversation(other_org, name)
        assert_json(other_org.patch(f"/conversations/{theirs['id']}", json={"starred": True}), 200)

    expected = [
        ({}, 4),  # archived and deleted ones are hidden unless asked for
        ({"archived": "true"}, 1),
        ({"archived": "false"}, 4),
        ({"deleted": "true"}, 1),
        ({"status": "OPEN"}, 2),
        ({"status": "ASSIGNED"}, 1),
        ({"status": "OPEN,RESOLVED"}, 3),
        ({"status": ["ASSIGNED", "RESOLVED"]}, 2),
        ({"assignee": ana["id"]}, 1),
        ({"assignee": "unassigned"}, 3),
        ({"starred": "true"}, 1),
        ({"starred": "false"}, 3),
        ({"unread": "true"}, 3),
        ({"unread": "false"}, 1),
        ({"contactId": assigned["contact"]["id"]}, 1),
        ({"status": "OPEN", "starred": "true"}, 1),
        ({"channelId": sandbox_channel(org)["id"]}, 4),
        ({"channel": "sms"}, 0),
        ({"q": "Count"}, 4),  # full-text search (three characters or more)
        ({"q": "Re"}, 2),  # two characters, matched while walking the inbox: "Count Resolved", "Count Starred"
        ({"q": "Count Other"}, 0),
        ({"sort": "waiting"}, 3),  # not resolved and unanswered: open, assigned, starred
        ({"sort": "waiting", "status": "OPEN"}, 2),
        ({"sort": "waiting", "status": "RESOLVED"}, 0),  # resolving ends the wait
        ({"sort": "waiting", "starred": "true"}, 1),
        ({"sort": "activity"}, 4),
    ]
    for params, want in expected:
        listed = len(conversations(org, params))
        assert listed == want, f"the list itself for {params}: {listed}"
        assert _count(org, params) == want, f"count for {params}"
    assert _count(other_org) == 3
    assert _count(other_org, {"starred": "true"}) == 3
    assert _count(other_org, {"q": "Count"}) == 3


@pytest.mark.parametrize(
    "params",
    [{"status": "FOO"}, {"status": "OPEN,FOO"}, {"channel": "fax"}, {"starred": "maybe"}, {"archived": "perhaps"},
     {"unread": "2"}, {"deleted": "perhaps"}, {"assignee": "me"}, {"sort": "oldest"}],
    ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()),
)
def test_count_refuses_a_bad_filter_as_the_list_does(org, params):
    listed = org.get("/conversations", params=params)
    counted = org.get("/conversations/count", params=params)
    body = assert_error(counted, 400, "invalid_query")
    assert_error(listed, 400, "invalid_query")
    assert body == listed.json()["error"], "the same 400 as the list"
