"""CLI start-up and `mailfleet validate` over 10,000 tenant files, as ratios to their floors.

- ``mailfleet --help`` vs ``python -c "import typer"``: the CLI must not pay for more than
  Typer itself (target <= 2x). Both run as fresh subprocesses; best of several runs.
- ``mailfleet validate`` over 10,000 generated tenants (bench/gen.py) and both stack files vs
  the YAML-parse floor: a subprocess that only parses the same files with
  ``mailfleet.loader.parse_yaml`` (target <= 3x). Both exit 0 or the benchmark fails.

``python bench/run.py cli`` runs only this module.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common import Result, time_command
from gen import generate

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
N_TENANTS = 10_000

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


def bench_validate(n: int = N_TENANTS) -> Result:
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="mailfleet-bench-cli-") as tmp:
        root = Path(tmp)
        generate(root / "tenants", n)
        for name in ("Pulumi.yaml", "Pulumi.eu.yaml", "Pulumi.us.yaml"):
            shutil.copy(REPO / name, root / name)
        floor = time_command([py, "-c", FLOOR, str(root)], repeat=3, cwd=REPO)
        measured = time_command(
            [py, "-m", "mailfleet", "validate"],
            repeat=3,
            cwd=root,
            stderr=subprocess.DEVNULL,
            env=_env(),
        )
    return Result(
        f"mailfleet validate ({n} tenants)",
        measured,
        floor,
        "YAML-parse floor (parse_yaml of the same files)",
        target=3.0,
        notes={"tenants": n},
    )


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("MAILFLEET_ROOT", None)
    return env


def run() -> list[Result]:
    return [bench_help(), bench_validate()]


if __name__ == "__main__":
    for result in run():
        print(result.line())
