"""``TenantMail``: everything one tenant needs in one region stack, as Pulumi resources.

Built from one ``mailfleet.desired.state.TenantState`` (the model decides *what*; this
component only maps each desired item onto a resource). Children, named by
``mailfleet.desired.naming`` after the tenant slug so that names never collide across tenants:

- ``<slug>-domain-<domain>``: ``mailgun.Domain`` per ``MailgunDomain`` (protect, delete_before_replace);
- ``<slug>-route-<address>``: ``mailgun.Route`` per ``MailgunRoute``;
- ``<slug>-webhook-<domain>-<kind>``: ``mailgun.Webhook`` per ``MailgunWebhook`` (depends on its domain);
- ``<slug>-credential-<domain>``: ``mailgun.DomainCredential`` (login ``crm``) on the sending domain,
  and ``<slug>-credential-param-<domain>``: the SSM SecureString holding its password;
- ``<slug>-dns-<name>-<TYPE>``: ``aws.route53.Record`` per Route53 ``DnsRecord`` (one per RRset),
  or ``cloudflare.DnsRecord`` per Cloudflare value (``-<host or index>`` appended when several);
- ``<slug>-outbound``: SSM String with the ``OutboundSetting`` JSON, and ``<slug>-smtp-password``:
  SSM SecureString with the tenant's own SMTP password (only when it uses its own SMTP).

Manual-DNS records are not resources: they are outputs the customer publishes. The DKIM
value is only known once the Mailgun domain exists; it is taken from the domain's
``sending_records_sets`` by name and record type (never by position: it is an unordered set).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_cloudflare as cloudflare
import pulumi_mailgun as mailgun

from components.providers import RegionProviders
from components.secrets import StackSecrets
from mailfleet.desired import naming
from mailfleet.desired.adopt import ADOPTED_DOMAIN_IGNORE
from mailfleet.desired.state import Adopted, DnsRecord, TenantState
from mailfleet.records import txt

log = logging.getLogger("components.tenant_mail")

TYPE_TOKEN = naming.COMPONENT_TYPE
CREDENTIAL_LOGIN = naming.CREDENTIAL_LOGIN


# The declared value of a held DKIM record (ignored: the record keeps the value it has).
HELD_VALUE = "held during a region move"


def credential_parameter(slug: str, domain: str) -> str:
    """The SSM SecureString the CRM reads the Mailgun SMTP password of ``domain`` from."""
    return f"/mailfleet/{slug}/mailgun-smtp-password/{domain}"


def _norm(name: str | None) -> str:
    return (name or "").rstrip(".").lower()


def pick_record_value(sets: Sequence[Any] | None, name: str, record_type: str, domain: str) -> str:
    """The value of the record called ``name`` with type ``record_type`` in a Mailgun record set.

    ``sets`` is ``Domain.sending_records_sets`` (``DomainSendingRecordsSet`` objects): an
    unordered set, so it is searched by name and type, never indexed.
    """
    for item in sets or ():
        if _norm(item.name) == _norm(name) and (item.record_type or "").upper() == record_type:
            return str(item.value)
    raise ValueError(
        f"Mailgun domain {domain} reports no {record_type} record named {name} in sending_records_sets"
    )


def _value_label(record_type: str, value: str, index: int) -> str:
    """A stable suffix for one value of a multi-value Cloudflare RRset."""
    if record_type == "MX":
        return value.split()[-1].rstrip(".")
    return str(index)


class TenantMail(pulumi.ComponentResource):
    """One tenant's Mailgun domains, routes, webhooks, credential, DNS records and outbound setting.

    Attributes after construction: ``domains`` (domain name -> ``mailgun.Domain``),
    ``resources`` (desired-item key -> its resources), and the three outputs also passed to
    ``register_outputs``: ``manual_records``, ``forwarding_addresses``, ``outbound``.
    """

    domains: dict[str, mailgun.Domain]
    resources: dict[str, list[pulumi.Resource]]
    manual_records: list[dict[str, Any]]
    forwarding_addresses: list[str]
    outbound: dict[str, Any] | None

    def __init__(
        self,
        tenant: TenantState,
        providers: RegionProviders,
        secrets: StackSecrets,
        opts: pulumi.ResourceOptions | None = None,
        *,
        lookup_region: str | None = None,
    ) -> None:
        """``lookup_region``: where to read a Mailgun domain this stack does not declare
        (only during a region move; default: the tenant's region in this stack)."""
        super().__init__(TYPE_TOKEN, naming.component(tenant.slug), None, opts)
        self._lookup_region = lookup_region or tenant.region
        self._tenant_state = tenant
        self._region_providers = providers
        self._stack_secrets = secrets
        self.domains = {}
        self.resources = {}
        self.manual_records = []
        slug = tenant.slug
        log.debug("tenant slug=%s region=%s domains=%d", slug, tenant.region, len(tenant.domains))

        self._declare_domains()
        self._declare_routes()
        self._declare_webhooks()
        self._declare_credential()
        for record in tenant.records:
            _RECORD_BUILDERS[record.provider](self, record)
        self._declare_outbound()

        self.forwarding_addresses = list(tenant.forwarding_addresses)
        self.outbound = tenant.outbound.as_dict() if tenant.outbound is not None else None
        self.register_outputs(self.outputs)

    @property
    def outputs(self) -> dict[str, Any]:
        """What the stack exports for this tenant."""
        return {
            "manual_records": self.manual_records,
            "forwarding_addresses": self.forwarding_addresses,
            "outbound": self.outbound,
        }

    # -- helpers --------------------------------------------------------------------------

    def _opts(self, provider: pulumi.ProviderResource, **kw: Any) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, provider=provider, **kw)

    @staticmethod
    def _adoption(adopted: Adopted | None, ignore: tuple[str, ...] = ()) -> dict[str, Any]:
        """Options of an item that existed before mailfleet: imported into state rather than
        created, never deleted by Pulumi (``retain_on_delete``: removing the tenant gives it
        back), and ``ignore`` for fields the provider cannot read back (they would otherwise
        force a replacement of something mailfleet does not own the history of)."""
        if adopted is None:
            return {}
        kw: dict[str, Any] = {"retain_on_delete": True}
        if adopted.import_id is not None:
            kw["import_"] = adopted.import_id
        if ignore:
            kw["ignore_changes"] = list(ignore)
        return kw

    def _add(self, key: str, resource: pulumi.Resource) -> None:
        self.resources.setdefault(key, []).append(resource)

    # -- Mailgun --------------------------------------------------------------------------

    def _declare_domains(self) -> None:
        for d in self._tenant_state.domains:
            domain = mailgun.Domain(
                naming.domain(d),
                name=d.name,
                region=d.region,
                dkim_selector=d.dkim_selector,
                dkim_key_size=d.dkim_key_size,
                spam_action=d.spam_action,
                wildcard=d.wildcard,
                force_dkim_authority=d.force_dkim_authority,
                open_tracking=d.open_tracking,
                click_tracking=d.click_tracking,
                web_scheme=d.web_scheme,
                # Changing region/selector/key size/spam action/wildcard/DKIM authority replaces
                # the domain, and a domain name exists once across regions: delete first, and
                # refuse to delete at all unless someone unprotects it on purpose.
                opts=self._opts(
                    self._region_providers.mailgun,
                    protect=True,
                    delete_before_replace=True,
                    **self._adoption(d.adopted, ADOPTED_DOMAIN_IGNORE),
                ),
            )
            self.domains[d.name] = domain
            self._add(d.key, domain)

    def _declare_routes(self) -> None:
        for r in self._tenant_state.routes:
            route = mailgun.Route(
                naming.route(r),
                priority=r.priority,
                description=r.description,
                expression=r.expression,
                actions=list(r.actions),
                region=r.region,
                opts=self._opts(self._region_providers.mailgun, **self._adoption(r.adopted)),
            )
            self._add(r.key, route)

    def _declare_webhooks(self) -> None:
        for w in self._tenant_state.webhooks:
            # The domain as an input taken from the Domain resource (not a plain string plus
            # depends_on): Pulumi re-creates a dependent on a delete-before-replace only when
            # it takes an input from the replaced resource, and Mailgun deletes a domain's
            # webhooks and credentials together with it.
            hook = mailgun.Webhook(
                naming.webhook(w),
                domain=self.domains[w.domain].name,
                kind=w.kind,
                urls=list(w.urls),
                region=w.region,
                opts=self._opts(
                    self._region_providers.mailgun,
                    depends_on=[self.domains[w.domain]],
                    **self._adoption(w.adopted),
                ),
            )
            self._add(w.key, hook)

    def _declare_credential(self) -> None:
        """The CRM's SMTP login on the sending domain, when any mail leaves through Mailgun."""
        name = self._tenant_state.credential_domain
        if name is None:
            return
        slug = self._tenant_state.slug
        password = self._stack_secrets.credential_password(name)
        adopted = self._tenant_state.credential_adopted
        credential = mailgun.DomainCredential(
            naming.credential(slug, name),
            domain=self.domains[name].name,  # an input of the domain: re-created with it
            login=CREDENTIAL_LOGIN,
            password=password,
            region=self._tenant_state.region,
            # An adopted login keeps the password the CRM already uses: Mailgun never returns
            # passwords, so Pulumi must not try to set ours.
            opts=self._opts(
                self._region_providers.mailgun,
                depends_on=[self.domains[name]],
                **self._adoption(adopted, ("password",)),
            ),
        )
        self._add(f"credential:{name}", credential)
        if adopted is not None:
            return  # its password is not ours to publish
        param = aws.ssm.Parameter(
            naming.credential_parameter(slug, name),
            name=credential_parameter(slug, name),
            type="SecureString",
            value=password,
            description=f"mailfleet {slug}: Mailgun SMTP password of {CREDENTIAL_LOGIN}@{name}",
            opts=self._opts(self._region_providers.aws, depends_on=[credential]),
        )
        self._add(f"credential:{name}", param)

    # -- DNS ------------------------------------------------------------------------------

    def _values(self, record: DnsRecord, render: str | None = None) -> list[pulumi.Input[str]]:
        """The record's values; the DKIM value comes from the Mailgun domain.

        With ``render`` (a provider name), TXT values are rendered for that provider
        (``txt.render``); otherwise they are the logical values.
        """
        rendering = render is not None and record.type == "TXT"
        if record.from_mailgun and record.moving == "held":
            # Held: the value is what the record holds (ignore_changes); no domain to read it
            # from exists between the source's delete and the target's create.
            return [HELD_VALUE]
        if not record.from_mailgun:
            if rendering:
                return [txt.render(v, render) for v in record.values]  # type: ignore[arg-type]
            return list(record.values)
        assert record.mailgun_domain is not None
        name = record.mailgun_domain
        domain = self.domains.get(name)
        if domain is not None:
            sets = domain.sending_records_sets
        else:
            # During a region move a stack can declare a domain's records while the domain
            # itself is declared elsewhere: read what Mailgun reports for it.
            found = mailgun.get_domain_output(
                name=name,
                region=self._lookup_region,
                opts=pulumi.InvokeOptions(parent=self, provider=self._region_providers.mailgun),
            )
            sets = found.sending_records_sets
        if rendering:
            return [
                sets.apply(lambda s: txt.render(pick_record_value(s, record.name, record.type, name), render))
            ]
        return [sets.apply(lambda s: pick_record_value(s, record.name, record.type, name))]

    @staticmethod
    def _moving(record: DnsRecord, ignore: tuple[str, ...], import_id: str | None) -> dict[str, Any]:
        """Options of a record during a region move (``DnsRecord.moving``)."""
        if record.moving == "retained":
            return {"retain_on_delete": True}
        if record.moving == "holding":  # the holding MX: its value is applied
            kw = {"retain_on_delete": True}
            return {**kw, "import_": import_id} if import_id is not None else kw
        if record.moving == "held":
            kw: dict[str, Any] = {"retain_on_delete": True, "ignore_changes": list(ignore)}
            if import_id is not None:
                kw["import_"] = import_id
            return kw
        return {}

    def _route53(self, record: DnsRecord) -> None:
        values = self._values(record, "route53")
        moving = self._moving(record, ("records", "ttl"), f"{record.zone_id}_{record.name}_{record.type}")
        rec = aws.route53.Record(
            naming.dns_record(record),
            zone_id=record.zone_id,
            name=record.name,
            type=record.type,
            ttl=record.ttl,
            records=values,
            opts=self._opts(self._region_providers.aws, **(self._adoption(record.adopted) or moving)),
        )
        self._add(record.key, rec)

    def _cloudflare(self, record: DnsRecord) -> None:
        provider = self._region_providers.require_cloudflare(self._tenant_state.slug)
        values = self._values(record, "cloudflare")
        for i, value in enumerate(values):
            label = None if len(values) == 1 else _value_label(record.type, str(value), i)
            name = naming.dns_record(record, label)
            kw: dict[str, Any] = {}
            content: pulumi.Input[str] = value
            if record.type == "MX":
                priority, host = str(value).split()
                kw["priority"] = float(priority)
                content = host
            elif record.type == "CNAME":
                kw["proxied"] = False  # Mailgun must see the tracking requests itself
            rec = cloudflare.DnsRecord(
                name,
                zone_id=record.zone_id,
                name=record.name,
                type=record.type,
                ttl=record.ttl,
                content=content,
                # A Cloudflare record's import id needs its record id, which only the state
                # knows: held records of a Cloudflare zone are not imported (docs/migrate.md).
                opts=self._opts(
                    provider,
                    **(
                        self._adoption(record.adopted)
                        or self._moving(record, ("content", "ttl", "priority"), None)
                    ),
                ),
                **kw,
            )
            self._add(record.key, rec)

    def _manual(self, record: DnsRecord) -> None:
        """Not a resource: the customer publishes it; ``mailfleet check`` verifies it."""
        self.manual_records.append(
            {
                "purpose": record.purpose,
                "name": record.name,
                "type": record.type,
                "ttl": record.ttl,
                "values": self._values(record),
            }
        )

    # -- outbound -------------------------------------------------------------------------

    def _declare_outbound(self) -> None:
        out = self._tenant_state.outbound
        if out is None:
            return
        slug = self._tenant_state.slug
        # insecure_value: the setting holds no secret, and reviewers see its changes in previews.
        setting = aws.ssm.Parameter(
            naming.outbound(slug),
            name=out.parameter,
            type="String",
            insecure_value=json.dumps(out.value, sort_keys=True, separators=(",", ":")),
            description=f"mailfleet {slug}: how the CRM sends this tenant's mail",
            opts=self._opts(self._region_providers.aws),
        )
        self._add(out.key, setting)
        if out.secret_parameter is not None:
            secret = aws.ssm.Parameter(
                naming.smtp_password(slug),
                name=out.secret_parameter,
                type="SecureString",
                value=self._stack_secrets.smtp_password(slug),
                description=f"mailfleet {slug}: password of the tenant's own SMTP server",
                opts=self._opts(self._region_providers.aws),
            )
            self._add(out.key, secret)


_RECORD_BUILDERS = {
    "route53": TenantMail._route53,
    "cloudflare": TenantMail._cloudflare,
    "manual": TenantMail._manual,
}
