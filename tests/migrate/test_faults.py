"""Kill the migration after every step (injected exception; real SIGKILL), then resume.

Each test first moves the tenant once without interruption (the reference), then again in a
fresh world with a crash at every step boundary in turn, resuming after each. The end state
must equal the reference; no resource may be created twice; routes must never be missing in
both regions; the only window without the domain in any region is the delete-to-create one.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
from collections.abc import Callable

from mailfleet.model.migration import STEP_NAMES
from tests.conftest import REPO, run_cli
from tests.migrate.conftest import TEST_DELETE_DELAY, TEST_KEY_PASSPHRASE, Observer, World, end_state

SLUG, DOMAIN = "bluebird", "bluebird.mail.example.com"
ADDRESSES = [f"frontdesk@{DOMAIN}", f"billing@{DOMAIN}"]


class Crash(Exception):
    """Stands for the process dying: not a MailfleetError, so nothing catches it."""


def reference(make_world: Callable[..., World]) -> dict:
    ref = make_world()
    ref.bootstrap()
    [outcome] = ref.migrator().start([SLUG], "eu")
    assert outcome.ok, outcome
    return end_state(ref, SLUG)


def assert_no_double_creates(world: World) -> None:
    counts = collections.Counter(o["identity"] for o in world.runner.all_ops() if o["op"] == "create")
    assert [i for i, n in counts.items() if n > 1] == []


def test_injected_crash_at_every_step_boundary(make_world: Callable[..., World]) -> None:
    expected = reference(make_world)
    world = make_world()
    world.bootstrap()
    points = [(step, point) for step in STEP_NAMES for point in ("started", "applied", "done")]
    crashes = []
    with Observer(world, DOMAIN, ADDRESSES) as seen:
        for i, target in enumerate(points):

            def fault(slug: str, step: str, point: str, target: tuple[str, str] = target) -> None:
                if (step, point) == target:
                    raise Crash(f"{step}/{point}")

            migrator = world.migrator(fault=fault)
            try:
                if i == 0:
                    migrator.start([SLUG], "eu")
                else:
                    migrator.resume([SLUG])
            except Crash as exc:
                crashes.append(str(exc))
        [final] = world.migrator().resume([SLUG])
    assert final.ok, final
    assert crashes == [f"{s}/{p}" for s, p in points]
    assert end_state(world, SLUG) == expected
    assert_no_double_creates(world)
    assert seen.route_gaps == dict.fromkeys(ADDRESSES, 0.0)
    assert seen.domain_gap >= TEST_DELETE_DELAY
    print(f"\n{len(crashes)} crashes; delete-to-create window {seen.domain_gap:.3f} s")


def test_sigkill_after_every_step_then_cli_resume(make_world: Callable[..., World]) -> None:
    expected = reference(make_world)
    world = make_world(file_backed=True)
    world.bootstrap()
    env = {
        **world.fake.env(),
        "MAILFLEET_MIGRATE_KEY_PASSPHRASE": TEST_KEY_PASSPHRASE,
        "MAILFLEET_MOCK_STATE_DIR": str(world.root / ".state"),
        "PYTHONPATH": str(REPO),
    }
    kills = 0
    with Observer(world, DOMAIN, ADDRESSES) as seen:
        for i, step in enumerate(STEP_NAMES):
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "tests.migrate.kill_driver",
                    str(world.root),
                    SLUG,
                    "start" if i == 0 else "resume",
                    step,
                    "applied",
                ],
                cwd=REPO,
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert proc.returncode == -9, (step, proc.returncode, proc.stderr[-2000:])
            kills += 1
            status = run_cli(
                "migrate", "status", SLUG, "--format", "json", env={"MAILFLEET_ROOT": str(world.root)}
            )
            assert status.returncode == 0, status.stderr
            assert f'"next_step": "{step}"' in status.stdout  # work done, end not recorded
        result = run_cli(
            "migrate",
            "resume",
            SLUG,
            "--yes",
            env={
                **env,
                "MAILFLEET_ROOT": str(world.root),
                "MAILFLEET_STACK_RUNNER": "tests.migrate.mock_runner:from_env",
            },
        )
    assert result.returncode == 0, result.stderr
    assert f"{SLUG}: done" in result.stdout
    assert kills == len(STEP_NAMES)
    assert end_state(world, SLUG) == expected
    assert_no_double_creates(world)
    assert seen.route_gaps == dict.fromkeys(ADDRESSES, 0.0)
    print(f"\n{kills} SIGKILLs; delete-to-create window {seen.domain_gap:.3f} s")
