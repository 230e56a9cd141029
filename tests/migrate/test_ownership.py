"""A migration owns its tenant's resources from start to end (issue 11 item 3).

Another ``pulumi up`` of either stack (CI deploying from main, another operator, another batch)
may run at any moment of a move: here an untargeted ``up`` of BOTH stacks, by a second runner on
the same state (as another process would be), at every step boundary (started, applied, done of
each of the 11 steps). It must change nothing the migration owns: no DNS record of the tenant
deleted or replaced, nothing created twice, the source domain never re-created after the point
of no return, and the end state that of an undisturbed move.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any

import pytest

from mailfleet.migrate.runner import RunnerError, StackBlocked
from mailfleet.model.migration import POINT_OF_NO_RETURN, STEP_NAMES
from tests.migrate.conftest import World, end_state
from tests.migrate.mock_runner import DNS, DOMAIN, MockStackRunner

SLUG, DOMAIN_NAME = "bluebird", "bluebird.mail.example.com"


def other_runner(world: World) -> MockStackRunner:
    """CI, or another operator: its own runner on the same backend state and the same files."""
    return MockStackRunner(
        world.root, world.tenants_dir, mailgun=world.client, state_dir=world.root / ".state"
    )


def test_concurrent_ups_of_both_stacks_at_every_step_boundary_change_nothing_owned(
    make_world: Callable[..., World],
) -> None:
    ref = make_world(file_backed=True, tenants=(SLUG,))
    ref.bootstrap()
    [outcome] = ref.migrator().start([SLUG], "eu")
    assert outcome.ok, outcome
    expected = end_state(ref, SLUG)

    world = make_world(file_backed=True, tenants=(SLUG,))
    world.bootstrap()
    other = other_runner(world)
    boundaries: list[tuple[str, str]] = []
    failures: list[str] = []
    domain_creates_after_ponr: list[dict[str, Any]] = []

    def concurrent_ups(slug: str, step: str, point: str) -> None:
        boundaries.append((step, point))
        before = len(world.runner.all_ops())
        for stack in ("us", "eu"):
            try:
                other.up(stack)
            except RunnerError as exc:
                failures.append(f"{step}/{point}/{stack}: {exc}")
        passed = STEP_NAMES.index(step) >= STEP_NAMES.index(POINT_OF_NO_RETURN)
        if passed:
            domain_creates_after_ponr.extend(
                o
                for o in world.runner.all_ops()[before:]
                if o["op"] in ("create", "replace") and o["type"] == DOMAIN and o["stack"] == "us"
            )

    [outcome] = world.migrator(fault=concurrent_ups).start([SLUG], "eu")
    assert outcome.ok, outcome
    # started/applied/done of every step, and prepare.dkim's key-saved (the key stored, not yet journaled)
    assert len(boundaries) == 3 * len(STEP_NAMES) + 1 and ("prepare.dkim", "key-saved") in boundaries
    # One refusal, by design: at the point of no return's start, before the engine unprotects
    # the source domain, a concurrent up of the source stack stops at the protected domain.
    # Every other concurrent up went through, and changed nothing the migration owns:
    assert len(failures) == 1, failures
    assert failures[0].startswith(f"{POINT_OF_NO_RETURN}/started/us: ")
    assert "-domain-bluebird.mail.example.com is protected and would be deleted" in failures[0]
    ops = world.runner.all_ops()
    dns_gone = [
        o["identity"]
        for o in ops
        if o["type"] in DNS and o["op"] in ("delete", "replace") and f"::{SLUG}-dns-" in o["urn"]
    ]
    # Only the US report authorisation goes (the DMARC report address moves to the EU zone),
    # and the old DKIM selector's record once the move ends (finalize: the overlap is over).
    assert all(
        "_report._dmarc.mail.example.com" in i or "|mailfleet._domainkey.bluebird.mail.example.com|" in i
        for i in dns_gone
    ), dns_gone
    counts = collections.Counter(o["identity"] for o in ops if o["op"] == "create")
    assert [i for i, n in counts.items() if n > 1] == []
    assert domain_creates_after_ponr == []
    assert end_state(world, SLUG) == expected


def test_the_standin_state_move_uses_the_targets_provider_and_takes_both_locks(
    make_world: Callable[..., World],
) -> None:
    world = make_world(file_backed=True, tenants=(SLUG,))
    world.bootstrap()
    us = world.runner.held("us")
    mx = next(u for u, r in us.items() if r["type"] in DNS and r["inputs"].get("type") == "MX")
    eu_providers = {
        r["urn"]
        for r in world.runner.export("eu")["deployment"]["resources"]
        if r["type"].startswith("pulumi:providers:")
    }
    # Another process holds the destination's lock: the move is refused, nothing moves.
    holder = other_runner(world)
    lock_id = holder._acquire("eu")
    try:
        with pytest.raises(StackBlocked) as exc:
            world.runner.state_move("us", "eu", [mx])
        assert exc.value.reason == "locked"
        assert mx in world.runner.held("us") and not [u for u in world.runner.held("eu") if SLUG in u]
    finally:
        holder.store.remove_lock("eu", lock_id)
    # The same on the source's lock.
    lock_id = holder._acquire("us")
    try:
        with pytest.raises(StackBlocked):
            world.runner.state_move("us", "eu", [mx])
        assert mx in world.runner.held("us")
    finally:
        holder.store.remove_lock("us", lock_id)

    [moved] = world.runner.state_move("us", "eu", [mx])
    assert moved == mx
    eu = world.runner.held("eu")
    new_urn = mx.replace("urn:pulumi:us::", "urn:pulumi:eu::")
    provider = eu[new_urn]["provider"].rsplit("::", 1)[0]
    assert provider in eu_providers  # the destination's own provider, not a copy of the source's
    after = {
        r["urn"]
        for r in world.runner.export("eu")["deployment"]["resources"]
        if r["type"].startswith("pulumi:providers:")
    }
    assert eu_providers and after == eu_providers  # no provider was copied over from the source
    assert world.runner.locks("us") == [] and world.runner.locks("eu") == []
    # The target's own program then keeps the record as it is (no replace for a provider change).
    before = len(world.runner.all_ops())
    world.runner.up("eu", tenants=[SLUG])
    assert not [o for o in world.runner.all_ops()[before:] if o["urn"] == new_urn and o["op"] == "replace"]
