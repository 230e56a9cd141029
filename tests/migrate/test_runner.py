"""The Automation API runner: a clear error without the pulumi binary; the state-move rules."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mailfleet.migrate.pulumi_runner import AutomationRunner, move_resources
from mailfleet.migrate.runner import RunnerError
from tests.conftest import run_cli, tree_bytes

P = "urn:pulumi:{s}::mailfleet::"


def res(stack: str, type_: str, name: str, parent: str = "", provider: str = "", **kw: object) -> dict:
    parent_type = "mailfleet:index:TenantMail$" if parent else ""
    return {
        "urn": f"{P.format(s=stack)}{parent_type}{type_}::{name}",
        "type": type_,
        "id": f"{name}-id",
        "parent": parent,
        "provider": provider,
        **kw,
    }


def deployments() -> tuple[dict, dict]:
    us_root = res("us", "pulumi:pulumi:Stack", "mailfleet-us")
    eu_root = res("eu", "pulumi:pulumi:Stack", "mailfleet-eu")
    us_prov = res("us", "pulumi:providers:aws", "aws-us-east-1", inputs={"region": "us-east-1"})
    eu_prov = res("eu", "pulumi:providers:aws", "aws-eu-central-1", inputs={"region": "eu-central-1"})
    comp = res("us", "mailfleet:index:TenantMail", "bluebird")
    rec = res(
        "us",
        "aws:route53/record:Record",
        "bluebird-dns-x-MX",
        parent=comp["urn"],
        provider=f"{us_prov['urn']}::aws-us-east-1-id",
        dependencies=[comp["urn"]],
    )
    src = {"resources": [us_root, us_prov, comp, rec]}
    dst = {"resources": [eu_root, eu_prov]}
    return src, dst


def test_move_renames_reparents_and_uses_the_destination_provider() -> None:
    src, dst = deployments()
    rec_urn = src["resources"][3]["urn"]
    new_src, new_dst, moved = move_resources(src, dst, [rec_urn, "urn:pulumi:us::mailfleet::gone::x"], "eu")
    assert moved == [rec_urn]
    [moved_rec] = [r for r in new_dst["resources"] if r["type"] == "aws:route53/record:Record"]
    # URN keeps the component type (so the EU program's TenantMail child has the same URN).
    assert moved_rec["urn"] == rec_urn.replace("urn:pulumi:us::", "urn:pulumi:eu::")
    assert moved_rec["parent"] == new_dst["resources"][0]["urn"]  # parent not moved -> root stack
    assert moved_rec["provider"] == f"{dst['resources'][1]['urn']}::aws-eu-central-1-id"
    assert moved_rec["dependencies"] == []
    assert rec_urn not in {r["urn"] for r in new_src["resources"]}
    # Moving again is a no-op; an interrupted move (in both) is finished by dropping the source copy.
    assert move_resources(new_src, new_dst, [rec_urn], "eu")[2] == []
    src_again, _ = deployments()
    done_src, done_dst, moved_again = move_resources(src_again, new_dst, [rec_urn], "eu")
    assert moved_again == [rec_urn]
    assert rec_urn not in {r["urn"] for r in done_src["resources"]}
    assert len(done_dst["resources"]) == len(new_dst["resources"])


def test_children_move_with_their_parent_and_keep_it() -> None:
    src, dst = deployments()
    comp_urn = src["resources"][2]["urn"]
    _, new_dst, moved = move_resources(src, dst, [comp_urn], "eu")
    assert len(moved) == 2
    rec = next(r for r in new_dst["resources"] if r["type"] == "aws:route53/record:Record")
    assert rec["parent"] == comp_urn.replace("urn:pulumi:us::", "urn:pulumi:eu::")


def test_missing_pulumi_binary_is_one_clear_line(tmp_path: Path, project_dir: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    old = os.environ["PATH"]
    os.environ["PATH"] = str(empty)
    try:
        with pytest.raises(RunnerError, match="pulumi CLI is not installed"):
            AutomationRunner(project_dir)
    finally:
        os.environ["PATH"] = old
    before = tree_bytes(project_dir)
    import sys

    result = run_cli(
        "migrate",
        "bluebird",
        "--to",
        "eu",
        "--yes",
        cwd=project_dir,
        env={"PATH": f"{empty}:{Path(sys.executable).parent}", "MAILGUN_API_KEY": "key-x"},
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "the pulumi CLI is not installed (no `pulumi` on PATH): install it "
        "(https://www.pulumi.com/docs/install/) or point MAILFLEET_STACK_RUNNER at another stack runner"
    ]
    assert "Traceback" not in result.stderr
    assert tree_bytes(project_dir) == before
