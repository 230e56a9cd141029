"""The holding MX (``mailfleet:holdingMx`` on the target stack): senders retry instead of bouncing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mailfleet.errors import MailfleetError
from mailfleet.model.load import load_stack
from tests.migrate.conftest import World
from tests.migrate.mock_runner import DNS, DOMAIN

SLUG, NAME = "bluebird", "bluebird.mail.example.com"
HOLD = "hold.mail.example.eu"
EU_MX = ["10 mxa.eu.mailgun.org", "10 mxb.eu.mailgun.org"]


def set_holding_mx(root: Path, host: str) -> None:
    path = root / "Pulumi.eu.yaml"
    path.write_text(path.read_text() + f"  mailfleet:holdingMx: {host}\n")


def mx_values(world: World, stack: str) -> list[str] | None:
    for res in world.runner.held(stack).values():
        if res["type"] in DNS and res["inputs"].get("name") == NAME and res["inputs"].get("type") == "MX":
            return list(res["inputs"].get("records") or [])
    return None


def test_the_mx_points_at_the_holding_host_a_ttl_before_the_delete_until_the_target_is_live(
    make_world: Callable[..., World],
) -> None:
    world = make_world(tenants=(SLUG,))
    set_holding_mx(world.root, HOLD)
    world.bootstrap()
    seen: dict[str, list[str] | None] = {}

    def look(slug: str, step: str, point: str) -> None:
        if point == "started" and step in ("cutover.wait-source-gone", "cutover.create-target"):
            seen[step] = mx_values(world, "eu")

    before = len(world.runner.all_ops())
    [outcome] = world.migrator(fault=look).start([SLUG], "eu")
    assert outcome.ok, outcome
    # During the window the MX names the holding host only (answers 4xx: senders queue and retry).
    assert seen["cutover.wait-source-gone"] == [f"10 {HOLD}"]
    assert seen["cutover.create-target"] == [f"10 {HOLD}"]
    assert mx_values(world, "eu") == EU_MX and mx_values(world, "us") is None
    # The switch to the holding host came before the source domain's delete, a lowered TTL before.
    ops = world.runner.all_ops()[before:]
    hold_at = next(
        i
        for i, o in enumerate(ops)
        if o["stack"] == "eu" and o["type"] in DNS and o["op"] in ("update", "import")
    )
    delete_at = next(i for i, o in enumerate(ops) if o["op"] == "delete" and o["type"] == DOMAIN)
    assert hold_at < delete_at
    assert 60 in world.clock.slept
    # The measured gap still runs from the delete to the target's create (the hold adds none to it).
    text = (world.tenants_dir / f"{SLUG}.yaml").read_text()
    assert "inbound_gap:" in text


def test_without_the_setting_the_mx_is_held_as_it_was(make_world: Callable[..., World]) -> None:
    world = make_world(tenants=(SLUG,))
    world.bootstrap()
    us_mx = mx_values(world, "us")
    seen: dict[str, list[str] | None] = {}

    def look(slug: str, step: str, point: str) -> None:
        if (step, point) == ("cutover.wait-source-gone", "started"):
            seen["mx"] = mx_values(world, "eu")

    [outcome] = world.migrator(fault=look).start([SLUG], "eu")
    assert outcome.ok, outcome
    assert seen["mx"] == us_mx  # moved, held as it was: no holding host
    assert 60 not in world.clock.slept


def test_a_bad_holding_mx_names_the_file_and_field(tmp_path: Path) -> None:
    from tests.migrate.conftest import copy_project

    root = copy_project(tmp_path / "p", (SLUG,))
    set_holding_mx(root, "not a host")
    with pytest.raises(MailfleetError) as exc:
        load_stack(root, "eu")
    assert any("holdingMx" in line and "Pulumi.eu.yaml" in line for line in exc.value.lines()), (
        exc.value.lines()
    )
    assert load_stack(root, "us").holding_mx is None
