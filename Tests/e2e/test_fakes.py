"""The provider fakes themselves (Tests/e2e/fakes): wire formats, validation, knobs. No Switchboard cluster."""

from __future__ import annotations

import concurrent.futures
import copy
import json
import re
import time
from pathlib import Path

import pytest
import requests

from fakes.meta_graph import ERRORS as META_ERRORS
from fakes.meta_graph import FakeGraphAPI, error_body
from fakes.twilio_api import FakeTwilioAPI

TWILIO_FIXTURE = json.loads(
    (Path(__file__).resolve().parents[1] / "Fixtures" / "twilio" / "rest_messages_api.json").read_text())

NUMBER_ID = "106540352242922"
TOKEN = "EAAJB-test-token"
OTHER_NUMBER_ID = "106540352242923"
OTHER_TOKEN = "EAAJB-other-token"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "f" * 32
MG_SID = "MG" + "a" * 32
WAMID = re.compile(r"^wamid\.[A-Za-z0-9+/=]{20,}$")
TIMEOUT = 5


@pytest.fixture(autouse=True)
def _never_a_server_error():
    """Overrides conftest's autouse fixture of the same name, which needs (and would start) the cluster."""
    yield


@pytest.fixture(scope="module")
def _meta_server():
    with FakeGraphAPI() as fake:
        fake.add_number(NUMBER_ID, TOKEN)
        fake.add_number(OTHER_NUMBER_ID, OTHER_TOKEN)
        yield fake


@pytest.fixture
def meta(_meta_server):
    _meta_server.reset()
    _meta_server.raw_capacity(False)
    _meta_server.clear_templates()
    yield _meta_server
    _meta_server.reset()


@pytest.fixture(scope="module")
def _twilio_server():
    with FakeTwilioAPI() as fake:
        fake.add_account(ACCOUNT_SID, AUTH_TOKEN)
        yield fake


@pytest.fixture
def twilio(_twilio_server):
    _twilio_server.reset()
    yield _twilio_server
    _twilio_server.reset()


@pytest.fixture(scope="module")
def http():
    with requests.Session() as s:
        yield s


# ---------------------------------------------------------------------------------------------------------
# Meta helpers


def wa_send(http, meta, body, number_id=NUMBER_ID, token=TOKEN, version="v21.0", **kw):
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    kw.setdefault("timeout", TIMEOUT)
    return http.post(f"{meta.base_url}/{version}/{number_id}/messages", json=body, headers=headers, **kw)


def msg(kind: str, obj, to: str = "+447700900123") -> dict:
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": kind, kind: obj}


def text(body: str = "hello", to: str = "+447700900123") -> dict:
    return msg("text", {"body": body}, to)


def assert_meta_error(resp, status: int, code: int, field: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    err = resp.json()["error"]
    assert set(err) <= {"message", "type", "code", "error_subcode", "error_data", "fbtrace_id"}, err
    assert err["type"] == "OAuthException" and err["code"] == code, err
    assert isinstance(err["fbtrace_id"], str) and err["fbtrace_id"], err
    if code in META_ERRORS and code not in (190, 2500) and "error_subcode" not in err:
        assert err["message"] == f"(#{code}) {META_ERRORS[code][1]}", err
    if code in META_ERRORS and META_ERRORS[code][2] is not None:
        assert err["error_data"]["messaging_product"] == "whatsapp", err
        assert isinstance(err["error_data"]["details"], str), err
    if field is not None:
        assert f"'{field}'" in err["error_data"]["details"], err
    return err


BUTTONS = {
    "type": "button",
    "header": {"type": "image", "image": {"link": "https://example.com/h.png"}},
    "body": {"text": "Pick one"},
    "footer": {"text": "Switchboard"},
    "action": {"buttons": [
        {"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
        {"type": "reply", "reply": {"id": "no", "title": "No"}},
        {"type": "reply", "reply": {"id": "later", "title": "x" * 20}},
    ]},
}
LIST = {
    "type": "list",
    "header": {"type": "text", "text": "Menu"},
    "body": {"text": "Choose a slot"},
    "action": {"button": "b" * 20, "sections": [
        {"title": "Morning", "rows": [{"id": f"m{i}", "title": "t" * 24, "description": "d" * 72}
                                      for i in range(5)]},
        {"title": "s" * 24, "rows": [{"id": f"a{i}", "title": f"Slot {i}"} for i in range(5)]},
    ]},
}
TEMPLATE = {
    "name": "order_update",
    "language": {"code": "en_US", "policy": "deterministic"},
    "components": [
        {"type": "header", "parameters": [{"type": "document", "document": {"id": "1234", "filename": "a.pdf"}}]},
        {"type": "body", "parameters": [
            {"type": "text", "text": "Ada"},
            {"type": "currency", "currency": {"fallback_value": "$10.99", "code": "USD", "amount_1000": 10990}},
            {"type": "date_time", "date_time": {"fallback_value": "May 1, 2026"}},
        ]},
        {"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [{"type": "payload",
                                                                                   "payload": "STOP"}]},
        {"type": "button", "sub_type": "url", "index": 1, "parameters": [{"type": "text", "text": "ord-42"}]},
    ],
}

VALID_BODIES = {
    "text": text("Hello 👋"),
    "text_preview": msg("text", {"body": "see https://example.com", "preview_url": True}),
    "image_id": msg("image", {"id": "1479537139650973"}),
    "image_link_caption": msg("image", {"link": "https://example.com/a.jpg", "caption": "A cat"}),
    "video": msg("video", {"link": "https://example.com/a.mp4", "caption": "clip"}),
    "audio": msg("audio", {"id": "9876"}),
    "document": msg("document", {"link": "https://example.com/a.pdf", "caption": "Invoice", "filename": "a.pdf"}),
    "sticker": msg("sticker", {"id": "555"}),
    "template": msg("template", TEMPLATE),
    "template_bare": msg("template", {"name": "hello_world", "language": {"code": "en_US"}}),
    "interactive_buttons": msg("interactive", BUTTONS),
    "interactive_list": msg("interactive", LIST),
    "reaction": msg("reaction", {"message_id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA",
                                 "emoji": "👍"}),
    "location": msg("location", {"latitude": 51.5, "longitude": -0.12, "name": "Office", "address": "London"}),
    "reply_context": dict(text("re"), context={"message_id": "wamid.abc"}, biz_opaque_callback_data="cb-1"),
    "no_recipient_type": {"messaging_product": "whatsapp", "to": "447700900123", "type": "text",
                          "text": {"body": "x" * 4096}},
}


# ---------------------------------------------------------------------------------------------------------
# Meta: accepted bodies


@pytest.mark.parametrize("name", sorted(VALID_BODIES))
def test_meta_accepts_every_type(http, meta, name):
    body = VALID_BODIES[name]
    r = wa_send(http, meta, body)
    assert r.status_code == 200, r.text
    answer = r.json()
    wamid = answer["messages"][0]["id"]
    assert set(answer) == {"messaging_product", "contacts", "messages"}
    assert answer["messaging_product"] == "whatsapp"
    assert answer["contacts"] == [{"input": body["to"], "wa_id": body["to"].lstrip("+")}]
    assert WAMID.match(wamid), wamid
    [rec] = meta.requests
    assert rec["body"] == body and rec["wamid"] == wamid and rec["phone_number_id"] == NUMBER_ID
    assert rec["to"] == body["to"] and rec["type"] == body["type"] and rec["version"] == "v21.0"
    assert rec["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert abs(rec["received_at"] - time.time()) < 5
    assert meta.rejected == []


def test_meta_wamids_unique_under_concurrency(http, meta):
    def one(i):
        return wa_send(requests, meta, text(f"n{i}", to=f"+4477009{i:05d}"))

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(one, range(60)))
    assert all(r.status_code == 200 for r in answers)
    ids = {r.json()["messages"][0]["id"] for r in answers}
    assert len(ids) == 60 and {r["wamid"] for r in meta.requests} == ids
    assert meta.wait_for(60, timeout=1) and meta.count_for(to="447700900007") == 1


# ---------------------------------------------------------------------------------------------------------
# Meta: refused bodies


def _mut(base: dict, fn) -> dict:
    body = copy.deepcopy(base)
    fn(body)
    return body


def _set(path, value):
    def fn(body):
        *head, last = path
        obj = body
        for k in head:
            obj = obj[k]
        obj[last] = value
    return fn


def _del(path):
    def fn(body):
        *head, last = path
        obj = body
        for k in head:
            obj = obj[k]
        del obj[last]
    return fn


B = VALID_BODIES
INVALID = [
    ("no_product", _mut(B["text"], _del(["messaging_product"])), "messaging_product"),
    ("product_sms", _mut(B["text"], _set(["messaging_product"], "sms")), "messaging_product"),
    ("recipient_group", _mut(B["text"], _set(["recipient_type"], "group")), "recipient_type"),
    ("to_letters", _mut(B["text"], _set(["to"], "call-me")), "to"),
    ("to_number", _mut(B["text"], _set(["to"], 447700900123)), "to"),
    ("no_type", _mut(B["text"], _del(["type"])), "type"),
    ("type_unknown", _mut(B["text"], _set(["type"], "contacts")), "type"),
    ("extra_top", _mut(B["text"], _set(["priority"], "high")), "priority"),
    ("second_object", _mut(B["text"], _set(["image"], {"id": "1"})), "image"),
    ("type_object_missing", _mut(B["text"], _set(["type"], "image")), "image"),
    ("text_no_body", _mut(B["text"], _set(["text"], {})), "text.body"),
    ("text_body_int", _mut(B["text"], _set(["text", "body"], 5)), "text.body"),
    ("text_body_empty", _mut(B["text"], _set(["text", "body"], "  ")), "text.body"),
    ("text_too_long", _mut(B["text"], _set(["text", "body"], "x" * 4097)), "text.body"),
    ("preview_not_bool", _mut(B["text_preview"], _set(["text", "preview_url"], "true")), "text.preview_url"),
    ("text_extra", _mut(B["text"], _set(["text", "caption"], "x")), "text.caption"),
    ("image_id_and_link", _mut(B["image_id"], _set(["image", "link"], "https://e.com/a.png")), "image.id"),
    ("image_neither", _mut(B["image_id"], _del(["image", "id"])), "image.id"),
    ("image_bad_link", _mut(B["image_link_caption"], _set(["image", "link"], "ftp://x/a.png")), "image.link"),
    ("image_filename", _mut(B["image_id"], _set(["image", "filename"], "a.png")), "image.filename"),
    ("audio_caption", _mut(B["audio"], _set(["audio", "caption"], "x")), "audio.caption"),
    ("sticker_caption", _mut(B["sticker"], _set(["sticker", "caption"], "x")), "sticker.caption"),
    ("caption_too_long", _mut(B["video"], _set(["video", "caption"], "c" * 1025)), "video.caption"),
    ("template_no_language", _mut(B["template"], _del(["template", "language"])), "template.language"),
    ("template_bad_language", _mut(B["template"], _set(["template", "language", "code"], "English")),
     "template.language.code"),
    ("template_no_name", _mut(B["template"], _del(["template", "name"])), "template.name"),
    ("template_footer", _mut(B["template"], _set(["template", "components", 0, "type"], "footer")),
     "template.components[0].type"),
    ("template_header_two_params", _mut(B["template"], _set(["template", "components", 0, "parameters"],
                                                            [{"type": "text", "text": "a"}] * 2)),
     "template.components[0].parameters"),
    ("template_param_type", _mut(B["template"], _set(["template", "components", 1, "parameters", 0, "type"],
                                                     "emoji")), "template.components[1].parameters[0].type"),
    ("template_body_image", _mut(B["template"], _set(["template", "components", 1, "parameters", 0],
                                                     {"type": "image", "image": {"id": "1"}})),
     "template.components[1].parameters[0].type"),
    ("template_text_missing", _mut(B["template"], _del(["template", "components", 1, "parameters", 0, "text"])),
     "template.components[1].parameters[0].text"),
    ("template_amount_str", _mut(B["template"], _set(["template", "components", 1, "parameters", 1, "currency",
                                                      "amount_1000"], "10990")),
     "template.components[1].parameters[1].currency.amount_1000"),
    ("template_date_extra", _mut(B["template"], _set(["template", "components", 1, "parameters", 2, "date_time",
                                                      "timestamp"], 1)),
     "template.components[1].parameters[2].date_time.timestamp"),
    ("template_button_no_sub_type", _mut(B["template"], _del(["template", "components", 2, "sub_type"])),
     "template.components[2].sub_type"),
    ("template_button_index", _mut(B["template"], _set(["template", "components", 2, "index"], 10)),
     "template.components[2].index"),
    ("template_url_payload", _mut(B["template"], _set(["template", "components", 3, "parameters", 0],
                                                      {"type": "payload", "payload": "x"})),
     "template.components[3].parameters[0].type"),
    ("interactive_no_body", _mut(B["interactive_buttons"], _del(["interactive", "body"])), "interactive.body"),
    ("interactive_type", _mut(B["interactive_buttons"], _set(["interactive", "type"], "carousel")),
     "interactive.type"),
    ("four_buttons", _mut(B["interactive_buttons"], lambda b: b["interactive"]["action"]["buttons"].append(
        {"type": "reply", "reply": {"id": "four", "title": "Four"}})), "interactive.action.buttons"),
    ("no_buttons", _mut(B["interactive_buttons"], _set(["interactive", "action", "buttons"], [])),
     "interactive.action.buttons"),
    ("button_title_21", _mut(B["interactive_buttons"], _set(["interactive", "action", "buttons", 0, "reply",
                                                             "title"], "x" * 21)),
     "interactive.action.buttons[0].reply.title"),
    ("button_type_url", _mut(B["interactive_buttons"], _set(["interactive", "action", "buttons", 1, "type"], "url")),
     "interactive.action.buttons[1].type"),
    ("button_dup_id", _mut(B["interactive_buttons"], _set(["interactive", "action", "buttons", 1, "reply", "id"],
                                                          "yes")), "interactive.action.buttons[1].reply.id"),
    ("footer_too_long", _mut(B["interactive_buttons"], _set(["interactive", "footer", "text"], "f" * 61)),
     "interactive.footer.text"),
    ("list_button_21", _mut(B["interactive_list"], _set(["interactive", "action", "button"], "b" * 21)),
     "interactive.action.button"),
    ("list_row_title_25", _mut(B["interactive_list"], _set(["interactive", "action", "sections", 0, "rows", 2,
                                                            "title"], "t" * 25)),
     "interactive.action.sections[0].rows[2].title"),
    ("list_row_description_73", _mut(B["interactive_list"], _set(["interactive", "action", "sections", 0, "rows",
                                                                  0, "description"], "d" * 73)),
     "interactive.action.sections[0].rows[0].description"),
    ("list_11_rows", _mut(B["interactive_list"], lambda b: b["interactive"]["action"]["sections"][1]["rows"].append(
        {"id": "extra", "title": "Extra"})), "interactive.action.sections[1].rows[5]"),
    ("list_section_untitled", _mut(B["interactive_list"], _del(["interactive", "action", "sections", 0, "title"])),
     "interactive.action.sections[0].title"),
    ("list_section_title_25", _mut(B["interactive_list"], _set(["interactive", "action", "sections", 1, "title"],
                                                                "s" * 25)), "interactive.action.sections[1].title"),
    ("list_dup_row_id", _mut(B["interactive_list"], _set(["interactive", "action", "sections", 1, "rows", 0, "id"],
                                                         "m0")), "interactive.action.sections[1].rows[0].id"),
    ("list_buttons_action", _mut(B["interactive_list"], _set(["interactive", "action", "buttons"], [])),
     "interactive.action.buttons"),
    ("list_image_header", _mut(B["interactive_list"], _set(["interactive", "header"],
                                                           {"type": "image", "image": {"id": "1"}})),
     "interactive.header.type"),
    ("location_lat_str", _mut(B["location"], _set(["location", "latitude"], "51.5")), "location.latitude"),
    ("location_lat_range", _mut(B["location"], _set(["location", "latitude"], 91)), "location.latitude"),
    ("reaction_no_emoji", _mut(B["reaction"], _del(["reaction", "emoji"])), "reaction.emoji"),
    ("context_extra", _mut(B["reply_context"], _set(["context", "from"], "x")), "context.from"),
]


@pytest.mark.parametrize("name,body,field", INVALID, ids=[c[0] for c in INVALID])
def test_meta_refuses_malformed_body(http, meta, name, body, field):
    r = wa_send(http, meta, body)
    err = assert_meta_error(r, 400, 100, field)
    assert err["message"] == "(#100) Invalid parameter"
    assert meta.requests == []
    [rej] = meta.rejected
    assert rej["field"] == field and rej["body"] == body and rej["status"] == 400


def test_meta_refuses_non_json(http, meta):
    url = f"{meta.base_url}/v21.0/{NUMBER_ID}/messages"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    r = http.post(url, data=b"{not json", headers=dict(auth, **{"Content-Type": "application/json"}), timeout=5)
    assert_meta_error(r, 400, 100)
    r = http.post(url, data={"to": "1"}, headers=auth, timeout=5)  # form-encoded
    assert_meta_error(r, 400, 100)
    assert meta.requests == []


# ---------------------------------------------------------------------------------------------------------
# Meta: auth and routing


@pytest.mark.parametrize("token", [None, "wrong", OTHER_TOKEN])
def test_meta_wrong_token_is_401_190(http, meta, token):
    r = wa_send(http, meta, text(), token=token)
    err = assert_meta_error(r, 401, 190)
    assert err["message"].startswith("Invalid OAuth access token") and "error_data" not in err
    assert "invalid_token" in r.headers["WWW-Authenticate"]
    assert meta.requests == []


def test_meta_routing(http, meta):
    r = wa_send(http, meta, text(), number_id="999999999")  # valid token, number not registered
    err = assert_meta_error(r, 400, 100)
    assert err["error_subcode"] == 33 and "999999999" in err["message"]
    for bad in ("v21", "21.0", "latest"):
        assert_meta_error(wa_send(http, meta, text(), version=bad), 400, 2500)
    r = http.get(f"{meta.base_url}/v21.0/{NUMBER_ID}/messages", headers={"Authorization": f"Bearer {TOKEN}"},
                 timeout=5)
    assert r.json()["error"]["code"] == 100 and r.status_code == 400
    assert r.json()["error"]["message"] == "Unsupported get request."
    assert wa_send(http, meta, text(), version="v19.0").status_code == 200
    assert wa_send(http, meta, text(), number_id=OTHER_NUMBER_ID, token=OTHER_TOKEN).status_code == 200
    assert [r["phone_number_id"] for r in meta.requests] == [NUMBER_ID, OTHER_NUMBER_ID]


# ---------------------------------------------------------------------------------------------------------
# Meta: knobs


@pytest.mark.parametrize("code,status", [(131000, 500), (131016, 503), (2, 503), (130429, 429), (131056, 429),
                                         (131047, 400), (190, 401)])
def test_meta_fail_next(http, meta, code, status):
    meta.fail_next(2, code=code)
    for _ in range(2):
        assert_meta_error(wa_send(http, meta, text()), status, code)
    assert wa_send(http, meta, text()).status_code == 200
    assert len(meta.requests) == 1 and len(meta.rejected) == 2


def test_meta_fail_next_custom_status(http, meta):
    meta.fail_next(1, code=131000, http_status=502)
    assert_meta_error(wa_send(http, meta, text()), 502, 131000)
    assert wa_send(http, meta, text()).status_code == 200


FAIL_FOR = [
    (131026, 400, "Message undeliverable"),
    (131047, 400, "Re-engagement message"),
    (132000, 400, "Number of parameters does not match the expected number of params"),
    (132001, 400, "Template name does not exist in the translation"),
    (190, 401, "Invalid OAuth access token"),
    (130429, 429, "Rate limit hit"),
    (131056, 429, "(Business Account, Consumer Account) pair rate limit hit"),
    (100, 400, "Invalid parameter"),
]


@pytest.mark.parametrize("code,status,title", FAIL_FOR)
def test_meta_fail_for(http, meta, code, status, title):
    meta.fail_for("+447700900555", code)
    for to in ("+447700900555", "447700900555"):
        err = assert_meta_error(wa_send(http, meta, text(to=to)), status, code)
        assert title in err["message"]
    assert wa_send(http, meta, text(to="+447700900556")).status_code == 200
    meta.clear_fail_for("447700900555")
    assert wa_send(http, meta, text(to="+447700900555")).status_code == 200
    assert meta.count_for(to="+447700900555") == 1


def test_meta_fail_for_still_validates_first(http, meta):
    meta.fail_for("+447700900555", 131047)
    body = _mut(text(to="+447700900555"), _del(["text", "body"]))
    assert_meta_error(wa_send(http, meta, body), 400, 100, "text.body")


@pytest.mark.parametrize("code,_status,title", FAIL_FOR)
def test_error_body_helper(code, _status, title):
    body = error_body(code)
    assert set(body) == {"error"}
    err = body["error"]
    assert err["code"] == code and err["type"] == "OAuthException" and title in err["message"]
    if code == 190:
        assert "error_data" not in err
    else:
        assert err["message"] == f"(#{code}) {title}"
        assert err["error_data"]["messaging_product"] == "whatsapp" and err["error_data"]["details"]
    custom = error_body(131026, "custom details", error_subcode=2494010)["error"]
    assert custom["error_data"]["details"] == "custom details" and custom["error_subcode"] == 2494010


def test_meta_rate_limit(http, meta):
    meta.rate_limit(10, window=0.4)  # 4 per 0.4 s sliding window, per phone number id
    answers = [wa_send(http, meta, text(f"m{i}")).status_code for i in range(7)]
    assert answers == [200] * 4 + [429] * 3
    assert_meta_error(wa_send(http, meta, text()), 429, 130429)
    assert wa_send(http, meta, text(), number_id=OTHER_NUMBER_ID, token=OTHER_TOKEN).status_code == 200
    time.sleep(0.45)
    assert wa_send(http, meta, text()).status_code == 200
    meta.rate_limit(None)
    assert all(wa_send(http, meta, text()).status_code == 200 for _ in range(6))


def test_meta_delay(http, meta):
    meta.delay(0.3)
    t0 = time.monotonic()
    assert wa_send(http, meta, text("slow")).status_code == 200
    assert time.monotonic() - t0 >= 0.29
    with pytest.raises(requests.exceptions.ReadTimeout):
        wa_send(requests, meta, text("timed out"), timeout=0.1)
    assert meta.count_for(body_text="timed out") == 1  # accepted, answer was just late
    meta.delay(0)
    t0 = time.monotonic()
    assert wa_send(http, meta, text()).status_code == 200
    assert time.monotonic() - t0 < 0.25


def test_meta_duplicate_counting(http, meta):
    a, b = "+447700900001", "+447700900002"
    for to, body in ((a, "hi"), (a, "hi"), (a, "bye"), (b, "hi"), ("447700900001", "hi")):
        assert wa_send(http, meta, text(body, to=to)).status_code == 200
    assert wa_send(http, meta, msg("image", {"id": "1", "caption": "hi"}, to=b)).status_code == 200
    assert meta.count_for(to=a) == 4 and meta.count_for(to=a, body_text="hi") == 3
    assert meta.count_for(body_text="hi") == 5 and meta.count_for() == 6
    keys = meta.sent_by_key()
    assert len(keys) == 4 and sorted(keys.values()) == [1, 1, 1, 3]
    [(key, n)] = meta.duplicates().items()
    assert key[0] == "447700900001" and n == 3 and json.loads(key[1]) == {"type": "text",
                                                                         "content": {"body": "hi"}}
    assert len(meta.messages_to(a)) == 4


def test_meta_template_registry(http, meta):
    meta.add_template("order_update", "en_US", body_params=3, header_params=1)
    assert wa_send(http, meta, B["template"]).status_code == 200
    err = assert_meta_error(wa_send(http, meta, B["template_bare"]), 400, 132001)
    assert "hello_world" in err["error_data"]["details"]
    fewer = _mut(B["template"], lambda b: b["template"]["components"][1]["parameters"].pop())
    err = assert_meta_error(wa_send(http, meta, fewer), 400, 132000)
    assert "(2)" in err["error_data"]["details"] and "(3)" in err["error_data"]["details"]


def test_meta_raw_capacity(meta):
    meta.raw_capacity()
    loose = {"messaging_product": "whatsapp", "to": "447700900001", "type": "text", "text": {"body": "x" * 5000},
             "anything": [1, 2]}

    def one(_):
        return wa_send(requests, meta, loose).status_code

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(one, range(200)))
    assert codes == [200] * 200 and len(meta.requests) == 200
    assert time.monotonic() - t0 < 5
    assert meta.requests[0]["headers"] is None
    assert_meta_error(wa_send(requests, meta, loose, token="wrong"), 401, 190)  # auth still applies


# ---------------------------------------------------------------------------------------------------------
# Twilio


def tw_create(http, twilio, data, sid=ACCOUNT_SID, auth=(ACCOUNT_SID, AUTH_TOKEN), **kw):
    kw.setdefault("timeout", TIMEOUT)
    return http.post(f"{twilio.base_url}/2010-04-01/Accounts/{sid}/Messages.json", data=data, auth=auth, **kw)


def sms(to="+14155552345", body="Hello! 👍", **extra):
    return dict({"To": to, "From": "+14155550000", "Body": body}, **extra)


def assert_twilio_error(resp, status: int, code: int) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert body["code"] == code and body["status"] == status, body
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    assert isinstance(body["message"], str) and body["message"]
    assert set(body) <= {"code", "message", "more_info", "status", "detail"}
    return body


def test_twilio_create_201_shape(http, twilio):
    r = tw_create(http, twilio, sms(StatusCallback="https://sb.example/webhooks/twilio/1"))
    assert r.status_code == 201, r.text
    body = r.json()
    fixture = TWILIO_FIXTURE["create_response_201"]
    assert set(body) == set(fixture)
    assert re.fullmatch(r"SM[0-9a-f]{32}", body["sid"])
    assert body["status"] == "queued" and body["direction"] == "outbound-api"
    assert body["account_sid"] == ACCOUNT_SID and body["api_version"] == "2010-04-01"
    assert (body["to"], body["from"], body["body"]) == ("+14155552345", "+14155550000", "Hello! 👍")
    assert body["messaging_service_sid"] is None and body["num_media"] == "0" and body["num_segments"] == "1"
    assert body["error_code"] is None and body["error_message"] is None and body["date_sent"] is None
    assert re.fullmatch(r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000", body["date_created"])
    assert body["uri"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{body['sid']}.json"
    assert body["subresource_uris"]["media"] == body["uri"][:-5] + "/Media.json"
    for key in ("num_media", "num_segments"):
        assert type(body[key]) is type(fixture[key])
    [rec] = twilio.requests
    assert rec["sid"] == body["sid"] and rec["account_sid"] == ACCOUNT_SID and rec["response"] == body
    assert rec["status_callback"] == "https://sb.example/webhooks/twilio/1"
    assert rec["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert rec["params"]["Body"] == "Hello! 👍" and rec["media_urls"] == []


def test_twilio_messaging_service_and_whatsapp(http, twilio):
    r = tw_create(http, twilio, {"To": "+14155552345", "MessagingServiceSid": MG_SID, "Body": "x" * 161})
    body = r.json()
    assert r.status_code == 201 and body["from"] is None and body["messaging_service_sid"] == MG_SID
    assert body["status"] == "accepted" and body["num_segments"] == "2"
    r = tw_create(http, twilio, sms("whatsapp:+14155552345", From="whatsapp:+14155550000"))
    assert r.status_code == 201 and r.json()["to"] == "whatsapp:+14155552345"


def test_twilio_media_url_repeated(http, twilio):
    urls = ["https://example.com/a.jpg", "https://example.com/b.png"]
    r = tw_create(http, twilio, [("To", "+14155552345"), ("From", "+14155550000"), ("MediaUrl", urls[0]),
                                 ("MediaUrl", urls[1])])
    assert r.status_code == 201, r.text
    assert r.json()["num_media"] == "2" and r.json()["body"] == ""
    [rec] = twilio.requests
    assert rec["media_urls"] == urls and rec["params"]["MediaUrl"] == urls and rec["body"] is None
    assert [k for k, _ in rec["form"]] == ["To", "From", "MediaUrl", "MediaUrl"]


@pytest.mark.parametrize("case", ["wrong_token", "unknown_account", "no_auth", "other_account_path"])
def test_twilio_auth_failure(http, twilio, case):
    kw = {
        "wrong_token": {"auth": (ACCOUNT_SID, "nope")},
        "unknown_account": {"auth": ("AC" + "9" * 32, AUTH_TOKEN), "sid": "AC" + "9" * 32},
        "no_auth": {"auth": None},
        "other_account_path": {"sid": "AC" + "1" * 32},
    }[case]
    r = tw_create(http, twilio, sms(), **kw)
    body = assert_twilio_error(r, 401, 20003)
    assert body["message"] == "Authenticate" and "Basic" in r.headers["WWW-Authenticate"]
    assert twilio.requests == []


@pytest.mark.parametrize("to", ["5551234567", "whatsapp:5551234567", "+0123456789", "sms:+1", ""])
def test_twilio_invalid_to_21211(http, twilio, to):
    r = tw_create(http, twilio, sms(to))
    if to == "":
        assert_twilio_error(r, 400, 21604)
        return
    body = assert_twilio_error(r, 400, 21211)
    assert body["message"] == f"The 'To' number {to} is not a valid phone number."
    if to == "5551234567":
        assert body == TWILIO_FIXTURE["error_21211_example"]


@pytest.mark.parametrize("data,code", [
    ({"To": "+14155552345", "Body": "x"}, 21603),
    ({"To": "+14155552345", "From": "+14155550000"}, 21602),
    ({"To": "+14155552345", "From": "+14155550000", "Body": ""}, 21602),
    ({"To": "+14155552345", "From": "not a number!", "Body": "x"}, 21212),
    ({"To": "+14155552345", "MessagingServiceSid": "MG123", "Body": "x"}, 21701),
    ({"To": "whatsapp:+14155552345", "From": "+14155550000", "Body": "x"}, 21910),
    ({"To": "+14155552345", "From": "+14155550000", "Body": "x" * 1601}, 21617),
    ({"To": "+14155552345", "From": "+14155550000", "MediaUrl": "not-a-url"}, 21620),
    ({"To": "+14155552345", "From": "+14155550000", "Body": "x", "StatusCallback": "nope"}, 21609),
    ({"To": "+14155552345", "From": "+14155550000", "Body": "x", "mediaUrl": "https://e.com/a"}, 20001),
])
def test_twilio_param_errors(http, twilio, data, code):
    assert_twilio_error(tw_create(http, twilio, data), 400, code)
    assert twilio.requests == [] and twilio.rejected[-1]["error"]["code"] == code


def test_twilio_fail_for_21610(http, twilio):
    twilio.fail_for("+14155559999", 21610)
    body = assert_twilio_error(tw_create(http, twilio, sms("+14155559999")), 400, 21610)
    assert body == TWILIO_FIXTURE["error_21610_example"]
    assert_twilio_error(tw_create(http, twilio, sms("whatsapp:+14155559999", From="whatsapp:+14155550000")),
                        400, 21610)
    assert tw_create(http, twilio, sms("+14155559998")).status_code == 201
    twilio.clear_fail_for()
    assert tw_create(http, twilio, sms("+14155559999")).status_code == 201


@pytest.mark.parametrize("code,status", [(20500, 500), (20503, 503), (20429, 429), (21408, 400)])
def test_twilio_fail_next(http, twilio, code, status):
    twilio.fail_next(2, code=code)
    assert_twilio_error(tw_create(http, twilio, sms()), status, code)
    assert_twilio_error(tw_create(http, twilio, sms()), status, code)
    assert tw_create(http, twilio, sms()).status_code == 201
    assert len(twilio.requests) == 1


def test_twilio_rate_limit(http, twilio):
    twilio.rate_limit(10, window=0.3)  # 3 per 0.3 s window
    codes = [tw_create(http, twilio, sms(body=f"m{i}")).status_code for i in range(5)]
    assert codes == [201] * 3 + [429] * 2
    body = assert_twilio_error(tw_create(http, twilio, sms()), 429, 20429)
    assert body["message"] == "Too Many Requests"
    time.sleep(0.35)
    assert tw_create(http, twilio, sms()).status_code == 201


def test_twilio_delay_and_duplicates(http, twilio):
    twilio.delay(0.25)
    t0 = time.monotonic()
    assert tw_create(http, twilio, sms(body="a")).status_code == 201
    assert time.monotonic() - t0 >= 0.24
    twilio.delay(0)
    assert tw_create(http, twilio, sms(body="a")).status_code == 201
    assert tw_create(http, twilio, sms(body="b")).status_code == 201
    assert twilio.count_for(to="+14155552345") == 3 and twilio.count_for(body_text="a") == 2
    assert twilio.duplicates() == {("+14155552345", "a", ()): 2}
    assert twilio.wait_for(3, timeout=1)
