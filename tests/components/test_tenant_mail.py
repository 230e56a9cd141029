"""TenantMail under mocks: each way of using mail, in each region.

The expected resources are written out here from Mailgun's per-region facts (MX hosts
``mxa/mxb.mailgun.org`` or ``mxa/mxb.eu.mailgun.org``, tracking CNAME ``mailgun.org`` or
``eu.mailgun.org``, ``include:mailgun.org``; docs/plan.md "What each way declares") and the
resource names and inputs of docs/pulumi.md, independently of the model's builders, and compared with what the program
registers: the exact set of (type, name), key inputs, regions, providers, options
(protect, delete_before_replace, depends_on, parent) and secrecy.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from components.mocked import (
    RecordingMonitor,
    Registration,
    clear_strings,
    fake_dkim_value,
    is_secret,
    unwrap,
)
from mailfleet.desired.build import build_stack
from mailfleet.model.stack import StackConfig
from mailfleet.model.tenant import Tenant
from tests.components.conftest import (
    CLOUDFLARE_TOKEN,
    MAILGUN_KEY,
    SMTP_PASSWORDS,
    TYPES,
    all_secret_values,
    expected_password,
    parse_quoted,
    run_state,
)

FACTS: dict[str, dict[str, Any]] = {
    "eu": {
        "aws": "eu-central-1",
        "platform": "mail.example.eu",
        "zone": "Z04EXAMPLEEU0001",
        "mx": ["10 mxa.eu.mailgun.org", "10 mxb.eu.mailgun.org"],
        "tracking": "eu.mailgun.org",
        "inbound": "https://crm.example.eu/mailgun/inbound",
        "events": "https://crm.example.eu/mailgun/events",
        "rua": "mailto:dmarc-reports@mail.example.eu",
    },
    "us": {
        "aws": "us-east-1",
        "platform": "mail.example.com",
        "zone": "Z04EXAMPLEUS0001",
        "mx": ["10 mxa.mailgun.org", "10 mxb.mailgun.org"],
        "tracking": "mailgun.org",
        "inbound": "https://crm.example.com/mailgun/inbound",
        "events": "https://crm.example.com/mailgun/events",
        "rua": "mailto:dmarc-reports@mail.example.com",
    },
}
CF_ZONE = "0123456789abcdef0123456789abcdef"
R53_ZONE = "Z0CUSTOMER0001"
WAYS = ("platform", "cloudflare", "route53", "manual", "smtp")
SPF_INCLUDES = {"cloudflare": ["_spf.google.com", "sendgrid.net"], "route53": [], "manual": ["amazonses.com"]}
BASE_KINDS = ["delivered", "permanent_fail", "temporary_fail", "complained", "unsubscribed"]


def tenant_data(way: str, region: str) -> dict[str, Any]:
    slug = f"{way}-{region}"
    data: dict[str, Any] = {
        "slug": slug,
        "name": f"Test {slug}",
        "region": region,
        "mailboxes": ["support"],
        "dkim": {"selector": "s1", "bits": 2048},
        "tracking": way in ("platform", "cloudflare", "route53"),
    }
    dns = {"cloudflare": f"cloudflare:{CF_ZONE}", "route53": f"route53:{R53_ZONE}", "manual": "manual"}
    if way in dns:
        data["sender_domain"] = {
            "name": f"{slug}.example.org",
            "dns": dns[way],
            "spf_includes": SPF_INCLUDES[way],
        }
    if way == "smtp":
        data["outbound"] = {
            "service": "smtp",
            "marketing": "smtp",
            "smtp": {"host": "smtp.example.net", "port": 465},
        }
    return data


def expected(
    way: str, region: str
) -> tuple[dict[str, tuple[str, dict[str, Any]]], dict[str, tuple[str, Any]]]:
    """(name -> (type, key inputs)), and DNS (name -> (provider/zone, logical values))."""
    f = FACTS[region]
    slug = f"{way}-{region}"
    platform = f"{slug}.{f['platform']}"
    tracking = way in ("platform", "cloudflare", "route53")
    sender = f"{slug}.example.org" if way in ("cloudflare", "route53", "manual") else None
    sending = sender or platform
    exp: dict[str, tuple[str, dict[str, Any]]] = {
        slug: (TYPES["tenant"], {}),
        f"mailgun-{region}": (TYPES["p_mailgun"], {}),
        f"aws-{f['aws']}": (TYPES["p_aws"], {"region": f["aws"]}),
    }
    if way == "cloudflare":
        exp["cloudflare"] = (TYPES["p_cf"], {})
    kinds = BASE_KINDS + (["opened", "clicked"] if tracking else [])
    for d in [platform] + ([sender] if sender else []):
        exp[f"{slug}-domain-{d}"] = (
            TYPES["domain"],
            {
                "name": d,
                "region": region,
                "dkimSelector": "s1",
                "dkimKeySize": 2048,
                "spamAction": "disabled",
                "wildcard": False,
                "forceDkimAuthority": True,
                "openTracking": tracking,
                "clickTracking": tracking,
                "webScheme": "https",
            },
        )
        for kind in kinds:
            exp[f"{slug}-webhook-{d}-{kind}"] = (
                TYPES["webhook"],
                {"domain": d, "kind": kind, "urls": [f"{f['events']}/{slug}"], "region": region},
            )
    address = f"support@{platform}"
    exp[f"{slug}-route-{address}"] = (
        TYPES["route"],
        {
            "priority": 10,
            "expression": 'match_recipient("^' + re.escape(address) + '$")',
            "actions": [f'forward("{f["inbound"]}/{slug}")', "stop()"],
            "region": region,
        },
    )
    if way != "smtp":  # all outbound via the customer's SMTP: no Mailgun credential
        exp[f"{slug}-credential-{sending}"] = (
            TYPES["credential"],
            {"domain": sending, "login": "crm", "region": region},
        )
        exp[f"{slug}-credential-param-{sending}"] = (
            TYPES["ssm"],
            {"name": f"/mailfleet/{slug}/mailgun-smtp-password/{sending}", "type": "SecureString"},
        )
    exp[f"{slug}-outbound"] = (TYPES["ssm"], {"name": f"/mailfleet/{slug}/outbound", "type": "String"})
    if way == "smtp":
        exp[f"{slug}-smtp-password"] = (
            TYPES["ssm"],
            {"name": f"/mailfleet/{slug}/smtp-password", "type": "SecureString"},
        )

    dmarc = f"v=DMARC1; p=quarantine; rua={f['rua']}"
    dns: dict[str, tuple[str, Any]] = {}

    def zone_records(domain: str, where: str, spf: str, with_mx: bool) -> None:
        if with_mx:
            dns[f"{domain}/MX"] = (where, sorted(f["mx"]))
        dns[f"{domain}/TXT"] = (where, [spf])
        dns[f"s1._domainkey.{domain}/TXT"] = (where, [fake_dkim_value(domain, "s1", 2048)])
        dns[f"_dmarc.{domain}/TXT"] = (where, [dmarc])
        if tracking:
            dns[f"email.{domain}/CNAME"] = (where, [f["tracking"]])

    zone_records(platform, f"route53/{f['zone']}", "v=spf1 include:mailgun.org ~all", True)
    if sender:
        where = {
            "cloudflare": f"cloudflare/{CF_ZONE}",
            "route53": f"route53/{R53_ZONE}",
            "manual": "manual/",
        }[way]
        spf = " ".join(["v=spf1", *(f"include:{i}" for i in ["mailgun.org", *SPF_INCLUDES[way]]), "~all"])
        zone_records(sender, where, spf, False)
        dns[f"{sender}._report._dmarc.{f['platform']}/TXT"] = (f"route53/{f['zone']}", ["v=DMARC1"])
    for key, (where, _) in dns.items():
        name, type_ = key.rsplit("/", 1)
        provider = where.split("/")[0]
        if provider == "route53":
            exp[f"{slug}-dns-{name}-{type_}"] = (TYPES["r53"], {"name": name, "type": type_, "ttl": 3600})
        elif provider == "cloudflare":
            exp[f"{slug}-dns-{name}-{type_}"] = (TYPES["cf"], {"name": name, "type": type_, "ttl": 3600})
    return exp, dns


def declared_dns(monitor: RecordingMonitor, slug: str) -> dict[str, tuple[str, Any]]:
    """The DNS the run declared, as (provider/zone, logical values) by name/type."""
    out: dict[str, tuple[str, Any]] = {}
    for r in monitor.of_type(TYPES["r53"]):
        values = r.plain("records")
        if r.plain("type") == "TXT":
            # pulumi-aws wraps each item in quotes itself; the result must be valid chunks.
            values = ["".join(_chunks('"' + v + '"')) for v in values]
        out[f"{r.plain('name')}/{r.plain('type')}"] = (f"route53/{r.plain('zoneId')}", sorted(values))
    grouped: dict[str, list[str]] = {}
    zones: dict[str, str] = {}
    for r in monitor.of_type(TYPES["cf"]):
        key = f"{r.plain('name')}/{r.plain('type')}"
        content = r.plain("content")
        if r.plain("type") == "TXT":
            content = "".join(_chunks(content))
        elif r.plain("type") == "MX":
            content = f"{int(r.plain('priority'))} {content}"
        grouped.setdefault(key, []).append(content)
        zones[key] = r.plain("zoneId")
    for key, values in grouped.items():
        out[key] = (f"cloudflare/{zones[key]}", sorted(values))
    exported = unwrap(monitor.stack_outputs.get(slug, {}))
    for rec in exported.get("manual_records", []):
        out[f"{rec['name']}/{rec['type']}"] = ("manual/", sorted(rec["values"]))
    return out


def _chunks(text: str) -> list[str]:
    chunks = parse_quoted(text)
    assert all(len(c.encode()) <= 255 for c in chunks), text
    return chunks


@pytest.mark.parametrize("region", ["eu", "us"])
@pytest.mark.parametrize("way", WAYS)
def test_each_way_in_each_region(way: str, region: str, stack_configs: dict[str, StackConfig]) -> None:
    config = stack_configs[region]
    tenant = Tenant.model_validate(tenant_data(way, region))
    state = build_stack(config, [tenant])
    slug = tenant.slug
    monitor = run_state(config, state)
    regs = monitor.by_name()
    exp, exp_dns = expected(way, region)

    # The exact set of resources.
    assert {(r.type, r.name) for r in monitor.registrations} == {(t, n) for n, (t, _) in exp.items()}
    assert len(monitor.registrations) == len(regs), "a resource name is registered twice"

    # Key inputs.
    for name, (_, inputs) in exp.items():
        got = {k: regs[name].plain(k) for k in inputs}
        assert got == inputs, name

    # DNS values (names, types, logical values after joining TXT chunks, zone, provider).
    assert declared_dns(monitor, slug) == exp_dns

    # Region on every Mailgun resource; every resource on the stack's explicit providers.
    tenant_urn = regs[slug].urn
    providers = {r.type: r for r in monitor.registrations if r.type.startswith("pulumi:providers:")}
    assert providers[TYPES["p_aws"]].plain("region") == FACTS[region]["aws"]
    for r in monitor.registrations:
        if r.type.startswith("mailgun:"):
            assert r.plain("region") == region, r.name
        package = r.type.split(":")[0]
        if package in ("mailgun", "aws", "cloudflare"):
            provider = providers[f"pulumi:providers:{package}"]
            assert r.provider.startswith(provider.urn + "::"), r.name
            assert r.parent == tenant_urn, r.name

    # protect and delete_before_replace on domains only.
    for r in monitor.registrations:
        is_domain = r.type == TYPES["domain"]
        assert (r.protect, r.delete_before_replace) == (is_domain, is_domain), r.name

    # depends_on: webhooks and the credential on their domain, the password parameter on the credential.
    for r in monitor.of_type(TYPES["webhook"]):
        assert regs[f"{slug}-domain-{r.plain('domain')}"].urn in r.dependencies, r.name
    for r in monitor.of_type(TYPES["credential"]):
        domain_urn = regs[f"{slug}-domain-{r.plain('domain')}"].urn
        assert domain_urn in r.dependencies
        assert r.urn in regs[f"{slug}-credential-param-{r.plain('domain')}"].dependencies

    # The outbound setting the CRM reads.
    outbound = json.loads(regs[f"{slug}-outbound"].plain("insecureValue"))
    smtp = {"via": "smtp", "host": "smtp.example.net", "port": 465}
    channel = smtp if way == "smtp" else {"via": "mailgun"}
    sending = (
        f"{slug}.example.org"
        if way in ("cloudflare", "route53", "manual")
        else f"{slug}.{FACTS[region]['platform']}"
    )
    assert outbound == {
        "tenant": slug,
        "region": region,
        "sending_domain": sending,
        "service": channel,
        "marketing": channel,
    }

    # Secrets are secret, with the right values.
    assert is_secret(providers[TYPES["p_mailgun"]].inputs["apiKey"])
    assert unwrap(providers[TYPES["p_mailgun"]].inputs["apiKey"]) == MAILGUN_KEY
    if way == "cloudflare":
        assert is_secret(providers[TYPES["p_cf"]].inputs["apiToken"])
        assert unwrap(providers[TYPES["p_cf"]].inputs["apiToken"]) == CLOUDFLARE_TOKEN
    secrets = all_secret_values()
    for r in monitor.of_type(TYPES["credential"]):
        assert is_secret(r.inputs["password"])
        password = unwrap(r.inputs["password"])
        assert password == expected_password(sending)
        param = regs[f"{slug}-credential-param-{sending}"]
        assert is_secret(param.inputs["value"]) and unwrap(param.inputs["value"]) == password
        secrets.append(password)
    if way == "smtp":
        param = regs[f"{slug}-smtp-password"]
        assert is_secret(param.inputs["value"])
        assert unwrap(param.inputs["value"]) == SMTP_PASSWORDS[slug]
    # ... and never appear in clear in any input, component output or stack export.
    visible = [s for r in monitor.registrations for s in clear_strings(r.inputs)]
    visible += [s for out in monitor.component_outputs.values() for s in clear_strings(out)]
    visible += list(clear_strings(monitor.stack_outputs))
    leaks = [(secret, text) for secret in secrets for text in visible if secret in text]
    assert leaks == []

    # Stack exports for the tenant.
    exported = unwrap(monitor.stack_outputs[slug])
    assert exported["forwarding_addresses"] == [f"support@{slug}.{FACTS[region]['platform']}"]
    assert exported["outbound"]["parameter"] == f"/mailfleet/{slug}/outbound"
    assert exported["outbound"].get("secret_parameter") == (
        f"/mailfleet/{slug}/smtp-password" if way == "smtp" else None
    )
    assert exported["outbound"]["egress_ips_to_allow"] == (config.egress_ips if way == "smtp" else [])
    manual = {(m["name"], m["type"]) for m in exported["manual_records"]}
    if way == "manual":
        assert (f"s1._domainkey.{slug}.example.org", "TXT") in manual
    else:
        assert manual == set()
    assert unwrap(monitor.stack_outputs["stack_region"]) == region
    assert unwrap(monitor.stack_outputs["stack_aws_region"]) == FACTS[region]["aws"]


def test_component_registers_its_outputs(stack_configs: dict[str, StackConfig]) -> None:
    config = stack_configs["eu"]
    tenant = Tenant.model_validate(tenant_data("manual", "eu"))
    monitor = run_state(config, build_stack(config, [tenant]))
    component: Registration = monitor.by_name()[tenant.slug]
    outputs = unwrap(monitor.component_outputs[component.urn])
    assert set(outputs) == {"manual_records", "forwarding_addresses", "outbound"}
    dkim = [m for m in outputs["manual_records"] if m["purpose"] == "dkim"]
    assert dkim[0]["values"] == [fake_dkim_value("manual-eu.example.org", "s1", 2048)]
