"""Desired-state items. Frozen, slotted and JSON-ready through ``as_dict``.

Each item has a ``key``: its identity across revisions (``diff``) and its resource name
suffix in the Pulumi program. A key never contains a value, only what names the thing.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any, TypeVar

_T = TypeVar("_T")


def _fast_init(cls: type[_T]) -> type[_T]:
    """Give a frozen, slotted dataclass an ``__init__`` that fills its slots directly.

    A frozen dataclass's own ``__init__`` goes through ``object.__setattr__`` per field; this
    one calls each slot's descriptor, bound once: the same signature, defaults and result at
    about half the cost (``plan`` builds some 300,000 of these items for 10,000 tenants).
    The instance stays frozen (assignment still raises ``FrozenInstanceError``), and
    ``dataclasses.replace`` goes through it like any construction. The dataclass's own
    ``__init__`` stays reachable as ``__dataclass_init__`` (tests compare the two).
    """
    namespace: dict[str, Any] = {}
    params: list[str] = []
    body: list[str] = []
    for f in fields(cls):  # type: ignore[arg-type]
        if f.default_factory is not MISSING or not f.init or f.kw_only:
            raise TypeError(f"{cls.__name__}.{f.name}: only plain fields and plain defaults")
        namespace[f"_set_{f.name}"] = getattr(cls, f.name).__set__
        if f.default is MISSING:
            params.append(f.name)
        else:
            namespace[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        body.append(f"    _set_{f.name}(self, {f.name})")
    source = f"def __init__(self, {', '.join(params)}) -> None:\n" + "\n".join(body) + "\n"
    exec(source, namespace)  # the source holds only the class's own field names
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    cls.__dataclass_init__ = cls.__init__  # type: ignore[attr-defined]
    cls.__init__ = init  # type: ignore[misc]
    return cls


# Fields of a Mailgun domain whose change makes pulumi-mailgun REPLACE (delete, then create)
# the domain (pulumi-mailgun's schema marks them ForceNew). ``plan``/``diff``/``validate`` flag
# changes to them.
DOMAIN_REPLACE_FIELDS = (
    "region",
    "dkim_selector",
    "dkim_key_size",
    "spam_action",
    "wildcard",
    "force_dkim_authority",
)


@_fast_init
@dataclass(frozen=True, slots=True)
class Adopted:
    """An item that existed before mailfleet: imported into Pulumi state (``import_id``), never
    deleted by it (``retain_on_delete``), and given back on release with ``original`` values
    (DNS records: the RRset's values as they were; empty for Mailgun resources)."""

    import_id: str | None
    original: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"import_id": self.import_id}
        if self.original:
            out["original"] = list(self.original)
        return out


def _with_adopted(data: dict[str, Any], adopted: Adopted | None) -> dict[str, Any]:
    if adopted is not None:
        data["adopted"] = adopted.as_dict()
    return data


WEBHOOK_KINDS = ("delivered", "permanent_fail", "temporary_fail", "complained", "unsubscribed")
TRACKING_WEBHOOK_KINDS = ("opened", "clicked")


@_fast_init
@dataclass(frozen=True, slots=True)
class MailgunDomain:
    tenant: str
    name: str
    region: str
    role: str  # "platform" (receives, our zone) or "sender" (customer's own domain)
    dkim_selector: str
    dkim_key_size: int
    spam_action: str = "disabled"
    wildcard: bool = False
    force_dkim_authority: bool = True
    open_tracking: bool = False
    click_tracking: bool = False
    web_scheme: str = "https"
    adopted: Adopted | None = None

    @property
    def key(self) -> str:
        return f"domain:{self.name}"

    def as_dict(self) -> dict[str, Any]:
        return _with_adopted(
            {
                "name": self.name,
                "region": self.region,
                "role": self.role,
                "dkim_selector": self.dkim_selector,
                "dkim_key_size": self.dkim_key_size,
                "spam_action": self.spam_action,
                "wildcard": self.wildcard,
                "force_dkim_authority": self.force_dkim_authority,
                "open_tracking": self.open_tracking,
                "click_tracking": self.click_tracking,
                "web_scheme": self.web_scheme,
            },
            self.adopted,
        )


@_fast_init
@dataclass(frozen=True, slots=True)
class MailgunRoute:
    """A route matching exactly one address; Mailgun routes are account-wide per region."""

    tenant: str
    address: str
    region: str
    priority: int
    expression: str
    actions: tuple[str, ...]
    description: str
    adopted: Adopted | None = None

    @property
    def key(self) -> str:
        return f"route:{self.address}"

    def as_dict(self) -> dict[str, Any]:
        return _with_adopted(
            {
                "address": self.address,
                "region": self.region,
                "priority": self.priority,
                "expression": self.expression,
                "actions": list(self.actions),
                "description": self.description,
            },
            self.adopted,
        )


@_fast_init
@dataclass(frozen=True, slots=True)
class MailgunWebhook:
    tenant: str
    domain: str
    region: str
    kind: str
    urls: tuple[str, ...]
    adopted: Adopted | None = None

    @property
    def key(self) -> str:
        return f"webhook:{self.domain}:{self.kind}"

    def as_dict(self) -> dict[str, Any]:
        data = {"domain": self.domain, "region": self.region, "kind": self.kind, "urls": list(self.urls)}
        return _with_adopted(data, self.adopted)


@_fast_init
@dataclass(frozen=True, slots=True)
class DnsRecord:
    """One RRset: all values of one (name, type) in one zone.

    ``values`` hold logical values (TXT joined, never split). When ``from_mailgun`` is true
    the value is only known once the Mailgun domain exists (the DKIM public key); ``values``
    is then empty and consumers take it from the domain's ``sending_records_sets`` by name
    and type. ``zone_id`` is the Route53 hosted zone or Cloudflare zone id (None: manual).
    """

    tenant: str
    purpose: str  # mx | spf | dkim | dmarc | dmarc-auth | tracking
    provider: str  # route53 | cloudflare | manual
    zone: str  # "ours" (the stack's platform zone) or the customer's domain
    zone_id: str | None
    name: str
    type: str
    ttl: int
    values: tuple[str, ...] = ()
    from_mailgun: bool = False
    mailgun_domain: str | None = None
    adopted: Adopted | None = None
    # During a region move (``Declaration``): "retained" (retain_on_delete) or "held" (the
    # target's hold between the point of no return and create-target). Not part of the value.
    moving: str | None = None

    @property
    def key(self) -> str:
        return f"dns:{self.name}:{self.type}"

    @property
    def ours(self) -> bool:
        """True for records in our own zone; False for the customer's zone."""
        return self.zone == "ours"

    def as_dict(self) -> dict[str, Any]:
        return _with_adopted(
            {
                "purpose": self.purpose,
                "provider": self.provider,
                "zone": self.zone,
                "zone_id": self.zone_id,
                "name": self.name,
                "type": self.type,
                "ttl": self.ttl,
                "values": list(self.values),
                "from_mailgun": self.from_mailgun,
            },
            self.adopted,
        )


@_fast_init
@dataclass(frozen=True, slots=True)
class Channel:
    via: str  # mailgun | smtp
    host: str | None = None
    port: int | None = None

    def as_dict(self) -> dict[str, Any]:
        if self.via == "smtp":
            return {"via": "smtp", "host": self.host, "port": self.port}
        return {"via": self.via}


@_fast_init
@dataclass(frozen=True, slots=True)
class OutboundSetting:
    """What the CRM reads to decide how a tenant's mail leaves (an SSM parameter).

    ``value`` is the parameter's JSON; it carries no secret. An SMTP password, when a
    channel goes via the customer's SMTP server, lives in ``secret_parameter`` (a SecureString
    whose value comes from Pulumi secrets, never from the tenant file).
    """

    tenant: str
    region: str
    aws_region: str
    parameter: str
    service: Channel
    marketing: Channel
    sending_domain: str
    egress_ips: tuple[str, ...] = ()
    secret_parameter: str | None = None

    @property
    def key(self) -> str:
        return f"outbound:{self.parameter}"

    @property
    def value(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "region": self.region,
            "sending_domain": self.sending_domain,
            "service": self.service.as_dict(),
            "marketing": self.marketing.as_dict(),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "parameter": self.parameter,
            "aws_region": self.aws_region,
            "value": self.value,
            "egress_ips_to_allow": list(self.egress_ips),
            "secret_parameter": self.secret_parameter,
        }


@_fast_init
@dataclass(frozen=True, slots=True)
class SendingIps:
    """The Mailgun dedicated IPs a tenant's domains send from (its own, or its stack's)."""

    ips: tuple[str, ...]
    pool: str | None
    source: str  # "tenant" or "stack"

    def as_dict(self) -> dict[str, Any]:
        return {"ips": list(self.ips), "pool": self.pool, "source": self.source}


@dataclass(slots=True)
class TenantState:
    """Everything one tenant needs in one region stack."""

    slug: str
    display_name: str
    region: str
    domains: list[MailgunDomain] = field(default_factory=list)
    routes: list[MailgunRoute] = field(default_factory=list)
    webhooks: list[MailgunWebhook] = field(default_factory=list)
    records: list[DnsRecord] = field(default_factory=list)
    outbound: OutboundSetting | None = None
    forwarding_addresses: list[str] = field(default_factory=list)
    credential_adopted: Adopted | None = None  # the CRM's SMTP login existed (import, keep password)
    sending_ips: SendingIps | None = None  # Mailgun dedicated IPs; None: Mailgun's shared IPs

    @property
    def customer_records(self) -> list[DnsRecord]:
        """The records the customer publishes (or we manage) in the customer's zone."""
        return [r for r in self.records if not r.ours]

    @property
    def manual_records(self) -> list[DnsRecord]:
        return [r for r in self.records if r.provider == "manual"]

    @property
    def credential_domain(self) -> str | None:
        """The domain that gets the CRM's Mailgun SMTP login, or None.

        One login on the sending domain, when any of the tenant's mail leaves through Mailgun
        and this stack declares that domain (a credential is bound to its domain's region).
        """
        out = self.outbound
        if out is None or "mailgun" not in (out.service.via, out.marketing.via):
            return None
        if not any(d.name == out.sending_domain for d in self.domains):
            return None
        return out.sending_domain

    def items(self) -> list[Any]:
        out: list[Any] = [*self.domains, *self.routes, *self.webhooks, *self.records]
        if self.outbound is not None:
            out.append(self.outbound)
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "name": self.display_name,
            "region": self.region,
            "mailgun_domains": [d.as_dict() for d in self.domains],
            "routes": [r.as_dict() for r in self.routes],
            "webhooks": [w.as_dict() for w in self.webhooks],
            "dns_records": [r.as_dict() for r in self.records],
            "outbound": self.outbound.as_dict() if self.outbound else None,
            "forwarding_addresses": list(self.forwarding_addresses),
            **({"sending_ips": self.sending_ips.as_dict()} if self.sending_ips is not None else {}),
        }


@dataclass(slots=True)
class StackState:
    """The desired state of one region stack."""

    stack: str
    region: str
    aws_region: str
    platform_domain: str
    hosted_zone_id: str
    tenants: list[TenantState] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "region": self.region,
            "aws_region": self.aws_region,
            "platform_domain": self.platform_domain,
            "hosted_zone_id": self.hosted_zone_id,
            "tenants": [t.as_dict() for t in self.tenants],
        }

    def tenant(self, slug: str) -> TenantState | None:
        for t in self.tenants:
            if t.slug == slug:
                return t
        return None
