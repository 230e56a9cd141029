"""Stack settings imported from Pulumi ESC environments (issue 12 item 6).

In process through a fake resolver (merge order, the file winning, the messages), and as CLI
processes (`plan`, `diff`, `validate`) through a fake `esc` binary that answers
`esc env open ENV --format json` like the real one, or through no `esc` at all.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mailfleet.errors import InvalidData
from mailfleet.model import esc
from mailfleet.model.load import load_stack, stack_from_data
from tests.conftest import REPO, run_cli

SECRET = "key-esc-0123456789abcdef-SECRET"  # a secret the environment also exports

# What Pulumi.eu.yaml holds today, moved into an ESC environment (unqualified keys belong to
# the project's namespace, as Pulumi reads them).
EU_ESC = {
    "aws:region": "eu-central-1",
    "platformDomain": "mail.example.eu",
    "mailfleet:hostedZoneId": "Z04EXAMPLEEU0001",
    "inboundUrl": "https://crm.example.eu/mailgun/inbound",
    "webhookUrl": "https://crm.example.eu/mailgun/events",
    "egressIps": ["192.0.2.10", "192.0.2.11"],
    "dmarcRua": "mailto:dmarc-reports@mail.example.eu",
    "recordTtl": 3600,
    "mailgun:apiKey": SECRET,
}
STACK_FILE = {"environment": ["acme/mailfleet-eu"], "config": {"mailfleet:region": "eu"}}


class FakeEsc:
    def __init__(self, envs: dict[str, dict[str, Any]]) -> None:
        self.envs = envs
        self.opened: list[str] = []

    def pulumi_config(self, environment: str) -> dict[str, Any]:
        self.opened.append(environment)
        if environment not in self.envs:
            raise esc.EscUnavailable(f"no environment {environment}")
        return self.envs[environment]


def test_settings_from_esc_are_read_like_the_file(eu_stack):
    fake = FakeEsc({"acme/mailfleet-eu": EU_ESC})
    stack, problems = stack_from_data("Pulumi.eu.yaml", "eu", STACK_FILE, fake)
    assert problems == []
    assert stack == eu_stack
    assert fake.opened == ["acme/mailfleet-eu"]


def test_later_environment_wins_and_the_file_wins_over_both():
    fake = FakeEsc(
        {
            "acme/common": {**EU_ESC, "recordTtl": 600, "webhookUrl": "https://common.example/e"},
            "acme/eu": {"recordTtl": 900},
        }
    )
    data = {
        "environment": ["acme/common", "acme/eu"],
        "config": {"mailfleet:region": "eu", "mailfleet:webhookUrl": "https://file.example/e"},
    }
    stack, problems = stack_from_data("Pulumi.eu.yaml", "eu", data, fake)
    assert problems == [] and stack is not None
    assert stack.record_ttl == 900
    assert stack.webhook_url == "https://file.example/e"
    # the older form of the same list
    data["environment"] = {"imports": ["acme/common", "acme/eu"]}
    stack2, _ = stack_from_data("Pulumi.eu.yaml", "eu", data, fake)
    assert stack2 == stack


def test_unresolved_environment_names_each_missing_field_once():
    fake = FakeEsc({})
    stack, problems = stack_from_data("Pulumi.eu.yaml", "eu", STACK_FILE, fake)
    assert stack is None
    fields = [p.field for p in problems]
    assert fields == sorted(set(fields), key=fields.index)  # one line per field
    assert set(fields) == {
        "config.aws:region",
        "config.mailfleet:platformDomain",
        "config.mailfleet:hostedZoneId",
        "config.mailfleet:inboundUrl",
        "config.mailfleet:webhookUrl",
        "config.mailfleet:egressIps",
        "config.mailfleet:dmarcRua",
    }
    for p in problems:
        assert p.where == "Pulumi.eu.yaml"
        assert (
            p.message
            == "unresolved: needs ESC (environment acme/mailfleet-eu: no environment acme/mailfleet-eu)"
        )
    # a stack whose file holds every required setting needs no ESC (secrets only there)
    full = yaml.safe_load((REPO / "Pulumi.eu.yaml").read_text())
    full["environment"] = ["acme/secrets"]
    stack, problems = stack_from_data("Pulumi.eu.yaml", "eu", full, fake)
    assert problems == [] and stack is not None


def test_bad_values_from_esc_name_the_environment_and_never_a_secret():
    fake = FakeEsc({"acme/mailfleet-eu": {**EU_ESC, "egressIps": ["not-an-ip"], "recordTtl": 5}})
    _, problems = stack_from_data("Pulumi.eu.yaml", "eu", STACK_FILE, fake)
    lines = [str(p) for p in problems]
    assert any(
        ln.startswith("Pulumi.eu.yaml: config.mailfleet:recordTtl: ")
        and ln.endswith("(from ESC environment acme/mailfleet-eu)")
        for ln in lines
    ), lines
    assert any("config.mailfleet:egressIps" in ln for ln in lines)
    assert not any(SECRET in ln for ln in lines)
    # found in neither place
    partial = {k: v for k, v in EU_ESC.items() if k != "dmarcRua"}
    _, problems = stack_from_data("Pulumi.eu.yaml", "eu", STACK_FILE, FakeEsc({"acme/mailfleet-eu": partial}))
    assert [str(p) for p in problems] == [
        "Pulumi.eu.yaml: config.mailfleet:dmarcRua: required field is missing "
        "(not in the stack file nor in ESC environment acme/mailfleet-eu)"
    ]


def test_environment_must_be_a_list_of_names():
    _, problems = stack_from_data("Pulumi.eu.yaml", "eu", {**STACK_FILE, "environment": [3]}, FakeEsc({}))
    assert [p.field for p in problems] == ["environment"]


# -- the esc CLI, faked as a real executable -------------------------------------------------------

FAKE_ESC = """#!{python}
import json, pathlib, sys
envs = json.loads(pathlib.Path({envs!r}).read_text())
log = pathlib.Path({log!r})
log.write_text(log.read_text() + " ".join(sys.argv[1:]) + "\\n" if log.exists() else " ".join(sys.argv[1:]) + "\\n")
if sys.argv[1:3] != ["env", "open"] or sys.argv[4:] != ["--format", "json"]:
    sys.exit("usage: esc env open ENV --format json")
name = sys.argv[3]
if name not in envs:
    sys.stderr.write(f"error: could not open environment: environment {{name}} not found\\n")
    sys.exit(1)
json.dump({{"pulumiConfig": envs[name], "environmentVariables": {{"MAILGUN_API_KEY": {secret!r}}}}}, sys.stdout)
"""


@pytest.fixture
def esc_project(project_dir: Path, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The example project with eu's settings moved into ESC, and the env for a fake `esc`."""
    envs = tmp_path / "envs.json"
    envs.write_text(json.dumps({"acme/mailfleet-eu": EU_ESC}))
    binary = tmp_path / "esc"
    log = tmp_path / "esc.log"
    binary.write_text(FAKE_ESC.format(python=sys.executable, envs=str(envs), log=str(log), secret=SECRET))
    binary.chmod(0o755)
    return project_dir, {"MAILFLEET_ESC": str(binary)}


def _move_eu_to_esc(project_dir: Path) -> None:
    (project_dir / "Pulumi.eu.yaml").write_text(yaml.safe_dump(STACK_FILE))


def test_load_stack_through_the_esc_binary(esc_project, monkeypatch, eu_stack):
    project_dir, env = esc_project
    _move_eu_to_esc(project_dir)
    monkeypatch.setenv("MAILFLEET_ESC", env["MAILFLEET_ESC"])
    monkeypatch.setattr(esc, "_default", None)
    assert load_stack(project_dir, "eu") == eu_stack
    log = Path(env["MAILFLEET_ESC"]).with_name("esc.log").read_text()
    assert log == "env open acme/mailfleet-eu --format json\n"
    monkeypatch.setenv("MAILFLEET_ESC", str(project_dir / "no-such-esc"))
    monkeypatch.setattr(esc, "_default", None)
    with pytest.raises(InvalidData) as caught:
        load_stack(project_dir, "eu")
    assert "is not installed" in str(caught.value.problems[0])


def test_plan_reads_esc_settings_like_file_settings(esc_project):
    project_dir, env = esc_project
    before = run_cli("plan", "--format", "json", cwd=project_dir)
    assert before.returncode == 0, before.stderr
    _move_eu_to_esc(project_dir)
    after = run_cli("plan", "--format", "json", cwd=project_dir, env=env)
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout) == json.loads(before.stdout)
    assert SECRET not in after.stdout + after.stderr
    table = run_cli("plan", cwd=project_dir, env=env)
    assert table.returncode == 0 and SECRET not in table.stdout + table.stderr


def test_plan_and_validate_without_esc_say_unresolved_one_line_per_field(esc_project, tmp_path):
    project_dir, _ = esc_project
    _move_eu_to_esc(project_dir)
    for argv in (["plan"], ["validate"]):
        proc = run_cli(*argv, cwd=project_dir, env={"MAILFLEET_ESC": str(tmp_path / "missing-esc")})
        assert proc.returncode == 1, (argv, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr
        lines = [ln for ln in proc.stderr.splitlines() if "unresolved: needs ESC" in ln]
        assert len(lines) == 7, proc.stderr
        assert len(set(lines)) == 7
        assert (
            "Pulumi.eu.yaml: config.mailfleet:platformDomain: unresolved: needs ESC "
            "(environment acme/mailfleet-eu: the esc CLI (" in proc.stderr
        )
        assert proc.stdout == "" or "unresolved" not in proc.stdout


def test_esc_that_fails_gives_its_reason(esc_project):
    project_dir, env = esc_project
    data = dict(STACK_FILE, environment=["acme/gone"])
    (project_dir / "Pulumi.eu.yaml").write_text(yaml.safe_dump(data))
    proc = run_cli("plan", cwd=project_dir, env=env)
    assert proc.returncode == 1
    assert (
        "Pulumi.eu.yaml: config.mailfleet:dmarcRua: unresolved: needs ESC (environment acme/gone: "
        "`esc env open acme/gone` failed (exit 1): error: could not open environment: "
        "environment acme/gone not found)"
    ) in proc.stderr


def test_diff_resolves_esc_at_both_revisions(esc_project):
    from tests.diff.conftest import Repo

    project_dir, env = esc_project
    repo = Repo(project_dir)
    repo.git("init", "-q", "-b", "main")
    base = repo.commit("base")
    # moving the settings into ESC changes nothing that is declared
    _move_eu_to_esc(project_dir)
    repo.commit("eu settings in ESC")
    proc = repo.diff("--base", base, "--head", "HEAD", "--format", "json", env=env)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert all(not s["rows"] for s in doc["stacks"]), doc
    assert SECRET not in proc.stdout + proc.stderr
    # a setting changed in ESC shows as the change it makes
    envs_file = Path(env["MAILFLEET_ESC"]).with_name("envs.json")
    envs_file.write_text(json.dumps({"acme/mailfleet-eu": {**EU_ESC, "recordTtl": 600}}))
    proc = repo.diff("--base", base, "--format", "json", env=env)
    assert proc.returncode == 0, proc.stderr
    rows = next(s["rows"] for s in json.loads(proc.stdout)["stacks"] if s["stack"] == "eu")
    assert rows and all(r["op"] == "update" for r in rows)
    # without esc: the one line per field, exit 1
    proc = repo.diff("--base", base, env={"MAILFLEET_ESC": str(project_dir / "none")})
    assert proc.returncode == 1
    assert "config.mailfleet:platformDomain: unresolved: needs ESC" in proc.stderr
