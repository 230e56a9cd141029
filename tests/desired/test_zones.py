"""mailfleet.desired.rules.conflicts: one customer zone, one tenant's domain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mailfleet.desired.build import build_stack
from mailfleet.desired.rules import conflicts
from mailfleet.model.stack import StackConfig
from tests.model.data import CF_ZONE, R53_ZONE, tenant, way2


def check(stacks: dict[str, StackConfig], *docs: dict[str, Any]) -> list[str]:
    tenants = [tenant(d) for d in docs]
    states = [build_stack(stacks["eu"], tenants), build_stack(stacks["us"], tenants)]
    return [str(p) for p in conflicts(states, {t.slug: Path(f"tenants/{t.slug}.yaml") for t in tenants})]


@pytest.mark.parametrize("dns", [f"cloudflare:{CF_ZONE}", f"route53:{R53_ZONE}"])
def test_a_zone_id_of_another_tenants_domain(stacks: dict[str, StackConfig], dns: str) -> None:
    provider, zone = dns.split(":")
    out = check(stacks, way2("acme", "eu", "acme.no", dns=dns), way2("zulu", "us", "zulu.no", dns=dns))
    assert out == [
        f"tenants/zulu.yaml: sender_domain.dns: {provider} zone {zone} is the zone of tenant 'acme''s "
        "domain acme.no (tenants/acme.yaml), not of zulu.no"
    ]


def test_distinct_zones_and_manual_domains_are_fine(stacks: dict[str, StackConfig]) -> None:
    docs = [
        way2("acme", "eu", "acme.no", dns=f"cloudflare:{CF_ZONE}"),
        way2("zulu", "us", "zulu.no", dns=f"cloudflare:{'f' * 32}"),
        way2("manual1", "eu", "m1.no"),
        way2("manual2", "eu", "m2.no"),
    ]
    assert check(stacks, *docs) == []


def test_a_domain_deep_inside_another_tenants_zone(stacks: dict[str, StackConfig]) -> None:
    out = check(stacks, way2("acme", "eu", "acme.no"), way2("zulu", "eu", "a.b.acme.no"))
    assert out == [
        "tenants/zulu.yaml: sender_domain.name: domain a.b.acme.no and tenant 'acme''s sender domain "
        "acme.no (tenants/acme.yaml) share the zone acme.no: one tenant's records would be written into "
        "the other's zone"
    ]


def test_a_sibling_domain_is_not_inside(stacks: dict[str, StackConfig]) -> None:
    # notacme.no ends with "acme.no" as text, but is not under it.
    assert check(stacks, way2("acme", "eu", "acme.no"), way2("zulu", "eu", "notacme.no")) == []
