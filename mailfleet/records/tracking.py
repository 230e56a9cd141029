"""The open/click tracking CNAME ``email.<domain>`` pointing at the region's Mailgun host."""

from __future__ import annotations

from mailfleet.model.region import RegionFacts

PREFIX = "email"


def record_name(domain: str) -> str:
    return f"{PREFIX}.{domain}"


def target(region: RegionFacts) -> str:
    return region.tracking_target
