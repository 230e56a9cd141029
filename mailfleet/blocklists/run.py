"""Asking every blocklist about every sending IP and domain, concurrently, with one resolver.

Targets (deduplicated: an IP shared by many tenants, such as a Mailgun shared IP or the
stack's egress IP, is asked once per list and reported once with all its owners):

- ``mailgun``: the sending IPs of each tenant's Mailgun domains (``GET /v3/domains/{d}/ips``)
  and every IP of the account (``GET /v3/ips``), with ``MAILGUN_API_KEY``; the dedicated IPs
  a tenant or stack names in its files are checked even without a key;
- ``customer-smtp``: the customer's own SMTP egress IPs (way 3, ``outbound.smtp.egress_ips``);
- ``stack-egress``: the stack's egress IPs (``mailfleet:egressIps``);
- ``sending-domain``: every Mailgun domain of the tenant, against the domain lists.

Verdict per (target, list): ``listed`` (a documented listing code), ``clean`` (NXDOMAIN, or
no A record), or ``unknown`` ("could not tell": a timeout, SERVFAIL, REFUSED, or an answer
the list documents as an error, such as Spamhaus's 127.255.255.254 for a public resolver).
Exit codes as ``check``: 1 anything listed, 3 nothing listed but something could not tell, 0.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mailfleet.blocklists.lists import CLEAN, LISTED, UNKNOWN, BlockList
from mailfleet.desired.state import StackState, TenantState
from mailfleet.dns.resolver import NODATA, NXDOMAIN, OK, Nameserver, Resolver
from mailfleet.mailgun import ips as mg_ips
from mailfleet.mailgun.errors import MailgunError
from mailfleet.model.stack import StackConfig
from mailfleet.model.tenant import Tenant

if TYPE_CHECKING:
    from mailfleet.mailgun.client import MailgunClient

log = logging.getLogger(__name__)

FORMAT = "mailfleet-blocklists/1"
SOURCES = ("mailgun", "customer-smtp", "stack-egress", "sending-domain")


@dataclass
class ListResult:
    list: str
    zone: str
    status: str  # listed | clean | unknown
    query: str
    answers: list[str] = field(default_factory=list)
    meanings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "list": self.list,
            "zone": self.zone,
            "status": self.status,
            "query": self.query,
            "answers": list(self.answers),
            "meanings": list(self.meanings),
        }


@dataclass
class Target:
    value: str
    kind: str  # ip | domain
    sources: set[str] = field(default_factory=set)
    owners: set[str] = field(default_factory=set)  # tenant slugs, "stack <name>", "Mailgun <region>"
    results: list[ListResult] = field(default_factory=list)

    @property
    def status(self) -> str:
        statuses = {r.status for r in self.results}
        return LISTED if LISTED in statuses else UNKNOWN if UNKNOWN in statuses else CLEAN

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.value,
            "kind": self.kind,
            "sources": sorted(self.sources),
            "owners": sorted(self.owners),
            "status": self.status,
            "lists": [r.to_dict() for r in self.results],
        }


@dataclass
class BlocklistResult:
    targets: list[Target]
    lists: list[BlockList]
    nameserver: str
    queries: int
    mailgun_checked: bool
    problems: list[str] = field(default_factory=list)  # Mailgun IP lookups that failed

    @property
    def exit_code(self) -> int:
        statuses = {t.status for t in self.targets}
        if LISTED in statuses:
            return 1
        if UNKNOWN in statuses or self.problems:
            return 3
        return 0

    def to_dict(self) -> dict[str, Any]:
        counts = {s: sum(1 for t in self.targets if t.status == s) for s in (LISTED, UNKNOWN, CLEAN)}
        return {
            "format": FORMAT,
            "summary": {
                "targets": len(self.targets),
                "ips": sum(1 for t in self.targets if t.kind == "ip"),
                "domains": sum(1 for t in self.targets if t.kind == "domain"),
                **counts,
                "lists": len(self.lists),
                "dns_queries": self.queries,
                "nameserver": self.nameserver,
                "mailgun_checked": self.mailgun_checked,
                "problems": list(self.problems),
                "exit_code": self.exit_code,
            },
            "lists": [{"name": b.name, "zone": b.zone, "kind": b.kind, "doc": b.doc} for b in self.lists],
            "targets": [t.to_dict() for t in self.targets],
        }


def collect_targets(
    pairs: list[tuple[StackState, TenantState]],
    tenants: dict[str, Tenant],
    stacks: dict[str, StackConfig],
    mailgun_ips: dict[str, list[str]] | None = None,
    account_ips: dict[str, list[str]] | None = None,
    dedicated: dict[str, list[str]] | None = None,
) -> list[Target]:
    """Every IP and domain to ask about, once each, with who sends from it.

    ``mailgun_ips``: domain -> its Mailgun IPs (from the API); ``account_ips``: region -> the
    account's IPs; ``dedicated``: tenant slug -> the dedicated IPs its files name."""
    found: dict[tuple[str, str], Target] = {}

    def add(value: str, kind: str, source: str, owner: str) -> None:
        target = found.setdefault((kind, value.lower()), Target(value.lower(), kind))
        target.sources.add(source)
        target.owners.add(owner)

    for stack, state in pairs:
        tenant = tenants.get(state.slug)
        for dom in state.domains:
            add(dom.name, "domain", "sending-domain", state.slug)
            for ip in (mailgun_ips or {}).get(dom.name, []):
                add(ip, "ip", "mailgun", state.slug)
        for ip in (dedicated or {}).get(state.slug, []):
            add(ip, "ip", "mailgun", state.slug)
        if tenant is not None and tenant.outbound.smtp is not None:
            for ip in tenant.outbound.smtp.egress_ips:
                add(ip, "ip", "customer-smtp", state.slug)
        config = stacks.get(stack.stack)
        if config is not None:
            for ip in config.egress_ips:
                add(ip, "ip", "stack-egress", f"stack {config.name}")
    for region, ips in sorted((account_ips or {}).items()):
        for ip in ips:
            add(ip, "ip", "mailgun", f"Mailgun {region.upper()} account")
    return sorted(found.values(), key=lambda t: (t.kind, t.value))


def mailgun_sending_ips(
    pairs: list[tuple[StackState, TenantState]],
    clients: dict[str, MailgunClient],
    workers: int = 8,
) -> tuple[dict[str, list[str]], dict[str, list[str]], list[str]]:
    """(domain -> IPs, region -> account IPs, problems), asked concurrently within the
    client's rate budget."""
    domains = sorted({(d.region, d.name) for _s, t in pairs for d in t.domains})
    regions = sorted({r for r, _n in domains})
    problems: list[str] = []

    def one(region: str, name: str) -> tuple[str, list[str]]:
        try:
            return name, mg_ips.domain_ips(clients[region], name)
        except MailgunError as exc:
            if exc.status == 404:
                problems.append(f"{name}: not a Mailgun domain in the {region.upper()} region")
            else:
                problems.append(f"{name}: Mailgun IPs unreadable: {exc}")
            return name, []

    def account(region: str) -> tuple[str, list[str]]:
        try:
            return region, mg_ips.account_ips(clients[region])
        except MailgunError as exc:
            problems.append(f"Mailgun {region.upper()} account IPs unreadable: {exc}")
            return region, []

    with ThreadPoolExecutor(max_workers=workers) as pool:
        per_domain = dict(pool.map(lambda pair: one(*pair), domains))
        per_region = dict(pool.map(account, regions))
    return per_domain, per_region, sorted(problems)


def ask_lists(
    targets: list[Target],
    lists: list[BlockList],
    server: Nameserver | None,
    *,
    timeout: float,
    retries: int,
    concurrency: int,
    on_target: Callable[[], None] | None = None,
) -> tuple[str, int]:
    """Fill each target's ``results``; returns (nameserver, DNS queries sent)."""

    async def one(resolver: Resolver, target: Target) -> None:
        relevant = [b for b in lists if b.kind == target.kind]
        names = [b.query_name(target.value) for b in relevant]
        for name in names:
            resolver.ensure(name, "A")
        for blocklist, name in zip(relevant, names, strict=True):
            lookup = await resolver.lookup(name, "A")
            result = ListResult(blocklist.name, blocklist.zone, CLEAN, name)
            if lookup.status in (NXDOMAIN, NODATA):
                result.status = CLEAN
            elif lookup.status == OK:
                result.answers = sorted(str(v) for v in lookup.values)
                codes = [blocklist.interpret(a) for a in result.answers]
                result.meanings = [c.meaning for c in codes]
                result.status = LISTED if any(c.verdict == LISTED for c in codes) else UNKNOWN
            else:
                result.status = UNKNOWN
                result.meanings = [f"could not tell: {lookup.describe()}"]
            target.results.append(result)
        if on_target is not None:
            on_target()

    async def main() -> tuple[str, int]:
        async with Resolver(server, timeout=timeout, retries=retries, concurrency=concurrency) as resolver:
            await asyncio.gather(*(one(resolver, t) for t in targets))
            return str(resolver.nameserver), resolver.stats.queries

    return asyncio.run(main())
