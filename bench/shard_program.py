"""One run of a stack's Pulumi program under mocks, as ``pulumi preview`` runs it; prints JSON.

``python bench/shard_program.py ROOT STACK``: ``Project.load_for_stack`` (what ``__main__.py``
does) then ``declare_stack`` under ``pulumi.runtime`` mocks (preview mode, recording off).
Prints the wall and CPU times of the load and of the program (``load_s``, ``program_s``,
``total_s`` and ``*_cpu_s``), ``tenants``, ``resources`` and the process's peak resident
memory (``ru_maxrss``, ``maxrss_kb``). A fresh
process per run, so peak memory is this run's alone. Used by ``bench_shards``.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from components.mocked import run_program  # noqa: E402
from components.program import declare_stack  # noqa: E402
from mailfleet.project import Project  # noqa: E402

SECRETS = {
    "mailgun:apiKey": "bench-key",
    "cloudflare:apiToken": "bench-token",
    "mailfleet:credentialSeed": "bench-seed",
}


def main(root: Path, stack: str) -> dict[str, float | int]:
    start, start_cpu = time.perf_counter(), time.process_time()
    project = Project.load_for_stack(root / "tenants", root, stack)
    loaded, loaded_cpu = time.perf_counter(), time.process_time()
    cfg, state = project.stacks[stack], project.states[stack]
    smtp = {t.slug: f"pw-{t.slug}" for t in project.tenants.values() if t.uses_smtp}
    secrets = {**SECRETS, "mailfleet:smtpPasswords": smtp}
    monitor = run_program(
        lambda: declare_stack(cfg, state),
        stack=stack,
        config=secrets,
        secret_keys=list(secrets),
        record=False,
        preview=True,
    )
    done, done_cpu = time.perf_counter(), time.process_time()
    return {
        "load_s": loaded - start,
        "program_s": done - loaded,
        "total_s": done - start,
        "load_cpu_s": loaded_cpu - start_cpu,
        "program_cpu_s": done_cpu - loaded_cpu,
        "total_cpu_s": done_cpu - start_cpu,
        "tenants": len(state.tenants),
        "resources": len(monitor.resources),
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), sys.argv[2])))
