"""`mailfleet --help`, `validate`, `tenant ...` and `records` never import pulumi or pulumi_*.

Each command runs in-process in a fresh interpreter; afterwards the interpreter writes its
``sys.modules`` to a file, which the test inspects.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

PROBE = r"""
import json, sys
out, args = sys.argv[1], sys.argv[2:]
if args == ["--control"]:
    import pulumi  # proves the probe would see a Pulumi import
else:
    sys.argv = ["mailfleet", *args]
    from mailfleet.cli.app import main
    try:
        main()
    except SystemExit:
        pass
with open(out, "w") as f:
    json.dump(sorted(sys.modules), f)
"""

COMMANDS = [
    ("--help",),
    ("validate",),
    ("validate", "tenants/acme.yaml", "Pulumi.eu.yaml"),
    ("tenant", "list", "--format", "json"),
    ("tenant", "show", "nordlys", "--format", "json"),
    ("tenant", "add", "probe", "--region", "eu", "--mailbox", "a", "--sender-domain", "probe.example.org"),
    ("tenant", "add", "BAD", "--region", "eu", "--mailbox", "a"),
    ("tenant", "remove", "acme"),
    ("records", "nordlys", "--format", "bind"),
    ("records", "fjordbank", "--format", "json"),
]


def _modules(project_dir: Path, tmp_path: Path, *args: str) -> list[str]:
    out = tmp_path / "modules.json"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("MAILFLEET_ROOT", None)
    subprocess.run(
        [sys.executable, "-c", PROBE, str(out), *args],
        cwd=project_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.read_text())


def _pulumi(modules: list[str]) -> list[str]:
    return [m for m in modules if m == "pulumi" or m.startswith(("pulumi.", "pulumi_"))]


def test_probe_detects_a_pulumi_import(project_dir: Path, tmp_path: Path) -> None:
    assert "pulumi" in _pulumi(_modules(project_dir, tmp_path, "--control"))


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_command_does_not_import_pulumi(project_dir: Path, tmp_path: Path, args: tuple[str, ...]) -> None:
    modules = _modules(project_dir, tmp_path, *args)
    assert "mailfleet.cli.app" in modules
    assert _pulumi(modules) == []
