"""Terminal manners: shell completion, $COLUMNS when piped, a stacked layout on narrow
terminals, `plan SLUG...`, one set of --format values and a format tag on every JSON output."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli

BOX = re.compile(r"[┃│┏┡└]")


def mailfleet(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A real process with exactly this environment on top of PATH/HOME (COLUMNS as given)."""
    base = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "MAILFLEET_ROOT")}
    return subprocess.run(
        [sys.executable, "-m", "mailfleet", *args],
        cwd=cwd,
        env={**base, "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def script(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The installed `mailfleet` console script (completion keys on the program name)."""
    exe = Path(sys.executable).parent / "mailfleet"
    base = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "MAILFLEET_ROOT")}
    return subprocess.run([str(exe), *args], cwd=cwd, env={**base, **env}, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip


def test_shell_completion_script_and_protocol(project_dir: Path) -> None:
    shown = script("--show-completion", "bash", cwd=project_dir, env={})
    assert shown.returncode == 0, shown.stderr
    assert "_mailfleet_completion()" in shown.stdout and "complete -o default -F" in shown.stdout
    help_ = script("--help", cwd=project_dir, env={})
    assert "--install-completion" in help_.stdout
    # The protocol the installed script speaks: commands, then a group's subcommands.
    words = script(cwd=project_dir, env={"_MAILFLEET_COMPLETE": "complete_bash", "COMP_WORDS": "mailfleet pl",
                                            "COMP_CWORD": "1"})  # fmt: skip
    assert words.stdout.split() == ["plan"]
    sub = script(cwd=project_dir, env={"_MAILFLEET_COMPLETE": "complete_bash", "COMP_WORDS": "mailfleet tenant ",
                                          "COMP_CWORD": "2"})  # fmt: skip
    assert {"add", "list", "show", "remove"} <= set(sub.stdout.split())


def test_columns_is_respected_when_piped_and_narrow_is_stacked(project_dir: Path) -> None:
    narrow = mailfleet("plan", "--stack", "eu", cwd=project_dir, env={"COLUMNS": "90"})
    assert narrow.returncode == 0, narrow.stderr
    lines = narrow.stdout.splitlines()
    assert max(len(line) for line in lines) <= 90
    assert not any(BOX.search(line) for line in lines)  # stacked, not a table
    # Whole names on one line, never cut mid-label.
    for name in ("support@acme.mail.example.eu", "nordlys-reiser.no", "nl2024._domainkey.nordlys-reiser.no"):
        assert any(name in line for line in lines), name
    assert any(line.startswith("Kind: ") for line in lines)

    wide = mailfleet("plan", "--stack", "eu", cwd=project_dir, env={"COLUMNS": "160"})
    wide_lines = wide.stdout.splitlines()
    assert any(BOX.search(line) for line in wide_lines)  # a table at 160 columns
    assert 120 <= max(len(line) for line in wide_lines) <= 160

    # Piped without COLUMNS: 200 columns (CI logs), a table.
    piped = mailfleet("plan", "--stack", "eu", cwd=project_dir, env={})
    assert any(BOX.search(line) for line in piped.stdout.splitlines())
    assert max(len(line) for line in piped.stdout.splitlines()) <= 200


def test_diff_and_check_tables_stack_below_120_columns(project_dir: Path) -> None:
    from tests.diff.conftest import Repo

    repo = Repo(project_dir)
    repo.git("init", "-q", "-b", "main")
    repo.commit("base")
    repo.edit("redwood", "selector: rw1", "selector: rw2")
    narrow = mailfleet("diff", "--base", "HEAD", "--stack", "us", cwd=project_dir, env={"COLUMNS": "100"})
    assert narrow.returncode == 0, narrow.stderr
    lines = narrow.stdout.splitlines()
    assert max(len(line) for line in lines) <= 100 and not any(BOX.search(line) for line in lines)
    assert "Operation: Replace (destructive)" in lines
    assert any(line.strip() == "Name:      rw2._domainkey.redwood.mail.example.com" for line in lines)
    wide = mailfleet("diff", "--base", "HEAD", "--stack", "us", cwd=project_dir, env={"COLUMNS": "200"})
    assert any(BOX.search(line) for line in wide.stdout.splitlines())


def test_plan_shows_only_the_tenants_named(project_dir: Path) -> None:
    proc = run_cli("plan", "acme", "redwood", "--format", "json", cwd=project_dir)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [(s["stack"], [t["slug"] for t in s["tenants"]]) for s in doc["stacks"]] == [
        ("eu", ["acme"]),
        ("us", ["redwood"]),
    ]
    only_eu = json.loads(run_cli("plan", "acme", "--format", "json", cwd=project_dir).stdout)
    assert [s["stack"] for s in only_eu["stacks"]] == ["eu"]
    missing = run_cli("plan", "acme", "nobody", "ghost", cwd=project_dir)
    assert missing.returncode == 1 and missing.stdout == ""
    assert missing.stderr.splitlines() == [
        "tenants/nobody.yaml: no tenant 'nobody' in the stacks shown",
        "tenants/ghost.yaml: no tenant 'ghost' in the stacks shown",
    ]
    # A tenant of the other stack is not in `--stack us`.
    other = run_cli("plan", "acme", "--stack", "us", cwd=project_dir)
    assert other.returncode == 1 and "no tenant 'acme'" in other.stderr


JSON_COMMANDS = [
    (("plan",), "mailfleet-plan/1"),
    (("validate",), "mailfleet-validate/1"),
    (("tenant", "list"), "mailfleet-tenants/1"),
    (("tenant", "show", "acme"), "mailfleet-tenant/1"),
    (("records", "nordlys"), "mailfleet-records/1"),
    (("tenant", "add", "newco", "--region", "eu", "-m", "hello", "--dry-run"), "mailfleet-tenant-add/1"),
    (("residency",), "mailfleet-residency/1"),
]


@pytest.mark.parametrize(("args", "tag"), JSON_COMMANDS, ids=[" ".join(a[:2]) for a, _ in JSON_COMMANDS])
def test_every_json_output_has_a_format_tag(project_dir: Path, args: tuple[str, ...], tag: str) -> None:
    proc = run_cli(*args, "--format", "json", cwd=project_dir)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert isinstance(doc, dict) and doc["format"] == tag


FORMAT_VALUES = {"table", "json", "markdown", "bind", "yaml", "prometheus"}


@pytest.mark.parametrize(
    "args",
    [
        ("plan",),
        ("validate",),
        ("records",),
        ("diff",),
        ("check",),
        ("residency",),
        ("import",),
        ("tenant", "add"),
        ("tenant", "adopt"),
        ("tenant", "list"),
        ("migrate", "status"),
    ],
    ids=lambda a: " ".join(a),
)
def test_format_values_are_the_same_everywhere(project_dir: Path, args: tuple[str, ...]) -> None:
    helped = run_cli(*args, "--help", cwd=project_dir)
    assert helped.returncode == 0, helped.stderr
    m = re.search(r"--format\s+[<\[]([a-z|]+)[>\]]", helped.stdout)
    assert m, helped.stdout
    values = set(m.group(1).split("|"))
    assert "table" in values and "json" in values and values <= FORMAT_VALUES


def test_text_is_no_longer_a_format(project_dir: Path) -> None:
    proc = run_cli("validate", "--format", "text", cwd=project_dir)
    assert proc.returncode == 2 and "text" in proc.stderr and "Traceback" not in proc.stderr
