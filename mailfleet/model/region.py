"""Mailgun's per-region facts, as data (see DESIGN.md, "Mailgun facts").

Everything that differs between the US and EU Mailgun regions lives in ``REGIONS``;
no other module branches on the region name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RegionName = Literal["eu", "us"]


@dataclass(frozen=True, slots=True)
class Region:
    name: str
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


REGIONS: dict[str, Region] = {
    "us": Region(
        name="us",
        api_host="api.mailgun.net",
        mx_hosts=("mxa.mailgun.org", "mxb.mailgun.org"),
        mx_priority=10,
        tracking_target="mailgun.org",
        spf_include="mailgun.org",
        aws_region="us-east-1",
        stored_mail_location="United States (Mailgun US region)",
    ),
    "eu": Region(
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


def region(name: str) -> Region:
    """The facts of region ``name`` (``eu`` or ``us``); KeyError for anything else."""
    return REGIONS[name]
