"""``shard move`` / ``shard rebalance``: state moves only, journaled, killed at each step and resumed.

The engine stand-in (tests/migrate/mock_runner.py) keeps the checkpoints, locks and an ops log;
the fake Mailgun logs every request. A move must leave only ``move`` operations in the ops log,
make no Mailgun request, and leave both stacks' programs agreeing with their state (an ``up``
of either changes nothing).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mailfleet.errors import UsageError
from mailfleet.project import Project
from mailfleet.shard.run import ShardMover, tenant_urns
from tests.conftest import run_cli
from tests.migrate.conftest import World
from tests.migrate.mock_runner import Killed

POINTS = ("begun", "started", "moved", "recorded")
# Operations that change only Pulumi's state: a move, and the stand-in's parent fix-up after one
# (a moved component's parent becomes the destination's root stack; no provider call).
STATE_ONLY = {"move", "reparent"}


def mover(world: World, fault: Any = None) -> ShardMover:
    return ShardMover(world.tenants_dir, world.root, world.runner, fault=fault)


def declared_by(world: World, slug: str) -> list[str]:
    project = Project.load(world.tenants_dir, world.root)
    return [s.name for s in project.stacks_declaring(project.tenants[slug])]


def held_by(world: World, slug: str) -> dict[str, int]:
    return {s: len(tenant_urns(world.runner.resources(s), slug)) for s in ("eu-1", "eu-2")}


def assert_moved_cleanly(world: World, slug: str, ops_before: int, resources: int) -> None:
    ops = world.runner.all_ops()[ops_before:]
    assert {o["op"] for o in ops} == {"move"}, ops
    assert held_by(world, slug) == {"eu-1": 0, "eu-2": resources}
    assert world.fake.calls == []  # not one Mailgun request
    text = (world.tenants_dir / f"{slug}.yaml").read_text()
    assert "\nstack: eu-2\n" in text and "shard_move" not in text
    assert declared_by(world, slug) == ["eu-2"]
    # Both programs agree with their state now: an up of either changes no real thing (the
    # source may drop a provider object no tenant of it uses any more: no API call).
    for stack in ("eu-1", "eu-2"):
        result = world.runner.up(stack)
        real = {
            op: [u for u in urns if "$pulumi:providers:" not in u]
            for op, urns in result.changes.items()
            if op not in STATE_ONLY
        }
        assert {op: urns for op, urns in real.items() if urns} == {}, (stack, result.changes)
    later = [o for o in world.runner.all_ops()[ops_before:] if not o["type"].startswith("pulumi:providers:")]
    assert {o["op"] for o in later} <= STATE_ONLY
    assert world.fake.calls == []


def test_a_move_is_a_state_move_only(sharded: World) -> None:
    before_text = (sharded.tenants_dir / "nordlys.yaml").read_text()
    count = held_by(sharded, "nordlys")["eu-1"]
    assert count >= 8  # the component and its children (domain, routes, webhooks, records...)
    ops = len(sharded.runner.all_ops())
    result = mover(sharded).move("nordlys", "eu-2")
    assert (result.source, result.target, result.resumed) == ("eu-1", "eu-2", False)
    assert len(result.moved) == count
    assert_moved_cleanly(sharded, "nordlys", ops, count)
    # Only the stack line changed; every other byte (comments included) is as it was.
    after = (sharded.tenants_dir / "nordlys.yaml").read_text()
    assert after == before_text.replace("stack: eu-1", "stack: eu-2")
    # Untouched tenants stay where they were.
    assert declared_by(sharded, "acme") == ["eu-1"]


@pytest.mark.parametrize("point", POINTS)
def test_killed_at_each_step_then_resumed(sharded: World, point: str) -> None:
    count = held_by(sharded, "acme")["eu-1"]
    ops = len(sharded.runner.all_ops())

    def die(slug: str, at: str) -> None:
        if at == point:
            raise Killed(f"killed at {at}")

    with pytest.raises(Killed):
        mover(sharded, die).move("acme", "eu-2")
    text = (sharded.tenants_dir / "acme.yaml").read_text()
    assert "shard_move:" in text and "stack: eu-1" in text  # the journal says a move is under way
    # The model follows the state: the source serves the tenant until the state move starts.
    assert declared_by(sharded, "acme") == (["eu-1"] if point == "begun" else ["eu-2"])
    moved_yet = point in ("moved", "recorded")
    assert held_by(sharded, "acme") == (
        {"eu-1": 0, "eu-2": count} if moved_yet else {"eu-1": count, "eu-2": 0}
    )
    status = run_cli("shard", "status", "--format", "json", cwd=sharded.root)
    assert status.returncode == 0, status.stderr
    rows = {r["stack"]: r for r in json.loads(status.stdout)["stacks"]}
    assert rows["eu-2"]["moving"] == ["acme eu-1->eu-2"]
    # Another target while the move is under way is refused; the same command resumes.
    with pytest.raises(UsageError) as exc:
        mover(sharded).move("acme", "eu-1")
    assert "is being moved to 'eu-2'" in str(exc.value)
    result = mover(sharded).move("acme", "eu-2")
    assert result.resumed is True
    assert_moved_cleanly(sharded, "acme", ops, count)


class _DieBetweenSaves:
    """A checkpoint store that dies after saving the destination of a state move, before the
    source: Pulumi's own crash window, leaving the resources in both stacks."""

    def __init__(self, store: Any, dest: str) -> None:
        self.store, self.dest, self.armed = store, dest, True

    def save(self, stack: str, checkpoint: Any) -> None:
        self.store.save(stack, checkpoint)
        if self.armed and stack == self.dest:
            self.armed = False
            raise Killed("killed between the destination's save and the source's")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def test_killed_inside_the_state_move_leaves_both_then_resume_finishes(sharded: World) -> None:
    count = held_by(sharded, "acme")["eu-1"]
    ops = len(sharded.runner.all_ops())
    real = sharded.runner.store
    sharded.runner.store = _DieBetweenSaves(real, "eu-2")
    with pytest.raises(Killed):
        mover(sharded).move("acme", "eu-2")
    sharded.runner.store = real
    assert held_by(sharded, "acme") == {"eu-1": count, "eu-2": count}  # in both, as Pulumi leaves it
    assert declared_by(sharded, "acme") == ["eu-2"]
    mover(sharded).move("acme", "eu-2")
    assert_moved_cleanly(sharded, "acme", ops, count)


def test_refusals(sharded: World) -> None:
    m = mover(sharded)
    for slug, to, message in (
        ("acme", "eu-1", "already on stack 'eu-1'"),
        ("acme", "us", "'us' is not a stack of region 'eu' (eu-1, eu-2)"),
        ("acme", "eu-9", "'eu-9' is not a stack of region 'eu'"),
        ("nobody", "eu-2", "no tenant 'nobody'"),
    ):
        with pytest.raises(UsageError) as exc:
            m.move(slug, to)
        assert message in str(exc.value), str(exc.value)
    proc = run_cli("shard", "move", "acme", "--to", "us", cwd=sharded.root)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "--to: 'us' is not a stack of region 'eu' (eu-1, eu-2)"


def _cli_env(world: World) -> dict[str, str]:
    return {
        **world.fake.env(),
        "MAILFLEET_STACK_RUNNER": "tests.migrate.mock_runner:from_env",
        "MAILFLEET_MOCK_STATE_DIR": str(world.root / ".state"),
    }


def test_rebalance_dry_run_lists_the_fewest_moves_then_yes_applies(sharded: World) -> None:
    before = {p.name: p.read_bytes() for p in sharded.tenants_dir.glob("*.yaml")}
    dry = run_cli("shard", "rebalance", "--region", "eu", "--format", "json", cwd=sharded.root)
    assert dry.returncode == 0, dry.stderr
    doc = json.loads(dry.stdout)
    assert doc["format"] == "mailfleet-shard-rebalance/1" and doc["applied"] is False
    # Three tenants on eu-1, none on eu-2: the balance is 2 and 1, so exactly one move.
    assert len(doc["moves"]) == 1 and doc["moves"][0]["from"] == "eu-1" and doc["moves"][0]["to"] == "eu-2"
    assert {p.name: p.read_bytes() for p in sharded.tenants_dir.glob("*.yaml")} == before  # nothing written
    text = run_cli("shard", "rebalance", "--region", "eu", cwd=sharded.root)
    assert "1 move(s) balance the stacks" in text.stdout and "Dry run: nothing moved" in text.stdout
    slug = doc["moves"][0]["slug"]
    count = held_by(sharded, slug)["eu-1"]
    ops = len(sharded.runner.all_ops())
    applied = run_cli(
        "shard", "rebalance", "--region", "eu", "--yes", cwd=sharded.root, env=_cli_env(sharded)
    )
    assert applied.returncode == 0, applied.stderr
    assert "applied 1 move(s)" in applied.stdout
    assert_moved_cleanly(sharded, slug, ops, count)
    again = run_cli("shard", "rebalance", "--region", "eu", cwd=sharded.root)
    assert "balanced, no move needed" in again.stdout


def test_shard_move_cli_and_status(sharded: World) -> None:
    ops = len(sharded.runner.all_ops())
    count = held_by(sharded, "fjordbank")["eu-1"]
    proc = run_cli("shard", "move", "fjordbank", "--to", "eu-2", cwd=sharded.root, env=_cli_env(sharded))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("fjordbank: moved from eu-1 to eu-2")
    assert "nothing changed in Mailgun or DNS" in proc.stdout
    assert_moved_cleanly(sharded, "fjordbank", ops, count)
    status = run_cli("shard", "status", cwd=sharded.root)
    assert status.stdout.splitlines() == [
        "stack  region  tenants  cap  moving",
        "eu-1   eu      2        -",
        "eu-2   eu      1        -",
        "us     us      1        -",
    ]


def test_pin_writes_the_stack_of_tenants_naming_none(tmp_path: Path, project_dir: Path) -> None:
    eu = sorted(p.stem for p in (project_dir / "tenants").glob("*.yaml") if "region: eu" in p.read_text())
    dry = run_cli("shard", "pin", "--region", "eu", "--dry-run", cwd=project_dir)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.strip() == f"would pin {len(eu)} tenant(s) of region eu: {', '.join(eu)}"
    assert all("stack:" not in (project_dir / "tenants" / f"{s}.yaml").read_text() for s in eu)
    done = run_cli("shard", "pin", "--region", "eu", cwd=project_dir)
    assert done.returncode == 0, done.stderr
    assert all("\nstack: eu\n" in (project_dir / "tenants" / f"{s}.yaml").read_text() for s in eu)
    # Now a second shard can be added: nothing moves, validate is clean.
    (project_dir / "Pulumi.eu-2.yaml").write_bytes((project_dir / "Pulumi.eu.yaml").read_bytes())
    assert run_cli("validate", cwd=project_dir).returncode == 0
    plan = json.loads(run_cli("plan", "--format", "json", cwd=project_dir).stdout)
    by_stack = {s["stack"]: sorted(t["slug"] for t in s["tenants"]) for s in plan["stacks"]}
    assert by_stack["eu"] == eu and by_stack["eu-2"] == []
    again = run_cli("shard", "pin", "--region", "eu", cwd=project_dir)
    assert again.returncode == 2 and "--stack: region 'eu' has stacks eu, eu-2: name one" in again.stderr
