"""A local HTTP fake of the Mailgun API, faithful to the documented behaviour mailfleet relies on.

Start it with ``FakeMailgun().start()`` (or as a context manager). Two regions are served by
two threaded HTTP servers on 127.0.0.1, random ports: ``fake.base_url("eu")`` and
``fake.base_url("us")``. Nothing leaves the loopback interface.

What it models
--------------
- HTTP basic auth ``api:<key>``; a missing or wrong key answers 401 ``{"message": ...}``.
- Domains (``GET/POST /v4/domains``, ``GET /v4/domains/{name}``, ``PUT /v4/domains/{name}/verify``,
  ``DELETE /v3/domains/{name}``). Domain names are unique across BOTH regions: creating a
  name that exists in either region (including one whose delete is still in progress)
  answers 400 ``{"message": "The domain name is already taken: ... already exists"}``.
  A domain exists in exactly one region: asking the other region's host answers 404.
  ``DELETE`` answers 200 "Domain will be deleted in the background" but the domain keeps
  answering ``GET`` with 200 until ``delete_delay`` seconds have passed, then 404 (Mailgun is
  eventually consistent; its docs say a 404 "can be temporal").
- The v4 domain body: ``domain`` (``name``, ``state`` ``unverified``/``active``, ``spam_action``,
  ``wildcard``, ``web_scheme``, ...), ``sending_dns_records`` (SPF TXT, DKIM TXT
  ``k=rsa; p=<real RSA public key>`` at ``<selector>._domainkey.<name>``, tracking CNAME) and
  ``receiving_dns_records`` (the region's MX hosts), each with ``valid``.
- Verify: ``PUT .../verify`` marks the records ``valid`` and the domain ``active`` when the
  DNS is "right", decided by ``dns_checker(name, domain_body)`` or, by default, by whether
  the test called ``set_dns_valid(name)``; otherwise ``unverified``/``unknown``.
- Routes (``GET/POST /v3/routes`` with ``skip``/``limit`` and ``total_count``,
  ``GET/DELETE /v3/routes/{id}``): account-wide per region, never shared between regions.
- Webhooks (``GET/POST /v3/domains/{d}/webhooks``, ``GET/PUT/DELETE .../webhooks/{kind}``),
  SMTP credentials (``GET/POST /v3/domains/{d}/credentials`` with ``skip``/``limit``,
  ``DELETE .../credentials/{login}``), suppressions (``GET /v3/{d}/bounces|unsubscribes|complaints``
  with ``limit`` and ``paging.next`` URLs (``page=next&address=...``), ``POST`` of one form
  entry or of a JSON list, ``DELETE /v3/{d}/{kind}/{address}``): all bound to the domain's
  region, and dropped when the domain's delete completes.
- Webhook endpoints answer their 400s as ``{"Reason": ...}`` (Mailgun's field there), the
  others as ``{"message": ...}``.
- Templates (``GET/POST /v3/{d}/templates``, ``GET/DELETE .../templates/{name}`` with
  ``active=yes``, ``GET/POST .../templates/{name}/versions``, ``GET .../versions/{tag}``): names
  and tags of letters, digits and ``.-_~`` (lower-cased), pivot paging (``page``, ``p``,
  ``limit`` default 10, at most 100), the first version active, ``active=yes`` moving it, 100
  templates a domain and 40 versions a template, 409 on a name or tag that exists; bound to the
  domain's region and dropped with it. ``seed_template`` adds one without a call.
- Faults: ``inject(status, ...)`` answers the next ``count`` matching requests with
  ``status`` (e.g. 500/502/503) and optional headers (``apply=True``: after carrying the
  request out); ``lose_response(count, ...)`` carries the request out and closes the connection
  without an answer (a response lost after a create); ``rate_limit(count, retry_after=...)``
  or ``rate_limit(count, reset_in=..., reset_unit="s"|"ms")`` answers 429 with
  ``Retry-After`` or ``X-RateLimit-Reset`` (epoch seconds or milliseconds).
- A request log: ``count(method, path, region)`` and ``calls`` (every request, faults included),
  so tests and benchmarks can count API calls. ``seed_domain``, ``seed_route``,
  ``seed_webhooks`` and ``seed_credential`` add state without a call (a whole fleet in
  milliseconds).
- List pages as Mailgun documents them: ``limit`` defaults to 100 and may not pass 1000 on
  ``GET /v4/domains``, ``/v3/routes`` and ``.../credentials`` (400 otherwise); domains come
  newest first unless ``sort`` is ``name``, ``name:asc`` or ``name:desc``.
- Echo mode (opt-in, ``FakeMailgun(echo=True)`` or ``echo_requests()``): every answer echoes
  the request back, as a careless proxy or a hostile server would, so tests can prove the
  client never repeats a secret. Each answer (401s, faults and successes alike) then carries
  the headers ``X-Echo-Authorization`` (the request's ``Authorization`` header) and
  ``X-Echo-Url`` (the full request URL); each JSON object body gets an ``echo`` member
  (method, URL, every request header, the ``Authorization`` value and its decoded
  ``api:<key>`` pair); each ``message`` (error or success) gets the echo text appended, the
  secrets first; and ``into`` names string fields of success bodies to append it to as well
  (dotted paths, ``*`` for every list item: ``"domain.state"``, ``"items.*.id"``).
  Independently of echo mode, ``{authorization}``, ``{authorization_decoded}`` and ``{url}``
  in an injected fault's header values or ``message`` are replaced with the request's.

What it does not model
----------------------
Sending, events, logs, the legacy stats endpoints, tags, account-level templates, template updates, mailing lists, IP pools, account webhooks,
DKIM key import (``/v1/dkim/keys``), domain updates (``PUT /v4/domains/{name}``), real DNS
lookups (``dns_checker`` is the hook for that), Mailgun's exact error wording beyond the
"already exists" and "not found" phrases, per-endpoint rate-limit windows (429s come only
when injected), and persistence (state lives in memory). DKIM keys are real RSA keys from a
small pool (reused round-robin after a few per size) to keep key generation cheap.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import email.utils
import itertools
import json
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from tests.fakes import mailgun_routes
from tests.fakes.mailgun_ips import IpError, IpState
from tests.fakes.mailgun_metrics import MetricsError, MetricsStore

REGIONS: dict[str, dict[str, Any]] = {
    "us": {"mx": ("mxa.mailgun.org", "mxb.mailgun.org"), "tracking": "mailgun.org"},
    "eu": {"mx": ("mxa.eu.mailgun.org", "mxb.eu.mailgun.org"), "tracking": "eu.mailgun.org"},
}
SUPPRESSION_KINDS = ("bounces", "unsubscribes", "complaints")
WEBHOOK_KINDS = (
    "accepted",
    "clicked",
    "opened",
    "unsubscribed",
    "delivered",
    "permanent_fail",
    "temporary_fail",
    "complained",
)
DEFAULT_SELECTOR = "k1"
KEYS_PER_SIZE = 3


def _rfc2822(ts: float | None = None) -> str:
    return email.utils.formatdate(ts if ts is not None else time.time(), usegmt=True)


_KEY_POOL: dict[int, list[str]] = {}
_KEY_LOCK = threading.Lock()
_KEY_COUNTER = itertools.count()


def public_key_b64(bits: int) -> str:
    """A real RSA public key (base64 DER SubjectPublicKeyInfo), from a small shared pool."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    with _KEY_LOCK:
        pool = _KEY_POOL.setdefault(bits, [])
        n = next(_KEY_COUNTER)
        if len(pool) < KEYS_PER_SIZE:
            key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
            der = key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            pool.append(base64.b64encode(der).decode())
            return pool[-1]
        return pool[n % len(pool)]


@dataclass
class DomainKey:
    """One DKIM key of a domain. The fake keeps the public half only (Mailgun never exports
    private keys; an imported PEM is parsed and dropped)."""

    selector: str
    public_key: str  # base64 DER SubjectPublicKeyInfo
    active: bool = False
    imported: bool = False
    bits: int = 2048

    def dns_record(self, domain: str, valid: str = "unknown") -> dict[str, Any]:
        return {
            "cached": [],
            "name": f"{self.selector}._domainkey.{domain}",
            "record_type": "TXT",
            "valid": valid,
            "value": f"k=rsa; p={self.public_key}",
        }

    def item(self, domain: str, valid: str = "unknown") -> dict[str, Any]:
        return {
            "signing_domain": domain,
            "selector": self.selector,
            "active": self.active,
            "imported": self.imported,
            "dns_record": self.dns_record(domain, valid),
        }


@dataclass
class FakeDomain:
    name: str
    region: str
    dkim_selector: str = DEFAULT_SELECTOR
    dkim_key_size: int = 2048
    dkim_public_key: str = ""
    spam_action: str = "disabled"
    wildcard: bool = False
    force_dkim_authority: bool = False
    web_scheme: str = "https"
    state: str = "unverified"
    dns_valid: bool = False
    id: str = field(default_factory=lambda: secrets.token_hex(12))
    created_at: str = field(default_factory=_rfc2822)
    deleted_at: float | None = None
    # Domain keys (``/v1/dkim/keys``, ``/v4/domains/{d}/keys``): selector -> key. The key the
    # domain was created with is there from the start, active; imported keys start inactive.
    keys: dict[str, DomainKey] = field(default_factory=dict)

    def key_list(self) -> list[DomainKey]:
        if self.dkim_selector not in self.keys:
            self.keys[self.dkim_selector] = DomainKey(self.dkim_selector, self.dkim_public_key, True)
        return list(self.keys.values())

    def dkim_records(self, valid: str) -> list[dict[str, Any]]:
        """The DKIM entries of ``sending_dns_records``: one per active key (the creation key
        when none is active)."""
        keys = self.key_list()
        shown = [k for k in keys if k.active] or [self.keys[self.dkim_selector]]
        return [k.dns_record(self.name, valid) for k in shown]

    def body(self) -> dict[str, Any]:
        facts = REGIONS[self.region]
        valid = "valid" if self.dns_valid else "unknown"
        return {
            "domain": {
                "created_at": self.created_at,
                "id": self.id,
                "is_disabled": False,
                "name": self.name,
                "require_tls": False,
                "skip_verification": False,
                "smtp_login": f"postmaster@{self.name}",
                "spam_action": self.spam_action,
                "state": self.state,
                "type": "custom",
                "web_prefix": "email",
                "web_scheme": self.web_scheme,
                "wildcard": self.wildcard,
            },
            "receiving_dns_records": [
                {"cached": [], "priority": "10", "record_type": "MX", "valid": valid, "value": host}
                for host in facts["mx"]
            ],
            "sending_dns_records": [
                {
                    "cached": [],
                    "name": self.name,
                    "record_type": "TXT",
                    "valid": valid,
                    "value": "v=spf1 include:mailgun.org ~all",
                },
                *self.dkim_records(valid),
                {
                    "cached": [],
                    "name": f"email.{self.name}",
                    "record_type": "CNAME",
                    "valid": valid,
                    "value": facts["tracking"],
                },
            ],
        }


@dataclass
class Fault:
    status: int
    count: int
    method: str | None = None
    path: re.Pattern[str] | None = None
    region: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    # The request is carried out first, then answered with the fault (status 0: no answer at
    # all, the connection is closed: a response lost on the way back).
    apply: bool = False

    def matches(self, region: str, method: str, path: str) -> bool:
        if self.count <= 0:
            return False
        if self.region is not None and self.region != region:
            return False
        if self.method is not None and self.method != method:
            return False
        return self.path is None or bool(self.path.search(path))


@dataclass(frozen=True)
class Call:
    region: str
    method: str
    path: str
    status: int


class FakeMailgun:
    """The fake's state and its two servers. Thread-safe; all state behind one lock."""

    def __init__(
        self,
        api_key: str = "key-fake-0123456789abcdef",
        *,
        delete_delay: float = 0.0,
        host: str = "127.0.0.1",
        dns_checker: Callable[[str, dict[str, Any]], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
        echo: bool = False,
        echo_into: tuple[str, ...] = (),
    ) -> None:
        self.api_key = api_key
        self.echo_enabled = echo
        self.echo_into: tuple[str, ...] = tuple(echo_into)
        self.delete_delay = delete_delay
        # Domains whose background delete never completes (a tenant stuck at wait-gone).
        self.never_gone: set[str] = set()
        self.host = host
        self.dns_checker = dns_checker
        self.clock = clock
        self.lock = threading.RLock()
        self.domains: dict[str, FakeDomain] = {}
        self.routes: dict[str, dict[str, dict[str, Any]]] = {r: {} for r in REGIONS}
        self.webhooks: dict[tuple[str, str], dict[str, list[str]]] = {}
        # every accepted PUT /v4/domains/{name}: (region, domain, fields)
        self.domain_updates: list[tuple[str, str, dict[str, str]]] = []
        self.credentials: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self.suppressions: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}
        # (region, domain) -> template name -> {"name", "description", "createdAt", "id",
        # "versions": {tag: {"tag", "template", "engine", "comment", "createdAt", "active", "id"}}}
        self.templates: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self.valid_dns: set[str] = set()
        # Whether a domain key's DNS record is published (activation needs it):
        # ``key_dns_checker(record_name, value) -> bool``; without it, the domain's
        # ``set_dns_valid`` decides.
        self.key_dns_checker: Callable[[str, str], bool] | None = None
        self.faults: list[Fault] = []
        self.calls: list[Call] = []
        self.counter: Counter[tuple[str, str, str]] = Counter()
        self.metrics = MetricsStore()  # POST /v1/analytics/metrics (tests/fakes/mailgun_metrics.py)
        self.ips = IpState()  # /v3/ips, /v3/domains/{d}/ips (tests/fakes/mailgun_ips.py)
        self._servers: dict[str, ThreadingHTTPServer] = {}
        self._threads: list[threading.Thread] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeMailgun:
        for region in REGIONS:
            handler = type(f"Handler_{region}", (_Handler,), {"fake": self, "region": region})
            server = ThreadingHTTPServer((self.host, 0), handler)
            server.daemon_threads = True
            self._servers[region] = server
            thread = threading.Thread(
                target=server.serve_forever, args=(0.05,), name=f"fake-mailgun-{region}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> FakeMailgun:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def base_url(self, region: str) -> str:
        host, port = self._servers[region].server_address[:2]
        return f"http://{host}:{port}"

    @property
    def urls(self) -> dict[str, str]:
        return {r: self.base_url(r) for r in self._servers}

    def env(self) -> dict[str, str]:
        """Environment for a ``mailfleet`` subprocess pointed at this fake."""
        return {
            "MAILGUN_API_KEY": self.api_key,
            "MAILGUN_API_BASE_EU": self.base_url("eu"),
            "MAILGUN_API_BASE_US": self.base_url("us"),
        }

    # -- test controls -----------------------------------------------------------------------

    def inject(
        self,
        status: int,
        *,
        count: int = 1,
        method: str | None = None,
        path: str | None = None,
        region: str | None = None,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        apply: bool = False,
    ) -> Fault:
        """Answer the next ``count`` matching requests with ``status`` (``path`` is a regex);
        with ``apply``, after carrying each out (a 502 from a proxy whose backend did the work)."""
        fault = Fault(
            status,
            count,
            method.upper() if method else None,
            re.compile(path) if path else None,
            region,
            dict(headers or {}),
            body,
            apply,
        )
        with self.lock:
            self.faults.append(fault)
        return fault

    def lose_response(
        self, count: int = 1, *, method: str | None = None, path: str | None = None, region: str | None = None
    ) -> Fault:
        """Carry out the next ``count`` matching requests, then close the connection without an
        answer: the client sees a dropped connection (as after a timeout) although the create,
        update or delete happened. The request log records them with status 0."""
        return self.inject(0, count=count, method=method, path=path, region=region, apply=True)

    def rate_limit(
        self,
        count: int,
        *,
        retry_after: float | None = None,
        reset_in: float | None = None,
        reset_unit: str = "s",
        method: str | None = None,
        path: str | None = None,
        region: str | None = None,
    ) -> Fault:
        """A burst of ``count`` 429s carrying ``Retry-After`` or ``X-RateLimit-Reset``.

        ``reset_in`` is seconds from now; the header carries the absolute epoch time in
        seconds (``reset_unit="s"``) or milliseconds (``"ms"``).
        """
        headers: dict[str, str] = {}
        if retry_after is not None:
            headers["Retry-After"] = f"{retry_after:g}"
        if reset_in is not None:
            reset = time.time() + reset_in
            headers["X-RateLimit-Reset"] = str(int(reset * 1000)) if reset_unit == "ms" else f"{reset:.0f}"
        return self.inject(
            429,
            count=count,
            method=method,
            path=path,
            region=region,
            headers=headers,
            body={"message": "Too many requests", "retry-seconds": retry_after or reset_in or 1},
        )

    def echo_requests(self, enabled: bool = True, *, into: tuple[str, ...] | list[str] = ()) -> None:
        """Turn echo mode on (or off): answers repeat the request's headers and URL.

        ``into``: dotted paths of string fields in success bodies that get the echo text
        appended too (``"domain.state"``, ``"items.*.id"``; ``*`` is every item of a list).
        """
        with self.lock:
            self.echo_enabled = enabled
            self.echo_into = tuple(into)

    def set_dns_valid(self, name: str, valid: bool = True) -> None:
        with self.lock:
            if valid:
                self.valid_dns.add(name)
            else:
                self.valid_dns.discard(name)

    def seed_domain(self, name: str, region: str, **kw: Any) -> FakeDomain:
        """Add a domain directly (no API call, not logged)."""
        with self.lock:
            domain = FakeDomain(name=name, region=region, **kw)
            if not domain.dkim_public_key:
                domain.dkim_public_key = public_key_b64(domain.dkim_key_size)
            self.domains[name] = domain
            return domain

    def seed_route(
        self,
        region: str,
        expression: str,
        actions: list[str] | tuple[str, ...],
        *,
        priority: int = 0,
        description: str = "",
        route_id: str | None = None,
    ) -> dict[str, Any]:
        """Add a route directly (no API call, not logged); returns it, with its ``id``."""
        with self.lock:
            route = {
                "id": route_id or secrets.token_hex(12),
                "priority": priority,
                "description": description,
                "expression": expression,
                "actions": list(actions),
                "created_at": _rfc2822(),
            }
            self.routes[region][route["id"]] = route
            return route

    def seed_webhooks(self, region: str, domain: str, hooks: dict[str, list[str]]) -> None:
        """Set webhooks of a seeded domain directly: ``{kind: [1-3 urls]}`` (no API call)."""
        with self.lock:
            dom = self.domains.get(domain)
            if dom is None or dom.region != region:
                raise KeyError(f"no domain {domain} in {region}: seed it first")
            bad = [k for k, urls in hooks.items() if k not in WEBHOOK_KINDS or not 1 <= len(urls) <= 3]
            if bad:
                raise ValueError(f"webhooks {bad}: a kind of {WEBHOOK_KINDS} with 1-3 urls each")
            self.webhooks.setdefault((region, domain), {}).update({k: list(v) for k, v in hooks.items()})

    def seed_credential(self, region: str, domain: str, login: str, password: str | None = None) -> str:
        """Add an SMTP credential directly (``login`` or ``login@domain``); returns the full login."""
        with self.lock:
            dom = self.domains.get(domain)
            if dom is None or dom.region != region:
                raise KeyError(f"no domain {domain} in {region}: seed it first")
            full = login if "@" in login else f"{login}@{domain}"
            self.credentials.setdefault((region, domain), {})[full] = {
                "password": password or secrets.token_urlsafe(16),
                "created_at": _rfc2822(),
            }
            return full

    def seed_metrics(self, region: str, domain: str, counts: dict[str, int], **kw: Any) -> None:
        """Counts the Metrics API reports for ``domain`` (``at=`` a datetime, ``attrs=`` ip/tag...)."""
        with self.lock:
            self.metrics.seed(region, domain, counts, **kw)

    def seed_template(
        self, region: str, domain: str, name: str, versions: list[dict[str, Any]], *, description: str = ""
    ) -> None:
        """Add a template with ``versions`` (dicts with ``tag``, ``template``, optional ``engine``,
        ``comment``, ``active``; the first is active unless one says so) directly (no API call)."""
        with self.lock:
            dom = self.domains.get(domain)
            if dom is None or dom.region != region:
                raise KeyError(f"no domain {domain} in {region}: seed it first")
            entries = {}
            for v in versions:
                entries[v["tag"]] = {
                    "tag": v["tag"],
                    "template": v["template"],
                    "engine": v.get("engine", "handlebars"),
                    "comment": v.get("comment", ""),
                    "createdAt": _rfc2822(),
                    "active": bool(v.get("active")),
                    "id": secrets.token_hex(12),
                }
            if entries and not any(e["active"] for e in entries.values()):
                next(iter(entries.values()))["active"] = True
            self.templates.setdefault((region, domain), {})[name] = {
                "name": name,
                "description": description,
                "createdAt": _rfc2822(),
                "createdBy": "",
                "id": secrets.token_hex(12),
                "versions": entries,
            }

    def seed_ip(self, region: str, ip: str, dedicated: bool = True) -> None:
        with self.lock:
            self.ips.seed_ip(region, ip, dedicated)

    def seed_shared_ips(self, region: str, ips: list[str]) -> None:
        """The IPs a domain without its own IPs sends from in ``region``."""
        with self.lock:
            self.ips.seed_shared(region, ips)

    def seed_pool(self, region: str, pool_id: str, ips: list[str]) -> None:
        with self.lock:
            self.ips.seed_pool(region, pool_id, ips)

    def deliver(
        self, region: str, recipient: str, headers: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """The routes of ``region`` whose actions Mailgun would run for a message to ``recipient``
        (with MIME ``headers``), in the order it runs them (tests/fakes/mailgun_routes.py)."""
        with self.lock:
            routes = list(self.routes[region].values())
        return mailgun_routes.deliver(routes, recipient, headers)

    def count(self, method: str | None = None, path: str | None = None, region: str | None = None) -> int:
        """Requests received (faulted ones included) matching method/path (exact)/region."""
        with self.lock:
            return sum(
                1
                for c in self.calls
                if (method is None or c.method == method)
                and (path is None or c.path == path)
                and (region is None or c.region == region)
            )

    def reset_log(self) -> None:
        with self.lock:
            self.calls.clear()
            self.counter.clear()

    # -- state helpers (called with the lock held) -------------------------------------------

    def _purge_deleted(self) -> None:
        now = self.clock()
        for name, dom in list(self.domains.items()):
            if (
                dom.deleted_at is not None
                and now - dom.deleted_at >= self.delete_delay
                and name not in self.never_gone
            ):
                del self.domains[name]
                self.webhooks.pop((dom.region, name), None)
                self.credentials.pop((dom.region, name), None)
                for kind in SUPPRESSION_KINDS:
                    self.suppressions.pop((dom.region, name, kind), None)
                self.templates.pop((dom.region, name), None)

    def _domain_in(self, region: str, name: str) -> FakeDomain | None:
        self._purge_deleted()
        dom = self.domains.get(name)
        if dom is None or dom.region != region:
            return None
        return dom

    def _record(self, region: str, method: str, path: str, status: int) -> None:
        with self.lock:
            self.calls.append(Call(region, method, path, status))
            self.counter[(region, method, path)] += 1

    def _take_fault(self, region: str, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(region, method, path):
                    fault.count -= 1
                    return fault
        return None


Response = tuple[int, dict[str, Any] | list[Any], dict[str, str]]


def _public_of_pem(pem: str) -> tuple[str, int]:
    """The base64 DER public key and size of an RSA private key PEM (400 when it is not one)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise _Reply(400, "pem is not an unencrypted RSA private key in PEM format") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise _Reply(400, "pem is not an RSA private key")
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode(), key.key_size


def _form(handler: BaseHTTPRequestHandler, raw: bytes) -> dict[str, list[str]]:
    ctype = handler.headers.get("Content-Type", "")
    if ctype.startswith("multipart/form-data"):
        msg = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw)
        out: dict[str, list[str]] = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name:
                out.setdefault(str(name), []).append(part.get_content().strip("\r\n"))
        return out
    return parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeMailgun
    region: str
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

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:]).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        return decoded == f"api:{self.fake.api_key}"

    def _request_echo(self, method: str) -> dict[str, Any]:
        """What echo mode repeats: the request's method, full URL and headers."""
        authorization = self.headers.get("Authorization", "")
        decoded = ""
        if authorization.startswith("Basic "):
            try:
                decoded = base64.b64decode(authorization[6:]).decode()
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
        return {
            "method": method,
            "url": f"http://{self.headers.get('Host', '')}{self.path}",
            "headers": dict(self.headers.items()),
            "authorization": authorization,
            "authorization_decoded": decoded,
        }

    @staticmethod
    def _echo_text(echo: dict[str, Any]) -> str:
        # The secrets come first: the client quotes at most 200 characters of a message.
        return (
            f"echo: Authorization: {echo['authorization']} = {echo['authorization_decoded']}; "
            f"{echo['method']} {echo['url']}; headers {json.dumps(echo['headers'])}"
        )

    def _with_echo(self, status: int, body: Any, echo: dict[str, Any]) -> Any:
        """A copy of ``body`` with the request echoed into it (see the module docstring)."""
        body = json.loads(json.dumps(body))  # never touch the fake's own state
        if not isinstance(body, dict):
            return body
        text = self._echo_text(echo)
        body["echo"] = echo
        if status >= 400 or "message" in body:
            body["message"] = f"{body.get('message') or ''} ({text})".strip()
        if status < 400:
            for dotted in self.fake.echo_into:
                _append_at(body, dotted.split("."), f" ({text})")
        return body

    @staticmethod
    def _fill(template: str, echo: dict[str, Any]) -> str:
        return (
            template.replace("{authorization}", echo["authorization"])
            .replace("{authorization_decoded}", echo["authorization_decoded"])
            .replace("{url}", echo["url"])
        )

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        split = urlsplit(self.path)
        path = unquote(split.path)
        query = parse_qs(split.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        fake = self.fake
        echo = self._request_echo(method)
        if not self._authorised():
            fake._record(self.region, method, path, 401)
            self._answer(401, {"message": "Invalid private key"}, {}, echo)
            return
        fault = fake._take_fault(self.region, method, path)
        if fault is not None and fault.apply:
            with contextlib.suppress(_Reply):  # carried out: an error answer is lost too
                self._route(method, path, query, raw)
            if fault.status == 0:
                fake._record(self.region, method, path, 0)
                self.close_connection = True  # no status line, no body: the answer is lost
                return
        if fault is not None:
            fake._record(self.region, method, path, fault.status)
            body = json.loads(json.dumps(fault.body or {"message": "Internal error (injected)"}))
            if isinstance(body, dict) and isinstance(body.get("message"), str):
                body["message"] = self._fill(body["message"], echo)
            headers = {k: self._fill(v, echo) for k, v in fault.headers.items()}
            self._answer(fault.status, body, headers, echo)
            return
        try:
            status, body, headers = self._route(method, path, query, raw)
        except _Reply as reply:
            status, body, headers = reply.status, {reply.field: reply.message}, {}
        fake._record(self.region, method, path, status)
        self._answer(status, body, headers, echo)

    def _answer(self, status: int, body: Any, headers: dict[str, str], echo: dict[str, Any]) -> None:
        if self.fake.echo_enabled:
            with self.fake.lock:
                body = self._with_echo(status, body, echo)
            headers = {**headers, "X-Echo-Authorization": echo["authorization"], "X-Echo-Url": echo["url"]}
        self._send(status, body, headers)

    # -- routing -------------------------------------------------------------------------------

    def _route(self, method: str, path: str, query: dict[str, list[str]], raw: bytes) -> Response:
        parts = [p for p in path.split("/") if p]
        fake = self.fake
        with fake.lock:
            if parts[:2] == ["v4", "domains"]:
                return self._domains_v4(method, parts[2:], query, raw)
            if parts[:2] == ["v3", "domains"] and len(parts) >= 3:
                name = parts[2]
                rest = parts[3:]
                if not rest:
                    if method == "DELETE":
                        return self._delete_domain(name)
                    if method == "GET":
                        dom = self._need_domain(name)
                        return 200, dom.body(), {}
                if rest and rest[0] == "webhooks":
                    return self._webhooks(method, name, rest[1:], raw)
                if rest and rest[0] == "credentials":
                    return self._credentials(method, name, rest[1:], query, raw)
                if rest and rest[0] == "ips":
                    self._need_domain(name)
                    return self._ips(method, name, rest[1:], query, raw)
            if parts[:2] == ["v3", "ips"]:
                return self._ips(method, None, parts[2:], query, raw)
            if parts[:2] == ["v3", "routes"]:
                return self._routes(method, parts[2:], query, raw)
            if parts == ["v1", "analytics", "metrics"] and method == "POST":
                return self._metrics(raw)
            if len(parts) >= 3 and parts[0] == "v3" and parts[2] == "templates":
                return self._templates(method, parts[1], parts[3:], query, raw)
            if parts[:3] == ["v1", "dkim", "keys"] and len(parts) == 3:
                return self._dkim_keys(method, query, raw)
            if len(parts) >= 3 and parts[0] == "v3" and parts[2] in SUPPRESSION_KINDS:
                return self._suppressions(method, parts[1], parts[2], parts[3:], query, raw)
        raise _Reply(404, "Not found (the fake does not model this endpoint)")

    def _ips(
        self, method: str, domain: str | None, rest: list[str], query: dict[str, list[str]], raw: bytes
    ) -> Response:
        form = _form(self, raw) if method == "POST" else {}
        try:
            return 200, self.fake.ips.handle(self.region, method, domain, rest, query, form), {}
        except IpError as exc:
            raise _Reply(exc.status, str(exc)) from None

    def _metrics(self, raw: bytes) -> Response:
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise _Reply(400, "the request body is not JSON") from None
        try:
            return 200, self.fake.metrics.query(self.region, body, datetime.now(UTC)), {}
        except MetricsError as exc:
            raise _Reply(400, str(exc)) from None

    def _need_domain(self, name: str) -> FakeDomain:
        dom = self.fake._domain_in(self.region, name)
        if dom is None:
            raise _Reply(404, "Domain not found")
        return dom

    # domains
    def _domains_v4(self, method: str, rest: list[str], query: dict[str, list[str]], raw: bytes) -> Response:
        fake = self.fake
        if not rest:
            if method == "GET":
                fake._purge_deleted()
                skip, limit = _skip_limit(query, "The 'limit' parameter can't be larger than 1000")
                # Mailgun: "If sorting is not specified domains are returned in reverse creation
                # date order"; ``sort`` is ``name`` (ascending), ``name:asc`` or ``name:desc``.
                found = [d for d in fake.domains.values() if d.region == self.region]
                order = (query.get("sort") or [""])[0]
                if order in ("name", "name:asc", "name:desc"):
                    found.sort(key=lambda d: d.name, reverse=order == "name:desc")
                elif order:
                    raise _Reply(400, f"Invalid sort option {order!r}")
                else:
                    found.reverse()
                page = [d.body()["domain"] for d in found[skip : skip + limit]]
                return 200, {"total_count": len(found), "items": page}, {}
            if method == "POST":
                return self._create_domain(_form(self, raw))
            raise _Reply(405, "Method not allowed")
        name = rest[0]
        if len(rest) == 1 and method == "GET":
            return 200, self._need_domain(name).body(), {}
        if len(rest) == 1 and method == "PUT":
            return self._update_domain(self._need_domain(name), _form(self, raw))
        if len(rest) == 2 and rest[1] == "keys" and method == "GET":
            dom = self._need_domain(name)
            valid = "valid" if dom.dns_valid else "unknown"
            return 200, {"items": [k.item(name, valid) for k in dom.key_list()], "paging": {}}, {}
        if len(rest) == 4 and rest[1] == "keys" and rest[3] in ("activate", "deactivate") and method == "PUT":
            return self._key_activation(name, rest[2], rest[3] == "activate")
        if len(rest) == 2 and rest[1] == "verify" and method == "PUT":
            dom = self._need_domain(name)
            body = dom.body()
            if fake.dns_checker is not None:
                ok = bool(fake.dns_checker(name, body))
            else:
                ok = name in fake.valid_dns
            dom.dns_valid = ok
            dom.state = "active" if ok else "unverified"
            body = dom.body()
            body["message"] = "Domain DNS records have been updated"
            return 200, body, {}
        raise _Reply(404, "Not found")

    def _create_domain(self, form: dict[str, list[str]]) -> Response:
        fake = self.fake
        name = (form.get("name") or [""])[0].strip().lower()
        if not name or "." not in name:
            raise _Reply(400, "'name' parameter is required and must be a domain name")
        fake._purge_deleted()
        if name in fake.domains:
            raise _Reply(400, f"The domain name is already taken: {name} already exists")
        bits = int((form.get("dkim_key_size") or ["1024"])[0])
        if bits not in (1024, 2048):
            raise _Reply(400, "dkim_key_size must be 1024 or 2048")

        def flag(key: str, default: bool) -> bool:
            value = (form.get(key) or [str(default).lower()])[0].lower()
            return value in ("true", "yes", "1")

        dom = FakeDomain(
            name=name,
            region=self.region,
            dkim_selector=(form.get("dkim_selector") or [DEFAULT_SELECTOR])[0],
            dkim_key_size=bits,
            dkim_public_key=public_key_b64(bits),
            spam_action=(form.get("spam_action") or ["disabled"])[0],
            wildcard=flag("wildcard", False),
            force_dkim_authority=flag("force_dkim_authority", False),
            web_scheme=(form.get("web_scheme") or ["http"])[0],
        )
        fake.domains[name] = dom
        body = dom.body()
        body["message"] = "Domain DNS records have been created"
        return 200, body, {}

    def _update_domain(self, dom: FakeDomain, form: dict[str, list[str]]) -> Response:
        """``PUT /v4/domains/{name}``: the documented fields, each validated before any applies."""
        fields = {k: v[0] for k, v in form.items() if v}
        if not fields:
            raise _Reply(400, "at least one field to update is required")
        for key, allowed in DOMAIN_UPDATE_CHOICES.items():
            if key in fields and fields[key] not in allowed:
                raise _Reply(400, f"{key} must be one of {', '.join(allowed)}, not {fields[key]!r}")
        if "mailfrom_host" in fields and fields["mailfrom_host"] != fields["mailfrom_host"].lower():
            raise _Reply(400, "mailfrom_host must be in lower case")
        if "message_ttl" in fields and not fields["message_ttl"].isdigit():
            raise _Reply(400, f"message_ttl must be an integer, not {fields['message_ttl']!r}")
        if "spam_action" in fields:
            dom.spam_action = fields["spam_action"]
        if "web_scheme" in fields:
            dom.web_scheme = fields["web_scheme"]
        if "wildcard" in fields:
            dom.wildcard = fields["wildcard"] == "true"
        self.fake.domain_updates.append((self.region, dom.name, dict(fields)))
        body = dom.body()
        body["message"] = "Domain has been updated"
        return 200, body, {}

    def _delete_domain(self, name: str) -> Response:
        dom = self._need_domain(name)
        if dom.deleted_at is None:
            dom.deleted_at = self.fake.clock()
        self.fake._purge_deleted()
        return 200, {"message": "Domain will be deleted in the background"}, {}

    # domain keys
    def _dkim_keys(self, method: str, query: dict[str, list[str]], raw: bytes) -> Response:
        """``GET/POST/DELETE /v1/dkim/keys`` (Mailgun's "Domain Keys" API)."""
        fake = self.fake
        if method == "GET":
            domain = (query.get("signing_domain") or [""])[0]
            selector = (query.get("selector") or [""])[0]
            items = [
                k.item(d.name)
                for d in fake.domains.values()
                if d.region == self.region and d.deleted_at is None and (not domain or d.name == domain)
                for k in d.key_list()
                if not selector or k.selector == selector
            ]
            return 200, {"items": items, "paging": {}}, {}
        if method == "DELETE":
            dom = self._need_domain((query.get("signing_domain") or [""])[0])
            selector = (query.get("selector") or [""])[0]
            dom.key_list()
            if dom.keys.pop(selector, None) is None:
                raise _Reply(404, "domain key not found")
            return 200, {"message": "success"}, {}
        if method != "POST":
            raise _Reply(405, "Method not allowed")
        form = _form(self, raw)
        domain = (form.get("signing_domain") or [""])[0].strip().lower()
        selector = (form.get("selector") or [""])[0].strip()
        if not domain or not selector:
            raise _Reply(400, "signing_domain and selector are required")
        dom = self._need_domain(domain)
        if selector in {k.selector for k in dom.key_list()}:
            raise _Reply(400, f"a domain key with selector {selector} already exists for {domain}")
        bits_text = (form.get("bits") or [""])[0]
        pem = (form.get("pem") or [""])[0]
        if pem:
            public, bits = _public_of_pem(pem)
            if bits_text and int(bits_text) != bits:
                raise _Reply(400, "bits does not match the key in pem")
        else:
            bits = int(bits_text or "2048")
            if bits not in (1024, 2048):
                raise _Reply(400, "bits must be 1024 or 2048")
            public = public_key_b64(bits)
        key = DomainKey(selector, public, active=False, imported=bool(pem), bits=bits)
        dom.keys[selector] = key
        return 200, {"signing_domain": domain, "selector": selector, "dns_record": key.dns_record(domain)}, {}

    def _key_activation(self, name: str, selector: str, activate: bool) -> Response:
        fake = self.fake
        dom = self._need_domain(name)
        key = next((k for k in dom.key_list() if k.selector == selector), None)
        if key is None:
            raise _Reply(404, "domain key not found")
        if activate:
            record = key.dns_record(name)
            if fake.key_dns_checker is not None:
                ok = bool(fake.key_dns_checker(record["name"], record["value"]))
            else:
                ok = name in fake.valid_dns
            if not ok:
                # Mailgun: "dns records must be valid for a domain key to be activated".
                raise _Reply(400, f"the DNS record {record['name']} of the domain key is not valid")
        key.active = activate
        word = "activated" if activate else "deactivated"
        return (
            200,
            {"message": f"domain key {word}", "authority": name, "selector": selector, "active": activate},
            {},
        )

    # routes
    def _routes(self, method: str, rest: list[str], query: dict[str, list[str]], raw: bytes) -> Response:
        routes = self.fake.routes[self.region]
        if not rest:
            if method == "GET":
                skip, limit = _skip_limit(query, "The 'limit' parameter can't be larger than 1000")
                items = list(routes.values())
                return 200, {"total_count": len(items), "items": items[skip : skip + limit]}, {}
            if method == "POST":
                form = _form(self, raw)
                expression = (form.get("expression") or [""])[0]
                actions = form.get("action") or []
                if not expression or not actions:
                    raise _Reply(400, "expression and at least one action are required")
                try:  # Mailgun refuses a filter it cannot evaluate (docs/mailgun-fake.md)
                    mailgun_routes.parse(expression)
                except mailgun_routes.InvalidExpression as exc:
                    raise _Reply(400, f"Invalid expression: {exc}") from None
                if len(",".join(actions)) > mailgun_routes.MAX_FIELD:
                    raise _Reply(400, f"actions are longer than {mailgun_routes.MAX_FIELD} characters")
                priority = (form.get("priority") or ["0"])[0]
                if not priority.isdigit():
                    raise _Reply(400, f"priority must be a non-negative integer, not {priority!r}")
                route = {
                    "id": secrets.token_hex(12),
                    "priority": int(priority),
                    "description": (form.get("description") or [""])[0],
                    "expression": expression,
                    "actions": actions,
                    "created_at": _rfc2822(),
                }
                routes[route["id"]] = route
                return 200, {"message": "Route has been created", "route": route}, {}
            raise _Reply(405, "Method not allowed")
        route_id = rest[0]
        if route_id not in routes:
            raise _Reply(404, "Route not found")
        if method == "GET":
            return 200, {"route": routes[route_id]}, {}
        if method == "DELETE":
            del routes[route_id]
            return 200, {"message": "Route has been deleted", "id": route_id}, {}
        raise _Reply(405, "Method not allowed")

    # webhooks
    def _webhooks(self, method: str, name: str, rest: list[str], raw: bytes) -> Response:
        self._need_domain(name)
        hooks = self.fake.webhooks.setdefault((self.region, name), {})
        if not rest:
            if method == "GET":
                return 200, {"webhooks": {k: {"urls": list(v)} for k, v in hooks.items()}}, {}
            if method == "POST":
                form = _form(self, raw)
                kind = (form.get("id") or [""])[0]
                urls = form.get("url") or []
                if kind not in WEBHOOK_KINDS:
                    raise _Reply(400, f"Invalid webhook id {kind!r}", REASON)
                if not urls or len(urls) > 3:
                    raise _Reply(400, "between 1 and 3 url values are required", REASON)
                if kind in hooks:
                    raise _Reply(400, f"Webhook {kind} already exists", REASON)
                hooks[kind] = list(urls)
                return 200, {"message": "Webhook has been created", "webhook": {"urls": list(urls)}}, {}
            raise _Reply(405, "Method not allowed")
        kind = rest[0]
        if kind not in hooks:
            raise _Reply(404, "Webhook not found")
        if method == "GET":
            return 200, {"webhook": {"urls": list(hooks[kind])}}, {}
        if method == "PUT":
            urls = _form(self, raw).get("url") or []
            if not urls or len(urls) > 3:  # the same 1-3 urls as a create
                raise _Reply(400, "between 1 and 3 url values are required", REASON)
            hooks[kind] = list(urls)
            return 200, {"message": "Webhook has been updated", "webhook": {"urls": list(urls)}}, {}
        if method == "DELETE":
            urls = hooks.pop(kind)
            return 200, {"message": "Webhook has been deleted", "webhook": {"urls": urls}}, {}
        raise _Reply(405, "Method not allowed")

    # credentials
    def _credentials(
        self, method: str, name: str, rest: list[str], query: dict[str, list[str]], raw: bytes
    ) -> Response:
        self._need_domain(name)
        creds = self.fake.credentials.setdefault((self.region, name), {})
        if not rest:
            if method == "GET":
                skip, limit = _skip_limit(query, "Limit parameter can't be larger than 1000")
                items = [
                    {"login": login, "mailbox": login, "created_at": c["created_at"], "size_bytes": None}
                    for login, c in creds.items()
                ]
                return 200, {"total_count": len(items), "items": items[skip : skip + limit]}, {}
            if method == "POST":
                form = _form(self, raw)
                login = (form.get("login") or [""])[0]
                password = (form.get("password") or [""])[0]
                if not login:
                    raise _Reply(400, "login is required")
                if "@" not in login:
                    login = f"{login}@{name}"
                if login in creds:
                    raise _Reply(400, f"Credentials for {login} already exists")
                if password and not 5 <= len(password) <= 32:
                    raise _Reply(400, "Password length must be between 5 and 32 characters")
                creds[login] = {"password": password or secrets.token_urlsafe(16), "created_at": _rfc2822()}
                return 200, {"message": "Created 1 credentials pair(s)"}, {}
            raise _Reply(405, "Method not allowed")
        login = rest[0]
        if login not in creds:
            raise _Reply(404, "Credentials not found")
        if method == "DELETE":
            del creds[login]
            return 200, {"message": "Credentials have been deleted", "spec": login}, {}
        raise _Reply(405, "Method not allowed")

    # templates (Mailgun's "Templates" API: v3/<domain>/templates, versions by tag)
    def _templates(
        self, method: str, name: str, rest: list[str], query: dict[str, list[str]], raw: bytes
    ) -> Response:
        self._need_domain(name)
        table = self.fake.templates.setdefault((self.region, name), {})
        base = f"{self.fake.base_url(self.region)}/v3/{quote(name)}/templates"
        if not rest:
            if method == "GET":
                items = [_template_meta(t) for t in sorted(table.values(), key=lambda t: t["name"])]
                page, paging = _pivot_page(items, "name", query, base)
                return 200, {"items": page, "paging": paging}, {}
            if method == "POST":
                form = _form(self, raw)
                tname = (form.get("name") or [""])[0].strip().lower()
                if not tname or not TEMPLATE_NAME.match(tname):
                    raise _Reply(400, "name is required and may hold letters, digits and .-_~")
                if tname in table:
                    raise _Reply(409, f"template with name '{tname}' already exists")
                if len(table) >= TEMPLATES_PER_DOMAIN:
                    raise _Reply(400, f"a domain holds at most {TEMPLATES_PER_DOMAIN} templates")
                template = {
                    "name": tname,
                    "description": (form.get("description") or [""])[0],
                    "createdAt": _rfc2822(),
                    "createdBy": (form.get("createdBy") or [""])[0],
                    "id": secrets.token_hex(12),
                    "versions": {},
                }
                answer = dict(_template_meta(template))
                if form.get("template"):
                    version = _new_version(form, default_tag="initial")
                    version["active"] = True
                    template["versions"][version["tag"]] = version
                    answer["version"] = _version_meta(version)
                table[tname] = template
                return 200, {"message": "template has been stored", "template": answer}, {}
            raise _Reply(405, "Method not allowed")
        template = table.get(rest[0].lower())
        if template is None:
            raise _Reply(404, "template not found")
        if len(rest) == 1:
            if method == "GET":
                answer = dict(_template_meta(template))
                active = next((v for v in template["versions"].values() if v["active"]), None)
                if (query.get("active") or [""])[0] == "yes" and active is not None:
                    answer["version"] = dict(active)
                return 200, {"template": answer}, {}
            if method == "DELETE":
                del table[template["name"]]
                return (
                    200,
                    {"message": "template has been deleted", "template": {"name": template["name"]}},
                    {},
                )
            raise _Reply(405, "Method not allowed")
        if rest[1] != "versions":
            raise _Reply(404, "Not found")
        versions = template["versions"]
        if len(rest) == 2:
            if method == "GET":
                items = [_version_meta(v) for v in versions.values()]
                page, paging = _pivot_page(items, "tag", query, f"{base}/{quote(template['name'])}/versions")
                return 200, {"template": {**_template_meta(template), "versions": page}, "paging": paging}, {}
            if method == "POST":
                form = _form(self, raw)
                if not form.get("template") or not form.get("tag"):
                    raise _Reply(400, "template and tag are required")
                version = _new_version(form, default_tag="")
                if version["tag"] in versions:
                    raise _Reply(409, f"version with tag '{version['tag']}' already exists")
                if len(versions) >= VERSIONS_PER_TEMPLATE:
                    raise _Reply(400, f"a template holds at most {VERSIONS_PER_TEMPLATE} versions")
                # "If the template doesn't contain any versions yet the first version becomes active"
                activate = not versions or (form.get("active") or [""])[0] == "yes"
                if activate:
                    for other in versions.values():
                        other["active"] = False
                version["active"] = activate
                versions[version["tag"]] = version
                answer = {**_template_meta(template), "version": _version_meta(version)}
                return 200, {"message": "new version of the template has been stored", "template": answer}, {}
            raise _Reply(405, "Method not allowed")
        version = versions.get(rest[2])
        if version is None:
            raise _Reply(404, "version not found")
        if method == "GET":
            return 200, {"template": {**_template_meta(template), "version": dict(version)}}, {}
        raise _Reply(405, "Method not allowed")

    # suppressions
    def _suppressions(
        self,
        method: str,
        name: str,
        kind: str,
        rest: list[str],
        query: dict[str, list[str]],
        raw: bytes,
    ) -> Response:
        self._need_domain(name)
        table = self.fake.suppressions.setdefault((self.region, name, kind), {})
        if rest:
            address = rest[0]
            if address not in table:
                raise _Reply(404, "Address not found in suppressions table")
            if method == "GET":
                return 200, table[address], {}
            if method == "DELETE":
                del table[address]
                return 200, {"message": "Suppression has been removed", "address": address}, {}
            raise _Reply(405, "Method not allowed")
        if method == "GET":
            limit = min(int((query.get("limit") or ["100"])[0]), 1000)
            page = (query.get("page") or [""])[0]
            after = (query.get("address") or [""])[0]
            addresses = list(table)
            start = 0
            if page == "next" and after:
                start = addresses.index(after) + 1 if after in addresses else len(addresses)
            items = [table[a] for a in addresses[start : start + limit]]
            base = f"{self.fake.base_url(self.region)}/v3/{quote(name)}/{kind}"
            last = items[-1]["address"] if items else after
            first = items[0]["address"] if items else after
            paging = {
                "first": f"{base}?page=first&limit={limit}",
                "last": f"{base}?page=last&limit={limit}",
                "next": f"{base}?page=next&address={quote(last)}&limit={limit}",
                "previous": f"{base}?page=previous&address={quote(first)}&limit={limit}",
            }
            return 200, {"items": items, "paging": paging}, {}
        if method == "POST":
            ctype = self.headers.get("Content-Type", "")
            if ctype.startswith("application/json"):
                try:
                    entries = json.loads(raw or b"[]")
                except ValueError:
                    raise _Reply(400, "invalid JSON") from None
                if not isinstance(entries, list) or len(entries) > 1000:
                    raise _Reply(400, "a JSON list of at most 1000 entries is required")
            else:
                form = _form(self, raw)
                entries = [{k: v[0] for k, v in form.items()}]
            for entry in entries:
                address = str(entry.get("address") or "").lower()
                if "@" not in address:
                    raise _Reply(400, f"invalid address {address!r}")
                item: dict[str, Any] = {
                    "address": address,
                    "created_at": entry.get("created_at") or _rfc2822(),
                }
                if kind == "bounces":
                    item["code"] = str(entry.get("code") or "550")
                    item["error"] = str(entry.get("error") or "")
                elif kind == "unsubscribes":
                    tags = entry.get("tags") or entry.get("tag") or ["*"]
                    item["tags"] = tags if isinstance(tags, list) else [tags]
                table[address] = item
            return 200, {"message": f"{len(entries)} addresses have been added"}, {}
        raise _Reply(405, "Method not allowed")


LIST_LIMIT_MAX = 1000  # Mailgun's page maximum of GET /v4/domains, /v3/routes and .../credentials
TEMPLATES_PER_DOMAIN = 100  # Mailgun's documented limits of the Templates API
VERSIONS_PER_TEMPLATE = 40
TEMPLATE_NAME = re.compile(r"^[a-z0-9.\-_~]+$")


def _template_meta(template: dict[str, Any]) -> dict[str, Any]:
    return {k: template[k] for k in ("name", "description", "createdAt", "createdBy", "id")}


def _version_meta(version: dict[str, Any]) -> dict[str, Any]:
    """A version as lists show it: everything but its content."""
    return {k: v for k, v in version.items() if k != "template"}


def _new_version(form: dict[str, list[str]], default_tag: str) -> dict[str, Any]:
    tag = (form.get("tag") or [default_tag])[0].strip().lower()
    if not tag or not TEMPLATE_NAME.match(tag):
        raise _Reply(400, "tag may hold letters, digits and .-_~")
    engine = (form.get("engine") or ["handlebars"])[0]
    if engine not in ("handlebars", "go"):
        raise _Reply(400, f"unsupported engine {engine!r}")
    return {
        "tag": tag,
        "template": (form.get("template") or [""])[0],
        "engine": engine,
        "comment": (form.get("comment") or [""])[0],
        "createdAt": _rfc2822(),
        "active": False,
        "id": secrets.token_hex(12),
    }


def _pivot_page(
    items: list[dict[str, Any]], key: str, query: dict[str, list[str]], base: str
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Mailgun's pivot paging (``page`` first/last/next/prev, ``p`` the pivot, ``limit``
    default 10): the page and its ``paging`` URLs."""
    try:
        limit = int((query.get("limit") or ["10"])[0])
    except ValueError:
        raise _Reply(400, "limit must be an integer") from None
    if not 1 <= limit <= 100:
        raise _Reply(400, "limit must be between 1 and 100")
    page = (query.get("page") or ["first"])[0]
    pivot = (query.get("p") or [""])[0]
    keys = [str(i[key]) for i in items]
    if page == "next" and pivot:
        start = keys.index(pivot) + 1 if pivot in keys else len(keys)
        chunk = items[start : start + limit]
    elif page in ("prev", "previous") and pivot:
        end = keys.index(pivot) if pivot in keys else 0
        chunk = items[max(0, end - limit) : end]
    elif page == "last":
        chunk = items[-limit:]
    else:
        chunk = items[:limit]
    last = str(chunk[-1][key]) if chunk else pivot
    first = str(chunk[0][key]) if chunk else pivot
    paging = {
        "first": f"{base}?limit={limit}",
        "last": f"{base}?page=last&limit={limit}",
        "next": f"{base}?page=next&p={quote(last)}&limit={limit}",
        "prev": f"{base}?page=prev&p={quote(first)}&limit={limit}",
    }
    return chunk, paging


def _skip_limit(query: dict[str, list[str]], too_large: str) -> tuple[int, int]:
    """``skip`` (default 0) and ``limit`` (default 100, at most 1000) of a list request."""
    try:
        skip = int((query.get("skip") or ["0"])[0])
        limit = int((query.get("limit") or ["100"])[0])
    except ValueError:
        raise _Reply(400, "skip and limit must be integers") from None
    if limit > LIST_LIMIT_MAX:
        raise _Reply(400, too_large)
    return max(skip, 0), max(limit, 0)


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


class _Reply(Exception):
    """An error answer: ``{field: message}``. Mailgun's endpoints name the field differently:
    ``message`` on most, ``Reason`` on the webhook endpoints' 400s (``REASON``)."""

    def __init__(self, status: int, message: str, field: str = "message") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


# PUT /v4/domains/{name}: the values Mailgun documents for its enumerated fields.
DOMAIN_UPDATE_CHOICES = {
    "spam_action": ("disabled", "block", "tag"),
    "web_scheme": ("http", "https"),
    "wildcard": ("true", "false"),
    "require_tls": ("true", "false"),
    "skip_verification": ("true", "false"),
}

REASON = "Reason"  # the error field of the webhook endpoints' 400 answers
