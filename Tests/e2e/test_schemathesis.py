"""Schemathesis (`--checks all`) against the running cluster's own `/api/openapi.json`: the document must
describe exactly what the server accepts and answers. Deterministic (fixed seed, derandomized, bounded
examples per operation), run with the admin key of a throwaway organisation so that nothing it creates,
changes or deletes is seen by any other test.

Whatever the document describes is tested, so routes added later are covered without editing this file.
Left out, each for a reason that holds for any route of its kind:
  - operator routes (`/api/admin/…`): they need the operator key and act across organisations;
  - operations whose success answer is `text/event-stream`: the stream never ends by itself;
  - revoking API keys: the stateful phase would revoke the key the run itself uses.
Requests carry the key and `Origin: <the cluster's URL>` (what a same-origin console request carries), so sign-in
and invite acceptance are fuzzed past their origin rule; routes that need the session cookie answer 401 to the key.
Failures listed in KNOWN_EXCEPTIONS are accepted, each with its reason (also in docs/rest-api.md).
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import assert_json

SEED = int(os.environ.get("SWITCHBOARD_SCHEMATHESIS_SEED", "11"))
MAX_EXAMPLES = int(os.environ.get("SWITCHBOARD_SCHEMATHESIS_EXAMPLES", "10"))
# The stateful phase chains real answers (ids, what earlier cases created), so what it generates differs from run to
# run; the default phases depend only on the document and the seed, as a gate in the test command must.
# SWITCHBOARD_SCHEMATHESIS_PHASES=examples,coverage,fuzzing,stateful adds it for a deeper look.
PHASES = os.environ.get("SWITCHBOARD_SCHEMATHESIS_PHASES", "examples,coverage,fuzzing")
RUN_TIMEOUT = 900.0
EXCLUDED_OPERATION_IDS = {"revokeApiKey"}

# (regular expression for "METHOD /path", check, the `error.code` of the answer or a fragment of the answer or
# of schemathesis' message): why it is accepted. A failure is accepted only when all three match, so each
# exception covers one known rule and nothing else. The same list is in docs/rest-api.md.
KNOWN_EXCEPTIONS: dict[tuple[str, str, str], str] = {
    (r"GET .*", "positive_data_acceptance", "invalid_cursor"):
        "a cursor is an opaque token the server handed out; a made-up one is refused (400)",
    (r"GET /api/whatsapp-api/analytics/.*", "positive_data_acceptance", "invalid_period"):
        "`from` ≤ `to` and at most 366 days apart is a rule between two parameters",
    (r"POST /api/whatsapp-api/contacts/imports/\{id\}/confirm", "positive_data_acceptance", "invalid_mapping"):
        "the mapping must name columns of the uploaded file and map one to phone or whatsappUserId",
    (r"POST /api/whatsapp-api/(conversations|contacts)/\{id\}/messages", "positive_data_acceptance",
     "invalid_interactive"):
        "interactive messages follow WhatsApp's button/list rules, described in docs/rest-api.md, not in the schema",
    (r"PATCH /api/whatsapp-api/contacts/\{id\}", "positive_data_acceptance", "missing_identity"):
        "a patch may not leave a contact without both phone and whatsappUserId, which depends on its stored values",
    (r"POST /api/whatsapp-api/channels/\{id\}/templates", "positive_data_acceptance", "unsupported_on_channel"):
        "templates belong to WhatsApp and sandbox channels; the path's channel kind is not in the document",
    (r"(POST|PATCH) /api/whatsapp-api/quick-replies(/\{id\})?", "negative_data_rejection", "violates `maxLength`"):
        "the server counts characters as people see them (grapheme clusters), JSON Schema counts code points",
    (r"(POST|PATCH) /api/whatsapp-api/quick-replies(/\{id\})?", "negative_data_rejection", "larger than maxLength"):
        "lengths count after trimming: surrounding whitespace (NEL included) is not part of a shortcut",
    (r"POST /api/whatsapp-api/sandbox/inbound", "negative_data_rejection", "text: String larger than maxLength"):
        "text is limited to 4,096 bytes of UTF-8, which JSON Schema cannot say; the document's 1,024 characters "
        "is the bound every accepted text meets",
    (r"(POST|PATCH) /api/whatsapp-api/channels(/\{id\})?", "positive_data_acceptance", "provider_url_not_allowed"):
        "which provider origins a base URL may name is the operator's allow-list (SWITCHBOARD_PROVIDER_URL_ALLOWLIST)",
    (r"POST /api/whatsapp-api/contacts/imports", "negative_data_rejection", "violates `type`"):
        "any bytes are a text/csv string: a 'non-string' CSV body does not exist",
    (r"POST /api/whatsapp-api/contacts/imports", "negative_data_rejection", "incorrect type"):
        "any bytes are a text/csv string: a 'non-string' CSV body does not exist",
    (r"PATCH /api/whatsapp-api/channels/\{id\}", "positive_data_acceptance", "does not apply to a"):
        "which settings a channel has depends on its stored kind, which the path does not show",
    (r"DELETE /api/whatsapp-api/conversations/\{id\}", "use_after_free", "previously deleted"):
        "deleting a conversation moves it to the trash (restorable for 30 days, `deletedAt` set); it stays readable",
    (r"POST /api/whatsapp-api/quick-replies", "ensure_resource_availability", "conversation_not_found"):
        "rendering a new quick reply for a made-up conversation is 404 for the conversation, not the reply",
    (r"POST /api/whatsapp-api/quick-replies", "ensure_resource_availability", "contact_not_found"):
        "rendering a new quick reply for a made-up contact is 404 for the contact, not the reply",
    (r"(POST|PATCH) /api/whatsapp-api/agents(/\{id\})?", "negative_data_rejection", "violates `maxLength`"):
        "lengths count after trimming: surrounding whitespace is not part of an agent's email",
    (r"(POST|PATCH) /api/whatsapp-api/channels(/\{id\})?", "negative_data_rejection", "violates `maxLength`"):
        "lengths count after trimming: surrounding whitespace is not part of a channel setting",
    (r"POST /api/auth/invite/accept", "positive_data_acceptance", "invalid_token"):
        "an invitation token is one the server handed out (shown once); a made-up one is refused (400)",
}


def error_code(answer: str | None) -> str | None:
    try:
        return json.loads(answer or "")["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def excepted(failure: dict) -> bool:
    code = error_code(failure["answer"])
    return any(re.fullmatch(pattern, failure["operation"] or "") and check == failure["check"]
               and (want == code or want in failure["message"] or want in (failure["answer"] or ""))
               for pattern, check, want in KNOWN_EXCEPTIONS)


def streaming_operations(spec: dict) -> set[str]:
    found = set()
    for ops in spec["paths"].values():
        for op in ops.values():
            if not isinstance(op, dict):
                continue
            for response in op.get("responses", {}).values():
                if "text/event-stream" in response.get("content", {}):
                    found.add(op["operationId"])
    return found


def run_schemathesis(cluster, key: str, report: Path, excluded: set[str]) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "schemathesis"
    args = [
        str(exe), "run", cluster.base_url + "/api/openapi.json",
        "--url", cluster.base_url,
        "--checks", "all",
        "--seed", str(SEED), "--generation-deterministic", "--no-shrink",
        "--max-examples", str(MAX_EXAMPLES),
        "--phases", PHASES,
        "--workers", "2",
        "--request-timeout", "30",
        "--header", f"Authorization: Bearer {key}",
        # as the console's own requests: sign-in and invite acceptance refuse other origins (403 csrf_refused)
        "--header", f"Origin: {cluster.base_url}",
        "--exclude-path-regex", "^/api/admin/",
        "--report", "ndjson", "--report-ndjson-path", str(report),
        "--no-color", "--output-truncate", "true",
    ]
    for op_id in sorted(excluded):
        args += ["--exclude-operation-id", op_id]
    env = dict(os.environ, SCHEMATHESIS_HOOKS="", NO_COLOR="1")
    # Its working directory receives schemathesis' own cache (.schemathesis/): the cluster's temporary folder.
    return subprocess.run(args, cwd=cluster.workdir, capture_output=True, text=True, timeout=RUN_TIMEOUT, env=env)


def failures_from(report: Path) -> list[dict]:
    """Every failed check in schemathesis' ndjson event stream, one per (operation, check, title), with one
    example request and answer."""
    found: dict[tuple, dict] = {}
    for line in report.read_text().splitlines():
        payload = json.loads(line).get("ScenarioFinished")
        if not isinstance(payload, dict):
            continue
        recorder = payload.get("recorder", {})
        cases = recorder.get("cases", {})
        interactions = recorder.get("interactions", {})
        for case_id, checks in (recorder.get("checks") or {}).items():
            case = (cases.get(case_id) or {}).get("value") or {}
            for check in checks:
                if check.get("status") != "failure":
                    continue
                failure = (check.get("failure_info") or {}).get("failure") or {}
                operation = failure.get("operation") or f"{case.get('method')} {case.get('path')}"
                key = (operation, check.get("name"), failure.get("title"))
                if key in found:
                    continue
                response = (interactions.get(case_id) or {}).get("response") or {}
                content = (response.get("content") or {}).get("$base64")
                found[key] = {
                    "operation": operation, "check": check.get("name"), "title": failure.get("title"),
                    "message": str(failure.get("message"))[:400], "phase": payload.get("phase"),
                    "request": {k: case.get(k) for k in ("method", "path", "path_parameters", "query", "body")
                                if case.get(k) is not None},
                    "status": response.get("status_code"),
                    "answer": base64.b64decode(content)[:2000].decode(errors="replace") if content else None,
                }
    return list(found.values())


def test_schemathesis_checks_all_are_clean(cluster):
    org = cluster.create_org()
    spec = assert_json(cluster.request("GET", "/api/openapi.json", key=None), 200)
    excluded = EXCLUDED_OPERATION_IDS | streaming_operations(spec)
    report = Path(os.environ.get("SWITCHBOARD_SCHEMATHESIS_REPORT", cluster.workdir / "schemathesis.ndjson"))
    result = run_schemathesis(cluster, org.key, report, excluded)
    assert report.exists(), f"schemathesis wrote no report (exit {result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
    failures = failures_from(report)
    unexpected = [f for f in failures if not excepted(f)]
    assert not unexpected, (f"{len(unexpected)} schemathesis failures (exit {result.returncode}):\n"
                            + "\n".join(json.dumps(f) for f in unexpected[:80]))
