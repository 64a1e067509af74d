"""System routes and the process model: health, metrics, the OpenAPI document against docs/rest-api.md,
request ids, and the launcher restarting a service that was killed."""

import os
import re
import signal
import time

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from conftest import REPO_ROOT, SERVICES, assert_error, assert_json, unique

METHODS = "GET|POST|PUT|PATCH|DELETE"


def test_healthz_reports_every_service_serving(cluster):
    r = cluster.request("GET", "/healthz", key=None)
    body = assert_json(r, 200)
    assert body["status"] == "ok"
    assert {name: body["services"].get(name) for name in SERVICES} == {name: "SERVING" for name in SERVICES}, body


# ---------------------------------------------------------------------------------------------------------
# metrics

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?\s*$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"')


def parse_prometheus(text):
    """({family: type}, [(name, {label: value}, float)]) from the Prometheus text format."""
    types, samples = {}, []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(None, 3)
            types[name] = kind.strip()
        elif line.strip() and not line.startswith("#"):
            m = _SAMPLE.match(line)
            assert m, f"not a Prometheus sample line: {line!r}"
            labels = dict(_LABEL.findall(m.group(2) or ""))
            samples.append((m.group(1), labels, float(m.group(3))))
    return types, samples


def _about(labels, route):
    return any(v.rstrip("/") == route or v.endswith(" " + route) for v in labels.values())


def route_series(text, route):
    """Per family: the total of the counters and of the histogram counts labelled with `route`, and whether
    the histogram has buckets for it."""
    types, samples = parse_prometheus(text)
    counters, hist_counts, hist_buckets = {}, {}, set()
    for name, labels, value in samples:
        if not _about(labels, route):
            continue
        for family, kind in types.items():
            if kind == "counter" and name in (family, family + "_total"):
                counters[family] = counters.get(family, 0) + value
            elif kind == "histogram" and name == family + "_count":
                hist_counts[family] = hist_counts.get(family, 0) + value
            elif kind == "histogram" and name == family + "_bucket" and "le" in labels:
                hist_buckets.add(family)
    return counters, hist_counts, hist_buckets


def test_metrics_count_and_time_requests_per_route(cluster):
    route = "/api/whatsapp-api/contacts"
    first = cluster.request("GET", "/metrics", key=None)
    assert first.status_code == 200 and first.headers["Content-Type"].startswith("text/plain"), first.headers
    before_counters, before_hist, _ = route_series(first.text, route)
    for _ in range(3):
        assert cluster.api("GET", "/contacts", params={"limit": 1}).status_code == 200
    after = cluster.request("GET", "/metrics", key=None)
    counters, hist, buckets = route_series(after.text, route)

    grew = {f: v - before_counters.get(f, 0) for f, v in counters.items()}
    assert any(d >= 3 for d in grew.values()), f"no request counter for {route} grew by 3: {grew}\n{after.text[:3000]}"
    timed = {f: v - before_hist.get(f, 0) for f, v in hist.items()}
    assert any(d >= 3 for d in timed.values()), f"no latency histogram for {route} counted 3: {timed}"
    assert set(f for f, d in timed.items() if d >= 3) & buckets, "the latency histogram has no buckets"


# ---------------------------------------------------------------------------------------------------------
# OpenAPI


def documented_routes():
    """(method, full path) for every row of the route tables in docs/rest-api.md."""
    routes, prefix = [], ""
    row = re.compile(rf"^((?:{METHODS})(?:/(?:{METHODS}))*)\s+`([^`]+)`")
    for line in (REPO_ROOT / "docs" / "rest-api.md").read_text().splitlines():
        if line.startswith("#"):
            m = re.search(r"prefix `([^`]+)`", line)
            prefix = m.group(1) if m else ""
            continue
        if not line.startswith("|"):
            continue
        m = row.match(line.strip("|").split("|")[0].strip())
        if not m:
            continue
        path = m.group(2)
        full = path if path.startswith("/api/") or not prefix else prefix + path
        routes += [(method, full) for method in m.group(1).split("/")]
    return routes


def _template(path):
    return re.sub(r"\{[^}]+\}", "{}", path.rstrip("/") or "/")


def test_openapi_document_is_valid_and_covers_the_documented_routes(cluster):
    r = cluster.request("GET", "/api/openapi.json", key=None)
    spec = assert_json(r, 200)
    assert str(spec.get("openapi", "")).startswith("3.1"), spec.get("openapi")
    validate(spec, cls=OpenAPIV31SpecValidator)

    routes = documented_routes()
    assert len(routes) >= 30, f"parsed too few routes from docs/rest-api.md: {routes}"
    paths = {_template(p): {m.upper() for m in ops if m.upper() in METHODS.split("|")}
             for p, ops in spec["paths"].items()}
    missing = [(m, p) for m, p in routes if m not in paths.get(_template(p), set())]
    assert not missing, f"documented routes missing from /api/openapi.json: {missing}"


# ---------------------------------------------------------------------------------------------------------
# request ids


def test_every_response_carries_a_request_id(cluster, org):
    c = org.create_contact(name="Rid")
    responses = [
        cluster.request("GET", "/healthz", key=None),
        cluster.request("GET", "/metrics", key=None),
        cluster.request("GET", "/api/openapi.json", key=None),
        org.get("/org"),
        org.post("/contacts", json={"name": "no identity"}),
        org.post("/contacts", data=b"{", headers={"Content-Type": "application/json"}),
        cluster.request("GET", "/contacts", key=None),
        org.get("/contacts/01900000-0000-7000-8000-000000000000"),
        org.get("/no/such/route"),
        org.get("/contacts/imports/sample"),
        org.delete(f"/contacts/{c['id']}"),
        cluster.admin("GET", "/api/admin/orgs"),
    ]
    statuses = [r.status_code for r in responses]
    assert statuses[:9] == [200, 200, 200, 200, 400, 400, 401, 404, 404] and statuses[9:] == [200, 204, 200], statuses
    ids = [r.headers.get("X-Request-Id") for r in responses]
    assert all(ids), list(zip(statuses, ids))
    assert len(set(ids)) == len(ids), ids
    # Answers are per caller: no browser or proxy cache keeps them, errors included.
    assert all(r.headers.get("Cache-Control") == "no-store" for r in responses), [
        (r.url, r.headers.get("Cache-Control")) for r in responses]

    mine = unique("e2e-req-")
    echoed = org.get("/org", headers={"X-Request-Id": mine})
    assert echoed.headers.get("X-Request-Id") == mine
    failed = org.get("/contacts", params={"limit": "0"}, headers={"X-Request-Id": mine + "-bad"})
    assert_error(failed, 400, "invalid_query")
    assert failed.headers.get("X-Request-Id") == mine + "-bad"


def test_the_request_id_reaches_the_service_that_handled_the_request(cluster, org):
    """Edge passes X-Request-Id to the contacts service in RPC metadata; contacts logs it with a failed RPC."""
    trace = unique("e2e-trace-")
    r = org.post("/contacts", json={"phone": "12345"}, headers={"X-Request-Id": trace})
    assert_error(r, 400, "invalid_phone")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        lines = [line for line in cluster.log_path.read_text(errors="replace").splitlines() if trace in line]
        if lines:
            break
        time.sleep(0.2)
    assert any(line.startswith("[contacts]") and f"request-id={trace}" in line for line in lines), lines


# ---------------------------------------------------------------------------------------------------------
# supervision (kept last: it takes a service down for a moment)


@pytest.mark.allow_unavailable
def test_killed_service_is_restarted_and_data_survives(cluster, org):
    c = org.create_contact(name="Survivor", tags=["durable"], optedIn=True)
    rule = assert_json(org.post("/auto-tag-rules", json={"matchType": "exact", "keyword": "k", "tag": "t"}), 201)
    old = cluster.service_pid("contacts")
    assert old, f"no contacts-service process under launcher {cluster.process.pid}"

    os.kill(old, signal.SIGKILL)
    killed_at = time.monotonic()
    state = "not restarted"
    while True:
        elapsed = time.monotonic() - killed_at
        assert elapsed < 30, f"contacts-service not back within 30 s ({state})\n{cluster.log_tail(60)}"
        new = cluster.service_pid("contacts")
        if new and new != old:
            state = f"restarted as {new}"
            h = cluster.health()
            if h.status_code == 200 and h.json()["services"].get("contacts") == "SERVING":
                state = "healthy"
                r = org.get(f"/contacts/{c['id']}")
                if r.status_code == 200:
                    break
                state = f"healthy but GET answers {r.status_code}"
        time.sleep(0.25)

    assert cluster.process.poll() is None, "the launcher itself exited"
    assert cluster.health().status_code == 200
    assert assert_json(org.get(f"/contacts/{c['id']}"), 200) == c
    assert [e["source"] for e in assert_json(org.get(f"/contacts/{c['id']}/consent"), 200)["data"]] == ["api"]
    assert assert_json(org.get(f"/auto-tag-rules/{rule['id']}"), 200) == rule
    after = org.create_contact(name="After restart")
    assert [x["id"] for x in org.list_all("/contacts")] == [after["id"], c["id"]]
