"""mailfleet.project.Project: load every stack and tenant, collect every problem, build states."""

from __future__ import annotations

import gc
import shutil
from pathlib import Path

import pytest

from mailfleet.errors import InvalidData, UsageError
from mailfleet.project import Project, paused_gc


def test_loads_the_example_project(project_dir: Path) -> None:
    project = Project.load(project_dir / "tenants", project_dir)
    assert list(project.stacks) == ["eu", "us"]
    assert list(project.states) == ["eu", "us"]
    files = sorted(p.stem for p in (project_dir / "tenants").glob("*.yaml"))
    assert sorted(project.tenants) == files
    built = sorted(t.slug for s in project.states.values() for t in s.tenants)
    assert built == files
    for name, state in project.states.items():
        assert all(t.region == state.region == name for t in state.tenants)
    assert project.problems == []
    assert project.paths["acme"] == project_dir / "tenants" / "acme.yaml"


@pytest.mark.parametrize("stack", ["eu", "us"])
def test_one_stack(project_dir: Path, stack: str) -> None:
    project = Project.load(project_dir / "tenants", project_dir, [stack])
    assert list(project.states) == [stack]
    # Every stack is still loaded: conflicts span both regions.
    assert list(project.stacks) == ["eu", "us"]


def test_unknown_stack_is_a_usage_error(project_dir: Path) -> None:
    with pytest.raises(UsageError) as exc:
        Project.load(project_dir / "tenants", project_dir, ["ap"])
    assert isinstance(exc.value, UsageError)  # the CLI exits 2
    # The library names the parameter; only the CLI turns it into the flag --stack.
    assert exc.value.lines() == [f"stack: no stack file Pulumi.ap.yaml in {project_dir}"]


def test_every_problem_is_collected(project_dir: Path) -> None:
    tenants = project_dir / "tenants"
    (tenants / "broken.yaml").write_text("slug: broken\nslug: broken\n")
    (tenants / "acme.yaml").write_text((tenants / "acme.yaml").read_text() + "colour: blue\n")
    eu = project_dir / "Pulumi.eu.yaml"
    eu.write_text(eu.read_text().replace("mailfleet:recordTtl: 3600", "mailfleet:recordTtl: 1"))
    # A conflict between two valid tenants is found too.
    (tenants / "copycat.yaml").write_text(
        "slug: copycat\nname: Copycat\nregion: us\nmailboxes: [x]\nsender_domain:\n  name: harborlogistics.com\n"
    )
    with pytest.raises(InvalidData) as exc:
        Project.load(tenants, project_dir)
    lines = exc.value.lines()
    assert f"{eu}: config.mailfleet:recordTtl: Input should be greater than or equal to 60" in lines
    assert f"{tenants / 'broken.yaml'}: line 2: duplicate key 'slug' (line 2)" in lines
    assert f"{tenants / 'acme.yaml'}: colour: unknown field" in lines
    assert any(
        line.startswith(f"{tenants / 'harbor.yaml'}: sender_domain.name: domain harborlogistics.com")
        or line.startswith(f"{tenants / 'copycat.yaml'}: sender_domain.name: domain harborlogistics.com")
        for line in lines
    )
    assert len(lines) == 4


def test_not_strict_returns_problems_and_valid_states(project_dir: Path) -> None:
    (project_dir / "tenants" / "bad.yaml").write_text("slug: bad\n")
    project = Project.load(project_dir / "tenants", project_dir, strict=False)
    assert [p.field for p in project.problems] == ["name", "region", "mailboxes"]
    assert "acme" in project.tenants and "bad" not in project.tenants


def test_tenant_region_without_a_stack(project_dir: Path) -> None:
    (project_dir / "Pulumi.us.yaml").unlink()
    project = Project.load(project_dir / "tenants", project_dir, strict=False)
    assert list(project.states) == ["eu"]
    us_tenants = sorted(p.where for p in project.problems)
    assert us_tenants and all(
        p.field == "region" and p.message == "no stack serves region 'us'" for p in project.problems
    )
    assert len(us_tenants) == sum(1 for t in project.tenants.values() if t.region == "us")


def test_no_stack_files_is_a_problem(project_dir: Path, tmp_path: Path) -> None:
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    with pytest.raises(InvalidData) as exc:
        Project.load(project_dir / "tenants", empty)
    assert exc.value.lines() == [f"{empty}: no stack files (Pulumi.<stack>.yaml) in this directory"]


def test_missing_tenants_dir(project_dir: Path) -> None:
    shutil.rmtree(project_dir / "tenants")
    with pytest.raises(InvalidData) as exc:
        Project.load(project_dir / "tenants", project_dir)
    assert exc.value.lines() == [f"{project_dir / 'tenants'}: tenants directory does not exist"]


def test_only_some_tenant_files(project_dir: Path) -> None:
    tenants = project_dir / "tenants"
    project = Project.load(
        tenants, project_dir, tenant_paths=[tenants / "acme.yaml", tenants / "bluebird.yaml"]
    )
    assert sorted(project.tenants) == ["acme", "bluebird"]
    assert [t.slug for t in project.states["eu"].tenants] == ["acme"]
    assert [t.slug for t in project.states["us"].tenants] == ["bluebird"]


def test_paused_gc_restores_the_collector_state(project_dir: Path) -> None:
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner block does not re-enable early
    assert gc.isenabled()
    with pytest.raises(RuntimeError), paused_gc():
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()
    Project.load(project_dir / "tenants", project_dir)
    assert gc.isenabled()
