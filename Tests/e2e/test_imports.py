"""CSV import through the REST API: upload → preview → confirm → job counts, merging, per-row errors and the
error report. Each test imports into a fresh organisation."""

import csv
import io
import json

from conftest import (
    CODE_IMPORT_ALREADY_CONFIRMED,
    CODE_IMPORT_NOT_FOUND,
    PRODUCT_SAMPLE_CSV,
    assert_error,
    assert_json,
    assert_recent,
    assert_uuid7,
    mapping_dict,
    parse_time,
    preview_rows,
    rand_phone,
)

JOB_FIELDS = {
    "id", "status", "fileName", "sizeBytes", "totalRows", "processedRows", "created", "updated", "unchanged",
    "failed", "preview", "mapping", "createdAt", "startedAt", "finishedAt", "error",
}
GHOST = "01900000-0000-7000-8000-000000000000"


def counts(job):
    return {k: job[k] for k in ("totalRows", "processedRows", "created", "updated", "unchanged", "failed")}


def by_phone(org, phone):
    """Contacts whose phone is exactly `phone` (searching by its digits)."""
    return [c for c in org.list_all("/contacts", {"q": phone.lstrip("+")}) if c["phone"] == phone]


def error_report(org, job_id):
    r = org.get(f"/contacts/imports/{job_id}/errors")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/csv"), r.headers
    rows = [row for row in csv.reader(io.StringIO(r.content.decode("utf-8-sig"))) if row]
    assert rows[0] == ["row", "column", "value", "reason", "message"], rows[0]
    return rows[1:]


def error_json(org, job_id):
    body = assert_json(org.get(f"/contacts/imports/{job_id}/errors", params={"format": "json"}), 200)
    assert isinstance(body.get("data"), list), body
    return body["data"]


def test_sample_csv_download_imports_cleanly(org):
    r = org.get("/contacts/imports/sample")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/csv"), r.headers
    rows = [row for row in csv.reader(io.StringIO(r.content.decode("utf-8-sig"))) if row]
    assert rows[0] == ["phone", "name", "email", "tags", "optedIn"]
    assert len(rows) >= 2
    job = org.import_csv(r.content, file_name="sample.csv")
    assert job["status"] == "completed", job
    assert job["failed"] == 0 and job["created"] == len(rows) - 1, job


def test_product_sample_csv(org):
    up = org.upload_csv(PRODUCT_SAMPLE_CSV, "contacts.csv")
    job = assert_json(up, 201)
    assert set(job) == JOB_FIELDS, sorted(job)
    assert_uuid7(job["id"])
    assert job["status"] == "uploaded"
    assert job["fileName"] == "contacts.csv"
    assert job["sizeBytes"] == len(PRODUCT_SAMPLE_CSV)
    assert_recent(job["createdAt"])
    assert job["startedAt"] is None and job["finishedAt"] is None
    preview = job["preview"]
    assert preview["headers"] == ["phone", "name", "email", "tags", "optedIn"]
    assert preview_rows(preview) == [
        ["+919876543210", "John Doe", "john@example.com", "vip,retail", "true"],
        ["+12125551234", "Jane Smith", "", "lead", "false"],
    ]
    assert mapping_dict(preview["suggestedMapping"]) == {
        "phone": "phone", "name": "name", "email": "email", "tags": "tags", "optedIn": "optedIn",
    }
    assert [c["id"] for c in org.list_all("/contacts")] == []  # nothing happens before confirm

    confirmed = assert_json(org.post(f"/contacts/imports/{job['id']}/confirm", json={}), 202)
    assert confirmed["id"] == job["id"] and confirmed["status"] == "queued"
    done = org.wait_import(job["id"])
    assert done["status"] == "completed", done
    assert counts(done) == {"totalRows": 2, "processedRows": 2, "created": 2, "updated": 0, "unchanged": 0,
                            "failed": 0}
    assert done["error"] is None
    assert parse_time(done["startedAt"]) <= parse_time(done["finishedAt"])
    assert parse_time(done["createdAt"]) <= parse_time(done["startedAt"])
    assert mapping_dict(done["mapping"]) == mapping_dict(preview["suggestedMapping"])

    [john] = by_phone(org, "+919876543210")
    assert john["name"] == "John Doe" and john["email"] == "john@example.com"
    assert john["tags"] == ["retail", "vip"]
    assert john["optedIn"] is True
    assert john["optInSource"] == "csv_import"
    assert john["optInProof"]["importJobId"] == job["id"]
    assert_recent(john["optInProof"]["timestamp"])
    [jane] = by_phone(org, "+12125551234")
    assert jane["name"] == "Jane Smith" and jane["email"] is None
    assert jane["tags"] == ["lead"] and jane["optedIn"] is False

    ledger = assert_json(org.get(f"/contacts/{john['id']}/consent"), 200)["data"]
    assert [(e["optedIn"], e["source"], e["proof"]["importJobId"]) for e in ledger] == [(True, "csv_import", job["id"])]
    actions = [e["action"] for e in org.list_all(f"/contacts/{john['id']}/audit")]
    assert "imported" in actions, actions

    assert error_report(org, job["id"]) == []
    assert error_json(org, job["id"]) == []
    jobs = assert_json(org.get("/contacts/imports"), 200)
    assert [j["id"] for j in jobs["data"]] == [job["id"]] and jobs["nextCursor"] is None


def test_bom_and_crlf(org):
    p1, p2 = rand_phone(), rand_phone()
    data = f"\ufeffphone,name,email\r\n{p1},Bom One,one@example.com\r\n{p2},Bom Two,\r\n".encode()
    job = assert_json(org.upload_csv(data, "excel.csv"), 201)
    assert job["preview"]["headers"] == ["phone", "name", "email"]  # no BOM in the first header
    assert preview_rows(job["preview"]) == [[p1, "Bom One", "one@example.com"], [p2, "Bom Two", ""]]
    assert mapping_dict(job["preview"]["suggestedMapping"])["phone"] == "phone"
    assert_json(org.post(f"/contacts/imports/{job['id']}/confirm", json={}), 202)
    done = org.wait_import(job["id"])
    assert (done["status"], done["created"], done["failed"]) == ("completed", 2, 0), done
    [one], [two] = by_phone(org, p1), by_phone(org, p2)
    assert one["name"] == "Bom One" and one["email"] == "one@example.com"
    assert two["name"] == "Bom Two" and two["email"] is None


def test_quoted_fields_with_commas_quotes_and_newlines(org):
    p1, p2 = rand_phone(), rand_phone()
    data = (f'phone,name,tags\n{p1},"Doe, John","vip,\nretail"\n{p2},"The ""Boss""",lead\n').encode()
    job = assert_json(org.upload_csv(data), 201)
    assert preview_rows(job["preview"]) == [[p1, "Doe, John", "vip,\nretail"], [p2, 'The "Boss"', "lead"]]
    assert_json(org.post(f"/contacts/imports/{job['id']}/confirm", json={}), 202)
    done = org.wait_import(job["id"])
    assert counts(done) == {"totalRows": 2, "processedRows": 2, "created": 2, "updated": 0, "unchanged": 0,
                            "failed": 0}
    [john], [boss] = by_phone(org, p1), by_phone(org, p2)
    assert john["name"] == "Doe, John" and john["tags"] == ["retail", "vip"]
    assert boss["name"] == 'The "Boss"' and boss["tags"] == ["lead"]


def test_duplicates_in_file_and_database_are_merged(org):
    existing, fresh = rand_phone(), rand_phone()
    old = org.create_contact(phone=existing, name="Old Name")
    other_spelling = "0044 " + fresh[3:6] + "-" + fresh[6:]  # the same number written differently
    data = f"phone,name\n{existing},New Name\n{fresh},First\n{other_spelling},Second\n".encode()
    done = org.import_csv(data)
    assert done["status"] == "completed", done
    assert done["totalRows"] == 3 and done["created"] == 1 and done["failed"] == 0, done
    assert done["updated"] >= 1
    assert done["created"] + done["updated"] + done["unchanged"] + done["failed"] == 3, done

    [merged_old] = by_phone(org, existing)
    assert merged_old["id"] == old["id"] and merged_old["name"] == "New Name"
    [merged_new] = by_phone(org, fresh)
    assert merged_new["name"] == "Second"  # rows apply top to bottom
    assert len(org.list_all("/contacts")) == 2


def test_malformed_rows_fail_alone(org):
    good1, good3, good6, bad4, bad5 = (rand_phone() for _ in range(5))
    data = (
        "phone,name,email,optedIn\n"
        f"{good1},Good One,g1@example.com,true\n"
        "not-a-phone,Bad Phone,,true\n"
        f"{good3},Good Three,,no\n"
        f"{bad4},Bad Email,nope@,yes\n"
        f"{bad5},Bad Optin,,maybe\n"
        f"{good6},Good Six,,1\n"
    ).encode()
    done = org.import_csv(data)
    assert done["status"] == "completed", done
    assert counts(done) == {"totalRows": 6, "processedRows": 6, "created": 3, "updated": 0, "unchanged": 0,
                            "failed": 3}

    rows = error_report(org, done["id"])
    assert [(int(r[0]), r[1], r[2]) for r in rows] == [
        (2, "phone", "not-a-phone"), (4, "email", "nope@"), (5, "optedIn", "maybe"),
    ]
    assert rows[0][3] == "invalid_phone" and rows[1][3] == "invalid_email"
    assert rows[2][3] and all(r[4] for r in rows), rows  # a reason code and a human message on every row
    as_json = error_json(org, done["id"])
    assert [(e["row"], e["column"], e["reason"]) for e in as_json] == [
        (2, "phone", "invalid_phone"), (4, "email", "invalid_email"), (5, "optedIn", rows[2][3]),
    ]

    assert sorted(c["name"] for c in org.list_all("/contacts")) == ["Good One", "Good Six", "Good Three"]
    assert org.list_all("/contacts", {"q": "Bad"}) == []
    assert by_phone(org, bad4) == [] and by_phone(org, bad5) == []
    assert by_phone(org, good1)[0]["optedIn"] is True
    assert by_phone(org, good3)[0]["optedIn"] is False
    six = by_phone(org, good6)[0]
    assert six["optedIn"] is True and six["optInSource"] == "csv_import"


def test_error_report_neutralises_formulas(org):
    ok = rand_phone()
    data = f"phone,name\n=1+2,Formula Eq\n+0123,Formula Plus\n-abc,Formula Minus\n@SUM(A1),Formula At\n{ok},Fine\n"
    done = org.import_csv(data.encode())
    assert (done["created"], done["failed"]) == (1, 4), done
    rows = error_report(org, done["id"])
    assert [(int(r[0]), r[1], r[2], r[3]) for r in rows] == [
        (1, "phone", "'=1+2", "invalid_phone"),
        (2, "phone", "'+0123", "invalid_phone"),
        (3, "phone", "'-abc", "invalid_phone"),
        (4, "phone", "'@SUM(A1)", "invalid_phone"),
    ]
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@")), f"unneutralised cell {cell!r} in {row}"


def test_custom_mapping_with_attribute_and_ignored_column(org):
    phone = rand_phone()
    data = f"Mobile,Full Name,City,Internal ID\n{phone},Mapped Person,Paris,XYZ-123\n".encode()
    job = assert_json(org.upload_csv(data), 201)
    assert job["preview"]["headers"] == ["Mobile", "Full Name", "City", "Internal ID"]
    mapping = {"Mobile": "phone", "Full Name": "name", "City": "attribute:city", "Internal ID": "ignore"}
    confirmed = assert_json(org.post(f"/contacts/imports/{job['id']}/confirm", json={"mapping": mapping}), 202)
    assert confirmed["status"] == "queued"
    done = org.wait_import(job["id"])
    assert (done["status"], done["created"], done["failed"]) == ("completed", 1, 0), done
    assert mapping_dict(done["mapping"]) == mapping
    [c] = by_phone(org, phone)
    assert c["name"] == "Mapped Person"
    assert c["attributes"] == {"city": "Paris"}
    assert "XYZ-123" not in json.dumps(c)


def test_invalid_mapping_is_rejected(org):
    job = assert_json(org.upload_csv(b"phone,name\n+14155550123,X\n"), 201)
    assert_error(org.post(f"/contacts/imports/{job['id']}/confirm", json={"mapping": {"phone": "shoe_size"}}), 400)
    assert assert_json(org.get(f"/contacts/imports/{job['id']}"), 200)["status"] == "uploaded"


def test_reimport_is_unchanged(org):
    first = org.import_csv(PRODUCT_SAMPLE_CSV)
    assert (first["created"], first["failed"]) == (2, 0), first
    again = org.import_csv(PRODUCT_SAMPLE_CSV)
    assert counts(again) == {"totalRows": 2, "processedRows": 2, "created": 0, "updated": 0, "unchanged": 2,
                             "failed": 0}
    assert len(org.list_all("/contacts")) == 2
    [john] = by_phone(org, "+919876543210")
    assert len(assert_json(org.get(f"/contacts/{john['id']}/consent"), 200)["data"]) == 1
    jobs = org.list_all("/contacts/imports")
    assert [j["id"] for j in jobs] == [again["id"], first["id"]]  # newest first


def test_confirm_twice_is_409(org):
    job = assert_json(org.upload_csv(PRODUCT_SAMPLE_CSV), 201)
    assert_json(org.post(f"/contacts/imports/{job['id']}/confirm", json={}), 202)
    assert_error(org.post(f"/contacts/imports/{job['id']}/confirm", json={}), 409, CODE_IMPORT_ALREADY_CONFIRMED)
    done = org.wait_import(job["id"])
    assert_error(org.post(f"/contacts/imports/{job['id']}/confirm", json={}), 409, CODE_IMPORT_ALREADY_CONFIRMED)
    assert done["created"] == 2
    assert len(org.list_all("/contacts")) == 2


def test_unknown_job_is_404(org):
    assert_error(org.get(f"/contacts/imports/{GHOST}"), 404, CODE_IMPORT_NOT_FOUND)
    assert_error(org.post(f"/contacts/imports/{GHOST}/confirm", json={}), 404, CODE_IMPORT_NOT_FOUND)
    assert_error(org.get(f"/contacts/imports/{GHOST}/errors"), 404, CODE_IMPORT_NOT_FOUND)
    assert_error(org.get("/contacts/imports/not-an-id"), 404, CODE_IMPORT_NOT_FOUND)


def test_large_file(org):
    rows, bad = 20_000, set(range(1999, 20_000, 2000))
    lines = ["phone,name,tags,optedIn"]
    for i in range(rows):
        phone = f"bad-{i}" if i in bad else f"+1646{i:07d}"
        lines.append(f"{phone},Bulk {i},\"bulk,b{i % 7}\",{'true' if i % 2 == 0 else 'false'}")
    data = ("\n".join(lines) + "\n").encode()
    job = assert_json(org.upload_csv(data, "large.csv"), 201)
    assert job["sizeBytes"] == len(data)
    assert len(preview_rows(job["preview"])) == 20
    assert_json(org.post(f"/contacts/imports/{job['id']}/confirm", json={}), 202)
    done = org.wait_import(job["id"], timeout=150)
    assert done["status"] == "completed", done
    assert counts(done) == {"totalRows": rows, "processedRows": rows, "created": rows - len(bad), "updated": 0,
                            "unchanged": 0, "failed": len(bad)}
    tags = {t["tag"]: t["count"] for t in assert_json(org.get("/tags"), 200)["data"]}
    assert tags["bulk"] == rows - len(bad)
    assert sum(tags[f"b{k}"] for k in range(7)) == rows - len(bad)
    assert [int(r[0]) for r in error_report(org, job["id"])] == sorted(i + 1 for i in bad)
    first = assert_json(org.get("/contacts", params={"tag": "bulk", "optedIn": "true", "limit": 200}), 200)
    assert len(first["data"]) == 200 and first["nextCursor"]
    [c] = by_phone(org, "+16460012344")
    assert c["name"] == "Bulk 12344" and c["tags"] == [f"b{12344 % 7}", "bulk"] and c["optedIn"] is True
