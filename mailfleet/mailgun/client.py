"""``MailgunClient``: the Mailgun REST calls mailfleet makes, for one region.

Contract:
- every call goes to the region's API host (``hosts.API_BASES[region]``) or ``base_url``
  (tests, ``MAILGUN_API_BASE_EU``/``_US``); HTTP basic auth ``api:<key>``;
- at most ``requests_per_minute`` requests leave in any 60 s window (client-side budget);
- a 429 is retried after the wait its ``Retry-After`` (seconds or HTTP date) or
  ``X-RateLimit-Reset`` (epoch seconds, epoch milliseconds, or seconds from now) asks for;
  a 5xx, a timeout or a refused connection is retried with exponential backoff and jitter;
  after ``max_retries`` retries the last error is raised;
- errors are typed (``NotFound``, ``AlreadyExists``, ``Unauthorized``, ``MailgunError``);
- retries also apply to POST, and a retried create LOOKS BEFORE IT CREATES: a POST whose
  answer was lost (timeout, dropped connection) or was a 5xx/429 may have been carried out, so
  before each retry the create methods (``create_domain``, ``create_route``, ``create_webhook``,
  ``create_credential``, ``create_template``, ``create_template_version``) ask Mailgun whether the
  thing now exists (``request(lookup=...)``) and, when it does, return it instead of sending the
  POST again: nothing is created twice (a route, which has no unique name, would be a silent
  duplicate). A route counts as found when one with the same expression, actions, priority and
  description exists; a webhook when the kind has exactly the URLs sent; a login when it exists.

Secrets are never echoed. The key lives in a ``redact.ApiKey`` (``repr`` shows ``***``) and
leaves it only as the basic-auth pair of a request. Nothing the client writes (exception
messages, ``repr``, log records at any level) nor returns carries the key, ``api:<key>`` or
the ``Authorization: Basic`` value (``base64("api:<key>")``):
- a ``base_url`` with credentials in it (``https://api:KEY@host``) is REFUSED, not
  silently cleaned: ``InvalidBaseURL`` (a ``MailgunError``, ``ValueError`` and, for the CLI,
  ``UsageError``) says so without repeating the URL. A query or fragment is refused too;
- what the server says (its ``message``, a non-JSON body, the reason phrase, paging URLs
  that become request paths) is scrubbed of every form of the key before the client quotes
  it: a proxy or a hostile server may echo the request's headers. So are decoded JSON bodies
  the client returns, since callers print fields of them (``domain.state``, route ids);
- a header value the client cannot parse (``Retry-After``) is ignored, never quoted;
- a request whose path or query would hold the key is not sent (urllib3 logs request lines
  at DEBUG);
- exceptions from ``requests`` (their text holds URLs) are neither quoted nor chained: the
  message says "timeout", "connection failed" or the exception's class name, and the
  ``MailgunError`` is raised outside the ``except`` block (no ``__context__``);
- the client enables no extra logging (urllib3's DEBUG lines carry method, path and status,
  never headers) and never sets ``http.client``'s ``debuglevel``.

Sleep and clock are injectable so tests of retries run instantly.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from mailfleet.http.redact import server_text
from mailfleet.http.retry import (
    RETRY_STATUSES,
    backoff,
    give_up,
    rate_limit_reset_seconds,
    retry_after_seconds,
)
from mailfleet.http.transport import NOT_JSON, decode_json, send
from mailfleet.mailgun.errors import MailgunError, classify
from mailfleet.mailgun.hosts import API_BASES
from mailfleet.mailgun.ratelimit import RateLimiter
from mailfleet.mailgun.redact import ApiKey, check_base_url

log = logging.getLogger(__name__)

SUPPRESSION_KINDS = ("bounces", "unsubscribes", "complaints")
SUPPRESSION_IMPORT_BATCH = 1000  # Mailgun accepts up to 1000 addresses per JSON import
PAGE_LIMIT = 100
LIST_LIMIT_MAX = 1000  # Mailgun's documented page maximum of GET /v4/domains, /v3/routes, .../credentials


def _seg(value: str) -> str:
    """One URL path segment (domain names, ids) with everything else escaped."""
    return quote(value, safe="")


class MailgunClient:
    """Synchronous Mailgun API client for one region (thread-safe for concurrent calls)."""

    def __init__(
        self,
        region: str,
        api_key: str,
        base_url: str | None = None,
        session: requests.Session | None = None,
        *,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_rate_wait: float = 120.0,
        requests_per_minute: int = 300,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        if region not in API_BASES:
            raise ValueError(f"unknown Mailgun region {region!r} (expected one of {sorted(API_BASES)})")
        self._key = ApiKey(api_key)
        self.region = region
        self.base_url = check_base_url(region, base_url or API_BASES[region])
        self._session = session or requests.Session()
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_rate_wait = max_rate_wait
        self.timeout = timeout
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter
        self.limiter = RateLimiter(requests_per_minute, clock=clock, sleep=sleep)
        self.retries = 0
        self.requests = 0  # requests sent (every attempt), for callers that report API calls
        self._count_lock = threading.Lock()

    def __repr__(self) -> str:
        return self._scrub(f"MailgunClient(region={self.region!r}, base_url={self.base_url!r})")

    # -- transport -------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        """``text`` without any form of the API key (see ``redact.ApiKey``)."""
        return self._key.scrub(text)

    def retry_after(self, response: requests.Response) -> float | None:
        """Seconds a 429 asks us to wait, from ``Retry-After`` or ``X-RateLimit-Reset``."""
        asked = retry_after_seconds(response.headers.get("Retry-After"), self._clock)
        if asked is not None:
            return asked
        return rate_limit_reset_seconds(response.headers.get("X-RateLimit-Reset"), self._clock)

    def _backoff(self, attempt: int) -> float:
        return backoff(attempt, self.backoff_base, self.backoff_max, self._jitter)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | list[tuple[str, Any]] | None = None,
        data: dict[str, Any] | list[tuple[str, Any]] | None = None,
        json_body: Any = None,
        lookup: Callable[[], Any] | None = None,
    ) -> Any:
        """One API call with retries; returns the decoded JSON body (or {} when empty).

        ``lookup`` (creates): called before each retry; when it returns something other than
        ``None`` the earlier attempt went through, and that is returned instead of a new attempt."""
        url = self.base_url + path
        shown = self._scrub(path)
        if shown != path or self._scrub(repr(params)) != repr(params):
            # urllib3 logs every request line at DEBUG: the key must never be in a URL.
            raise self._error(
                f"Mailgun {method} {shown}: not sent, its URL would hold the API key", method, shown
            )
        attempt = 0
        while True:
            self.limiter.acquire()
            with self._count_lock:
                self.requests += 1
            response = send(
                self._session,
                method,
                url,
                params=params,
                data=data,
                json=json_body,
                auth=("api", self._key.reveal()),
                timeout=self.timeout,
            )
            if isinstance(response, str):
                # No answer: send() gave a word for the failure, not the requests exception (its
                # text holds the URL), so nothing is quoted or chained as __context__.
                failure = response
                given_up = give_up(failure, attempt, self.max_retries)
                if given_up is not None:
                    raise self._error(
                        f"Mailgun {method} {shown} failed: {given_up} ({self.base_url})", method, shown
                    )
                wait = self._backoff(attempt)
                log.info("mailgun retry method=%s path=%s reason=%s wait=%.2f", method, shown, failure, wait)
                self._retry_sleep(wait)
                attempt += 1
                found = self._look(lookup, method, shown)
                if found is not None:
                    return found
                continue

            status = response.status_code
            if status < 400:
                log.debug("mailgun ok method=%s path=%s status=%d", method, shown, status)
                if not response.content:
                    return {}
                body = decode_json(response)
                if body is NOT_JSON:
                    raise self._error(
                        f"Mailgun {method} {shown}: HTTP {status} with a body that is not JSON",
                        method,
                        shown,
                        status,
                    )
                return self._key.scrub_json(body)
            if status in RETRY_STATUSES and attempt < self.max_retries:
                if status == 429:
                    asked = self.retry_after(response)
                    wait = self._backoff(attempt) if asked is None else asked
                    wait = min(wait, self.max_rate_wait)
                else:
                    wait = self._backoff(attempt)
                log.info(
                    "mailgun retry method=%s path=%s status=%d attempt=%d wait=%.2f",
                    method,
                    shown,
                    status,
                    attempt + 1,
                    wait,
                )
                self._retry_sleep(wait)
                attempt += 1
                found = self._look(lookup, method, shown)
                if found is not None:
                    return found
                continue
            error = classify(status, self._error_message(response), method, shown)
            error.args = (self._scrub(str(error.args[0])),)
            raise error

    def _look(self, lookup: Callable[[], Any] | None, method: str, shown: str) -> Any:
        """Before retrying a create: what ``lookup`` finds (the first attempt went through), else None."""
        if lookup is None:
            return None
        found = lookup()
        if found is not None:
            log.info("mailgun create found on retry method=%s path=%s: not sent again", method, shown)
        return found

    def _error(self, message: str, method: str, path: str, status: int | None = None) -> MailgunError:
        return MailgunError(self._scrub(message), status=status, method=method, path=path)

    def _retry_sleep(self, wait: float) -> None:
        self.retries += 1
        self._sleep(wait)

    def _error_message(self, response: requests.Response) -> str:
        """What the server said about its error, scrubbed, on one line, at most 200 characters."""
        body = decode_json(response)
        if body is NOT_JSON:
            message = response.text
        elif isinstance(body, dict):
            message = str(body.get("message") or body.get("Reason") or body.get("error") or "")
        else:
            message = ""
        return server_text(message, response.reason, self._scrub)

    def _local_path(self, url: str) -> str:
        """Path and query of a paging URL, always sent to our own base URL (and key)."""
        try:
            parts = urlsplit(url)
        except ValueError:  # its message quotes the URL, which came from the server
            parts = None
        if parts is None:
            raise MailgunError("Mailgun answered a paging URL that is not a valid URL")
        base_path = urlsplit(self.base_url).path.rstrip("/")
        path = parts.path
        if base_path and path.startswith(base_path):
            path = path[len(base_path) :]
        return path + (f"?{parts.query}" if parts.query else "")

    # -- domains ---------------------------------------------------------------------------

    def get_domain(self, name: str) -> dict[str, Any]:
        """``GET /v4/domains/{name}``: ``domain`` (with ``state``), ``sending_dns_records``,
        ``receiving_dns_records``. Raises ``NotFound`` when the domain is not in this region."""
        return self.request("GET", f"/v4/domains/{_seg(name)}")

    def iter_domains(self, page_size: int = LIST_LIMIT_MAX) -> Iterator[dict[str, Any]]:
        """``GET /v4/domains`` with ``limit``/``skip`` paging (at most 1000 a page): every domain
        of this region, in Mailgun's order (newest first). A domain created while the pages are
        read shifts later pages by one, so a name may come twice: callers dedupe by name."""
        return self._skip_pages("/v4/domains", page_size)

    def list_domains(self, page_size: int = LIST_LIMIT_MAX) -> list[dict[str, Any]]:
        """Every domain of this region (``iter_domains``), each name once."""
        seen: dict[str, dict[str, Any]] = {}
        for item in self.iter_domains(page_size):
            seen.setdefault(str(item.get("name")), item)
        return list(seen.values())

    def domain_exists(self, name: str) -> bool:
        try:
            self.get_domain(name)
        except MailgunError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def verify_domain(self, name: str) -> dict[str, Any]:
        """``PUT /v4/domains/{name}/verify``: ask Mailgun to check the DNS records again."""
        return self.request("PUT", f"/v4/domains/{_seg(name)}/verify")

    def create_domain(
        self,
        name: str,
        dkim_selector: str | None = None,
        dkim_key_size: int = 2048,
        *,
        spam_action: str = "disabled",
        wildcard: bool = False,
        force_dkim_authority: bool = True,
        web_scheme: str = "https",
        extra: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """``POST /v4/domains``. Raises ``AlreadyExists`` when the name exists in any region."""
        form: dict[str, Any] = {
            "name": name,
            "dkim_key_size": str(dkim_key_size),
            "spam_action": spam_action,
            "wildcard": "true" if wildcard else "false",
            "force_dkim_authority": "true" if force_dkim_authority else "false",
            "web_scheme": web_scheme,
        }
        if dkim_selector:
            form["dkim_selector"] = dkim_selector
        form.update(extra or {})

        def lookup() -> dict[str, Any] | None:
            try:
                return self.get_domain(name)
            except MailgunError as exc:
                if exc.status == 404:
                    return None
                raise

        return self.request("POST", "/v4/domains", data=form, lookup=lookup)

    # -- domain keys (Mailgun's "Domain Keys" API) -----------------------------------------

    def import_domain_key(self, domain: str, selector: str, pem: str) -> dict[str, Any]:
        """``POST /v1/dkim/keys`` with ``signing_domain``, ``selector`` and ``pem`` (an RSA
        private key, PKCS #1 PEM): the key becomes one of ``domain``'s keys, inactive until
        ``activate_domain_key``. Mailgun never exports it again. The PEM travels in the form
        body only; no message of this client quotes a request body."""
        form = {"signing_domain": domain, "selector": selector, "pem": pem}
        return self.request("POST", "/v1/dkim/keys", data=form)

    def list_domain_keys(self, domain: str) -> list[dict[str, Any]]:
        """``GET /v4/domains/{domain}/keys``: every key of the domain (``selector``, ``active``,
        ``dns_record``), active or not."""
        body = self.request("GET", f"/v4/domains/{_seg(domain)}/keys")
        return list(body.get("items") or [])

    def activate_domain_key(self, domain: str, selector: str) -> dict[str, Any]:
        """``PUT /v4/domains/{domain}/keys/{selector}/activate``: sign with this key. Mailgun
        refuses while the key's DNS record is not valid."""
        return self.request("PUT", f"/v4/domains/{_seg(domain)}/keys/{_seg(selector)}/activate")

    def deactivate_domain_key(self, domain: str, selector: str) -> dict[str, Any]:
        """``PUT /v4/domains/{domain}/keys/{selector}/deactivate``: stop signing with it."""
        return self.request("PUT", f"/v4/domains/{_seg(domain)}/keys/{_seg(selector)}/deactivate")

    def delete_domain(self, name: str) -> dict[str, Any]:
        """``DELETE /v3/domains/{name}``. Mailgun deletes in the background: the domain may
        still answer GET for a while after this returns."""
        return self.request("DELETE", f"/v3/domains/{_seg(name)}")

    # -- routes (account-wide per region) --------------------------------------------------

    def iter_routes(self, page_size: int = PAGE_LIMIT) -> Iterator[dict[str, Any]]:
        """``GET /v3/routes`` with ``limit``/``skip`` paging: every route in this region."""
        return self._skip_pages("/v3/routes", page_size)

    def _skip_pages(self, path: str, page_size: int) -> Iterator[dict[str, Any]]:
        """The ``items`` of ``GET path?limit=N&skip=K``, page after page, until a page is empty or
        ``total_count`` is reached (Mailgun's paging for domains and routes)."""
        skip = 0
        while True:
            body = self.request("GET", path, params={"limit": page_size, "skip": skip})
            items = body.get("items") or []
            yield from items
            skip += len(items)
            total = body.get("total_count")
            if not items or (isinstance(total, int) and skip >= total):
                return

    def list_routes(self, page_size: int = PAGE_LIMIT) -> list[dict[str, Any]]:
        """Every route in this region (``iter_routes``)."""
        return list(self.iter_routes(page_size))

    def create_route(
        self, expression: str, actions: list[str] | tuple[str, ...], priority: int = 0, description: str = ""
    ) -> dict[str, Any]:
        """``POST /v3/routes``; returns the created ``route`` object (with its ``id``)."""
        form: list[tuple[str, Any]] = [
            ("priority", str(priority)),
            ("description", description),
            ("expression", expression),
        ]
        form.extend(("action", a) for a in actions)

        def lookup() -> dict[str, Any] | None:
            for route in self.iter_routes():
                if (
                    route.get("expression") == expression
                    and list(route.get("actions") or []) == list(actions)
                    and int(route.get("priority") or 0) == int(priority)
                    and (route.get("description") or "") == description
                ):
                    return {"message": "Route has been created", "route": route}
            return None

        body = self.request("POST", "/v3/routes", data=form, lookup=lookup)
        return body.get("route", body)

    def delete_route(self, route_id: str) -> dict[str, Any]:
        return self.request("DELETE", f"/v3/routes/{_seg(route_id)}")

    # -- webhooks ----------------------------------------------------------------------------

    def list_webhooks(self, domain: str) -> dict[str, list[str]]:
        """``GET /v3/domains/{domain}/webhooks`` as ``{kind: [urls]}``."""
        body = self.request("GET", f"/v3/domains/{_seg(domain)}/webhooks")
        out: dict[str, list[str]] = {}
        for kind, value in (body.get("webhooks") or {}).items():
            urls = value.get("urls") if isinstance(value, dict) else None
            if urls is None and isinstance(value, dict) and value.get("url"):
                urls = [value["url"]]
            out[kind] = list(urls or [])
        return out

    def get_webhook(self, domain: str, kind: str) -> list[str]:
        """``GET /v3/domains/{domain}/webhooks/{kind}``: its URLs; ``NotFound`` when not set."""
        body = self.request("GET", f"/v3/domains/{_seg(domain)}/webhooks/{_seg(kind)}")
        hook = body.get("webhook") or {}
        urls = hook.get("urls")
        if urls is None and hook.get("url"):
            urls = [hook["url"]]
        return list(urls or [])

    def create_webhook(self, domain: str, kind: str, urls: list[str] | tuple[str, ...]) -> dict[str, Any]:
        """``POST /v3/domains/{domain}/webhooks`` with ``id=<kind>`` and one ``url`` per URL."""
        form: list[tuple[str, Any]] = [("id", kind)]
        form.extend(("url", u) for u in urls)

        def lookup() -> dict[str, Any] | None:
            try:
                found = self.get_webhook(domain, kind)
            except MailgunError as exc:
                if exc.status == 404:
                    return None
                raise
            if sorted(found) != sorted(urls):
                return None  # someone else's: the retried POST answers "already exists"
            return {"message": "Webhook has been created", "webhook": {"urls": found}}

        return self.request("POST", f"/v3/domains/{_seg(domain)}/webhooks", data=form, lookup=lookup)

    # -- suppressions ------------------------------------------------------------------------

    def iter_suppressions(
        self, domain: str, kind: str, page_size: int = PAGE_LIMIT
    ) -> Iterator[dict[str, Any]]:
        """``GET /v3/{domain}/{kind}`` (a ``SUPPRESSION_KINDS`` list), following ``paging.next``
        until a page is empty."""
        if kind not in SUPPRESSION_KINDS:
            raise ValueError(f"suppression kind must be one of {SUPPRESSION_KINDS}, got {kind!r}")
        path = f"/v3/{_seg(domain)}/{kind}"
        body = self.request("GET", path, params={"limit": page_size})
        seen_pages: set[str] = set()
        while True:
            items = body.get("items") or []
            yield from items
            nxt = (body.get("paging") or {}).get("next")
            if not items or not nxt:
                return
            local = self._local_path(nxt)
            if local in seen_pages:
                return
            seen_pages.add(local)
            body = self.request("GET", local)

    def import_suppressions(self, domain: str, kind: str, entries: list[dict[str, Any]]) -> int:
        """``POST /v3/{domain}/{kind}`` with a JSON list, in batches of 1000; returns the count."""
        if kind not in SUPPRESSION_KINDS:
            raise ValueError(f"suppression kind must be one of {SUPPRESSION_KINDS}, got {kind!r}")
        sent = 0
        for start in range(0, len(entries), SUPPRESSION_IMPORT_BATCH):
            batch = entries[start : start + SUPPRESSION_IMPORT_BATCH]
            self.request("POST", f"/v3/{_seg(domain)}/{kind}", json_body=batch)
            sent += len(batch)
        return sent

    # -- templates --------------------------------------------------------------------------

    def _pivot_pages(self, path: str, list_key: str | None, page_size: int) -> Iterator[dict[str, Any]]:
        """Items of a pivot-paged list (``page``/``p``/``limit``; ``paging.next`` followed
        against our own base URL until a page is empty). ``list_key``: where the items are when
        not under ``items`` (``template.versions``)."""
        body = self.request("GET", path, params={"limit": page_size})
        seen: set[str] = set()
        while True:
            if list_key is None:
                items = body.get("items") or []
            else:
                items = (body.get("template") or {}).get(list_key) or []
            yield from items
            nxt = (body.get("paging") or {}).get("next")
            if not items or not nxt:
                return
            local = self._local_path(nxt)
            if local in seen:
                return
            seen.add(local)
            body = self.request("GET", local)

    def iter_templates(self, domain: str, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """``GET /v3/{domain}/templates`` (pivot paging): each template's metadata (``name``,
        ``description``, ``createdAt``), without versions."""
        return self._pivot_pages(f"/v3/{_seg(domain)}/templates", None, page_size)

    def get_template(self, domain: str, name: str) -> dict[str, Any]:
        """``GET /v3/{domain}/templates/{name}``: metadata; ``NotFound`` when absent."""
        body = self.request("GET", f"/v3/{_seg(domain)}/templates/{_seg(name)}")
        return dict(body.get("template") or {})

    def list_template_versions(self, domain: str, name: str, page_size: int = 100) -> list[dict[str, Any]]:
        """``GET /v3/{domain}/templates/{name}/versions``: each version's ``tag``, ``engine``,
        ``comment``, ``active``, ``createdAt`` (not its content)."""
        path = f"/v3/{_seg(domain)}/templates/{_seg(name)}/versions"
        return list(self._pivot_pages(path, "versions", page_size))

    def get_template_version(self, domain: str, name: str, tag: str) -> dict[str, Any]:
        """``GET /v3/{domain}/templates/{name}/versions/{tag}``: the version with its content
        (``template``); ``NotFound`` when absent."""
        body = self.request("GET", f"/v3/{_seg(domain)}/templates/{_seg(name)}/versions/{_seg(tag)}")
        return dict((body.get("template") or {}).get("version") or {})

    def create_template(self, domain: str, name: str, description: str = "") -> dict[str, Any]:
        """``POST /v3/{domain}/templates`` with metadata only (versions are added with
        ``create_template_version``, so each keeps its tag, comment and engine)."""

        def lookup() -> dict[str, Any] | None:
            try:
                return {"message": "template has been stored", "template": self.get_template(domain, name)}
            except MailgunError as exc:
                if exc.status == 404:
                    return None
                raise

        form = {"name": name, "description": description}
        return self.request("POST", f"/v3/{_seg(domain)}/templates", data=form, lookup=lookup)

    def create_template_version(
        self,
        domain: str,
        name: str,
        tag: str,
        template: str,
        *,
        engine: str = "",
        comment: str = "",
        active: bool = False,
    ) -> dict[str, Any]:
        """``POST /v3/{domain}/templates/{name}/versions``: a version (``active``: it becomes the
        template's active one; the first version of a template always does)."""
        form: dict[str, Any] = {"tag": tag, "template": template, "comment": comment}
        if engine:
            form["engine"] = engine
        if active:
            form["active"] = "yes"

        def lookup() -> dict[str, Any] | None:
            try:
                version = self.get_template_version(domain, name, tag)
            except MailgunError as exc:
                if exc.status == 404:
                    return None
                raise
            return {
                "message": "new version of the template has been stored",
                "template": {"version": version},
            }

        path = f"/v3/{_seg(domain)}/templates/{_seg(name)}/versions"
        return self.request("POST", path, data=form, lookup=lookup)

    # -- SMTP credentials ------------------------------------------------------------------

    def list_credentials(self, domain: str, page_size: int = PAGE_LIMIT) -> list[dict[str, Any]]:
        """``GET /v3/domains/{domain}/credentials`` (``skip``/``limit``): logins, never passwords."""
        out: list[dict[str, Any]] = []
        skip = 0
        while True:
            body = self.request(
                "GET", f"/v3/domains/{_seg(domain)}/credentials", params={"skip": skip, "limit": page_size}
            )
            items = body.get("items") or []
            out.extend(items)
            skip += len(items)
            total = body.get("total_count")
            if not items or (isinstance(total, int) and skip >= total):
                return out

    def list_credential_logins(self, domain: str, page_size: int = LIST_LIMIT_MAX) -> list[str]:
        """The SMTP logins of ``domain`` (``login@domain``), nothing else of each credential."""
        return [str(c["login"]) for c in self.list_credentials(domain, page_size) if c.get("login")]

    def create_credential(self, domain: str, login: str, password: str) -> dict[str, Any]:
        """``POST /v3/domains/{domain}/credentials``. The password goes in the form body only."""
        full = login if "@" in login else f"{login}@{domain}"

        def lookup() -> dict[str, Any] | None:
            if full in self.list_credential_logins(domain):
                return {"message": "Created 1 credentials pair(s)"}
            return None

        return self.request(
            "POST",
            f"/v3/domains/{_seg(domain)}/credentials",
            data={"login": login, "password": password},
            lookup=lookup,
        )
