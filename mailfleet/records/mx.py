"""MX records pointing a receiving domain at its region's Mailgun inbound hosts."""

from __future__ import annotations

from mailfleet.model.region import RegionFacts


def values(region: RegionFacts) -> tuple[str, ...]:
    return tuple(f"{region.mx_priority} {host}" for host in region.mx_hosts)
