"""Tenants advance independently: targeted stack runs, and one worker per tenant (issue 11 item 2)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import yaml

from mailfleet.migrate.engine import Notice, Options
from mailfleet.model.load import load_tenant_file
from tests.migrate.conftest import TEST_DELETE_DELAY, TEST_KEY_PASSPHRASE, World
from tests.migrate.mock_runner import COMPONENT_TYPE, DNS, ROUTE

STUCK, OTHER = "lakeside", "bluebird"


def add_mailbox(world: World, slug: str, mailbox: str) -> None:
    path = world.tenants_dir / f"{slug}.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["mailboxes"] = [*doc["mailboxes"], mailbox]
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def routes_of(world: World, stack: str, slug: str) -> set[str]:
    return {
        res["inputs"]["expression"]
        for res in world.runner.held(stack).values()
        if res["type"] == ROUTE and res["parent"].endswith(f"{COMPONENT_TYPE}::{slug}")
    }


def test_a_targeted_up_touches_only_the_targeted_tenants(make_world: object) -> None:
    world: World = make_world(tenants=(STUCK, OTHER))  # type: ignore[operator]
    world.bootstrap()
    add_mailbox(world, STUCK, "late")
    add_mailbox(world, OTHER, "early")
    stuck_before, other_before = routes_of(world, "us", STUCK), routes_of(world, "us", OTHER)
    ops_before = len(world.runner.all_ops())

    world.runner.up("us", tenants=[OTHER])

    assert routes_of(world, "us", STUCK) == stuck_before  # declared, not targeted: not created
    assert len(routes_of(world, "us", OTHER)) == len(other_before) + 1
    new_ops = world.runner.all_ops()[ops_before:]
    assert new_ops and all(f"::{OTHER}-" in o["urn"] for o in new_ops), new_ops

    # A delete is targeted too: the other tenant's removed mailbox goes, the stuck one's stays.
    for slug in (STUCK, OTHER):
        path = world.tenants_dir / f"{slug}.yaml"
        doc = yaml.safe_load(path.read_text())
        doc["mailboxes"] = doc["mailboxes"][:1]
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
    world.runner.up("us", tenants=[OTHER])
    assert len(routes_of(world, "us", OTHER)) == 1
    assert routes_of(world, "us", STUCK) == stuck_before

    world.runner.up("us")  # untargeted: everything converges
    assert len(routes_of(world, "us", STUCK)) == 1


def test_a_tenant_stuck_at_wait_gone_never_holds_back_another(make_world: object) -> None:
    world: World = make_world(tenants=(STUCK, OTHER))  # type: ignore[operator]
    world.bootstrap()
    world.fake.never_gone.add(f"{STUCK}.mail.example.com")
    ops_before = len(world.runner.all_ops())
    times: dict[tuple[str, str], float] = {}
    lock = threading.Lock()

    def notify(n: Notice) -> None:
        if n.kind == "progress-step":
            with lock:
                times[(n.slug, n.message)] = time.monotonic()

    migrator = world.migrator(
        options=Options(
            wait_gone_timeout=20,
            verify_timeout=5,
            poll_interval=0.05,
            max_ttl_wait=0,
            key_passphrase=TEST_KEY_PASSPHRASE,
        ),
        clock=time.time,
        sleep=time.sleep,
        notify=notify,
    )
    outcomes = {o.slug: o for o in migrator.start([STUCK, OTHER], "eu", batch=2)}
    ended = time.monotonic()

    assert outcomes[OTHER].ok, outcomes[OTHER]
    assert not outcomes[STUCK].ok and outcomes[STUCK].step == "cutover.wait-source-gone"
    assert "still answers" in outcomes[STUCK].message
    # The other tenant finished every step while the stuck one was still waiting for its 404.
    waiting_since = times[(STUCK, "cutover.release-source-domain")]
    assert times[(OTHER, "finalize")] < waiting_since + 20 <= ended, times
    assert (STUCK, "cutover.wait-source-gone") not in times
    # The stuck tenant's resources were left alone by the other's stack runs: its routes stay in
    # the source region (mail still routed somewhere), nothing of it exists in the target.
    assert len(world.routes("us", STUCK)) == 3
    assert world.routes("eu", STUCK) == []
    # Only its DNS records are in the target stack (moved at the point of no return), and no
    # up of either stack (the other tenant's, targeted) deleted or changed one of them.
    stuck_eu = {u: r for u, r in world.runner.held("eu").items() if f"::{STUCK}-" in u}
    assert stuck_eu and {r["type"] for r in stuck_eu.values()} <= set(DNS)
    touched = [o for o in world.runner.all_ops()[ops_before:] if f"::{STUCK}-" in o["urn"]]
    # (Its own prepare.dkim created its new DKIM selector's record there, before the cutover.)
    own_dkim = [o for o in touched if o["op"] == "create" and "-eu._domainkey." in o["urn"]]
    assert len(own_dkim) == 1
    assert not [
        o
        for o in touched
        if o["type"] in DNS and o["op"] in ("create", "delete", "replace") and o not in own_dkim
    ]
    # And the other moved completely, its inbound gap measured and in its journal.
    assert world.domain_region(f"{OTHER}.mail.example.com") == "eu"
    assert world.routes("us", OTHER) == []
    other = load_tenant_file(world.tenants_dir / f"{OTHER}.yaml")[0]
    assert other is not None and other.migration is not None
    gap = other.migration.inbound_gap
    assert gap is not None and gap.target_live_at is not None and gap.seconds is not None
    assert gap.seconds == pytest.approx(gap.target_live_at - gap.source_deleted_at, abs=0.002)
    # At least the fake's delete delay (the target create waits for the source's 404).
    assert TEST_DELETE_DELAY <= gap.seconds < 20
    assert gap.resolver_cache_s == 60
    stuck = load_tenant_file(world.tenants_dir / f"{STUCK}.yaml")[0]
    assert stuck is not None and stuck.migration is not None and stuck.migration.inbound_gap is not None
    assert stuck.migration.inbound_gap.seconds is None  # still in its gap: no end yet


def test_resume_finishes_the_stuck_tenant_once_its_domain_is_gone(make_world: object, tmp_path: Path) -> None:
    world: World = make_world(tenants=(STUCK, OTHER))  # type: ignore[operator]
    world.bootstrap()
    name = f"{STUCK}.mail.example.com"
    world.fake.never_gone.add(name)
    options = Options(
        wait_gone_timeout=1,
        verify_timeout=5,
        poll_interval=0.05,
        max_ttl_wait=0,
        key_passphrase=TEST_KEY_PASSPHRASE,
    )
    outcomes = world.migrator(options=options, clock=time.time, sleep=time.sleep).start(
        [STUCK, OTHER], "eu", batch=2
    )
    assert [o.ok for o in outcomes] == [False, True]
    world.fake.never_gone.discard(name)
    [again] = world.migrator(options=options, clock=time.time, sleep=time.sleep).resume([STUCK])
    assert again.ok, again
    assert world.domain_region(name) == "eu"
