"""Fixtures every test area shares. Area-specific fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mailfleet.model.load import load_stack
from mailfleet.model.stack import StackConfig

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo_root() -> Path:
    return REPO


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    """A copy of the example project (stack files and tenants/) that a test may change."""
    dest = tmp_path / "project"
    dest.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.eu.yaml", "Pulumi.us.yaml"):
        shutil.copy(REPO / name, dest / name)
    shutil.copytree(REPO / "tenants", dest / "tenants")
    return dest


def run_cli(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    input: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run ``mailfleet`` as a real process (``python -m mailfleet``), capturing output."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200", **(env or {})}
    full_env.pop("MAILFLEET_ROOT", None)
    if env and "MAILFLEET_ROOT" in env:
        full_env["MAILFLEET_ROOT"] = env["MAILFLEET_ROOT"]
    return subprocess.run(
        [sys.executable, "-m", "mailfleet", *args],
        cwd=cwd,
        env=full_env,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def cli():
    return run_cli


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes: compare before/after to prove nothing changed."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# The example stacks, loaded once (model, records, desired and project tests).
@pytest.fixture(scope="session")
def eu_stack() -> StackConfig:
    return load_stack(REPO, "eu")


@pytest.fixture(scope="session")
def us_stack() -> StackConfig:
    return load_stack(REPO, "us")


@pytest.fixture(scope="session")
def stacks(eu_stack: StackConfig, us_stack: StackConfig) -> dict[str, StackConfig]:
    return {"eu": eu_stack, "us": us_stack}
