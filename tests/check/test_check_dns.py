"""`mailfleet check` against a real Knot server: correct zones pass, each broken case is named."""

from __future__ import annotations

import json

import pytest

from tests.check.conftest import EXAMPLES, record

pytestmark = pytest.mark.knot  # every test here reads a real Knot server


def test_every_example_tenant_passes(check_cli, dns_world):
    proc, data = check_cli(*EXAMPLES, "--dkim-keys", str(dns_world.keys_file))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert data["summary"]["exit_code"] == 0
    assert {t["slug"] for t in data["tenants"]} == set(EXAMPLES)
    statuses = {
        (t["slug"], r["purpose"], r["name"]): r["status"] for t in data["tenants"] for r in t["records"]
    }
    assert set(statuses.values()) == {"ok"}
    # every record the model declares was checked, ours and the customers'
    purposes = {p for _, p, _ in statuses}
    assert purposes == {"mx", "spf", "dkim", "dmarc", "dmarc-auth", "tracking"}
    zones = {r["zone"] for t in data["tenants"] for r in t["records"]}
    assert {"ours", "fjordbank.no", "redwood-outdoors.com"} <= zones
    # DKIM keys were compared with the expected ones, not just linted
    dkim = record(data, "fjordbank", "dkim", "fjordbank.no")
    assert dkim["details"]["expected_key_source"] == "--dkim-keys"
    # Mailgun's include tree was counted live: 4 lookups; Microsoft's adds 2
    assert record(data, "acme", "spf")["details"]["lookups"] == 4
    assert record(data, "fjordbank", "spf", "fjordbank.no")["details"]["lookups"] == 6
    # p=none passes with a warning
    berlin = record(data, "berlinbikes", "dmarc", "berlinbikes.de")
    assert [f["code"] for f in berlin["findings"]] == ["dmarc-p-none"]


def test_shared_names_are_asked_once(check_cli, dns_world):
    proc, data = check_cli(*EXAMPLES)
    assert proc.returncode == 0
    records = sum(len(t["records"]) for t in data["tenants"])
    # without the shared cache: one query per record plus the SPF trees of every record
    assert data["summary"]["dns_queries"] < records + 20


def test_two_spf_records(check_cli):
    proc, data = check_cli("twospf")
    assert proc.returncode == 1
    spf = record(data, "twospf", "spf", "twospf.no")
    assert spf["status"] == "wrong"
    assert "2 SPF records at twospf.no" in spf["message"]
    assert sorted(spf["found"]) == ["v=spf1 include:mailgun.org ~all", "v=spf1 include:sendgrid.net ~all"]
    assert spf["findings"][0]["rfc"] == "RFC 7208 §3.2, §4.5"
    assert record(data, "twospf", "spf", "ours")["status"] == "ok"


def test_eleven_lookups(check_cli):
    proc, data = check_cli("elevenlookups")
    assert proc.returncode == 1
    spf = record(data, "elevenlookups", "spf", "eleven-lookups.de")
    assert spf["status"] == "wrong"
    assert spf["details"]["lookups"] == 11
    finding = next(f for f in spf["findings"] if f["code"] == "spf-too-many-lookups")
    assert "SPF needs 11 DNS lookups, over the limit of 10" in finding["message"]
    assert "include:mailgun.org=4" in finding["message"]
    assert "include:deep.spfchain.net=7" in finding["message"]
    assert finding["rfc"] == "RFC 7208 §4.6.4"
    # the value itself is what the model says: only the live count is wrong
    assert spf["found"] == spf["expected"]


def test_void_include(check_cli):
    proc, data = check_cli("voidinclude")
    assert proc.returncode == 1
    spf = record(data, "voidinclude", "spf", "void-include.no")
    assert spf["status"] == "wrong"
    assert spf["details"]["void_lookups"] == 1
    finding = next(f for f in spf["findings"] if f["code"] == "spf-include-none")
    assert "gone.spfchain.net does not exist (NXDOMAIN), a void lookup" in finding["message"]
    assert "permerror" in finding["message"]
    assert finding["rfc"] == "RFC 7208 §5.2"


def test_wrong_dkim_key(check_cli, dns_world):
    proc, data = check_cli("wrongkey", "--dkim-keys", str(dns_world.keys_file))
    assert proc.returncode == 1
    dkim = record(data, "wrongkey", "dkim")
    assert dkim["status"] == "wrong"
    assert dkim["message"] == "the published DKIM key is not the key --dkim-keys holds"
    name = "mailfleet._domainkey.wrongkey.mail.example.com"
    assert dkim["expected"] == [f"v=DKIM1; k=rsa; p={dns_world.expected_keys[name]}"]
    assert dkim["found"] == [f"v=DKIM1; k=rsa; p={dns_world.keys[name]}"]
    # without an expected key, presence and lint only: the published key is a fine key
    proc, data = check_cli("wrongkey")
    assert proc.returncode == 0
    assert record(data, "wrongkey", "dkim")["details"]["expected_key_source"].startswith("unknown")


def test_1024_bit_key_is_a_warning(check_cli, dns_world):
    proc, data = check_cli("weakkey", "--dkim-keys", str(dns_world.keys_file))
    assert proc.returncode == 0
    dkim = record(data, "weakkey", "dkim")
    assert dkim["status"] == "ok"
    assert dkim["details"]["bits"] == 1024
    assert [(f["severity"], f["code"]) for f in dkim["findings"]] == [("warning", "dkim-short-key")]
    assert data["summary"]["warnings"] == 1


def test_dmarc_without_policy(check_cli):
    proc, data = check_cli("nopolicy")
    assert proc.returncode == 1
    dmarc = record(data, "nopolicy", "dmarc")
    assert dmarc["status"] == "wrong"
    codes = [f["code"] for f in dmarc["findings"]]
    assert "dmarc-no-policy" in codes
    assert dmarc["found"] == ["v=DMARC1; rua=mailto:dmarc-reports@mail.example.eu"]


def test_reports_to_another_domain_without_authorisation(check_cli):
    proc, data = check_cli("noauth")
    assert proc.returncode == 1
    dmarc = record(data, "noauth", "dmarc", "noauth.no")
    assert dmarc["status"] == "wrong", dmarc
    finding = next(f for f in dmarc["findings"] if f["code"] == "dmarc-report-unauthorised")
    assert "no v=DMARC1 TXT at noauth.no._report._dmarc.reports-elsewhere.net" in finding["message"]
    assert finding["rfc"] == "RFC 7489 §7.1"
    # The platform domain's record in our zone never lists the tenant's outside address.
    ours = record(data, "noauth", "dmarc", "ours")
    assert ours["status"] == "ok", ours
    assert "reports-elsewhere.net" not in " ".join(ours["expected"])
    # destinations in our own zone are authorised by the records the model publishes
    assert record(data, "noauth", "dmarc-auth")["status"] == "ok"


def test_mx_in_the_wrong_region(check_cli):
    proc, data = check_cli("wrongregion")
    assert proc.returncode == 1
    mx = record(data, "wrongregion", "mx")
    assert mx["status"] == "wrong"
    assert mx["expected"] == ["10 mxa.eu.mailgun.org", "10 mxb.eu.mailgun.org"]
    assert mx["found"] == ["10 mxa.mailgun.org", "10 mxb.mailgun.org"]
    assert "still points at Mailgun's US hosts" in mx["hint"]
    assert "mxa.eu.mailgun.org" in mx["hint"]


def test_missing_tracking_cname(check_cli):
    proc, data = check_cli("notracking")
    assert proc.returncode == 1
    tracking = record(data, "notracking", "tracking")
    assert tracking["status"] == "missing"
    assert tracking["expected"] == ["eu.mailgun.org"]
    others = [r["status"] for r in data["tenants"][0]["records"] if r["purpose"] != "tracking"]
    assert set(others) == {"ok"}


def test_answers_that_never_come_are_timeouts_not_missing(check_cli, dns_world):
    proc, data = check_cli("blackhole", ns=dns_world.forwarder_ns)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    customer = [r for r in data["tenants"][0]["records"] if r["zone"] == "blackhole.no"]
    assert {r["status"] for r in customer} == {"timeout"}
    assert all("no answer for" in r["message"] for r in customer)
    ours = [r for r in data["tenants"][0]["records"] if r["zone"] == "ours"]
    assert {r["status"] for r in ours} == {"ok"}
    assert data["summary"]["missing"] == 0
    # the same zone answered directly is fine: the timeout came from the path, not the data
    proc, data = check_cli("blackhole")
    assert proc.returncode == 0


def test_refused_is_an_error_not_missing(check_cli):
    proc, data = check_cli("unserved")
    assert proc.returncode == 3
    spf = record(data, "unserved", "spf", "unserved.no")
    assert spf["status"] == "error"
    assert "REFUSED" in spf["message"]


def test_missing_or_wrong_beats_timeouts_in_the_exit_code(check_cli, dns_world):
    proc, data = check_cli("blackhole", "twospf", ns=dns_world.forwarder_ns)
    assert proc.returncode == 1
    assert data["summary"]["timeout"] > 0 and data["summary"]["wrong"] > 0


def test_region_and_all(check_cli):
    proc, data = check_cli("--all", "--region", "us")
    assert proc.returncode == 0, proc.stdout
    assert {t["region"] for t in data["tenants"]} == {"us"}
    assert {t["slug"] for t in data["tenants"]} == {
        "bluebird",
        "harbor",
        "lakeside",
        "redwood",
        "wrongkey",
        "weakkey",
    }
    proc, data = check_cli("--all")
    assert proc.returncode == 1
    failing = {t["slug"] for t in data["tenants"] if t["status"] != "ok"}
    assert failing == {
        "twospf",
        "elevenlookups",
        "voidinclude",
        "nopolicy",
        "noauth",
        "wrongregion",
        "notracking",
        "unserved",
        "notdeployed",
    }


def test_table_output(check_cli):
    proc, _ = check_cli("wrongregion", "acme", fmt="table")
    assert proc.returncode == 1
    out = proc.stdout
    assert "wrongregion" in out and "wrong" in out
    assert "  expected: 10 mxa.eu.mailgun.org\n  expected: 10 mxb.eu.mailgun.org\n" in out
    assert "hint: MX still points at Mailgun's US hosts" in out
    assert "2 tenant(s), 1 not ok" in out


def test_usage_errors_exit_2_with_one_line(check_cli, dns_world, cli, tmp_path):
    cases = [
        ["check"],
        ["check", "acme", "--nameserver", "not-an-ip"],
        ["check", "acme", "--nameserver", "127.0.0.1:99999"],
        ["check", "nosuchtenant"],
        ["check", "acme", "--all"],
    ]
    bad = tmp_path / "keys.json"
    bad.write_text("[1, 2]")
    cases.append(["check", "acme", "--dkim-keys", str(bad)])
    for argv in cases:
        proc = cli(*argv, cwd=dns_world.project_dir)
        assert proc.returncode == 2, (argv, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, (argv, proc.stderr)
        assert "Traceback" not in proc.stderr
        assert proc.stdout == ""
    proc = cli("check", "acme", "--nameserver", "not-an-ip", cwd=dns_world.project_dir)
    assert proc.stderr.startswith("--nameserver: ")


def test_json_is_the_documented_shape(check_cli):
    proc, data = check_cli("acme")
    assert proc.returncode == 0
    assert data["format"] == "mailfleet-check/1"
    assert set(data["summary"]) >= {
        "tenants",
        "records",
        "ok",
        "missing",
        "wrong",
        "timeout",
        "error",
        "warnings",
        "exit_code",
    }
    rec = data["tenants"][0]["records"][0]
    assert set(rec) == {
        "purpose",
        "zone",
        "name",
        "type",
        "status",
        "expected",
        "found",
        "message",
        "hint",
        "findings",
        "details",
        "fix_by",
        "delete",
    }
    json.dumps(data)
