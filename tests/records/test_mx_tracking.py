"""mailfleet.records.mx and .tracking: the per-region Mailgun hosts."""

from __future__ import annotations

from mailfleet.model.region import REGIONS, region
from mailfleet.records import mx, tracking


def test_mx_us() -> None:
    assert mx.values(REGIONS["us"]) == ("10 mxa.mailgun.org", "10 mxb.mailgun.org")


def test_mx_eu() -> None:
    assert mx.values(REGIONS["eu"]) == ("10 mxa.eu.mailgun.org", "10 mxb.eu.mailgun.org")


def test_tracking_per_region() -> None:
    assert tracking.record_name("acme.no") == "email.acme.no"
    assert tracking.target(REGIONS["us"]) == "mailgun.org"
    assert tracking.target(REGIONS["eu"]) == "eu.mailgun.org"


def test_region_facts() -> None:
    assert region("eu").api_base == "https://api.eu.mailgun.net"
    assert region("us").api_base == "https://api.mailgun.net"
    assert {r.spf_include for r in REGIONS.values()} == {"mailgun.org"}
    assert region("eu").aws_region.startswith("eu-")
    assert region("us").aws_region.startswith("us-")
