"""Reading and judging each sending domain's bounce and complaint rates.

One Metrics API query per region (dimension ``domain``, filtered to the domains asked for),
read page by page: ``reputation --all`` for 1,000 domains is one or two calls a region, not
one per domain. Rates use Mailgun's own definitions (docs/reputation.md):

- bounce rate = ``bounced_count / processed_count``, where ``bounced_count`` is
  ``permanent_failed_count`` minus the suppressed sends (mail Mailgun never handed to a
  receiver because the address was on a suppression list);
- complaint rate = ``complained_count / delivered_count``.

A domain with fewer than ``min_delivered`` deliveries in the window is ``low-volume`` ("not
enough mail"): its rates are shown but not judged.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mailfleet.desired.state import StackState, TenantState
from mailfleet.mailgun import metrics as mg_metrics
from mailfleet.mailgun.errors import MailgunError
from mailfleet.model.reputation import ReputationSettings

if TYPE_CHECKING:
    from mailfleet.mailgun.client import MailgunClient

log = logging.getLogger(__name__)

FORMAT = "mailfleet-reputation/1"

# Mailgun metric name -> our field. Eight counts, within the ten a query may ask.
COUNTS: dict[str, str] = {
    "accepted_outgoing_count": "accepted",
    "delivered_count": "delivered",
    "processed_count": "processed",
    "permanent_failed_count": "permanent_failed",
    "temporary_failed_count": "temporary_failed",
    "bounced_count": "bounced",
    "complained_count": "complained",
    "unsubscribed_count": "unsubscribed",
}

OK, WARN, FAIL, LOW, ERROR = "ok", "warn", "fail", "low-volume", "error"
# Worst first: a tenant's status is the first of these any of its domains has.
SEVERITY = (FAIL, ERROR, WARN, LOW, OK)
SINCE = re.compile(r"^([1-9][0-9]{0,4})([hdm])$")
SECONDS = {"h": 3600, "d": 86400, "m": 30 * 86400}


def parse_since(value: str) -> tuple[str, str, int]:
    """``7d`` -> (Mailgun duration, resolution, seconds). ``h`` hours, ``d`` days, ``m`` months
    (Mailgun's own duration units). Raises ``ValueError`` with what is wrong."""
    match = SINCE.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a window like 24h, 7d or 1m (hours, days, months)")
    number, unit = int(match.group(1)), match.group(2)
    resolution = {"h": "hour", "d": "day", "m": "month"}[unit]
    return f"{number}{unit}", resolution, number * SECONDS[unit]


@dataclass
class DomainReputation:
    tenant: str
    stack: str
    region: str
    domain: str
    role: str
    counts: dict[str, int] = field(default_factory=dict)
    status: str = OK
    reasons: list[str] = field(default_factory=list)

    @property
    def bounce_rate(self) -> float | None:
        processed = self.counts.get("processed", 0)
        return self.counts.get("bounced", 0) / processed if processed else None

    @property
    def complaint_rate(self) -> float | None:
        delivered = self.counts.get("delivered", 0)
        return self.counts.get("complained", 0) / delivered if delivered else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "role": self.role,
            "status": self.status,
            **{name: self.counts.get(name, 0) for name in COUNTS.values()},
            "bounce_rate": self.bounce_rate,
            "complaint_rate": self.complaint_rate,
            "reasons": list(self.reasons),
        }


@dataclass
class TenantReputation:
    slug: str
    stack: str
    region: str
    domains: list[DomainReputation]

    @property
    def status(self) -> str:
        present = {d.status for d in self.domains}
        return next((s for s in SEVERITY if s in present), OK)


@dataclass
class ReputationResult:
    tenants: list[TenantReputation]
    since: str
    window_seconds: int
    end: datetime
    api_calls: int
    thresholds: dict[str, ReputationSettings]  # by stack

    @property
    def domains(self) -> list[DomainReputation]:
        return [d for t in self.tenants for d in t.domains]

    @property
    def exit_code(self) -> int:
        statuses = {d.status for d in self.domains}
        if FAIL in statuses:
            return 1
        if ERROR in statuses:
            return 3
        return 0

    def to_dict(self) -> dict[str, Any]:
        by_status = {s: 0 for s in SEVERITY}
        for d in self.domains:
            by_status[d.status] += 1
        return {
            "format": FORMAT,
            "summary": {
                "tenants": len(self.tenants),
                "domains": len(self.domains),
                **{s.replace("-", "_"): n for s, n in by_status.items()},
                "since": self.since,
                "end": mg_metrics.rfc2822(self.end),
                "api_calls": self.api_calls,
                "exit_code": self.exit_code,
            },
            "thresholds": {name: t.model_dump() for name, t in sorted(self.thresholds.items())},
            "tenants": [
                {
                    "slug": t.slug,
                    "stack": t.stack,
                    "region": t.region,
                    "status": t.status,
                    "domains": [d.to_dict() for d in t.domains],
                }
                for t in self.tenants
            ],
        }


def judge(dom: DomainReputation, limits: ReputationSettings) -> None:
    """Set ``status`` and ``reasons`` from the counts and the stack's thresholds."""
    delivered = dom.counts.get("delivered", 0)
    if delivered < limits.min_delivered:
        dom.status = LOW
        dom.reasons.append(f"not enough mail: {delivered} delivered, under {limits.min_delivered}")
        return
    status = OK
    for label, rate, warn, fail in (
        ("bounce rate", dom.bounce_rate, limits.bounce_warn, limits.bounce_fail),
        ("complaint rate", dom.complaint_rate, limits.complaint_warn, limits.complaint_fail),
    ):
        if rate is None:
            continue
        percent = rate * 100
        if percent >= fail:
            status = FAIL
            dom.reasons.append(f"{label} {percent:.2f}% is at or over the fail threshold {fail:g}%")
        elif percent >= warn:
            status = WARN if status != FAIL else status
            dom.reasons.append(f"{label} {percent:.2f}% is at or over the warn threshold {warn:g}%")
    dom.status = status


def reputation(
    pairs: list[tuple[StackState, TenantState]],
    clients: dict[str, MailgunClient],
    thresholds: dict[str, ReputationSettings],
    *,
    since: str = "7d",
    now: datetime | None = None,
    page_limit: int = mg_metrics.PAGE_LIMIT,
) -> ReputationResult:
    """Read the window's counts of every Mailgun domain of ``pairs`` and judge them."""
    duration, resolution, seconds = parse_since(since)
    end = now or datetime.now(UTC)
    tenants: list[TenantReputation] = []
    by_region: dict[str, dict[str, DomainReputation]] = {}
    for stack, tenant in pairs:
        doms = [DomainReputation(tenant.slug, stack.stack, d.region, d.name, d.role) for d in tenant.domains]
        tenants.append(TenantReputation(tenant.slug, stack.stack, tenant.region, doms))
        for dom in doms:
            by_region.setdefault(dom.region, {})[dom.domain.lower()] = dom
    calls_before = sum(c.requests for c in clients.values())
    for region, wanted in sorted(by_region.items()):
        client = clients[region]
        try:
            for item in mg_metrics.query_pages(
                client,
                metrics=list(COUNTS),
                dimensions=["domain"],
                end=end,
                duration=duration,
                resolution=resolution,
                filter_=mg_metrics.domain_filter(sorted(wanted)),
                sort="domain:asc",
                limit=page_limit,
            ):
                name = (mg_metrics.dimension_value(item, "domain") or "").lower()
                dom = wanted.get(name)
                if dom is None:
                    continue
                values = item.get("metrics") or {}
                for metric, key in COUNTS.items():
                    value = values.get(metric) if isinstance(values, dict) else None
                    dom.counts[key] = dom.counts.get(key, 0) + (value if isinstance(value, int) else 0)
        except MailgunError as exc:
            log.warning("reputation region=%s failed: %s", region, exc)
            for dom in wanted.values():
                dom.status = ERROR
                dom.reasons.append(f"Mailgun metrics ({region.upper()} region) failed: {exc}")
            continue
        for dom in wanted.values():
            judge(dom, thresholds[dom.stack])
    calls = sum(c.requests for c in clients.values()) - calls_before
    return ReputationResult(tenants, duration, seconds, end, calls, thresholds)
