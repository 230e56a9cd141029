"""Turning tenants and a stack's settings into the stack's desired state."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from mailfleet.desired import adopt
from mailfleet.desired.rules import MAILGUN_SPF_INCLUDE
from mailfleet.desired.shards import home as shards_home
from mailfleet.desired.state import (
    TRACKING_WEBHOOK_KINDS,
    WEBHOOK_KINDS,
    Channel,
    DnsRecord,
    MailgunDomain,
    MailgunRoute,
    MailgunWebhook,
    OutboundSetting,
    SendingIps,
    StackState,
    TenantState,
)
from mailfleet.model.migration import (
    FULL,
    REGION_DEPENDENT_PURPOSES,
    Declaration,
    declaration,
)
from mailfleet.model.region import REGIONS
from mailfleet.model.stack import StackConfig
from mailfleet.model.tenant import DEFAULT_DMARC_POLICY, Tenant
from mailfleet.records import dkim, dmarc, mx, spf, tracking

ROUTE_PRIORITY = 10
OURS = "ours"


def platform_domain_of(tenant: Tenant, stack: StackConfig) -> str:
    """The tenant's platform domain in this stack: ``<slug>.<platform domain>``.

    A tenant that moved (or is moving) between regions keeps the platform domain of the
    region it came from (recorded in its ``migration`` block), so its addresses never change.
    """
    if tenant.migration is not None:
        return tenant.migration.platform_domain
    return f"{tenant.slug}.{stack.platform_domain}"


def platform_zone_of(tenant: Tenant, stack: StackConfig) -> str:
    """The Route53 hosted zone holding the tenant's platform domain records."""
    if tenant.migration is not None:
        return tenant.migration.platform_zone_id
    return stack.hosted_zone_id


def stack_declaration(tenant: Tenant, stack: StackConfig) -> Declaration | None:
    """Which parts of ``tenant`` the stack declares (None: none), given any migration under way."""
    return declaration(tenant.migration, stack.region, tenant.region)


def changing_purposes(from_region: str, to_region: str) -> frozenset[str]:
    """Record purposes whose value differs between two regions (their TTL is lowered on a move)."""
    if REGIONS[from_region].spf_include != REGIONS[to_region].spf_include:
        return REGION_DEPENDENT_PURPOSES | {"spf"}
    return REGION_DEPENDENT_PURPOSES


def route_expression(address: str) -> str:
    """``match_recipient`` anchored to exactly one address (routes are account-wide)."""
    return f'match_recipient("^{re.escape(address)}$")'


def route_actions(stack: StackConfig, slug: str) -> tuple[str, ...]:
    return (f'forward("{stack.inbound_url}/{slug}")', "stop()")


def _mailgun_domain(tenant: Tenant, name: str, role: str, region: str) -> MailgunDomain:
    return MailgunDomain(
        tenant=tenant.slug,
        name=name,
        region=region,
        role=role,
        dkim_selector=tenant.dkim.selector,
        dkim_key_size=tenant.dkim.bits,
        open_tracking=tenant.tracking,
        click_tracking=tenant.tracking,
    )


def _domain_records(
    tenant: Tenant,
    stack: StackConfig,
    domain: str,
    *,
    provider: str,
    zone: str,
    zone_id: str | None,
    spf_value: str,
    with_mx: bool,
) -> list[DnsRecord]:
    facts = stack.facts
    ttl = stack.record_ttl
    slug = tenant.slug

    def rec(purpose: str, name: str, type_: str, values: tuple[str, ...], **kw: object) -> DnsRecord:
        return DnsRecord(slug, purpose, provider, zone, zone_id, name, type_, ttl, values, **kw)  # type: ignore[arg-type]

    # The stack's report address first; a tenant repeating it does not list it twice. In our
    # own zone only report addresses of our organisation are listed: an address elsewhere would
    # need an authorisation record in a zone we don't control (RFC 7489 §7.1), so the tenant's
    # own addresses go on its sender domain's record only.
    tenant_rua, tenant_ruf = tenant.dmarc.rua, tenant.dmarc.ruf
    if zone == OURS:
        tenant_rua = [u for u in tenant_rua if not dmarc.external_destinations(domain, [u])]
        tenant_ruf = [u for u in tenant_ruf if not dmarc.external_destinations(domain, [u])]
    rua = tuple(dict.fromkeys((stack.dmarc_rua, *tenant_rua)))
    out: list[DnsRecord] = []
    if with_mx:
        out.append(rec("mx", domain, "MX", mx.values(facts)))
    out.append(rec("spf", domain, "TXT", (spf_value,)))
    out.extend(_dkim_records(tenant, stack, domain, rec))
    out.append(
        rec(
            "dmarc",
            dmarc.record_name(domain),
            "TXT",
            (dmarc.value(tenant.dmarc.policy or DEFAULT_DMARC_POLICY, rua, tenant_ruf),),
        )
    )
    if tenant.tracking:
        out.append(rec("tracking", tracking.record_name(domain), "CNAME", (tracking.target(facts),)))
    return out


def _dkim_records(tenant: Tenant, stack: StackConfig, domain: str, rec: Any) -> list[DnsRecord]:
    """The DKIM record(s) of ``domain``: Mailgun's key under the tenant's selector, or, in the
    target region of a move with DKIM overlap (``migration.dkim``), the key mailfleet made
    under the new selector, plus the old selector's record kept unchanged until ``finalize``."""
    m = tenant.migration
    overlap = m.dkim if m is not None else None
    if m is None or overlap is None or stack.region != m.to or domain not in overlap.keys:
        return [
            rec(
                "dkim",
                dkim.record_name(tenant.dkim.selector, domain),
                "TXT",
                (),
                from_mailgun=True,
                mailgun_domain=domain,
            )
        ]
    out = [
        rec("dkim", dkim.record_name(overlap.selector, domain), "TXT", (dkim.value(overlap.keys[domain]),))
    ]
    old = overlap.old_values.get(domain)
    if old is not None and m.state != "done" and not m.started("finalize"):
        out.append(rec("dkim", dkim.record_name(overlap.old_selector, domain), "TXT", (old,)))
    return out


def new_dkim_record(tenant: Tenant, record: DnsRecord) -> bool:
    """Is ``record`` a DKIM record under the new selector of the tenant's move?"""
    m = tenant.migration
    if m is None or m.dkim is None or record.purpose != "dkim":
        return False
    return record.name.startswith(f"{m.dkim.selector}._domainkey.")


def _report_authorisations(tenant: Tenant, stack: StackConfig, domain: str) -> list[DnsRecord]:
    """RFC 7489 §7.1 records we can publish: report destinations inside our own zone."""
    out = []
    for dest in dmarc.external_destinations(domain, [stack.dmarc_rua]):
        if dest == stack.platform_domain or dest.endswith("." + stack.platform_domain):
            out.append(
                DnsRecord(
                    tenant.slug,
                    "dmarc-auth",
                    "route53",
                    OURS,
                    stack.hosted_zone_id,
                    dmarc.authorisation_name(domain, dest),
                    "TXT",
                    stack.record_ttl,
                    (dmarc.AUTHORISATION_VALUE,),
                )
            )
    return out


def build_tenant(tenant: Tenant, stack: StackConfig) -> TenantState:
    """What ``stack`` declares for ``tenant``; pure and deterministic.

    Without a migration under way that is everything the tenant needs in the stack's region.
    During a move, the tenant's ``migration`` block decides which parts (domains, routes,
    records) each of the two stacks declares and lowers the TTL of the records that change
    (``mailfleet.model.migration``). Called for a stack that declares nothing for the tenant,
    it returns the full state (what the tenant would need there).
    """
    decl = stack_declaration(tenant, stack) or FULL
    state = _build_full(tenant, stack)
    if decl is FULL:
        return state
    if decl.lowered_ttl is not None and tenant.migration is not None:
        m = tenant.migration
        changing = changing_purposes(m.from_region, m.to)
        state.records = [
            replace(r, ttl=decl.lowered_ttl) if r.purpose in changing else r for r in state.records
        ]
    if not decl.domains:
        state.domains = []
        state.webhooks = []
        state.outbound = None
    if not decl.routes:
        state.routes = []
    if not decl.records:
        state.records = [r for r in state.records if decl.dkim_only and new_dkim_record(tenant, r)]
    elif decl.records_held:
        # What the moved records are named is what the target declares; report authorisations
        # are the stack's own (its DMARC report address), so only the target's new ones count.
        state.records = [
            _holding(r, stack.holding_mx)
            if r.purpose == "mx" and stack.holding_mx
            else replace(r, moving="held")
            for r in state.records
            if r.purpose != "dmarc-auth"
        ]
    elif decl.records_retained:
        state.records = [replace(r, moving="retained") for r in state.records]
    return state


def _holding(record: DnsRecord, host: str) -> DnsRecord:
    """The MX during the hold when the target stack names a holding MX host: that host only."""
    return replace(record, values=(f"10 {host}",), moving="holding")


def _build_full(tenant: Tenant, stack: StackConfig) -> TenantState:
    region = stack.region
    facts = REGIONS[region]
    slug = tenant.slug
    platform = platform_domain_of(tenant, stack)
    state = TenantState(slug=slug, display_name=tenant.name, region=region)
    dedicated = tenant.mailgun_ips or stack.mailgun_ips
    ip_terms = dedicated.spf_terms() if dedicated is not None else ()
    if dedicated is not None:
        state.sending_ips = SendingIps(
            tuple(dedicated.ips), dedicated.pool, "tenant" if tenant.mailgun_ips is not None else "stack"
        )

    state.domains.append(_mailgun_domain(tenant, platform, "platform", region))
    state.records.extend(
        _domain_records(
            tenant,
            stack,
            platform,
            provider="route53",
            zone=OURS,
            zone_id=platform_zone_of(tenant, stack),
            spf_value=spf.Spf(() if ip_terms else (facts.spf_include,), "~all", ip_terms).value,
            with_mx=True,
        )
    )
    if tenant.migration is not None:
        # A kept platform domain may sit outside this stack's zone: authorise its reports.
        state.records.extend(_report_authorisations(tenant, stack, platform))
    sending_domain = platform
    sender = tenant.sender_domain
    if sender is not None:
        sending_domain = sender.name
        state.domains.append(_mailgun_domain(tenant, sender.name, "sender", region))
        merged = spf.merge(MAILGUN_SPF_INCLUDE, sender.spf_includes, sender.spf_all, ip_terms=ip_terms)
        state.records.extend(
            _domain_records(
                tenant,
                stack,
                sender.name,
                provider=sender.provider,
                zone=sender.name,
                zone_id=sender.zone_id,
                spf_value=merged.value,
                with_mx=False,
            )
        )
        state.records.extend(_report_authorisations(tenant, stack, sender.name))

    for box in tenant.mailboxes:
        address = f"{box}@{platform}"
        state.forwarding_addresses.append(address)
        state.routes.append(
            MailgunRoute(
                tenant=slug,
                address=address,
                region=region,
                priority=ROUTE_PRIORITY,
                expression=route_expression(address),
                actions=route_actions(stack, slug),
                description=f"mailfleet {slug}: {address}",
            )
        )

    kinds = WEBHOOK_KINDS + (TRACKING_WEBHOOK_KINDS if tenant.tracking else ())
    url = (f"{stack.webhook_url}/{slug}",)
    for domain in state.domains:
        for kind in kinds:
            state.webhooks.append(MailgunWebhook(slug, domain.name, region, kind, url))

    out = tenant.outbound
    smtp = out.smtp

    def channel(via: str) -> Channel:
        if via == "smtp" and smtp is not None:
            return Channel("smtp", smtp.host, smtp.port)
        return Channel("mailgun")

    state.outbound = OutboundSetting(
        tenant=slug,
        region=region,
        aws_region=stack.aws_region,
        parameter=f"/mailfleet/{slug}/outbound",
        service=channel(out.service),
        marketing=channel(out.marketing),
        sending_domain=sending_domain,
        egress_ips=tuple(stack.egress_ips) if tenant.uses_smtp else (),
        secret_parameter=f"/mailfleet/{slug}/smtp-password" if tenant.uses_smtp else None,
    )
    return adopt.apply(tenant, state, stack.dmarc_rua)


def in_stack(tenant: Tenant, stack: StackConfig, shards: Sequence[str] | None = None) -> bool:
    """Whether ``stack`` declares something for ``tenant``: its region's declaration (a moving
    tenant is in two regions) and, among ``shards`` (the names of the stacks of ``stack``'s
    region; default: ``stack`` alone), the shard serving it (``mailfleet.desired.shards``)."""
    if stack_declaration(tenant, stack) is None:
        return False
    return shards_home(tenant, stack.region, shards or (stack.name,)) == stack.name


def tenants_for_stack(
    tenants: dict[str, Tenant] | list[Tenant], stack: StackConfig, shards: Sequence[str] | None = None
) -> list[Tenant]:
    """The tenants ``stack`` declares something for (a moving tenant can be in two stacks);
    ``shards``: the names of every stack of ``stack``'s region (default: ``stack`` alone)."""
    values = tenants.values() if isinstance(tenants, dict) else tenants
    return sorted((t for t in values if in_stack(t, stack, shards)), key=lambda t: t.slug)


def build_stack(
    stack: StackConfig, tenants: dict[str, Tenant] | list[Tenant], shards: Sequence[str] | None = None
) -> StackState:
    """The desired state of ``stack`` for the tenants that belong to it (see ``in_stack``)."""
    state = StackState(
        stack=stack.name,
        region=stack.region,
        aws_region=stack.aws_region,
        platform_domain=stack.platform_domain,
        hosted_zone_id=stack.hosted_zone_id,
    )
    for tenant in tenants_for_stack(tenants, stack, shards):
        state.tenants.append(build_tenant(tenant, stack))
    return state
