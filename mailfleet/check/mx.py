"""MX records of a receiving domain: exactly the region's Mailgun inbound hosts.

An EU tenant whose MX still names the US hosts (or the reverse) is ``wrong`` with a hint:
mail would be received, stored and routed in the other region, whose routes do not exist.
When the hosts are right, each one must have an address (A, else AAAA; RFC 5321 §5.1): a
host without one is ``wrong`` (``mx-target-no-address``), and a host whose address lookup
got no answer leaves the record undecided (``timeout``/``error``), never ``ok``.
"""

from __future__ import annotations

import asyncio

from mailfleet.check import result as res
from mailfleet.dns.resolver import Lookup, Resolver
from mailfleet.model.region import REGIONS


def _parse(value: str) -> tuple[int, str]:
    pref, _, host = value.partition(" ")
    return int(pref), host.strip().rstrip(".").lower()


def show(mx: tuple[int, str]) -> str:
    return f"{mx[0]} {mx[1]}"


def region_of_hosts(hosts: set[str]) -> str | None:
    """The region whose Mailgun MX hosts are exactly ``hosts``."""
    for name, facts in REGIONS.items():
        if hosts == set(facts.mx_hosts):
            return name
    return None


async def host_address(resolver: Resolver, host: str) -> Lookup:
    """The A records of ``host``, or its AAAA records when it has no A record."""
    a = await resolver.a(host)
    if a.status == "nodata":
        return await resolver.lookup(host, "AAAA")
    return a


async def check_targets(record: res.RecordResult, hosts: list[str], resolver: Resolver) -> None:
    """Every MX host has an address; a lookup without an answer is a finding without a verdict."""
    lookups = await asyncio.gather(*(host_address(resolver, h) for h in hosts))
    for host, found in zip(hosts, lookups, strict=True):
        if found.failed:
            record.findings.append(
                res.Finding(
                    res.SEV_TIMEOUT if found.status == "timeout" else res.SEV_UNDECIDED,
                    "mx-target-unknown",
                    f"cannot tell whether MX host {host} has an address: {found.describe()}",
                    "RFC 5321 §5.1",
                )
            )
        elif found.missing:
            record.findings.append(
                res.Finding(
                    res.SEV_ERROR,
                    "mx-target-no-address",
                    f"MX host {host} has no address (no A or AAAA record): mail cannot be delivered",
                    "RFC 5321 §5.1",
                )
            )


async def check(
    record: res.RecordResult,
    lookup: Lookup,
    expected: tuple[str, ...],
    region: str,
    resolver: Resolver,
) -> None:
    want = {_parse(v) for v in expected}
    record.expected = [show(m) for m in sorted(want)]
    if record.undecided_by(lookup):
        return
    if lookup.missing:
        record.status = res.MISSING
        record.message = lookup.describe()
        return
    got = {(int(p), str(h).rstrip(".").lower()) for p, h in lookup.values}
    record.found = [show(m) for m in sorted(got)]
    if got == want:
        record.status = res.OK
        await check_targets(record, sorted({h for _, h in got}), resolver)
        record.apply_findings()
        return
    record.status = res.WRONG
    hosts = {h for _, h in got}
    if hosts == {h for _, h in want}:
        record.message = "MX hosts are right but their priorities differ"
        return
    record.message = "MX does not point at this region's Mailgun inbound hosts"
    other = region_of_hosts(hosts)
    if other and other != region:
        record.hint = (
            f"MX still points at Mailgun's {other.upper()} hosts ({', '.join(sorted(hosts))}); this "
            f"{region.upper()} tenant's inbound mail would arrive in the {other.upper()} region, where its "
            f"routes no longer exist. Point it at {', '.join(REGIONS[region].mx_hosts)}."
        )
