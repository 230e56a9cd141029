"""The bad-input catalogue: every case exits 1 (data) or 2 (usage) with one line naming the file
and field or the flag, never a traceback, and leaves tenants/ byte-identical.

Cases come two ways: as `tenant add` flags, and as hand-written tenant or stack files checked
by `mailfleet validate`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cli.conftest import assert_clean_failure
from tests.conftest import REPO

BASE = ("--region", "eu", "--mailbox", "support")
LONG_LABEL = "a" * 64
LONG_DOMAIN = ".".join(["b" * 63] * 4) + ".com"  # 256 octets


def domain_of(octets: int, tld: str = "org") -> str:
    """A valid domain of exactly ``octets`` octets: labels of at most 63, then ``tld``."""
    labels, left = [], octets - len(tld)
    while left > 0:
        size = min(63, left - 1)
        size -= left - 1 - size == 1  # never leave room for just a dot
        labels.append("d" * size)
        left -= size + 1
    return ".".join([*labels, tld])


assert len(domain_of(230)) == 230 and len(domain_of(245)) == 245
DEEP = 10_000
SECRET_CANARY = "canary-clear-secret-5d1e0b"
STACK_EU = (REPO / "Pulumi.eu.yaml").read_text(encoding="utf-8")

# (id, args after `tenant add`, exit code, where (flag or file), needles in the same line)
FLAG_CASES: list[tuple[str, tuple[str, ...], int, str, tuple[str, ...]]] = [
    ("slug-uppercase", ("Acme2", *BASE), 2, "SLUG", ("lowercase",)),
    ("slug-trailing-dash", ("acme2-", *BASE), 2, "SLUG", ("a-z",)),
    ("slug-underscore", ("acme_2", *BASE), 2, "SLUG", ("a-z",)),
    ("slug-dot", ("acme.2", *BASE), 2, "SLUG", ("a-z",)),
    ("slug-path-traversal", ("../evil", *BASE), 2, "SLUG", ("a-z",)),
    ("slug-too-long", ("a" * 41, *BASE), 2, "SLUG", ("1-40",)),
    (
        "domain-uppercase",
        ("x1", *BASE, "--sender-domain", "Example.com"),
        2,
        "--sender-domain",
        ("lowercase",),
    ),
    ("domain-trailing-dot", ("x1", *BASE, "--sender-domain", "example.com."), 2, "--sender-domain", ("dot",)),
    ("domain-idn", ("x1", *BASE, "--sender-domain", "bücher.de"), 2, "--sender-domain", ("IDN",)),
    (
        "domain-label-over-63",
        ("x1", *BASE, "--sender-domain", f"{LONG_LABEL}.com"),
        2,
        "--sender-domain",
        ("63",),
    ),
    ("domain-over-253", ("x1", *BASE, "--sender-domain", LONG_DOMAIN), 2, "--sender-domain", ("253",)),
    (
        "domain-single-label",
        ("x1", *BASE, "--sender-domain", "localhost"),
        2,
        "--sender-domain",
        ("two labels",),
    ),
    ("mailbox-quote", ("x1", "--region", "eu", "--mailbox", 'a"b'), 2, "--mailbox", ("quotes",)),
    (
        "mailbox-parentheses",
        ("x1", "--region", "eu", "--mailbox", "info(x)"),
        2,
        "--mailbox",
        ("parentheses",),
    ),
    ("mailbox-comma", ("x1", "--region", "eu", "--mailbox", "a,b"), 2, "--mailbox", ("commas",)),
    ("mailbox-space", ("x1", "--region", "eu", "--mailbox", "a b"), 2, "--mailbox", ("spaces",)),
    ("mailbox-regex-star", ("x1", "--region", "eu", "--mailbox", "a.*"), 2, "--mailbox", ("regex",)),
    ("mailbox-regex-plus", ("x1", "--region", "eu", "--mailbox", "a+b"), 2, "--mailbox", ("regex",)),
    ("mailbox-regex-anchor", ("x1", "--region", "eu", "--mailbox", "^a$"), 2, "--mailbox", ("regex",)),
    ("mailbox-uppercase", ("x1", "--region", "eu", "--mailbox", "Support"), 2, "--mailbox", ("lowercase",)),
    ("mailbox-twice", ("x1", *BASE, "--mailbox", "support"), 2, "--mailbox", ("twice",)),
    ("mailbox-missing", ("x1", "--region", "eu"), 2, "--mailbox", ("required",)),
    (
        "spf-over-10-lookups",
        (
            "x1",
            *BASE,
            "--sender-domain",
            "x1.example.org",
            "--spf-include",
            "_spf.google.com",
            "--spf-include",
            "spf.protection.outlook.com",
        ),
        2,
        "--spf-include",
        ("11 DNS lookups", "10"),
    ),
    (
        "spf-include-without-domain",
        ("x1", *BASE, "--spf-include", "sendgrid.net"),
        2,
        "--spf-include",
        ("--sender-domain",),
    ),
    ("dmarc-policy-typo", ("x1", *BASE, "--dmarc-policy", "rejct"), 2, "--dmarc-policy", ("rejct",)),
    (
        "dmarc-rua-not-mailto",
        ("x1", *BASE, "--dmarc-rua", "https://r.example.com/dmarc"),
        2,
        "--dmarc-rua",
        ("mailto",),
    ),
    (
        "dmarc-rua-bad-size",
        ("x1", *BASE, "--dmarc-rua", "mailto:d@example.com!x;p=none"),
        2,
        "--dmarc-rua",
        ("mailto",),
    ),
    ("dkim-selector-dot", ("x1", *BASE, "--dkim-selector", "s1.mail"), 2, "--dkim-selector", ("dots",)),
    ("dkim-512-bits", ("x1", *BASE, "--dkim-bits", "512"), 2, "--dkim-bits", ("1024", "2048")),
    ("dkim-bits-not-int", ("x1", *BASE, "--dkim-bits", "big"), 2, "--dkim-bits", ("integer",)),
    ("unknown-region", ("x1", "--region", "ap", "--mailbox", "support"), 2, "--region", ("ap",)),
    ("region-missing", ("x1", "--mailbox", "support"), 2, "--region", ("missing",)),
    ("duplicate-slug", ("acme", *BASE), 1, "tenants/acme.yaml", ("already exists",)),
    (
        "domain-of-tenant-in-other-region",
        ("x1", "--region", "us", "--mailbox", "support", "--sender-domain", "nordlys-reiser.no"),
        1,
        "--sender-domain",
        ("nordlys-reiser.no", "nordlys", "tenants/nordlys.yaml"),
    ),
    (
        "domain-is-another-platform-domain",
        ("x1", *BASE, "--sender-domain", "acme.mail.example.eu"),
        1,
        "--sender-domain",
        ("acme",),
    ),
    ("smtp-without-host", ("x1", *BASE, "--outbound-service", "smtp"), 2, "--smtp-host", ("smtp.host",)),
    (
        "smtp-port-over-65535",
        (
            "x1",
            *BASE,
            "--outbound-marketing",
            "smtp",
            "--smtp-host",
            "smtp.x1.example.org",
            "--smtp-port",
            "70000",
        ),
        2,
        "--smtp-port",
        ("65535",),
    ),
    (
        "smtp-port-zero",
        (
            "x1",
            *BASE,
            "--outbound-marketing",
            "smtp",
            "--smtp-host",
            "smtp.x1.example.org",
            "--smtp-port",
            "0",
        ),
        2,
        "--smtp-port",
        ("1",),
    ),
    (
        "smtp-port-not-int",
        ("x1", *BASE, "--smtp-host", "smtp.x1.example.org", "--smtp-port", "smtp"),
        2,
        "--smtp-port",
        ("integer",),
    ),
    (
        "smtp-host-without-smtp",
        ("x1", *BASE, "--smtp-host", "smtp.x1.example.org"),
        2,
        "--smtp-host",
        ("neither",),
    ),
    (
        "dns-host-unknown",
        ("x1", *BASE, "--sender-domain", "x1.example.org", "--dns", "godaddy:1"),
        2,
        "--dns",
        ("godaddy",),
    ),
    (
        "dns-cloudflare-bad-zone",
        ("x1", *BASE, "--sender-domain", "x1.example.org", "--dns", "cloudflare:XYZ"),
        2,
        "--dns",
        ("32",),
    ),
    ("name-empty", ("x1", *BASE, "--name", ""), 2, "--name", ("at least 1",)),
    (
        "domain-invalid-punycode",
        ("x1", *BASE, "--sender-domain", "xn--zz.example.org"),
        2,
        "--sender-domain",
        ("'xn--zz'", "not a valid IDNA A-label"),
    ),
    (
        "spf-include-invalid-punycode",
        ("x1", *BASE, "--sender-domain", "x1.example.org", "--spf-include", "_spf.xn--a-ecp.ru"),
        2,
        "--spf-include",
        ("'xn--a-ecp'", "not a valid IDNA A-label"),
    ),
    (
        "smtp-host-invalid-punycode",
        ("x1", *BASE, "--outbound-service", "smtp", "--smtp-host", "smtp.xn--zz.org"),
        2,
        "--smtp-host",
        ("not a valid IDNA A-label",),
    ),
    (
        "dmarc-rua-invalid-punycode",
        ("x1", *BASE, "--dmarc-rua", "mailto:d@xn--ls8h.la"),
        2,
        "--dmarc-rua",
        ("not a valid IDNA A-label",),
    ),
    (
        "dkim-name-over-253",
        ("x1", *BASE, "--sender-domain", domain_of(230), "--dkim-selector", "s" * 30),
        2,
        "--dkim-selector",
        ("272 octets", "253", "at most 11 octets"),
    ),
    (
        "sender-domain-dkim-name-over-253",
        ("x1", *BASE, "--sender-domain", domain_of(245)),
        2,
        "--sender-domain",
        ("266 octets", "253", "RFC 1035"),
    ),
    (
        "dmarc-authorisation-name-over-253",
        ("x1", *BASE, "--sender-domain", domain_of(200), "--dmarc-rua", f"mailto:d@{domain_of(60, 'net')}"),
        2,
        "--dmarc-rua",
        ("276 octets", "RFC 7489 §7.1"),
    ),
    ("unknown-flag", ("x1", *BASE, "--colour", "red"), 2, "--colour", ("no such option",)),
    (
        "outbound-bad-value",
        ("x1", *BASE, "--outbound-service", "sendgrid"),
        2,
        "--outbound-service",
        ("sendgrid",),
    ),
]


@pytest.mark.parametrize(
    ("args", "code", "where", "needles"),
    [pytest.param(a, c, w, n, id=i) for i, a, c, w, n in FLAG_CASES],
)
def test_tenant_add_rejects(proj, args, code, where, needles) -> None:
    before = proj.snapshot()
    result = proj.run("tenant", "add", *args)
    assert_clean_failure(result, code, where, *needles)
    assert proj.snapshot() == before
    assert result.stdout == ""


def _tenant(slug: str, extra: str = "", region: str = "eu", mailboxes: str = "[support]") -> str:
    return f"slug: {slug}\nname: Test {slug}\nregion: {region}\nmailboxes: {mailboxes}\n{extra}"


# (id, file name under the project, content (str or bytes), where, needles)
FILE_CASES: list[tuple[str, str, str | bytes, str, tuple[str, ...]]] = [
    (
        "yaml-syntax-error",
        "tenants/bad.yaml",
        "slug: bad\nmailboxes: [a, b\nname: x\n",
        "tenants/bad.yaml",
        ("YAML syntax error",),
    ),
    (
        "yaml-tab-indent",
        "tenants/bad.yaml",
        "slug: bad\ndmarc:\n\tpolicy: none\n",
        "tenants/bad.yaml",
        ("YAML syntax error",),
    ),
    (
        "yaml-duplicate-key",
        "tenants/bad.yaml",
        _tenant("bad") + "region: us\n",
        "tenants/bad.yaml",
        ("duplicate key", "region"),
    ),
    ("yaml-unhashable-key", "tenants/bad.yaml", "? [a, b]\n: 1\n", "tenants/bad.yaml", ("line",)),
    ("not-utf8", "tenants/bad.yaml", b"slug: bad\nname: \xff\xfe\n", "tenants/bad.yaml", ("YAML",)),
    ("empty-file", "tenants/bad.yaml", "", "tenants/bad.yaml", ("empty",)),
    ("only-comments", "tenants/bad.yaml", "# nothing here\n", "tenants/bad.yaml", ("empty",)),
    ("top-level-list", "tenants/bad.yaml", "- slug: bad\n", "tenants/bad.yaml", ("mapping",)),
    (
        "wrong-type-mailboxes",
        "tenants/bad.yaml",
        _tenant("bad", mailboxes="support"),
        "tenants/bad.yaml: mailboxes",
        ("list",),
    ),
    (
        "wrong-type-tracking",
        "tenants/bad.yaml",
        _tenant("bad", "tracking: 'yes'\n"),
        "tenants/bad.yaml: tracking",
        ("bool",),
    ),
    (
        "wrong-type-bits",
        "tenants/bad.yaml",
        _tenant("bad", "dkim:\n  bits: '2048'\n"),
        "tenants/bad.yaml: dkim.bits",
        ("2048",),
    ),
    (
        "unknown-field",
        "tenants/bad.yaml",
        _tenant("bad", "colour: red\n"),
        "tenants/bad.yaml: colour",
        ("unknown field",),
    ),
    (
        "unknown-nested-field",
        "tenants/bad.yaml",
        _tenant("bad", "dmarc:\n  policy: reject\n  pct: 50\n"),
        "tenants/bad.yaml: dmarc.pct",
        ("unknown field",),
    ),
    (
        "missing-name",
        "tenants/bad.yaml",
        "slug: bad\nregion: eu\nmailboxes: [a]\n",
        "tenants/bad.yaml: name",
        ("missing",),
    ),
    ("name-slug-mismatch", "tenants/other.yaml", _tenant("bad"), "tenants/other.yaml: slug", ("other.yaml",)),
    ("slug-uppercase", "tenants/Bad.yaml", _tenant("Bad"), "tenants/Bad.yaml: slug", ("lowercase",)),
    ("unknown-region", "tenants/bad.yaml", _tenant("bad", region="ap"), "tenants/bad.yaml: region", ("eu",)),
    (
        "domain-trailing-dot",
        "tenants/bad.yaml",
        _tenant("bad", "sender_domain:\n  name: bad.example.org.\n"),
        "tenants/bad.yaml: sender_domain.name",
        ("dot",),
    ),
    (
        "domain-idn",
        "tenants/bad.yaml",
        _tenant("bad", "sender_domain:\n  name: bücher.example\n"),
        "tenants/bad.yaml: sender_domain.name",
        ("IDN",),
    ),
    (
        "domain-label-over-63",
        "tenants/bad.yaml",
        _tenant("bad", f"sender_domain:\n  name: {LONG_LABEL}.org\n"),
        "tenants/bad.yaml: sender_domain.name",
        ("63",),
    ),
    (
        "domain-over-253",
        "tenants/bad.yaml",
        _tenant("bad", f"sender_domain:\n  name: {LONG_DOMAIN}\n"),
        "tenants/bad.yaml: sender_domain.name",
        ("253",),
    ),
    (
        "mailbox-quote",
        "tenants/bad.yaml",
        _tenant("bad", mailboxes="['a\"b']"),
        "tenants/bad.yaml: mailboxes.0",
        ("quotes",),
    ),
    (
        "mailbox-comma",
        "tenants/bad.yaml",
        _tenant("bad", mailboxes="['a,b']"),
        "tenants/bad.yaml: mailboxes.0",
        ("commas",),
    ),
    (
        "mailbox-parens",
        "tenants/bad.yaml",
        _tenant("bad", mailboxes="['a(b)']"),
        "tenants/bad.yaml: mailboxes.0",
        ("parentheses",),
    ),
    (
        "mailbox-space",
        "tenants/bad.yaml",
        _tenant("bad", mailboxes="[ok, 'a b']"),
        "tenants/bad.yaml: mailboxes.1",
        ("spaces",),
    ),
    (
        "domain-uppercase",
        "tenants/bad.yaml",
        _tenant("bad", "sender_domain:\n  name: Bad.Example.org\n"),
        "tenants/bad.yaml: sender_domain.name",
        ("lowercase",),
    ),
    (
        "wrong-type-sender-domain",
        "tenants/bad.yaml",
        _tenant("bad", "sender_domain: bad.example.org\n"),
        "tenants/bad.yaml: sender_domain",
        ("dictionary",),
    ),
    (
        "mailbox-regex",
        "tenants/bad.yaml",
        _tenant("bad", mailboxes="['sales|info']"),
        "tenants/bad.yaml: mailboxes.0",
        ("regex",),
    ),
    (
        "spf-over-10-lookups",
        "tenants/bad.yaml",
        _tenant(
            "bad",
            "sender_domain:\n  name: bad.example.org\n  spf_includes: [_spf.google.com, spf.protection.outlook.com]\n",
        ),
        "tenants/bad.yaml: sender_domain.spf_includes",
        ("10",),
    ),
    (
        "dmarc-policy-typo",
        "tenants/bad.yaml",
        _tenant("bad", "dmarc:\n  policy: quarantaine\n"),
        "tenants/bad.yaml: dmarc.policy",
        ("quarantine",),
    ),
    (
        "dmarc-rua-not-mailto",
        "tenants/bad.yaml",
        _tenant("bad", "dmarc:\n  rua: ['dmarc@bad.example.org']\n"),
        "tenants/bad.yaml: dmarc.rua.0",
        ("mailto",),
    ),
    (
        "dkim-selector-dot",
        "tenants/bad.yaml",
        _tenant("bad", "dkim:\n  selector: a.b\n"),
        "tenants/bad.yaml: dkim.selector",
        ("dots",),
    ),
    (
        "dkim-512-bits",
        "tenants/bad.yaml",
        _tenant("bad", "dkim:\n  bits: 512\n"),
        "tenants/bad.yaml: dkim.bits",
        ("1024",),
    ),
    (
        "smtp-without-host",
        "tenants/bad.yaml",
        _tenant("bad", "outbound:\n  service: smtp\n"),
        "tenants/bad.yaml: outbound",
        ("smtp.host",),
    ),
    (
        "smtp-port-out-of-range",
        "tenants/bad.yaml",
        _tenant(
            "bad", "outbound:\n  service: smtp\n  smtp:\n    host: smtp.bad.example.org\n    port: 65536\n"
        ),
        "tenants/bad.yaml: outbound.smtp.port",
        ("65535",),
    ),
    (
        "domain-of-tenant-in-other-region",
        "tenants/bad.yaml",
        _tenant("bad", "sender_domain:\n  name: redwood-outdoors.com\n", region="eu"),
        "redwood",
        ("redwood-outdoors.com", "already declared"),
    ),
    (
        "stack-bad-platform-domain",
        "Pulumi.eu.yaml",
        "config:\n  aws:region: eu-central-1\n  mailfleet:region: eu\n  mailfleet:platformDomain: Mail.Example.EU\n"
        "  mailfleet:hostedZoneId: Z04EXAMPLEEU0001\n  mailfleet:inboundUrl: https://crm.example.eu/in\n"
        "  mailfleet:webhookUrl: https://crm.example.eu/ev\n  mailfleet:egressIps: [192.0.2.10]\n"
        "  mailfleet:dmarcRua: mailto:d@mail.example.eu\n",
        "Pulumi.eu.yaml: config.mailfleet:platformDomain",
        ("lowercase",),
    ),
    (
        "yaml-deep-sequence",
        "tenants/bad.yaml",
        _tenant("bad", mailboxes="[" * DEEP + "]" * DEEP),
        "tenants/bad.yaml: line 4",
        ("nesting deeper than 100 levels",),
    ),
    (
        # Without the limit, libyaml's composer overflows the C stack: a segmentation fault.
        "yaml-million-deep-sequence",
        "tenants/bad.yaml",
        _tenant("bad", mailboxes="[" * 1_000_000 + "]" * 1_000_000),
        "tenants/bad.yaml: line 4",
        ("nesting deeper than 100 levels",),
    ),
    (
        "yaml-deep-mapping",
        "tenants/bad.yaml",
        _tenant("bad", "dkim: " + "{a: " * DEEP + "1" + "}" * DEEP + "\n"),
        "tenants/bad.yaml: line 5",
        ("nesting deeper than 100 levels",),
    ),
    (
        "yaml-deep-block-mapping",
        "tenants/bad.yaml",
        _tenant("bad", "dkim:\n" + "".join(" " * (i + 1) + "a:\n" for i in range(3000))),
        "tenants/bad.yaml: line 105",
        ("nesting deeper than 100 levels",),
    ),
    (
        "stack-deep-nesting",
        "Pulumi.eu.yaml",
        STACK_EU + "  vendor:deep: " + "[" * DEEP + "]" * DEEP + "\n",
        f"Pulumi.eu.yaml: line {STACK_EU.count(chr(10)) + 1}",
        ("nesting deeper than 100 levels",),
    ),
    (
        "stack-deep-mapping",
        "Pulumi.eu.yaml",
        STACK_EU + "  vendor:deep: " + "{a: " * DEEP + "1" + "}" * DEEP + "\n",
        "Pulumi.eu.yaml: line",
        ("nesting deeper than 100 levels",),
    ),
    (
        "domain-invalid-punycode",
        "tenants/bad.yaml",
        _tenant("bad", "sender_domain:\n  name: xn--zz.example.org\n"),
        "tenants/bad.yaml: sender_domain.name",
        ("'xn--zz'", "not a valid IDNA A-label"),
    ),
    (
        "domain-invalid-idna-codepoint",
        "tenants/bad.yaml",
        _tenant("bad", "sender_domain:\n  name: mail.xn--a-ecp.ru\n"),
        "tenants/bad.yaml: sender_domain.name",
        ("'xn--a-ecp'", "U+2488"),
    ),
    (
        "spf-include-invalid-punycode",
        "tenants/bad.yaml",
        _tenant(
            "bad", "sender_domain:\n  name: bad.example.org\n  spf_includes: [sendgrid.net, xn--zz.net]\n"
        ),
        "tenants/bad.yaml: sender_domain.spf_includes.1",
        ("not a valid IDNA A-label",),
    ),
    (
        "smtp-host-invalid-punycode",
        "tenants/bad.yaml",
        _tenant("bad", "outbound:\n  service: smtp\n  smtp:\n    host: smtp.xn--zz.org\n"),
        "tenants/bad.yaml: outbound.smtp.host",
        ("not a valid IDNA A-label",),
    ),
    (
        "dmarc-rua-invalid-punycode",
        "tenants/bad.yaml",
        _tenant("bad", "dmarc:\n  rua: ['mailto:d@xn--ls8h.la']\n"),
        "tenants/bad.yaml: dmarc.rua.0",
        ("not a valid IDNA A-label",),
    ),
    (
        "stack-platform-domain-invalid-punycode",
        "Pulumi.eu.yaml",
        STACK_EU.replace(
            "mailfleet:platformDomain: mail.example.eu", "mailfleet:platformDomain: mail.xn--zz.eu"
        ),
        "Pulumi.eu.yaml: config.mailfleet:platformDomain",
        ("not a valid IDNA A-label",),
    ),
    (
        "stack-platform-domain-too-long-for-tenant-names",
        "Pulumi.eu.yaml",
        STACK_EU.replace(
            "mailfleet:platformDomain: mail.example.eu", f"mailfleet:platformDomain: {domain_of(138, 'eu')}"
        ),
        "Pulumi.eu.yaml: config.mailfleet:platformDomain",
        ("138 octets", "at most 137"),
    ),
    (
        "dkim-bits-float",
        "tenants/bad.yaml",
        _tenant("bad", "dkim:\n  bits: 2048.0\n"),
        "tenants/bad.yaml: dkim.bits",
        ("integer", "not a float"),
    ),
    (
        "smtp-port-float",
        "tenants/bad.yaml",
        _tenant(
            "bad", "outbound:\n  service: smtp\n  smtp:\n    host: smtp.bad.example.org\n    port: 587.0\n"
        ),
        "tenants/bad.yaml: outbound.smtp.port",
        ("integer", "not a float"),
    ),
    (
        "stack-record-ttl-float",
        "Pulumi.eu.yaml",
        STACK_EU.replace("mailfleet:recordTtl: 3600", "mailfleet:recordTtl: 3600.0"),
        "Pulumi.eu.yaml: config.mailfleet:recordTtl",
        ("integer", "not a float"),
    ),
    (
        "dkim-name-over-253",
        "tenants/bad.yaml",
        _tenant("bad", f"sender_domain:\n  name: {domain_of(230)}\ndkim:\n  selector: {'s' * 30}\n"),
        "tenants/bad.yaml: dkim.selector",
        ("272 octets", "253", "RFC 1035 §2.3.4"),
    ),
    (
        "sender-domain-dkim-name-over-253",
        "tenants/bad.yaml",
        _tenant("bad", f"sender_domain:\n  name: {domain_of(245)}\n"),
        "tenants/bad.yaml: sender_domain.name",
        # With the stack files, the longest composed name is the report authorisation the stack
        # publishes (<domain>._report._dmarc.<its rua domain>): 31 more octets than the domain.
        ("276 octets", "253", "RFC 7489 §7.1", "RFC 1035 §2.3.4"),
    ),
    (
        "dmarc-authorisation-name-over-253",
        "tenants/bad.yaml",
        _tenant(
            "bad",
            f"sender_domain:\n  name: {domain_of(200)}\ndmarc:\n  ruf: ['mailto:f@{domain_of(60, 'net')}']\n",
        ),
        "tenants/bad.yaml: dmarc.ruf.0",
        ("276 octets", "RFC 7489 §7.1"),
    ),
    (
        "stack-mailgun-api-key-in-clear",
        "Pulumi.eu.yaml",
        STACK_EU + f"  mailgun:apiKey: {SECRET_CANARY}\n",
        "Pulumi.eu.yaml: config.mailgun:apiKey",
        ("must be set with `pulumi config set --secret`",),
    ),
    (
        "stack-cloudflare-token-in-clear",
        "Pulumi.eu.yaml",
        STACK_EU + f"  cloudflare:apiToken: {SECRET_CANARY}\n",
        "Pulumi.eu.yaml: config.cloudflare:apiToken",
        ("--secret",),
    ),
    (
        "stack-aws-secret-key-in-clear",
        "Pulumi.eu.yaml",
        STACK_EU + f"  aws:secretKey: {SECRET_CANARY}\n",
        "Pulumi.eu.yaml: config.aws:secretKey",
        ("--secret",),
    ),
    (
        "stack-nested-password-in-clear",
        "Pulumi.eu.yaml",
        STACK_EU + f"  vendor:smtp:\n    user: crm\n    password: {SECRET_CANARY}\n",
        "Pulumi.eu.yaml: config.vendor:smtp.password",
        ("--secret --path",),
    ),
    (
        "stack-bad-egress-ip",
        "Pulumi.us.yaml",
        "config:\n  aws:region: us-east-1\n  mailfleet:region: us\n  mailfleet:platformDomain: mail.example.com\n"
        "  mailfleet:hostedZoneId: Z04EXAMPLEUS0001\n  mailfleet:inboundUrl: https://crm.example.com/in\n"
        "  mailfleet:webhookUrl: https://crm.example.com/ev\n  mailfleet:egressIps: [300.1.2.3]\n"
        "  mailfleet:dmarcRua: mailto:d@mail.example.com\n",
        "Pulumi.us.yaml: config.mailfleet:egressIps",
        ("300.1.2.3",),
    ),
]


@pytest.mark.parametrize(
    ("name", "content", "where", "needles"),
    [pytest.param(f, c, w, n, id=i) for i, f, c, w, n in FILE_CASES],
)
def test_validate_rejects_file(proj, name, content, where, needles) -> None:
    target = proj.root / name
    if isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content, encoding="utf-8")
    before = proj.snapshot()
    result = proj.run("validate")
    line = assert_clean_failure(result, 1, where, *needles)
    assert line.count(": ") >= 1
    assert SECRET_CANARY not in result.stdout + result.stderr
    # The last stderr line is the one-line summary.
    assert result.stderr.splitlines()[-1].startswith("validate: "), result.stderr
    assert proj.snapshot() == before
    # The same file given as a path reports the same line.
    if name.startswith("tenants/"):
        again = proj.run("validate", name)
        assert_clean_failure(again, 1, where, *needles)
        assert proj.snapshot() == before


def test_catalogue_size() -> None:
    assert len(FLAG_CASES) + len(FILE_CASES) >= 40
    assert len({c[0] for c in FLAG_CASES}) == len(FLAG_CASES)
    assert len({c[0] for c in FILE_CASES}) == len(FILE_CASES)


@pytest.mark.parametrize("command", [("validate",), ("plan",), ("tenant", "list")])
def test_tenants_dir_that_is_a_file(proj, command) -> None:
    not_a_dir = proj.root / "Pulumi.yaml"
    result = proj.run("--tenants-dir", str(not_a_dir), *command)
    assert_clean_failure(result, 1, str(not_a_dir), "not a directory")


@pytest.mark.parametrize(
    ("command", "usage"),
    [
        (("check",), "Usage: mailfleet check [OPTIONS] [SLUG]..."),
        (("migrate", "run"), "Usage: mailfleet migrate run [OPTIONS] [SLUG]..."),
        (("migrate", "resume"), "Usage: mailfleet migrate resume [OPTIONS] {SLUG}..."),
        (("migrate", "abort"), "Usage: mailfleet migrate abort [OPTIONS] {SLUG}"),
        (("migrate", "status"), "Usage: mailfleet migrate status [OPTIONS] [SLUG]"),
    ],
)
def test_slug_arguments_are_named_slug_in_help(proj, command, usage) -> None:
    result = proj.run(*command, "--help")
    assert result.returncode == 0, result.stderr
    # The program name is "python -m mailfleet" under run_cli.
    assert result.stdout.splitlines()[0].endswith(usage.removeprefix("Usage: ")), result.stdout


def _bad_entry(tenants: Path, kind: str) -> tuple[str, str]:
    """Make ``tenants/x.yaml`` of ``kind``; the file and the message its line must carry."""
    path = tenants / "x.yaml"
    if kind == "directory":
        path.mkdir()
        (path / "inner.yaml").write_text("slug: inner\n")
        return "tenants/x.yaml", "is a directory, not a tenant file"
    if kind == "dangling-symlink":
        path.symlink_to("missing.yaml")
        return "tenants/x.yaml", "dangling symlink: its target 'missing.yaml' does not exist"
    assert kind == "symlink-loop"
    path.symlink_to("y.yaml")
    (tenants / "y.yaml").symlink_to("x.yaml")
    return "tenants/x.yaml", "symlink loop"


@pytest.mark.parametrize("command", [("validate",), ("plan",), ("tenant", "list")])
@pytest.mark.parametrize("kind", ["directory", "dangling-symlink", "symlink-loop"])
def test_a_tenant_entry_that_is_not_a_file_is_reported_never_skipped(proj, kind, command) -> None:
    # A skipped tenants/x.yaml would drop tenant x out of its stack: the next `pulumi up` would
    # delete its resources. Each command refuses with one line naming the entry.
    where, message = _bad_entry(proj.tenants, kind)
    before = sorted(os.listdir(proj.tenants))
    snapshot = proj.snapshot()
    result = proj.run(*command)
    line = assert_clean_failure(result, 1, f"{where}: ", message)
    assert line.startswith(f"{where}: ")
    assert sorted(os.listdir(proj.tenants)) == before
    assert proj.snapshot() == snapshot
    if command == ("plan",):
        assert result.stdout == ""
    if command == ("tenant", "list"):
        # The valid tenants are still listed; the entry makes the exit code 1.
        assert "nordlys" in result.stdout


def test_check_refuses_deeply_nested_dkim_keys_json(proj, tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text("[" * 100_000 + "]" * 100_000)
    before = proj.snapshot()
    result = proj.run("check", "acme", "--dkim-keys", str(keys), "--nameserver", "127.0.0.1:9")
    line = assert_clean_failure(result, 2, "--dkim-keys", "nesting deeper than 100 levels")
    assert line == f"--dkim-keys: {keys} has nesting deeper than 100 levels"
    assert result.stderr.splitlines() == [line]
    assert result.stdout == ""
    assert proj.snapshot() == before


@pytest.mark.parametrize("command", [("validate",), ("plan",), ("plan", "--format", "json"), ("-vv", "plan")])
def test_clear_provider_secrets_are_refused_and_never_printed(proj, command) -> None:
    stack = proj.root / "Pulumi.eu.yaml"
    stack.write_text(
        STACK_EU
        + f"  mailgun:apiKey: {SECRET_CANARY}\n"
        + f"  cloudflare:apiToken: {SECRET_CANARY}\n"
        + f"  aws:accessKey: {SECRET_CANARY}\n"
        + f"  aws:secretKey: {SECRET_CANARY}\n"
        + "  aws:keyPair: ops\n",
        encoding="utf-8",
    )
    before = proj.snapshot()
    result = proj.run(*command)
    for key in ("mailgun:apiKey", "cloudflare:apiToken", "aws:accessKey", "aws:secretKey"):
        assert_clean_failure(result, 1, f"Pulumi.eu.yaml: config.{key}: ", "--secret")
    assert "aws:keyPair" not in result.stderr
    assert SECRET_CANARY not in result.stdout + result.stderr
    assert proj.snapshot() == before
