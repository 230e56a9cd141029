"""The fake Mailgun's Metrics API: ``POST /v1/analytics/metrics`` as Mailgun documents it.

Request fields (JSON): ``start``/``end`` (RFC 2822; defaults: 7 days before now, now),
``resolution`` (``hour``, ``day``, ``month``; default ``day``), ``duration`` (``1d``, ``2h``,
``2m``; computed back from ``end``, overriding ``start``), ``dimensions`` (at most 3 of the
documented enum), ``metrics`` (at most 10, of the documented names), ``filter``
(``{"AND": [{"attribute", "comparator" "="/"!=", "values": [{"label", "value"}]}]}``),
``include_subaccounts``, ``include_aggregates`` and ``pagination`` (``sort`` as
``column:asc|desc``, ``skip``, ``limit``: default 10, at most 1000). Anything else is a 400
naming the field. The answer: ``start``, ``end``, ``resolution``, ``duration``,
``dimensions``, ``items`` (``dimensions: [{dimension, value, display_value}]``, ``metrics``:
counts as integers, rates as strings), ``aggregates`` (with ``include_aggregates``) and
``pagination`` (``sort``, ``skip``, ``limit``, ``total``).

Data is seeded per domain (``FakeMailgun.seed_metrics``): raw counts at a moment, in a
region, with optional ``ip``/``ip_pool``/``tag`` attributes. The window is
``[start, end)`` with ``start`` rounded down to the resolution; ``time`` buckets are the
resolution's. Derived counts follow Mailgun's metric definitions when not seeded:
``accepted_count`` = incoming + outgoing, ``delivered_count`` = SMTP + HTTP (+ optimized),
``failed_count`` = permanent + temporary, ``bounced_count`` = permanent failures minus the
three suppressed counts, ``processed_count`` = delivered + permanent failures. Rates use
Mailgun's formulas (``complained_rate`` = complained / delivered, ``bounce_rate`` = bounced /
processed, ...), written as percent strings with two decimals.
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

DIMENSIONS = (
    "bot",
    "country",
    "ip_pool",
    "recipient_domain",
    "recipient_provider",
    "ip",
    "domain",
    "tag",
    "device",
    "subaccount",
    "time",
)
RAW_COUNTS = (
    "accepted_incoming_count",
    "accepted_outgoing_count",
    "delivered_smtp_count",
    "delivered_http_count",
    "delivered_optimized_count",
    "stored_count",
    "sent_count",
    "opened_count",
    "clicked_count",
    "unique_opened_count",
    "unique_clicked_count",
    "unsubscribed_count",
    "complained_count",
    "temporary_failed_count",
    "permanent_failed_count",
    "temporary_failed_esp_block_count",
    "permanent_failed_esp_block_count",
    "rate_limit_count",
    "webhook_count",
    "permanent_failed_optimized_count",
    "permanent_failed_old_count",
    "hard_bounces_count",
    "soft_bounces_count",
    "delayed_bounce_count",
    "suppressed_bounces_count",
    "suppressed_unsubscribed_count",
    "suppressed_complaints_count",
    "delivered_first_attempt_count",
    "delayed_first_attempt_count",
    "delivered_subsequent_count",
    "delivered_two_plus_attempts_count",
)
DERIVED_COUNTS = ("accepted_count", "delivered_count", "failed_count", "bounced_count", "processed_count")
RATES: dict[str, tuple[str, str]] = {
    "delivered_rate": ("delivered_count", "sent_count"),
    "opened_rate": ("opened_count", "delivered_count"),
    "clicked_rate": ("clicked_count", "delivered_count"),
    "unique_opened_rate": ("unique_opened_count", "delivered_count"),
    "unique_clicked_rate": ("unique_clicked_count", "delivered_count"),
    "unsubscribed_rate": ("unsubscribed_count", "delivered_count"),
    "complained_rate": ("complained_count", "delivered_count"),
    "bounce_rate": ("bounced_count", "processed_count"),
    "permanent_fail_rate": ("permanent_failed_count", "processed_count"),
    "temporary_fail_rate": ("temporary_failed_count", "processed_count"),
    "delayed_rate": ("delivered_two_plus_attempts_count", "delivered_count"),
    "fail_rate": ("failed_count", "processed_count"),
}
METRICS = (*RAW_COUNTS, *DERIVED_COUNTS, *RATES)
MAX_METRICS = 10
MAX_DIMENSIONS = 3
DEFAULT_LIMIT = 10
MAX_LIMIT = 1000
RESOLUTIONS = ("hour", "day", "month")
DURATION = re.compile(r"^([1-9][0-9]*)([hdm])$")
FIELDS = {
    "start",
    "end",
    "resolution",
    "duration",
    "dimensions",
    "metrics",
    "filter",
    "include_subaccounts",
    "include_aggregates",
    "pagination",
}


class MetricsError(Exception):
    """A 400 with Mailgun-style ``message``."""


@dataclass
class Sample:
    region: str
    domain: str
    at: datetime
    counts: dict[str, int]
    attrs: dict[str, str] = field(default_factory=dict)


def _date(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise MetricsError(f"'{name}' must be an RFC 2822 date string")
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise MetricsError(f"'{name}' is not an RFC 2822 date: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _floor(moment: datetime, resolution: str) -> datetime:
    moment = moment.astimezone(UTC)
    if resolution == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    if resolution == "day":
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _back(end: datetime, duration: str) -> datetime:
    match = DURATION.match(duration)
    if not match:
        raise MetricsError(f"'duration' must be like '1d', '2h' or '2m', not {duration!r}")
    n, unit = int(match.group(1)), match.group(2)
    if unit == "h":
        return end - timedelta(hours=n)
    if unit == "d":
        return end - timedelta(days=n)
    month = end.month - n
    year = end.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    return end.replace(year=year, month=month, day=min(end.day, 28))


def with_derived(counts: dict[str, int]) -> dict[str, int]:
    out = dict(counts)
    g = out.get
    out.setdefault("accepted_count", g("accepted_incoming_count", 0) + g("accepted_outgoing_count", 0))
    out.setdefault(
        "delivered_count",
        g("delivered_smtp_count", 0) + g("delivered_http_count", 0) + g("delivered_optimized_count", 0),
    )
    out.setdefault("failed_count", g("permanent_failed_count", 0) + g("temporary_failed_count", 0))
    suppressed = (
        g("suppressed_bounces_count", 0)
        + g("suppressed_complaints_count", 0)
        + g("suppressed_unsubscribed_count", 0)
    )
    out.setdefault("bounced_count", max(g("permanent_failed_count", 0) - suppressed, 0))
    out.setdefault("processed_count", out["delivered_count"] + g("permanent_failed_count", 0))
    return out


def _rate(counts: dict[str, int], name: str) -> str:
    top, bottom = RATES[name]
    denominator = counts.get(bottom, 0)
    return f"{(counts.get(top, 0) / denominator * 100) if denominator else 0:.2f}"


def _values(counts: dict[str, int], names: list[str]) -> dict[str, Any]:
    return {n: _rate(counts, n) if n in RATES else counts.get(n, 0) for n in names}


class MetricsStore:
    """Seeded samples and the query over them (called with the fake's lock held)."""

    def __init__(self) -> None:
        self.samples: list[Sample] = []

    def seed(
        self,
        region: str,
        domain: str,
        counts: dict[str, int],
        *,
        at: datetime | None = None,
        attrs: dict[str, str] | None = None,
    ) -> None:
        unknown = sorted(set(counts) - set(RAW_COUNTS) - set(DERIVED_COUNTS))
        if unknown:
            raise ValueError(f"unknown Mailgun counts {unknown}")
        moment = (at or datetime.now(UTC) - timedelta(hours=1)).astimezone(UTC)
        self.samples.append(Sample(region, domain, moment, with_derived(counts), dict(attrs or {})))

    def query(self, region: str, body: Any, now: datetime) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise MetricsError("the request body must be a JSON object")
        extra = sorted(set(body) - FIELDS)
        if extra:
            raise MetricsError(f"unknown field(s) {extra}")
        resolution = body.get("resolution", "day")
        if resolution not in RESOLUTIONS:
            raise MetricsError(f"'resolution' must be one of 'hour', 'day', 'month', not {resolution!r}")
        end = _date(body["end"], "end") if "end" in body else now
        duration = body.get("duration")
        if duration is not None:
            if not isinstance(duration, str):
                raise MetricsError("'duration' must be a string like '1d'")
            start = _back(end, duration)
        else:
            start = _date(body["start"], "start") if "start" in body else end - timedelta(days=7)
        start = _floor(start, resolution)
        if start >= end:
            raise MetricsError("'start' must be before 'end'")
        dimensions = body.get("dimensions") or []
        metrics = body.get("metrics") or []
        if not isinstance(dimensions, list) or not all(isinstance(d, str) for d in dimensions):
            raise MetricsError("'dimensions' must be a list of strings")
        if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
            raise MetricsError("'metrics' must be a list of strings")
        if len(dimensions) > MAX_DIMENSIONS:
            raise MetricsError(f"at most {MAX_DIMENSIONS} dimensions are supported")
        if len(metrics) > MAX_METRICS:
            raise MetricsError(f"at most {MAX_METRICS} metrics are supported")
        bad = [d for d in dimensions if d not in DIMENSIONS] + [m for m in metrics if m not in METRICS]
        if bad:
            raise MetricsError(f"unknown dimension or metric {bad[0]!r}")
        predicates = self._filter(body.get("filter"))
        paging = body.get("pagination") or {}
        if not isinstance(paging, dict):
            raise MetricsError("'pagination' must be an object")
        skip, limit = paging.get("skip", 0), paging.get("limit", DEFAULT_LIMIT)
        if not isinstance(skip, int) or not isinstance(limit, int) or skip < 0 or limit < 1:
            raise MetricsError(
                "'pagination.skip' and 'pagination.limit' must be integers (skip >= 0, limit >= 1)"
            )
        if limit > MAX_LIMIT:
            raise MetricsError(f"'pagination.limit' can't be larger than {MAX_LIMIT}")
        sort = paging.get("sort")

        groups: dict[tuple[str, ...], dict[str, int]] = {}
        total: dict[str, int] = {}
        for sample in self.samples:
            if sample.region != region or not start <= sample.at < end:
                continue
            attrs = {"domain": sample.domain, **sample.attrs}
            if not all(self._match(attrs, p) for p in predicates):
                continue
            key = tuple(
                email.utils.format_datetime(_floor(sample.at, resolution))
                if d == "time"
                else attrs.get(d, "")
                for d in dimensions
            )
            bucket = groups.setdefault(key, {})
            for name, value in sample.counts.items():
                bucket[name] = bucket.get(name, 0) + value
                total[name] = total.get(name, 0) + value
        rows = [
            {
                "dimensions": [
                    {"dimension": d, "value": v, "display_value": v}
                    for d, v in zip(dimensions, key, strict=True)
                ],
                "metrics": _values(counts, metrics),
                "_key": key,
            }
            for key, counts in groups.items()
        ]
        rows.sort(key=lambda r: r["_key"])
        if sort is not None:
            column, _, direction = str(sort).partition(":")
            if (column not in dimensions and column not in metrics) or direction not in ("", "asc", "desc"):
                raise MetricsError(
                    f"'pagination.sort' {sort!r} must be a requested dimension or metric, ':asc' or ':desc'"
                )
            if column in dimensions:
                index = dimensions.index(column)
                rows.sort(key=lambda r: r["_key"][index], reverse=direction == "desc")
            else:
                rows.sort(key=lambda r: float(r["metrics"][column]), reverse=direction == "desc")
        for row in rows:
            del row["_key"]
        answer: dict[str, Any] = {
            "start": email.utils.format_datetime(start),
            "end": email.utils.format_datetime(end),
            "resolution": resolution,
            "duration": duration or "",
            "dimensions": dimensions,
            "items": rows[skip : skip + limit],
            "pagination": {"sort": sort or "", "skip": skip, "limit": limit, "total": len(rows)},
        }
        if body.get("include_aggregates"):
            answer["aggregates"] = {"metrics": _values(total, metrics)}
        return answer

    @staticmethod
    def _filter(value: Any) -> list[tuple[str, str, set[str]]]:
        if value is None:
            return []
        if not isinstance(value, dict) or set(value) - {"AND"} or not isinstance(value.get("AND", []), list):
            raise MetricsError("'filter' must be {\"AND\": [predicates]}")
        out = []
        for p in value.get("AND", []):
            if not isinstance(p, dict):
                raise MetricsError("each filter predicate must be an object")
            attribute, comparator, values = p.get("attribute"), p.get("comparator"), p.get("values")
            if attribute not in DIMENSIONS or attribute == "time":
                raise MetricsError(f"filter attribute {attribute!r} is not a filterable dimension")
            if comparator not in ("=", "!="):
                raise MetricsError(f"filter comparator {comparator!r} must be '=' or '!='")
            if not isinstance(values, list) or not all(isinstance(v, dict) and "value" in v for v in values):
                raise MetricsError("filter 'values' must be a list of {label, value} objects")
            out.append((attribute, comparator, {str(v["value"]) for v in values}))
        return out

    @staticmethod
    def _match(attrs: dict[str, str], predicate: tuple[str, str, set[str]]) -> bool:
        attribute, comparator, values = predicate
        inside = attrs.get(attribute, "") in values
        return inside if comparator == "=" else not inside
