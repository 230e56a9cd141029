"""The GitHub workflows: linted by real actionlint, shaped as the design says, and the PR-comment
script run against a paginating fake of the GitHub API."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO
from tests.diff.conftest import Repo

WORKFLOWS = REPO / ".github" / "workflows"
HERE = Path(__file__).parent
ACTIONLINT_MODULE = REPO / ".tools" / "node_modules" / "@tktco" / "node-actionlint"


def node() -> str:
    found = shutil.which("node") or shutil.which("nodejs")
    if found is None:
        pytest.fail("Node.js is needed for actionlint and the comment script: run `make tools`")
    return found


def actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    if not ACTIONLINT_MODULE.is_dir():
        pytest.fail(f"actionlint is not installed in {ACTIONLINT_MODULE}: run `make tools`")
    return subprocess.run(
        [node(), str(HERE / "actionlint_run.cjs"), str(ACTIONLINT_MODULE), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def load(name: str) -> dict[Any, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def test_workflows_pass_actionlint() -> None:
    proc = actionlint(WORKFLOWS / "preview.yml", WORKFLOWS / "deploy.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "checked 2 file(s), 0 finding(s)" in proc.stdout


def test_actionlint_reports_real_findings(tmp_path: Path) -> None:
    broken = tmp_path / "preview.yml"
    text = (WORKFLOWS / "preview.yml").read_text()
    text = text.replace("pulumi-version:", "pulumi-versoin:").replace(
        "steps.affected.outputs", "steps.afected.outputs", 1
    )
    broken.write_text(text)
    proc = actionlint(broken)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'input "pulumi-versoin" is not defined in action "pulumi/actions@v6"' in proc.stdout
    assert 'property "afected" is not defined' in proc.stdout


def steps_text(job: dict[str, Any]) -> str:
    return "\n".join(json.dumps(s) for s in job["steps"])


def test_preview_workflow_shape() -> None:
    wf = load("preview.yml")
    on = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads the key `on` as true
    # Every pull request (no paths filter: deploy.yml applies program changes too); a label
    # change re-runs the destructive gate.
    assert "paths" not in on["pull_request"]
    assert {"labeled", "unlabeled", "synchronize", "opened"} <= set(on["pull_request"]["types"])
    assert wf["permissions"] == {"contents": "read", "pull-requests": "write"}
    job = wf["jobs"]["preview"]
    assert job["needs"] == "stacks"
    assert job["strategy"]["matrix"] == "${{ fromJSON(needs.stacks.outputs.matrix) }}"
    assert "matrix.stack" in job["concurrency"]["group"]
    text = steps_text(job)
    for needle in (
        'mailfleet diff --base \\"origin/$BASE_REF\\" --stack \\"$STACK\\" --format markdown',
        '--preview \\"$RUNNER_TEMP/preview-$STACK.json\\" --preview-log',
        "pulumi/actions@v6",
        'pulumi login \\"$PULUMI_BACKEND_URL\\"',
        "stack_secrets.py",
        'pulumi preview --stack \\"$STACK\\" --non-interactive --json',
        "--fail-on destructive",
        "secrets.MAILGUN_API_KEY",
        "secrets.PULUMI_CONFIG_PASSPHRASE",
    ):
        assert needle in text, needle
    assert "PULUMI_ACCESS_TOKEN" not in text  # one backend: PULUMI_BACKEND_URL + passphrase
    scripts = [s for s in job["steps"] if s.get("uses", "").startswith("actions/github-script@")]
    assert len(scripts) == 1  # one comment per stack: the diff and the preview together
    assert all("pr-comment.cjs" in s["with"]["script"] for s in scripts)
    assert (WORKFLOWS / "pr-comment.cjs").is_file()
    assert "github.paginate" in (WORKFLOWS / "pr-comment.cjs").read_text()
    # Secrets only reach the steps that run pulumi, never the whole job.
    assert "secrets." not in json.dumps(job.get("env", {}))
    assert "secrets." not in json.dumps(wf["jobs"]["stacks"])


def test_deploy_workflow_shape() -> None:
    wf = load("deploy.yml")
    on = wf[True] if True in wf else wf["on"]
    assert on["push"] == {"branches": ["main"]}
    assert on["workflow_dispatch"]["inputs"]["allow_destructive"]["type"] == "boolean"
    first, second = wf["jobs"]["up-first"], wf["jobs"]["up-second"]
    # The two phases run the same steps; the second waits for the first.
    assert first["steps"] == second["steps"]
    assert second["needs"] == ["plan", "up-first"]
    for job, phase in ((first, "first"), (second, "second")):
        assert job["strategy"]["matrix"] == f"${{{{ fromJSON(needs.plan.outputs.{phase}) }}}}"
        assert job["strategy"]["max-parallel"] == "${{ fromJSON(needs.plan.outputs.max_parallel) }}"
        assert job["environment"] == (
            "${{ matrix.destructive && format('{0}-destructive', matrix.stack) || matrix.stack }}"
        )
        assert job["concurrency"] == {"group": "deploy-${{ matrix.stack }}", "cancel-in-progress": False}
        assert "secrets." not in json.dumps(job.get("env", {}))
    runs = [s.get("run", "") for s in first["steps"]]
    order = [
        next(i for i, r in enumerate(runs) if r.startswith(cmd))
        for cmd in ("pulumi refresh", "pulumi preview", "flags=()", "pulumi up")
    ]
    assert order == sorted(order)
    assert "PULUMI_ACCESS_TOKEN" not in json.dumps(wf)


BOT = "github-actions[bot]"


def comment(cid: int, body: str, login: str = BOT) -> dict[str, Any]:
    return {"id": cid, "body": body, "user": {"login": login}}


def test_pr_comment_script_updates_creates_and_deletes_by_marker(repo: Repo, tmp_path: Path) -> None:
    # Real comment files: the EU diff of 90 new tenants needs several parts.
    for i in range(90):
        repo.tenant(f"bulk{i:03d}").write_text(
            f"slug: bulk{i:03d}\nname: Bulk {i}\nregion: eu\nmailboxes: [support, sales, billing]\n"
            f"sender_domain:\n  name: bulk{i}.example.de\n  dns: cloudflare:{i:032x}\n"
            "tracking: true\n"
        )
    out = tmp_path / "comments"
    proc = repo.diff("--base", "HEAD", "--stack", "eu", "--format", "markdown", "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((out / "comments.json").read_text())
    n = len(manifest)
    assert n >= 3
    bodies = {m["part"]: (out / m["file"]).read_text() for m in manifest}

    filler = [comment(1000 + i, f"review comment {i}", login="someone") for i in range(230)]
    state_comments = [
        comment(1, f"<!-- mailfleet-diff:stack=eu part=2/{n + 2} -->\nold part 2"),
        *filler[:120],
        comment(2, "<!-- mailfleet-diff:stack=us part=1/1 -->\nthe US comment"),
        comment(3, "<!-- mailfleet-diff:stack=eu part=1/2 -->\nsomeone copied the marker", login="mallory"),
        *filler[120:],
        comment(4, f"<!-- mailfleet-diff:stack=eu part=1/{n + 2} -->\nold part 1"),  # on page 3
        comment(5, f"<!-- mailfleet-diff:stack=eu part={n + 1}/{n + 2} -->\nstale part"),
        comment(7, bodies[3]),  # part 3 already up to date
        comment(6, f"<!-- mailfleet-diff:stack=eu part=3/{n + 2} -->\nan older duplicate of part 3"),
    ]
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"issue_number": 42, "comments": state_comments}))
    run = subprocess.run(
        [
            node(),
            str(HERE / "pr_comment_driver.cjs"),
            str(WORKFLOWS / "pr-comment.cjs"),
            str(state),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["pages"] == [1, 2, 3]  # every page was read
    writes = [c for c in result["calls"] if c["op"] != "info"]
    updates = {c["comment_id"]: c["body"] for c in writes if c["op"] == "update"}
    creates = [c["body"] for c in writes if c["op"] == "create"]
    deletes = sorted(c["comment_id"] for c in writes if c["op"] == "delete")
    assert updates == {4: bodies[1], 1: bodies[2]}
    assert creates == [bodies[p] for p in range(4, n + 1)]
    assert all(c["issue_number"] == 42 for c in writes if c["op"] == "create")
    # The stale part and the duplicate part 3 go; part 3 itself is unchanged; other stacks and
    # other people's comments are never touched.
    assert deletes == [5, 6]
    assert result["done"] == {"created": n - 3, "updated": 2, "unchanged": 1, "deleted": 2}
