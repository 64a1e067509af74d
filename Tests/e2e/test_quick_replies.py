"""Quick replies: `/shortcut`s unique per org, variables checked when saved, rendered with the contact's, the
org's and the calling agent's values (and fallbacks), the `/` picker by prefix."""

import datetime as dt
import re

from conftest import assert_error, assert_json, rand_phone, unique
from inbound_helpers import sandbox_inbound, wait_for


def create(org, shortcut, content, status=201):
    return assert_json(org.post("/quick-replies", json={"shortcut": shortcut, "content": content}), status)


def test_quick_reply_crud_and_the_prefix_picker(org):
    greeting = create(org, "/greeting", "Hi {{contact.firstName|there}}, this is {{agent.name}} from {{org.name}}")
    assert greeting["shortcut"] == "/greeting"
    assert greeting["variables"] == ["contact.firstName", "agent.name", "org.name"]
    create(org, "/goodbye", "Bye {{contact.name}}")
    create(org, "/thanks", "Thank you!")
    picked = assert_json(org.get("/quick-replies", params={"prefix": "/g"}), 200)["data"]
    assert [q["shortcut"] for q in picked] == ["/goodbye", "/greeting"]
    assert len(assert_json(org.get("/quick-replies"), 200)["data"]) == 3
    changed = assert_json(org.patch(f"/quick-replies/{greeting['id']}", json={"content": "Hello {{date}}"}), 200)
    assert changed["variables"] == ["date"] and changed["shortcut"] == "/greeting"
    assert org.delete(f"/quick-replies/{greeting['id']}").status_code == 204
    assert_error(org.get(f"/quick-replies/{greeting['id']}"), 404, "quick_reply_not_found")


def test_bad_quick_replies_are_refused_and_change_nothing(org):
    assert_error(org.post("/quick-replies", json={"shortcut": "/x", "content": "Hi {{contact.nmae}}"}), 400,
                 "unknown_variable", variable="contact.nmae")
    assert_error(org.post("/quick-replies", json={"shortcut": "/x", "content": "Hi {{contact.name"}), 400,
                 "invalid_content")
    assert_error(org.post("/quick-replies", json={"shortcut": "no-slash", "content": "Hi"}), 400, "invalid_shortcut")
    assert_error(org.post("/quick-replies", json={"content": "Hi"}), 400, "missing_field")
    create(org, "/same", "one")
    assert_error(org.post("/quick-replies", json={"shortcut": "/SAME", "content": "two"}), 409, "quick_reply_exists")
    assert [q["content"] for q in assert_json(org.get("/quick-replies"), 200)["data"]] == ["one"]


def test_render_fills_contact_org_agent_date_and_time(cluster):
    org = cluster.create_org(name=unique("Acme "), time_zone="Asia/Kolkata")
    agent = assert_json(org.post("/agents", json={"name": "Bo Agent", "email": f"{unique('bo')}@example.com"}), 201)
    key = assert_json(org.post("/api-keys", json={"name": "bo", "role": "agent", "agentId": agent["id"]}), 201)["key"]
    phone = rand_phone()
    sandbox_inbound(org, "hello", phone=phone, name="Ana Souza")
    conv = wait_for(lambda: (d := assert_json(org.get("/conversations"), 200)["data"]) and d[0], what="conversation")
    reply = create(org, "/hi", "Hi {{contact.firstName}} ({{contact.name}}), {{agent.name}} of {{org.name}}, "
                               "{{date}} {{time}}")
    rendered = assert_json(org.post(f"/quick-replies/{reply['id']}/render", key=key,
                                    json={"conversationId": conv["id"]}), 200)["text"]
    match = re.fullmatch(r"Hi Ana \(Ana Souza\), Bo Agent of (.+), (\d{4}-\d{2}-\d{2}) (\d{2}:\d{2})", rendered)
    assert match, rendered
    assert match.group(1) == org.name
    now = dt.datetime.now(dt.timezone(dt.timedelta(hours=5, minutes=30)))  # Asia/Kolkata, no DST
    stamp = dt.datetime.strptime(f"{match.group(2)} {match.group(3)}", "%Y-%m-%d %H:%M").replace(tzinfo=now.tzinfo)
    assert abs((now - stamp).total_seconds()) < 120, f"{rendered} vs {now}"
    contact_id = conv["contact"]["id"]
    by_contact = assert_json(org.post(f"/quick-replies/{reply['id']}/render", json={"contactId": contact_id}), 200)
    assert by_contact["text"].startswith("Hi Ana (Ana Souza),  of ")  # an admin key acts as no agent


def test_missing_values_render_fallbacks(org):
    reply = create(org, "/fb", "Hi {{contact.firstName|there}}{{agent.name| from the team}}!")
    assert assert_json(org.post(f"/quick-replies/{reply['id']}/render"), 200)["text"] == "Hi there from the team!"


def test_other_orgs_quick_replies_are_404(org, other_org):
    reply = create(org, "/mine", "mine")
    assert_error(other_org.get(f"/quick-replies/{reply['id']}"), 404, "quick_reply_not_found")
    assert_error(other_org.post(f"/quick-replies/{reply['id']}/render"), 404, "quick_reply_not_found")
    assert_error(other_org.delete(f"/quick-replies/{reply['id']}"), 404, "quick_reply_not_found")
    assert assert_json(other_org.get("/quick-replies"), 200)["data"] == []
