"""mailfleet.manager.Manager: the application API returns data and problems, never prints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mailfleet.errors import UsageError
from mailfleet.manager import Manager
from tests.conftest import run_cli

BROKEN_JOURNAL = (
    "migration:\n  from: us\n  to: eu\n  phase: cutover\n  steps: {prepare.nap: {started_at: x}}\n"
)


def test_plan_returns_states_of_each_stack(project_dir: Path) -> None:
    api = Manager(project_dir / "tenants", project_dir)
    states = api.plan()
    assert [(s.stack, s.region) for s in states] == [("eu", "eu"), ("us", "us")]
    assert [s.stack for s in api.plan("us")] == ["us"]


def test_parameter_problems_name_the_parameter_not_a_flag(project_dir: Path) -> None:
    api = Manager(project_dir / "tenants", project_dir)
    with pytest.raises(UsageError) as exc:
        api.check_targets(["nope"])
    assert [(p.where, p.field) for p in exc.value.problems] == [("", "slugs")]
    with pytest.raises(UsageError) as exc:
        api.migration_plans(["acme"], "eu")
    assert [(p.where, p.field, p.message) for p in exc.value.problems] == [
        ("", "to", "tenant 'acme' is already in 'eu'")
    ]


def test_a_journal_that_fails_validation_still_shows_as_moving(project_dir: Path) -> None:
    path = project_dir / "tenants" / "bluebird.yaml"
    path.write_text(path.read_text() + BROKEN_JOURNAL)
    rows = Manager(project_dir / "tenants", project_dir).migration_status()
    assert [(r["slug"], r["state"], r["from"], r["to"], r["phase"]) for r in rows] == [
        ("bluebird", "invalid", "us", "eu", "cutover")
    ]
    assert any("prepare.nap" in p for p in rows[0]["problems"])

    result = run_cli("migrate", "status", "--format", "json", cwd=project_dir)
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)["tenants"]
    assert row["slug"] == "bluebird" and row["state"] == "invalid"
    text = run_cli("migrate", "status", cwd=project_dir)
    assert text.stdout.startswith("bluebird: us -> eu MOVING, journal invalid (phase cutover): ")
    one = run_cli("migrate", "status", "bluebird", cwd=project_dir)
    assert one.returncode == 0 and one.stdout.startswith("bluebird: us -> eu MOVING")
    # ...and it is never removed as if idle.
    removed = run_cli("tenant", "remove", "bluebird", "--yes", cwd=project_dir)
    assert removed.returncode == 1
    assert "is being migrated (phase 'cutover')" in removed.stderr
    assert path.exists()


def test_stacks_are_found_by_region_and_by_tenant(project_dir: Path) -> None:
    for old, new in (("eu", "prod-eu"), ("us", "prod-us")):
        (project_dir / f"Pulumi.{old}.yaml").rename(project_dir / f"Pulumi.{new}.yaml")
    api = Manager(project_dir / "tenants", project_dir)
    assert api.stack_for_region("us").name == "prod-us"
    assert [s.name for s in api.stacks_declaring("acme")] == ["prod-eu"]
    path = project_dir / "tenants" / "bluebird.yaml"
    path.write_text(
        path.read_text()
        + "migration:\n  from: us\n  to: eu\n  started_at: '2026-11-29T20:00:00Z'\n"
        + "  platform_domain: bluebird.mail.example.com\n  platform_zone_id: Z0US\n"
        + "  original_ttl: 3600\n  lowered_ttl: 60\n"
    )
    # A move that has started no step yet: only the source stack declares the tenant.
    assert [s.name for s in api.stacks_declaring("bluebird")] == ["prod-us"]
    path.write_text(
        path.read_text() + "  steps:\n    cutover.create-target: {started_at: '2026-11-29T21:00:00Z'}\n"
    )
    # Once the target is being created, both stacks declare parts of it (the source its routes).
    assert [s.name for s in api.stacks_declaring("bluebird")] == ["prod-eu", "prod-us"]
