"""Shards in the project: each tenant declared by exactly one stack of its region; placement
written when a tenant is added, never recomputed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mailfleet.desired.shards import propose
from mailfleet.errors import InvalidData
from mailfleet.project import Project
from tests.conftest import run_cli
from tests.shard.conftest import shard_project


def _add(project_dir: Path, slug: str, *extra: str) -> dict:
    result = run_cli(
        "tenant",
        "add",
        slug,
        "--region",
        "eu",
        "--mailbox",
        "hello",
        "--format",
        "json",
        *extra,
        cwd=project_dir,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_every_tenant_is_declared_by_exactly_the_stack_it_names(project_dir: Path) -> None:
    shard_project(project_dir, ("eu-1", "eu-2"), pin="eu-1")
    (project_dir / "tenants" / "acme.yaml").write_text(
        (project_dir / "tenants" / "acme.yaml").read_text().replace("stack: eu-1", "stack: eu-2")
    )
    project = Project.load(project_dir / "tenants", project_dir)
    declared = {s: sorted(t.slug for t in st.tenants) for s, st in project.states.items()}
    eu = sorted(s for s, t in project.tenants.items() if t.region == "eu")
    assert declared["eu-2"] == ["acme"]
    assert declared["eu-1"] == [s for s in eu if s != "acme"]
    assert project.stack_for_region("eu", project.tenants["acme"]).name == "eu-2"
    assert project.records_stack(project.tenants["acme"]).name == "eu-2"
    assert project.counts() == {"eu-1": len(eu) - 1, "eu-2": 1, "us": len(project.tenants) - len(eu)}


def test_tenant_add_writes_the_proposed_stack_and_prints_it(project_dir: Path) -> None:
    shard_project(project_dir, ("eu-1", "eu-2"), pin="eu-1")
    project = Project.load(project_dir / "tenants", project_dir)
    expected = propose("newco", project.stacks_of_region("eu"), project.counts())
    doc = _add(project_dir, "newco")
    assert doc["stack"] == expected
    assert f"\nstack: {expected}\n" in (project_dir / "tenants" / "newco.yaml").read_text()
    text = run_cli(
        "tenant", "add", "other", "--region", "eu", "--mailbox", "hi", "--dry-run", cwd=project_dir
    )
    assert text.returncode == 0, text.stderr
    assert "Next: pulumi preview -s eu-" in text.stdout
    # --stack picks one explicitly; a stack of another region is refused, naming the flag.
    assert _add(project_dir, "third", "--stack", "eu-1")["stack"] == "eu-1"
    bad = run_cli(
        "tenant", "add", "fourth", "--region", "eu", "--mailbox", "x", "--stack", "us", cwd=project_dir
    )
    assert bad.returncode == 2
    assert bad.stderr.strip() == "--stack: 'us' is not a stack of region 'eu' (it serves region 'us')"


def test_tenant_add_respects_caps_and_says_when_every_shard_is_full(project_dir: Path) -> None:
    shard_project(project_dir, ("eu-1", "eu-2"), pin="eu-1")
    eu = sum(1 for p in (project_dir / "tenants").glob("*.yaml") if "region: eu" in p.read_text())
    for name, cap in (("eu-1", eu), ("eu-2", 1)):
        path = project_dir / f"Pulumi.{name}.yaml"
        path.write_text(path.read_text() + f"  mailfleet:shardCap: {cap}\n")
    assert _add(project_dir, "newco")["stack"] == "eu-2"  # eu-1 is full whatever the hash says
    full = run_cli("tenant", "add", "more", "--region", "eu", "--mailbox", "x", cwd=project_dir)
    assert full.returncode == 1
    assert full.stderr.strip() == (
        f"{Path('.')}: config.mailfleet:shardCap: every stack of region 'eu' is at its cap "
        f"(eu-1 {eu}/{eu}, eu-2 1/1): add a shard (docs/sharding.md)"
    )
    assert not (project_dir / "tenants" / "more.yaml").exists()


def test_a_stack_field_naming_no_stack_or_another_region(project_dir: Path) -> None:
    path = project_dir / "tenants" / "acme.yaml"
    text = path.read_text()
    path.write_text(text.replace("region: eu\n", "region: eu\nstack: eu-9\n"))
    result = run_cli("validate", cwd=project_dir)
    assert result.returncode == 1
    assert "tenants/acme.yaml: stack: no stack file Pulumi.eu-9.yaml" in result.stderr.splitlines()
    path.write_text(text.replace("region: eu\n", "region: eu\nstack: us\n"))
    result = run_cli("validate", cwd=project_dir)
    assert "tenants/acme.yaml: stack: stack 'us' serves region 'us', the tenant is in 'eu'" in result.stderr
    path.write_text(text.replace("region: eu\n", "region: eu\nstack: eu\n"))
    assert run_cli("validate", cwd=project_dir).returncode == 0


def test_single_stack_projects_are_unchanged(project_dir: Path) -> None:
    """Tenants without a stack field, one stack per region: plan as before issue 13."""
    plan = json.loads(run_cli("plan", "--format", "json", cwd=project_dir).stdout)
    by_stack = {s["stack"]: sorted(t["slug"] for t in s["tenants"]) for s in plan["stacks"]}
    files = {p.stem: p.read_text() for p in (project_dir / "tenants").glob("*.yaml")}
    assert all("stack:" not in text for text in files.values())
    assert by_stack == {
        "eu": sorted(s for s, t in files.items() if "region: eu" in t),
        "us": sorted(s for s, t in files.items() if "region: us" in t),
    }


def test_a_shards_program_reads_only_the_files_that_can_concern_it(project_dir: Path) -> None:
    shard_project(project_dir, ("eu-1", "eu-2"), pin="eu-1")
    tenants = project_dir / "tenants"
    (tenants / "acme.yaml").write_text(
        (tenants / "acme.yaml").read_text().replace("stack: eu-1", "stack: eu-2")
    )
    full = Project.load(tenants, project_dir)
    # A file on another shard is not even parsed by eu-1's program (validate still reports it).
    (tenants / "zz-other.yaml").write_text("stack: eu-2\nslug: [not, valid\n")
    scoped = Project.load_for_stack(tenants, project_dir, "eu-1")
    assert list(scoped.states) == ["eu-1"]
    assert scoped.states["eu-1"] == full.states["eu-1"]
    assert "acme" not in scoped.tenants and "zz-other" not in scoped.tenants
    assert run_cli("validate", cwd=project_dir).returncode == 1
    # eu-2's program reads the broken file (it names eu-2) and refuses, one problem per line.
    with pytest.raises(InvalidData) as exc:
        Project.load_for_stack(tenants, project_dir, "eu-2")
    assert any("zz-other.yaml" in line for line in exc.value.lines())
    # A file with a move under way is read whatever its stack line says.
    (tenants / "zz-other.yaml").unlink()
    single = Project.load_for_stack(tenants, project_dir, "us")
    assert single.states["us"] == full.states["us"]
