"""`mailfleet tenant adopt` and `tenant add --adopt` as real processes against Knot (and the
Cloudflare fake): output, the JSON document, drift, failures, and what is (not) written."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mailfleet.model.load import load_tenant_file
from tests.adopt.conftest import (
    CF_ZONE_ID,
    CUSTOMERS,
    GOOGLE_SPF,
    GOOGLE_VERIFY,
    GSUITE_DMARC,
    MICROSOFT_SPF,
    MS_VERIFY,
    OFFICE_DMARC,
    World,
    seed_flare,
    zones,
)
from tests.check.knot import KnotServer, free_port
from tests.cli.conftest import assert_clean_failure
from tests.conftest import REPO, run_cli, tree_bytes
from tests.fakes.cloudflare_server import FakeCloudflare

pytestmark = pytest.mark.knot  # every test here reads a real Knot server

NS_53 = ("--nameserver", "127.0.0.1:53")
MERGED_MS = "v=spf1 include:spf.protection.outlook.com include:mailgun.org -all"


def adopt(world: World, *args: str, ns: str | None = None, env: dict[str, str] | None = None):
    return run_cli("tenant", "adopt", *args, "--nameserver", ns or world.ns, cwd=world.project, env=env)


def test_help_names_every_option(world: World) -> None:
    text = run_cli("tenant", "adopt", "--help", cwd=world.project).stdout
    for option in ("--nameserver", "--dry-run", "--yes", "--format", "IP[:PORT]"):
        assert option in text
    add = run_cli("tenant", "add", "--help", cwd=world.project).stdout
    assert "--adopt" in add and "--nameserver" in add


def test_text_shows_what_was_found_and_what_replaces_it(world: World) -> None:
    result = adopt(world, "office")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"office.no                       TXT   {MICROSOFT_SPF}" in out
    assert MS_VERIFY in out and OFFICE_DMARC in out
    assert "mailfleet._domainkey.office.no  TXT   nothing (NXDOMAIN)" in out
    assert "mailfleet will publish instead:" in out
    assert f"Replace your SPF record at office.no (TXT) with: {MERGED_MS}" in out
    assert "Replace your DMARC record at _dmarc.office.no (TXT) with: v=DMARC1; p=reject;" in out
    assert "Wrote adopted.dns to tenants/office.yaml" in out
    tenant, problems = load_tenant_file(world.tenants / "office.yaml")
    assert problems == [] and tenant is not None and tenant.adopted is not None
    assert tenant.adopted.dns is not None
    assert tenant.adopted.dns.find("office.no", "TXT").values == [MICROSOFT_SPF, MS_VERIFY]  # type: ignore[union-attr]
    # The hand-written comment at the top stays.
    assert (world.tenants / "office.yaml").read_text().startswith("# A Microsoft 365 customer")
    assert run_cli("validate", cwd=world.project).returncode == 0


def test_json_is_versioned_and_complete(world: World) -> None:
    result = adopt(world, "gsuite", "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["format"] == "mailfleet-adopt/1"
    assert (doc["tenant"], doc["status"], doc["written"], doc["dns"]) == (
        "gsuite",
        "written",
        True,
        "route53",
    )
    found = {(f["name"], f["type"]): f for f in doc["found"]}
    assert found[("gsuite.no", "TXT")]["values"] == [GOOGLE_SPF, GOOGLE_VERIFY]
    assert found[("gsuite.no", "TXT")]["ids"] is None
    assert found[("mailfleet._domainkey.gsuite.no", "TXT")]["status"] == "nxdomain"
    publish = {p["purpose"]: p for p in doc["publish"]}
    assert publish["spf"]["values"][0] == "v=spf1 include:_spf.google.com include:mailgun.org ~all"
    assert publish["spf"]["import_id"] == "Z0GSUITE000001_gsuite.no_TXT"
    assert publish["dmarc"]["replaces"] == [GSUITE_DMARC]
    assert doc["adopted"]["records"][0]["values"] == [GOOGLE_SPF, GOOGLE_VERIFY]
    assert doc["drift"] == [] and doc["manual"] == []


def test_dry_run_writes_nothing(world: World) -> None:
    before = tree_bytes(world.tenants)
    result = adopt(world, "gsuite", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "dry run: nothing written" in result.stderr
    assert tree_bytes(world.tenants) == before


def test_drift_is_shown_and_written_only_with_yes(world: World, tmp_path: Path) -> None:
    assert adopt(world, "gsuite").returncode == 0
    adopted = (world.tenants / "gsuite.yaml").read_bytes()
    changed = dict(CUSTOMERS["gsuite.no"])
    new_spf = "v=spf1 include:_spf.google.com include:sendgrid.net ~all"
    changed[("gsuite.no", "TXT")] = [new_spf, GOOGLE_VERIFY, "MS=ms99"]
    with KnotServer(tmp_path / "knot-drift", zones({"gsuite.no": changed})) as knot:
        refused = adopt(world, "gsuite", ns=knot.nameserver)
        line = assert_clean_failure(refused, 1, "tenants/gsuite.yaml", "adopted.dns", "--yes")
        assert "not written: live values differ from the snapshot" in line
        assert len(refused.stderr.strip().splitlines()) == 1
        assert f"gsuite.no TXT: changed '{GOOGLE_SPF}' -> '{new_spf}'" in refused.stdout
        assert "gsuite.no TXT: added 'MS=ms99'" in refused.stdout
        assert (world.tenants / "gsuite.yaml").read_bytes() == adopted

        as_json = adopt(world, "gsuite", "--format", "json", ns=knot.nameserver)
        assert as_json.returncode == 1
        doc = json.loads(as_json.stdout)
        assert doc["status"] == "drift" and doc["written"] is False
        assert doc["drift"] == [
            {
                "name": "gsuite.no",
                "type": "TXT",
                "added": ["MS=ms99"],
                "removed": [],
                "changed": [{"from": GOOGLE_SPF, "to": new_spf}],
            }
        ]

        accepted = adopt(world, "gsuite", "--yes", ns=knot.nameserver)
        assert accepted.returncode == 0, accepted.stderr
    data = yaml.safe_load((world.tenants / "gsuite.yaml").read_text())
    apex = next(r for r in data["adopted"]["dns"]["records"] if r["name"] == "gsuite.no")
    assert apex["values"] == [new_spf, "MS=ms99", GOOGLE_VERIFY]


def test_the_same_values_again_write_nothing(world: World) -> None:
    assert adopt(world, "gsuite").returncode == 0
    adopted = (world.tenants / "gsuite.yaml").read_bytes()
    again = adopt(world, "gsuite")
    assert again.returncode == 0, again.stderr
    assert "Unchanged since the snapshot of" in again.stdout
    assert (world.tenants / "gsuite.yaml").read_bytes() == adopted


def test_a_timeout_exits_1_and_writes_nothing(world: World) -> None:
    silent = f"127.0.0.1:{free_port('127.0.0.1')}"
    before = tree_bytes(world.tenants)
    result = run_cli(
        "tenant",
        "adopt",
        "gsuite",
        "--nameserver",
        silent,
        "--timeout",
        "0.2",
        "--retries",
        "0",
        cwd=world.project,
    )
    assert_clean_failure(result, 1, f"nameserver {silent}", "no answer for", "nothing written")
    assert len(result.stderr.strip().splitlines()) == 1
    assert tree_bytes(world.tenants) == before


def test_an_unreachable_nameserver_exits_1_and_writes_nothing(world: World) -> None:
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-n", "true"]).returncode != 0:
        pytest.skip("unshare -n (a network namespace without interfaces) is not available here")
    before = tree_bytes(world.tenants)
    proc = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "mailfleet", "tenant", "adopt", "gsuite", *NS_53],
        cwd=world.project,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert_clean_failure(proc, 1, "nameserver 127.0.0.1:53", "no route to nameserver", "nothing written")
    assert tree_bytes(world.tenants) == before


def test_two_spf_records_exit_1_with_one_line(world: World) -> None:
    before = tree_bytes(world.tenants)
    result = adopt(world, "twospf")
    assert_clean_failure(result, 1, "twospf.no TXT", "2 SPF records", "delete all but one first")
    assert tree_bytes(world.tenants) == before


def test_usage_errors_exit_2(world: World) -> None:
    bad = run_cli("tenant", "adopt", "gsuite", "--nameserver", "ns1.example.com", cwd=world.project)
    assert_clean_failure(bad, 2, "--nameserver", "host names are not accepted")
    plain = adopt(world, "acme")
    assert_clean_failure(plain, 2, "SLUG", "no sender_domain")
    missing = adopt(world, "nobody")
    assert_clean_failure(missing, 1, "nobody.yaml", "no tenant")


def test_cloudflare_ids_are_written_and_the_token_never_shows(world: World) -> None:
    with FakeCloudflare(echo=True, echo_into=("result.*.name",)) as fake:
        ids = seed_flare(fake)
        result = adopt(world, "flare", env=fake.env())
        assert result.returncode == 0, result.stderr
        found = [line.split() for line in result.stdout.splitlines() if line.startswith("  flare.no ")]
        assert ["flare.no", "TXT", *GOOGLE_SPF.split(), ids["spf"]] in found
        text = (world.tenants / "flare.yaml").read_text()
        for rid in ids.values():
            assert rid in text
        assert f"source: nameserver {world.ns} + cloudflare api" in text
        # A listing Cloudflare answers with a fault: one line, exit 1, no token anywhere.
        fake.inject(403, count=10)
        failed = adopt(world, "flare", "--format", "json", env=fake.env())
        assert_clean_failure(failed, 1, f"cloudflare zone {CF_ZONE_ID}", "nothing written")
        for output in (result.stdout, result.stderr, failed.stdout, failed.stderr, text):
            assert fake.token not in output


# -- tenant add --adopt ---------------------------------------------------------------------


def add(world: World, slug: str, *args: str):
    return run_cli(
        "tenant", "add", slug, "--region", "eu", "-m", "post", *args, "--adopt", "--nameserver", world.ns,
        cwd=world.project,
    )  # fmt: skip


def test_add_adopt_writes_a_valid_file_without_a_policy_when_dmarc_was_adopted(world: World) -> None:
    (world.tenants / "office.yaml").unlink()  # office.no is free for a new tenant
    result = add(world, "office2", "--sender-domain", "office.no", "--dns", "manual")
    assert result.returncode == 0, result.stderr
    assert f"Replace your SPF record at office.no (TXT) with: {MERGED_MS}" in result.stdout
    assert "Created tenants/office2.yaml" in result.stdout
    path = world.tenants / "office2.yaml"
    tenant, problems = load_tenant_file(path)
    assert problems == [] and tenant is not None
    assert tenant.dmarc.policy is None
    assert "policy:" not in path.read_text()
    assert tenant.adopted is not None and tenant.adopted.dns is not None
    assert tenant.adopted.dns.find("_dmarc.office.no", "TXT").values == [OFFICE_DMARC]  # type: ignore[union-attr]
    assert run_cli("validate", cwd=world.project).returncode == 0


def test_add_adopt_with_nothing_there_writes_the_default_policy(world: World) -> None:
    result = add(world, "bare", "--sender-domain", "bare.no", "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["written"] is True and doc["adopt"]["format"] == "mailfleet-adopt/1"
    assert doc["adopt"]["adopted"]["records"] == []
    text = (world.tenants / "bare.yaml").read_text()
    assert "policy: quarantine" in text and "adopted:" in text


def test_add_adopt_dry_run_and_usage(world: World) -> None:
    (world.tenants / "office.yaml").unlink()
    before = tree_bytes(world.tenants)
    dry = add(world, "office2", "--sender-domain", "office.no", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "adopted:" in dry.stdout and "dry run: nothing written" in dry.stderr
    assert tree_bytes(world.tenants) == before
    no_domain = add(world, "plain")
    assert_clean_failure(no_domain, 2, "--adopt", "needs a sender domain")
    stray = run_cli(
        "tenant", "add", "x", "--region", "eu", "-m", "a", "--nameserver", world.ns, cwd=world.project
    )
    assert_clean_failure(stray, 2, "--nameserver", "only applies with --adopt")
    assert tree_bytes(world.tenants) == before
