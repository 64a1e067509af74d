"""A local fake of the WhatsApp Cloud API send endpoint (Meta Graph API), speaking its wire format.

    POST {base_url}/{version}/{phone-number-id}/messages      Authorization: Bearer <token>     JSON body

Point a `whatsapp_cloud` channel at it with `graphApiBaseUrl=fake.base_url` (any `vNN.N` version works), register
the channel's number with `fake.add_number(phone_number_id, access_token)`, and inspect `fake.requests` afterwards.

Every body is validated strictly per message type (unknown or missing fields, wrong JSON types, Meta's length and
count limits); a refusal is Meta's `OAuthException` code 100 "Invalid parameter" whose `error_data.details` names
the offending field as a dotted path (`interactive.action.buttons[1].reply.title`). Knobs (all thread-safe):
`fail_next`, `fail_for`, `delay`, `rate_limit`, `raw_capacity`, `add_template`.

`_FakeHTTPServer` (the threaded loopback server with the shared knobs) is reused by `twilio_api.FakeTwilioAPI`.
"""

from __future__ import annotations

import base64
import collections
import json
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeGraphAPI", "ERRORS", "error_body", "error_status", "error_title", "new_wamid", "text_of",
           "content_key", "validate_message"]


# ---------------------------------------------------------------------------------------------------------
# Meta errors

# code -> (HTTP status, title, default `error_data.details`)
ERRORS: dict[int, tuple[int, str, str | None]] = {
    1: (500, "An unknown error occurred", None),
    2: (503, "Service temporarily unavailable", None),
    4: (429, "Application request limit reached", None),
    10: (403, "Application does not have permission for this action", None),
    100: (400, "Invalid parameter", "Invalid parameter"),
    190: (401, "Invalid OAuth access token", None),
    200: (403, "Permissions error", None),
    368: (400, "Temporarily blocked for policies violations", None),
    2500: (400, "Unknown path components", None),
    80007: (429, "Rate limit issues", "The WhatsApp Business Account has reached its rate limit."),
    130429: (429, "Rate limit hit",
             "Cloud API message throughput has been reached."),
    130472: (400, "User's number is part of an experiment",
             "Failed to send message because this user's phone number is part of an experiment."),
    131000: (500, "Something went wrong", "Message failed to send due to an unknown error."),
    131005: (403, "Access denied", "Permission is either not granted or has been removed."),
    131008: (400, "Required parameter is missing", "The request is missing a required parameter."),
    131009: (400, "Parameter value is not valid", "One or more parameter values are invalid."),
    131016: (503, "Service unavailable", "A service is temporarily unavailable."),
    131021: (400, "Recipient cannot be sender", "Sender and recipient phone number is the same."),
    131026: (400, "Message undeliverable",
             "Unable to deliver message. Reasons can include: the recipient phone number is not a WhatsApp phone "
             "number; the recipient has not accepted our new Terms of Service and Privacy Policy; the recipient "
             "is using an old WhatsApp version."),
    131031: (400, "Account has been locked", "The WhatsApp Business Account is restricted or disabled."),
    131042: (400, "Business eligibility payment issue",
             "There was an error related to your payment method."),
    131045: (400, "Incorrect certificate", "Message failed to send due to a phone number registration error."),
    131047: (400, "Re-engagement message",
             "Message failed to send because more than 24 hours have passed since the customer last replied to "
             "this number."),
    131048: (400, "Spam rate limit hit",
             "Message failed to send because there are restrictions on how many messages can be sent from this "
             "phone number."),
    131051: (400, "Unsupported message type", "Message type is not currently supported."),
    131052: (400, "Media download error", "Unable to download the media sent by the user."),
    131053: (400, "Media upload error", "Unable to upload the media used in the message."),
    131056: (429, "(Business Account, Consumer Account) pair rate limit hit",
             "Too many messages sent from the sender phone number to the same recipient phone number in a short "
             "period of time."),
    132000: (400, "Number of parameters does not match the expected number of params",
             "The number of variable parameter values included in the request did not match the number of "
             "variable parameters defined in the template."),
    132001: (400, "Template name does not exist in the translation",
             "The template does not exist in the specified language or the template has not been approved."),
    132005: (400, "Template Hydrated Text Too Long", "Translated text is too long."),
    132007: (400, "Template Format Character Policy Violated",
             "Template content violates a WhatsApp policy."),
    132012: (400, "Template Parameter Format Mismatch",
             "Variable parameter values formatted incorrectly."),
    132015: (400, "Template is Paused", "Template is paused due to low quality so it cannot be sent."),
    132016: (400, "Template is Disabled", "Template has been paused too many times due to low quality."),
    133010: (400, "Phone number Not Registered", "Phone number not registered on the WhatsApp Business Platform."),
}

_OAUTH_190_MESSAGE = "Invalid OAuth access token - Cannot parse access token"


def error_status(code: int) -> int:
    """The HTTP status the fake answers with Meta error `code` (400 for codes it does not know)."""
    return ERRORS.get(code, (400, "", None))[0]


def error_title(code: int) -> str:
    return ERRORS.get(code, (400, f"Error {code}", None))[1]


def error_body(code: int, details: str | None = None, *, message: str | None = None,
               error_subcode: int | None = None, fbtrace_id: str | None = None) -> dict:
    """Meta's error answer for `code`:
    `{"error": {"message": "(#<code>) <title>", "type": "OAuthException", "code", "error_subcode"?,
    "error_data"?: {"messaging_product": "whatsapp", "details"}, "fbtrace_id"}}`.
    Code 190 (bad token) carries Graph's own message and no `error_data`, as the real API does."""
    status, title, default_details = ERRORS.get(code, (400, f"Error {code}", None))
    if message is None:
        message = _OAUTH_190_MESSAGE if code == 190 else f"(#{code}) {title}"
    err: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if error_subcode is not None:
        err["error_subcode"] = error_subcode
    if details is None:
        details = default_details
    if details is not None and code != 190:
        err["error_data"] = {"messaging_product": "whatsapp", "details": details}
    err["fbtrace_id"] = fbtrace_id or ("A" + secrets.token_urlsafe(16).replace("-", "x").replace("_", "y"))
    return {"error": err}


def new_wamid(wa_id: str = "15550001234") -> str:
    """A message id shaped like Meta's: `wamid.` + base64 of (recipient wa_id, 18 hex digits)."""
    hex_id = secrets.token_hex(9).upper()
    raw = (b"\x1c\x18" + bytes([len(wa_id) & 0xFF]) + wa_id.encode() + b"\x15\x02\x00\x11\x18\x12"
           + hex_id.encode() + b"\x00")
    return "wamid." + base64.b64encode(raw).decode()


# ---------------------------------------------------------------------------------------------------------
# the shared threaded server


class _Reply:
    __slots__ = ("status", "body", "headers", "delay")

    def __init__(self, status: int, body: Any, headers: dict | None = None, delay: float = 0.0):
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.delay = delay


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512

    def handle_error(self, request, client_address):  # clients that time out (delay knob) close early
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms delayed-ACK stalls
    fake: "_FakeHTTPServer"  # set on the per-instance subclass

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            reply = self.fake._handle(self.command, self.path, self.headers, raw)
        except Exception as e:  # a bug in the fake: say so loudly rather than hang the client
            reply = _Reply(599, {"fake_error": repr(e)})
        if reply.delay > 0:
            time.sleep(reply.delay)
        payload = json.dumps(reply.body, ensure_ascii=False).encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for k, v in reply.headers.items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve


class _FakeHTTPServer:
    """Loopback HTTP server in a background thread plus the knobs both fakes share: `fail_next` queue,
    `fail_for` map, `delay`, sliding-window `rate_limit`. Subclasses implement `_handle`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self._host = host
        self._port = port
        self._lock = threading.RLock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._delay = 0.0
        self._fail_next: collections.deque = collections.deque()
        self._fail_for: dict[str, tuple] = {}
        self._rate: float | None = None
        self._window = 1.0
        self._windows: dict[str, collections.deque] = {}
        self._changed = threading.Condition(self._lock)

    # -- lifecycle --------------------------------------------------------------------------------------

    def start(self):
        if self._server is not None:
            return self
        handler = type(f"{type(self).__name__}Handler", (_Handler,), {"fake": self})
        self._server = _Server((self._host, self._port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"{type(self).__name__}:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(5)
        self._server = self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("fake server not started")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>` (no trailing slash, no version)."""
        return f"http://{self._host}:{self.port}"

    # -- shared knobs -------------------------------------------------------------------------------------

    def delay(self, seconds: float) -> None:
        """Every following answer is sent `seconds` later (the request is recorded first, as a provider that
        accepted a message and then was slow to say so). `delay(0)` turns it off."""
        with self._lock:
            self._delay = max(0.0, float(seconds))

    def rate_limit(self, per_second: float | None, window: float = 1.0) -> None:
        """At most `per_second` requests admitted per sliding `window` seconds (scaled: `per_second * window`
        per window) for each sender (phone number id / account sid); the others get the provider's rate-limit
        error (HTTP 429). Refused requests do not use up the budget. `rate_limit(None)` turns it off."""
        with self._lock:
            self._rate = None if not per_second else float(per_second)
            self._window = float(window)
            self._windows.clear()

    def _admit(self, key: str) -> bool:
        with self._lock:
            if self._rate is None:
                return True
            now = time.monotonic()
            q = self._windows.setdefault(key, collections.deque())
            while q and q[0] <= now - self._window:
                q.popleft()
            if len(q) >= max(1, int(round(self._rate * self._window))):
                return False
            q.append(now)
            return True

    def _take_fail_next(self):
        with self._lock:
            return self._fail_next.popleft() if self._fail_next else None

    def clear_fail_for(self, to: str | None = None) -> None:
        """Forgets one recipient's forced failure, or all of them."""
        with self._lock:
            if to is None:
                self._fail_for.clear()
            else:
                self._fail_for.pop(self._norm_to(to), None)

    def _norm_to(self, to: str) -> str:
        return to

    def reset_knobs(self) -> None:
        """Turns every knob off (recordings and registrations are kept)."""
        with self._lock:
            self._delay = 0.0
            self._fail_next.clear()
            self._fail_for.clear()
            self._rate = None
            self._windows.clear()

    def _handle(self, method: str, path: str, headers, raw: bytes) -> _Reply:  # pragma: no cover - abstract
        raise NotImplementedError


# ---------------------------------------------------------------------------------------------------------
# body validation


class _Invalid(Exception):
    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


_TO = re.compile(r"^\+?[1-9]\d{5,14}$")
_PATH = re.compile(r"^/(v\d+\.\d+)/([^/?#]+)/messages/?$")
_LANG = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.I)

TEXT_BODY_MAX = 4096
CAPTION_MAX = 1024
INTERACTIVE_BODY_MAX = 1024
INTERACTIVE_HEADER_TEXT_MAX = 60
FOOTER_MAX = 60
REPLY_BUTTONS_MAX = 3
REPLY_ID_MAX = 256
REPLY_TITLE_MAX = 20
LIST_BUTTON_MAX = 20
LIST_SECTIONS_MAX = 10
LIST_ROWS_MAX = 10
SECTION_TITLE_MAX = 24
ROW_ID_MAX = 200
ROW_TITLE_MAX = 24
ROW_DESCRIPTION_MAX = 72
TEMPLATE_NAME_MAX = 512
CALLBACK_DATA_MAX = 512

MESSAGE_TYPES = ("text", "image", "video", "audio", "document", "sticker", "template", "interactive", "reaction",
                 "location")
MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")


def _obj(v, path: str, required=(), optional=()) -> dict:
    if not isinstance(v, dict):
        raise _Invalid(path, "must be an object")
    for k in required:
        if k not in v:
            raise _Invalid(f"{path}.{k}" if path else k, "is required")
    allowed = set(required) | set(optional)
    for k in v:
        if k not in allowed:
            raise _Invalid(f"{path}.{k}" if path else k, "is not a known field")
    return v


def _str(v, path: str, max_len: int | None = None, allow_empty: bool = False) -> str:
    if not isinstance(v, str):
        raise _Invalid(path, "must be a string")
    if not allow_empty and not v.strip():
        raise _Invalid(path, "must not be empty")
    if max_len is not None and len(v) > max_len:
        raise _Invalid(path, f"must be at most {max_len} characters (got {len(v)})")
    return v


def _list(v, path: str, min_len: int = 0, max_len: int | None = None) -> list:
    if not isinstance(v, list):
        raise _Invalid(path, "must be an array")
    if len(v) < min_len:
        raise _Invalid(path, f"must have at least {min_len} item(s)")
    if max_len is not None and len(v) > max_len:
        raise _Invalid(path, f"must have at most {max_len} item(s) (got {len(v)})")
    return v


def _num(v, path: str, lo: float, hi: float) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _Invalid(path, "must be a number")
    if not lo <= v <= hi:
        raise _Invalid(path, f"must be between {lo} and {hi}")
    return v


def _int(v, path: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise _Invalid(path, "must be an integer")
    return v


def _enum(v, path: str, values) -> str:
    if v not in values:
        raise _Invalid(path, f"must be one of {', '.join(values)} (got {v!r})")
    return v


def _media(v, path: str, kind: str, caption: bool = True) -> None:
    optional = ["id", "link"]
    if caption and kind in ("image", "video", "document"):
        optional.append("caption")
    if kind == "document":
        optional.append("filename")
    _obj(v, path, optional=optional)
    if ("id" in v) == ("link" in v):
        raise _Invalid(f"{path}.id", "exactly one of id or link is required")
    if "id" in v:
        _str(v["id"], f"{path}.id")
    else:
        link = _str(v["link"], f"{path}.link")
        if not _URL.match(link):
            raise _Invalid(f"{path}.link", "must be an http(s) URL")
    if "caption" in v:
        _str(v["caption"], f"{path}.caption", CAPTION_MAX, allow_empty=True)
    if "filename" in v:
        _str(v["filename"], f"{path}.filename", 240)


def _v_text(v, path):
    _obj(v, path, ["body"], ["preview_url"])
    _str(v["body"], f"{path}.body", TEXT_BODY_MAX)
    if "preview_url" in v and not isinstance(v["preview_url"], bool):
        raise _Invalid(f"{path}.preview_url", "must be a boolean")


def _v_reaction(v, path):
    _obj(v, path, ["message_id", "emoji"])
    _str(v["message_id"], f"{path}.message_id")
    emoji = _str(v["emoji"], f"{path}.emoji", allow_empty=True)  # "" removes a reaction
    if len(emoji) > 10:
        raise _Invalid(f"{path}.emoji", "must be a single emoji")


def _v_location(v, path):
    _obj(v, path, ["latitude", "longitude"], ["name", "address"])
    _num(v["latitude"], f"{path}.latitude", -90, 90)
    _num(v["longitude"], f"{path}.longitude", -180, 180)
    for k in ("name", "address"):
        if k in v:
            _str(v[k], f"{path}.{k}", 1000, allow_empty=True)


_HEADER_PARAM_TYPES = ("text", "image", "document", "video")
_BODY_PARAM_TYPES = ("text", "currency", "date_time")
_BUTTON_SUB_TYPES = {"quick_reply": ("payload", "text"), "url": ("text",), "copy_code": ("coupon_code",)}
_DATE_TIME_OPTIONAL = ("day_of_week", "year", "month", "day_of_month", "hour", "minute", "calendar")


def _template_param(p, path: str, allowed_types) -> None:
    if not isinstance(p, dict):
        raise _Invalid(path, "must be an object")
    if "type" not in p:
        raise _Invalid(f"{path}.type", "is required")
    kind = _enum(p["type"], f"{path}.type", allowed_types)
    if kind == "text":
        _obj(p, path, ["type", "text"], ["parameter_name"])
        _str(p["text"], f"{path}.text", 32768)
    elif kind == "currency":
        _obj(p, path, ["type", "currency"], ["parameter_name"])
        c = _obj(p["currency"], f"{path}.currency", ["fallback_value", "code", "amount_1000"])
        _str(c["fallback_value"], f"{path}.currency.fallback_value")
        if not isinstance(c["code"], str) or not _CURRENCY.match(c["code"]):
            raise _Invalid(f"{path}.currency.code", "must be an ISO 4217 code")
        _int(c["amount_1000"], f"{path}.currency.amount_1000")
    elif kind == "date_time":
        _obj(p, path, ["type", "date_time"], ["parameter_name"])
        d = _obj(p["date_time"], f"{path}.date_time", ["fallback_value"], _DATE_TIME_OPTIONAL)
        _str(d["fallback_value"], f"{path}.date_time.fallback_value")
    elif kind in ("image", "document", "video"):
        _obj(p, path, ["type", kind])
        _media(p[kind], f"{path}.{kind}", kind, caption=False)
    elif kind == "payload":
        _obj(p, path, ["type", "payload"])
        _str(p["payload"], f"{path}.payload", 1000)
    elif kind == "coupon_code":
        _obj(p, path, ["type", "coupon_code"])
        _str(p["coupon_code"], f"{path}.coupon_code", 15)


def _v_template(v, path):
    _obj(v, path, ["name", "language"], ["components"])
    _str(v["name"], f"{path}.name", TEMPLATE_NAME_MAX)
    lang = _obj(v["language"], f"{path}.language", ["code"], ["policy"])
    if not isinstance(lang["code"], str) or not _LANG.match(lang["code"]):
        raise _Invalid(f"{path}.language.code", "must be a language code like en or en_US")
    if "policy" in lang:
        _enum(lang["policy"], f"{path}.language.policy", ("deterministic",))
    if "components" not in v:
        return
    seen = set()
    for i, comp in enumerate(_list(v["components"], f"{path}.components")):
        cpath = f"{path}.components[{i}]"
        if not isinstance(comp, dict):
            raise _Invalid(cpath, "must be an object")
        if "type" not in comp:
            raise _Invalid(f"{cpath}.type", "is required")
        kind = _enum(comp["type"], f"{cpath}.type", ("header", "body", "button"))
        if kind == "button":
            _obj(comp, cpath, ["type", "sub_type", "index", "parameters"])
            sub = _enum(comp["sub_type"], f"{cpath}.sub_type", tuple(_BUTTON_SUB_TYPES))
            index = comp["index"]
            if isinstance(index, str) and index.isdigit():
                index = int(index)
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= 9:
                raise _Invalid(f"{cpath}.index", "must be an integer from 0 to 9")
            key = ("button", index)
            params = _list(comp["parameters"], f"{cpath}.parameters", 1, 1)
            types = _BUTTON_SUB_TYPES[sub]
        else:
            _obj(comp, cpath, ["type", "parameters"])
            key = (kind,)
            if kind == "header":
                params = _list(comp["parameters"], f"{cpath}.parameters", 1, 1)
                types = _HEADER_PARAM_TYPES
            else:
                params = _list(comp["parameters"], f"{cpath}.parameters", 1)
                types = _BODY_PARAM_TYPES
        if key in seen:
            raise _Invalid(cpath, "duplicate component")
        seen.add(key)
        for j, p in enumerate(params):
            _template_param(p, f"{cpath}.parameters[{j}]", types)


def _v_interactive(v, path):
    if not isinstance(v, dict):
        raise _Invalid(path, "must be an object")
    if "type" not in v:
        raise _Invalid(f"{path}.type", "is required")
    kind = _enum(v["type"], f"{path}.type", ("button", "list"))
    _obj(v, path, ["type", "body", "action"], ["header", "footer"])
    if "header" in v:
        hpath = f"{path}.header"
        h = v["header"]
        if not isinstance(h, dict):
            raise _Invalid(hpath, "must be an object")
        if "type" not in h:
            raise _Invalid(f"{hpath}.type", "is required")
        htype = _enum(h["type"], f"{hpath}.type", ("text",) if kind == "list" else ("text", "image", "video",
                                                                                     "document"))
        _obj(h, hpath, ["type", htype])
        if htype == "text":
            _str(h["text"], f"{hpath}.text", INTERACTIVE_HEADER_TEXT_MAX)
        else:
            _media(h[htype], f"{hpath}.{htype}", htype, caption=False)
    body = _obj(v["body"], f"{path}.body", ["text"])
    _str(body["text"], f"{path}.body.text", INTERACTIVE_BODY_MAX)
    if "footer" in v:
        footer = _obj(v["footer"], f"{path}.footer", ["text"])
        _str(footer["text"], f"{path}.footer.text", FOOTER_MAX)
    apath = f"{path}.action"
    if kind == "button":
        action = _obj(v["action"], apath, ["buttons"])
        ids, titles = set(), set()
        for i, b in enumerate(_list(action["buttons"], f"{apath}.buttons", 1, REPLY_BUTTONS_MAX)):
            bpath = f"{apath}.buttons[{i}]"
            _obj(b, bpath, ["type", "reply"])
            _enum(b["type"], f"{bpath}.type", ("reply",))
            reply = _obj(b["reply"], f"{bpath}.reply", ["id", "title"])
            bid = _str(reply["id"], f"{bpath}.reply.id", REPLY_ID_MAX)
            title = _str(reply["title"], f"{bpath}.reply.title", REPLY_TITLE_MAX)
            if bid in ids:
                raise _Invalid(f"{bpath}.reply.id", "must be unique")
            if title in titles:
                raise _Invalid(f"{bpath}.reply.title", "must be unique")
            ids.add(bid)
            titles.add(title)
    else:
        action = _obj(v["action"], apath, ["button", "sections"])
        _str(action["button"], f"{apath}.button", LIST_BUTTON_MAX)
        sections = _list(action["sections"], f"{apath}.sections", 1, LIST_SECTIONS_MAX)
        total, ids = 0, set()
        for i, s in enumerate(sections):
            spath = f"{apath}.sections[{i}]"
            _obj(s, spath, ["rows"] + (["title"] if len(sections) > 1 else []),
                 [] if len(sections) > 1 else ["title"])
            if "title" in s:
                _str(s["title"], f"{spath}.title", SECTION_TITLE_MAX)
            for j, r in enumerate(_list(s["rows"], f"{spath}.rows", 1)):
                rpath = f"{spath}.rows[{j}]"
                total += 1
                if total > LIST_ROWS_MAX:
                    raise _Invalid(rpath, f"a list may have at most {LIST_ROWS_MAX} rows in all")
                _obj(r, rpath, ["id", "title"], ["description"])
                rid = _str(r["id"], f"{rpath}.id", ROW_ID_MAX)
                if rid in ids:
                    raise _Invalid(f"{rpath}.id", "must be unique")
                ids.add(rid)
                _str(r["title"], f"{rpath}.title", ROW_TITLE_MAX)
                if "description" in r:
                    _str(r["description"], f"{rpath}.description", ROW_DESCRIPTION_MAX, allow_empty=True)


_VALIDATORS = {
    "text": _v_text,
    "template": _v_template,
    "interactive": _v_interactive,
    "reaction": _v_reaction,
    "location": _v_location,
}


def validate_message(body) -> None:
    """Raises `_Invalid(field, reason)` unless `body` is a well-formed Cloud API send body."""
    if not isinstance(body, dict):
        raise _Invalid("body", "must be a JSON object")
    if "type" not in body:
        raise _Invalid("type", "is required")
    kind = _enum(body["type"], "type", MESSAGE_TYPES)
    _obj(body, "", ["messaging_product", "to", "type", kind],
         ["recipient_type", "context", "biz_opaque_callback_data"])
    _enum(body["messaging_product"], "messaging_product", ("whatsapp",))
    if "recipient_type" in body:
        _enum(body["recipient_type"], "recipient_type", ("individual",))
    to = _str(body["to"], "to")
    if not _TO.match(to):
        raise _Invalid("to", "must be a phone number (digits, optional leading +)")
    if "context" in body:
        ctx = _obj(body["context"], "context", ["message_id"])
        _str(ctx["message_id"], "context.message_id")
    if "biz_opaque_callback_data" in body:
        _str(body["biz_opaque_callback_data"], "biz_opaque_callback_data", CALLBACK_DATA_MAX)
    if kind in MEDIA_TYPES:
        _media(body[kind], kind, kind)
    else:
        _VALIDATORS[kind](body[kind], kind)


def text_of(body: dict) -> str | None:
    """The human-readable text of a send body: text.body, interactive.body.text or a media caption."""
    if not isinstance(body, dict):
        return None
    kind = body.get("type")
    obj = body.get(kind) if isinstance(kind, str) else None
    if not isinstance(obj, dict):
        return None
    if kind == "text":
        return obj.get("body")
    if kind == "interactive":
        return (obj.get("body") or {}).get("text")
    if kind in MEDIA_TYPES:
        return obj.get("caption")
    if kind == "template":
        return obj.get("name")
    return None


def _digits(to: str) -> str:
    return re.sub(r"\D", "", to or "")


def content_key(body: dict) -> str:
    """What makes two sends "the same message": type and its object (canonical JSON), not ids or callbacks."""
    kind = body.get("type") if isinstance(body, dict) else None
    return json.dumps({"type": kind, "content": body.get(kind) if isinstance(kind, str) else None},
                      sort_keys=True, ensure_ascii=False)


# ---------------------------------------------------------------------------------------------------------
# the fake


class FakeGraphAPI(_FakeHTTPServer):
    """Fake WhatsApp Cloud API. `with FakeGraphAPI() as meta: meta.add_number("1234", "tok"); ...`"""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, validate: bool = True):
        super().__init__(host, port)
        self._numbers: dict[str, str] = {}
        self._templates: dict[tuple[str, str], tuple[int, int]] = {}
        self._requests: list[dict] = []
        self._rejected: list[dict] = []
        self._validate = validate

    # -- registration --------------------------------------------------------------------------------------

    def add_number(self, phone_number_id: str, token: str) -> None:
        """Registers a business phone number id and the access token that may send from it."""
        with self._lock:
            self._numbers[str(phone_number_id)] = token

    def add_template(self, name: str, language: str = "en_US", body_params: int = 0,
                     header_params: int = 0) -> None:
        """Once any template is registered, template sends are checked against the registry: an unknown
        (name, language) answers 132001, a different number of body/header parameters 132000."""
        with self._lock:
            self._templates[(name, language)] = (body_params, header_params)

    def clear_templates(self) -> None:
        """Forgets registered templates (template sends are then only checked for shape)."""
        with self._lock:
            self._templates.clear()

    # -- knobs -----------------------------------------------------------------------------------------------

    def fail_next(self, n: int = 1, code: int = 131000, http_status: int | None = None,
                  details: str | None = None, error_subcode: int | None = None) -> None:
        """The next `n` authenticated requests to the messages endpoint are answered with Meta error `code`
        (HTTP status from `ERRORS` unless `http_status` is given), whatever their body. Nothing is recorded
        in `requests` for them (they are in `rejected`)."""
        with self._lock:
            for _ in range(n):
                self._fail_next.append((code, http_status, details, error_subcode))

    def fail_for(self, to: str, code: int, http_status: int | None = None, details: str | None = None,
                 error_subcode: int | None = None) -> None:
        """Every valid message to `to` (compared as digits, so `+4477…` and `4477…` match) fails with `code`."""
        with self._lock:
            self._fail_for[self._norm_to(to)] = (code, http_status, details, error_subcode)

    def _norm_to(self, to: str) -> str:
        return _digits(to)

    def raw_capacity(self, enabled: bool = True) -> None:
        """Capacity mode: bodies are only parsed as JSON (no per-type validation, headers not copied), so the
        fake costs as little as possible per request. Auth and the knobs still apply."""
        with self._lock:
            self._validate = not enabled

    def reset(self) -> None:
        """Forgets recorded requests and turns the knobs off (numbers and templates stay registered)."""
        with self._lock:
            self._requests.clear()
            self._rejected.clear()
        self.reset_knobs()

    # -- inspection ----------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[dict]:
        """Accepted sends, oldest first: dicts with phone_number_id, version, to, type, body (parsed JSON),
        headers (lower-cased names; None in raw-capacity mode), received_at (time.time()), wamid."""
        with self._lock:
            return list(self._requests)

    @property
    def rejected(self) -> list[dict]:
        """Refused requests: phone_number_id, body (parsed or raw text), headers, received_at, status, error
        (the answered JSON) and field (the invalid field for code 100 refusals, else None)."""
        with self._lock:
            return list(self._rejected)

    def messages_to(self, to: str) -> list[dict]:
        d = _digits(to)
        return [r for r in self.requests if _digits(r["to"]) == d]

    def count_for(self, to: str | None = None, body_text: str | None = None) -> int:
        """How many accepted sends match `to` (as digits) and/or `body_text` (text body, interactive body text,
        media caption or template name)."""
        d = _digits(to) if to is not None else None
        n = 0
        for r in self.requests:
            if d is not None and _digits(r["to"]) != d:
                continue
            if body_text is not None and text_of(r["body"]) != body_text:
                continue
            n += 1
        return n

    def sent_by_key(self) -> dict[tuple[str, str], int]:
        """{(recipient digits, content key): number of accepted sends}; the content key is the canonical JSON
        of the message type and its object (see `content_key`)."""
        counts: dict[tuple[str, str], int] = collections.Counter()
        for r in self.requests:
            counts[(_digits(r["to"]), content_key(r["body"]))] += 1
        return dict(counts)

    def duplicates(self) -> dict[tuple[str, str], int]:
        """The entries of `sent_by_key()` sent more than once."""
        return {k: n for k, n in self.sent_by_key().items() if n > 1}

    def wait_for(self, count: int, timeout: float = 10.0, to: str | None = None) -> list[dict]:
        """Waits until at least `count` sends (to `to`, if given) were accepted; answers them."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                got = [r for r in self._requests if to is None or _digits(r["to"]) == _digits(to)]
                if len(got) >= count:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} sends within {timeout}s, got {len(got)}")
                self._changed.wait(left)

    # -- serving -----------------------------------------------------------------------------------------------

    def _error(self, code: int, http_status: int | None = None, details: str | None = None,
               error_subcode: int | None = None, message: str | None = None, delay: float = 0.0) -> _Reply:
        body = error_body(code, details, message=message, error_subcode=error_subcode)
        status = http_status or error_status(code)
        headers = {"x-fb-trace-id": body["error"]["fbtrace_id"]}
        if status == 401:
            headers["WWW-Authenticate"] = f'OAuth "Facebook Platform" "invalid_token" "{body["error"]["message"]}"'
        return _Reply(status, body, headers, delay)

    def _reject(self, reply: _Reply, number_id, body, headers, field=None) -> _Reply:
        with self._lock:
            self._rejected.append({
                "phone_number_id": number_id, "body": body, "headers": headers, "received_at": time.time(),
                "status": reply.status, "error": reply.body, "field": field,
            })
        return reply

    def _handle(self, method: str, path: str, headers, raw: bytes) -> _Reply:
        received_at = time.time()
        with self._lock:
            delay = self._delay
            validate = self._validate
        hdrs = {k.lower(): v for k, v in headers.items()} if validate else None
        path_only = path.split("?", 1)[0]
        m = _PATH.match(path_only)
        if not m:
            return self._reject(self._error(2500, 400, message=f"Unknown path components: {path_only}",
                                            delay=delay), None, None, hdrs)
        version, number_id = m.group(1), m.group(2)

        auth = headers.get("Authorization") or ""
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        with self._lock:
            expected = self._numbers.get(number_id)
            known_token = token is not None and token in self._numbers.values()
        if not token or (expected is not None and token != expected) or (expected is None and not known_token):
            return self._reject(self._error(190, delay=delay), number_id, None, hdrs)
        if expected is None:
            return self._reject(self._error(
                100, 400, error_subcode=33, delay=delay,
                message=f"Unsupported {method.lower()} request. Object with ID '{number_id}' does not exist, cannot "
                        "be loaded due to missing permissions, or does not support this operation."),
                number_id, None, hdrs)
        if method != "POST":
            return self._reject(self._error(100, 400, delay=delay,
                                            message=f"Unsupported {method.lower()} request."), number_id, None, hdrs)

        forced = self._take_fail_next()
        if forced is not None:
            code, status, details, sub = forced
            return self._reject(self._error(code, status, details, sub, delay=delay), number_id,
                                raw.decode("utf-8", "replace"), hdrs)
        if not self._admit(number_id):
            return self._reject(self._error(130429, delay=delay), number_id, raw.decode("utf-8", "replace"), hdrs)

        try:
            body = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, ValueError):
            return self._reject(self._error(100, details="The request body is not valid JSON", delay=delay),
                                number_id, raw.decode("utf-8", "replace"), hdrs, field="body")
        if validate:
            ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype != "application/json":
                return self._reject(self._error(100, details=f"Content-Type must be application/json (got "
                                                             f"{ctype or 'none'})", delay=delay),
                                    number_id, body, hdrs, field="Content-Type")
            try:
                validate_message(body)
            except _Invalid as e:
                return self._reject(self._error(100, details=f"Invalid parameter '{e.field}': {e.reason}",
                                                delay=delay), number_id, body, hdrs, field=e.field)
            failure = self._template_failure(body)
            if failure is not None:
                return self._reject(self._error(failure[0], details=failure[1], delay=delay), number_id, body, hdrs)
        elif not isinstance(body, dict) or not isinstance(body.get("to"), str):
            return self._reject(self._error(100, details="Invalid parameter 'to': is required", delay=delay),
                                number_id, body, hdrs, field="to")

        to = body["to"]
        with self._lock:
            forced = self._fail_for.get(_digits(to))
        if forced is not None:
            code, status, details, sub = forced
            return self._reject(self._error(code, status, details, sub, delay=delay), number_id, body, hdrs)

        wa_id = _digits(to)
        wamid = new_wamid(wa_id)
        with self._changed:
            self._requests.append({
                "phone_number_id": number_id, "version": version, "to": to, "type": body.get("type"),
                "body": body, "headers": hdrs, "received_at": received_at, "wamid": wamid,
            })
            self._changed.notify_all()
        answer = {"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": wa_id}],
                  "messages": [{"id": wamid}]}
        if body.get("type") == "template":
            answer["messages"][0]["message_status"] = "accepted"
        return _Reply(200, answer, delay=delay)

    def _template_failure(self, body: dict) -> tuple[int, str] | None:
        if body.get("type") != "template":
            return None
        with self._lock:
            if not self._templates:
                return None
            t = body["template"]
            spec = self._templates.get((t["name"], t["language"]["code"]))
        if spec is None:
            return 132001, f"template name ({t['name']}) does not exist in {t['language']['code']}"
        counts = {"body": 0, "header": 0}
        for comp in t.get("components", []):
            if comp["type"] in counts:
                counts[comp["type"]] += len(comp["parameters"])
        for part, expected in (("body", spec[0]), ("header", spec[1])):
            if counts[part] != expected:
                return 132000, (f"{part}: number of localizable_params ({counts[part]}) does not match the "
                                f"expected number of params ({expected})")
        return None
