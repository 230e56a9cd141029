"""Adopting a tenant's DNS: read what exists, snapshot it, compare, write.

``take(tenant, stack, nameserver, ...)`` reads the live RRsets at every (name, type) of the
tenant's customer records (``live``), refuses what cannot be adopted (two SPF or DMARC
records, a CNAME at a TXT name), adds the Cloudflare record ids for a Cloudflare zone
(``ids``), and returns an ``AdoptResult``: what was found, the new ``adopted.dns`` snapshot,
its drift against the stored one, the tenant with it and the desired state built from that
tenant (what mailfleet will publish). ``adopt_existing`` then writes the snapshot into the
tenant file, unless it is a dry run, nothing changed, or values drifted without
``accept_drift``. Nothing is written on any problem.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from mailfleet.adopt import write as writer
from mailfleet.adopt.ids import with_ids
from mailfleet.adopt.live import AdoptRefused, LiveRRset, read, targets
from mailfleet.adopt.snapshot import Drift, drift, iso, published_by, refusals, same, snapshot
from mailfleet.cloudflare.client import CloudflareClient
from mailfleet.desired.build import build_tenant
from mailfleet.desired.rules import tenant_problems
from mailfleet.desired.state import TenantState
from mailfleet.dns.resolver import Nameserver
from mailfleet.errors import InvalidData, Problem, UsageError
from mailfleet.model.adoption import Adoption, DnsAdoption
from mailfleet.model.stack import StackConfig
from mailfleet.model.tenant import Tenant
from mailfleet.project import param_problem

FORMAT = "mailfleet-adopt/1"

# What happened to the snapshot.
NEW = "new"  # a tenant not written yet (`tenant add --adopt` writes it)
WRITTEN = "written"
UNCHANGED = "unchanged"  # the stored snapshot already says this: nothing written
DRY_RUN = "dry-run"
DRIFT = "drift"  # values changed since the stored snapshot, not accepted: nothing written


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AdoptResult:
    slug: str
    path: Path
    stack: StackConfig
    domain: str
    provider: str
    zone_id: str | None
    live: tuple[LiveRRset, ...]
    snapshot: DnsAdoption
    previous: DnsAdoption | None
    drift: tuple[Drift, ...]
    unchanged: bool
    tenant: Tenant  # with the new snapshot
    state: TenantState  # what the stack declares for that tenant
    status: str = NEW

    @property
    def written(self) -> bool:
        return self.status == WRITTEN


def take(
    tenant: Tenant,
    stack: StackConfig,
    nameserver: Nameserver | None,
    path: Path,
    *,
    cloudflare: CloudflareClient | None = None,
    clock: Callable[[], datetime] = utc_now,
    timeout: float = 2.0,
    retries: int = 2,
) -> AdoptResult:
    """Read, snapshot and compare (see the module docstring); nothing is written."""
    where = str(path)
    sender = tenant.sender_domain
    if sender is None:
        raise UsageError(
            problems=[
                param_problem(
                    "slug",
                    f"tenant {tenant.slug!r} has no sender_domain: mailfleet declares nothing in a "
                    "customer's zone for it, so there is nothing to adopt",
                )
            ]
        )
    previous = tenant.adopted.dns if tenant.adopted is not None else None
    if tenant.adopted is not None and tenant.adopted.release:
        raise InvalidData(
            problems=[
                Problem(
                    where,
                    "adopted.release",
                    "the tenant is being given back (tenant remove); adopting again would take back what it releases",
                )
            ]
        )
    bare = tenant.model_copy(update={"adopted": None})
    wanted = targets(build_tenant(bare, stack).customer_records)
    live, source = read(wanted, nameserver, timeout=timeout, retries=retries)
    refused = refusals(live)
    if refused:
        raise AdoptRefused(problems=refused)
    if sender.provider == "cloudflare":
        if cloudflare is None or sender.zone_id is None:
            raise UsageError(problems=[param_problem("cloudflare", "a Cloudflare API client is required")])
        live = with_ids(live, cloudflare, sender.zone_id)
        source += " + cloudflare api"
    published = published_by(build_tenant(tenant, stack).customer_records) if previous is not None else None
    snap = snapshot(live, source, iso(clock()), previous, published)
    adoption = Adoption(dns=snap, mailgun=tenant.adopted.mailgun if tenant.adopted is not None else None)
    adopted = tenant.model_copy(update={"adopted": adoption})
    problems = tenant_problems(adopted, where, [stack])
    if problems:
        raise InvalidData(problems=[*problems, Problem(where, "adopted", "nothing adopted, nothing written")])
    return AdoptResult(
        slug=tenant.slug,
        path=path,
        stack=stack,
        domain=sender.name,
        provider=sender.provider,
        zone_id=sender.zone_id,
        live=tuple(live),
        snapshot=snap,
        previous=previous,
        drift=tuple(drift(previous, snap)),
        unchanged=same(previous, snap),
        tenant=adopted,
        state=build_tenant(adopted, stack),
    )


def adopt_existing(
    tenants_dir: Path,
    path: Path,
    tenant: Tenant,
    stack: StackConfig,
    nameserver: Nameserver | None,
    *,
    dry_run: bool,
    accept_drift: bool,
    cloudflare: CloudflareClient | None = None,
    clock: Callable[[], datetime] = utc_now,
    timeout: float = 2.0,
    retries: int = 2,
) -> AdoptResult:
    """``take``, then write the snapshot into ``path`` unless it is a dry run, the stored one
    says the same, or values drifted and ``accept_drift`` is false (status says which)."""
    result = take(
        tenant, stack, nameserver, path, cloudflare=cloudflare, clock=clock, timeout=timeout, retries=retries
    )
    if result.unchanged:
        return replace(result, status=UNCHANGED)
    if dry_run:
        return replace(result, status=DRY_RUN)
    if result.drift and not accept_drift:
        return replace(result, status=DRIFT)
    assert result.tenant.adopted is not None
    writer.write(tenants_dir, path, tenant.slug, result.tenant.adopted, result.previous, stack)
    return replace(result, status=WRITTEN)
