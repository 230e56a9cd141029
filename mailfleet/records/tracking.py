"""The open/click tracking CNAME ``email.<domain>`` pointing at the region's Mailgun host."""

from __future__ import annotations

from mailfleet.model.region import Region

PREFIX = "email"


def record_name(domain: str) -> str:
    return f"{PREFIX}.{domain}"


def target(region: Region) -> str:
    return region.tracking_target
