"""mailfleet.desired.rules.spf_include_problems: tenants whose SPF records include each other."""

from __future__ import annotations

from pathlib import Path

from mailfleet.desired.rules import spf_include_problems
from tests.model.data import tenant, way2


def _lines(*docs: dict) -> list[str]:  # type: ignore[type-arg]
    tenants = {d["slug"]: tenant(d) for d in docs}
    paths = {slug: Path(f"tenants/{slug}.yaml") for slug in tenants}
    return [str(p) for p in spf_include_problems(tenants, paths)]


def test_no_tenant_includes_another() -> None:
    assert _lines(way2("a", domain="a.no", includes=["sendgrid.net"]), way2("b", domain="b.no")) == []


def test_a_loop_of_three_is_reported_on_each_tenant_in_it() -> None:
    lines = _lines(
        way2("a", domain="a.no", includes=["b.no"]),
        way2("b", domain="b.no", includes=["c.no"]),
        way2("c", domain="c.no", includes=["a.no"]),
    )
    assert lines == [
        "tenants/a.yaml: sender_domain.spf_includes: SPF include loop a.no -> b.no -> c.no -> a.no through "
        "other tenants' records (permerror, RFC 7208 §4.6.4)",
        "tenants/b.yaml: sender_domain.spf_includes: SPF include loop b.no -> c.no -> a.no -> b.no through "
        "other tenants' records (permerror, RFC 7208 §4.6.4)",
        "tenants/c.yaml: sender_domain.spf_includes: SPF include loop c.no -> a.no -> b.no -> c.no through "
        "other tenants' records (permerror, RFC 7208 §4.6.4)",
    ]


def test_lookups_count_through_an_included_tenants_record() -> None:
    # b: mailgun.org (5) + _spf.google.com (4) = 9 lookups, within the limit on its own.
    # a: mailgun.org (5) + include:b.no (1 + 9) = 15: only a is over.
    lines = _lines(
        way2("a", domain="a.no", includes=["b.no"]),
        way2("b", domain="b.no", includes=["_spf.google.com"]),
    )
    assert lines == [
        "tenants/a.yaml: sender_domain.spf_includes: SPF needs 15 DNS lookups counting the other tenants' "
        "records it includes, over the limit of 10 (RFC 7208 §4.6.4)"
    ]


def test_including_another_tenant_costs_its_whole_record() -> None:
    """Both records start with include:mailgun.org (5 lookups), so one tenant including another
    is 5 + 1 + 5 = 11: one over the limit, counted, never waved through as 'unknown cost 1'."""
    over = _lines(way2("a", domain="a.no", includes=["b.no"]), way2("b", domain="b.no"))
    assert over == [
        "tenants/a.yaml: sender_domain.spf_includes: SPF needs 11 DNS lookups counting the other tenants' "
        "records it includes, over the limit of 10 (RFC 7208 §4.6.4)"
    ]
