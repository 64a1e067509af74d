"""The organisation's time zone (issue 13 §4): `PATCH /org` changes `timeZone` (an IANA zone, else 400
`invalid_time_zone` and nothing changes), and quick replies' `{{date}}`/`{{time}}` use the new zone at once.

Pacific/Kiritimati (UTC+14) and Pacific/Pago_Pago (UTC-11) are 25 hours apart, so at any instant their local dates
differ: a render that ignored the change would show the same date twice."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from conftest import assert_error, assert_json

EAST, WEST = "Pacific/Kiritimati", "Pacific/Pago_Pago"


def org_zone(org) -> str:
    return assert_json(org.get("/org"), 200)["timeZone"]


def test_patch_org_sets_the_time_zone(org):
    assert org_zone(org) == "UTC"
    for zone in ("Asia/Kolkata", "America/New_York", "UTC"):
        body = assert_json(org.patch("/org", json={"timeZone": zone}), 200)
        assert body["timeZone"] == zone, body
        assert org_zone(org) == zone
    # sandboxEnabled and timeZone together
    body = assert_json(org.patch("/org", json={"timeZone": "Europe/Paris", "sandboxEnabled": False}), 200)
    assert (body["timeZone"], body["sandboxEnabled"]) == ("Europe/Paris", False), body


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "europe/paris", "GMT+5", "+05:30", "EST", 5, None,
                                  "Asia/Kolkata\n", "A" * 300])
def test_a_bad_time_zone_is_400_and_changes_nothing(org, zone):
    assert_json(org.patch("/org", json={"timeZone": "Asia/Kolkata", "sandboxEnabled": True}), 200)
    assert_error(org.patch("/org", json={"timeZone": zone, "sandboxEnabled": False}), 400, "invalid_time_zone",
                 field="timeZone")
    body = assert_json(org.get("/org"), 200)
    assert (body["timeZone"], body["sandboxEnabled"]) == ("Asia/Kolkata", True), body


def test_only_admin_keys_change_the_time_zone(org):
    agent_key = assert_json(org.post("/api-keys", json={"name": "desk", "role": "agent"}), 201)["key"]
    assert_error(org.patch("/org", key=agent_key, json={"timeZone": "Asia/Kolkata"}), 403)
    assert org_zone(org) == "UTC"


def rendered_date(org, reply_id: str) -> tuple[str, dt.datetime]:
    text = assert_json(org.post(f"/quick-replies/{reply_id}/render"), 200)["text"]
    match = re.fullmatch(r"(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2})", text)
    assert match, text
    return match.group(1), dt.datetime.strptime(text, "%Y-%m-%d %H:%M")


def test_quick_replies_use_a_changed_zone_at_once(org):
    reply = assert_json(org.post("/quick-replies", json={"shortcut": "/now", "content": "{{date}} {{time}}"}), 201)
    seen = {}
    for zone in (EAST, WEST, "Asia/Kolkata"):
        assert_json(org.patch("/org", json={"timeZone": zone}), 200)
        date, stamp = rendered_date(org, reply["id"])
        local_now = dt.datetime.now(ZoneInfo(zone)).replace(tzinfo=None, second=0, microsecond=0)
        assert abs((local_now - stamp).total_seconds()) <= 120, f"{zone}: rendered {stamp}, local now {local_now}"
        seen[zone] = date
    assert seen[EAST] != seen[WEST], seen
