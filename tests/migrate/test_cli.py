"""``mailfleet migrate`` and ``mailfleet residency`` as real processes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from mailfleet.migrate.journal import TenantRunLock, export_path
from mailfleet.model.migration import STEP_NAMES
from tests.conftest import REPO, run_cli, tree_bytes
from tests.migrate.conftest import TEST_KEY_PASSPHRASE, World
from tests.migrate.mock_runner import DNS, SECRET_CONFIG


class Crash(Exception):
    pass


def crash_at(target: tuple[str, str]) -> Callable[[str, str, str], None]:
    def fault(slug: str, step: str, point: str) -> None:
        if (step, point) == target:
            raise Crash(f"{step}/{point}")

    return fault


def cli_env(world: World, **extra: str) -> dict[str, str]:
    return {
        **world.fake.env(),
        "MAILFLEET_MIGRATE_KEY_PASSPHRASE": TEST_KEY_PASSPHRASE,
        "MAILFLEET_ROOT": str(world.root),
        "MAILFLEET_STACK_RUNNER": "tests.migrate.mock_runner:from_env",
        "MAILFLEET_MOCK_STATE_DIR": str(world.root / ".state"),
        "MAILFLEET_MIGRATE_CHECK": "0",
        "MAILFLEET_MIGRATE_POLL_INTERVAL": "0.05",
        "MAILFLEET_MIGRATE_VERIFY_TIMEOUT": "1",
        "MAILFLEET_MIGRATE_MAX_TTL_WAIT": "0",
        "PYTHONPATH": str(REPO),
        **extra,
    }


def test_dry_run_prints_every_step_and_the_point_of_no_return_and_writes_nothing(project_dir: Path) -> None:
    before = tree_bytes(project_dir)
    result = run_cli("migrate", "harbor", "--to", "eu", "--dry-run", cwd=project_dir)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Migration plan for harbor: us -> eu (dry run, nothing changes)"
    numbered = [line.strip() for line in lines if re.match(r"^\s+\d+\. \S", line)]
    assert [n.split()[1] for n in numbered] == list(STEP_NAMES)
    assert numbered[4] == "5. cutover.release-source-domain  <== POINT OF NO RETURN"
    assert sum("POINT OF NO RETURN" in line for line in lines) == 2  # the marker and the summary
    assert (
        "- harbor.mail.example.com MX [our zone] = 10 mxa.mailgun.org | 10 mxb.mailgun.org  ->  10 mxa.eu.mailgun.org | 10 mxb.eu.mailgun.org"
        in result.stdout
    )
    assert "manual DNS: the customer lowers these TTLs now" in result.stdout
    assert tree_bytes(project_dir) == before

    as_json = run_cli(
        "migrate", "--from", "us", "--to", "eu", "--all", "--dry-run", "--format", "json", cwd=project_dir
    )
    doc = json.loads(as_json.stdout)
    assert doc["point_of_no_return"] == "cutover.release-source-domain"
    assert [t["slug"] for t in doc["tenants"]] == ["bluebird", "harbor", "lakeside", "redwood"]
    assert all([s["point_of_no_return"] for s in t["steps"]].count(True) == 1 for t in doc["tenants"])
    assert tree_bytes(project_dir) == before


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["bluebird", "--to", "eu"], "--yes: a move deletes"),
        (["bluebird"], "--to: is required"),
        (["--to", "eu"], "SLUG: give one or more"),
        (["--to", "eu", "--all"], "--from: is required with --all"),
        (["bluebird", "--to", "eu", "--all", "--from", "us"], "--all: give tenant SLUGs or --all"),
        (["nosuch", "--to", "eu", "--dry-run"], "SLUG: no tenant 'nosuch'"),
        (["acme", "--to", "eu", "--dry-run"], "--to: tenant 'acme' is already in 'eu'"),
        (["resume", "bluebird"], "--yes: resuming may pass"),
        (["abort", "bluebird"], "--yes: abort rewrites"),
        (["abort", "nosuch", "--yes"], "SLUG: no tenant 'nosuch'"),
        (["abort", "bluebird", "--yes"], "SLUG: no migration under way for 'bluebird'"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(project_dir: Path, args: list[str], flag: str) -> None:
    before = tree_bytes(project_dir)
    result = run_cli("migrate", *args, cwd=project_dir)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(flag), result.stderr
    assert "Traceback" not in result.stderr
    assert tree_bytes(project_dir) == before


def test_status_residency_abort_refused_then_resume_through_the_cli(make_world: Callable[..., World]) -> None:
    world = make_world(file_backed=True, tenants=("acme", "bluebird"))
    world.bootstrap()
    with pytest.raises(Crash):
        world.migrator(fault=crash_at(("cutover.wait-source-gone", "started"))).start(["bluebird"], "eu")
    env = cli_env(world)

    status = json.loads(run_cli("migrate", "status", "--format", "json", env=env).stdout)
    [entry] = status["tenants"]
    assert (entry["slug"], entry["next_step"], entry["point_of_no_return_passed"]) == (
        "bluebird",
        "cutover.wait-source-gone",
        True,
    )
    assert entry["steps_done"] == 5 and entry["export"]["routes"] == 2

    report = json.loads(run_cli("residency", "--format", "json", env=env).stdout)
    blue = next(t for t in report["tenants"] if t["slug"] == "bluebird")
    assert blue["region"] == "us" and blue["stored_mail"].startswith("none")
    assert {x["kind"] for x in blue["leftovers"]} == {"route"}
    assert report["summary"]["with_leftovers"] == 1
    live = json.loads(run_cli("residency", "--live", "--format", "json", env=env).stdout)
    blue_live = next(t for t in live["tenants"] if t["slug"] == "bluebird")
    live_routes = [x for x in blue_live["leftovers"] if x["kind"] == "route" and "(live" in x["detail"]]
    assert [x["region"] for x in live_routes] == ["us", "us"]

    refused = run_cli("migrate", "abort", "bluebird", "--yes", env=env)
    assert refused.returncode == 1
    assert (
        "past the point of no return" in refused.stderr
        and "mailfleet migrate resume bluebird" in refused.stderr
    )

    done = run_cli("migrate", "resume", "bluebird", "--yes", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:4] == [
        "bluebird: done",
        "1 done, 0 failed",
        "",
        "Report:",
    ]  # then the report
    md = run_cli("residency", "--format", "markdown", env=env).stdout
    row = next(line for line in md.splitlines() if line.startswith("| bluebird |"))
    assert (
        "| eu [done: us -> eu] | api.eu.mailgun.net | European Union (Mailgun EU region) | mxa.eu.mailgun.org, mxb.eu.mailgun.org |"
        in row
    )
    assert "stored-mail (us)" in row  # messages stored in the US before the move, up to 3 days
    # Secrets never reach files, state or output.
    everything = (
        "".join(p.read_text(errors="replace") for p in world.root.rglob("*") if p.is_file())
        + done.stdout
        + done.stderr
        + md
    )
    for secret in [world.fake.api_key, *[v for v in SECRET_CONFIG.values() if isinstance(v, str)]]:
        assert secret not in everything


def test_abort_before_the_point_of_no_return_restores_the_source(world: World) -> None:
    before = (world.tenants_dir / "bluebird.yaml").read_bytes()
    with pytest.raises(Crash):
        world.migrator(fault=crash_at(("export", "done"))).start(["bluebird"], "eu")
    assert export_path(world.tenants_dir, "bluebird").exists()
    us = world.runner.held("us")
    assert {r["inputs"]["ttl"] for r in us.values() if r["type"] in DNS and "bluebird-dns" in r["urn"]} == {
        60,
        3600,
    }
    world.migrator().abort("bluebird")
    assert (world.tenants_dir / "bluebird.yaml").read_bytes() == before
    assert not export_path(world.tenants_dir, "bluebird").exists()
    us = world.runner.held("us")
    assert {r["inputs"]["ttl"] for r in us.values() if r["type"] in DNS and "bluebird-dns" in r["urn"]} == {
        3600
    }
    assert world.domain_region("bluebird.mail.example.com") == "us"
    assert not [u for u in world.runner.held("eu") if "bluebird" in u]
    assert world.fake.count("DELETE", "/v3/domains/bluebird.mail.example.com") == 0


def test_a_second_migration_of_the_same_tenant_refuses(make_world: Callable[..., World]) -> None:
    world = make_world(file_backed=True)
    world.bootstrap()
    with pytest.raises(Crash):
        world.migrator(fault=crash_at(("export", "started"))).start(["bluebird"], "eu")
    file_before = (world.tenants_dir / "bluebird.yaml").read_bytes()
    with TenantRunLock(world.tenants_dir, "bluebird"):
        result = run_cli("migrate", "resume", "bluebird", "--yes", env=cli_env(world))
        [outcome] = world.migrator().resume(["bluebird"])
    assert result.returncode == 1
    assert (
        "bluebird: FAILED at start: tenant bluebird: another mailfleet migrate is running on this tenant"
        in result.stdout
    )
    assert not outcome.ok and "another mailfleet migrate is running" in outcome.message
    assert (world.tenants_dir / "bluebird.yaml").read_bytes() == file_before
    again = run_cli("migrate", "bluebird", "--to", "eu", "--yes", env=cli_env(world))
    assert again.returncode == 1 and "a move to eu is under way" in again.stdout


def test_batch_carries_on_past_a_failing_tenant_and_exits_1(make_world: Callable[..., World]) -> None:
    world = make_world(file_backed=True, tenants=("acme", "bluebird", "lakeside", "redwood"))
    world.bootstrap()
    # Mailgun never verifies lakeside's EU domain: it fails at verify, the others finish.
    world.fake.dns_checker = lambda name, body: (
        not name.startswith("lakeside.") and world.dns_valid(name, body)
    )
    result = run_cli(
        "migrate",
        "--from",
        "us",
        "--to",
        "eu",
        "--all",
        "--batch",
        "2",
        "--yes",
        "--format",
        "json",
        env=cli_env(world),
    )
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    by_slug = {t["slug"]: t for t in doc["tenants"]}
    assert sorted(by_slug) == ["bluebird", "lakeside", "redwood"]
    assert by_slug["bluebird"]["ok"] and by_slug["redwood"]["ok"]
    assert not by_slug["lakeside"]["ok"] and by_slug["lakeside"]["stopped_at"] == "verify"
    assert "lakeside.mail.example.com" in by_slug["lakeside"]["message"]
    assert doc["failed"] == 1
    assert world.domain_region("redwood-outdoors.com") == "eu"
