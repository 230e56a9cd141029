"""Mailgun's per-region facts, as data.

``Region`` is the one type for a region name everywhere (tenant files, stack settings, the
CLI's ``--region``/``--to``/``--from``). Everything that differs between the US and EU
Mailgun regions lives in ``REGIONS``; no other module branches on the region name. A region
is not a stack: a stack names its region in its settings (``mailfleet:region``), and
``mailfleet.project.Project`` finds the stack(s) of a region.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Region = Literal["eu", "us"]
REGION_NAMES: tuple[Region, ...] = get_args(Region)


@dataclass(frozen=True, slots=True)
class RegionFacts:
    name: Region
    api_host: str
    mx_hosts: tuple[str, ...]
    mx_priority: int
    tracking_target: str
    spf_include: str
    aws_region: str
    stored_mail_location: str

    @property
    def api_base(self) -> str:
        return f"https://{self.api_host}"


REGIONS: dict[str, RegionFacts] = {
    "us": RegionFacts(
        name="us",
        api_host="api.mailgun.net",
        mx_hosts=("mxa.mailgun.org", "mxb.mailgun.org"),
        mx_priority=10,
        tracking_target="mailgun.org",
        spf_include="mailgun.org",
        aws_region="us-east-1",
        stored_mail_location="United States (Mailgun US region)",
    ),
    "eu": RegionFacts(
        name="eu",
        api_host="api.eu.mailgun.net",
        mx_hosts=("mxa.eu.mailgun.org", "mxb.eu.mailgun.org"),
        mx_priority=10,
        tracking_target="eu.mailgun.org",
        spf_include="mailgun.org",
        aws_region="eu-central-1",
        stored_mail_location="European Union (Mailgun EU region)",
    ),
}
assert set(REGIONS) == set(REGION_NAMES)


def region(name: str) -> RegionFacts:
    """The facts of region ``name`` (``eu`` or ``us``); KeyError for anything else."""
    return REGIONS[name]
