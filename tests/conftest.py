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

# Set by .ci/run: a test dependency that is missing (knotd, kdig, unshare...) fails the test
# instead of skipping it, so CI can never go green by skipping what it should have run.
REQUIRE_DEPS_ENV = "MAILFLEET_REQUIRE_TEST_DEPS"
# Fixtures that start a real Knot server, by (module, name): a test whose fixture closure holds
# one needs @pytest.mark.knot (a test starting KnotServer itself is checked by KnotServer.start).
KNOT_FIXTURES = frozenset(
    {
        ("tests.check.conftest", "dns_world"),
        ("tests.check.conftest", "silent_knot"),
        ("tests.adopt.conftest", "before_knot"),
        ("tests.blocklists.conftest", "list_world"),
    }
)


def deps_required() -> bool:
    return os.environ.get(REQUIRE_DEPS_ENV, "") not in ("", "0")


def missing_dependency(reason: str) -> None:
    """Skip the test for a missing dependency, or fail it when $MAILFLEET_REQUIRE_TEST_DEPS is set."""
    if deps_required():
        pytest.fail(f"{reason} ({REQUIRE_DEPS_ENV} is set: a missing test dependency is a failure)")
    pytest.skip(reason)


def require_knot() -> None:
    """knotd and kdig are installed, else skip (or fail under $MAILFLEET_REQUIRE_TEST_DEPS)."""
    if not (shutil.which("knotd") and shutil.which("kdig")):
        missing_dependency("knotd/kdig not installed (Debian packages knot, knot-dnsutils)")


def _knot_fixture_problems(items: list[pytest.Item]) -> list[str]:
    problems = []
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        defs = info.name2fixturedefs if info is not None else {}
        used = sorted(
            name
            for name, chain in defs.items()
            if chain and (getattr(chain[-1].func, "__module__", ""), name) in KNOT_FIXTURES
        )
        marked = item.get_closest_marker("knot") is not None
        if used and not marked:
            problems.append(f"{item.nodeid}: uses {', '.join(used)} (Knot) without @pytest.mark.knot")
    return problems


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test that needs Knot carries the ``knot`` marker (so ``-m knot`` selects them all)."""
    problems = _knot_fixture_problems(items)
    if problems:
        raise pytest.UsageError("the knot marker and the Knot fixtures disagree:\n" + "\n".join(problems))


def pytest_runtest_setup(item: pytest.Item) -> None:
    # KnotServer.start() refuses to run for a test without the knot marker (tests/check/knot.py).
    from tests.check import knot

    knot.CURRENT_TEST_MARKED = item.get_closest_marker("knot") is not None


@pytest.fixture(autouse=True)
def _no_inherited_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest-xdist workers get COLUMNS=80/LINES=24 from execnet; the table outputs respect
    $COLUMNS (mailfleet.terminal), so in-process renders would depend on how pytest was run.
    Tests that care set COLUMNS themselves."""
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)


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
