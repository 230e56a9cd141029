"""Helpers for the CLI tests: run ``mailfleet`` in a project copy and check the error contract."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_cli, tree_bytes


def assert_clean_failure(
    result: subprocess.CompletedProcess[str], code: int, where: str, *needles: str
) -> str:
    """Exit ``code``; one stderr line names ``where`` and contains every needle; no traceback."""
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr
    assert result.returncode == code, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if where in line]
    matching = [line for line in lines if all(n.lower() in line.lower() for n in needles)]
    assert matching, f"no stderr line with {where!r} and {needles!r} in:\n{result.stderr}"
    return matching[0]


class Project:
    """A temporary copy of the example project with a ``run`` bound to it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tenants = root / "tenants"

    def run(self, *args: str, cwd: Path | None = None, **kw: object) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, cwd=cwd or self.root, **kw)  # type: ignore[arg-type]

    def snapshot(self) -> dict[str, bytes]:
        return tree_bytes(self.tenants)


@pytest.fixture
def proj(project_dir: Path) -> Project:
    return Project(project_dir)
