"""The workflows' own `run:` steps, executed as GitHub Actions would run them (bash -eo pipefail,
$GITHUB_OUTPUT, $GITHUB_STEP_SUMMARY, $RUNNER_TEMP, the job's and the step's `env:`), in a real
git repository, with the real mailfleet and a fake `pulumi` (tests/fakes/pulumi_cli.py) on PATH.

Only `uses:` steps (checkout, setup-python, the Pulumi installer, github-script, which
tests/diff/test_workflows.py runs against a fake GitHub API) and `make setup` (the venv exists)
are skipped. Every `${{ }}` expression a step's env uses must be given by the test, so a new
expression in a workflow fails here until a test covers it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO
from tests.diff.conftest import Repo

WORKFLOWS = REPO / ".github" / "workflows"
FIXTURES = REPO / "tests" / "diff" / "fixtures"
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
IF_ENV = re.compile(r"^env\.(\w+) == '([^']*)'$")

SECRETS = {
    "PULUMI_CONFIG_PASSPHRASE": "pass-phrase-7f3a",
    "MAILGUN_API_KEY": "key-mailgun-secret-91c2",
    "MAILFLEET_CREDENTIAL_SEED": "seed-secret-04be",
    "CLOUDFLARE_API_TOKEN": "cf-token-secret-5d11",
    "MAILFLEET_SMTP_PASSWORDS": json.dumps({"alpine": "smtp-pw-alpine-88", "harbor": "smtp-pw-harbor-17"}),
    "AWS_ACCESS_KEY_ID": "AKIAFAKESECRET0001",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-key-6b0e",
}
SECRET_VALUES = [
    "pass-phrase-7f3a",
    "key-mailgun-secret-91c2",
    "seed-secret-04be",
    "cf-token-secret-5d11",
    "smtp-pw-alpine-88",
    "smtp-pw-harbor-17",
    "aws-secret-key-6b0e",
]


def workflow(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text())


@dataclass
class StepResult:
    name: str
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class JobRun:
    steps: list[StepResult]
    summary: str

    @property
    def ok(self) -> bool:
        return all(s.returncode == 0 for s in self.steps)

    def step(self, name: str) -> StepResult:
        return next(s for s in self.steps if s.name == name)

    @property
    def outputs(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for s in self.steps:
            out.update(s.outputs)
        return out

    def text(self) -> str:
        return "\n".join(s.stdout + s.stderr for s in self.steps) + self.summary


class World:
    """A repository like the real one (tenants, stack files, .github/scripts, the venv linked in)
    and a runner temp dir; runs a workflow job's steps there."""

    def __init__(self, repo: Repo, tmp: Path) -> None:
        self.repo = repo
        self.tmp = tmp
        self.bin = tmp / "bin"
        self.bin.mkdir(parents=True)
        fake = self.bin / "pulumi"
        fake.write_text(f"#!{sys.executable}\n" + (REPO / "tests" / "fakes" / "pulumi_cli.py").read_text())
        fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
        self.log = tmp / "pulumi.log"
        self.log.touch()

    def pulumi_calls(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def run_job(
        self, wf: str, job: str, ctx: dict[str, str], extra_env: dict[str, str] | None = None
    ) -> JobRun:
        spec = workflow(wf)["jobs"][job]
        temp = self.tmp / f"runner-{wf}-{job}-{len(list(self.tmp.iterdir()))}"
        temp.mkdir()
        summary = temp / "summary.md"
        summary.touch()
        job_env = {k: resolve(v, ctx) for k, v in (spec.get("env") or {}).items()}
        results: list[StepResult] = []
        for i, step in enumerate(spec["steps"]):
            if "uses" in step or step.get("run", "").strip() == "make setup":
                continue
            name = step.get("name", f"step {i}")
            env = {**job_env, **{k: resolve(v, ctx) for k, v in (step.get("env") or {}).items()}}
            if "if" in step and not condition(step["if"], env):
                continue
            assert "${{" not in step["run"], f"{name}: run: uses an expression; pass it through env:"
            output = temp / f"output-{i}"
            output.touch()
            proc = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                cwd=self.repo.root,
                env={
                    "PATH": f"{self.bin}{os.pathsep}{os.environ['PATH']}",
                    "HOME": str(self.tmp),
                    "LANG": "C.UTF-8",
                    "COLUMNS": "200",
                    "GITHUB_OUTPUT": str(output),
                    "GITHUB_STEP_SUMMARY": str(summary),
                    "GITHUB_WORKSPACE": str(self.repo.root),
                    "RUNNER_TEMP": str(temp),
                    "FAKE_PULUMI_LOG": str(self.log),
                    "PYTHONPATH": str(REPO),
                    **(extra_env or {}),
                    **env,
                },
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
            results.append(StepResult(name, proc.returncode, proc.stdout, proc.stderr, outputs))
            if proc.returncode != 0:
                break  # like Actions: later steps (without `if: always()`) do not run
        return JobRun(results, summary.read_text())


def resolve(value: Any, ctx: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group(1) not in ctx:
            pytest.fail(f"the test gives no value for the expression {m.group(1)!r}")
        return ctx[m.group(1)]

    return EXPR.sub(sub, str(value))


def condition(expr: str, env: dict[str, str]) -> bool:
    m = IF_ENV.match(expr.strip())
    assert m, f"the test runner understands only `env.X == 'v'` step conditions, not {expr!r}"
    return env.get(m.group(1), "") == m.group(2)


def secret_ctx() -> dict[str, str]:
    return {f"secrets.{k}": v for k, v in SECRETS.items()}


@pytest.fixture
def world(repo: Repo, tmp_path: Path) -> World:
    (repo.root / ".gitignore").write_text("venv\n")
    (repo.root / "venv").symlink_to(REPO / "venv")
    shutil.copytree(REPO / ".github" / "scripts", repo.root / ".github" / "scripts")
    repo.commit("the CI scripts")
    return World(repo, tmp_path / "ci")


def move(repo: Repo, slug: str, old: str, new: str) -> None:
    repo.edit(slug, f"region: {old}", f"region: {new}")


def deploy_ctx(before: str) -> dict[str, str]:
    return {"github.event.before": before, "github.event_name": "push", "inputs.allow_destructive": ""}


def matrix(out: dict[str, str], key: str) -> list[dict[str, Any]]:
    """A matrix's entries without ``parallel`` (from `mailfleet diff --affected-stacks`: a
    positive whole number on every stack it lists, checked here)."""
    items = json.loads(out[key])["include"]
    for item in items:
        parallel = item.pop("parallel", 1)
        assert isinstance(parallel, int) and parallel >= 1
    return items


# ----- deploy.yml: which stacks, in what order ------------------------------------------------


@pytest.mark.parametrize(
    ("slug", "old", "new"),
    [("nordlys", "eu", "us"), ("redwood", "us", "eu")],
    ids=["eu-to-us", "us-to-eu"],
)
def test_deploy_runs_the_stack_giving_up_a_domain_first(world: World, slug: str, old: str, new: str) -> None:
    before = world.repo.git("rev-parse", "HEAD")
    move(world.repo, slug, old, new)
    world.repo.commit(f"move {slug} to {new}")
    run = world.run_job("deploy.yml", "plan", deploy_ctx(before))
    assert run.ok, run.text()
    out = run.outputs
    # The stack deleting the domain first (and it is destructive: it needs the approval
    # environment), the stack creating the same name after it.
    assert matrix(out, "first") == [{"stack": old, "region": old, "destructive": True}]
    assert matrix(out, "second") == [{"stack": new, "region": new, "destructive": False}]
    assert (out["first_count"], out["second_count"]) == ("1", "1")
    assert int(out["max_parallel"]) >= 1
    # Each stack's `pulumi up --parallel`, as `mailfleet diff --affected-stacks` computed it.
    assert all(e["parallel"] >= 1 for k in ("first", "second") for e in json.loads(out[k])["include"])
    assert "mailfleet diff" in run.summary


def test_deploy_refuses_moves_in_both_directions(world: World) -> None:
    before = world.repo.git("rev-parse", "HEAD")
    move(world.repo, "nordlys", "eu", "us")
    move(world.repo, "redwood", "us", "eu")
    world.repo.commit("swap")
    run = world.run_job("deploy.yml", "plan", deploy_ctx(before))
    assert not run.ok
    last = run.steps[-1]
    assert last.name == "Stacks to deploy, and in what order"
    assert "both directions" in last.stderr
    assert "nordlys-reiser.no eu -> us" in last.stderr and "redwood-outdoors.com us -> eu" in last.stderr
    assert "mailfleet migrate" in last.stderr
    assert "first=" not in json.dumps(last.outputs)


def test_deploy_of_unrelated_stacks_runs_them_in_parallel_and_skips_docs(world: World) -> None:
    before = world.repo.git("rev-parse", "HEAD")
    world.repo.edit("acme", "mailboxes: [", "mailboxes: [extra, ")
    world.repo.edit("bluebird", "mailboxes: [", "mailboxes: [extra, ")
    world.repo.commit("a mailbox each")
    run = world.run_job("deploy.yml", "plan", deploy_ctx(before))
    assert run.ok, run.text()
    assert sorted(e["stack"] for e in matrix(run.outputs, "first")) == ["eu", "us"]
    assert matrix(run.outputs, "second") == []
    assert not any(e["destructive"] for e in matrix(run.outputs, "first"))

    docs = world.repo.git("rev-parse", "HEAD")
    (world.repo.root / "docs").mkdir()
    (world.repo.root / "docs" / "x.md").write_text("words\n")
    world.repo.commit("docs only")
    run = world.run_job("deploy.yml", "plan", deploy_ctx(docs))
    assert run.ok, run.text()
    assert (run.outputs["first_count"], run.outputs["second_count"]) == ("0", "0")

    code = world.repo.git("rev-parse", "HEAD")
    (world.repo.root / "components").mkdir()
    (world.repo.root / "components" / "x.py").write_text("X = 1\n")
    world.repo.commit("a program change: every stack")
    run = world.run_job("deploy.yml", "plan", deploy_ctx(code))
    assert run.ok, run.text()
    assert sorted(e["stack"] for e in matrix(run.outputs, "first")) == ["eu", "us"]


def test_deploy_without_a_known_before_compares_with_the_parent(world: World) -> None:
    world.repo.edit("bluebird", "mailboxes: [", "mailboxes: [extra, ")
    world.repo.commit("a mailbox")
    run = world.run_job("deploy.yml", "plan", deploy_ctx("0" * 40))  # a new branch's push
    assert run.ok, run.text()
    assert [e["stack"] for e in matrix(run.outputs, "first")] == ["us"]


def test_manual_deploy_with_allow_destructive_routes_every_stack_to_approval(world: World) -> None:
    ctx = {
        "github.event.before": "",
        "github.event_name": "workflow_dispatch",
        "inputs.allow_destructive": "true",
    }
    run = world.run_job("deploy.yml", "plan", ctx)
    assert run.ok, run.text()
    first = matrix(run.outputs, "first")
    assert sorted(e["stack"] for e in first) == ["eu", "us"]
    assert all(e["destructive"] for e in first)


# ----- deploy.yml: the up job ----------------------------------------------------------------


def up_ctx(stack: str, destructive: bool) -> dict[str, str]:
    return {
        "matrix.stack": stack,
        "matrix.parallel": "4",
        "matrix.destructive": "true" if destructive else "false",
        "vars.PULUMI_BACKEND_URL": "s3://acme-mailfleet-state",
        **secret_ctx(),
    }


@pytest.mark.parametrize("job", ["up-first", "up-second"])
def test_up_job_logs_in_sets_secrets_refreshes_previews_then_applies(world: World, job: str) -> None:
    run = world.run_job(
        "deploy.yml", job, up_ctx("eu", False), {"FAKE_PULUMI_PREVIEW": str(FIXTURES / "preview_create.json")}
    )
    assert run.ok, run.text()
    calls = world.pulumi_calls()
    argvs = [c["argv"] for c in calls]
    assert argvs[0] == ["login", "s3://acme-mailfleet-state"]
    assert argvs[1] == ["stack", "select", "eu"]
    sets = {c["argv"][-1]: c for c in calls if c["argv"][:2] == ["config", "set"]}
    assert set(sets) == {
        "mailgun:apiKey",
        "mailfleet:credentialSeed",
        "cloudflare:apiToken",
        "mailfleet:smtpPasswords.alpine",
        "mailfleet:smtpPasswords.harbor",
    }
    # The program reads these keys (components/secrets.py); each arrives on stdin, as a secret.
    assert sets["mailgun:apiKey"]["stdin"] == SECRETS["MAILGUN_API_KEY"]
    assert sets["mailfleet:smtpPasswords.alpine"]["stdin"] == "smtp-pw-alpine-88"
    assert all("--secret" in c["argv"] and c["argv"][2:4] == ["--stack", "eu"] for c in sets.values())
    assert "--path" in sets["mailfleet:smtpPasswords.harbor"]["argv"]
    # Refresh before the preview, the preview before the update.
    subs = [a[0] for a in argvs if a[0] in ("refresh", "preview", "up")]
    assert subs == ["refresh", "preview", "up"]
    refresh = next(a for a in argvs if a[0] == "refresh")
    assert {"--yes", "--skip-preview", "--non-interactive"} <= set(refresh) and "eu" in refresh
    up = next(a for a in argvs if a[0] == "up")
    assert {"--yes", "--non-interactive"} <= set(up) and up[up.index("--stack") + 1] == "eu"
    assert up[up.index("--parallel") + 1] == "4"  # the affected-stacks figure
    # Every pulumi call after login has the passphrase; no secret value is ever an argument
    # nor in any step's output or the summary.
    assert all("PULUMI_CONFIG_PASSPHRASE" in c["env"] for c in calls)
    # The provider secrets reach only the step that puts them into the stack config.
    for c in calls:
        if c["argv"][0] in ("refresh", "preview", "up"):
            assert not {"MAILGUN_API_KEY", "CLOUDFLARE_API_TOKEN", "MAILFLEET_CREDENTIAL_SEED"} & set(
                c["env"]
            )
    flat = json.dumps(argvs) + run.text()
    for value in SECRET_VALUES:
        assert value not in flat
    assert "Creates=10" in run.summary


def test_up_job_stops_before_up_on_an_unapproved_destructive_preview(world: World) -> None:
    preview = {"FAKE_PULUMI_PREVIEW": str(FIXTURES / "preview_changes.json")}
    run = world.run_job("deploy.yml", "up-first", up_ctx("us", False), preview)
    assert not run.ok
    assert run.steps[-1].name == "Destructive gate"
    assert [c["argv"][0] for c in world.pulumi_calls() if c["argv"][0] == "up"] == []

    # The same preview in the approval environment (<stack>-destructive) goes ahead.
    run = world.run_job("deploy.yml", "up-first", up_ctx("us", True), preview)
    assert run.ok, run.text()
    assert [c["argv"][0] for c in world.pulumi_calls() if c["argv"][0] == "up"] == ["up"]
    assert "Destructive=4" in run.summary


def test_up_job_missing_secret_names_it_and_sets_nothing(world: World) -> None:
    ctx = up_ctx("eu", False)
    ctx["secrets.MAILGUN_API_KEY"] = ""
    run = world.run_job(
        "deploy.yml", "up-first", ctx, {"FAKE_PULUMI_PREVIEW": str(FIXTURES / "preview_create.json")}
    )
    assert not run.ok
    step = run.steps[-1]
    assert step.name == "Log in to the backend and set the stack's secrets"
    assert (
        "MAILGUN_API_KEY: missing: add the secret MAILGUN_API_KEY to the GitHub environment of stack eu"
        in step.stderr
    )
    assert not [c for c in world.pulumi_calls() if c["argv"][:2] == ["config", "set"]]


def test_up_job_stops_when_refresh_fails(world: World) -> None:
    env = {"FAKE_PULUMI_PREVIEW": str(FIXTURES / "preview_create.json"), "FAKE_PULUMI_FAIL": "refresh"}
    run = world.run_job("deploy.yml", "up-first", up_ctx("eu", False), env)
    assert not run.ok and run.steps[-1].name == "pulumi refresh"
    assert "up" not in [c["argv"][0] for c in world.pulumi_calls()]


# ----- preview.yml ---------------------------------------------------------------------------


def pr_ctx(labels: list[str], same_repo: bool = True) -> dict[str, str]:
    return {
        "github.base_ref": "main",
        "github.event.pull_request.number": "42",
        "contains(github.event.pull_request.labels.*.name, 'allow-destructive')": (
            "true" if "allow-destructive" in labels else "false"
        ),
        "github.event.pull_request.head.repo.full_name == github.repository": "true"
        if same_repo
        else "false",
        "vars.PULUMI_BACKEND_URL": "s3://acme-mailfleet-state",
        **secret_ctx(),
    }


def open_pr(world: World) -> None:
    world.repo.git("update-ref", "refs/remotes/origin/main", "HEAD")
    world.repo.git("checkout", "-q", "-b", "pr")


def test_preview_matrix_holds_only_the_affected_stacks(world: World) -> None:
    open_pr(world)
    world.repo.edit("bluebird", "mailboxes: [", "mailboxes: [extra, ")
    world.repo.commit("a US mailbox")
    run = world.run_job("preview.yml", "stacks", pr_ctx([]))
    assert run.ok, run.text()
    assert matrix(run.outputs, "matrix") == [{"stack": "us", "region": "us", "destructive": False}]
    assert run.outputs["count"] == "1"


def test_preview_of_a_code_change_covers_every_stack(world: World) -> None:
    open_pr(world)
    (world.repo.root / "requirements.txt").write_text("pulumi==3.999.0\n")
    world.repo.commit("bump the SDK")
    run = world.run_job("preview.yml", "stacks", pr_ctx([]))
    assert run.ok, run.text()
    assert sorted(e["stack"] for e in matrix(run.outputs, "matrix")) == ["eu", "us"]


@pytest.mark.parametrize("labelled", [False, True], ids=["unlabelled", "allow-destructive"])
def test_preview_gate_needs_the_label_for_a_destructive_change(world: World, labelled: bool) -> None:
    open_pr(world)
    world.repo.edit("redwood", "selector: rw1", "selector: rw2")  # replaces the Mailgun domain
    world.repo.commit("new DKIM selector")
    ctx = {**pr_ctx(["allow-destructive"] if labelled else []), "matrix.stack": "us", "runner.temp": "unused"}
    run = world.run_job(
        "preview.yml", "preview", ctx, {"FAKE_PULUMI_PREVIEW": str(FIXTURES / "preview_changes.json")}
    )
    names = [s.name for s in run.steps]
    # The report (diff and preview in one comment per stack) is made before the gate decides.
    assert names[:3] == ["Log in to the backend and set the stack's secrets", "pulumi preview", "Report"]
    assert names[-1] == "Destructive changes need the allow-destructive label"
    assert run.ok is labelled, run.text()
    if not labelled:
        assert "adds the label allow-destructive" in run.steps[-1].stdout
    assert run.summary.startswith("<!-- mailfleet-diff:stack=us part=1/1 -->")
    assert run.summary.count("<!-- mailfleet-") == 1
    assert "#### pulumi preview" in run.summary and "<details><summary>pulumi preview output" in run.summary
    assert "~ 3 to update" in run.summary  # the human output, folded
    for value in SECRET_VALUES:
        assert value not in run.text()


def test_preview_of_a_fork_runs_no_pulumi_and_still_gates(world: World) -> None:
    open_pr(world)
    world.repo.edit("redwood", "selector: rw1", "selector: rw2")
    world.repo.commit("new DKIM selector")
    ctx = {**pr_ctx([], same_repo=False), "matrix.stack": "us", "runner.temp": "unused"}
    ctx.update({k: "" for k in ctx if k.startswith("secrets.")})  # forks get no secrets
    run = world.run_job("preview.yml", "preview", ctx)
    assert [s.name for s in run.steps] == ["Report", "Destructive changes need the allow-destructive label"]
    assert "#### pulumi preview" not in run.summary and "mailfleet-diff:stack=us" in run.summary
    assert not run.ok
    assert world.pulumi_calls() == []
