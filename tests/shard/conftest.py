"""A sharded world: region eu in two stacks (eu-1, eu-2), the fake Mailgun, the engine stand-in."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.migrate.conftest import World, make_world  # noqa: F401 (the fixture)

EU_TENANTS = ("acme", "fjordbank", "nordlys")


def shard_project(root: Path, shards: tuple[str, ...] = ("eu-1", "eu-2"), pin: str = "eu-1") -> None:
    """Region eu's one stack file becomes ``shards`` (same settings), every eu tenant on ``pin``."""
    text = (root / "Pulumi.eu.yaml").read_text()
    (root / "Pulumi.eu.yaml").unlink()
    for name in shards:
        (root / f"Pulumi.{name}.yaml").write_text(text)
    for path in (root / "tenants").glob("*.yaml"):
        body = path.read_text()
        if "\nregion: eu\n" in body:
            path.write_text(body.replace("\nregion: eu\n", f"\nregion: eu\nstack: {pin}\n", 1))


def verify_over(world: World, stacks: tuple[str, ...]) -> None:
    """Mailgun's verify and DKIM key activation (the fake's checkers) answered from what
    ``stacks`` hold: by default the world knows only the stacks named eu and us."""
    world.dns_stacks = stacks


@pytest.fixture
def sharded(make_world: Callable[..., World]) -> World:  # noqa: F811
    """Every stack up once (as production is), then the fake's request log cleared."""
    w = make_world(tenants=(*EU_TENANTS, "bluebird"), file_backed=True)
    shard_project(w.root)
    for stack in ("eu-1", "eu-2", "us"):
        w.runner.up(stack)
    w.fake.reset_log()
    return w
