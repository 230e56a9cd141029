"""mailfleet.model.tenant: every field of the tenant schema, its defaults and its errors.

Each error case checks the whole ``file: field: message`` line shape: the file, the dotted
field path (list items by index) and a message naming what is wrong.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mailfleet.model.tenant import Tenant, parse_dns_host
from tests.model.data import CF_ZONE, R53_ZONE, problem_lines, tenant, way1, way2, way3

WHERE = "tenants/acme.yaml"


class _Delete:
    """Sentinel: remove the key. Its repr is stable, so test ids match across xdist workers."""

    def __repr__(self) -> str:
        return "DELETE"


DELETE = _Delete()


def mutate(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``base`` with ``a.b.c`` set to ``value`` (or removed with DELETE)."""
    data = copy.deepcopy(base)
    *parents, last = path.split(".")
    node = data
    for key in parents:
        node = node.setdefault(key, {})
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return data


def test_defaults_of_a_minimal_tenant() -> None:
    t = tenant(way1())
    assert t.sender_domain is None
    # No policy written: an adopted DMARC record's, else quarantine (desired.build applies it).
    assert t.dmarc.policy is None
    assert t.dmarc.rua == [] and t.dmarc.ruf == []
    assert t.dkim.selector == "mailfleet"
    assert t.dkim.bits == 2048
    assert t.tracking is False
    assert (t.outbound.service, t.outbound.marketing, t.outbound.smtp) == ("mailgun", "mailgun", None)
    assert t.migration is None
    assert t.uses_smtp is False


def test_sender_domain_defaults() -> None:
    t = tenant(mutate(way1(), "sender_domain", {"name": "acme.no"}))
    assert t.sender_domain is not None
    assert t.sender_domain.dns == "manual"
    assert t.sender_domain.provider == "manual"
    assert t.sender_domain.zone_id is None
    assert t.sender_domain.spf_includes == []
    assert t.sender_domain.spf_all == "~all"


@pytest.mark.parametrize(
    ("dns", "provider", "zone"),
    [
        ("manual", "manual", None),
        (f"cloudflare:{CF_ZONE}", "cloudflare", CF_ZONE),
        (f"route53:{R53_ZONE}", "route53", R53_ZONE),
    ],
)
def test_dns_host_forms(dns: str, provider: str, zone: str | None) -> None:
    t = tenant(way2(dns=dns))
    assert t.sender_domain is not None
    assert (t.sender_domain.provider, t.sender_domain.zone_id) == (provider, zone)
    assert parse_dns_host(dns) == (provider, zone)


def test_smtp_ways() -> None:
    both = tenant(way3())
    assert both.uses_smtp
    assert both.outbound.smtp is not None and both.outbound.smtp.port == 465
    service_only = tenant(way3(marketing="mailgun"))
    assert service_only.uses_smtp
    assert (service_only.outbound.service, service_only.outbound.marketing) == ("smtp", "mailgun")
    default_port = mutate(way3(), "outbound.smtp.port", DELETE)
    assert tenant(default_port).outbound.smtp.port == 587  # type: ignore[union-attr]


def test_models_are_frozen() -> None:
    t = tenant(way1())
    with pytest.raises(ValueError):
        t.slug = "other"  # type: ignore[misc]


def test_every_example_tenant_is_valid_and_all_three_ways_are_covered(repo_root: Any) -> None:
    from mailfleet.model.load import load_tenants

    loaded = load_tenants(repo_root / "tenants")
    assert loaded.problems == []
    tenants = list(loaded.tenants.values())
    assert len(tenants) >= 8
    assert {t.region for t in tenants} == {"eu", "us"}
    assert any(t.sender_domain is None and not t.uses_smtp for t in tenants)  # way 1
    assert any(t.sender_domain is not None for t in tenants)  # way 2
    assert any(t.uses_smtp for t in tenants)  # way 3
    assert any(t.sender_domain and len(t.sender_domain.spf_includes) >= 2 for t in tenants)
    assert any(t.sender_domain and t.sender_domain.provider == "manual" for t in tenants)
    for provider in ("cloudflare", "route53", "manual"):
        assert any(t.sender_domain and t.sender_domain.provider == provider for t in tenants), provider


BASE = way2(dns=f"cloudflare:{CF_ZONE}", includes=["sendgrid.net"])
SMTP = way3()

# (base, path, value, field in the problem line, message fragment)
CASES: list[tuple[dict[str, Any], str, Any, str, str]] = [
    # top level
    (BASE, "colour", "blue", "colour", "unknown field"),
    (BASE, "adopted", "yes", "adopted", "valid dictionary"),  # the block: tests/model/test_adoption.py
    (BASE, "slug", DELETE, "slug", "required field is missing"),
    (BASE, "slug", "Acme", "slug", "must be lowercase"),
    (BASE, "slug", "ac me", "slug", "1-40 characters"),
    (BASE, "slug", 7, "slug", "valid string"),
    (BASE, "name", DELETE, "name", "required field is missing"),
    (BASE, "name", "", "name", "at least 1 character"),
    (BASE, "name", "x" * 201, "name", "at most 200 characters"),
    (BASE, "name", ["Acme"], "name", "valid string"),
    (BASE, "name", "Acme\x1b[2J", "name", "without control characters"),
    (BASE, "name", "Acme\nInc", "name", "without control characters"),
    (BASE, "name", "   ", "name", "must not be blank"),
    (BASE, "region", DELETE, "region", "required field is missing"),
    (BASE, "region", "ap", "region", "'eu' or 'us'"),
    (BASE, "region", "EU", "region", "'eu' or 'us'"),
    (BASE, "stack", "-eu", "stack", "starting with a letter or digit"),
    (BASE, "stack", "eu/1", "stack", "A-Z, a-z, 0-9"),
    (BASE, "stack", 1, "stack", "valid string"),
    (
        BASE,
        "shard_move",
        "yes",
        "shard_move",
        "valid dictionary",
    ),  # the block: tests/model/test_shard_move.py
    (BASE, "mailboxes", DELETE, "mailboxes", "required field is missing"),
    (BASE, "mailboxes", [], "mailboxes", "at least 1 item"),
    (BASE, "mailboxes", "support", "mailboxes", "valid list"),
    (BASE, "mailboxes", ["support", "support"], "mailboxes", "'support' is listed twice"),
    (BASE, "mailboxes", ["support", "Sales"], "mailboxes.1", "must be lowercase"),
    (BASE, "mailboxes", ["support", 'a"b'], "mailboxes.1", "may only contain"),
    (BASE, "mailboxes", [False], "mailboxes.0", "valid string"),
    (BASE, "tracking", "yes", "tracking", "valid boolean"),
    (BASE, "tracking", 1, "tracking", "valid boolean"),
    # sender_domain
    (BASE, "sender_domain", "acme.no", "sender_domain", "valid dictionary"),
    (BASE, "sender_domain.name", DELETE, "sender_domain.name", "required field is missing"),
    (BASE, "sender_domain.name", "Acme.no", "sender_domain.name", "must be lowercase"),
    (BASE, "sender_domain.name", "acme", "sender_domain.name", "at least two labels"),
    (BASE, "sender_domain.name", "acme.no.", "sender_domain.name", "must not end with a dot"),
    (BASE, "sender_domain.name", "bücher.de", "sender_domain.name", "xn--"),
    (BASE, "sender_domain.name", "xn--zz.no", "sender_domain.name", "not a valid IDNA A-label"),
    (BASE, "sender_domain.name", "mail.xn--a-ecp.ru", "sender_domain.name", "not a valid IDNA A-label"),
    (BASE, "sender_domain.colour", "x", "sender_domain.colour", "unknown field"),
    (
        BASE,
        "sender_domain.dns",
        "godaddy",
        "sender_domain.dns",
        "'cloudflare:ZONE_ID', 'route53:HOSTED_ZONE_ID' or 'manual'",
    ),
    (BASE, "sender_domain.dns", "cloudflare", "sender_domain.dns", "'cloudflare:ZONE_ID'"),
    (BASE, "sender_domain.dns", "cloudflare:XYZ", "sender_domain.dns", "32 lowercase hex"),
    (BASE, "sender_domain.dns", "route53:abc", "sender_domain.dns", "Route53 hosted zone id"),
    (BASE, "sender_domain.dns", "Manual", "sender_domain.dns", "or 'manual'"),
    (BASE, "sender_domain.spf_includes", "sendgrid.net", "sender_domain.spf_includes", "valid list"),
    (
        BASE,
        "sender_domain.spf_includes",
        ["sendgrid.net", "sendgrid.net"],
        "sender_domain.spf_includes",
        "'sendgrid.net' is listed twice",
    ),
    (
        BASE,
        "sender_domain.spf_includes",
        ["sendgrid.net", "bad..name"],
        "sender_domain.spf_includes.1",
        "invalid label",
    ),
    (BASE, "sender_domain.spf_includes", ["ip4:192.0.2.1"], "sender_domain.spf_includes.0", "invalid label"),
    (
        BASE,
        "sender_domain.spf_includes",
        ["sendgrid.net", "_spf.xn--a-ecp.ru"],
        "sender_domain.spf_includes.1",
        "not a valid IDNA A-label",
    ),
    (
        BASE,
        "sender_domain.spf_includes",
        ["_spf.google.com", "spf.protection.outlook.com"],
        "sender_domain.spf_includes",
        "SPF needs 11 DNS lookups, over the limit of 10",
    ),
    (
        BASE,
        "sender_domain.spf_includes",
        ["a" * 60 + f".s{i}.example.com" for i in range(5)],
        "sender_domain.spf_includes",
        "octets, over 450 (RFC 7208 §3.4)",
    ),
    (
        BASE,
        "sender_domain.spf_includes",
        ["a" * 60 + f".s{i}.example.com" for i in range(4)] + ["b" * 40 + ".example.com"],
        "sender_domain",
        "the DNS answer for acme.no's SPF record is",
    ),
    (BASE, "sender_domain.spf_all", "?all", "sender_domain.spf_all", "'~all' or '-all'"),
    (BASE, "sender_domain.spf_all", "+all", "sender_domain.spf_all", "'~all' or '-all'"),
    # dmarc
    (BASE, "dmarc", "reject", "dmarc", "valid dictionary"),
    (BASE, "dmarc.policy", "block", "dmarc.policy", "'none', 'quarantine' or 'reject'"),
    (BASE, "dmarc.pct", 50, "dmarc.pct", "unknown field"),
    (BASE, "dmarc.rua", "mailto:d@acme.no", "dmarc.rua", "valid list"),
    (BASE, "dmarc.rua", ["d@acme.no"], "dmarc.rua.0", "must be a mailto: URI"),
    (BASE, "dmarc.rua", ["mailto:d@acme.no", "mailto:x"], "dmarc.rua.1", "not a valid mailto: URI"),
    (BASE, "dmarc.rua", ["mailto:d@acme.no!1x"], "dmarc.rua.0", "invalid size limit"),
    (BASE, "dmarc.rua", ["mailto:d@acme.no", "mailto:d@acme.no"], "dmarc.rua", "listed twice"),
    (BASE, "dmarc.ruf", ["https://acme.no"], "dmarc.ruf.0", "must be a mailto: URI"),
    (BASE, "dmarc.rua", ["mailto:d@xn--zz.no"], "dmarc.rua.0", "not a valid IDNA A-label"),
    (
        BASE,
        "dmarc.ruf",
        ["mailto:d@acme.no", "mailto:f@r.xn--zz.no"],
        "dmarc.ruf.1",
        "not a valid IDNA A-label",
    ),
    (BASE, "dmarc.ruf", ["mailto:f@acme.no", "mailto:f@acme.no"], "dmarc.ruf", "listed twice"),
    # dedicated Mailgun IPs
    (BASE, "mailgun_ips", {"ips": []}, "mailgun_ips.ips", "at least 1 item"),
    (BASE, "mailgun_ips", {"ips": ["203.0.113.256"]}, "mailgun_ips.ips.0", "is not an IP address"),
    (BASE, "mailgun_ips", {"ips": ["203.0.113.7", "203.0.113.7"]}, "mailgun_ips.ips", "listed twice"),
    (
        BASE,
        "mailgun_ips",
        {"ips": ["203.0.113.7"], "pool": "a b"},
        "mailgun_ips.pool",
        "not a Mailgun IP pool id",
    ),
    (BASE, "mailgun_ips", {"ips": ["203.0.113.7"], "ip": "x"}, "mailgun_ips.ip", "unknown field"),
    # dkim
    (BASE, "dkim", 2048, "dkim", "valid dictionary"),
    (BASE, "dkim.selector", "a.b", "dkim.selector", "single label"),
    (BASE, "dkim.selector", "Sel", "dkim.selector", "lowercase"),
    (BASE, "dkim.bits", 4096, "dkim.bits", "1024 or 2048"),
    (BASE, "dkim.bits", 512, "dkim.bits", "1024 or 2048"),
    (BASE, "dkim.bits", "2048", "dkim.bits", "1024 or 2048"),
    # Strict typing: a float equal to an allowed integer is still not an integer.
    (BASE, "dkim.bits", 2048.0, "dkim.bits", "1024 or 2048, written as an integer (not a float)"),
    (BASE, "dkim.bits", 1024.0, "dkim.bits", "written as an integer (not a float)"),
    (BASE, "dkim.bits", True, "dkim.bits", "1024 or 2048"),
    (BASE, "dkim.algorithm", "ed25519", "dkim.algorithm", "unknown field"),
    # outbound
    (BASE, "outbound", "smtp", "outbound", "valid dictionary"),
    (BASE, "outbound.service", "sendgrid", "outbound.service", "'mailgun' or 'smtp'"),
    (BASE, "outbound.marketing", "ses", "outbound.marketing", "'mailgun' or 'smtp'"),
    (BASE, "outbound.service", "smtp", "outbound", "outbound via smtp needs smtp.host"),
    (
        BASE,
        "outbound.smtp",
        {"host": "smtp.acme.no"},
        "outbound",
        "smtp is set but neither service nor marketing goes via smtp",
    ),
    (SMTP, "outbound.smtp.host", DELETE, "outbound.smtp.host", "required field is missing"),
    (SMTP, "outbound.smtp.host", "smtp", "outbound.smtp.host", "at least two labels"),
    (SMTP, "outbound.smtp.host", "192.0.2.1", "outbound.smtp.host", "all-numeric"),
    (SMTP, "outbound.smtp.port", 0, "outbound.smtp.port", "greater than or equal to 1"),
    (SMTP, "outbound.smtp.port", 65536, "outbound.smtp.port", "less than or equal to 65535"),
    (
        SMTP,
        "outbound.smtp.egress_ips",
        ["198.51.100.300"],
        "outbound.smtp.egress_ips.0",
        "is not an IP address",
    ),
    (
        SMTP,
        "outbound.smtp.egress_ips",
        ["2001:DB8::1"],
        "outbound.smtp.egress_ips.0",
        "must be written as '2001:db8::1'",
    ),
    (
        SMTP,
        "outbound.smtp.egress_ips",
        ["192.0.2.1", "192.0.2.1"],
        "outbound.smtp.egress_ips",
        "listed twice",
    ),
    (SMTP, "outbound.smtp.port", "587", "outbound.smtp.port", "valid integer"),
    (
        SMTP,
        "outbound.smtp.port",
        587.0,
        "outbound.smtp.port",
        "valid integer, written without a decimal point",
    ),
    (SMTP, "outbound.smtp.port", True, "outbound.smtp.port", "valid integer"),
    (SMTP, "outbound.smtp.host", "smtp.xn--zz.no", "outbound.smtp.host", "not a valid IDNA A-label"),
    (SMTP, "outbound.smtp.password", "hunter2", "outbound.smtp.password", "unknown field"),
    # migration is written by `mailfleet migrate` only; a hand-written scalar is refused.
    (BASE, "migration", "eu", "migration", "valid dictionary"),
]


@pytest.mark.parametrize(
    ("base", "path", "value", "field", "message"),
    CASES,
    ids=[f"{c[1]}={c[2]!r}"[:60] for c in CASES],
)
def test_schema_error_names_file_and_field(
    base: dict[str, Any], path: str, value: Any, field: str, message: str
) -> None:
    # The base document is valid: the error comes from this one change.
    assert problem_lines(base) == []
    lines = problem_lines(mutate(base, path, value), WHERE)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{WHERE}: {field}: "), lines[0]
    assert message in lines[0], lines[0]


def test_every_field_of_the_schema_has_an_error_case() -> None:
    """Guard: a field added to the schema without a case here fails this test."""

    def fields(model: Any, prefix: str = "") -> set[str]:
        out = set()
        for name, info in model.model_fields.items():
            out.add(prefix + name)
            ann = info.annotation
            for candidate in (ann, *getattr(ann, "__args__", ())):
                # The ``migration``, ``adopted`` and ``shard_move`` blocks have their own tests.
                nested = isinstance(candidate, type) and hasattr(candidate, "model_fields")
                if nested and candidate.__name__ not in ("Migration", "Adoption", "ShardMove"):
                    out |= fields(candidate, prefix + name + ".")
        return out

    covered = {c[1] for c in CASES} | {c[3] for c in CASES}
    missing = sorted(f for f in fields(Tenant) if f not in covered)
    assert missing == []


def test_all_problems_of_one_file_are_reported_together() -> None:
    data = mutate(mutate(mutate(BASE, "region", "ap"), "dkim.bits", 1), "mailboxes", ["OK"])
    lines = problem_lines(data, WHERE)
    assert sorted(line.split(": ")[1] for line in lines) == ["dkim.bits", "mailboxes.0", "region"]


def test_slug_must_match_file_name() -> None:
    lines = problem_lines(way1(slug="acme"), "tenants/acme2.yaml", "acme2")
    assert lines == ["tenants/acme2.yaml: slug: slug 'acme' does not match the file name 'acme2.yaml'"]


def test_validation_messages_do_not_echo_the_whole_input() -> None:
    # include_input=False: a long value is not dumped into the message.
    secretish = "s3cr3t-" + "x" * 50
    lines = problem_lines(mutate(BASE, "tracking", secretish), WHERE)
    assert lines and all(secretish not in line for line in lines)


MIGRATION = {
    "from": "us",
    "to": "eu",
    "started_at": "2026-11-24T01:00:00+00:00",
    "platform_domain": "acme.mail.example.com",
    "platform_zone_id": "Z04EXAMPLEUS0001",
    "original_ttl": 3600,
    "owner": {"host": "ops-1", "pid": 4242, "since": "2026-11-24T01:00:00+00:00"},
    "export": {
        "path": "exports/acme.json",
        "sha256": "0" * 64,
        "routes": 1,
        "webhooks": 5,
        "suppressions": 0,
    },
}


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("original_ttl", "migration.original_ttl"),
        ("lowered_ttl", "migration.lowered_ttl"),
        ("owner.pid", "migration.owner.pid"),
        ("export.routes", "migration.export.routes"),
        ("export.webhooks", "migration.export.webhooks"),
        ("export.suppressions", "migration.export.suppressions"),
    ],
)
def test_every_integer_of_the_migration_block_refuses_a_float(path: str, field: str) -> None:
    base = way1(region="us", migration=copy.deepcopy(MIGRATION))
    assert problem_lines(base) == []
    lines = problem_lines(mutate(base, f"migration.{path}", 60.0))
    assert lines == [
        f"{WHERE}: {field}: Input should be a valid integer, written without a decimal point (not a float)"
    ]


def test_the_migration_platform_domain_must_be_a_valid_a_label() -> None:
    base = way1(region="us", migration=copy.deepcopy(MIGRATION))
    lines = problem_lines(mutate(base, "migration.platform_domain", "acme.xn--zz.com"))
    assert len(lines) == 1
    assert lines[0].startswith(
        f"{WHERE}: migration.platform_domain: domain 'acme.xn--zz.com' has a label 'xn--zz'"
    )
