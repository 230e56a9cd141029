"""MX records of a receiving domain: exactly the region's Mailgun inbound hosts.

An EU tenant whose MX still names the US hosts (or the reverse) is ``wrong`` with a hint:
mail would be received, stored and routed in the other region, whose routes do not exist.
"""

from __future__ import annotations

from mailfleet.check import result as res
from mailfleet.dns.resolver import Lookup
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


def check(record: res.RecordResult, lookup: Lookup, expected: tuple[str, ...], region: str) -> None:
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
