"""No silent skips in CI: a missing test dependency fails under $MAILFLEET_REQUIRE_TEST_DEPS, and the
``knot`` marker agrees with the fixtures that start Knot."""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from tests.conftest import REPO, REQUIRE_DEPS_ENV, _knot_fixture_problems

KNOT_TEST = "tests/dns/test_resolver.py::test_refused_is_an_error"


def _pytest_without_knot(tmp_path, require: str | None) -> subprocess.CompletedProcess[str]:
    """Run one Knot test in a child pytest whose PATH has no knotd or kdig."""
    env = {k: v for k, v in os.environ.items() if k != REQUIRE_DEPS_ENV}
    env["PATH"] = str(tmp_path)  # an empty directory: shutil.which finds nothing
    if require is not None:
        env[REQUIRE_DEPS_ENV] = require
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", KNOT_TEST],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_missing_knot_skips_outside_ci(tmp_path) -> None:
    proc = _pytest_without_knot(tmp_path, None)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 skipped" in proc.stdout
    assert "knotd/kdig not installed" in proc.stdout


@pytest.mark.parametrize("value", ["1", "true"])
def test_missing_knot_fails_when_ci_requires_the_test_dependencies(tmp_path, value: str) -> None:
    proc = _pytest_without_knot(tmp_path, value)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "skipped" not in proc.stdout
    assert "knotd/kdig not installed" in proc.stdout
    assert f"{REQUIRE_DEPS_ENV} is set" in proc.stdout


def test_ci_sets_the_variable() -> None:
    assert f"export {REQUIRE_DEPS_ENV}=1" in (REPO / ".ci" / "run").read_text()


def _item(nodeid: str, fixtures: dict[str, str], marked: bool) -> SimpleNamespace:
    """A stand-in for a collected test: its fixture closure (name -> defining module) and marker."""
    defs = {
        name: [SimpleNamespace(func=SimpleNamespace(__module__=module))] for name, module in fixtures.items()
    }
    return SimpleNamespace(
        nodeid=nodeid,
        _fixtureinfo=SimpleNamespace(name2fixturedefs=defs),
        get_closest_marker=lambda name: object() if marked and name == "knot" else None,
    )


def test_a_knot_fixture_without_the_marker_is_reported() -> None:
    items = [
        _item("a::uses_knot_marked", {"dns_world": "tests.check.conftest"}, True),
        _item("b::uses_knot_unmarked", {"check_cli": "x", "dns_world": "tests.check.conftest"}, False),
        _item("c::adopt_unmarked", {"before_knot": "tests.adopt.conftest"}, False),
        # a fixture of the same name from another module is not Knot
        _item("d::other_world", {"dns_world": "tests.migrate.conftest"}, False),
        _item("e::plain", {"tmp_path": "_pytest.tmpdir"}, False),
    ]
    assert _knot_fixture_problems(items) == [
        "b::uses_knot_unmarked: uses dns_world (Knot) without @pytest.mark.knot",
        "c::adopt_unmarked: uses before_knot (Knot) without @pytest.mark.knot",
    ]


def test_starting_knot_in_an_unmarked_test_is_refused(tmp_path) -> None:
    from tests.check import knot

    assert knot.CURRENT_TEST_MARKED is False  # set by tests/conftest.py for this unmarked test
    with pytest.raises(RuntimeError, match=r"must carry @pytest.mark.knot"):
        knot.KnotServer(tmp_path, {"example.test": []}).start()
