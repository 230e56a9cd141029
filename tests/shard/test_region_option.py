"""``--region eu|us`` means every stack of that region (its shards) for plan, diff, records,
check and residency; ``--stack NAME`` one of them; both at once is a usage error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli
from tests.diff.conftest import Repo
from tests.shard.conftest import shard_project

SLUG = "nordlys"  # an eu tenant with its own domain, moved onto eu-2


@pytest.fixture
def sharded_dir(project_dir: Path) -> Path:
    shard_project(project_dir, ("eu-1", "eu-2"), pin="eu-1")
    path = project_dir / "tenants" / f"{SLUG}.yaml"
    path.write_text(path.read_text().replace("stack: eu-1", "stack: eu-2"))
    return project_dir


def cli_json(cwd: Path, *args: str, code: int = 0) -> Any:
    result = run_cli(*args, "--format", "json", cwd=cwd)
    assert result.returncode == code, result.stderr
    return json.loads(result.stdout)


def eu_slugs(root: Path) -> list[str]:
    return sorted(p.stem for p in (root / "tenants").glob("*.yaml") if "region: eu" in p.read_text())


def test_plan(sharded_dir: Path) -> None:
    doc = cli_json(sharded_dir, "plan", "--region", "eu")
    by_stack = {s["stack"]: sorted(t["slug"] for t in s["tenants"]) for s in doc["stacks"]}
    assert by_stack == {"eu-1": [s for s in eu_slugs(sharded_dir) if s != SLUG], "eu-2": [SLUG]}
    assert [s["stack"] for s in cli_json(sharded_dir, "plan", "--region", "us")["stacks"]] == ["us"]
    both = run_cli("plan", "--stack", "eu-1", "--region", "eu", cwd=sharded_dir)
    assert both.returncode == 2 and both.stderr.strip() == "--region: not with --stack: give one of them"


def test_a_region_without_stacks_is_a_usage_error(project_dir: Path) -> None:
    (project_dir / "Pulumi.us.yaml").unlink()
    for p in (project_dir / "tenants").glob("*.yaml"):
        if "region: us" in p.read_text():
            p.unlink()
    result = run_cli("plan", "--region", "us", cwd=project_dir)
    assert result.returncode == 2 and result.stderr.strip() == "--region: no stack file serves region 'us'"


def test_diff(sharded_dir: Path) -> None:
    repo = Repo(sharded_dir)
    repo.git("init", "-q", "-b", "main")
    repo.commit("base")
    repo.edit(SLUG, "booking", "bookings")
    doc = cli_json(sharded_dir, "diff", "--base", "main", "--region", "eu")
    rows = {s["stack"]: s["rows"] for s in doc["stacks"]}
    assert set(rows) == {"eu-1", "eu-2"}
    assert rows["eu-1"] == [] and rows["eu-2"] and all(r["group"] == SLUG for r in rows["eu-2"])
    assert [
        s["stack"] for s in cli_json(sharded_dir, "diff", "--base", "main", "--region", "us")["stacks"]
    ] == ["us"]


def test_records(sharded_dir: Path) -> None:
    eu = cli_json(sharded_dir, "records", "--region", "eu")
    assert eu["format"] == "mailfleet-records-list/1"
    own = sorted(t["tenant"] for t in eu["tenants"])
    assert SLUG in own and set(own) <= set(eu_slugs(sharded_dir)) and len(own) >= 3
    assert [t["tenant"] for t in cli_json(sharded_dir, "records", "--stack", "eu-2")["tenants"]] == [SLUG]
    assert cli_json(sharded_dir, "records", "--stack", "eu-2")["tenants"][0]["stack"] == "eu-2"
    neither = run_cli("records", cwd=sharded_dir)
    assert neither.returncode == 2 and neither.stderr.startswith("SLUG: give a tenant SLUG")
    bind = run_cli("records", "--stack", "eu-2", "--format", "bind", cwd=sharded_dir)
    assert bind.returncode == 0 and "nordlys-reiser.no" in bind.stdout


def test_check(sharded_dir: Path) -> None:
    args = ("check", "--all", "--nameserver", "127.0.0.1:9", "--timeout", "0.05", "--retries", "0")
    eu2 = run_cli(*args, "--stack", "eu-2", "--format", "json", cwd=sharded_dir)
    assert [t["slug"] for t in json.loads(eu2.stdout)["tenants"]] == [SLUG]
    eu = run_cli(*args, "--region", "eu", "--format", "json", cwd=sharded_dir)
    assert sorted(t["slug"] for t in json.loads(eu.stdout)["tenants"]) == eu_slugs(sharded_dir)


def test_residency(sharded_dir: Path) -> None:
    assert [t["slug"] for t in cli_json(sharded_dir, "residency", "--stack", "eu-2")["tenants"]] == [SLUG]
    assert sorted(
        t["slug"] for t in cli_json(sharded_dir, "residency", "--region", "eu")["tenants"]
    ) == eu_slugs(sharded_dir)
