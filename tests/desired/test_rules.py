"""mailfleet.desired.build.conflicts: what no two tenants (or stacks) may both declare."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mailfleet.desired.build import build_stack
from mailfleet.desired.rules import conflicts, tenant_problems
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


# --- tenant_problems: DNS names composed from valid fields, over 253 octets (RFC 1035 §2.3.4) ---


def long_domain(octets: int, tld: str = "no") -> str:
    """A valid domain of exactly ``octets`` octets (labels of at most 63)."""
    labels: list[str] = []
    left = octets - len(tld)
    while left > 0:
        size = min(63, left - 1)  # the dot before the next label
        if left - 1 - size == 1:  # never leave room for just a dot
            size -= 1
        labels.append(("d" * size) if size else "")
        left -= size + 1
    name = ".".join([*labels, tld])
    assert len(name) == octets and all(0 < len(label) <= 63 for label in name.split(".")), name
    return name


def name_lines(data: dict[str, Any], stacks: list[StackConfig] | tuple[StackConfig, ...] = ()) -> list[str]:
    return [str(p) for p in tenant_problems(tenant(data), "tenants/acme.yaml", stacks)]


LIMIT = "over the 253-octet limit of a domain name (RFC 1035 §2.3.4)"


def test_a_long_selector_is_blamed_when_a_shorter_one_fits() -> None:
    data = way2(domain=long_domain(230), dkim={"selector": "s" * 30})
    assert name_lines(data) == [
        "tenants/acme.yaml: dkim.selector: the DKIM record name <selector>._domainkey.<domain> "
        f"would be 272 octets, {LIMIT}; with this domain a selector of at most 11 octets fits"
    ]
    data["dkim"] = {"selector": "s" * 11}
    assert name_lines(data) == []


def test_a_domain_no_selector_fits_is_blamed() -> None:
    # 245 + "._domainkey." leaves no octet for a selector; "_dmarc.<domain>" (252) still fits.
    assert name_lines(way2(domain=long_domain(245), dkim={"selector": "a"})) == [
        "tenants/acme.yaml: sender_domain.name: the DKIM record name <selector>._domainkey.<domain> "
        f"would be 258 octets, {LIMIT}; a domain of at most 240 octets leaves room for a selector"
    ]


def test_one_line_per_field_for_its_longest_name() -> None:
    # 250 octets: the DKIM (271), DMARC (257) and tracking (256) names are all too long; one
    # line, for the longest.
    assert name_lines(way2(domain=long_domain(250), tracking=True)) == [
        "tenants/acme.yaml: sender_domain.name: the DKIM record name <selector>._domainkey.<domain> "
        f"would be 271 octets, {LIMIT}; a domain of at most 240 octets leaves room for a selector"
    ]


def test_a_domain_whose_names_fit_exactly() -> None:
    # mailfleet._domainkey.<232 octets> is exactly 253.
    assert name_lines(way2(domain=long_domain(232), tracking=True)) == []
    assert len(name_lines(way2(domain=long_domain(233)))) == 1


def test_report_authorisation_at_an_external_destination() -> None:
    dest = long_domain(60, "org")
    data = way2(domain=long_domain(200), dmarc={"rua": ["mailto:d@acme.no"], "ruf": [f"mailto:f@{dest}"]})
    assert name_lines(data) == [
        "tenants/acme.yaml: dmarc.ruf.0: the report authorisation <domain>._report._dmarc.<destination> "
        f"its destination must publish (RFC 7489 §7.1) would be 276 octets, {LIMIT}; "
        "receivers would never send it reports"
    ]


def test_report_destination_in_the_same_organisation_needs_no_authorisation() -> None:
    domain = long_domain(200)
    dest = "r" * 50 + "." + domain.split(".", 1)[1]  # a sibling in the same organisation
    data = way2(domain=domain, dmarc={"rua": [f"mailto:d@{dest}"]})
    assert len(f"{domain}._report._dmarc.{dest}") > 253
    assert name_lines(data) == []


def test_a_migration_platform_domain_is_checked_like_a_sender_domain() -> None:
    migration = {
        "from": "us",
        "to": "eu",
        "started_at": "2026-11-24T01:00:00+00:00",
        "platform_domain": long_domain(246, "com"),
        "platform_zone_id": "Z04EXAMPLEUS0001",
        "original_ttl": 3600,
    }
    lines = name_lines(way1(region="us", migration=migration))
    assert lines == [
        "tenants/acme.yaml: migration.platform_domain: the DKIM record name "
        f"<selector>._domainkey.<domain> would be 267 octets, {LIMIT}; "
        "a domain of at most 240 octets leaves room for a selector"
    ]


def test_the_authorisation_a_stack_publishes(stacks: dict[str, StackConfig]) -> None:
    # The EU stack's reports go to mail.example.eu: it publishes
    # <sender>._report._dmarc.mail.example.eu, 230 + 31 octets.
    data = way2(region="eu", domain=long_domain(230))
    assert name_lines(data) == []  # without the stacks it cannot be known
    assert name_lines(data, list(stacks.values())) == [
        "tenants/acme.yaml: sender_domain.name: the report authorisation "
        "<domain>._report._dmarc.mail.example.eu that stack 'eu' publishes for its report address "
        f"(RFC 7489 §7.1) would be 261 octets, {LIMIT}"
    ]
    # The US stack does not declare an EU tenant.
    assert name_lines(data, [stacks["us"]]) == []


def test_names_problems_agree_with_what_the_stacks_declare(stacks: dict[str, StackConfig]) -> None:
    """Property: no problem exactly when every name the stacks build is within 253 octets."""
    import random

    rng = random.Random(11)
    seen = {True: 0, False: 0}
    for _ in range(300):
        region = rng.choice(["eu", "us"])
        domain = long_domain(rng.randint(180, 253))
        dest = long_domain(rng.randint(10, 70), "org")
        data = way2(
            "acme",
            region,
            domain,
            tracking=rng.random() < 0.5,
            dkim={"selector": "s" * rng.randint(1, 63)},
            dmarc={"rua": [f"mailto:d@{dest}"] if rng.random() < 0.5 else []},
        )
        t = tenant(data)
        problems = tenant_problems(t, "w", list(stacks.values()))
        too_long = [
            r.name
            for s in stacks.values()
            for ts in build_stack(s, [t]).tenants
            for r in ts.records
            if len(r.name) > 253
        ]
        external = [f"{domain}._report._dmarc.{dest}"] if data["dmarc"]["rua"] else []
        too_long += [n for n in external if len(n) > 253]
        assert bool(problems) == bool(too_long), (problems, too_long)
        seen[bool(problems)] += 1
    assert min(seen.values()) > 30  # both outcomes are exercised
