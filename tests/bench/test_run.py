"""bench/run.py: real argument parsing, and results merged by row name, never lost.

The runner is exercised on a directory of small benchmark modules written by the test (the
real benchmarks take minutes), in a subprocess exactly as ``python bench/run.py`` runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUN = REPO / "bench" / "run.py"

MODULE = """
from common import Result

def run():
    {body}
"""


@pytest.fixture
def bench_dir(tmp_path: Path) -> Path:
    """A copy of bench/run.py and bench/common.py beside three benchmark modules."""
    d = tmp_path / "bench"
    d.mkdir()
    (d / "run.py").write_text(RUN.read_text())
    (d / "common.py").write_text((REPO / "bench" / "common.py").read_text())
    bodies = {
        "alpha": "return [Result('alpha row', 2.0, 1.0, 'floor', target=3.0)]",
        "beta": "return [Result('beta row', 5.0, 1.0, 'floor', target=3.0), Result('beta second', 1.0, 1.0, 'f')]",
        "empty": "return []",
        "broken": "raise RuntimeError('knotd is not installed')",
    }
    for name, body in bodies.items():
        (d / f"bench_{name}.py").write_text(MODULE.format(body=body))
    return d


def _run(bench_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, str(bench_dir / "run.py"), *args], capture_output=True, text=True, env=env
    )


def _rows(path: Path) -> dict[str, dict[str, object]]:
    doc = json.loads(path.read_text())
    assert doc["format"] == "mailfleet-bench-results/1"
    return {r["name"]: r for r in doc["rows"]}


def test_help_runs_nothing_and_writes_nothing(bench_dir: Path) -> None:
    proc = _run(bench_dir, "--help")
    assert proc.returncode == 0
    assert "usage: bench/run.py" in proc.stdout
    assert "alpha, beta, broken, empty" in proc.stdout  # the names it knows
    assert "== bench_" not in proc.stdout
    assert not (bench_dir / "results.json").exists()


@pytest.mark.parametrize("args", [("nosuch",), ("alpha", "plna"), ("--bogus",)])
def test_unknown_words_are_usage_errors(bench_dir: Path, args: tuple[str, ...]) -> None:
    results = bench_dir / "results.json"
    results.write_text("sentinel")
    proc = _run(bench_dir, *args)
    assert proc.returncode == 2
    assert "== bench_" not in proc.stdout  # nothing ran, not even the known names
    assert "Traceback" not in proc.stderr
    assert results.read_text() == "sentinel"
    if args[0] != "--bogus":
        line = proc.stderr.strip()
        assert "\n" not in line
        assert repr(args[-1]) in line and "known: alpha, beta, broken, empty" in line


def test_list(bench_dir: Path) -> None:
    proc = _run(bench_dir, "--list")
    assert proc.returncode == 0
    assert proc.stdout.split() == ["alpha", "beta", "broken", "empty"]


def test_a_filtered_run_replaces_its_rows_and_keeps_the_others(bench_dir: Path) -> None:
    results = bench_dir / "results.json"
    # an older file in the bare-list format, holding a row of a benchmark not run now
    results.write_text(json.dumps([{"name": "gamma row", "ratio": 1.5}, {"name": "alpha row", "ratio": 9.0}]))
    proc = _run(bench_dir, "alpha")
    assert proc.returncode == 0, proc.stderr
    assert "== bench_alpha" in proc.stdout and "== bench_beta" not in proc.stdout
    rows = _rows(results)
    assert list(rows) == ["gamma row", "alpha row"]
    assert rows["gamma row"] == {"name": "gamma row", "ratio": 1.5}
    assert rows["alpha row"]["ratio"] == 2.0 and rows["alpha row"]["bench"] == "alpha"
    assert len(rows["alpha row"]["load"]) == 2  # load average before and after  # type: ignore[arg-type]

    proc = _run(bench_dir, "bench_beta")  # the module's file name works too
    assert proc.returncode == 1  # beta row is over its target
    assert "1 within target, 1 over target" in proc.stdout
    assert list(_rows(results)) == ["gamma row", "alpha row", "beta row", "beta second"]


def test_an_empty_run_writes_nothing(bench_dir: Path) -> None:
    results = bench_dir / "results.json"
    _run(bench_dir, "alpha")
    before = results.read_bytes()
    proc = _run(bench_dir, "empty")
    assert proc.returncode == 0
    assert "no rows measured" in proc.stdout
    assert results.read_bytes() == before


def test_a_failing_module_keeps_the_rows_that_were_measured(bench_dir: Path) -> None:
    results = bench_dir / "results.json"
    proc = _run(bench_dir, "alpha", "broken")
    assert proc.returncode == 1
    assert "knotd is not installed" in proc.stderr
    assert "failed: broken" in proc.stdout
    assert list(_rows(results)) == ["alpha row"]
    assert not [p for p in bench_dir.iterdir() if p.name.endswith(".tmp")]  # the write was atomic


def test_no_save(bench_dir: Path) -> None:
    proc = _run(bench_dir, "alpha", "--no-save")
    assert proc.returncode == 0
    assert "alpha row: 2.000s" in proc.stdout
    assert not (bench_dir / "results.json").exists()
