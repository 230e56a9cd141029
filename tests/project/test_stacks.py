"""Stacks are not regions: any stack names, found by ``mailfleet:region``, one or more stacks a region."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mailfleet.errors import InvalidData
from mailfleet.project import Project
from tests.conftest import run_cli


def _rename_stacks(project: Path, names: dict[str, str]) -> None:
    for old, new in names.items():
        (project / f"Pulumi.{old}.yaml").rename(project / f"Pulumi.{new}.yaml")


def test_any_stack_names_plan_by_name(project_dir: Path) -> None:
    _rename_stacks(project_dir, {"eu": "prod-eu", "us": "prod-us"})
    result = run_cli("plan", "--stack", "prod-eu", "--format", "json", cwd=project_dir)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert [(s["stack"], s["region"]) for s in doc["stacks"]] == [("prod-eu", "eu")]
    assert {t["slug"] for t in doc["stacks"][0]["tenants"]} == {
        p.stem for p in (project_dir / "tenants").glob("*.yaml") if "region: eu" in p.read_text()
    }


def test_unknown_stack_name_is_a_usage_error_naming_the_flag(project_dir: Path) -> None:
    _rename_stacks(project_dir, {"eu": "prod-eu", "us": "prod-us"})
    result = run_cli("plan", "--stack", "eu", cwd=project_dir)
    assert result.returncode == 2
    assert result.stderr.strip() == f"--stack: no stack file Pulumi.eu.yaml in {Path('.')}"


def test_migrate_dry_run_finds_stacks_by_region(project_dir: Path) -> None:
    _rename_stacks(project_dir, {"eu": "prod-eu", "us": "prod-us"})
    result = run_cli("migrate", "acme", "--to", "us", "--dry-run", "--format", "json", cwd=project_dir)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert [(t["slug"], t["from"], t["to"]) for t in doc["tenants"]] == [("acme", "eu", "us")]
    text = run_cli("migrate", "acme", "--to", "us", "--dry-run", cwd=project_dir)
    assert text.returncode == 0, text.stderr
    assert "4 DNS record(s) move from the prod-eu to the prod-us stack" in text.stdout


def test_records_and_tenant_add_name_the_stack_of_the_region(project_dir: Path) -> None:
    _rename_stacks(project_dir, {"eu": "prod-eu", "us": "prod-us"})
    added = run_cli(
        "tenant", "add", "newco", "--region", "us", "--mailbox", "hello", "--format", "json", cwd=project_dir
    )
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["stack"] == "prod-us"
    records = run_cli("records", "nordlys", "--format", "json", cwd=project_dir)
    assert records.returncode == 0, records.stderr
    assert json.loads(records.stdout)["stack"] == "prod-eu"


def test_a_copy_of_a_stack_file_declares_nothing_twice(project_dir: Path) -> None:
    """A copy Pulumi.eu-staging.yaml is a second shard of eu now: every eu tenant without a
    `stack:` is a problem (never placed silently), so no tenant is declared twice (a `pulumi up`
    of the copy would write a second SPF record into customers' zones)."""
    (project_dir / "Pulumi.eu-staging.yaml").write_bytes((project_dir / "Pulumi.eu.yaml").read_bytes())
    eu = sorted(p.name for p in (project_dir / "tenants").glob("*.yaml") if "region: eu" in p.read_text())
    for command in (("validate",), ("plan",), ("plan", "--stack", "eu")):
        result = run_cli(*command, cwd=project_dir)
        assert result.returncode == 1, (command, result.stderr)
        assert "Traceback" not in result.stderr
        lines = [line for line in result.stderr.splitlines() if ": stack: " in line]
        assert sorted(line.split(":")[0] for line in lines) == [f"tenants/{n}" for n in eu], result.stderr
        assert all("region 'eu' has 2 stacks (eu, eu-staging)" in line for line in lines)
        assert result.stdout == "" or command == ("validate",)


def test_shards_of_a_region_must_agree_on_its_settings(project_dir: Path) -> None:
    text = (project_dir / "Pulumi.eu.yaml").read_text()
    (project_dir / "Pulumi.eu-2.yaml").write_text(text.replace("mail.example.eu", "mail2.example.eu"))
    result = run_cli("validate", cwd=project_dir)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("Pulumi.eu-2.yaml")]
    assert lines == [
        "Pulumi.eu-2.yaml: config.mailfleet:platformDomain: 'mail2.example.eu' differs from stack 'eu' "
        "(Pulumi.eu.yaml: 'mail.example.eu'); the stacks of region 'eu' are its shards and must agree on "
        "every setting but mailfleet:shardCap",
        "Pulumi.eu-2.yaml: config.mailfleet:dmarcRua: 'mailto:dmarc-reports@mail2.example.eu' differs from "
        "stack 'eu' (Pulumi.eu.yaml: 'mailto:dmarc-reports@mail.example.eu'); the stacks of region 'eu' are "
        "its shards and must agree on every setting but mailfleet:shardCap",
    ], result.stderr


def test_stack_for_region_and_stacks_declaring(project_dir: Path) -> None:
    _rename_stacks(project_dir, {"eu": "b-eu", "us": "a-us"})
    project = Project.load(project_dir / "tenants", project_dir)
    assert project.stack_for_region("eu").name == "b-eu"
    assert project.stack_for_region("us").name == "a-us"
    assert [s.name for s in project.stacks_declaring(project.tenants["acme"])] == ["b-eu"]
    assert project.records_stack(project.tenants["acme"]).name == "b-eu"


def test_no_stack_of_a_region(project_dir: Path) -> None:
    (project_dir / "Pulumi.us.yaml").unlink()
    for p in (project_dir / "tenants").glob("*.yaml"):
        if "region: us" in p.read_text():
            p.unlink()
    project = Project.load(project_dir / "tenants", project_dir)
    with pytest.raises(InvalidData) as exc:
        project.stack_for_region("us")
    assert exc.value.lines() == [
        f"{project_dir}: no stack file serves region 'us' (mailfleet:region in Pulumi.<stack>.yaml)"
    ]
