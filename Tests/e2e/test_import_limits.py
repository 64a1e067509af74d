"""Import limits (issue 11): uploads that dawdle hold no contacts stream and are capped per key and per org
(429 too_many_uploads + Retry-After); oversized cells, headers and column counts are refused and keep nothing;
the list carries summaries; unconfirmed uploads expire; a job can be deleted."""

import os
import select
import shutil
import socket
import tempfile
import time
from pathlib import Path

import pytest
import requests

from conftest import API, CODE_IMPORT_NOT_FOUND, Cluster, assert_error, assert_json, find_bin_dir, rand_phone

PER_KEY, PER_ORG = 2, 4  # the documented defaults the main cluster runs with


def dawdle(cluster, key: str) -> socket.socket:
    """Starts an upload that announces 10 MB, sends a few bytes and then stalls (the socket stays open)."""
    sock = socket.create_connection(("127.0.0.1", cluster.ports["http"]), timeout=10)
    head = (
        f"POST {API}/contacts/imports?fileName=slow.csv HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: text/csv\r\nContent-Length: 10000000\r\n\r\n"
    )
    sock.sendall(head.encode() + b"phone,name\r\n+1")
    sock.setblocking(False)
    return sock


def answer(sock: socket.socket, got: dict) -> None:
    """Reads whatever the server sent on `sock` into got[sock] (bytes), without blocking."""
    try:
        data = sock.recv(65536)
    except (BlockingIOError, InterruptedError):
        return
    except OSError:
        data = b""
    got[sock] = got.get(sock, b"") + (data or b"\0closed")


def parse(raw: bytes) -> tuple[int, dict, bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def timed_get(org, path: str, timeout: float = 5.0) -> float:
    start = time.monotonic()
    r = org.get(path, timeout=timeout)
    elapsed = time.monotonic() - start
    assert r.status_code == 200, (path, r.status_code, r.text[:300])
    return elapsed


def agent_key(org) -> str:
    return assert_json(org.post("/api-keys", json={"name": "uploader", "role": "agent"}), 201)["key"]


def edge_upload_files(cluster) -> list[str]:
    """Spool files edge holds open (they are unlinked at creation, so only its open descriptors show them)."""
    def is_edge(pid: int) -> bool:
        try:
            return os.path.basename(os.readlink(f"/proc/{pid}/exe")) == "edge"
        except OSError:
            return False

    pids = [p for p in cluster.descendants() if is_edge(p)]
    assert len(pids) == 1, f"edge processes: {pids}"
    pid = pids[0]
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if "/uploads/" in target:
            found.append(target)
    return found


def test_dawdling_uploads_are_capped_and_other_orgs_stay_prompt(cluster):
    victim = cluster.create_org()
    victim.create_contact(name="Still here")
    one_org = cluster.create_org()  # ten agent keys, three uploads each: the org cap holds
    one_org_keys = [agent_key(one_org) for _ in range(10)]
    many = [cluster.create_org() for _ in range(50)]  # fifty orgs, three uploads on one key each: the key cap
    attempts = [k for k in one_org_keys for _ in range(3)] + [o.key for o in many for _ in range(3)]
    expected_refusals = (30 - PER_ORG) + 50 * (3 - PER_KEY)
    socks, got = [], {}
    try:
        for key in attempts:
            socks.append(dawdle(cluster, key))
        assert len(socks) - expected_refusals > 100  # more held uploads than edge has streams to contacts

        # Another org reads promptly while they hang, and refused uploads are answered at once.
        deadline = time.monotonic() + 90
        reads = 0
        while True:
            timed_get(victim, "/contacts")
            reads += 1
            ready = select.select(socks, [], [], 0.2)[0]
            for sock in ready:
                answer(sock, got)
            complete = [raw for raw in got.values() if b"\r\n\r\n" in raw]
            if len(complete) >= expected_refusals and reads >= 5:
                break
            assert time.monotonic() < deadline, f"{len(complete)} of {expected_refusals} refusals answered"
        assert cluster.health().status_code == 200
        assert len(got) == expected_refusals, f"{len(got)} uploads answered, {expected_refusals} expected"
        scopes = []
        for raw in got.values():
            status, headers, body = parse(raw)
            assert status == 429, raw[:500]
            assert int(headers["retry-after"]) > 0, headers
            assert b'"too_many_uploads"' in body, body
            scopes.append("org" if b'"scope":"org"' in body.replace(b" ", b"") else "key")
        assert "org" in scopes and "key" in scopes, scopes

        # A complete upload in an org with room goes through while the dawdlers hang.
        phone = rand_phone()
        job = assert_json(victim.upload_csv(f"phone,name\n{phone},Through\n".encode()), 201)
        assert job["totalRows"] == 1
        timed_get(victim, "/contacts")
        assert edge_upload_files(cluster), "the held uploads should be spooled at edge"
    finally:
        for sock in socks:
            sock.close()

    # Once the dawdlers are gone their slots and spool files are released.
    deadline = time.monotonic() + 60
    while True:
        r = one_org.upload_csv(b"phone\n+12125550100\n")
        if r.status_code == 201 and not edge_upload_files(cluster):
            break
        assert r.status_code in (201, 429), r.text
        assert time.monotonic() < deadline, f"slots not released: {r.status_code} {r.text[:200]}"
        time.sleep(0.5)
    for org in many[:3]:
        assert_json(org.upload_csv(b"phone\n+12125550101\n"), 201)
    r = one_org.post("/contacts/imports", data=b"phone\n+12125550102\n", headers={"Content-Type": "text/csv"},
                     key=one_org_keys[0])
    assert_json(r, 201)
    timed_get(victim, "/contacts")


def test_big_cells_are_refused_with_row_and_column_and_nothing_is_kept(org):
    big = "x" * (2 * 1024 * 1024)
    rows = [f"{rand_phone()},Name {i},{big if i >= 1 else 'short'}" for i in range(5)]
    r = org.upload_csv(("phone,name,notes\n" + "\n".join(rows) + "\n").encode())
    assert_error(r, 400, "cell_too_large", row="2", column="notes")
    assert big not in r.text
    listed = assert_json(org.get("/contacts/imports"), 200)
    assert listed["data"] == [], listed


def test_a_big_header_or_too_many_columns_is_refused(org):
    header = ",".join(f"column {i} " + "h" * 2000 for i in range(3000))  # about 6 MB
    assert_error(org.upload_csv(f"{header}\n+12125550100\n".encode()), 400, "header_too_large", field="file")
    wide = ",".join(f"c{i}" for i in range(501))
    assert_error(org.upload_csv(f"phone,{wide}\n+12125550100\n".encode()), 400, "too_many_columns")
    assert assert_json(org.get("/contacts/imports"), 200)["data"] == []


def test_preview_cells_are_cut_and_the_list_has_no_preview(org):
    cell = "y" * 32 * 1024  # the biggest cell allowed
    job = assert_json(org.upload_csv(f"phone,notes\n{rand_phone()},{cell}\n".encode()), 201)
    assert job["preview"]["rows"][0][1] == "y" * 200
    again = assert_json(org.get(f"/contacts/imports/{job['id']}"), 200)
    assert again["preview"]["rows"][0][1] == "y" * 200 and again["preview"]["headers"] == ["phone", "notes"]
    [summary] = assert_json(org.get("/contacts/imports"), 200)["data"]
    assert summary["id"] == job["id"] and summary["totalRows"] == 1
    assert "preview" not in summary and "mapping" not in summary, summary


def test_delete_a_job(org, other_org):
    phone = rand_phone()
    done = org.import_csv(f"phone,name\n{phone},Kept Contact\n".encode())
    assert done["status"] == "completed"
    uploaded = assert_json(org.upload_csv(b"phone\n+12125550199\n"), 201)

    assert_error(other_org.delete(f"/contacts/imports/{done['id']}"), 404, CODE_IMPORT_NOT_FOUND)
    assert_json(org.get(f"/contacts/imports/{done['id']}"), 200)

    r = org.delete(f"/contacts/imports/{done['id']}")
    assert r.status_code == 204, r.text
    assert_error(org.get(f"/contacts/imports/{done['id']}"), 404, CODE_IMPORT_NOT_FOUND)
    assert_error(org.get(f"/contacts/imports/{done['id']}/errors"), 404, CODE_IMPORT_NOT_FOUND)
    assert_error(org.delete(f"/contacts/imports/{done['id']}"), 404, CODE_IMPORT_NOT_FOUND)
    contacts = [c for c in org.list_all("/contacts") if c["phone"] == phone]
    assert [c["name"] for c in contacts] == ["Kept Contact"]  # the imported contact stays

    assert org.delete(f"/contacts/imports/{uploaded['id']}").status_code == 204  # an unconfirmed upload
    assert assert_json(org.get("/contacts/imports"), 200)["data"] == []


def test_a_job_in_progress_cannot_be_deleted(org):
    data = "phone,name\n" + "".join(f"+1212{i:07d},Row {i}\n" for i in range(60_000))
    job = assert_json(org.upload_csv(data.encode()), 201)
    assert_json(org.post(f"/contacts/imports/{job['id']}/confirm", json={}), 202)
    assert_error(org.delete(f"/contacts/imports/{job['id']}"), 409, "import_in_progress")
    finished = org.wait_import(job["id"], timeout=300)
    assert finished["status"] == "completed" and finished["created"] == 60_000
    assert org.delete(f"/contacts/imports/{job['id']}").status_code == 204


class ShortTTLCluster(Cluster):
    """A second cluster whose unconfirmed uploads expire after 5 seconds."""

    def env(self) -> dict:
        env = super().env()
        env["SWITCHBOARD_IMPORT_UPLOAD_TTL_SECONDS"] = "5"
        return env


@pytest.fixture(scope="module")
def short_ttl_cluster():
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-e2e-ttl-"))
    c = ShortTTLCluster(find_bin_dir(), workdir)
    try:
        c.start()
        yield c
    finally:
        code, leftovers = c.stop()
        if code == 0 and not leftovers:
            shutil.rmtree(workdir, ignore_errors=True)


def test_unconfirmed_uploads_expire_with_their_file(short_ttl_cluster):
    org = short_ttl_cluster.create_org()
    kept = assert_json(org.upload_csv(f"phone\n{rand_phone()}\n".encode()), 201)
    assert_json(org.post(f"/contacts/imports/{kept['id']}/confirm", json={}), 202)
    stale = assert_json(org.upload_csv(f"phone\n{rand_phone()}\n".encode()), 201)
    stored = short_ttl_cluster.data_dir / "imports" / f"{stale['id']}.csv"
    assert stored.exists()
    deadline = time.monotonic() + 60
    while org.get(f"/contacts/imports/{stale['id']}").status_code != 404:
        assert time.monotonic() < deadline, "the unconfirmed upload never expired"
        time.sleep(0.5)
    assert not stored.exists()
    assert [j["id"] for j in assert_json(org.get("/contacts/imports"), 200)["data"]] == [kept["id"]]
    assert org.wait_import(kept["id"])["status"] == "completed"
