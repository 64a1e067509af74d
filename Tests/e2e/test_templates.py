"""Message templates of a WhatsApp channel: registered with their components, parameter counts derived from
`{{1}}`…`{{n}}`, bad registrations refused, scoped to the org's channel."""

from conftest import assert_error, assert_json
from inbound_helpers import create_twilio_channel, create_whatsapp_channel

ORDER_UPDATE = {
    "name": "order_update", "language": "en_US", "category": "UTILITY",
    "components": [
        {"type": "HEADER", "format": "TEXT", "text": "Order {{1}}"},
        {"type": "BODY", "text": "Hi {{1}}, your order {{2}} ships on {{3}}."},
        {"type": "FOOTER", "text": "Acme"},
        {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Track", "url": "https://acme.test/t/{{1}}"}]},
    ],
}


def test_register_list_get_delete(org):
    wa = create_whatsapp_channel(org)
    created = assert_json(org.post(f"/channels/{wa.id}/templates", json=ORDER_UPDATE), 201)
    assert created["parameters"] == {"header": 1, "body": 3, "buttons": [1]}
    assert created["status"] == "APPROVED" and created["components"][1]["text"].startswith("Hi {{1}}")
    listed = assert_json(org.get(f"/channels/{wa.id}/templates"), 200)["data"]
    assert [t["id"] for t in listed] == [created["id"]]
    assert assert_json(org.get(f"/channels/{wa.id}/templates/{created['id']}"), 200) == created
    assert_error(org.post(f"/channels/{wa.id}/templates", json=ORDER_UPDATE), 409, "template_exists")
    assert org.delete(f"/channels/{wa.id}/templates/{created['id']}").status_code == 204
    assert_error(org.get(f"/channels/{wa.id}/templates/{created['id']}"), 404, "template_not_found")


def test_bad_templates_are_refused(org):
    wa = create_whatsapp_channel(org)
    for body, code in [
        ({**ORDER_UPDATE, "components": [{"type": "BODY", "text": "Hi {{2}}"}]}, "invalid_components"),
        ({**ORDER_UPDATE, "components": [{"type": "HEADER", "text": "x"}]}, "invalid_components"),
        ({**ORDER_UPDATE, "name": "Order Update"}, "invalid_template_name"),
        ({**ORDER_UPDATE, "language": "english"}, "invalid_language"),
        ({**ORDER_UPDATE, "category": "SPAM"}, "invalid_category"),
    ]:
        assert_error(org.post(f"/channels/{wa.id}/templates", json=body), 400, code)
    assert_error(org.post(f"/channels/{wa.id}/templates", json={**ORDER_UPDATE, "components": "BODY"}), 400,
                 "invalid_field")
    sms = create_twilio_channel(org)
    assert_error(org.post(f"/channels/{sms.id}/templates", json=ORDER_UPDATE), 400, "unsupported_on_channel")
    assert assert_json(org.get(f"/channels/{wa.id}/templates"), 200)["data"] == []


def test_templates_are_the_orgs_own(org, other_org):
    wa = create_whatsapp_channel(org)
    created = assert_json(org.post(f"/channels/{wa.id}/templates", json=ORDER_UPDATE), 201)
    assert_error(other_org.get(f"/channels/{wa.id}/templates"), 404, "channel_not_found")
    assert_error(other_org.get(f"/channels/{wa.id}/templates/{created['id']}"), 404, "template_not_found")
    assert_error(other_org.post(f"/channels/{wa.id}/templates", json=ORDER_UPDATE), 404, "channel_not_found")
