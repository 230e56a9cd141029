"""mailfleet.project.validate: a broken entry in tenants/ never hides the other problems."""

from __future__ import annotations

from pathlib import Path

from mailfleet.project.validate import validate_project


def _copycat(project_dir: Path) -> Path:
    path = project_dir / "tenants" / "zcopycat.yaml"  # after harbor: the conflict is reported on it
    path.write_text(
        "slug: zcopycat\nname: Copycat\nregion: us\nmailboxes: [x]\nsender_domain:\n  name: harborlogistics.com\n"
    )
    return path


def test_every_problem_with_a_dangling_entry_in_tenants(project_dir: Path) -> None:
    tenants = project_dir / "tenants"
    (tenants / "ghost.yaml").symlink_to("missing")
    copycat = _copycat(project_dir)
    report = validate_project(tenants, project_dir)
    wheres = {p.where for p in report.problems}
    assert str(tenants / "ghost.yaml") in wheres
    assert str(copycat) in wheres  # the conflict is still found
    assert report.tenant_files == len(list(tenants.glob("*.yaml")))


def test_a_given_file_is_checked_against_the_others_despite_a_broken_entry(project_dir: Path) -> None:
    tenants = project_dir / "tenants"
    (tenants / "ghost.yaml").symlink_to("missing")
    copycat = _copycat(project_dir)
    report = validate_project(tenants, project_dir, [copycat])
    assert [(p.where, p.field) for p in report.problems] == [(str(copycat), "sender_domain.name")]
    assert "harbor" in report.problems[0].message
