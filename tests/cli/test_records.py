"""`mailfleet records SLUG`: the customer's records as a table, a BIND snippet and JSON."""

from __future__ import annotations

import json
import re
import subprocess

import dns.rdatatype
import dns.zone
import pytest

from tests.cli.conftest import assert_clean_failure

RUA = [f"mailto:dmarc-report-mailbox-{i:02d}@longco.example" for i in range(12)]
LONG_TENANT = (
    "slug: longco\nname: Long Co\nregion: us\nmailboxes: [info]\n"
    "sender_domain:\n  name: longco.example\n  dns: manual\n  spf_includes: [amazonses.com]\n"
    f"dmarc:\n  policy: reject\n  rua: [{', '.join(RUA)}]\n"
    "dkim:\n  selector: lc1\ntracking: true\n"
)


def _zone(snippet: str, origin: str) -> dns.zone.Zone:
    head = (
        f"$ORIGIN {origin}.\n@ 3600 IN SOA ns1 hostmaster 1 7200 3600 1209600 3600\n"
        "@ 3600 IN NS ns1\nns1 3600 IN A 192.0.2.1\n"
    )
    return dns.zone.from_text(head + snippet, origin=origin + ".", relativize=False)


def test_bind_snippet_parses_and_splits_long_txt(proj) -> None:
    (proj.tenants / "longco.yaml").write_text(LONG_TENANT)
    as_json = json.loads(proj.run("records", "longco", "--format", "json").stdout)
    by_purpose = {r["purpose"]: r for r in as_json["records"]}
    dmarc_value = by_purpose["dmarc"]["value"]
    assert len(dmarc_value) > 2 * 255  # needs three character-strings
    result = proj.run("records", "longco", "--format", "bind")
    assert result.returncode == 0, result.stderr
    zone = _zone(result.stdout, "longco.example")
    txt = zone.find_rdataset("_dmarc.longco.example.", dns.rdatatype.TXT)
    assert txt.ttl == 3600
    strings = next(iter(txt)).strings
    assert len(strings) == 3 and all(len(s) <= 255 for s in strings)
    assert b"".join(strings).decode() == dmarc_value
    spf = next(iter(zone.find_rdataset("longco.example.", dns.rdatatype.TXT))).strings
    assert b"".join(spf).decode() == "v=spf1 include:mailgun.org include:amazonses.com ~all"
    cname = zone.find_rdataset("email.longco.example.", dns.rdatatype.CNAME)
    assert next(iter(cname)).target.to_text() == "mailgun.org."  # US region tracking host
    # The DKIM value comes from Mailgun: a commented placeholder, not a record.
    assert zone.get_node("lc1._domainkey.longco.example.") is None
    dkim_lines = [line for line in result.stdout.splitlines() if "lc1._domainkey.longco.example." in line]
    assert dkim_lines and all(line.startswith(";") for line in dkim_lines)
    assert "<public key from Mailgun>" in dkim_lines[0]
    assert "pulumi up -s us" in result.stdout


def test_table_lists_customer_records_and_our_authorisation(proj) -> None:
    result = proj.run("records", "fjordbank")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "v=spf1 include:mailgun.org include:spf.protection.outlook.com -all" in out
    assert "mailfleet._domainkey.fjordbank.no" in out and "<public key from Mailgun>" in out
    assert "_dmarc.fjordbank.no" in out
    assert "email.fjordbank.no" not in out  # tracking is off
    # Our stack's report address is in our zone: we publish the RFC 7489 §7.1 authorisation.
    assert "fjordbank.no._report._dmarc.mail.example.eu" in out
    # Platform records (MX in our zone) are not the customer's business.
    assert "mxa.eu.mailgun.org" not in out


def test_json_shape(proj) -> None:
    data = json.loads(proj.run("records", "nordlys", "-f", "json").stdout)
    assert data["format"] == "mailfleet-records/1"
    assert set(data) == {
        "format",
        "tenant",
        "region",
        "stack",
        "domain",
        "dns",
        "zone_id",
        "managed_by",
        "records",
        "published_by_us",
        "third_party_authorisations",
    }
    assert (data["domain"], data["dns"], data["managed_by"]) == ("nordlys-reiser.no", "cloudflare", "pulumi")
    assert [r["purpose"] for r in data["records"]] == ["spf", "dkim", "dmarc", "tracking"]
    dkim = data["records"][1]
    assert dkim["name"] == "nl2024._domainkey.nordlys-reiser.no"
    assert dkim["from_mailgun"] is True and dkim["value"] is None and dkim["placeholder"]
    assert data["records"][3]["value"] == "eu.mailgun.org"
    assert data["published_by_us"] == [
        {
            "name": "nordlys-reiser.no._report._dmarc.mail.example.eu",
            "type": "TXT",
            "ttl": 3600,
            "value": "v=DMARC1",
        }
    ]


def test_third_party_report_destination(proj) -> None:
    path = proj.tenants / "harbor.yaml"
    path.write_text(path.read_text() + "dmarc:\n  rua: ['mailto:agg@reports.vendor.example']\n")
    data = json.loads(proj.run("records", "harbor", "-f", "json").stdout)
    assert data["third_party_authorisations"] == [
        {
            "destination": "reports.vendor.example",
            "name": "harborlogistics.com._report._dmarc.reports.vendor.example",
            "type": "TXT",
            "value": "v=DMARC1",
        }
    ]


def test_platform_only_tenant_has_nothing_to_publish(proj) -> None:
    result = proj.run("records", "acme")
    assert result.returncode == 0
    assert "nothing to publish" in result.stdout
    data = json.loads(proj.run("records", "acme", "-f", "json").stdout)
    assert data["domain"] is None and data["records"] == []


def test_errors(proj) -> None:
    assert_clean_failure(proj.run("records", "nobody"), 1, "tenants/nobody.yaml", "no tenant")
    assert_clean_failure(proj.run("records", "Acme"), 2, "SLUG", "lowercase")
    assert_clean_failure(proj.run("records", "acme", "-f", "zone"), 2, "--format", "zone")


@pytest.mark.knot
def test_bind_snippet_served_by_knot(proj, tmp_path) -> None:
    """The pasted snippet loads into a real Knot DNS server and answers with the same values."""
    from tests.check.knot import KnotServer
    from tests.conftest import require_knot

    require_knot()
    (proj.tenants / "longco.yaml").write_text(LONG_TENANT)
    snippet = proj.run("records", "longco", "--format", "bind").stdout
    data = json.loads(proj.run("records", "longco", "--format", "json").stdout)
    lines = [line for line in snippet.splitlines() if line and not line.startswith(";")]
    server = KnotServer(tmp_path / "knot", {"longco.example": lines}).start()
    try:
        for record in data["records"]:
            if record["from_mailgun"]:
                continue
            answer = subprocess.run(
                [
                    "kdig",
                    f"@{server.address}",
                    "-p",
                    str(server.port),
                    record["name"],
                    record["type"],
                    "+short",
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            if record["type"] == "TXT":
                chunks = re.findall(r'"((?:[^"\\]|\\.)*)"', answer)
                assert all(len(c) <= 255 for c in chunks)
                assert "".join(chunks) == record["value"]
            else:
                assert answer == record["value"] + "."
    finally:
        server.stop()


def test_records_follow_a_migration_to_the_stack_that_declares_them(proj) -> None:
    from mailfleet.model.load import load_tenant_file
    from mailfleet.model.migration import STEP_NAMES

    path = proj.tenants / "fjordbank.yaml"
    original = path.read_text()
    step = "{started_at: '2026-11-24T01:00:00+00:00', done_at: '2026-11-24T01:00:05+00:00'}"
    head = (
        "migration:\n  from: eu\n  to: us\n  started_at: '2026-11-24T01:00:00+00:00'\n"
        "  platform_domain: fjordbank.mail.example.eu\n  platform_zone_id: Z04EXAMPLEEU0001\n"
        "  original_ttl: 3600\n  steps:\n"
    )
    expected: dict[int, str] = {}
    for n in range(1, len(STEP_NAMES)):
        path.write_text(original + head + "".join(f"    {name}: {step}\n" for name in STEP_NAMES[:n]))
        tenant, problems = load_tenant_file(path)
        assert problems == [] and tenant is not None and tenant.migration is not None
        target_has_records = (tenant.migration.declaration("us", "eu") or _NONE).records
        expected[n] = "us" if target_has_records else "eu"
    flip = min(n for n, stack in expected.items() if stack == "us")
    assert expected[1] == "eu" and flip > 1  # the move covers both sides
    for n in sorted({1, flip - 1, flip, len(STEP_NAMES) - 1}):
        path.write_text(original + head + "".join(f"    {name}: {step}\n" for name in STEP_NAMES[:n]))
        data = json.loads(proj.run("records", "fjordbank", "-f", "json").stdout)
        assert data["stack"] == expected[n], (n, STEP_NAMES[:n])


class _NONE:
    records = False
