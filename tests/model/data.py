"""Valid tenant data for each of the three ways, and helpers to validate it."""

from __future__ import annotations

import copy
from typing import Any

from mailfleet.desired.rules import tenant_problems
from mailfleet.model.load import tenant_from_data
from mailfleet.model.tenant import Tenant

CF_ZONE = "0123456789abcdef0123456789abcdef"
R53_ZONE = "Z0CUSTOMERZONE1"


def way1(slug: str = "acme", region: str = "eu", **extra: Any) -> dict[str, Any]:
    """Platform addresses only."""
    return {"slug": slug, "name": f"{slug} Ltd", "region": region, "mailboxes": ["support"], **extra}


def way2(
    slug: str = "acme",
    region: str = "eu",
    domain: str = "acme.no",
    dns: str = "manual",
    includes: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Own sending domain, inbound forwarded to the platform address."""
    data = way1(slug, region, **extra)
    data["sender_domain"] = {"name": domain, "dns": dns, "spf_includes": list(includes or [])}
    return data


def way3(
    slug: str = "acme", region: str = "eu", service: str = "smtp", marketing: str = "smtp"
) -> dict[str, Any]:
    """Outbound through the customer's own SMTP server."""
    data = way1(slug, region)
    data["outbound"] = {
        "service": service,
        "marketing": marketing,
        "smtp": {"host": f"smtp.{slug}.example.org", "port": 465},
    }
    return data


def tenant(data: dict[str, Any]) -> Tenant:
    """Validate ``data``; fails the test with the problems if it is invalid."""
    t, problems = tenant_from_data("t.yaml", copy.deepcopy(data), None)
    assert problems == [], [str(p) for p in problems]
    assert t is not None
    return t


def problem_lines(data: Any, where: str = "tenants/acme.yaml", slug: str | None = "acme") -> list[str]:
    """The ``file: field: message`` lines a tenant document produces (empty when valid): its
    schema, then the tenant's own rules (``mailfleet.desired.rules``), as every command runs them."""
    t, problems = tenant_from_data(where, copy.deepcopy(data), slug)
    assert (t is None) == bool(problems)
    if t is not None:
        problems = tenant_problems(t, where)
    return [str(p) for p in problems]
