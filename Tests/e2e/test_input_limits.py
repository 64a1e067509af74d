"""Input limits: a bad value is echoed as a short prefix only (in the answer and in the log), and contacts,
templates and sandbox messages past their documented limits are refused with 400, never stored. Plus: a method a
path does not serve answers 405 with `Allow`."""

from __future__ import annotations

import pytest
import requests

from conftest import API, assert_error, assert_json, rand_phone
from inbound_helpers import create_whatsapp_channel

HUGE = "a" * 20_000


def test_a_20000_character_email_is_a_400_with_a_short_echo(cluster, org):
    r = org.post("/contacts", json={"phone": rand_phone(), "email": HUGE + "@example.com"})
    err = assert_error(r, 400, "invalid_email", field="email")
    assert len(err["message"]) < 200, err["message"]
    assert "a" * 100 not in r.text
    assert "a" * 1000 not in cluster.log_path.read_text(errors="replace"), "the whole value was logged"


def test_other_echoed_values_are_capped_too(org):
    for body, code in [({"phone": "+" + "1" * 5000}, "invalid_phone"), ({"phone": rand_phone(), "tags": ["x," * 3000]},
                                                                       "invalid_tag")]:
        r = org.post("/contacts", json=body)
        err = assert_error(r, 400, code)
        assert len(err["message"]) < 300, err["message"]
    r = org.post("/contacts", json={"phone": rand_phone(), "k" * 5000: 1})
    err = assert_error(r, 400, "unknown_field")
    assert len(err["message"]) < 600 and len(err["details"]["field"]) < 300, err


def test_contact_limits_are_refused_with_400(org):
    phone = rand_phone()
    refused = [
        ({"tags": [f"t{i}" for i in range(51)]}, "too_many_tags"),
        ({"tags": ["x" * 65]}, "invalid_tag"),
        ({"attributes": {f"k{i}": i for i in range(51)}}, "too_many_attributes"),
        ({"attributes": {"k" * 65: 1}}, "invalid_attribute_key"),
        ({"attributes": {"note": "n" * 17_000}}, "attributes_too_large"),
        ({"whatsappUserId": "U" * 129}, "invalid_whatsapp_user_id"),
    ]
    for extra, code in refused:
        assert_error(org.post("/contacts", json={"phone": phone, **extra}), 400, code)
    assert assert_json(org.get("/contacts", params={"q": phone}), 200)["data"] == []
    # at the limits they are accepted
    contact = assert_json(org.post("/contacts", json={
        "phone": phone, "tags": [f"t{i}" for i in range(50)], "attributes": {f"k{i}": i for i in range(50)},
    }), 201)
    assert len(contact["tags"]) == 50 and len(contact["attributes"]) == 50
    # adding a 51st tag, or patching past the limits, is refused and changes nothing
    assert_error(org.post(f"/contacts/{contact['id']}/tags", json={"tags": ["one-more"]}), 400, "too_many_tags")
    assert_error(org.patch(f"/contacts/{contact['id']}", json={"attributes": {f"a{i}": 1 for i in range(60)}}),
                 400, "too_many_attributes")
    again = assert_json(org.get(f"/contacts/{contact['id']}"), 200)
    assert again["tags"] == contact["tags"] and again["attributes"] == contact["attributes"]


def test_sandbox_identity_limits_are_refused_not_dropped(org):
    for extra, code in [
        ({"whatsappUserId": "U" * 129}, "invalid_whatsapp_user_id"),
        ({"whatsappUserId": "US.1", "username": "u" * 129}, "invalid_username"),
        ({"from": rand_phone(), "name": "n" * 201}, "invalid_name"),
        ({"from": rand_phone(), "messageId": "m" * 200}, "invalid_message_id"),
    ]:
        assert_error(org.post("/sandbox/inbound", json={"text": "hello", **extra}), 400, code)


TEMPLATE = {"name": "limits_check", "language": "en_US", "category": "UTILITY"}


def test_template_limits_are_refused_with_400(org):
    wa = create_whatsapp_channel(org)
    body = {"type": "BODY", "text": "Hi {{1}}"}
    many_params = " ".join(f"{{{{{i}}}}}" for i in range(1, 102))
    for components, code in [
        ([body] + [{"type": "FOOTER", "text": "f"}] * 10, "too_many_components"),
        ([body, {"type": "FOOTER", "text": "f" * 17_000}], "components_too_large"),
        ([body, {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "b", "url": "https://x.test"}] * 11}],
         "too_many_buttons"),
        ([{"type": "BODY", "text": many_params}], "invalid_components"),
        ([{"type": "BODY", "text": "x" * 1025}], "invalid_components"),
    ]:
        assert_error(org.post(f"/channels/{wa.id}/templates", json={**TEMPLATE, "components": components}), 400, code)
    assert assert_json(org.get(f"/channels/{wa.id}/templates"), 200)["data"] == []


@pytest.mark.parametrize("method,path,allowed", [
    ("TRACE", API + "/contacts", {"GET", "POST"}),
    ("PUT", API + "/contacts/0190f1d2-0000-7000-8000-000000000000", {"GET", "PATCH", "DELETE"}),
    ("TRACE", "/healthz", {"GET"}),
    ("DELETE", "/api/admin/orgs", {"GET", "POST"}),
    # a literal segment wins over a parameter, as in the router: not the methods of /auto-tag-rules/{id}
    ("GET", API + "/auto-tag-rules/evaluate", {"POST"}),
    ("DELETE", API + "/contacts/imports", {"GET", "POST"}),
])
def test_a_method_a_path_does_not_serve_is_405_with_allow(cluster, method, path, allowed):
    r = requests.request(method, cluster.base_url + path, headers={"Authorization": f"Bearer {cluster.api_key}"},
                         timeout=30)
    assert_error(r, 405, "method_not_allowed")
    assert set(m.strip() for m in r.headers.get("Allow", "").split(",")) == allowed, r.headers
    assert_error(requests.get(cluster.base_url + API + "/no-such-route", timeout=30), 404, "route_not_found")
