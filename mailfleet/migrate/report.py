"""What the operator sees of a move: the dry run's estimate and the final report per tenant.

Both are pure functions of the tenant, its journal and the stack settings (no API calls).

``estimate``: the ETA of a move and the expected inbound gap, from
- the TTL wait: the source stack's record TTL (capped by ``MAILFLEET_MIGRATE_MAX_TTL_WAIT``);
- the Mailgun rate limit: the API calls a tenant's move makes (counted from the model: the
  provider's creates and deletes, mailfleet's reads and imports, as docs/migrate.md
  "Figures" lists them) times the tenants, at ``--rate`` requests per minute for both regions;
- the delete delay: Mailgun documents none ("Domain will be deleted in the background"); the
  estimate assumes ``assumed_delete_delay`` (60 s by default, the figure pulumi-mailgun's
  bridged provider used to poll for; ``MAILFLEET_MIGRATE_ASSUME_DELETE_DELAY`` changes it),
  plus one poll interval;
- what it cannot know is named, not guessed: stack run times, and, for manual-DNS tenants,
  the customer publishing the new DKIM selector (``prepare.dkim``) and the new values (``verify``).

The inbound gap estimate of one tenant: the assumed delete delay, one poll interval, and the
Mailgun calls of the ``cutover.create-target`` stack run (every tenant of the batch's domains,
routes, webhooks and credentials) at the rate limit. Resolver caching is reported apart: after
the gap, resolvers may keep the old MX for up to the lowered TTL.

``tenant_report``: per tenant, from the journal: the duration of each phase and step, the
point of no return, the measured inbound gap when the journal has one, and the follow-ups
(DKIM records the customer adds or may remove, SMTP logins to re-issue, mail stored in the old
region until when).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mailfleet.desired.build import build_tenant
from mailfleet.model.migration import POINT_OF_NO_RETURN, STEP_NAMES, STEPS, Migration, epoch, now_iso
from mailfleet.model.region import REGIONS
from mailfleet.model.stack import StackConfig
from mailfleet.model.tenant import Tenant

REPORT_FORMAT = "mailfleet-migrate-report/1"
ASSUMED_DELETE_DELAY = 60.0
STORED_MAIL_DAYS = 3  # Mailgun's store() keeps received messages up to 3 days
SUPPRESSION_KINDS = 3


@dataclass(frozen=True)
class Calls:
    """Mailgun API calls of one tenant's move, split by when they happen."""

    before_cutover: int  # prepare + export (reads, the DKIM key read)
    create_target: int  # what the target stack creates in cutover.create-target (the gap)
    after: int  # deletes, imports, DKIM import/activation, verify

    @property
    def total(self) -> int:
        return self.before_cutover + self.create_target + self.after


def tenant_calls(tenant: Tenant, source: StackConfig, target: StackConfig) -> Calls:
    """The API calls one move makes, counted from what the stacks declare for the tenant."""
    state = build_tenant(tenant, target)
    domains = len(state.domains)
    webhooks = len(state.webhooks)
    routes = len(state.routes)
    credential = 1 if state.credential_domain else 0
    before = (
        domains * (1 + 1 + 1 + SUPPRESSION_KINDS) + domains
    )  # GET domain, hooks, creds, suppressions; DKIM value
    create = domains + routes + webhooks + credential
    after = (
        domains  # source delete
        + webhooks  # source webhook deletes go with the domain; the provider still deletes them
        + routes  # source route deletes
        + credential
        + domains * 2  # wait-gone polls (at least one 200 and the 404)
        + domains * 4  # DKIM: list keys, import, activate, deactivate
        + domains * SUPPRESSION_KINDS  # suppression imports (one call per non-empty list)
        + domains  # verify
    )
    return Calls(before, create, after)


def estimate(
    tenants: list[Tenant],
    source: StackConfig,
    target: StackConfig,
    *,
    rate: int,
    batch: int,
    poll_interval: float,
    max_ttl_wait: float | None = None,
    assumed_delete_delay: float = ASSUMED_DELETE_DELAY,
    lowered_ttl: int = 60,
) -> dict[str, Any]:
    """The ETA of moving ``tenants`` and the inbound gap each should expect (see the module doc)."""
    calls = [tenant_calls(t, source, target) for t in tenants]
    total_calls = sum(c.total for c in calls)
    per_second = rate / 60.0
    rate_time = total_calls / per_second
    ttl_wait = float(source.record_ttl)
    if max_ttl_wait is not None:
        ttl_wait = min(ttl_wait, max_ttl_wait)
    batches = max(1, -(-len(tenants) // max(1, batch)))
    in_batch = min(len(tenants), max(1, batch))
    create_calls = max((c.create_target for c in calls), default=0) * in_batch
    gap = assumed_delete_delay + poll_interval + create_calls / per_second
    eta = batches * (ttl_wait + assumed_delete_delay + poll_interval) + rate_time
    manual = sorted(
        t.slug for t in tenants if any(r.provider == "manual" for r in build_tenant(t, target).records)
    )
    return {
        "tenants": len(tenants),
        "batches": batches,
        "eta_seconds": round(eta, 1),
        "inbound_gap_seconds": round(gap, 1),
        "resolver_cache_seconds": lowered_ttl,
        "mailgun_calls": total_calls,
        "basis": {
            "ttl_wait_seconds": ttl_wait,
            "rate_per_minute": rate,
            "rate_limit_seconds": round(rate_time, 1),
            "assumed_delete_delay_seconds": assumed_delete_delay,
            "poll_interval_seconds": poll_interval,
            "create_target_calls_per_batch": create_calls,
        },
        "not_included": [
            "stack run times (one per stack per step per batch)",
            *(
                [
                    f"manual-DNS customers publishing records ({', '.join(manual)}): prepare.dkim and verify wait"
                ]
                if manual
                else []
            ),
        ],
    }


def estimate_lines(est: dict[str, Any]) -> list[str]:
    b = est["basis"]
    lines = [
        f"ETA: about {_duration(est['eta_seconds'])} for {est['tenants']} tenant(s) in {est['batches']} batch(es): "
        f"TTL wait {b['ttl_wait_seconds']:g} s per batch + delete delay {b['assumed_delete_delay_seconds']:g} s "
        f"(assumed: Mailgun documents none) + poll {b['poll_interval_seconds']:g} s per batch + "
        f"{est['mailgun_calls']} Mailgun calls at {b['rate_per_minute']}/min ({b['rate_limit_seconds']:g} s)",
        f"Inbound gap: about {est['inbound_gap_seconds']:g} s per tenant (source delete accepted -> target domain "
        f"and routes live): delete delay {b['assumed_delete_delay_seconds']:g} s + poll {b['poll_interval_seconds']:g} s "
        f"+ {b['create_target_calls_per_batch']} create calls of the batch at the rate limit; then resolvers may "
        f"keep the old MX up to {est['resolver_cache_seconds']} s (the lowered TTL)",
    ]
    lines.extend(f"Not included: {x}" for x in est["not_included"])
    return lines


def _duration(seconds: float) -> str:
    whole = round(seconds)
    if whole < 120:
        return f"{whole} s"
    minutes, s = divmod(whole, 60)
    if minutes < 120:
        return f"{minutes} min {s} s"
    hours, m = divmod(minutes, 60)
    return f"{hours} h {m} min"


def _span(m: Migration, steps: list[str]) -> float | None:
    starts = [epoch(m.steps[s].started_at) for s in steps if s in m.steps]
    ends = [epoch(d) for s in steps if s in m.steps and (d := m.steps[s].done_at) is not None]
    if not starts or not ends:
        return None
    return max(ends) - min(starts)


def measured_gap(m: Migration) -> float | None:
    """The inbound gap the journal recorded for this move, if it recorded one (seconds)."""
    data = m.model_dump(mode="json", by_alias=True)
    for key in ("inbound_gap", "inbound", "gap"):
        value = data.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, dict):
            for inner in ("seconds", "gap_seconds", "measured_seconds", "gap"):
                found = value.get(inner)
                if isinstance(found, int | float) and not isinstance(found, bool):
                    return float(found)
    return None


def tenant_report(tenant: Tenant, source: StackConfig, target: StackConfig) -> dict[str, Any]:
    """The final report of one tenant's move (or of where it stands)."""
    m = tenant.migration
    assert m is not None
    phases: dict[str, float | None] = {}
    for phase in dict.fromkeys(p for _, p in STEPS):
        phases[phase] = _span(m, [s for s, p in STEPS if p == phase])
    steps = {s: _span(m, [s]) for s in STEP_NAMES if s in m.steps}
    total = _span(m, list(STEP_NAMES))
    ponr = m.steps.get(POINT_OF_NO_RETURN)
    follow_ups: list[dict[str, Any]] = []
    overlap = m.dkim
    if overlap is not None:
        for domain in overlap.keys:
            new = f"{overlap.selector}._domainkey.{domain}"
            old = f"{overlap.old_selector}._domainkey.{domain}"
            manual = any(
                r.provider == "manual" and r.name == new for r in build_tenant(tenant, target).records
            )
            if manual:
                follow_ups.append(
                    {
                        "kind": "dkim",
                        "what": f"the customer keeps {new} TXT published (the {m.to} key) and may delete "
                        f"{old} TXT (nothing signs with it since the point of no return)",
                    }
                )
            else:
                follow_ups.append(
                    {
                        "kind": "dkim",
                        "what": f"{new} TXT is the signing key now (managed); {old} was removed at finalize",
                    }
                )
    for login in (m.export.logins_to_reissue if m.export is not None else None) or []:
        follow_ups.append(
            {"kind": "smtp-login", "what": f"re-issue {login} in {m.to}: Mailgun never returns passwords"}
        )
    if ponr is not None:
        until = epoch(ponr.started_at) + STORED_MAIL_DAYS * 86400
        follow_ups.append(
            {
                "kind": "stored-mail",
                "what": f"messages received before {ponr.started_at} stay stored in {m.from_region} "
                f"({REGIONS[m.from_region].stored_mail_location}) until {now_iso(until)} at the latest",
                "until": now_iso(until),
            }
        )
    gap = measured_gap(m)
    cache = m.model_dump(mode="json").get("inbound_gap") or {}
    return {
        "slug": tenant.slug,
        "from": m.from_region,
        "to": m.to,
        "state": m.state,
        "next_step": m.next_step,
        "started_at": m.started_at,
        "finished_at": m.finished_at,
        "duration_seconds": total,
        "phases": phases,
        "steps": steps,
        "point_of_no_return_at": ponr.started_at if ponr else None,
        "inbound_gap_seconds": gap,
        "resolver_cache_seconds": cache.get("resolver_cache_s", m.lowered_ttl)
        if isinstance(cache, dict)
        else None,
        "dkim_selector": overlap.selector if overlap else None,
        "follow_ups": follow_ups,
    }


def report_lines(reports: list[dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for r in reports:
        state = r["state"] if r["state"] == "done" else f"{r['state']}, next {r['next_step']}"
        total = _duration(r["duration_seconds"]) if r["duration_seconds"] is not None else "-"
        lines.append(f"{r['slug']}: {r['from']} -> {r['to']} {state}, {total} in all")
        phases = ", ".join(
            f"{p} {_duration(s) if s is not None else '-'}" for p, s in r["phases"].items() if s is not None
        )
        lines.append(f"  phases: {phases or '-'}")
        gap = r["inbound_gap_seconds"]
        cache = r.get("resolver_cache_seconds")
        lines.append(
            "  inbound gap: "
            + (f"{gap:.1f} s (measured)" if gap is not None else "not measured by this run")
            + (f"; then resolvers may keep the old MX up to {cache} s (the lowered TTL)" if cache else "")
        )
        for f in r["follow_ups"]:
            lines.append(f"  follow-up ({f['kind']}): {f['what']}")
    return lines
