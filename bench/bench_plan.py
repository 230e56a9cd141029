"""`mailfleet plan` over 10,000 tenants against the floor of parsing their YAML files.

Both sides are whole processes started the same way (``python ...`` with the same
interpreter, environment and working directory), timed wall-clock, best of 3, interleaved so
that a noisy moment hits both alike:

- measured: ``python -m mailfleet plan --stack all --format json`` (stdout to /dev/null);
- floor: ``python -c ...`` that parses the same 10,000 files with ``mailfleet.loader.parse_yaml``
  (the loader plan uses) and nothing else.

Target (issue 2): measured <= 3x the floor. ``python bench/run.py plan`` runs this alone;
``python bench/bench_plan.py [N]`` too, with N tenants (default 10,000).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from common import Result  # noqa: E402
from gen import generate  # noqa: E402

TENANTS = 10_000
REPEAT = 3
TARGET = 3.0

PLAN = ["-m", "mailfleet", "plan", "--stack", "all", "--format", "json"]
FLOOR = (
    "from pathlib import Path\n"
    "from mailfleet.loader import parse_yaml, tenant_paths\n"
    "for path in tenant_paths(Path('tenants')):\n"
    "    parse_yaml(path.read_bytes())\n"
)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILFLEET_")}
    env["PYTHONPATH"] = str(REPO)
    return env


def _once(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


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
    with tempfile.TemporaryDirectory(prefix="mailfleet-bench-plan-") as tmp:
        root = Path(tmp)
        _prepare(root, n)
        env = _env()
        size = _check_output(root, env, n)
        plan_times, floor_times = [], []
        for _ in range(REPEAT):
            floor_times.append(_once(["-c", FLOOR], root, env))
            plan_times.append(_once(PLAN, root, env))
    return [
        Result(
            name=f"plan --stack all --format json, {n} tenants",
            measured=min(plan_times),
            baseline=min(floor_times),
            baseline_name="YAML-parse floor (same loader, same files)",
            target=TARGET,
            notes={"tenants": n, "json_mb": round(size / 1e6, 1), "runs": REPEAT},
        )
    ]


if __name__ == "__main__":
    for result in run(int(sys.argv[1]) if len(sys.argv) > 1 else TENANTS):
        print(result.line())
