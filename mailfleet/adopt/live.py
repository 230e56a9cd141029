"""What a customer's zone holds now at the names mailfleet declares, read over DNS.

Contract:
- ``targets(records)`` lists each (name, type) of the tenant's customer records once: TXT at
  the apex (every value: SPF and the rest), TXT at ``_dmarc.``, TXT at the DKIM name, CNAME at
  the tracking name.
- ``read(targets, nameserver)`` asks each one with ``mailfleet.dns.resolver`` (and, for a TXT
  name, whether the name is a CNAME: a TXT record cannot sit beside one). NXDOMAIN or NODATA
  is "nothing there"; a timeout or an error (SERVFAIL, REFUSED, an unreachable nameserver) is
  a ``LookupFailed`` naming the nameserver, never "nothing there". TXT values are the
  character-strings joined; CNAME targets lower case without the final dot. Values are
  ordered SPF and DMARC first, then by value; duplicates (two splits of one value) count once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

from mailfleet.desired.state import DnsRecord
from mailfleet.dns.resolver import Lookup, Nameserver, Resolver
from mailfleet.errors import MailfleetError, Problem
from mailfleet.model.adoption import is_dmarc, is_spf


class LookupFailed(MailfleetError):
    """A DNS lookup gave no verdict: a timeout, SERVFAIL/REFUSED, an unreachable nameserver."""


class AdoptRefused(MailfleetError):
    """What the zone holds cannot be adopted as it is (two SPF records, a CNAME at a TXT name,
    DNS and Cloudflare disagreeing): the customer must fix it first."""


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    type: str
    purposes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LiveRRset:
    """One RRset as found: ``status`` is ``ok``, ``nxdomain`` or ``nodata``."""

    name: str
    type: str
    purposes: tuple[str, ...]
    status: str
    values: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()  # Cloudflare record id of each value (empty elsewhere)
    ttl: int | None = None

    def id_of(self, value: str) -> str | None:
        if not self.ids or value not in self.values:
            return None
        return self.ids[self.values.index(value)]


def targets(records: Iterable[DnsRecord]) -> list[Target]:
    """Each (name, type) of ``records`` once, with the purposes declared there."""
    by: dict[tuple[str, str], list[str]] = {}
    for r in records:
        by.setdefault((r.name, r.type), []).append(r.purpose)
    return [Target(name, type_, tuple(p)) for (name, type_), p in by.items()]


def _values(lookup: Lookup, type_: str) -> tuple[str, ...]:
    """The values once each; SPF and DMARC first, then by value (DNS gives any order)."""
    if type_ == "CNAME":
        found = (str(v).rstrip(".").lower() for v in lookup.values)
    else:
        found = (str(v) for v in lookup.values)
    return tuple(sorted(dict.fromkeys(found), key=lambda v: (not (is_spf(v) or is_dmarc(v)), v)))


async def _ask(targets: list[Target], resolver: Resolver) -> list[tuple[Lookup, Lookup | None]]:
    async def one(t: Target) -> tuple[Lookup, Lookup | None]:
        main = resolver.lookup(t.name, t.type)
        if t.type == "CNAME":
            return await main, None
        alias = resolver.lookup(t.name, "CNAME")
        first, second = await asyncio.gather(main, alias)
        return first, second

    return list(await asyncio.gather(*(one(t) for t in targets)))


def read(
    targets: list[Target], nameserver: Nameserver | None, *, timeout: float = 2.0, retries: int = 2
) -> tuple[list[LiveRRset], str]:
    """The RRset at each target and the source line (``nameserver ...``); ``LookupFailed`` when
    any lookup gave no verdict, ``AdoptRefused`` for a CNAME where a TXT record belongs."""
    resolver = Resolver(nameserver, timeout=timeout, retries=retries, concurrency=16)

    async def run() -> list[tuple[Lookup, Lookup | None]]:
        async with resolver:
            return await _ask(targets, resolver)

    answers = asyncio.run(run())
    # A CNAME where a TXT record belongs first: its TXT lookup chased the alias elsewhere.
    refused = [
        Problem(
            f"{t.name} {t.type}",
            "",
            f"{t.name} is a CNAME to {str(alias.values[0]).rstrip('.')}: no {t.type} record can sit "
            "beside it (RFC 1034 §3.6.2); remove the CNAME first, then adopt again",
        )
        for t, (_, alias) in zip(targets, answers, strict=True)
        if alias is not None and alias.ok
    ]
    if refused:
        raise AdoptRefused(problems=refused)
    failed = [a for pair in answers for a in pair if a is not None and a.failed]
    if failed:
        where = f"nameserver {resolver.nameserver}"
        if resolver.start_error:
            lines = [f"{resolver.start_error}; nothing adopted, nothing written"]
        elif len(failed) == sum(1 if t.type == "CNAME" else 2 for t in targets):
            # Nothing answered at all: one line, not one per name.
            more = f" (and {len(failed) - 1} more lookups)" if len(failed) > 1 else ""
            lines = [f"{failed[0].describe()}{more}; nothing adopted, nothing written"]
        else:
            lines = [f"{f.describe()}; nothing adopted, nothing written" for f in failed]
        raise LookupFailed(problems=[Problem(where, "", line) for line in lines])
    out = [
        LiveRRset(t.name, t.type, t.purposes, "ok", _values(main, t.type))
        if main.ok
        else LiveRRset(t.name, t.type, t.purposes, main.status)
        for t, (main, _) in zip(targets, answers, strict=True)
    ]
    return out, f"{'nameserver' if nameserver is not None else 'system resolver'} {resolver.nameserver}"
