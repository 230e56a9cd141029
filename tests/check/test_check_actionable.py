"""`mailfleet check` tells a person what to do (issue 12 item 4), against the real Knot server.

Every test runs the CLI as a process: full values (never shortened), who fixes each record,
the bind snippet of the failing records, --problems-only, the NXDOMAIN hint, which SPF
record to delete, and the progress line on a terminal (a pty).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.check.conftest import record
from tests.conftest import REPO
from tests.ptyrun import run_on_pty

pytestmark = pytest.mark.knot


def test_fix_by_names_pulumi_for_our_zone_and_the_customer_for_manual_dns(check_cli):
    proc, data = check_cli("twospf", "notracking")
    assert proc.returncode == 1
    spf = record(data, "twospf", "spf", "twospf.no")
    assert spf["fix_by"] == "the customer (twospf.no DNS)"
    tracking = record(data, "notracking", "tracking")
    assert tracking["status"] == "missing"
    assert tracking["fix_by"] == "pulumi up -s eu"


def test_two_spf_records_name_the_one_to_delete(check_cli):
    proc, data = check_cli("twospf")
    spf = record(data, "twospf", "spf", "twospf.no")
    assert spf["delete"] == ["v=spf1 include:sendgrid.net ~all"]
    proc, _ = check_cli("twospf", fmt="table")
    assert "  delete this one: v=spf1 include:sendgrid.net ~all\n" in proc.stdout
    assert "  found:    v=spf1 include:mailgun.org ~all\n" in proc.stdout
    proc, _ = check_cli("twospf", fmt="bind")
    assert '; delete this one: twospf.no. IN TXT "v=spf1 include:sendgrid.net ~all"' in proc.stdout


def test_every_record_nxdomain_asks_whether_pulumi_up_ran(check_cli):
    proc, data = check_cli("notdeployed", "notracking")
    assert proc.returncode == 1
    tenants = {t["slug"]: t for t in data["tenants"]}
    assert {r["status"] for r in tenants["notdeployed"]["records"]} == {"missing"}
    assert "has `pulumi up -s eu` run" in tenants["notdeployed"]["hint"]
    # one missing record is not "nothing deployed"
    assert tenants["notracking"]["hint"] == ""
    proc, _ = check_cli("notdeployed", fmt="table")
    assert "notdeployed: every record of notdeployed is NXDOMAIN: has `pulumi up -s eu` run" in proc.stdout


def test_full_values_are_never_shortened_in_the_table(check_cli, dns_world):
    # wrongkey: the published DKIM key differs from the expected one (about 400 characters)
    proc, _ = check_cli("wrongkey", "--dkim-keys", str(dns_world.keys_file), fmt="table")
    assert proc.returncode == 1
    name = "mailfleet._domainkey.wrongkey.mail.example.com"
    expected = f"v=DKIM1; k=rsa; p={dns_world.expected_keys[name]}"
    assert len(expected) > 300
    assert f"  expected: {expected}\n" in proc.stdout
    assert f"p={dns_world.keys[name]}" in proc.stdout  # the found value, whole
    assert "…" not in proc.stdout
    assert "fix by: pulumi up -s us" in proc.stdout


def test_bind_snippet_holds_just_the_failing_records(check_cli, dns_world):
    proc, _ = check_cli("wrongregion", "acme", "notracking", fmt="bind")
    assert proc.returncode == 1
    lines = [ln for ln in proc.stdout.splitlines() if ln and not ln.startswith(";")]
    assert lines == [
        "wrongregion.mail.example.eu. 3600 IN MX 10 mxa.eu.mailgun.org.",
        "wrongregion.mail.example.eu. 3600 IN MX 10 mxb.eu.mailgun.org.",
        "email.notracking.mail.example.eu. 3600 IN CNAME eu.mailgun.org.",
    ]
    assert "; tenant wrongregion, our zone; fix by: pulumi up -s eu" in proc.stdout
    # the snippet parses as a zone file (dnspython's master-file parser) and holds those records
    import dns.zone

    text = "$ORIGIN mail.example.eu.\n@ 3600 IN SOA ns. h. 1 2 3 4 5\n@ 3600 IN NS ns.example.\n"
    zone = dns.zone.from_text(text + proc.stdout, origin="mail.example.eu.", relativize=False)
    mx = zone.get_rdataset("wrongregion.mail.example.eu.", "MX")
    assert sorted(str(r) for r in mx) == ["10 mxa.eu.mailgun.org.", "10 mxb.eu.mailgun.org."]


def test_dkim_value_in_the_bind_snippet_is_the_real_key_when_known(check_cli, dns_world):
    name = "mailfleet._domainkey.wrongkey.mail.example.com"
    proc, _ = check_cli("wrongkey", "--dkim-keys", str(dns_world.keys_file), fmt="bind")
    assert dns_world.expected_keys[name][:200] in proc.stdout.replace('" "', "")
    assert "<" not in proc.stdout.replace("; ", "")


def test_problems_only(check_cli):
    proc, data = check_cli("twospf", "acme", "--problems-only")
    assert proc.returncode == 1
    assert [t["slug"] for t in data["tenants"]] == ["twospf"]
    assert [(r["purpose"], r["status"]) for r in data["tenants"][0]["records"]] == [("spf", "wrong")]
    assert data["summary"]["ok"] > 0  # the summary still counts the whole run
    proc, _ = check_cli("twospf", "acme", "--problems-only", fmt="table")
    assert "acme" not in proc.stdout.split("What to fix")[0]
    assert " ok " not in proc.stdout.split("What to fix")[0]
    proc, _ = check_cli("twospf", "acme", fmt="table")
    assert "acme" in proc.stdout


def test_progress_on_a_terminal_for_a_single_slow_tenant(dns_world):
    # blackhole never answers: the run waits on timeouts, and the terminal shows progress
    argv = [
        "check",
        "blackhole",
        "--nameserver",
        dns_world.forwarder_ns,
        "--timeout",
        "0.5",
        "--retries",
        "1",
    ]
    code, stdout, terminal = run_on_pty(argv, dns_world.project_dir)
    assert code == 3
    assert "checking tenants" in terminal and "0/1" in terminal
    assert "checking tenants" not in stdout  # data stays clean on stdout
    # stderr not a terminal: no progress at all
    proc = subprocess.run(
        [sys.executable, "-m", "mailfleet", *argv],
        cwd=dns_world.project_dir,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 3 and proc.stderr == ""


def test_bind_snippet_takes_the_dkim_key_from_mailgun(check_cli, dns_world):
    from tests.fakes.mailgun_server import FakeMailgun

    name = "mailfleet._domainkey.wrongkey.mail.example.com"
    with FakeMailgun() as fake:
        fake.seed_domain(
            "wrongkey.mail.example.com",
            "us",
            dkim_selector="mailfleet",
            dkim_public_key=dns_world.expected_keys[name],
        )
        proc, _ = check_cli("wrongkey", env=fake.env(), fmt="bind")
        assert fake.api_key not in proc.stdout + proc.stderr
    assert proc.returncode == 1
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith(name + "."))
    value = "".join(line.split(" IN TXT ", 1)[1].split('" "')).strip('"')
    assert value == f"v=DKIM1; k=rsa; p={dns_world.expected_keys[name]}"
    # without MAILGUN_API_KEY (and no --dkim-keys) a missing DKIM key is not known: a placeholder,
    # commented out so the snippet cannot be pasted with it
    proc, _ = check_cli("notdeployed", fmt="bind")
    dkim = [ln for ln in proc.stdout.splitlines() if "._domainkey.notdeployed." in ln and " IN TXT " in ln]
    assert len(dkim) == 1 and dkim[0].startswith("; ") and "<the key Mailgun generated" in dkim[0]
    assert "; the DKIM key is Mailgun's: run with MAILGUN_API_KEY (or --dkim-keys) to get it" in proc.stdout
