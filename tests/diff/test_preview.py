"""``mailfleet preview-report`` on PreviewDigest files written from pulumi's documented schema."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
SECRETS = ("hunter2-harbor-smtp", "c3VwZXJzZWNyZXRjaXBoZXJ0ZXh0", "1b47061264138c4ac30d75fd1eb44270")


def report(cli, name: str, *args: str, cwd: Path | None = None):
    return cli("preview-report", str(FIXTURES / name), *args, cwd=cwd)


def rows(proc) -> list[dict]:
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["format"] == "mailfleet-preview/1"
    assert len(doc["stacks"]) == 1
    return doc["stacks"][0]["rows"]


def test_creates_only(cli) -> None:
    got = rows(report(cli, "preview_create.json", "--format", "json"))
    base = "urn:pulumi:eu::mailfleet::mailfleet:index:TenantMail$"
    table = {(r["op"], r["key"].removeprefix(base), r["name"], r["type"], tuple(r["new"])) for r in got}
    dom = "zephyr.mail.example.eu"
    assert table == {
        (
            "create",
            f"mailgun:index/domain:Domain::zephyr-domain-{dom}",
            dom,
            "Mailgun Domain",
            (
                "clickTracking=false",
                "dkimKeySize=2048",
                "dkimSelector=mailfleet",
                "forceDkimAuthority=true",
                "openTracking=false",
                "region=eu",
                "spamAction=disabled",
                "webScheme=https",
                "wildcard=false",
            ),
        ),
        (
            "create",
            f"mailgun:index/route:Route::zephyr-route-help@{dom}",
            f"mailfleet zephyr: help@{dom}",
            "Mailgun Route",
            (
                'actions=forward("https://crm.example.eu/mailgun/inbound/zephyr"), stop()',
                f"description=mailfleet zephyr: help@{dom}",
                'expression=match_recipient("^help@zephyr\\.mail\\.example\\.eu$")',
                "priority=10",
                "region=eu",
            ),
        ),
        (
            "create",
            f"mailgun:index/webhook:Webhook::zephyr-webhook-{dom}-delivered",
            f"{dom} delivered",
            "Mailgun Webhook",
            (
                f"domain={dom}",
                "kind=delivered",
                "region=eu",
                "urls=https://crm.example.eu/mailgun/events/zephyr",
            ),
        ),
        (
            "create",
            f"mailgun:index/domainCredential:DomainCredential::zephyr-credential-{dom}",
            f"crm@{dom}",
            "Mailgun DomainCredential",
            (f"domain={dom}", "login=crm", "password=[secret]", "region=eu"),
        ),
        (
            "create",
            f"aws:route53/record:Record::zephyr-dns-{dom}-MX",
            dom,
            "MX",
            ("10 mxa.eu.mailgun.org", "10 mxb.eu.mailgun.org"),
        ),
        (
            "create",
            f"aws:route53/record:Record::zephyr-dns-mailfleet._domainkey.{dom}-TXT",
            f"mailfleet._domainkey.{dom}",
            "TXT",
            ("(known after apply)",),
        ),
        (
            "create",
            f"aws:route53/record:Record::zephyr-dns-_dmarc.{dom}-TXT",
            f"_dmarc.{dom}",
            "TXT",
            ("v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@mail.example.eu",),
        ),
        (
            "create",
            "cloudflare:index/dnsRecord:DnsRecord::zephyr-dns-zephyr.example.no-TXT",
            "zephyr.example.no",
            "TXT",
            ("v=spf1 include:mailgun.org include:sendgrid.net ~all",),
        ),
        (
            "create",
            "cloudflare:index/dnsRecord:DnsRecord::zephyr-dns-k1._domainkey.zephyr.example.no-TXT",
            "k1._domainkey.zephyr.example.no",
            "TXT",
            # Two provider chunks joined into one logical value.
            ("v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwXyZQ2pZ7nQ0rT3AB",),
        ),
        (
            "create",
            "cloudflare:index/dnsRecord:DnsRecord::zephyr-dns-zephyr.example.no-MX-mxa",
            "zephyr.example.no",
            "MX",
            ("10 mxa.eu.mailgun.org",),
        ),
    }
    assert all(r["stack"] == "eu" and r["old"] == [] and not r["destructive"] for r in got)
    assert {r["ttl"]["new"] for r in got if r["kind"] == "dns"} == {3600}
    assert {r["where"] for r in got if r["kind"] == "dns"} == {
        "route53 Z04EXAMPLEEU0001",
        "cloudflare 4f1c2a9d0b7e46c3a8d25e6f9b0c1d2e",
    }


def test_updates_deletes_and_replaces(cli) -> None:
    got = rows(report(cli, "preview_changes.json", "--format", "json"))
    table = [(r["op"], r["name"], r["type"], r["fields"], r["old"], r["new"], r["destructive"]) for r in got]
    dkim_old = "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC1old"
    dmarc = "v=DMARC1; p={}; rua=mailto:dmarc-reports@mail.example.com,mailto:dmarc@redwood-outdoors.com"
    assert table == [
        # Destructive first.
        (
            "delete",
            "harbor.mail.example.com",
            "MX",
            [],
            ["10 mxa.mailgun.org", "10 mxb.mailgun.org"],
            [],
            True,
        ),
        (
            "delete",
            "harborlogistics.com",
            "Mailgun Domain",
            [],
            [
                "dkimKeySize=2048",
                "dkimSelector=mailfleet",
                "region=us",
                "smtpPassword=[secret]",
                "spamAction=disabled",
            ],
            [],
            True,
        ),
        (
            "replace",
            "rw2._domainkey.redwood.mail.example.com",
            "TXT",
            ["name", "value"],
            ["name=rw1._domainkey.redwood.mail.example.com", dkim_old],
            ["name=rw2._domainkey.redwood.mail.example.com", "(known after apply)"],
            True,
        ),
        (
            "replace",
            "redwood.mail.example.com",
            "Mailgun Domain",
            ["dkimSelector"],
            ["dkimSelector=rw1"],
            ["dkimSelector=rw2"],
            True,
        ),
        (
            "update",
            "crm@redwood-outdoors.com",
            "Mailgun DomainCredential",
            ["password"],
            ["password=[secret]"],
            ["password=[secret]"],
            False,
        ),
        (
            "update",
            "_dmarc.redwood-outdoors.com",
            "TXT",
            ["value", "ttl"],
            [dmarc.format("quarantine")],
            [dmarc.format("reject")],  # the new value was split in two chunks: shown joined
            False,
        ),
        (
            "update",
            "redwood-outdoors.com delivered",
            "Mailgun Webhook",
            ["urls"],
            ["urls=https://crm.example.com/mailgun/events/redwood"],
            ["urls=https://crm.example.com/mailgun/events-v2/redwood"],
            False,
        ),
    ]
    by_name = {r["name"]: r for r in got}
    assert (
        "dkimSelector forces pulumi-mailgun to replace" in by_name["redwood.mail.example.com"]["reasons"][0]
    )
    assert "MX record deleted" in by_name["harbor.mail.example.com"]["reasons"][0]
    assert "DKIM record replaced (name)" in by_name["rw2._domainkey.redwood.mail.example.com"]["reasons"][0]
    assert by_name["_dmarc.redwood-outdoors.com"]["ttl"] == {"old": 3600, "new": 300}


def test_secrets_shown_as_placeholder_in_every_format(cli, tmp_path: Path) -> None:
    raw = (FIXTURES / "preview_changes.json").read_text()
    assert all(s in raw for s in SECRETS)  # the fixture really carries them
    texts = []
    for fmt in ("table", "markdown", "json"):
        proc = report(cli, "preview_changes.json", "--format", fmt)
        assert proc.returncode == 0, proc.stderr
        shown = "\\[secret\\]" if fmt == "markdown" else "[secret]"  # GFM renders \[ as [
        assert shown in proc.stdout
        texts.append(proc.stdout + proc.stderr)
    out = tmp_path / "c"
    proc = report(cli, "preview_changes.json", "--format", "markdown", "--output-dir", str(out))
    assert proc.returncode == 0
    texts += [p.read_text() for p in out.iterdir() if p.is_file()]
    for secret in SECRETS:
        assert all(secret not in t for t in texts)


def test_markdown_marker_and_fail_on(cli, tmp_path: Path) -> None:
    proc = report(cli, "preview_changes.json", "--format", "markdown", "--fail-on", "destructive")
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0] == "<!-- mailfleet-preview:stack=us part=1/1 -->"
    assert "**Summary:** Creates=0, Updates=3, Replaces=2, Deletes=2, Destructive=4" in proc.stdout
    assert "| Operation | Resource | Name | Type | TTL | Where | Old value | New value | Why |" in proc.stdout
    ok = report(
        cli, "preview_create.json", "--format", "markdown", "--fail-on", "destructive", "--stack", "eu-2"
    )
    assert ok.returncode == 0
    assert ok.stdout.startswith("<!-- mailfleet-preview:stack=eu-2 part=1/1 -->\n")


def test_stdin_and_bad_input(cli, tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.conftest import REPO

    data = (FIXTURES / "preview_create.json").read_text()
    proc = subprocess.run(
        [sys.executable, "-m", "mailfleet", "preview-report", "-", "--format", "json"],
        input=data,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert len(rows(proc)) == 10

    missing = cli("preview-report", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "cannot read" in missing.stderr

    garbage = tmp_path / "garbage.json"
    garbage.write_text("Previewing update (us):\n")
    bad = cli("preview-report", str(garbage))
    assert bad.returncode == 1 and bad.stderr.startswith(f"{garbage}: not JSON")

    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"steps": [{"op": "create", "urn": "not-a-urn"}]}))
    bad = cli("preview-report", str(wrong))
    assert bad.returncode == 1 and f"{wrong}: steps.0.urn: not a Pulumi URN" in bad.stderr
    assert "Traceback" not in bad.stderr

    copy = tmp_path / "copy.json"
    shutil.copy(FIXTURES / "preview_create.json", copy)
    bad_stack = cli("preview-report", str(copy), "--stack", "eu; rm -rf /")
    assert bad_stack.returncode == 2 and bad_stack.stderr.startswith("--stack: ")


def test_output_dir_that_cannot_be_made(cli, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory\n")
    proc = report(cli, "preview_changes.json", "--format", "markdown", "--output-dir", str(blocker / "c"))
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 2
    assert proc.stderr == f"--output-dir: cannot write {blocker / 'c'}: Not a directory\n"
