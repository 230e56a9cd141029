"""A stack's settings, read from ``Pulumi.<stack>.yaml`` without Pulumi.

The Pulumi program reads the same keys through ``pulumi.Config("mailfleet")``; this module
reads them from the file so that ``plan``, ``validate`` and ``diff`` need no Pulumi CLI.
Secret values (``secure:`` entries) are never read here.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from mailfleet.model import names
from mailfleet.model.ips import MailgunIps
from mailfleet.model.region import REGIONS, Region, RegionFacts
from mailfleet.model.reputation import ReputationSettings


def _https_url(value: str) -> str:
    """An https URL that can sit inside a quoted route action (``forward("...")``)."""
    if (
        not value.startswith("https://")
        or any(c in value for c in " \"'(),\\")
        or not value.isprintable()
        or not value[len("https://") :].split("/", 1)[0]
    ):
        raise ValueError(
            f"{value!r} must be an https:// URL with a host, without quotes, commas, "
            "parentheses, backslashes or spaces"
        )
    return value


_AWS_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]$")


HttpsUrl = Annotated[str, AfterValidator(_https_url)]

# The longest name a stack declares under its platform domain is a tenant's DKIM record,
# ``<selector>._domainkey.<slug>.<platform domain>``, with a selector of up to 63 octets (one
# label) and a slug of up to 40. Limiting the platform domain keeps every such name within 253
# octets whatever the tenants choose.
_LONGEST_TENANT_PREFIX = names.MAX_LABEL_OCTETS + len("._domainkey.") + names.MAX_SLUG_OCTETS + len(".")
MAX_PLATFORM_DOMAIN_OCTETS = names.MAX_DOMAIN_OCTETS - _LONGEST_TENANT_PREFIX


def _platform_domain(value: str) -> str:
    names.domain(value)
    if len(value) > MAX_PLATFORM_DOMAIN_OCTETS:
        raise ValueError(
            f"platform domain is {len(value)} octets; names under it "
            "(<selector>._domainkey.<slug>.<platform domain>, up to "
            f"{_LONGEST_TENANT_PREFIX} octets more) would reach {len(value) + _LONGEST_TENANT_PREFIX} octets, "
            f"over the {names.MAX_DOMAIN_OCTETS}-octet limit of a domain name (RFC 1035 §2.3.4): "
            f"at most {MAX_PLATFORM_DOMAIN_OCTETS} octets"
        )
    return value


class StackConfig(BaseModel):
    """The ``mailfleet:*`` and ``aws:region`` settings of one region stack."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    name: str
    region: Region
    aws_region: str
    platform_domain: Annotated[str, AfterValidator(_platform_domain)]
    hosted_zone_id: Annotated[str, AfterValidator(names.route53_zone_id)]
    inbound_url: HttpsUrl
    webhook_url: HttpsUrl
    egress_ips: Annotated[list[str], Field(min_length=1)]
    dmarc_rua: Annotated[str, AfterValidator(names.mailto_uri)]
    record_ttl: Annotated[int, Field(ge=60, le=86400)] = 3600
    reputation: ReputationSettings = Field(default_factory=ReputationSettings)
    # The most tenants ``tenant add`` and ``shard rebalance`` place on this stack (None: no cap).
    shard_cap: Annotated[int, Field(ge=1)] | None = None
    mailgun_ips: MailgunIps | None = None  # dedicated IPs of every tenant without its own
    # A mail host that answers every RCPT with a 4xx: the MX of a moving tenant's platform
    # domain from just before its source domain's delete until the target's create, so that
    # senders retry instead of bouncing (docs/migrate.md "Holding MX"). None: no holding MX.
    holding_mx: Annotated[str, AfterValidator(names.domain)] | None = None

    @field_validator("aws_region")
    @classmethod
    def _aws_region(cls, value: str, info: ValidationInfo) -> str:
        if not _AWS_REGION.fullmatch(value):
            raise ValueError(f"{value!r} is not an AWS region name (like eu-central-1)")
        region = info.data.get("region")
        # Data residency: an EU stack keeps its outbound settings in an EU AWS region.
        if region is not None and not value.startswith(f"{region}-"):
            raise ValueError(f"{value!r} is outside the stack's region {region!r} ({region}-*)")
        return value

    @field_validator("egress_ips")
    @classmethod
    def _ips(cls, value: list[str]) -> list[str]:
        for ip in value:
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                raise ValueError(f"{ip!r} is not an IP address") from None
        return value

    @property
    def facts(self) -> RegionFacts:
        return REGIONS[self.region]


# Pulumi config key -> StackConfig field.
CONFIG_KEYS: dict[str, str] = {
    "mailfleet:region": "region",
    "aws:region": "aws_region",
    "mailfleet:platformDomain": "platform_domain",
    "mailfleet:hostedZoneId": "hosted_zone_id",
    "mailfleet:inboundUrl": "inbound_url",
    "mailfleet:webhookUrl": "webhook_url",
    "mailfleet:egressIps": "egress_ips",
    "mailfleet:dmarcRua": "dmarc_rua",
    "mailfleet:recordTtl": "record_ttl",
    "mailfleet:reputation": "reputation",
    "mailfleet:shardCap": "shard_cap",
    "mailfleet:mailgunIps": "mailgun_ips",
    "mailfleet:holdingMx": "holding_mx",
}
FIELD_KEYS = {v: k for k, v in CONFIG_KEYS.items()}


def stack_file(stacks_dir: Path, name: str) -> Path:
    return stacks_dir / f"Pulumi.{name}.yaml"


def discover_stacks(stacks_dir: Path) -> list[str]:
    """Stack names with a ``Pulumi.<name>.yaml`` in ``stacks_dir``, in name order."""
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in stacks_dir.glob("Pulumi.*.yaml"))
