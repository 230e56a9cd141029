"""``shard move`` through ``AutomationRunner`` against the fake ``pulumi`` on PATH: the exact
commands (exports and imports, destination first), and never an ``up``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mailfleet.migrate.pulumi_runner import AutomationRunner
from mailfleet.migrate.runner import RunnerError
from mailfleet.shard.run import ShardMover
from tests.migrate.test_pulumi_cli import FakePulumi, fake_pulumi  # noqa: F401 (the fixture)
from tests.shard.conftest import shard_project

COMP = "urn:pulumi:eu-1::mailfleet::mailfleet:index:TenantMail::acme"
REC = "urn:pulumi:eu-1::mailfleet::mailfleet:index:TenantMail$aws:route53/record:Record::acme-dns-x-MX"
OTHER = "urn:pulumi:eu-1::mailfleet::mailfleet:index:TenantMail::fjordbank"


def deployment(stack: str, *resources: dict[str, Any]) -> dict[str, Any]:
    root = {
        "urn": f"urn:pulumi:{stack}::mailfleet::pulumi:pulumi:Stack::mailfleet-{stack}",
        "type": "pulumi:pulumi:Stack",
    }
    return {"version": 3, "deployment": {"resources": [root, *resources]}}


def test_shard_move_runs_exports_and_imports_only(fake_pulumi: FakePulumi, project_dir: Path) -> None:  # noqa: F811
    shard_project(project_dir)
    comp = {"urn": COMP, "type": "mailfleet:index:TenantMail"}
    rec = {"urn": REC, "type": "aws:route53/record:Record", "parent": COMP, "inputs": {"name": "x"}}
    other = {"urn": OTHER, "type": "mailfleet:index:TenantMail"}
    before = deployment("eu-1", comp, rec, other)
    after = deployment("eu-1", other)
    fake_pulumi.replies(
        # resources(eu-1), then state_move's own export of eu-1
        {"match": ["stack", "export", "--stack", "eu-1"], "stdout": json.dumps(before), "times": 2},
        {"match": ["stack", "export", "--stack", "eu-2"], "stdout": json.dumps(deployment("eu-2"))},
        {"match": ["stack", "import", "--stack", "eu-2"], "file_to": "eu-2-import.json"},
        {"match": ["stack", "import", "--stack", "eu-1"], "file_to": "eu-1-import.json"},
        # the check that nothing of the tenant is left in the source
        {"match": ["stack", "export", "--stack", "eu-1"], "stdout": json.dumps(after)},
    )
    runner = AutomationRunner(project_dir, project_dir / "tenants")
    result = ShardMover(project_dir / "tenants", project_dir, runner).move("acme", "eu-2")
    assert sorted(result.moved) == sorted([COMP, REC])
    argvs = fake_pulumi.argvs()
    assert [a[:4] for a in argvs] == [
        ["stack", "export", "--stack", "eu-1"],
        ["stack", "export", "--stack", "eu-1"],
        ["stack", "export", "--stack", "eu-2"],
        ["stack", "import", "--stack", "eu-2"],
        ["stack", "import", "--stack", "eu-1"],
        ["stack", "export", "--stack", "eu-1"],
    ]
    assert not any(a[0] in ("up", "refresh", "destroy", "preview") for a in argvs)
    dest = json.loads((fake_pulumi.dir / "eu-2-import.json").read_text())
    urns = {r["urn"] for r in dest["deployment"]["resources"]}
    assert {COMP.replace(":eu-1::", ":eu-2::"), REC.replace(":eu-1::", ":eu-2::")} <= urns
    src = json.loads((fake_pulumi.dir / "eu-1-import.json").read_text())
    assert {r["urn"] for r in src["deployment"]["resources"]} == {
        before["deployment"]["resources"][0]["urn"],
        OTHER,
    }
    assert "\nstack: eu-2\n" in (project_dir / "tenants" / "acme.yaml").read_text()


def test_a_failing_import_leaves_the_journal_to_resume(fake_pulumi: FakePulumi, project_dir: Path) -> None:  # noqa: F811
    shard_project(project_dir)
    comp = {"urn": COMP, "type": "mailfleet:index:TenantMail"}
    fake_pulumi.replies(
        {"match": ["stack", "export", "--stack", "eu-1"], "stdout": json.dumps(deployment("eu-1", comp))},
        {"match": ["stack", "export", "--stack", "eu-2"], "stdout": json.dumps(deployment("eu-2"))},
        {
            "match": ["stack", "import", "--stack", "eu-2"],
            "rc": 255,
            "stderr": "error: the stack is currently locked by 1 lock(s).\n",
        },
    )
    runner = AutomationRunner(project_dir, project_dir / "tenants")
    mover = ShardMover(project_dir / "tenants", project_dir, runner)
    with pytest.raises(RunnerError) as exc:
        mover.move("acme", "eu-2")
    assert "eu-2" in str(exc.value)  # the runner's one line names the stack
    text = (project_dir / "tenants" / "acme.yaml").read_text()
    assert "shard_move:" in text and "stack: eu-1" in text and "state-move:" in text
