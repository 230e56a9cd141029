"""The dry-run plan of a move: every step, what it changes for this tenant, the point of no return.

``migration_plan`` is pure: it reads the tenant and the two stack configs and describes, step
by step, what ``mailfleet migrate`` would do, computed from the same model the stacks are built
from (the records whose values change, the TTLs, the domains deleted and created).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mailfleet.desired.build import build_tenant, changing_purposes, platform_domain_of
from mailfleet.desired.state import DnsRecord
from mailfleet.migrate.dkim import next_selector
from mailfleet.model.migration import LOWERED_TTL, POINT_OF_NO_RETURN, STEPS, Migration, now_iso
from mailfleet.model.region import REGIONS
from mailfleet.model.stack import StackConfig
from mailfleet.model.tenant import Tenant

PLAN_FORMAT = "mailfleet-migrate-plan/1"


@dataclass(frozen=True)
class PlannedStep:
    number: int
    step: str
    phase: str
    point_of_no_return: bool
    done: bool
    summary: str
    details: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "step": self.step,
            "phase": self.phase,
            "point_of_no_return": self.point_of_no_return,
            "done": self.done,
            "summary": self.summary,
            "details": list(self.details),
        }


def _base(tenant: Tenant, source: StackConfig, to: str) -> dict[str, Any]:
    m = tenant.migration or Migration.model_validate(
        {
            "from": source.region,
            "to": to,
            "started_at": now_iso(0),
            "platform_domain": platform_domain_of(tenant, source),
            "platform_zone_id": source.hosted_zone_id,
            "original_ttl": source.record_ttl,
        }
    )
    return m.model_dump(mode="json", by_alias=True, exclude_none=True)


def _tenant_at(tenant: Tenant, source: StackConfig, to: str, *, done: bool) -> Tenant:
    """``tenant`` before the move starts (``done=False``) or once it is finished (``done=True``)."""
    block = _base(tenant, source, to)
    block["state"] = "done" if done else "running"
    block["steps"] = (
        {name: {"started_at": now_iso(0), "done_at": now_iso(0)} for name, _ in STEPS} if done else {}
    )
    for key in ("ttl_wait_until", "export", "finished_at"):
        block.pop(key, None)
    block["point_of_no_return_passed"] = done
    data = tenant.model_dump(mode="json", by_alias=True, exclude_none=True)
    data.update(region=to if done else source.region, migration=block)
    return Tenant.model_validate(data)


def _row(rec: DnsRecord) -> str:
    value = "(DKIM key from Mailgun)" if rec.from_mailgun else " | ".join(rec.values)
    where = "our zone" if rec.ours else f"{rec.provider} zone {rec.zone}"
    return f"{rec.name} {rec.type} [{where}] = {value}"


def _next_selector(tenant: Tenant, region: str) -> str:
    m = tenant.migration
    return (
        m.dkim.selector
        if m is not None and m.dkim is not None
        else next_selector(tenant.dkim.selector, region)
    )


def migration_plan(tenant: Tenant, source: StackConfig, target: StackConfig) -> list[PlannedStep]:
    """Every step of moving ``tenant`` from ``source`` to ``target``, described for this tenant."""
    m = tenant.migration
    before = build_tenant(_tenant_at(tenant, source, target.region, done=False), source)
    after = build_tenant(_tenant_at(tenant, source, target.region, done=True), target)
    changing = changing_purposes(source.region, target.region)
    old = {r.key: r for r in before.records}
    lowered = [r for r in before.records if r.purpose in changing]
    changed_rows = []
    for rec in after.records:
        prev = old.get(rec.key)
        if prev is None:
            changed_rows.append(f"new: {_row(rec)}")
        elif prev.values != rec.values or rec.from_mailgun:
            changed_rows.append(
                f"{_row(prev)}  ->  {' | '.join(rec.values) if not rec.from_mailgun else '(new DKIM key from the ' + target.region + ' domain)'}"
            )
    manual = [r for r in after.records if r.provider == "manual"]
    managed = [r for r in before.records if r.provider != "manual"]
    src_api, dst_api = REGIONS[source.region].api_host, REGIONS[target.region].api_host
    domains = [d.name for d in before.domains]
    ttl = m.original_ttl if m else source.record_ttl
    low = m.lowered_ttl if m else LOWERED_TTL
    text: dict[str, tuple[str, list[str]]] = {
        "prepare.lower-ttl": (
            f"{source.name} stack: lower the TTL of {len(lowered)} record(s) that will change from {ttl} s to {low} s",
            [_row(r) for r in lowered]
            + (
                [
                    f"manual DNS: the customer lowers these TTLs now: {', '.join(r.name + ' ' + r.type for r in lowered if r.provider == 'manual')}"
                ]
                if any(r.provider == "manual" for r in lowered)
                else []
            ),
        ),
        "prepare.dkim": (
            f"generate the {target.region} DKIM key(s) (RSA 2048, kept encrypted), publish them with the "
            f"{target.name} stack under the new selector {_next_selector(tenant, target.region)} beside the "
            f"current {tenant.dkim.selector} (overlap), and wait until `check` sees them live"
            + (
                "; the customer publishes the manual ones"
                if any(r.provider == "manual" and r.purpose == "dkim" for r in before.records)
                else ""
            ),
            [
                f"{_next_selector(tenant, target.region)}._domainkey.{d} TXT = v=DKIM1; k=rsa; p=(new key)"
                for d in domains
            ],
        ),
        "prepare.wait-ttl": (f"wait {ttl} s (the old TTL) so resolvers forget the long-lived answers", []),
        "export": (
            f"read from {src_api}: routes for {', '.join(before.forwarding_addresses)}; webhooks, "
            f"suppressions (bounces, unsubscribes, complaints) and SMTP logins of {', '.join(domains)}; "
            "saved to tenants/.migrations/" + tenant.slug + "/export.json",
            [],
        ),
        POINT_OF_NO_RETURN: (
            f"POINT OF NO RETURN: {len(managed)} DNS record(s) move from the {source.name} to the "
            f"{target.name} stack (state move, nothing deleted); the {source.name} stack stops declaring "
            f"and deletes the Mailgun domain(s) {', '.join(domains)} in {source.region} with their webhooks, "
            "SMTP credential and the outbound setting",
            [_row(r) for r in managed],
        ),
        "cutover.wait-source-gone": (f"poll {src_api} until it answers 404 for {', '.join(domains)}", []),
        "cutover.create-target": (
            f"{target.name} stack: create the Mailgun domain(s) {', '.join(d.name for d in after.domains)} in "
            f"{target.region}, {len(after.routes)} route(s), {len(after.webhooks)} webhook(s), the SMTP "
            f"credential and the outbound setting; DNS values change in place",
            changed_rows,
        ),
        "cutover.import-data": (
            f"import the exported suppressions into {dst_api}; recreate routes and webhooks the export "
            "holds but mailfleet does not manage",
            [],
        ),
        "cutover.release-source-routes": (
            f"{source.name} stack: delete the {len(before.routes)} route(s) in {source.region} "
            f"(kept until now so the addresses were never unrouted in both regions)",
            [],
        ),
        "dns.confirm": (
            f"confirm the {target.name} stack holds every managed record"
            + ("; the customer publishes the new manual values" if manual else ""),
            [_row(r) for r in manual],
        ),
        "verify": (f"mailfleet check and Mailgun's verify on {dst_api}, retried until the deadline", []),
        "finalize": (
            f"TTLs back to {target.record_ttl} s; the tenant file gets region: {target.region} and migration.state: done",
            [],
        ),
    }
    out = []
    for number, (step, phase) in enumerate(STEPS, 1):
        summary, details = text[step]
        out.append(
            PlannedStep(
                number,
                step,
                phase,
                step == POINT_OF_NO_RETURN,
                bool(m and m.is_done(step)),
                summary,
                details,
            )
        )
    return out
