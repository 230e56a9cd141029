"""mailfleet.desired.build.conflicts: what no two tenants (or stacks) may both declare."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mailfleet.desired.build import build_stack
from mailfleet.desired.rules import conflicts
from mailfleet.desired.state import MailgunRoute, StackState, TenantState
from mailfleet.model.stack import StackConfig
from tests.model.data import tenant, way1, way2


def check(stacks: dict[str, StackConfig], *docs: dict[str, Any]) -> list[str]:
    tenants = [tenant(d) for d in docs]
    states = [build_stack(stacks["eu"], tenants), build_stack(stacks["us"], tenants)]
    paths = {t.slug: Path(f"tenants/{t.slug}.yaml") for t in tenants}
    return [str(p) for p in conflicts(states, paths)]


def test_examples_have_no_conflicts(stacks: dict[str, StackConfig], repo_root: Path) -> None:
    from mailfleet.model.load import load_tenants

    loaded = load_tenants(repo_root / "tenants")
    states = [build_stack(s, loaded.tenants) for s in stacks.values()]
    assert sum(len(s.tenants) for s in states) == len(loaded.tenants)
    assert conflicts(states, loaded.paths) == []


def test_distinct_tenants_do_not_conflict(stacks: dict[str, StackConfig]) -> None:
    assert (
        check(
            stacks,
            way2("a", "eu", "a.no"),
            way2("b", "eu", "b.no"),
            way2("c", "us", "c.com"),
            way1("d", "us"),
        )
        == []
    )


def test_same_sender_domain_twice_in_one_region(stacks: dict[str, StackConfig]) -> None:
    assert check(stacks, way2("alpha", "eu", "shared.no"), way2("beta", "eu", "shared.no")) == [
        "tenants/beta.yaml: sender_domain.name: domain shared.no is already declared by tenant 'alpha' "
        "(tenants/alpha.yaml)"
    ]


def test_same_sender_domain_across_regions(stacks: dict[str, StackConfig]) -> None:
    # Mailgun domain names are global: one region of one account at a time.
    assert check(stacks, way2("alpha", "us", "shared.no"), way2("beta", "eu", "shared.no")) == [
        "tenants/alpha.yaml: sender_domain.name: domain shared.no is already declared by tenant 'beta' "
        "(tenants/beta.yaml)"
    ]


def test_sender_domain_equal_to_another_tenants_platform_domain(stacks: dict[str, StackConfig]) -> None:
    out = check(stacks, way1("acme", "eu"), way2("zulu", "eu", "acme.mail.example.eu"))
    assert out == [
        "tenants/zulu.yaml: sender_domain.name: domain acme.mail.example.eu is already declared by "
        "tenant 'acme' (tenants/acme.yaml)"
    ]


def test_sender_domain_equal_to_a_platform_domain_declared_later(stacks: dict[str, StackConfig]) -> None:
    # "aaa" sorts first: its sender domain is seen before acme's platform domain.
    out = check(stacks, way1("acme", "eu"), way2("aaa", "eu", "acme.mail.example.eu"))
    assert (
        "tenants/acme.yaml: slug: domain acme.mail.example.eu is already declared by tenant 'aaa' (tenants/aaa.yaml)"
        in out
    )
    assert any(
        line.startswith("tenants/aaa.yaml: sender_domain.name: ") and "inside the platform domain" in line
        for line in out
    )


def test_sender_domain_equal_to_another_regions_platform_domain(stacks: dict[str, StackConfig]) -> None:
    out = check(stacks, way1("acme", "eu"), way2("zulu", "us", "acme.mail.example.eu"))
    assert out == [
        "tenants/zulu.yaml: sender_domain.name: domain acme.mail.example.eu is already declared by "
        "tenant 'acme' (tenants/acme.yaml)"
    ]


def test_sender_domain_equal_to_its_own_platform_domain(stacks: dict[str, StackConfig]) -> None:
    out = check(stacks, way2("acme", "eu", "acme.mail.example.eu"))
    # Reported once, not once per record derived from the duplicate domain.
    assert out == [
        "tenants/acme.yaml: sender_domain.name: domain acme.mail.example.eu is already declared by this tenant"
    ]


def test_sender_domain_inside_a_platform_domain(stacks: dict[str, StackConfig]) -> None:
    for name in ("mail.example.eu", "nobody.mail.example.eu", "x.y.mail.example.com"):
        out = check(stacks, way2("acme", "eu", name))
        platform = "mail.example.com" if name.endswith(".com") else "mail.example.eu"
        assert out == [
            f"tenants/acme.yaml: sender_domain.name: domain {name} is inside the platform domain {platform}, "
            "whose names are reserved for platform addresses"
        ]


def test_sender_domain_next_to_the_platform_domain_is_fine(stacks: dict[str, StackConfig]) -> None:
    assert check(stacks, way2("acme", "eu", "news.example.eu"), way2("b", "eu", "xmail.example.eu")) == []


def test_sender_domain_inside_another_tenants_zone(stacks: dict[str, StackConfig]) -> None:
    # acme's tracking CNAME email.acme.no vs zulu sending as email.acme.no (SPF TXT there): the
    # deeper problem is that zulu's records would be written into acme's zone, so that is said.
    out = check(stacks, way2("acme", "eu", "acme.no", tracking=True), way2("zulu", "eu", "email.acme.no"))
    assert out == [
        "tenants/zulu.yaml: sender_domain.name: domain email.acme.no and tenant 'acme''s sender domain "
        "acme.no (tenants/acme.yaml) share the zone acme.no: one tenant's records would be written into "
        "the other's zone"
    ]


def test_sender_domain_zone_clash_in_the_other_order(stacks: dict[str, StackConfig]) -> None:
    out = check(stacks, way2("acme", "eu", "email.zulu.no"), way2("zulu", "us", "zulu.no", tracking=True))
    assert out == [
        "tenants/zulu.yaml: sender_domain.name: domain zulu.no and tenant 'acme''s sender domain "
        "email.zulu.no (tenants/acme.yaml) share the zone zulu.no: one tenant's records would be written "
        "into the other's zone"
    ]


def _state(stack: str, region: str, *tenants: TenantState) -> StackState:
    return StackState(stack, region, f"{region}-central-1", "mail.example.eu", "Z0TEST", list(tenants))


def _route(slug: str, address: str, region: str = "eu") -> MailgunRoute:
    return MailgunRoute(slug, address, region, 10, f'match_recipient("^{address}$")', ("stop()",), "")


def test_duplicate_route_address() -> None:
    a = TenantState("alpha", "A", "eu", routes=[_route("alpha", "support@x.mail.example.eu")])
    b = TenantState("beta", "B", "eu", routes=[_route("beta", "support@x.mail.example.eu")])
    out = [str(p) for p in conflicts([_state("eu", "eu", a, b)])]
    assert out == [
        "tenants/beta.yaml: mailboxes: address support@x.mail.example.eu is already routed for tenant "
        "'alpha' (tenants/alpha.yaml)"
    ]


def test_duplicate_route_address_across_stacks_of_one_region() -> None:
    a = TenantState("alpha", "A", "eu", routes=[_route("alpha", "info@x.mail.example.eu")])
    b = TenantState("beta", "B", "eu", routes=[_route("beta", "info@x.mail.example.eu")])
    out = conflicts([_state("eu", "eu", a), _state("eu-2", "eu", b)])
    assert [p.field for p in out] == ["mailboxes"]
    assert out[0].where == "tenants/beta.yaml"


def test_same_address_in_two_regions_is_not_a_route_clash() -> None:
    # Routes are account-wide per region; each region's route table is separate.
    a = TenantState("alpha", "A", "eu", routes=[_route("alpha", "info@x.example", "eu")])
    b = TenantState("beta", "B", "us", routes=[_route("beta", "info@x.example", "us")])
    assert conflicts([_state("eu", "eu", a), _state("us", "us", b)]) == []


def test_a_moving_tenant_in_two_stacks_is_not_a_conflict(stacks: dict[str, StackConfig]) -> None:
    t = tenant(way2("acme", "eu", "acme.no", tracking=True))
    eu = build_stack(stacks["eu"], [t])
    # The same tenant declared by a second stack (as during a region move).
    copy = StackState("us", "us", "us-east-1", "mail.example.com", "Z04EXAMPLEUS0001", list(eu.tenants))
    assert conflicts([eu, copy]) == []
    # ...but twice in one stack is.
    twice = StackState(
        "eu", "eu", "eu-central-1", "mail.example.eu", "Z04EXAMPLEEU0001", [*eu.tenants, *eu.tenants]
    )
    assert conflicts([twice]) != []


def test_default_where_without_paths(stacks: dict[str, StackConfig]) -> None:
    tenants = [tenant(way2("alpha", "eu", "s.no")), tenant(way2("beta", "eu", "s.no"))]
    (p,) = conflicts([build_stack(stacks["eu"], tenants)])
    assert p.where == "tenants/beta.yaml"
    assert "(tenants/alpha.yaml)" in p.message
