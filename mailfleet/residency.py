"""The data-residency report: per tenant, where its mail is processed and stored, and what still
points at another region.

Computed from the model (what each stack declares for the tenant right now, migration blocks
included), so it needs no credentials; with Mailgun clients (``live``) it also asks each
region's API which of the tenant's domains and routes really exist there, which catches
leftovers created by hand or left by an interrupted move.

Per tenant: ``region`` (home region), ``mailgun_api_host``, ``stored_mail`` (where Mailgun
stores received messages: the region of the Mailgun domain; after a move the old region keeps
stored messages up to 3 days, so the report says until when), ``mx_hosts`` (what the
platform domain's MX record points at), and ``leftovers``: each item that points at a region
other than the home region (``route``, ``domain``, ``webhook``, ``dns``, ``dkim``,
``outbound``, ``stored-mail``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from mailfleet.desired.build import build_tenant, stack_declaration
from mailfleet.mailgun.client import MailgunClient
from mailfleet.mailgun.errors import MailgunError
from mailfleet.model.migration import epoch, now_iso
from mailfleet.model.region import REGIONS
from mailfleet.model.stack import StackConfig
from mailfleet.model.tenant import Tenant

REPORT_FORMAT = "mailfleet-residency/1"
STORED_MAIL_RETENTION = timedelta(days=3)  # Mailgun's store() keeps messages up to 3 days


@dataclass
class Leftover:
    kind: str
    region: str
    where: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "region": self.region, "where": self.where, "detail": self.detail}


@dataclass
class TenantResidency:
    slug: str
    region: str
    mailgun_api_host: str
    stored_mail: str
    mx_hosts: list[str]
    migration: str | None
    leftovers: list[Leftover] = field(default_factory=list)
    sending_ips: list[str] = field(default_factory=list)  # Mailgun dedicated IPs; [] = shared IPs

    @property
    def clean(self) -> bool:
        return not self.leftovers

    def as_dict(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "region": self.region,
            "mailgun_api_host": self.mailgun_api_host,
            "stored_mail": self.stored_mail,
            "mx_hosts": list(self.mx_hosts),
            "migration": self.migration,
            "sending_ips": list(self.sending_ips),
            "clean": self.clean,
            "leftovers": [x.as_dict() for x in self.leftovers],
        }


def _home(tenant: Tenant) -> str:
    m = tenant.migration
    return m.to if m is not None and m.state == "running" else tenant.region


def tenant_residency(
    tenant: Tenant,
    stacks: list[StackConfig],
    *,
    clients: dict[str, MailgunClient] | None = None,
    now: float | None = None,
) -> TenantResidency:
    """The residency of one tenant. Leftovers are judged against its home region: the region in
    its file, or the target region while a move is under way."""
    home = _home(tenant)
    facts = REGIONS[home]
    m = tenant.migration
    mx_hosts: list[str] = []
    leftovers: list[Leftover] = []
    mailgun_regions: list[str] = []
    sending_ips: list[str] = []
    for stack in stacks:
        if stack_declaration(tenant, stack) is None:
            continue
        state = build_tenant(tenant, stack)
        if state.sending_ips is not None and stack.region == home:
            sending_ips = list(state.sending_ips.ips)
        other = stack.region != home
        for d in state.domains:
            mailgun_regions.append(d.region)
            if other:
                leftovers.append(
                    Leftover("domain", d.region, f"{stack.name} stack", f"Mailgun domain {d.name}")
                )
        if other:
            for r in state.routes:
                leftovers.append(Leftover("route", r.region, f"{stack.name} stack", r.address))
            hooks = sorted({w.domain for w in state.webhooks})
            for domain in hooks:
                leftovers.append(
                    Leftover("webhook", stack.region, f"{stack.name} stack", f"webhooks of {domain}")
                )
            if state.outbound is not None:
                leftovers.append(
                    Leftover("outbound", stack.region, state.outbound.aws_region, state.outbound.parameter)
                )
        for rec in state.records:
            if rec.purpose == "mx" and rec.ours:
                mx_hosts = [v.split()[-1] for v in rec.values]
            for region, f in REGIONS.items():
                if region == home:
                    continue
                points_there = any(v.split()[-1] in f.mx_hosts for v in rec.values) or (
                    rec.purpose == "tracking" and f.tracking_target in rec.values
                )
                if points_there:
                    leftovers.append(
                        Leftover("dns", region, rec.zone, f"{rec.name} {rec.type} -> {', '.join(rec.values)}")
                    )
            if rec.from_mailgun and other:
                leftovers.append(
                    Leftover("dkim", stack.region, rec.zone, f"{rec.name}: key of the {stack.region} domain")
                )
    if clients:
        leftovers.extend(_live_leftovers(tenant, home, stacks, clients))
    where = sorted(set(mailgun_regions))
    stored = (
        "; ".join(REGIONS[r].stored_mail_location for r in where) or "none (no Mailgun domain declared now)"
    )
    if m is not None and m.state == "done" and m.finished_at:
        until = epoch(m.finished_at) + STORED_MAIL_RETENTION.total_seconds()
        if (now if now is not None else epoch(now_iso())) < until:
            leftovers.append(
                Leftover(
                    "stored-mail",
                    m.from_region,
                    REGIONS[m.from_region].api_host,
                    f"messages stored before the move may remain until {now_iso(until)} (Mailgun keeps 3 days)",
                )
            )
    migration = None
    if m is not None:
        migration = f"{m.state}: {m.from_region} -> {m.to}" + (
            f", next {m.next_step}" if m.state == "running" else ""
        )
    api_host = ", ".join(REGIONS[r].api_host for r in where) or facts.api_host
    return TenantResidency(
        tenant.slug, tenant.region, api_host, stored, mx_hosts, migration, leftovers, sending_ips
    )


def _live_leftovers(
    tenant: Tenant, home: str, stacks: list[StackConfig], clients: dict[str, MailgunClient]
) -> list[Leftover]:
    """Ask the API of every other region which of the tenant's domains and routes exist there."""
    out: list[Leftover] = []
    names: set[str] = set()
    addresses: set[str] = set()
    for stack in stacks:
        state = build_tenant(tenant, stack)
        names.update(d.name for d in state.domains)
        addresses.update(state.forwarding_addresses)
    if tenant.sender_domain is not None:
        names.add(tenant.sender_domain.name)
    for region, client in clients.items():
        if region == home:
            continue
        try:
            for name in sorted(names):
                if client.domain_exists(name):
                    out.append(
                        Leftover("domain", region, REGIONS[region].api_host, f"Mailgun domain {name} (live)")
                    )
            for route in client.list_routes():
                expression = str(route.get("expression", "")).replace("\\", "")
                for address in sorted(addresses):
                    if address in expression:
                        out.append(
                            Leftover(
                                "route",
                                region,
                                REGIONS[region].api_host,
                                f"{address} (live, id {route.get('id')})",
                            )
                        )
        except MailgunError as exc:
            out.append(Leftover("error", region, REGIONS[region].api_host, f"could not ask Mailgun: {exc}"))
    return out


def residency_report(
    tenants: dict[str, Tenant],
    stacks: list[StackConfig],
    *,
    clients: dict[str, MailgunClient] | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    rows = [tenant_residency(tenants[s], stacks, clients=clients, now=now) for s in sorted(tenants)]
    return {
        "format": REPORT_FORMAT,
        "live": bool(clients),
        "tenants": [r.as_dict() for r in rows],
        "summary": {
            "tenants": len(rows),
            "by_region": {region: sum(1 for r in rows if r.region == region) for region in sorted(REGIONS)},
            "with_leftovers": sum(1 for r in rows if not r.clean),
        },
    }
