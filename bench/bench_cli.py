"""CLI start-up and `mailfleet validate` over 10,000 tenant files, as ratios to their floors.

- ``mailfleet --help`` vs ``python -c "import typer"``: the CLI must not pay for more than
  Typer itself (target <= 2x). Both run as fresh subprocesses; best of several runs.
- ``mailfleet validate`` over 10,000 generated tenants (bench/gen.py) and both stack files
  (its warnings on stderr go to /dev/null), three rounds interleaved with two floors, CPU time
  best against best (as ``bench_plan``: on the shared machine the wall clock measures the queue
  for a core), wall times and every round's ratios in the notes:
  - the strict floor (``common.STRICT_FLOOR``): a process that imports nothing of mailfleet
    and parses the same files with ``yaml.CSafeLoader`` (target, issue 15: <= 1.5x);
  - the loader floor of issue 2: the same files through ``mailfleet.loader.parse_yaml``
    (target <= 3x).
  Every process exits 0 or the benchmark fails.

``python bench/run.py cli`` runs only this module.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common import STRICT_FLOOR, Result, interleaved, loadavg, rounds, time_command
from gen import generate

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
N_TENANTS = 10_000
REPEAT = 3

FLOOR = """
import sys
from pathlib import Path
from mailfleet.loader import parse_yaml
root = Path(sys.argv[1])
for path in sorted((root / "tenants").glob("*.yaml")) + sorted(root.glob("Pulumi.*.yaml")):
    parse_yaml(path.read_bytes())
"""


def bench_help() -> Result:
    py = sys.executable
    measured = time_command([py, "-m", "mailfleet", "--help"], repeat=7, cwd=REPO)
    baseline = time_command([py, "-c", "import typer"], repeat=7, cwd=REPO)
    return Result("mailfleet --help", measured, baseline, 'python -c "import typer"', target=2.0)


def bench_validate(n: int = N_TENANTS) -> list[Result]:
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="mailfleet-bench-cli-") as tmp:
        root = Path(tmp)
        generate(root / "tenants", n)
        for name in ("Pulumi.yaml", "Pulumi.eu.yaml", "Pulumi.us.yaml"):
            shutil.copy(REPO / name, root / name)
        load_before = loadavg()
        times, cpu = interleaved(
            {
                "strict": ([py, "-c", STRICT_FLOOR, str(root)], {"cwd": REPO}),
                "loader": ([py, "-c", FLOOR, str(root)], {"cwd": REPO}),
                "validate": (
                    [py, "-m", "mailfleet", "validate"],
                    {"cwd": root, "stderr": subprocess.DEVNULL, "env": _env()},
                ),
            },
            REPEAT,
        )
    notes = {
        "tenants": n,
        "runs": REPEAT,
        "load": f"{load_before} -> {loadavg()}",
        "validate_s": [round(t, 3) for t in times["validate"]],
        "validate_cpu_s": [round(t, 3) for t in cpu["validate"]],
    }
    rows = []
    for label, name, what, target in (
        (
            "strict",
            "strict floor",
            "strict floor (yaml.CSafeLoader over the same files, no mailfleet import)",
            1.5,
        ),
        ("loader", "loader floor", "loader floor (mailfleet.loader.parse_yaml of the same files)", 3.0),
    ):
        rows.append(
            Result(
                f"mailfleet validate ({n} tenants) vs {name}",
                min(cpu["validate"]),
                min(cpu[label]),
                what,
                target=target,
                unit="s CPU",
                notes={
                    **notes,
                    "floor_s": [round(t, 3) for t in times[label]],
                    "floor_cpu_s": [round(t, 3) for t in cpu[label]],
                    "round_ratios_wall": rounds(times["validate"], times[label]),
                    "round_ratios_cpu": rounds(cpu["validate"], cpu[label]),
                    "wall_ratio": round(min(times["validate"]) / min(times[label]), 2),
                },
            )
        )
    return rows


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("MAILFLEET_ROOT", None)
    return env


def run() -> list[Result]:
    return [bench_help(), *bench_validate()]


if __name__ == "__main__":
    for result in run():
        print(result.line())
