"""mailfleet.desired.build: the exact desired state for each way of using mail, per region.

Expected values are written out from the stack files (Pulumi.eu.yaml / Pulumi.us.yaml) and
Mailgun's per-region facts (MX hosts ``mxa/mxb.mailgun.org`` or ``mxa/mxb.eu.mailgun.org``,
tracking CNAME ``mailgun.org`` or ``eu.mailgun.org``, ``include:mailgun.org``; docs/plan.md
"What each way declares"), not computed with the code under test.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from mailfleet.desired.build import build_stack, build_tenant, route_expression
from mailfleet.desired.state import DnsRecord, StackState, TenantState
from mailfleet.model.stack import StackConfig
from tests.model.data import CF_ZONE, R53_ZONE, tenant, way1, way2, way3

REGION = {
    "eu": {
        "platform": "mail.example.eu",
        "zone": "Z04EXAMPLEEU0001",
        "inbound": "https://crm.example.eu/mailgun/inbound",
        "events": "https://crm.example.eu/mailgun/events",
        "ips": ("192.0.2.10", "192.0.2.11"),
        "rua": "mailto:dmarc-reports@mail.example.eu",
        "mx": ("10 mxa.eu.mailgun.org", "10 mxb.eu.mailgun.org"),
        "tracking": "eu.mailgun.org",
        "aws": "eu-central-1",
    },
    "us": {
        "platform": "mail.example.com",
        "zone": "Z04EXAMPLEUS0001",
        "inbound": "https://crm.example.com/mailgun/inbound",
        "events": "https://crm.example.com/mailgun/events",
        "ips": ("198.51.100.20", "198.51.100.21"),
        "rua": "mailto:dmarc-reports@mail.example.com",
        "mx": ("10 mxa.mailgun.org", "10 mxb.mailgun.org"),
        "tracking": "mailgun.org",
        "aws": "us-east-1",
    },
}
BASIC_HOOKS = ["delivered", "permanent_fail", "temporary_fail", "complained", "unsubscribed"]
TRACKING_HOOKS = [*BASIC_HOOKS, "opened", "clicked"]


def rows(state: TenantState) -> list[tuple[Any, ...]]:
    return [
        (
            r.purpose,
            r.provider,
            r.zone,
            r.zone_id,
            r.name,
            r.type,
            r.ttl,
            r.values,
            r.from_mailgun,
            r.mailgun_domain,
        )
        for r in state.records
    ]


def our_records(
    slug: str, region: str, *, tracking: bool, policy: str = "quarantine"
) -> list[tuple[Any, ...]]:
    r = REGION[region]
    d = f"{slug}.{r['platform']}"
    out = [
        ("mx", "route53", "ours", r["zone"], d, "MX", 3600, r["mx"], False, None),
        (
            "spf",
            "route53",
            "ours",
            r["zone"],
            d,
            "TXT",
            3600,
            ("v=spf1 include:mailgun.org ~all",),
            False,
            None,
        ),
        ("dkim", "route53", "ours", r["zone"], f"mailfleet._domainkey.{d}", "TXT", 3600, (), True, d),
        (
            "dmarc",
            "route53",
            "ours",
            r["zone"],
            f"_dmarc.{d}",
            "TXT",
            3600,
            (f"v=DMARC1; p={policy}; rua={r['rua']}",),
            False,
            None,
        ),
    ]
    if tracking:
        out.append(
            (
                "tracking",
                "route53",
                "ours",
                r["zone"],
                f"email.{d}",
                "CNAME",
                3600,
                (r["tracking"],),
                False,
                None,
            )
        )
    return out


def stack_for(stacks: dict[str, StackConfig], region: str) -> StackConfig:
    return stacks[region]


def check_routes(state: TenantState, slug: str, region: str, mailboxes: list[str]) -> None:
    r = REGION[region]
    d = f"{slug}.{r['platform']}"
    assert [x.address for x in state.routes] == [f"{m}@{d}" for m in mailboxes]
    assert state.forwarding_addresses == [f"{m}@{d}" for m in mailboxes]
    for route, box in zip(state.routes, mailboxes, strict=True):
        assert route.region == region
        assert route.priority == 10
        assert route.expression == f'match_recipient("^{box}@{d.replace(".", chr(92) + ".")}$")'
        assert route.actions == (f'forward("{r["inbound"]}/{slug}")', "stop()")
        assert route.description == f"mailfleet {slug}: {box}@{d}"


@pytest.mark.parametrize("region", ["eu", "us"])
def test_way1_platform_addresses_only(stacks: dict[str, StackConfig], region: str) -> None:
    r = REGION[region]
    t = tenant(way1("acme", region, mailboxes=["support", "sales"]))
    state = build_tenant(t, stacks[region])
    d = f"acme.{r['platform']}"

    assert (state.slug, state.display_name, state.region) == ("acme", "acme Ltd", region)
    assert [(x.name, x.region, x.role, x.dkim_selector, x.dkim_key_size) for x in state.domains] == [
        (d, region, "platform", "mailfleet", 2048)
    ]
    dom = state.domains[0]
    assert (
        dom.spam_action,
        dom.wildcard,
        dom.force_dkim_authority,
        dom.open_tracking,
        dom.click_tracking,
    ) == (
        "disabled",
        False,
        True,
        False,
        False,
    )
    check_routes(state, "acme", region, ["support", "sales"])
    assert [(w.domain, w.region, w.kind, w.urls) for w in state.webhooks] == [
        (d, region, k, (f"{r['events']}/acme",)) for k in BASIC_HOOKS
    ]
    assert rows(state) == our_records("acme", region, tracking=False)
    assert state.customer_records == [] and state.manual_records == []
    o = state.outbound
    assert o is not None
    assert (o.region, o.aws_region, o.parameter) == (region, r["aws"], "/mailfleet/acme/outbound")
    assert o.value == {
        "tenant": "acme",
        "region": region,
        "sending_domain": d,
        "service": {"via": "mailgun"},
        "marketing": {"via": "mailgun"},
    }
    assert o.egress_ips == () and o.secret_parameter is None


@pytest.mark.parametrize("region", ["eu", "us"])
@pytest.mark.parametrize(
    ("dns", "provider", "zone_id"),
    [
        (f"cloudflare:{CF_ZONE}", "cloudflare", CF_ZONE),
        (f"route53:{R53_ZONE}", "route53", R53_ZONE),
        ("manual", "manual", None),
    ],
)
def test_way2_own_domain_with_forwarding(
    stacks: dict[str, StackConfig], region: str, dns: str, provider: str, zone_id: str | None
) -> None:
    r = REGION[region]
    data = way2("nordlys", region, "nordlys.no", dns, ["_spf.google.com", "sendgrid.net"])
    data.update(
        tracking=True,
        dkim={"selector": "nl1", "bits": 1024},
        dmarc={"policy": "reject", "rua": ["mailto:d@nordlys.no"]},
    )
    state = build_tenant(tenant(data), stacks[region])
    d = f"nordlys.{r['platform']}"

    assert [
        (x.name, x.role, x.dkim_selector, x.dkim_key_size, x.open_tracking, x.click_tracking)
        for x in state.domains
    ] == [
        (d, "platform", "nl1", 1024, True, True),
        ("nordlys.no", "sender", "nl1", 1024, True, True),
    ]
    assert all(x.region == region for x in state.domains)
    check_routes(state, "nordlys", region, ["support"])  # inbound stays on platform addresses
    assert [(w.domain, w.kind) for w in state.webhooks] == [(d, k) for k in TRACKING_HOOKS] + [
        ("nordlys.no", k) for k in TRACKING_HOOKS
    ]
    rua = f"rua={r['rua']},mailto:d@nordlys.no"
    # Our zone lists only our organisation's report address (RFC 7489 §7.1).
    our_rua = f"rua={r['rua']}"
    ours = [
        ("mx", "route53", "ours", r["zone"], d, "MX", 3600, r["mx"], False, None),
        (
            "spf",
            "route53",
            "ours",
            r["zone"],
            d,
            "TXT",
            3600,
            ("v=spf1 include:mailgun.org ~all",),
            False,
            None,
        ),
        ("dkim", "route53", "ours", r["zone"], f"nl1._domainkey.{d}", "TXT", 3600, (), True, d),
        (
            "dmarc",
            "route53",
            "ours",
            r["zone"],
            f"_dmarc.{d}",
            "TXT",
            3600,
            (f"v=DMARC1; p=reject; {our_rua}",),
            False,
            None,
        ),
        (
            "tracking",
            "route53",
            "ours",
            r["zone"],
            f"email.{d}",
            "CNAME",
            3600,
            (r["tracking"],),
            False,
            None,
        ),
    ]
    spf = "v=spf1 include:mailgun.org include:_spf.google.com include:sendgrid.net ~all"
    theirs = [
        # No MX: the customer's own server keeps receiving and forwards to the platform address.
        ("spf", provider, "nordlys.no", zone_id, "nordlys.no", "TXT", 3600, (spf,), False, None),
        (
            "dkim",
            provider,
            "nordlys.no",
            zone_id,
            "nl1._domainkey.nordlys.no",
            "TXT",
            3600,
            (),
            True,
            "nordlys.no",
        ),
        (
            "dmarc",
            provider,
            "nordlys.no",
            zone_id,
            "_dmarc.nordlys.no",
            "TXT",
            3600,
            (f"v=DMARC1; p=reject; {rua}",),
            False,
            None,
        ),
        (
            "tracking",
            provider,
            "nordlys.no",
            zone_id,
            "email.nordlys.no",
            "CNAME",
            3600,
            (r["tracking"],),
            False,
            None,
        ),
    ]
    # The stack's report address is in another organisation: authorise it in our zone (RFC 7489 7.1).
    auth = [
        (
            "dmarc-auth",
            "route53",
            "ours",
            r["zone"],
            f"nordlys.no._report._dmarc.{r['platform']}",
            "TXT",
            3600,
            ("v=DMARC1",),
            False,
            None,
        )
    ]
    assert rows(state) == ours + theirs + auth
    assert [x.name for x in state.customer_records] == [x[4] for x in theirs]
    assert len(state.manual_records) == (4 if provider == "manual" else 0)
    assert state.outbound is not None
    assert state.outbound.value["sending_domain"] == "nordlys.no"
    assert state.outbound.egress_ips == ()


@pytest.mark.parametrize("region", ["eu", "us"])
@pytest.mark.parametrize(
    ("service", "marketing"), [("smtp", "smtp"), ("smtp", "mailgun"), ("mailgun", "smtp")]
)
def test_way3_own_smtp_outbound(
    stacks: dict[str, StackConfig], region: str, service: str, marketing: str
) -> None:
    r = REGION[region]
    state = build_tenant(tenant(way3("alpine", region, service, marketing)), stacks[region])
    d = f"alpine.{r['platform']}"
    smtp = {"via": "smtp", "host": "smtp.alpine.example.org", "port": 465}
    o = state.outbound
    assert o is not None
    assert o.value == {
        "tenant": "alpine",
        "region": region,
        "sending_domain": d,
        "service": smtp if service == "smtp" else {"via": "mailgun"},
        "marketing": smtp if marketing == "smtp" else {"via": "mailgun"},
    }
    assert o.egress_ips == r["ips"]  # what the customer's SMTP server must allow
    assert o.secret_parameter == "/mailfleet/alpine/smtp-password"
    assert o.as_dict() == {
        "parameter": "/mailfleet/alpine/outbound",
        "aws_region": r["aws"],
        "value": o.value,
        "egress_ips_to_allow": list(r["ips"]),
        "secret_parameter": "/mailfleet/alpine/smtp-password",
    }
    # Inbound still comes through Mailgun on the platform domain.
    assert [x.name for x in state.domains] == [d]
    check_routes(state, "alpine", region, ["support"])
    assert rows(state) == our_records("alpine", region, tracking=False)


def test_dmarc_policy_and_report_addresses(eu_stack: StackConfig) -> None:
    data = way1(
        dmarc={
            "policy": "none",
            "rua": ["mailto:dmarc-reports@mail.example.eu", "mailto:x@acme.no"],
            "ruf": ["mailto:f@acme.no"],
        }
    )
    state = build_tenant(tenant(data), eu_stack)
    (dmarc,) = [x for x in state.records if x.purpose == "dmarc"]
    # The stack's address is listed once even when the tenant repeats it, and addresses of
    # another organisation (acme.no) stay off our zone's record: they would need an
    # authorisation record at acme.no (RFC 7489 §7.1).
    assert dmarc.values == ("v=DMARC1; p=none; rua=mailto:dmarc-reports@mail.example.eu",)
    sender = build_tenant(tenant(way2(domain="acme.no") | {"dmarc": data["dmarc"]}), eu_stack)
    (theirs,) = [x for x in sender.records if x.purpose == "dmarc" and not x.ours]
    assert theirs.values == (
        "v=DMARC1; p=none; rua=mailto:dmarc-reports@mail.example.eu,mailto:x@acme.no; ruf=mailto:f@acme.no",
    )


def test_report_authorisation_only_for_other_organisations(eu_stack: StackConfig) -> None:
    # A sender domain in our own organisation (example.eu) needs no authorisation record.
    state = build_tenant(tenant(way2(domain="news.example.eu")), eu_stack)
    assert [x for x in state.records if x.purpose == "dmarc-auth"] == []
    other = build_tenant(tenant(way2(domain="acme.no")), eu_stack)
    assert [x.name for x in other.records if x.purpose == "dmarc-auth"] == [
        "acme.no._report._dmarc.mail.example.eu"
    ]


def test_route_expression_is_anchored_and_escaped() -> None:
    expr = route_expression("first.last-x@acme-2.mail.example.eu")
    assert expr.startswith('match_recipient("^') and expr.endswith('$")')
    pattern = expr[len('match_recipient("') : -len('")')]
    assert re.fullmatch(pattern, "first.last-x@acme-2.mail.example.eu")
    # A dot matches only a dot, and nothing before or after the address matches.
    assert not re.fullmatch(pattern, "firstXlast-x@acme-2.mail.example.eu")
    assert not re.search(pattern, "xfirst.last-x@acme-2.mail.example.eu")
    assert not re.search(pattern, "first.last-x@acme-2.mail.example.eu.evil")


def test_build_stack_takes_its_region_sorted(stacks: dict[str, StackConfig]) -> None:
    tenants = [tenant(way1("zeta", "eu")), tenant(way1("alpha", "eu")), tenant(way1("mid", "us"))]
    eu = build_stack(stacks["eu"], tenants)
    us = build_stack(stacks["us"], {t.slug: t for t in tenants})
    assert isinstance(eu, StackState)
    assert [t.slug for t in eu.tenants] == ["alpha", "zeta"]
    assert [t.slug for t in us.tenants] == ["mid"]
    assert (eu.stack, eu.region, eu.aws_region, eu.platform_domain, eu.hosted_zone_id) == (
        "eu",
        "eu",
        "eu-central-1",
        "mail.example.eu",
        "Z04EXAMPLEEU0001",
    )
    assert eu.tenant("zeta") is eu.tenants[1]
    assert eu.tenant("mid") is None


def test_build_is_deterministic(stacks: dict[str, StackConfig]) -> None:
    data = way2("nordlys", "eu", "nordlys.no", f"cloudflare:{CF_ZONE}", ["sendgrid.net"], tracking=True)
    a = build_tenant(tenant(data), stacks["eu"]).as_dict()
    b = build_tenant(tenant(data), stacks["eu"]).as_dict()
    assert a == b


def test_items_and_keys(eu_stack: StackConfig) -> None:
    state = build_tenant(tenant(way2(tracking=True)), eu_stack)
    items = state.items()
    assert len(items) == len(state.domains) + len(state.routes) + len(state.webhooks) + len(state.records) + 1
    keys = [i.key for i in items]
    assert len(keys) == len(set(keys))  # every item has its own identity
    assert "domain:acme.no" in keys and "route:support@acme.mail.example.eu" in keys
    assert "dns:_dmarc.acme.no:TXT" in keys and "outbound:/mailfleet/acme/outbound" in keys


def test_txt_values_are_logical_strings(eu_stack: StackConfig) -> None:
    many = [f"s{i}.a-rather-long-example-sender-name.example.com" for i in range(5)]
    state = build_tenant(tenant(way2(includes=many)), eu_stack)
    (spf,) = [x for x in state.records if x.purpose == "spf" and not x.ours]
    assert isinstance(spf, DnsRecord)
    assert len(spf.values) == 1 and len(spf.values[0]) > 255  # never pre-split in the model


def test_credential_domain_is_the_sending_domain_when_mail_leaves_through_mailgun(
    eu_stack: StackConfig,
) -> None:
    smtp = {"host": "smtp.acme.no", "port": 587}
    assert build_tenant(tenant(way1()), eu_stack).credential_domain == "acme.mail.example.eu"
    assert build_tenant(tenant(way2(domain="acme.no")), eu_stack).credential_domain == "acme.no"
    half = way1(outbound={"service": "smtp", "marketing": "mailgun", "smtp": smtp})
    assert build_tenant(tenant(half), eu_stack).credential_domain == "acme.mail.example.eu"
    all_smtp = way2(domain="acme.no", outbound={"service": "smtp", "marketing": "smtp", "smtp": smtp})
    assert build_tenant(tenant(all_smtp), eu_stack).credential_domain is None
    # A stack that no longer declares the sending domain (mid-migration) declares no credential.
    state = build_tenant(tenant(way1()), eu_stack)
    state.domains.clear()
    assert state.credential_domain is None
