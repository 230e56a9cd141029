"""A migration killed INSIDE a stack run, between a Mailgun create and its checkpoint.

The step boundaries are covered by test_faults.py; here the process dies in the middle of step 6
(``cutover.create-target``), right after Mailgun created the EU domain and before the stand-in's
checkpoint recorded it: the EU stack keeps the dead run's lock and a pending create. ``migrate
run``'s engine never recovers a stack (the step fails, naming the command); ``resume`` does
(cancel the dead holder's lock, import the create that went through, clear the rest, retry),
and reaches the same end state as an uninterrupted move, with nothing created twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tests.conftest import run_cli
from tests.migrate.conftest import World, end_state
from tests.migrate.mock_runner import KILL_ENV, Killed
from tests.migrate.test_cli import cli_env
from tests.migrate.test_faults import DOMAIN, SLUG, assert_no_double_creates, reference

STEP = "cutover.create-target"


def kill_at_eu_domain(stack: str, op: str, urn: str) -> None:
    if (stack, op) == ("eu", "create") and urn.endswith(f"-domain-{DOMAIN}"):
        raise Killed(urn)


def eu_domain_posts(world: World) -> int:
    with world.fake.lock:
        return sum(
            1 for c in world.fake.calls if (c.region, c.method, c.path) == ("eu", "POST", "/v4/domains")
        )


def test_run_refuses_resume_recovers_an_up_killed_after_a_mailgun_create(
    make_world: Callable[..., World],
) -> None:
    expected = reference(make_world)
    world = make_world()
    world.bootstrap()
    world.runner.kill_hook = kill_at_eu_domain
    with pytest.raises(Killed):
        world.migrator().start([SLUG], "eu")
    world.runner.kill_hook = None
    assert world.domain_region(DOMAIN) == "eu"  # Mailgun has it; the EU stack's state does not
    pending = [p["resource"]["urn"] for p in world.runner.pending_operations("eu")]
    assert any(u.endswith(f"-domain-{DOMAIN}") for u in pending)
    assert [h.dead for h in world.runner.locks("eu")] == [True]

    # Without recovery (what `migrate run` does) the step fails with one line naming the command.
    [refused] = world.migrator().resume([SLUG], recover=False)
    assert (refused.ok, refused.step) == (False, STEP)
    assert "stack 'eu' has" in refused.message and "pending operation(s)" in refused.message
    assert "`pulumi refresh -s eu --clear-pending-creates`" in refused.message
    assert world.runner.locks("eu") and world.runner.pending_operations("eu")  # untouched

    [outcome] = world.migrator().resume([SLUG])
    assert outcome.ok, outcome
    warnings = [n.message for n in world.notices if n.slug == "stack eu" and n.kind == "warning"]
    assert warnings == [
        "an interrupted update left it with pending operations; ran pulumi cancel -s eu; "
        f"pulumi refresh -s eu --clear-pending-creates --import-pending-creates ({len(pending)})"
    ]
    assert end_state(world, SLUG) == expected
    assert_no_double_creates(world)
    assert eu_domain_posts(world) == 1


def test_sigkill_inside_an_up_then_cli_resume(make_world: Callable[..., World]) -> None:
    expected = reference(make_world)
    world = make_world(file_backed=True)
    world.bootstrap()
    env = cli_env(world)
    killed = run_cli("migrate", SLUG, "--to", "eu", "--yes", env={**env, KILL_ENV: "create:-domain-"})
    assert killed.returncode == -9, killed.stderr[-2000:]
    status = run_cli("migrate", "status", SLUG, "--format", "json", env={"MAILFLEET_ROOT": str(world.root)})
    assert json.loads(status.stdout)["tenants"][0]["next_step"] == STEP
    [holder] = world.runner.locks("eu")
    assert holder.dead is True
    assert any(
        p["resource"]["urn"].endswith(f"-domain-{DOMAIN}") for p in world.runner.pending_operations("eu")
    )

    resumed = run_cli("migrate", "resume", SLUG, "--yes", env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{SLUG}: done" in resumed.stdout
    assert (
        "stack eu: warning: an interrupted update left it with pending operations; ran pulumi cancel -s eu"
        in (resumed.stderr)
    )
    assert world.runner.locks("eu") == [] and world.runner.pending_operations("eu") == []
    assert end_state(world, SLUG) == expected
    assert_no_double_creates(world)
    assert eu_domain_posts(world) == 1
