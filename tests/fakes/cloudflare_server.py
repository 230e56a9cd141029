"""A local HTTP fake of Cloudflare's API v4 (zones and DNS records, read side), faithful to the
documented behaviour mailfleet relies on. ``docs/cloudflare-fake.md`` lists the sources.

Start it with ``FakeCloudflare().start()`` (or as a context manager): one threaded HTTP server
on 127.0.0.1, random port; ``fake.base_url`` is ``http://127.0.0.1:<port>/client/v4``.
Nothing leaves the loopback interface.

What it models
--------------
- Auth: ``Authorization: Bearer <token>``. No header: 401, code 9106 ("Missing X-Auth-Key,
  X-Auth-Email or Authorization headers"). A header that is not ``Bearer <token chars>``: 400,
  code 6003 "Invalid request headers" with ``error_chain`` 6111 "Invalid format for
  Authorization header". Another token: 403, code 10000 "Authentication error".
- The envelope, every answer: ``{"success", "errors": [{"code", "message"}], "messages": [],
  "result"}`` (+ ``result_info`` for lists).
- ``GET /zones/{id}``: the zone. An id that is not 32 hex digits: 400, codes 7003 ("Could not
  route to /client/v4/zones/<id>, perhaps your object identifier is invalid?") and 7000 ("No
  route for that URI"). A well-formed id of no zone: 403, code 10000 - what Cloudflare answers
  a token for a zone it cannot see.
- ``GET /zones/{id}/dns_records``: filters ``name`` (= ``name.exact``), ``name.exact``,
  ``name.contains``, ``name.startswith``, ``name.endswith`` (case-insensitive), ``type``,
  ``match`` (``all``/``any``), ``order`` (type, name, content, ttl, proxied) and
  ``direction``; paging ``page`` (from 1) and ``per_page`` (default 100, 1 to 5,000,000);
  ``result_info`` ``{page, per_page, count, total_count, total_pages}``, ``total_pages`` at
  least 1 (an empty listing says 1). A page past the end is empty. A query parameter the fake
  does not model answers 400, so no test silently gets an unfiltered listing.
- ``GET /zones/{id}/dns_records/{rid}``: the record; none: 404, code 81044 "Record does not
  exist.".
- Records: ``id`` (32 hex), ``name`` (the full name), ``type``, ``content``, ``priority`` (MX),
  ``proxiable``, ``proxied``, ``ttl`` (1 = automatic), ``settings``, ``meta``, ``comment``,
  ``tags``, ``created_on``, ``modified_on``. TXT ``content`` is returned exactly as seeded:
  ``seed_txt`` stores a value the way Cloudflare does (``stored="quoted"``: quoted RFC 1035
  character-strings of at most 255 bytes, split as Cloudflare splits longer values;
  ``stored="raw"``: as the API stored unquoted writes).
- Faults: ``inject(status, ...)`` answers the next ``count`` matching requests (``path`` is a
  regex on the path after ``/client/v4``) with ``status``, optional headers, a JSON body or a
  non-JSON ``text``; ``rate_limit(count, retry_after=..., reset=...)`` answers 429 with
  code 971 "Please wait and consider throttling your request speed", ``Retry-After`` and/or
  ``Ratelimit: "default";r=0;t=<reset>``.
- A request log: ``calls`` (every request, refused and faulted ones included), ``count(method,
  path)``, ``pages(path)`` (the ``page`` of each call), ``reset_log()``.
- Echo mode (opt-in, ``FakeCloudflare(echo=True)`` or ``echo_requests()``): every answer echoes
  the request back, as a careless proxy or a hostile server would, so tests can prove the
  client never repeats the token. Each answer then carries the headers
  ``X-Echo-Authorization`` (the request's ``Authorization``) and ``X-Echo-Url``; each JSON body
  gets an ``echo`` member (method, URL, every request header, the ``Authorization`` value and
  the bare token); each error's ``message`` gets the echo text appended, the secrets first; and
  ``into`` names string fields of success bodies to append it to as well (dotted paths, ``*``
  for every list item: ``"result.name"``, ``"result.*.content"``).
  Independently of echo mode, ``{authorization}``, ``{token}`` and ``{url}`` in an injected
  fault's header values, error messages or ``text`` are replaced with the request's.

What it does not model
----------------------
Writes (POST/PUT/PATCH/DELETE, batch), ``GET /zones`` (listing zones), the other filters
(``content.*``, ``comment.*``, ``tag.*``, ``proxied``, ``search``, ``tag_match``), cursor
paging, API keys (``X-Auth-Email``/``X-Auth-Key``), token scopes (a valid token reads every
seeded zone), per-token IP filters, the ``Ratelimit``/``Ratelimit-Policy`` headers on ordinary
answers, Cloudflare's own 429s (they come only when injected), Cloudflare's default order of
records (the fake keeps seeding order), and persistence.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

API_PREFIX = "/client/v4"
DEFAULT_TOKEN = "fake-cf-token-0123456789abcdefghijklmnopqr"  # 40 characters, like Cloudflare's
DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 5_000_000
TXT_STRING_MAX = 255  # bytes per RFC 1035 character-string
PROXIABLE_TYPES = frozenset({"A", "AAAA", "CNAME"})
ORDER_FIELDS = ("type", "name", "content", "ttl", "proxied")
LIST_PARAMS = frozenset(
    {
        "page",
        "per_page",
        "name",
        "name.exact",
        "name.contains",
        "name.startswith",
        "name.endswith",
        "type",
        "match",
        "order",
        "direction",
    }
)
HEX32 = re.compile(r"^[0-9a-f]{32}$")
BEARER = re.compile(r"^Bearer ([A-Za-z0-9._~+/=-]+)$")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())


def _new_id() -> str:
    return secrets.token_hex(16)


def txt_content(value: str, stored: str = "quoted") -> str:
    """``value`` as Cloudflare stores a TXT record's content.

    ``quoted``: RFC 1035 character-strings of at most 255 bytes each, quoted (``"`` and ``\\``
    escaped with a backslash) and joined by a space - how Cloudflare stores TXT content today,
    longer values split. ``raw``: the value as is, how the API stored unquoted writes.
    """
    if stored == "raw":
        return value
    if stored != "quoted":
        raise ValueError(f"stored must be 'quoted' or 'raw', got {stored!r}")
    chunks: list[str] = []
    current, size = "", 0
    for char in value:
        width = len(char.encode())
        if size + width > TXT_STRING_MAX:
            chunks.append(current)
            current, size = "", 0
        current += char
        size += width
    chunks.append(current)
    return " ".join('"' + c.replace("\\", "\\\\").replace('"', '\\"') + '"' for c in chunks)


@dataclass
class FakeZone:
    name: str
    id: str = field(default_factory=_new_id)
    status: str = "active"
    name_servers: tuple[str, ...] = ("ada.ns.cloudflare.com", "bob.ns.cloudflare.com")
    original_name_servers: tuple[str, ...] = ()
    account_id: str = field(default_factory=_new_id)
    account_name: str = "Fake account"
    created_on: str = field(default_factory=_now)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "paused": False,
            "type": "full",
            "development_mode": 0,
            "name_servers": list(self.name_servers),
            "original_name_servers": list(self.original_name_servers) or None,
            "original_registrar": None,
            "original_dnshost": None,
            "created_on": self.created_on,
            "modified_on": self.created_on,
            "activated_on": self.created_on if self.status == "active" else None,
            "account": {"id": self.account_id, "name": self.account_name},
            "meta": {"phishing_detected": False},
            "plan": {"id": "0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "name": "Free Website"},
        }

    def full_name(self, name: str) -> str:
        """``@``, a name relative to the zone, or a full name: the full name, lower case."""
        name = name.strip().rstrip(".").lower()
        if name in ("@", "", self.name):
            return self.name
        return name if name.endswith("." + self.name) else f"{name}.{self.name}"


@dataclass
class Fault:
    status: int
    count: int
    method: str | None = None
    path: re.Pattern[str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    text: str | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.count <= 0:
            return False
        if self.method is not None and self.method != method:
            return False
        return self.path is None or bool(self.path.search(path))


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # after /client/v4, percent-decoded
    query: tuple[tuple[str, str], ...]
    status: int

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.query if k == name), None)


def envelope_error(status: int, *errors: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return status, {"success": False, "errors": list(errors), "messages": [], "result": None}


class _Reply(Exception):
    def __init__(self, status: int, *errors: dict[str, Any]) -> None:
        super().__init__(status)
        self.status = status
        self.errors = errors


class FakeCloudflare:
    """The fake's state and its server. Thread-safe; all state behind one lock."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        host: str = "127.0.0.1",
        echo: bool = False,
        echo_into: tuple[str, ...] = (),
    ) -> None:
        self.token = token
        self.host = host
        self.echo_enabled = echo
        self.echo_into: tuple[str, ...] = tuple(echo_into)
        self.lock = threading.RLock()
        self.zones: dict[str, FakeZone] = {}
        self.faults: list[Fault] = []
        self.calls: list[Call] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeCloudflare:
        handler = type("Handler", (_Handler,), {"fake": self})
        server = ThreadingHTTPServer((self.host, 0), handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="fake-cloudflare", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeCloudflare:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{API_PREFIX}"

    def env(self) -> dict[str, str]:
        """Environment for a ``mailfleet`` subprocess pointed at this fake (``CLOUDFLARE_BASE_URL``
        is the variable Cloudflare's own SDKs read; the caller decides whether to honour it)."""
        return {"CLOUDFLARE_API_TOKEN": self.token, "CLOUDFLARE_BASE_URL": self.base_url}

    # -- seeding (no API call, not logged) -----------------------------------------------------

    def seed_zone(self, name: str, *, zone_id: str | None = None, **kw: Any) -> FakeZone:
        with self.lock:
            zone = FakeZone(name=name.strip().rstrip(".").lower(), **kw)
            if zone_id is not None:
                zone.id = zone_id
            self.zones[zone.id] = zone
            return zone

    def seed_record(
        self,
        zone: FakeZone | str,
        type: str,
        name: str,
        content: str,
        *,
        ttl: int = 1,
        proxied: bool = False,
        priority: int | None = None,
        comment: str | None = None,
        tags: tuple[str, ...] = (),
        record_id: str | None = None,
    ) -> dict[str, Any]:
        """Add a record as Cloudflare would return it; ``name`` may be ``@`` or relative."""
        with self.lock:
            owner = self._zone(zone)
            kind = type.upper()
            now = _now()
            record: dict[str, Any] = {
                "id": record_id or _new_id(),
                "name": owner.full_name(name),
                "type": kind,
                "content": content,
                "proxiable": kind in PROXIABLE_TYPES,
                "proxied": proxied,
                "ttl": ttl,
                "settings": {},
                "meta": {},
                "comment": comment,
                "tags": list(tags),
                "created_on": now,
                "modified_on": now,
            }
            if kind == "MX":
                record["priority"] = 10 if priority is None else priority
            elif priority is not None:
                record["priority"] = priority
            if comment is not None:
                record["comment_modified_on"] = now
            if tags:
                record["tags_modified_on"] = now
            owner.records[record["id"]] = record
            return record

    def seed_txt(
        self, zone: FakeZone | str, name: str, value: str, *, stored: str = "quoted", **kw: Any
    ) -> dict[str, Any]:
        """A TXT record whose content is ``value`` as Cloudflare stores it (``txt_content``)."""
        return self.seed_record(zone, "TXT", name, txt_content(value, stored), **kw)

    def seed_mail_zone(self, name: str = "example.com", **kw: Any) -> FakeZone:
        """A customer's zone as an adopt would find it: apex SPF, DMARC, two site-verification
        TXTs (one stored unquoted), a DKIM key longer than 255 bytes (split), two MX, A, CNAME."""
        zone = self.seed_zone(name, **kw)
        self.seed_txt(zone, "@", "v=spf1 include:_spf.google.com include:mailgun.org ~all")
        self.seed_txt(zone, "_dmarc", "v=DMARC1; p=quarantine; rua=mailto:dmarc@" + zone.name)
        self.seed_txt(zone, "@", "google-site-verification=Aa4kOdcBuOpShjcQSddCu7n4j2uLfoduTLX0a0gao7E")
        self.seed_txt(zone, "@", "MS=ms18260796", stored="raw")
        self.seed_txt(zone, "k1._domainkey", "k=rsa; p=" + "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" * 8)
        self.seed_record(zone, "MX", "@", "aspmx.l.google.com", priority=1)
        self.seed_record(zone, "MX", "@", "alt1.aspmx.l.google.com", priority=5)
        self.seed_record(zone, "A", "@", "192.0.2.10", proxied=True)
        self.seed_record(zone, "CNAME", "www", zone.name, proxied=True)
        return zone

    def remove_record(self, zone: FakeZone | str, record_id: str) -> None:
        with self.lock:
            del self._zone(zone).records[record_id]

    def _zone(self, zone: FakeZone | str) -> FakeZone:
        return zone if isinstance(zone, FakeZone) else self.zones[zone]

    # -- faults and echo -------------------------------------------------------------------------

    def inject(
        self,
        status: int,
        *,
        count: int = 1,
        method: str | None = None,
        path: str | None = None,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        text: str | None = None,
    ) -> Fault:
        """Answer the next ``count`` matching requests with ``status`` (``path`` is a regex on
        the path after ``/client/v4``). ``text`` sends a non-JSON body instead of ``body``."""
        fault = Fault(
            status,
            count,
            method.upper() if method else None,
            re.compile(path) if path else None,
            dict(headers or {}),
            body,
            text,
        )
        with self.lock:
            self.faults.append(fault)
        return fault

    def rate_limit(
        self,
        count: int,
        *,
        retry_after: float | None = None,
        reset: float | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> Fault:
        """``count`` answers 429 with Cloudflare's body, ``Retry-After: <retry_after>`` and/or
        ``Ratelimit: "default";r=0;t=<reset>``."""
        headers: dict[str, str] = {}
        if retry_after is not None:
            headers["Retry-After"] = f"{retry_after:g}"
        if reset is not None:
            headers["Ratelimit"] = f'"default";r=0;t={reset:g}'
        _, body = envelope_error(
            429, {"code": 971, "message": "Please wait and consider throttling your request speed"}
        )
        return self.inject(429, count=count, method=method, path=path, headers=headers, body=body)

    def echo_requests(self, enabled: bool = True, *, into: tuple[str, ...] | list[str] = ()) -> None:
        """Turn echo mode on (or off): answers repeat the request's headers and URL.

        ``into``: dotted paths of string fields in success bodies that get the echo text
        appended too (``"result.name"``, ``"result.*.content"``; ``*`` is every list item).
        """
        with self.lock:
            self.echo_enabled = enabled
            self.echo_into = tuple(into)

    # -- the request log -------------------------------------------------------------------------

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """Requests received (refused and faulted ones included) matching method/path (exact,
        after ``/client/v4``)."""
        with self.lock:
            return sum(
                1
                for c in self.calls
                if (method is None or c.method == method) and (path is None or c.path == path)
            )

    def pages(self, path: str) -> list[int]:
        """The ``page`` asked for by each GET of ``path`` (1 when not given), in order."""
        with self.lock:
            return [int(c.param("page") or 1) for c in self.calls if c.method == "GET" and c.path == path]

    def reset_log(self) -> None:
        with self.lock:
            self.calls.clear()

    def _record(self, method: str, path: str, query: list[tuple[str, str]], status: int) -> None:
        with self.lock:
            self.calls.append(Call(method, path, tuple(query), status))

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.count -= 1
                    return fault
        return None


def _append_at(node: Any, keys: list[str], suffix: str) -> None:
    """Append ``suffix`` to the string(s) at the dotted path ``keys`` under ``node``."""
    if not keys:
        return
    head, rest = keys[0], keys[1:]
    if head == "*":
        if isinstance(node, list) and rest:
            for child in node:
                _append_at(child, rest, suffix)
        elif isinstance(node, list):
            node[:] = [v + suffix if isinstance(v, str) else v for v in node]
        return
    if not isinstance(node, dict) or head not in node:
        return
    if rest:
        _append_at(node[head], rest, suffix)
    elif isinstance(node[head], str):
        node[head] += suffix


class _Handler(BaseHTTPRequestHandler):
    fake: FakeCloudflare
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes: without TCP_NODELAY, Nagle plus the client's
    # delayed ACK add ~40 ms to every keep-alive request.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    # -- echo --------------------------------------------------------------------------------

    def _request_echo(self, method: str) -> dict[str, Any]:
        """What echo mode repeats: the request's method, full URL and headers."""
        authorization = self.headers.get("Authorization", "")
        match = BEARER.match(authorization)
        return {
            "method": method,
            "url": f"http://{self.headers.get('Host', '')}{self.path}",
            "headers": dict(self.headers.items()),
            "authorization": authorization,
            "token": match.group(1) if match else "",
        }

    @staticmethod
    def _echo_text(echo: dict[str, Any]) -> str:
        # The secrets come first: the client quotes at most 200 characters of a message.
        return (
            f"echo: Authorization: {echo['authorization']} = {echo['token']}; "
            f"{echo['method']} {echo['url']}; headers {json.dumps(echo['headers'])}"
        )

    def _with_echo(self, status: int, body: Any, echo: dict[str, Any]) -> Any:
        """A copy of ``body`` with the request echoed into it (see the module docstring)."""
        body = json.loads(json.dumps(body))  # never touch the fake's own state
        if not isinstance(body, dict):
            return body
        text = self._echo_text(echo)
        body["echo"] = echo
        for error in body.get("errors") or []:
            if isinstance(error, dict):
                error["message"] = f"{error.get('message') or ''} ({text})".strip()
        if status < 400:
            for dotted in self.fake.echo_into:
                _append_at(body, dotted.split("."), f" ({text})")
        return body

    @staticmethod
    def _fill(template: str, echo: dict[str, Any]) -> str:
        return (
            template.replace("{authorization}", echo["authorization"])
            .replace("{token}", echo["token"])
            .replace("{url}", echo["url"])
        )

    # -- answering -----------------------------------------------------------------------------

    def _send(self, status: int, data: bytes, content_type: str, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _answer(self, status: int, body: Any, headers: dict[str, str], echo: dict[str, Any]) -> None:
        if self.fake.echo_enabled:
            with self.fake.lock:
                body = self._with_echo(status, body, echo)
            headers = {**headers, "X-Echo-Authorization": echo["authorization"], "X-Echo-Url": echo["url"]}
        self._send(status, json.dumps(body).encode(), "application/json", headers)

    def _authorise(self) -> tuple[int, dict[str, Any]] | None:
        """None when the request carries the fake's token, else Cloudflare's refusal."""
        header = self.headers.get("Authorization")
        if header is None:
            return envelope_error(
                401, {"code": 9106, "message": "Missing X-Auth-Key, X-Auth-Email or Authorization headers"}
            )
        match = BEARER.match(header)
        if match is None:
            return envelope_error(
                400,
                {
                    "code": 6003,
                    "message": "Invalid request headers",
                    "error_chain": [{"code": 6111, "message": "Invalid format for Authorization header"}],
                },
            )
        if not secrets.compare_digest(match.group(1), self.fake.token):
            return envelope_error(403, {"code": 10000, "message": "Authentication error"})
        return None

    def _handle(self, method: str) -> None:
        split = urlsplit(self.path)
        full_path = unquote(split.path)
        path = full_path[len(API_PREFIX) :] if full_path.startswith(API_PREFIX) else full_path
        query = [(k, v) for k, vs in parse_qs(split.query, keep_blank_values=True).items() for v in vs]
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        fake = self.fake
        echo = self._request_echo(method)
        refusal = self._authorise()
        if refusal is not None:
            fake._record(method, path, query, refusal[0])
            self._answer(refusal[0], refusal[1], {}, echo)
            return
        fault = fake._take_fault(method, path)
        if fault is not None:
            fake._record(method, path, query, fault.status)
            headers = {k: self._fill(v, echo) for k, v in fault.headers.items()}
            if fault.text is not None:
                if fake.echo_enabled:
                    headers = {
                        **headers,
                        "X-Echo-Authorization": echo["authorization"],
                        "X-Echo-Url": echo["url"],
                    }
                self._send(fault.status, self._fill(fault.text, echo).encode(), "text/html", headers)
                return
            _, default = envelope_error(
                fault.status, {"code": 0, "message": f"injected HTTP {fault.status} (the fake's wording)"}
            )
            body = json.loads(json.dumps(fault.body if fault.body is not None else default))
            errors = body.get("errors") if isinstance(body, dict) else None
            for error in errors if isinstance(errors, list) else []:
                if isinstance(error, dict) and isinstance(error.get("message"), str):
                    error["message"] = self._fill(error["message"], echo)
            self._answer(fault.status, body, headers, echo)
            return
        try:
            status, body = self._route(method, path, full_path, query)
        except _Reply as reply:
            status, body = envelope_error(reply.status, *reply.errors)
        fake._record(method, path, query, status)
        self._answer(status, body, {}, echo)

    # -- routing -------------------------------------------------------------------------------

    def _route(
        self, method: str, path: str, full_path: str, query: list[tuple[str, str]]
    ) -> tuple[int, dict[str, Any]]:
        parts = [p for p in path.split("/") if p]
        no_route = {"code": 7000, "message": "No route for that URI"}
        if not parts or parts[0] != "zones" or len(parts) < 2:
            raise _Reply(400, no_route)
        if not HEX32.match(parts[1]) or (len(parts) == 4 and not HEX32.match(parts[3])):
            raise _Reply(
                400,
                {
                    "code": 7003,
                    "message": f"Could not route to {full_path}, perhaps your object identifier is invalid?",
                },
                no_route,
            )
        if method != "GET":
            raise _Reply(405, {"code": 0, "message": f"{method} is not modelled (the fake's wording)"})
        with self.fake.lock:
            zone = self.fake.zones.get(parts[1])
            if zone is None:
                raise _Reply(403, {"code": 10000, "message": "Authentication error"})
            if len(parts) == 2:
                return 200, self._ok(zone.body())
            if parts[2] != "dns_records" or len(parts) > 4:
                raise _Reply(400, no_route)
            if len(parts) == 4:
                record = zone.records.get(parts[3])
                if record is None:
                    raise _Reply(404, {"code": 81044, "message": "Record does not exist."})
                return 200, self._ok(dict(record))
            return 200, self._list(zone, query)

    @staticmethod
    def _ok(result: Any, result_info: dict[str, Any] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"success": True, "errors": [], "messages": [], "result": result}
        if result_info is not None:
            body["result_info"] = result_info
        return body

    @staticmethod
    def _integer(query: dict[str, str], name: str, default: int, low: int, high: int) -> int:
        raw = query.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise _Reply(
                400, {"code": 0, "message": f"{name} must be from {low} to {high} (the fake's wording)"}
            )
        return value

    def _list(self, zone: FakeZone, pairs: list[tuple[str, str]]) -> dict[str, Any]:
        unknown = sorted({k for k, _ in pairs} - LIST_PARAMS)
        if unknown:
            raise _Reply(
                400, {"code": 0, "message": f"query parameter(s) {unknown} not modelled (the fake's wording)"}
            )
        query = dict(pairs)
        page = self._integer(query, "page", 1, 1, 10**9)
        per_page = self._integer(query, "per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
        tests: list[Callable[[dict[str, Any]], bool]] = []
        for key, check in (
            ("name", lambda n, v: n == v),
            ("name.exact", lambda n, v: n == v),
            ("name.contains", lambda n, v: v in n),
            ("name.startswith", lambda n, v: n.startswith(v)),
            ("name.endswith", lambda n, v: n.endswith(v)),
        ):
            if key in query:
                wanted = query[key].strip().rstrip(".").lower()
                tests.append(lambda r, check=check, wanted=wanted: check(r["name"].lower(), wanted))
        if "type" in query:
            kind = query["type"].upper()
            tests.append(lambda r: r["type"] == kind)
        combine = any if query.get("match", "all") == "any" else all
        records = [r for r in zone.records.values() if not tests or combine(t(r) for t in tests)]
        order = query.get("order")
        if order is not None:
            if order not in ORDER_FIELDS:
                raise _Reply(
                    400, {"code": 0, "message": f"order must be one of {ORDER_FIELDS} (the fake's wording)"}
                )
            records.sort(key=lambda r: str(r.get(order)), reverse=query.get("direction") == "desc")
        total = len(records)
        items = [dict(r) for r in records[(page - 1) * per_page : page * per_page]]
        info = {
            "page": page,
            "per_page": per_page,
            "count": len(items),
            "total_count": total,
            "total_pages": max(1, math.ceil(total / per_page)),
        }
        return self._ok(items, info)
