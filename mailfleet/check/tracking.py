"""The open/click tracking CNAME ``email.<domain>``: the region's Mailgun tracking host."""

from __future__ import annotations

from mailfleet.check import result as res
from mailfleet.dns.resolver import Lookup
from mailfleet.model.region import REGIONS


def check(record: res.RecordResult, lookup: Lookup, expected: str, region: str) -> None:
    want = expected.rstrip(".").lower()
    record.expected = [want]
    if record.undecided_by(lookup):
        return
    if lookup.missing:
        record.status = res.MISSING
        record.message = f"{lookup.describe()}: open and click tracking links will not resolve"
        return
    got = [str(v).rstrip(".").lower() for v in lookup.values]
    record.found = got
    if got == [want]:
        record.status = res.OK
        return
    record.status = res.WRONG
    record.message = "tracking CNAME does not point at this region's Mailgun tracking host"
    for name, facts in REGIONS.items():
        if name != region and got == [facts.tracking_target]:
            record.hint = (
                f"the CNAME points at Mailgun's {name.upper()} tracking host {facts.tracking_target}; "
                f"this {region.upper()} tenant needs {want}"
            )
