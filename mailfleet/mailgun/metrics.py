"""Mailgun's Metrics API (``POST /v1/analytics/metrics``), as its reference documents it.

Request (JSON): ``start``/``end`` (RFC 2822), ``resolution`` (``hour``, ``day``, ``month``),
``duration`` (``1d``, ``2h``, ``2m``: computed back from ``end``, and it overrides ``start``),
``dimensions`` (at most 3 of ``time``, ``domain``, ``ip``, ``ip_pool``, ``tag``, ...),
``metrics`` (at most 10 counts and rates), ``filter`` (``{"AND": [{"attribute", "comparator",
"values": [{"label", "value"}]}]}``), ``include_subaccounts``, ``include_aggregates`` and
``pagination`` (``sort`` as ``column:direction``, ``skip``, ``limit``). The answer has
``items`` (each ``dimensions: [{"dimension", "value", "display_value"}]`` and ``metrics``:
counts as integers, rates as strings), ``aggregates`` and ``pagination`` with ``total``.

``query_pages`` follows ``pagination``: it asks ``limit`` rows a page and moves ``skip`` on by
the rows each page returned until ``total`` is reached, so a server that caps the page
smaller still gets read whole. Sources: docs/reputation.md.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mailfleet.mailgun.client import MailgunClient

METRICS_PATH = "/v1/analytics/metrics"
MAX_METRICS = 10  # "It supports up to 10 counts and rates, as well as 3 dimensions."
MAX_DIMENSIONS = 3
RESOLUTIONS = ("hour", "day", "month")
DURATION = re.compile(r"^([1-9][0-9]{0,4})([hdm])$")  # Mailgun's '1d' '2h' '2m' (m: months)
PAGE_LIMIT = 1000


def rfc2822(moment: datetime) -> str:
    """``Tue, 24 Sep 2024 00:00:00 +0000``: the date form the Metrics API takes."""
    return email.utils.format_datetime(moment)


def domain_filter(domains: list[str]) -> dict[str, Any]:
    return {
        "AND": [
            {
                "attribute": "domain",
                "comparator": "=",
                "values": [{"label": d, "value": d} for d in domains],
            }
        ]
    }


def query_pages(
    client: MailgunClient,
    *,
    metrics: list[str],
    dimensions: list[str],
    end: datetime,
    duration: str,
    resolution: str,
    filter_: dict[str, Any] | None = None,
    sort: str | None = None,
    limit: int = PAGE_LIMIT,
) -> Iterator[dict[str, Any]]:
    """Every item of one metrics query, page after page (one API call a page)."""
    if len(metrics) > MAX_METRICS:
        raise ValueError(f"at most {MAX_METRICS} metrics a query, not {len(metrics)}")
    if len(dimensions) > MAX_DIMENSIONS:
        raise ValueError(f"at most {MAX_DIMENSIONS} dimensions a query, not {len(dimensions)}")
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution {resolution!r} is not one of {RESOLUTIONS}")
    if not DURATION.match(duration):
        raise ValueError(f"duration {duration!r} is not like 7d, 24h or 1m")
    skip = 0
    while True:
        pagination: dict[str, Any] = {"skip": skip, "limit": limit}
        if sort:
            pagination["sort"] = sort
        body: dict[str, Any] = {
            "end": rfc2822(end),
            "duration": duration,
            "resolution": resolution,
            "dimensions": dimensions,
            "metrics": metrics,
            "include_subaccounts": False,
            "include_aggregates": False,
            "pagination": pagination,
        }
        if filter_ is not None:
            body["filter"] = filter_
        answer = client.request("POST", METRICS_PATH, json_body=body)
        items = answer.get("items") if isinstance(answer, dict) else None
        if not isinstance(items, list):
            items = []
        yield from (i for i in items if isinstance(i, dict))
        skip += len(items)
        page = answer.get("pagination") if isinstance(answer, dict) else None
        total = page.get("total") if isinstance(page, dict) else None
        if not items or not isinstance(total, int) or skip >= total:
            return


def dimension_value(item: dict[str, Any], dimension: str) -> str | None:
    for dim in item.get("dimensions") or []:
        if isinstance(dim, dict) and dim.get("dimension") == dimension:
            value = dim.get("value")
            return str(value) if value is not None else None
    return None
