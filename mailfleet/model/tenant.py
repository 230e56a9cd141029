"""The tenant file schema: ``tenants/<slug>.yaml``.

One file per tenant. The three ways a tenant uses mail (README.md) map onto it as:

1. platform addresses only: no ``sender_domain``;
2. own domain + forwarding: ``sender_domain`` with its DNS host;
3. own SMTP for outbound: ``outbound.service`` and/or ``outbound.marketing`` set to ``smtp``
   with ``outbound.smtp`` naming the customer's server.

Models are strict (no type coercion: ``"2048"``, ``2048.0`` and ``true`` are not integers)
and forbid unknown fields, so a typo is an error rather than a silently ignored setting.
Secrets never live here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from mailfleet.model import names
from mailfleet.model.adoption import Adoption
from mailfleet.model.ips import IpAddress, MailgunIps, unique
from mailfleet.model.migration import Migration
from mailfleet.model.region import Region
from mailfleet.model.shard_move import ShardMove

Slug = Annotated[str, AfterValidator(names.slug)]
Domain = Annotated[str, AfterValidator(names.domain)]
IncludeDomain = Annotated[str, AfterValidator(lambda v: names.domain(v, service_labels=True))]
Mailbox = Annotated[str, AfterValidator(names.local_part)]
Selector = Annotated[str, AfterValidator(names.dkim_selector)]
StackName = Annotated[str, AfterValidator(names.stack_name)]
MailtoUri = Annotated[str, AfterValidator(names.mailto_uri)]

DnsProvider = Literal["cloudflare", "route53", "manual"]
DmarcPolicy = Literal["none", "quarantine", "reject"]
Via = Literal["mailgun", "smtp"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def parse_dns_host(value: str) -> tuple[DnsProvider, str | None]:
    """Parse ``cloudflare:ZONE_ID``, ``route53:HOSTED_ZONE_ID`` or ``manual``."""
    if value == "manual":
        return "manual", None
    provider, sep, zone = value.partition(":")
    if not sep or provider not in ("cloudflare", "route53"):
        raise ValueError(
            f"DNS host {value!r} must be 'cloudflare:ZONE_ID', 'route53:HOSTED_ZONE_ID' or 'manual'"
        )
    if provider == "cloudflare":
        return "cloudflare", names.cloudflare_zone_id(zone)
    return "route53", names.route53_zone_id(zone)


def _dns_host(value: str) -> str:
    parse_dns_host(value)
    return value


def _printable(value: str) -> str:
    """Display text goes to terminals and PR comments: no control characters."""
    if not value.isprintable():
        raise ValueError("must be printable text, without control characters (newlines, tabs, escapes)")
    if not value.strip():
        raise ValueError("must not be blank")
    return value


class SenderDomain(_Strict):
    """The customer's own sending domain (way 2) and where its DNS is hosted."""

    name: Domain
    dns: Annotated[str, AfterValidator(_dns_host)] = "manual"
    spf_includes: Annotated[list[IncludeDomain], AfterValidator(unique)] = Field(default_factory=list)
    spf_all: Literal["~all", "-all"] = "~all"

    @property
    def provider(self) -> DnsProvider:
        return parse_dns_host(self.dns)[0]

    @property
    def zone_id(self) -> str | None:
        return parse_dns_host(self.dns)[1]


DEFAULT_DMARC_POLICY: DmarcPolicy = "quarantine"


class Dmarc(_Strict):
    # None: the adopted DMARC record's policy (the customer's), else DEFAULT_DMARC_POLICY.
    # `tenant add` writes the policy out for a tenant with no adopted record.
    policy: DmarcPolicy | None = None
    rua: Annotated[list[MailtoUri], AfterValidator(unique)] = Field(default_factory=list)
    ruf: Annotated[list[MailtoUri], AfterValidator(unique)] = Field(default_factory=list)


def _key_size(value: Any) -> Any:
    """Strict mode compares a literal by equality, so ``2048.0`` would pass as ``2048``."""
    if isinstance(value, float):
        raise ValueError("Input should be 1024 or 2048, written as an integer (not a float)")
    return value


class Dkim(_Strict):
    selector: Selector = "mailfleet"
    bits: Annotated[Literal[1024, 2048], BeforeValidator(_key_size)] = 2048


class Smtp(_Strict):
    host: Domain
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    # The customer's own SMTP server's sending IPs (way 3): `mailfleet blocklists` checks them,
    # because the customer handles the blacklisting of its own addresses.
    egress_ips: Annotated[list[IpAddress], AfterValidator(unique)] = Field(default_factory=list)


class Outbound(_Strict):
    service: Via = "mailgun"
    marketing: Via = "mailgun"
    smtp: Smtp | None = None

    @model_validator(mode="after")
    def _smtp_needs_host(self) -> Outbound:
        uses_smtp = "smtp" in (self.service, self.marketing)
        if uses_smtp and self.smtp is None:
            raise ValueError("outbound via smtp needs smtp.host (and optionally smtp.port)")
        if not uses_smtp and self.smtp is not None:
            raise ValueError("smtp is set but neither service nor marketing goes via smtp")
        return self


class Tenant(_Strict):
    """One tenant of the CRM. ``migration`` is written by ``mailfleet migrate`` only."""

    slug: Slug
    name: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_printable)]
    region: Region
    # The stack (shard) of ``region`` serving the tenant, written by ``tenant add`` and
    # ``shard move``; optional while the region has one stack (docs/sharding.md).
    stack: StackName | None = None
    mailboxes: Annotated[list[Mailbox], Field(min_length=1), AfterValidator(unique)]
    sender_domain: SenderDomain | None = None
    dmarc: Dmarc = Field(default_factory=Dmarc)
    dkim: Dkim = Field(default_factory=Dkim)
    tracking: bool = False
    outbound: Outbound = Field(default_factory=Outbound)
    mailgun_ips: MailgunIps | None = None  # dedicated IPs (else the stack's, else Mailgun's shared)
    migration: Migration | None = None
    adopted: Adoption | None = None
    shard_move: ShardMove | None = None

    @model_validator(mode="after")
    def _migration_matches_region(self) -> Tenant:
        m = self.migration
        if m is not None:
            home = m.to if m.state == "done" else m.from_region
            if self.region != home:
                raise ValueError(
                    f"region must be {home!r} while migration.state is {m.state!r} "
                    f"(from {m.from_region!r} to {m.to!r})"
                )
        return self

    @model_validator(mode="after")
    def _shard_move_from_stack(self) -> Tenant:
        move = self.shard_move
        if move is not None:
            if self.stack != move.from_stack:
                raise ValueError(f"stack must be {move.from_stack!r} while shard_move is under way (from it)")
            if self.migration is not None and self.migration.state != "done":
                raise ValueError("a shard move and a region move cannot run at once")
        return self

    @property
    def placed_stack(self) -> str | None:
        """The stack named for the tenant now: ``stack``, or during a shard move the stack the
        move has reached (``ShardMove.serving``)."""
        return self.shard_move.serving if self.shard_move is not None else self.stack

    @property
    def uses_smtp(self) -> bool:
        return "smtp" in (self.outbound.service, self.outbound.marketing)
