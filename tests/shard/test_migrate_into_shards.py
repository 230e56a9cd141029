"""``migrate`` between regions when the target region is sharded: the tenant lands on the
stack its file names there, else the rendezvous choice, and its file names that stack after."""

from __future__ import annotations

from collections.abc import Callable

from mailfleet.desired.shards import ranked
from mailfleet.project import Project
from mailfleet.shard.run import tenant_urns
from tests.conftest import run_cli
from tests.migrate.conftest import World
from tests.shard.conftest import shard_project, verify_over


def test_a_tenant_naming_its_stack_moves_onto_a_shard(make_world: Callable[..., World]) -> None:
    w = make_world(tenants=("acme", "bluebird"), file_backed=True)
    shard_project(w.root)
    path = w.tenants_dir / "bluebird.yaml"
    path.write_text(path.read_text().replace("\nregion: us\n", "\nregion: us\nstack: us\n", 1))
    for stack in ("eu-1", "eu-2", "us"):
        w.runner.up(stack)
    w.fake.reset_log()
    verify_over(w, ("eu-1", "eu-2", "us"))
    target = ranked("bluebird", ["eu-1", "eu-2"])[0]  # the choice of a file naming no eu stack
    [outcome] = w.migrator().start(["bluebird"], "eu")
    assert outcome.ok, outcome
    text = path.read_text()
    assert "\nregion: eu\n" in text and f"\nstack: {target}\n" in text
    project = Project.load(w.tenants_dir, w.root)
    assert [s.name for s in project.stacks_declaring(project.tenants["bluebird"])] == [target]
    assert tenant_urns(w.runner.resources(target), "bluebird")
    assert not tenant_urns(w.runner.resources("us"), "bluebird")
    other = "eu-2" if target == "eu-1" else "eu-1"
    assert not tenant_urns(w.runner.resources(other), "bluebird")
    assert run_cli("validate", cwd=w.root).returncode == 0
