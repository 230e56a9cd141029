"""`mailfleet tenant add|list|show|remove` against a copy of the example project."""

from __future__ import annotations

import json

import yaml

from mailfleet.model.load import load_tenant_file
from tests.cli.conftest import assert_clean_failure

FULL_ADD = (
    "tenant",
    "add",
    "kaffe",
    "--region",
    "eu",
    "--name",
    "Kaffe & Co: Ålesund AS",
    "--mailbox",
    "kundeservice",
    "--mailbox",
    "ordre",
    "--sender-domain",
    "kaffe-co.no",
    "--dns",
    "manual",
    "--spf-include",
    "sendgrid.net",
    "--spf-all",
    "-all",
    "--dmarc-policy",
    "reject",
    "--dmarc-rua",
    "mailto:dmarc@kaffe-co.no",
    "--dmarc-ruf",
    "mailto:forensics@kaffe-co.no",
    "--dkim-selector",
    "kc1",
    "--dkim-bits",
    "1024",
    "--tracking",
    "--outbound-service",
    "mailgun",
    "--outbound-marketing",
    "smtp",
    "--smtp-host",
    "smtp.kaffe-co.no",
    "--smtp-port",
    "465",
)


def test_add_writes_every_option_and_prints_next_steps(proj) -> None:
    result = proj.run(*FULL_ADD)
    assert result.returncode == 0, result.stderr
    path = proj.tenants / "kaffe.yaml"
    tenant, problems = load_tenant_file(path)
    assert problems == [] and tenant is not None
    assert tenant.name == "Kaffe & Co: Ålesund AS"
    assert tenant.mailboxes == ["kundeservice", "ordre"]
    assert tenant.sender_domain is not None
    assert tenant.sender_domain.name == "kaffe-co.no"
    assert tenant.sender_domain.spf_includes == ["sendgrid.net"]
    assert tenant.sender_domain.spf_all == "-all"
    assert tenant.dmarc.policy == "reject"
    assert tenant.dmarc.rua == ["mailto:dmarc@kaffe-co.no"]
    assert tenant.dmarc.ruf == ["mailto:forensics@kaffe-co.no"]
    assert (tenant.dkim.selector, tenant.dkim.bits) == ("kc1", 1024)
    assert tenant.tracking is True
    assert tenant.outbound.marketing == "smtp" and tenant.outbound.service == "mailgun"
    assert tenant.outbound.smtp is not None and tenant.outbound.smtp.port == 465
    # Stable, readable key order, the same as the example files.
    text = path.read_text(encoding="utf-8")
    keys = [line.split(":")[0] for line in text.splitlines() if line and line[0].isalpha()]
    assert keys == [
        "slug",
        "name",
        "region",
        "stack",
        "mailboxes",
        "sender_domain",
        "dmarc",
        "dkim",
        "tracking",
        "outbound",
    ]
    assert tenant.stack == "eu"  # the region's only stack, written when added
    assert "mailboxes: [kundeservice, ordre]" in text
    assert "Ålesund" in text  # readable UTF-8, not \u escapes
    # What to do next: customer records, IPs to allow, next command.
    out = result.stdout
    assert "kaffe-co.no  " in out or "kaffe-co.no " in out
    assert "v=spf1 include:mailgun.org include:sendgrid.net -all" in out
    assert "kc1._domainkey.kaffe-co.no" in out and "Mailgun" in out
    assert "_dmarc.kaffe-co.no" in out and "email.kaffe-co.no" in out
    assert "192.0.2.10" in out and "192.0.2.11" in out and "smtp.kaffe-co.no:465" in out
    assert "pulumi preview -s eu" in out
    # The new file passes validate with the rest of the project.
    assert proj.run("validate").returncode == 0


def test_add_is_deterministic_and_round_trips(proj) -> None:
    first = proj.run(*FULL_ADD)
    assert first.returncode == 0, first.stderr
    data = (proj.tenants / "kaffe.yaml").read_bytes()
    (proj.tenants / "kaffe.yaml").unlink()
    second = proj.run(*FULL_ADD)
    assert second.returncode == 0, second.stderr
    assert (proj.tenants / "kaffe.yaml").read_bytes() == data
    # Only *.yaml plus the lock file: no temp files left behind.
    names = sorted(p.name for p in proj.tenants.iterdir())
    assert [n for n in names if not n.endswith(".yaml")] == [".mailfleet.lock"]


def test_add_platform_tenant_us_prints_no_customer_records(proj) -> None:
    result = proj.run("tenant", "add", "pinecone", "--region", "us", "--mailbox", "help")
    assert result.returncode == 0, result.stderr
    assert "help@pinecone.mail.example.com" in result.stdout
    assert "DNS records for" not in result.stdout
    assert "IP addresses to allow" not in result.stdout
    assert "pulumi preview -s us" in result.stdout
    data = yaml.safe_load((proj.tenants / "pinecone.yaml").read_text())
    assert data["region"] == "us" and data["name"] == "pinecone"
    assert "sender_domain" not in data and "outbound" not in data


def test_dry_run_writes_nothing_and_shows_the_file(proj) -> None:
    before = proj.snapshot()
    result = proj.run(*FULL_ADD, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert proj.snapshot() == before
    assert "slug: kaffe" in result.stdout and "nothing written" in result.stderr


def test_add_refuses_when_another_file_is_broken(proj) -> None:
    (proj.tenants / "broken.yaml").write_text("slug: broken\nname: [\n")
    before = proj.snapshot()
    result = proj.run("tenant", "add", "newone", "--region", "eu", "--mailbox", "a")
    assert_clean_failure(result, 1, "tenants/broken.yaml", "YAML syntax error")
    assert_clean_failure(result, 1, "tenants/newone.yaml", "not written")
    assert proj.snapshot() == before


def test_add_missing_stack_for_region(proj) -> None:
    (proj.root / "Pulumi.us.yaml").unlink()
    (proj.tenants / "bluebird.yaml").unlink()
    (proj.tenants / "harbor.yaml").unlink()
    (proj.tenants / "lakeside.yaml").unlink()
    (proj.tenants / "redwood.yaml").unlink()
    before = proj.snapshot()
    result = proj.run("tenant", "add", "newone", "--region", "us", "--mailbox", "a")
    assert_clean_failure(result, 1, "--region", "no stack")
    assert proj.snapshot() == before


def test_list_table_and_json(proj) -> None:
    table = proj.run("tenant", "list")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:2] == ["SLUG", "REGION"]
    slugs = [line.split()[0] for line in lines[1:]]
    assert slugs == sorted(p.stem for p in proj.tenants.glob("*.yaml"))
    doc = json.loads(proj.run("tenant", "list", "--region", "eu", "--format", "json").stdout)
    assert doc["format"] == "mailfleet-tenants/1"
    eu = doc["tenants"]
    assert {t["region"] for t in eu} == {"eu"}
    assert [t["slug"] for t in eu] == ["acme", "alpine", "berlinbikes", "fjordbank", "nordlys"]
    nordlys = next(t for t in eu if t["slug"] == "nordlys")
    assert nordlys == {
        "slug": "nordlys",
        "name": "Nordlys Reiser AS",
        "region": "eu",
        "file": "tenants/nordlys.yaml",
        "mailboxes": ["post", "booking"],
        "sender_domain": "nordlys-reiser.no",
        "dns": "cloudflare:4f1c2a9d0b7e46c3a8d25e6f9b0c1d2e",
        "outbound": {"service": "mailgun", "marketing": "mailgun"},
        "tracking": True,
        "migration": None,
    }


def test_list_reports_broken_files_after_the_valid_ones(proj) -> None:
    (proj.tenants / "zz.yaml").write_text("slug: zz\n")
    result = proj.run("tenant", "list", "--format", "json")
    assert result.returncode == 1
    assert len(json.loads(result.stdout)["tenants"]) == 9
    assert_clean_failure(result, 1, "tenants/zz.yaml: name", "missing")


def test_show_yaml_and_json(proj) -> None:
    shown = proj.run("tenant", "show", "acme")
    assert shown.returncode == 0, shown.stderr
    data = yaml.safe_load(shown.stdout)
    assert data["dkim"] == {"selector": "mailfleet", "bits": 2048}  # defaults filled in
    assert data["dmarc"]["policy"] == "quarantine"
    as_json = json.loads(proj.run("tenant", "show", "acme", "--format", "json").stdout)
    assert as_json["format"] == "mailfleet-tenant/1" and as_json["file"] == "tenants/acme.yaml"
    assert as_json["tenant"] == data
    missing = proj.run("tenant", "show", "nobody")
    assert_clean_failure(missing, 1, "tenants/nobody.yaml", "no tenant")
    bad = proj.run("tenant", "show", "../pulumi.eu")
    assert_clean_failure(bad, 2, "SLUG", "a-z")


def test_remove_without_yes_lists_deletions_and_keeps_file(proj) -> None:
    before = proj.snapshot()
    result = proj.run("tenant", "remove", "berlinbikes")
    assert_clean_failure(result, 1, "tenants/berlinbikes.yaml", "--yes")
    assert proj.snapshot() == before
    out = result.stdout
    assert "pulumi up -s eu" in out
    for expected in (
        "Mailgun domain   berlinbikes.mail.example.eu",
        "Mailgun domain   berlinbikes.de",
        "Mailgun route    service@berlinbikes.mail.example.eu",
        "Mailgun webhook  berlinbikes.de delivered",
        "Mailgun webhook  berlinbikes.de opened",  # tracking is on
        "DNS record       _dmarc.berlinbikes.de TXT (route53 zone of berlinbikes.de Z0BERLINBIKES01)",
        "DNS record       berlinbikes.mail.example.eu MX",
        "SSM parameter    /mailfleet/berlinbikes/outbound (eu-central-1)",
        "SMTP credential  Mailgun SMTP login on berlinbikes.de",  # service mail goes via Mailgun
    ):
        assert expected in out, expected


def test_remove_with_yes_deletes_the_file(proj) -> None:
    result = proj.run("tenant", "remove", "fjordbank", "--yes")
    assert result.returncode == 0, result.stderr
    assert not (proj.tenants / "fjordbank.yaml").exists()
    assert "ask the customer to remove" in result.stdout  # manual DNS is not Pulumi's
    assert "_dmarc.fjordbank.no TXT" in result.stdout
    again = proj.run("tenant", "remove", "fjordbank", "--yes")
    assert_clean_failure(again, 1, "tenants/fjordbank.yaml", "no tenant")


MIGRATION_RUNNING = """migration:
  from: eu
  to: us
  state: running
  started_at: '2026-11-24T01:00:00+00:00'
  platform_domain: acme.mail.example.eu
  platform_zone_id: Z04EXAMPLEEU0001
  original_ttl: 3600
  steps:
    prepare.lower-ttl: {started_at: '2026-11-24T01:00:00+00:00', done_at: '2026-11-24T01:00:05+00:00'}
"""


def test_remove_refuses_tenant_in_migration(proj) -> None:
    path = proj.tenants / "acme.yaml"
    path.write_text(path.read_text() + MIGRATION_RUNNING)
    assert load_tenant_file(path)[1] == []  # a valid migration block
    before = proj.snapshot()
    for args in (("tenant", "remove", "acme"), ("tenant", "remove", "acme", "--yes")):
        result = proj.run(*args)
        # Only prepare.lower-ttl is done: the next step is in the "prepare" phase.
        assert_clean_failure(result, 1, "tenants/acme.yaml: migration", "being migrated", "phase 'prepare'")
        assert proj.snapshot() == before


def test_remove_refuses_raw_migration_block_even_if_invalid(proj) -> None:
    path = proj.tenants / "acme.yaml"
    path.write_text(path.read_text() + "migration:\n  phase: cutover\n")
    before = proj.snapshot()
    result = proj.run("tenant", "remove", "acme", "--yes")
    assert_clean_failure(result, 1, "tenants/acme.yaml: migration", "cutover")
    assert proj.snapshot() == before


def test_remove_allows_finished_migration(proj) -> None:
    path = proj.tenants / "acme.yaml"
    text = path.read_text().replace("region: eu", "region: us")
    done = MIGRATION_RUNNING.replace("state: running", "state: done") + (
        "    finalize: {started_at: '2026-11-24T02:00:00+00:00', done_at: '2026-11-24T02:00:01+00:00'}\n"
    )
    path.write_text(text + done)
    assert load_tenant_file(path)[1] == []
    result = proj.run("tenant", "remove", "acme", "--yes")
    assert result.returncode == 0, result.stderr
    assert "pulumi up -s us" in result.stdout
    assert not path.exists()


def test_global_dirs_options_from_another_directory(proj, tmp_path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    dirs = ("--tenants-dir", str(proj.tenants), "--stacks-dir", str(proj.root))
    added = proj.run(*dirs, "tenant", "add", "faraway", "--region", "us", "-m", "a", cwd=elsewhere)
    assert added.returncode == 0, added.stderr
    assert (proj.tenants / "faraway.yaml").is_file()
    assert list(elsewhere.iterdir()) == []
    listed = proj.run(*dirs, "tenant", "list", "-f", "json", cwd=elsewhere)
    assert "faraway" in [t["slug"] for t in json.loads(listed.stdout)["tenants"]]
    # Without the options, the current directory has no tenants directory.
    lost = proj.run("tenant", "add", "farther", "--region", "us", "-m", "a", cwd=elsewhere)
    assert_clean_failure(lost, 1, "tenants", "does not exist")


def test_add_json_output(proj) -> None:
    result = proj.run(
        "tenant", "add", "jsonco", "--region", "us", "-m", "a", "--sender-domain", "jsonco.example.org",
        "--outbound-service", "smtp", "--smtp-host", "smtp.jsonco.example.org", "--format", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["format"] == "mailfleet-tenant-add/1" and data["records"]["format"] == "mailfleet-records/1"
    assert data["file"] == "tenants/jsonco.yaml" and data["written"] is True and data["stack"] == "us"
    assert data["tenant"]["outbound"]["smtp"] == {
        "host": "smtp.jsonco.example.org",
        "port": 587,
        "egress_ips": [],
    }
    assert data["platform_addresses"] == ["a@jsonco.mail.example.com"]
    assert [r["purpose"] for r in data["records"]["records"]] == ["spf", "dkim", "dmarc"]
    assert data["allow_ips"] == {
        "smtp_host": "smtp.jsonco.example.org",
        "smtp_port": 587,
        "ips": ["198.51.100.20", "198.51.100.21"],
    }
    assert data["next"] == "pulumi preview -s us"
    assert (proj.tenants / "jsonco.yaml").is_file()


def test_unusable_lock_or_target_is_one_line_not_a_traceback(proj) -> None:
    (proj.tenants / ".mailfleet.lock").mkdir()  # the lock file cannot be opened
    result = proj.run("tenant", "add", "locked", "--region", "eu", "-m", "a")
    assert_clean_failure(result, 1, "tenants/.mailfleet.lock", "cannot take the lock")
    assert not (proj.tenants / "locked.yaml").exists()
    removal = proj.run("tenant", "remove", "acme", "--yes")
    assert_clean_failure(removal, 1, "tenants/.mailfleet.lock", "cannot take the lock")
    assert (proj.tenants / "acme.yaml").is_file()


def test_add_without_mailbox_is_one_line(proj) -> None:
    before = proj.snapshot()
    result = proj.run("tenant", "add", "x1", "--region", "eu")
    assert_clean_failure(result, 2, "--mailbox", "at least one")
    assert [line for line in result.stderr.splitlines() if line.startswith("--mailbox")] == [
        "--mailbox: at least one --mailbox is required (e.g. --mailbox support)"
    ]
    assert proj.snapshot() == before


def test_add_refuses_a_sender_domain_inside_a_platform_domain(proj) -> None:
    # `mailfleet validate` rejects such a file, so `tenant add` must not write it.
    before = proj.snapshot()
    for domain, platform in (
        ("mail.example.eu", "mail.example.eu"),
        ("x.mail.example.com", "mail.example.com"),
    ):
        result = proj.run(
            "tenant",
            "add",
            "x3",
            "--region",
            "eu",
            "--mailbox",
            "a",
            "--sender-domain",
            domain,
            "--dns",
            "manual",
        )
        line = assert_clean_failure(result, 1, "--sender-domain", f"inside the platform domain {platform}")
        assert line.startswith("--sender-domain: ")
        assert proj.snapshot() == before
    assert proj.run("validate").returncode == 0
