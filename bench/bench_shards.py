"""Sharded stacks (docs/sharding.md): a shard's cost must not grow with the fleet.

Two fleets of generated tenants (``gen.py``, every tenant in region eu, each file naming its
stack), built once:

- small: 1,000 tenants in one stack (``eu-01``, the region's only stack: unsharded);
- large: 20,000 tenants in 20 shards of 1,000 (``eu-01`` ... ``eu-20``); ``eu-01`` holds the same
  1,000 tenant files as the small fleet.

Rows (ratios measured in one run, each side in fresh processes, interleaved). Times are CPU
seconds (user + system) of the process doing the work: the build machines' 2 cores are shared
by many processes, and wall time there measures the queue more than the work (wall times are
in the notes).

1. The program of one 1,000-tenant shard under Pulumi's mocks in preview mode
   (``bench/shard_program.py``: ``Project.load_for_stack`` + ``declare_stack``, what ``pulumi
   preview`` runs for a one-tenant change: only the affected shard), large fleet vs small:
   target <= 1.2x.
2. ``mailfleet diff --affected-stacks --base HEAD~1 --head HEAD --format json`` over the large
   fleet (one tenant changed in the last commit) vs ``mailfleet plan --stack eu-01 --format json``
   in the same checkout: target <= 3x.
3. Peak memory (``ru_maxrss``) of the shard's program run in the large fleet vs the unsharded
   1,000-tenant stack: target <= 1.2x.

The notes give the per-tenant cost of a shard's program (time and memory, the figures
docs/sharding.md uses to choose a shard size): the 1,000-tenant run against a 1-tenant run.
``BENCH_SHARD_TENANTS`` (1,000) and ``BENCH_SHARDS`` (20) scale it down for a quick look.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from common import Result  # noqa: E402
from gen import tenant_yaml  # noqa: E402

PER_SHARD = int(os.environ.get("BENCH_SHARD_TENANTS", "1000"))
SHARDS = int(os.environ.get("BENCH_SHARDS", "20"))
REPEAT = int(os.environ.get("BENCH_SHARDS_REPEAT", "1"))
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
}


def shard_name(i: int) -> str:
    return f"eu-{i + 1:02d}"


def make_fleet(root: Path, tenants: int, shards: int) -> None:
    """``tenants`` tenant files spread over ``shards`` stacks of region eu, in order."""
    (root / "tenants").mkdir(parents=True)
    stack_text = (REPO / "Pulumi.eu.yaml").read_text()
    for s in range(shards):
        (root / f"Pulumi.{shard_name(s)}.yaml").write_text(stack_text)
    rng = random.Random(1)
    per = max(1, tenants // shards)
    for i in range(tenants):
        slug, text = tenant_yaml(i, rng)
        text = text.replace("region: us\n", "region: eu\n").replace(
            "region: eu\n", f"region: eu\nstack: {shard_name(min(i // per, shards - 1))}\n", 1
        )
        (root / "tenants" / f"{slug}.yaml").write_text(text)


def program_run(root: Path, stack: str) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, str(HERE / "shard_program.py"), str(root), stack],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(proc.stdout)


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, env={**os.environ, **GIT_ENV}, check=True, capture_output=True)


def cli_cpu(root: Path, args: list[str], repeat: int) -> tuple[float, float]:
    """(best CPU seconds, best wall seconds) of ``repeat`` runs of the CLI as a process."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("MAILFLEET_ROOT", None)
    cpu, wall = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "mailfleet", *args],
            cwd=root,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        wall.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return min(cpu), min(wall)


def run() -> list[Result]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-shards-"))
    try:
        small, large, one = tmp / "small", tmp / "large", tmp / "one"
        make_fleet(small, PER_SHARD, 1)
        make_fleet(large, PER_SHARD * SHARDS, SHARDS)
        make_fleet(one, 1, 1)
        stack = shard_name(0)

        runs: dict[str, list[dict[str, float]]] = {"small": [], "large": [], "one": []}
        for _ in range(REPEAT):  # interleaved: both sides see the same machine noise
            runs["small"].append(program_run(small, stack))
            runs["large"].append(program_run(large, stack))
        runs["one"].append(program_run(one, stack))
        assert all(r["tenants"] == PER_SHARD for r in runs["small"] + runs["large"]), runs

        def best(side: str, key: str) -> float:
            return min(r[key] for r in runs[side])

        # git history for diff --affected-stacks: the fleet, then one tenant changed.
        git(large, "init", "-q", "-b", "main")
        git(large, "add", "-A")
        git(large, "commit", "-q", "-m", "fleet")
        changed = large / "tenants" / "t00007.yaml"
        changed.write_text(
            changed.read_text().replace("mailboxes: [support, sales", "mailboxes: [support, sales2")
        )
        git(large, "commit", "-q", "-am", "one tenant")
        affected_args = [
            "diff",
            "--affected-stacks",
            "--base",
            "HEAD~1",
            "--head",
            "HEAD",
            "--format",
            "json",
        ]
        out = subprocess.run(
            [sys.executable, "-m", "mailfleet", *affected_args],
            cwd=large,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            check=True,
            capture_output=True,
            text=True,
        )
        affected = [s["stack"] for s in json.loads(out.stdout)["stacks"]]
        assert affected == [stack], affected
        affected_cpu, affected_wall = cli_cpu(large, affected_args, 3)
        plan_cpu, plan_wall = cli_cpu(large, ["plan", "--stack", stack, "--format", "json"], 1)

        per_tenant_ms = (best("small", "program_cpu_s") - best("one", "program_cpu_s")) / PER_SHARD * 1000
        per_tenant_kb = (best("small", "maxrss_kb") - best("one", "maxrss_kb")) / PER_SHARD
        fleet = PER_SHARD * SHARDS
        return [
            Result(
                name=f"preview of a one-tenant change: one {PER_SHARD}-tenant shard's program in a fleet of {fleet}",
                measured=best("large", "total_cpu_s"),
                baseline=best("small", "total_cpu_s"),
                baseline_name=f"the same shard as the only stack of a {PER_SHARD}-tenant fleet (CPU s)",
                target=1.2,
                notes={
                    "load_cpu_s_large": f"{best('large', 'load_cpu_s'):.2f}",
                    "load_cpu_s_small": f"{best('small', 'load_cpu_s'):.2f}",
                    "program_cpu_s_large": f"{best('large', 'program_cpu_s'):.2f}",
                    "program_cpu_s_small": f"{best('small', 'program_cpu_s'):.2f}",
                    "wall_s_large": f"{best('large', 'total_s'):.1f}",
                    "wall_s_small": f"{best('small', 'total_s'):.1f}",
                    "resources": int(runs["large"][0]["resources"]),
                    "per_tenant_cpu_ms": f"{per_tenant_ms:.1f}",
                },
            ),
            Result(
                name=f"diff --affected-stacks over {fleet} tenants (one changed)",
                measured=affected_cpu,
                baseline=plan_cpu,
                baseline_name=f"plan --stack {stack} (one shard) in the same checkout (CPU s)",
                target=3.0,
                notes={
                    "affected": ",".join(affected),
                    "wall_s": f"{affected_wall:.2f}",
                    "plan_wall_s": f"{plan_wall:.2f}",
                },
            ),
            Result(
                name=f"peak memory of one {PER_SHARD}-tenant shard's program in a fleet of {fleet}",
                measured=best("large", "maxrss_kb") / 1024,
                baseline=best("small", "maxrss_kb") / 1024,
                baseline_name=f"an unsharded stack of {PER_SHARD} tenants",
                target=1.2,
                unit="MB",
                notes={
                    "per_tenant_kb": f"{per_tenant_kb:.0f}",
                    "one_tenant_mb": f"{best('one', 'maxrss_kb') / 1024:.0f}",
                },
            ),
        ]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    for r in run():
        print(r.line())
