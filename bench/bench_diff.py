"""`mailfleet diff` between two revisions of 10,000 tenants against `mailfleet plan` of one.

A temporary git repository holds 10,000 generated tenants (bench/gen.py) at revision A and
the same tenants with 50 of them changed at revision B (DMARC policies, DKIM selectors,
mailboxes, tracking). Both sides are whole processes started the same way, timed wall-clock,
best of 3, interleaved so that a noisy moment hits both alike:

- measured: ``python -m mailfleet diff --base A --head B --stack all --format json``
  (reads 2 x 10,000 tenant files through git: ``git ls-tree`` and ONE ``git cat-file --batch``);
- baseline: ``python -m mailfleet plan --stack all --format json`` on the checkout of B.

Target (issue 6): measured <= 3x the baseline. ``python bench/run.py diff`` runs this alone;
``python bench/bench_diff.py [N]`` too, with N tenants (default 10,000).
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
CHANGED = 50
REPEAT = 3
TARGET = 3.0

PLAN = ["-m", "mailfleet", "plan", "--stack", "all", "--format", "json"]
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILFLEET_")}
    env["PYTHONPATH"] = str(REPO)
    return env


def _git(root: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=root, env={**os.environ, **GIT_ENV}, check=True, capture_output=True, text=True
    )
    return proc.stdout.strip()


def _change(path: Path, k: int) -> None:
    """One of four kinds of change, by ``k``; every one changes the tenant's desired state."""
    text = path.read_text()
    if k % 4 == 0:
        for old, new in (
            ("policy: none", "policy: reject"),
            ("policy: quarantine", "policy: none"),
            ("policy: reject", "policy: quarantine"),
        ):
            if old in text:
                text = text.replace(old, new, 1)
                break
    elif k % 4 == 1:
        text = text.replace("  selector: s", "  selector: n", 1)
    elif k % 4 == 2:
        text = text.replace("mailboxes: [support", "mailboxes: [info, support", 1)
    else:
        text = text.replace("tracking: true", "tracking: TMP").replace("tracking: false", "tracking: true")
        text = text.replace("tracking: TMP", "tracking: false")
    path.write_text(text)


def _prepare(root: Path, n: int) -> tuple[str, str]:
    paths = generate(root / "tenants", n)
    for name in ("Pulumi.yaml", "Pulumi.eu.yaml", "Pulumi.us.yaml"):
        shutil.copy(REPO / name, root / name)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "A")
    a = _git(root, "rev-parse", "HEAD")
    step = max(1, n // CHANGED)
    for k, path in enumerate(paths[::step][:CHANGED]):
        _change(path, k)
    _git(root, "commit", "-q", "-am", "B")
    return a, _git(root, "rev-parse", "HEAD")


def _once(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def run(n: int = TENANTS) -> list[Result]:
    with tempfile.TemporaryDirectory(prefix="mailfleet-bench-diff-") as tmp:
        root = Path(tmp)
        a, b = _prepare(root, n)
        env = _env()
        diff = ["-m", "mailfleet", "diff", "--base", a, "--head", b, "--stack", "all", "--format", "json"]
        out = subprocess.run([sys.executable, *diff], cwd=root, env=env, check=True, capture_output=True)
        doc = json.loads(out.stdout)
        changed = {r["group"] for s in doc["stacks"] for r in s["rows"]}
        if len(changed) != min(CHANGED, n):
            raise RuntimeError(f"diff shows {len(changed)} changed tenants, expected {min(CHANGED, n)}")
        rows = sum(len(s["rows"]) for s in doc["stacks"])
        diff_times, plan_times = [], []
        for _ in range(REPEAT):
            plan_times.append(_once(PLAN, root, env))
            diff_times.append(_once(diff, root, env))
    return [
        Result(
            name=f"diff --stack all --format json, 2 revisions x {n} tenants, {len(changed)} changed",
            measured=min(diff_times),
            baseline=min(plan_times),
            baseline_name="plan --stack all --format json of one revision",
            target=TARGET,
            notes={"tenants": n, "changed": len(changed), "rows": rows, "runs": REPEAT},
        )
    ]


if __name__ == "__main__":
    for result in run(int(sys.argv[1]) if len(sys.argv) > 1 else TENANTS):
        print(result.line())
