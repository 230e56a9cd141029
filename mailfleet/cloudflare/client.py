"""``CloudflareClient``: the Cloudflare API v4 reads mailfleet makes (zones, DNS records).

Contract:
- every call goes to ``API_BASE`` (``https://api.cloudflare.com/client/v4``) or ``base_url``
  (tests; callers may read it from ``CLOUDFLARE_BASE_URL``, the variable Cloudflare's own SDKs
  read), with ``Authorization: Bearer <token>``; the caller reads the token
  (``CLOUDFLARE_API_TOKEN``), the client never reads the environment;
- at most ``requests_per_window`` requests leave in any ``window_seconds`` window (default
  1200 per 300 s, Cloudflare's documented global limit);
- a 429 is retried after the wait its ``Retry-After`` (seconds, or an HTTP date) asks for, or
  failing that the ``t=`` of its ``Ratelimit`` header; without either, with backoff. A 5xx, a
  timeout or a refused connection is retried with exponential backoff and jitter. Every wait
  is capped (``max_rate_wait``, ``backoff_max``) and after ``max_retries`` retries the last
  error is raised (``RateLimited``, ``ServerError``, or ``CloudflareError`` with no status);
- errors are typed from the status and Cloudflare's error codes (``errors.classify``); an
  answer whose envelope says ``"success": false`` is an error whatever its status;
- ``list_dns_records`` follows ``page``/``per_page`` until ``result_info.total_pages`` and
  returns every record once; if the zone changes between pages (``total_count`` moves, or the
  pages do not add up to it) it raises ``ListingChanged`` rather than return a listing that
  may miss a record;
- redirects are not followed (the token is never sent to another URL).

The token is never echoed. It lives in a ``redact.ApiToken`` (``repr`` shows ``***``) and
leaves it only in the ``Authorization`` header of a request, set per request by an auth hook
(so a ``~/.netrc`` entry cannot replace it, and the client keeps no object holding it in
clear). Nothing the client writes (exception messages, ``repr``, log records at any level) nor
returns carries the token in any form (``redact.wire_forms``):
- a ``base_url`` with credentials in it, a query or a fragment is REFUSED, not cleaned:
  ``InvalidBaseURL`` (a ``CloudflareError``, ``ValueError`` and, for the CLI, ``UsageError``)
  says so without repeating the URL. So is plain ``http://`` to a host that is not loopback;
- what the server says (error messages and codes' text, a non-JSON body, the reason phrase)
  is scrubbed before the client quotes it, on one line, at most 200 characters, scrubbed
  before it is cut: a proxy or a hostile server may echo the request's headers. So are the
  decoded bodies the client returns, since callers print fields of them (names, contents);
- a header value the client cannot parse (``Retry-After``, ``Ratelimit``) is ignored, never
  quoted; a redirect's ``Location`` is never quoted;
- a request whose path or query would hold the token is not sent (urllib3 logs request
  lines at DEBUG);
- exceptions from ``requests`` (their text holds URLs) are neither quoted nor chained: the
  message says "timeout", "connection failed" or the exception's class name, and the
  ``CloudflareError`` is raised outside the ``except`` block (no ``__context__``);
- the client enables no extra logging and never sets ``http.client``'s ``debuglevel``.

Sleep, clock and jitter are injectable so tests of retries run instantly.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import requests
from requests.auth import AuthBase

from mailfleet.cloudflare.errors import CloudflareError, ListingChanged, RateLimited, classify
from mailfleet.cloudflare.ratelimit import CLOUDFLARE_LIMIT, CLOUDFLARE_WINDOW_SECONDS, WindowLimiter
from mailfleet.cloudflare.redact import ApiToken, check_base_url
from mailfleet.http.redact import server_text
from mailfleet.http.retry import (
    RETRY_STATUSES,
    backoff,
    give_up,
    ratelimit_reset_seconds,
    retry_after_seconds,
)
from mailfleet.http.transport import NOT_JSON, decode_json, send

log = logging.getLogger(__name__)

API_BASE = "https://api.cloudflare.com/client/v4"
DEFAULT_PER_PAGE = 5000  # Cloudflare: default 100, minimum 1, maximum 5,000,000
MAX_PER_PAGE = 5_000_000
MAX_PAGES = 10_000  # a bound on any listing loop, whatever the server says


def _seg(value: str, what: str) -> str:
    """One URL path segment (a zone or record id) with everything else escaped."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"a Cloudflare {what} is required")
    return quote(value.strip(), safe="")


class _BearerAuth(AuthBase):
    """Sets ``Authorization: Bearer <token>`` on one request; made per request, never kept."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "_BearerAuth('***')"


class CloudflareClient:
    """Synchronous Cloudflare API v4 client (thread-safe for concurrent calls)."""

    def __init__(
        self,
        token: str,
        base_url: str | None = None,
        session: requests.Session | None = None,
        *,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_rate_wait: float = CLOUDFLARE_WINDOW_SECONDS,
        requests_per_window: int = CLOUDFLARE_LIMIT,
        window_seconds: float = CLOUDFLARE_WINDOW_SECONDS,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self._token = ApiToken(token)
        self.base_url = check_base_url(API_BASE if base_url is None else base_url)
        self._session = session or requests.Session()
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_rate_wait = max_rate_wait
        self.timeout = timeout
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter
        self.limiter = WindowLimiter(requests_per_window, window_seconds, clock=clock, sleep=sleep)
        self.requests_sent = 0
        self.retries = 0

    def __repr__(self) -> str:
        return self._scrub(f"CloudflareClient(base_url={self.base_url!r})")

    # -- transport -------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        """``text`` without any form of the API token (see ``redact.ApiToken``)."""
        return self._token.scrub(text)

    def retry_after(self, response: requests.Response) -> float | None:
        """Seconds a 429 asks us to wait: ``Retry-After`` (seconds or HTTP date), else the
        ``t=`` (seconds until the window resets) of ``Ratelimit``; None when neither parses."""
        asked = retry_after_seconds(response.headers.get("Retry-After"), self._clock)
        if asked is not None:
            return asked
        return ratelimit_reset_seconds(response.headers.get("Ratelimit"))

    def _backoff(self, attempt: int) -> float:
        return backoff(attempt, self.backoff_base, self.backoff_max, self._jitter)

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None) -> Any:
        """One API call with retries; returns the decoded, scrubbed JSON envelope."""
        url = self.base_url + path
        shown = self._scrub(path)
        if shown != path or self._scrub(repr(params)) != repr(params):
            # urllib3 logs every request line at DEBUG: the token must never be in a URL.
            raise self._error(
                f"Cloudflare {method} {shown}: not sent, its URL would hold the API token", method, shown
            )
        attempt = 0
        while True:
            self.limiter.acquire()
            self.requests_sent += 1
            response = send(
                self._session,
                method,
                url,
                params=params,
                headers={"Accept": "application/json"},
                auth=_BearerAuth(self._token.reveal()),
                timeout=self.timeout,
                allow_redirects=False,
            )
            if isinstance(response, str):
                # No answer: send() gave a word for the failure, not the requests exception (its
                # text holds the URL), so nothing is quoted or chained as __context__.
                failure = response
                given_up = give_up(failure, attempt, self.max_retries)
                if given_up is not None:
                    raise self._error(
                        f"Cloudflare {method} {shown} failed: {given_up} ({self.base_url})", method, shown
                    )
                wait = self._backoff(attempt)
                log.info(
                    "cloudflare retry method=%s path=%s reason=%s wait=%.2f", method, shown, failure, wait
                )
                self._retry_sleep(wait)
                attempt += 1
                continue

            status = response.status_code
            if status in RETRY_STATUSES and attempt < self.max_retries:
                wait = self._backoff(attempt)
                if status == 429:
                    asked = self.retry_after(response)
                    wait = min(wait if asked is None else asked, self.max_rate_wait)
                log.info(
                    "cloudflare retry method=%s path=%s status=%d attempt=%d wait=%.2f",
                    method,
                    shown,
                    status,
                    attempt + 1,
                    wait,
                )
                self._retry_sleep(wait)
                attempt += 1
                continue
            return self._answer(response, method, shown)

    def _answer(self, response: requests.Response, method: str, shown: str) -> Any:
        """The envelope of a final answer, or the typed error it stands for."""
        status = response.status_code
        body = self._json(response)
        if 300 <= status < 400:
            # Not followed, and its Location is not quoted: the token stays with our base URL.
            raise self._error(
                f"Cloudflare {method} {shown}: unexpected redirect (HTTP {status}), not followed",
                method,
                shown,
                status,
            )
        ok_envelope = isinstance(body, dict) and body.get("success") is not False
        if status < 300 and ok_envelope:
            log.debug("cloudflare ok method=%s path=%s status=%d", method, shown, status)
            return self._token.scrub_json(body)
        if status < 300 and not isinstance(body, dict):
            raise self._error(
                f"Cloudflare {method} {shown}: HTTP {status} with a body that is not a JSON envelope",
                method,
                shown,
                status,
            )
        text, codes = self._error_text(response, body)
        error = classify(status, text, codes, method, shown)
        error.args = (self._scrub(str(error.args[0])),)
        if isinstance(error, RateLimited):
            error.retry_after = self.retry_after(response)
        raise error

    def _error(self, message: str, method: str, path: str, status: int | None = None) -> CloudflareError:
        return CloudflareError(self._scrub(message), status=status, method=method, path=path)

    @staticmethod
    def _json(response: requests.Response) -> Any:
        return decode_json(response) if response.content else NOT_JSON

    def _retry_sleep(self, wait: float) -> None:
        self.retries += 1
        self._sleep(wait)

    def _error_text(self, response: requests.Response, body: Any) -> tuple[str, tuple[int, ...]]:
        """What the server said about its error (scrubbed, one line, at most 200 characters)
        and every error code in it, ``error_chain`` included."""
        codes: list[int] = []
        parts: list[str] = []

        def walk(errors: Any, depth: int) -> None:
            if not isinstance(errors, list) or depth > 3:
                return
            for item in errors:
                if not isinstance(item, dict):
                    continue
                code = item.get("code")
                if isinstance(code, int) and not isinstance(code, bool):
                    codes.append(code)
                message = str(item.get("message") or "")
                parts.append(f"{message} (code {code})" if code is not None else message)
                walk(item.get("error_chain"), depth + 1)

        if isinstance(body, dict):
            walk(body.get("errors"), 0)
            text = "; ".join(p for p in parts if p)
        elif body is NOT_JSON:
            text = response.text
        else:
            text = ""
        return server_text(text, response.reason, self._scrub), tuple(codes)

    # -- zones -----------------------------------------------------------------------------

    def get_zone(self, zone_id: str) -> dict[str, Any]:
        """``GET /zones/{zone_id}``: ``id``, ``name``, ``status``, ``name_servers``, ...

        With a token, Cloudflare answers a zone the token cannot read, or that does not
        exist, with 403 / code 10000: ``Unauthorized``."""
        path = f"/zones/{_seg(zone_id, 'zone id')}"
        return self._result(self.request("GET", path), dict, path)

    # -- DNS records -----------------------------------------------------------------------

    def get_dns_record(self, zone_id: str, record_id: str) -> dict[str, Any]:
        """``GET /zones/{zone_id}/dns_records/{record_id}``; ``NotFound`` (404, code 81044)
        when the record does not exist."""
        path = f"/zones/{_seg(zone_id, 'zone id')}/dns_records/{_seg(record_id, 'DNS record id')}"
        return self._result(self.request("GET", path), dict, path)

    def list_dns_records(
        self,
        zone_id: str,
        name: str | None = None,
        type: str | None = None,
        *,
        per_page: int = DEFAULT_PER_PAGE,
    ) -> list[dict[str, Any]]:
        """Every DNS record of a zone, ``GET /zones/{zone_id}/dns_records`` page by page.

        ``name`` is the full record name in Punycode (``_dmarc.example.com``; a trailing dot
        is dropped), matched exactly, ignoring case; ``type`` a record type (``TXT``). Both
        given: records matching both. ``per_page`` is 1 to 5,000,000 (Cloudflare's bounds).
        """
        if isinstance(per_page, bool) or not isinstance(per_page, int) or not 1 <= per_page <= MAX_PER_PAGE:
            raise ValueError(f"per_page must be an integer from 1 to {MAX_PER_PAGE}, got {per_page!r}")
        params: dict[str, Any] = {"per_page": per_page}
        if name is not None:
            if not name.isascii() or not name.strip(". "):
                raise ValueError("a DNS record name filter must be a non-empty name in Punycode (ASCII)")
            params["name"] = name.strip().rstrip(".")
        if type is not None:
            if not type.strip().isalnum():
                raise ValueError("a DNS record type filter must be a record type such as TXT or MX")
            params["type"] = type.strip().upper()
        path = f"/zones/{_seg(zone_id, 'zone id')}/dns_records"

        records: dict[str, dict[str, Any]] = {}
        unnamed: list[dict[str, Any]] = []
        totals: set[int] = set()
        page = 1
        while True:
            body = self.request("GET", path, params={**params, "page": page})
            result = self._result(body, list, path)
            for record in result:
                record_id = record.get("id") if isinstance(record, dict) else None
                if isinstance(record_id, str) and record_id:
                    records.setdefault(record_id, record)
                else:
                    unnamed.append(record)
            info = body.get("result_info") if isinstance(body.get("result_info"), dict) else {}
            total_count, total_pages = info.get("total_count"), info.get("total_pages")
            if isinstance(total_count, int):
                totals.add(total_count)
            # Without paging information, a full page may have a successor.
            more = page < total_pages if isinstance(total_pages, int) else len(result) >= per_page
            if not result or not more:
                break
            page += 1
            if page > MAX_PAGES:
                raise CloudflareError(
                    f"Cloudflare GET {self._scrub(path)}: more than {MAX_PAGES} pages, stopped", method="GET"
                )
        found = len(records) + len(unnamed)
        if len(totals) > 1 or (totals and found != next(iter(totals))):
            raise ListingChanged(
                f"Cloudflare GET {self._scrub(path)}: the zone's records changed while they were being "
                f"listed (total_count {sorted(totals)}, {found} records read); list them again",
                method="GET",
                path=self._scrub(path),
            )
        return [*records.values(), *unnamed]

    def _result(self, body: Any, kind: type, path: str) -> Any:
        """The envelope's ``result``, if it is of the expected JSON kind (list or object)."""
        result = body.get("result") if isinstance(body, dict) else None
        if not isinstance(result, kind):
            shown = self._scrub(path)
            raise CloudflareError(
                f"Cloudflare GET {shown}: the answer has no {'list' if kind is list else 'object'} "
                "as its result",
                method="GET",
                path=shown,
            )
        return result
