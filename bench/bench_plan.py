"""`mailfleet plan` over 10,000 tenants against the floor of parsing their YAML files.

Every side is a whole process started the same way (``python ...`` with the same interpreter,
environment and working directory), three rounds, interleaved so that a noisy moment hits all
alike. The figure is CPU time (user + system of the process), best against best: on the shared
2-core machine (load averages of 20-36 while this was written) the wall clock of a
single-threaded process mostly measures the queue for a core, and the wall ratios swung from
1.75x to 2.46x between rounds of one run. Wall times, each round's wall and CPU ratios are in
the row's notes:

- measured: ``python -m mailfleet plan --stack all --format json`` (stdout to /dev/null; the
  output is checked once first: every tenant, and its size);
- strict floor (``common.STRICT_FLOOR``): a process that imports nothing of mailfleet and
  parses the same files with ``yaml.load(..., Loader=yaml.CSafeLoader)``. No program that
  reads these files with PyYAML can do less. Target (issue 15): plan <= 2x this floor.
- loader floor (the floor of issue 2, kept as a second row): the same files through
  ``mailfleet.loader.parse_yaml`` (duplicate keys refused, nesting bounded), in a process
  that imports mailfleet's loader. Target <= 3x.

``python bench/run.py plan`` runs this alone; ``python bench/bench_plan.py [N]`` too, with N
tenants (default 10,000).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from common import STRICT_FLOOR, Result, interleaved, loadavg, rounds  # noqa: E402
from gen import generate  # noqa: E402

TENANTS = 10_000
REPEAT = 3
TARGET = 2.0
LOADER_TARGET = 3.0

PLAN = ["-m", "mailfleet", "plan", "--stack", "all", "--format", "json"]
LOADER_FLOOR = (
    "from pathlib import Path\n"
    "from mailfleet.loader import parse_yaml, tenant_paths\n"
    "for path in tenant_paths(Path('tenants')) + sorted(Path('.').glob('Pulumi.*.yaml')):\n"
    "    parse_yaml(path.read_bytes())\n"
)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILFLEET_")}
    env["PYTHONPATH"] = str(REPO)
    return env


def _prepare(root: Path, n: int) -> None:
    generate(root / "tenants", n)
    for name in ("Pulumi.yaml", "Pulumi.eu.yaml", "Pulumi.us.yaml"):
        shutil.copy(REPO / name, root / name)


def _check_output(root: Path, env: dict[str, str], n: int) -> int:
    """Run plan once for real and check it declares every tenant; returns the output size."""
    out = subprocess.run([sys.executable, *PLAN], cwd=root, env=env, check=True, capture_output=True).stdout
    doc = json.loads(out)
    tenants = sum(len(s["tenants"]) for s in doc["stacks"])
    if tenants != n:
        raise RuntimeError(f"plan declared {tenants} tenants, expected {n}")
    return len(out)


def run(n: int = TENANTS) -> list[Result]:
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="mailfleet-bench-plan-") as tmp:
        root = Path(tmp)
        _prepare(root, n)
        env = _env()
        size = _check_output(root, env, n)
        load_before = loadavg()
        kw: dict[str, object] = {"cwd": root, "env": env}
        times, cpu = interleaved(
            {
                "strict": ([py, "-c", STRICT_FLOOR, str(root)], kw),
                "loader": ([py, "-c", LOADER_FLOOR], kw),
                "plan": ([py, *PLAN], kw),
            },
            REPEAT,
        )
    notes = {
        "tenants": n,
        "json_mb": round(size / 1e6, 1),
        "runs": REPEAT,
        "load": f"{load_before} -> {loadavg()}",
        "plan_s": [round(t, 3) for t in times["plan"]],
        "plan_cpu_s": [round(t, 3) for t in cpu["plan"]],
    }
    plan = min(times["plan"])
    rows = []
    for label, name, what, target in (
        (
            "strict",
            "strict floor",
            "strict floor (yaml.CSafeLoader over the same files, no mailfleet import)",
            TARGET,
        ),
        (
            "loader",
            "mailfleet loader floor",
            "loader floor (mailfleet.loader.parse_yaml of the same files)",
            LOADER_TARGET,
        ),
    ):
        rows.append(
            Result(
                name=f"plan --stack all --format json, {n} tenants, vs {name}",
                measured=min(cpu["plan"]),
                baseline=min(cpu[label]),
                baseline_name=what,
                target=target,
                unit="s CPU",
                notes={
                    **notes,
                    "floor_s": [round(t, 3) for t in times[label]],
                    "floor_cpu_s": [round(t, 3) for t in cpu[label]],
                    "round_ratios_wall": rounds(times["plan"], times[label]),
                    "round_ratios_cpu": rounds(cpu["plan"], cpu[label]),
                    "wall_ratio": round(plan / min(times[label]), 2),
                },
            )
        )
    return rows


if __name__ == "__main__":
    for result in run(int(sys.argv[1]) if len(sys.argv) > 1 else TENANTS):
        print(result.line())
