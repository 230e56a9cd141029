"""What the operator sees: the dry run's ETA and gap estimate, the typed confirmation at the
point of no return, and the final report per tenant (table and JSON), as processes."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mailfleet.migrate.journal import Journal
from mailfleet.migrate.report import tenant_calls
from mailfleet.model.migration import POINT_OF_NO_RETURN, epoch
from mailfleet.project import load_stacks
from tests.conftest import REPO, run_cli, tree_bytes
from tests.migrate.conftest import TEST_KEY_PASSPHRASE, World


def _env(world: World, **extra: str) -> dict[str, str]:
    return {
        **world.fake.env(),
        "MAILFLEET_MIGRATE_KEY_PASSPHRASE": TEST_KEY_PASSPHRASE,
        "MAILFLEET_ROOT": str(world.root),
        "MAILFLEET_STACK_RUNNER": "tests.migrate.mock_runner:from_env",
        "MAILFLEET_MOCK_STATE_DIR": str(world.root / ".state"),
        "MAILFLEET_MIGRATE_CHECK": "0",
        "MAILFLEET_MIGRATE_POLL_INTERVAL": "0.05",
        "MAILFLEET_MIGRATE_VERIFY_TIMEOUT": "5",
        "MAILFLEET_MIGRATE_MAX_TTL_WAIT": "0",
        "PYTHONPATH": str(REPO),
        **extra,
    }


def _dry(project_dir: Path, *args: str, **env: str) -> dict:
    result = run_cli(
        "migrate", "bluebird", "--to", "eu", "--dry-run", "-f", "json", *args, cwd=project_dir, env=env
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["estimate"]


def test_dry_run_shows_eta_and_gap_and_how_they_are_computed(project_dir: Path) -> None:
    before = tree_bytes(project_dir)
    table = run_cli("migrate", "bluebird", "harbor", "--to", "eu", "--dry-run", cwd=project_dir)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    eta = next(line for line in lines if line.startswith("ETA: about "))
    assert "TTL wait 3600 s per batch" in eta and "delete delay 60 s (assumed: Mailgun documents none)" in eta
    assert "at 300/min" in eta
    gap = next(line for line in lines if line.startswith("Inbound gap: about "))
    assert "resolvers may keep the old MX up to 60 s (the lowered TTL)" in gap
    assert (
        "Not included: manual-DNS customers publishing records (harbor): prepare.dkim and verify wait"
        in lines
    )
    assert tree_bytes(project_dir) == before  # a dry run writes nothing

    base = _dry(project_dir)
    assert base["basis"]["assumed_delete_delay_seconds"] == 60 and base["basis"]["ttl_wait_seconds"] == 3600
    # The terms move as they should: the delete delay assumption goes into both figures...
    slow = _dry(project_dir, MAILFLEET_MIGRATE_ASSUME_DELETE_DELAY="300")
    assert slow["inbound_gap_seconds"] - base["inbound_gap_seconds"] == pytest.approx(240)
    assert slow["eta_seconds"] - base["eta_seconds"] == pytest.approx(240)
    # ...the rate limit scales the call time, the TTL cap the wait.
    fast = _dry(project_dir, "--rate", "600")
    assert fast["basis"]["rate_limit_seconds"] == pytest.approx(
        base["basis"]["rate_limit_seconds"] / 2, abs=0.1
    )
    assert base["eta_seconds"] - fast["eta_seconds"] == pytest.approx(
        base["basis"]["rate_limit_seconds"] / 2, abs=0.2
    )
    capped = _dry(project_dir, MAILFLEET_MIGRATE_MAX_TTL_WAIT="0")
    assert base["eta_seconds"] - capped["eta_seconds"] == pytest.approx(3600)
    bad = run_cli(
        "migrate", "bluebird", "--to", "eu", "--dry-run", cwd=project_dir,
        env={"MAILFLEET_MIGRATE_ASSUME_DELETE_DELAY": "soon"},
    )  # fmt: skip
    assert bad.returncode == 2 and bad.stderr.strip().endswith("must be a number of seconds")
    assert "Traceback" not in bad.stderr


@pytest.mark.tenants("acme", "bluebird")
def test_the_call_count_behind_the_eta_matches_a_real_move(world: World) -> None:
    """The estimate counts a move's Mailgun calls from the model; a move against the fake makes
    about that many (within a quarter)."""
    stacks = load_stacks(world.tenants_dir, world.root)
    tenant = Journal(world.tenants_dir, "bluebird").load()
    counted = tenant_calls(tenant, stacks.stack_for_region("us"), stacks.stack_for_region("eu")).total
    world.fake.reset_log()
    [outcome] = world.migrator().start(["bluebird"], "eu")
    assert outcome.ok, outcome
    made = len(world.fake.calls)
    print(f"\nMailgun calls of bluebird's move: counted {counted}, made {made}")
    assert abs(made - counted) <= 0.25 * made, (made, counted)


def _run_on_a_terminal(args: list[str], env: dict[str, str], typed: str) -> subprocess.CompletedProcess[str]:
    """``mailfleet ARGS`` with a terminal on stdin, on which ``typed`` is already waiting."""
    master, slave = pty.openpty()
    try:
        os.write(master, typed.encode())
        proc = subprocess.run(
            [sys.executable, "-m", "mailfleet", *args],
            stdin=slave,
            cwd=REPO,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=180,
        )
    finally:
        os.close(slave)
        os.close(master)
    return proc


def test_typed_confirmation_at_the_point_of_no_return(make_world: Callable[..., World]) -> None:
    world = make_world(file_backed=True)
    world.bootstrap()
    env = _env(world)
    # A wrong answer: everything before the point of no return happened, nothing after.
    refused = _run_on_a_terminal(["migrate", "bluebird", "--to", "eu"], env, "blue bird\n")
    assert refused.returncode == 1, refused.stderr
    assert "POINT OF NO RETURN: the next step deletes the Mailgun domain(s) of bluebird" in refused.stderr
    assert "Type 'bluebird' to go on" in refused.stderr
    assert "bluebird: FAILED at cutover.release-source-domain: not confirmed" in refused.stdout
    assert "Traceback" not in refused.stderr
    m = Journal(world.tenants_dir, "bluebird").load().migration
    assert m is not None and m.next_step == POINT_OF_NO_RETURN and not m.point_of_no_return_passed
    assert world.domain_region("bluebird.mail.example.com") == "us"
    assert world.fake.count("DELETE", "/v3/domains/bluebird.mail.example.com", "us") == 0

    # Not on a terminal and no --yes: refused before anything (exit 2).
    piped = run_cli("migrate", "acme", "--to", "us", env=env)
    assert piped.returncode == 2 and "--yes:" in piped.stderr and "terminal" in piped.stderr
    assert Journal(world.tenants_dir, "acme").load().migration is None

    # The slug typed: the move goes on past the point of no return to the end.
    world2 = make_world(file_backed=True)
    world2.bootstrap()
    done = _run_on_a_terminal(["migrate", "bluebird", "--to", "eu"], _env(world2), "bluebird\n")
    assert done.returncode == 0, done.stderr
    assert "confirmed" in done.stderr and "bluebird: done" in done.stdout
    assert world2.domain_region("bluebird.mail.example.com") == "eu"


def test_final_report_per_tenant_in_table_and_json(make_world: Callable[..., World]) -> None:
    world = make_world(file_backed=True)
    world.bootstrap()
    env = _env(world)
    run = run_cli("migrate", "bluebird", "--to", "eu", "--yes", "-f", "json", env=env)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["format"] == "mailfleet-migrate-result/1"
    [entry] = result["reports"]

    again = run_cli("migrate", "report", "bluebird", "-f", "json", env=env)
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["format"] == "mailfleet-migrate-report/1"
    assert report["tenants"] == [entry]
    assert (entry["slug"], entry["from"], entry["to"], entry["state"]) == ("bluebird", "us", "eu", "done")
    assert set(entry["phases"]) == {"prepare", "export", "cutover", "dns", "verify", "finalize"}
    assert all(isinstance(v, int | float) and v >= 0 for v in entry["phases"].values())
    assert entry["duration_seconds"] >= max(entry["phases"].values())
    # The gap the engine measured into the journal (source delete accepted -> target live).
    m = Journal(world.tenants_dir, "bluebird").load().migration
    assert m is not None and m.inbound_gap is not None and m.inbound_gap.seconds is not None
    assert entry["inbound_gap_seconds"] == m.inbound_gap.seconds > 0
    assert entry["resolver_cache_seconds"] == 60
    kinds = [f["kind"] for f in entry["follow_ups"]]
    assert kinds == ["dkim", "stored-mail"]
    stored = entry["follow_ups"][1]
    assert epoch(stored["until"]) - epoch(entry["point_of_no_return_at"]) == 3 * 86400
    assert "stay stored in us" in stored["what"]
    assert (
        "mailfleet-eu._domainkey.bluebird.mail.example.com TXT is the signing key now"
        in entry["follow_ups"][0]["what"]
    )

    table = run_cli("migrate", "report", env=env)
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].startswith("bluebird: us -> eu done, ")
    assert "  phases: prepare " in table.stdout
    assert (
        f"  inbound gap: {m.inbound_gap.seconds:.1f} s (measured); then resolvers may keep the old MX up to 60 s"
        in table.stdout
    )
    assert "  follow-up (stored-mail): messages received before " in table.stdout
    unknown = run_cli("migrate", "report", "nosuch", env=env)
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr
    assert unknown.stderr.strip() == "slugs: no tenant 'nosuch'" or "no tenant 'nosuch'" in unknown.stderr


@pytest.mark.tenants("harbor", "fjordbank")
def test_manual_dns_report_tells_what_the_customer_keeps_and_may_remove(world: World) -> None:
    world.published["mailfleet-eu._domainkey.harborlogistics.com"] = ""
    [first] = world.migrator().start(["harbor"], "eu")
    assert not first.ok and first.step == "prepare.dkim"
    m = Journal(world.tenants_dir, "harbor").load().migration
    assert m is not None and m.dkim is not None
    from mailfleet.records import dkim as dkim_records

    world.published["mailfleet-eu._domainkey.harborlogistics.com"] = dkim_records.value(
        m.dkim.keys["harborlogistics.com"]
    )
    world.manual_published.add("harborlogistics.com")
    [done] = world.migrator().resume(["harbor"])
    assert done.ok, done
    stacks = load_stacks(world.tenants_dir, world.root)
    from mailfleet.migrate.report import tenant_report

    entry = tenant_report(
        Journal(world.tenants_dir, "harbor").load(),
        stacks.stack_for_region("us"),
        stacks.stack_for_region("eu"),
    )
    dkim = [f["what"] for f in entry["follow_ups"] if f["kind"] == "dkim"]
    assert (
        "the customer keeps mailfleet-eu._domainkey.harborlogistics.com TXT published (the eu key) and may "
        "delete mailfleet._domainkey.harborlogistics.com TXT (nothing signs with it since the point of no return)"
        in dkim
    )
