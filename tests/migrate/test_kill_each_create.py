"""A kill after EACH single Mailgun create of the target stack's ``up``, then ``resume``.

Step 6 (``cutover.create-target``) is one ``up`` of the EU stack that makes, for bluebird, the
domain, two routes, seven webhooks and the SMTP credential. The engine stand-in dies right after
one of those provider calls and before its checkpoint (``kill_hook``): Mailgun has the thing, the
EU stack holds a pending create and a dead holder's lock. ``resume`` recovers the stack: the
pending create is looked up in Mailgun by production's ``MailgunLookup`` (the ``find_created`` of
``AutomationRunner``) and imported, never created again; the rest of the ``up`` goes on. For each
of the eleven kills: the end state equals an uninterrupted move's, the ops log holds one create
per real thing, and the fake's request log one POST per thing (the uninterrupted move's POSTs).
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any

import pytest

from tests.migrate.conftest import World, end_state
from tests.migrate.mock_runner import CREDENTIAL, DOMAIN, ROUTE, WEBHOOK, Killed
from tests.migrate.test_faults import SLUG, assert_no_double_creates

STEP = "cutover.create-target"
PLATFORM = "bluebird.mail.example.com"
KINDS = ("delivered", "permanent_fail", "complained", "temporary_fail", "opened", "unsubscribed", "clicked")
# Every Mailgun create of the EU stack's up in step 6, by the end of its URN, with its type.
CREATES: list[tuple[str, str]] = [
    (f"-domain-{PLATFORM}", DOMAIN),
    (f"-route-frontdesk@{PLATFORM}", ROUTE),
    (f"-route-billing@{PLATFORM}", ROUTE),
    *[(f"-webhook-{PLATFORM}-{kind}", WEBHOOK) for kind in KINDS],
    (f"-credential-{PLATFORM}", CREDENTIAL),
]

_REFERENCE: dict[str, Any] = {}


def reference(make_world: Callable[..., World]) -> dict[str, Any]:
    """An uninterrupted move: its end state, its EU Mailgun creates and its POSTs (computed once)."""
    if not _REFERENCE:
        ref = make_world()
        ref.bootstrap()
        [outcome] = ref.migrator().start([SLUG], "eu")
        assert outcome.ok, outcome
        _REFERENCE["end"] = end_state(ref, SLUG)
        _REFERENCE["creates"] = sorted(
            (o["urn"].rsplit("::", 1)[-1], o["type"])
            for o in ref.runner.all_ops()
            if o["stack"] == "eu"
            and o["op"] == "create"
            and o["type"].startswith("mailgun:")
            and o["urn"].rsplit("::", 1)[-1].startswith(f"{SLUG}-")  # not bootstrap's acme
        )
        _REFERENCE["posts"] = posts(ref)
    return _REFERENCE


def posts(world: World) -> collections.Counter[tuple[str, str]]:
    with world.fake.lock:
        return collections.Counter((c.region, c.path) for c in world.fake.calls if c.method == "POST")


def test_the_matrix_is_every_mailgun_create_of_the_step(make_world: Callable[..., World]) -> None:
    """The parametrisation below covers each create of step 6's up, and nothing else."""
    ref = reference(make_world)
    assert sorted((f"{SLUG}{suffix}", t) for suffix, t in CREATES) == ref["creates"]


@pytest.mark.parametrize(("suffix", "type_"), CREATES, ids=[s.lstrip("-") for s, _ in CREATES])
def test_kill_after_one_mailgun_create_then_resume(
    make_world: Callable[..., World], suffix: str, type_: str
) -> None:
    ref = reference(make_world)
    world = make_world()
    world.bootstrap()
    killed: list[str] = []

    def kill(stack: str, op: str, urn: str) -> None:
        if not killed and (stack, op) == ("eu", "create") and urn.endswith(suffix):
            killed.append(urn)
            raise Killed(urn)

    world.runner.kill_hook = kill
    with pytest.raises(Killed):
        world.migrator().start([SLUG], "eu")
    world.runner.kill_hook = None
    [urn] = killed
    # The engine runs registrations in parallel: creates in flight beside the killed one stay
    # pending too (each may or may not have reached Mailgun).
    pending = {p["resource"]["urn"]: p for p in world.runner.pending_operations("eu")}
    assert pending[urn]["type"] == "creating"
    assert {p["type"] for p in pending.values()} == {"creating"}
    assert [h.dead for h in world.runner.locks("eu")] == [True]
    assert urn not in world.runner.held("eu")  # Mailgun has it, the state does not
    found = world.runner.find_created(pending[urn]["resource"])
    assert found is not None and found.startswith("eu:")

    [outcome] = world.migrator().resume([SLUG])
    assert outcome.ok, outcome
    assert world.runner.pending_operations("eu") == [] and world.runner.locks("eu") == []
    assert end_state(world, SLUG) == ref["end"]
    assert_no_double_creates(world)
    # The killed create was adopted (imported by the refresh), not made again.
    ops = [(o["op"], o["type"]) for o in world.runner.all_ops() if o["urn"] == urn]
    assert ops == [("create", type_), ("import", type_)]
    # One POST per thing: exactly the uninterrupted move's POSTs, in both regions.
    assert posts(world) == ref["posts"]


def test_one_stuck_tenant_no_longer_blocks_the_others(make_world: Callable[..., World]) -> None:
    """Bluebird dies inside step 6 after its last webhook; redwood, moved later, is refused by
    ``run`` with the command to run, then finished by ``resume``, whose recovery adopts what
    bluebird's dead ``up`` had made. Bluebird's own ``resume`` then finishes too: nothing twice."""
    world = make_world(tenants=("bluebird", "redwood"))
    world.bootstrap()
    after = f"-webhook-{PLATFORM}-clicked"

    def kill(stack: str, op: str, urn: str) -> None:
        if (stack, op) == ("eu", "create") and urn.endswith(after):
            raise Killed(urn)

    world.runner.kill_hook = kill
    with pytest.raises(Killed):
        world.migrator().start([SLUG], "eu")
    world.runner.kill_hook = None

    # `run` never recovers a stack: redwood stops at its first use of the EU stack (publishing
    # its new DKIM selector, prepare.dkim), before its source domain is touched, naming the command.
    [refused] = world.migrator().start(["redwood"], "eu")
    assert (refused.ok, refused.step) == (False, "prepare.dkim")
    assert "mailfleet migrate resume" in refused.message
    assert world.domain_region("redwood.mail.example.com") == "us"

    [other] = world.migrator().resume(["redwood"])
    assert other.ok, other
    [stuck] = world.migrator().resume([SLUG])
    assert stuck.ok, stuck
    assert world.runner.pending_operations("eu") == [] and world.runner.locks("eu") == []
    assert_no_double_creates(world)
    assert world.domain_region(PLATFORM) == "eu" and world.domain_region("redwood.mail.example.com") == "eu"
    with world.fake.lock:
        hooks = world.fake.webhooks[("eu", PLATFORM)]
    assert sorted(hooks) == sorted(KINDS)


@pytest.mark.parametrize("part", ["-route-billing@", f"-webhook-{PLATFORM}-opened", "-credential-"])
def test_sigkill_after_a_create_then_cli_resume(make_world: Callable[..., World], part: str) -> None:
    """The same with a real SIGKILL of `mailfleet migrate` (file-backed stand-in), resumed by
    `mailfleet migrate resume` as a process: production's lookup runs in that process."""
    from tests.conftest import run_cli
    from tests.migrate.mock_runner import KILL_ENV
    from tests.migrate.test_cli import cli_env

    ref = reference(make_world)
    world = make_world(file_backed=True)
    world.bootstrap()
    env = cli_env(world)
    killed = run_cli("migrate", SLUG, "--to", "eu", "--yes", env={**env, KILL_ENV: f"create:{part}"})
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert any(part in p["resource"]["urn"] for p in world.runner.pending_operations("eu"))

    resumed = run_cli("migrate", "resume", SLUG, "--yes", env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert "--import-pending-creates" in resumed.stderr
    assert world.runner.locks("eu") == [] and world.runner.pending_operations("eu") == []
    assert end_state(world, SLUG) == ref["end"]
    assert_no_double_creates(world)
    assert posts(world) == ref["posts"]
