"""`mailfleet reputation --all` for 1,000 Mailgun domains against the fake Mailgun.

600 generated tenants have 1,000 Mailgun domains (every platform domain, and the sender
domains of ways 2 and 3); each gets seeded Metrics API counts. Measured: the API calls (pages
of `POST /v1/analytics/metrics`) and the wall time of the whole process, at the default page
size (1,000 rows) and at 100 rows a page. The baseline is what one call per domain would cost:
1,000 calls, which the client's 300-a-minute budget (Mailgun's, docs/mailgun-fake.md) makes
at least 200 s; it is computed, not run.
Run: ``venv/bin/python bench/run.py reputation``.
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
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from common import Result  # noqa: E402
from gen import generate  # noqa: E402

from mailfleet.project import Project  # noqa: E402
from tests.fakes.mailgun_server import FakeMailgun  # noqa: E402

TENANTS = int(os.environ.get("BENCH_REPUTATION_TENANTS", "600"))
RATE_PER_MINUTE = 300


def run() -> list[Result]:
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-reputation-") as tmp:
        root = Path(tmp)
        for name in ("Pulumi.yaml", "Pulumi.eu.yaml", "Pulumi.us.yaml"):
            shutil.copy(REPO / name, root / name)
        generate(root / "tenants", TENANTS)
        project = Project.load(root / "tenants", root)
        domains = [(d.region, d.name) for s in project.states.values() for t in s.tenants for d in t.domains]
        with FakeMailgun() as fake:
            for i, (region, name) in enumerate(domains):
                fake.seed_metrics(
                    region,
                    name,
                    {
                        "accepted_outgoing_count": 1000 + i,
                        "delivered_smtp_count": 990 + i,
                        "permanent_failed_count": i % 40,
                        "complained_count": i % 4,
                    },
                )
            for page_size in (1000, 100):
                fake.reset_log()
                cmd = [
                    sys.executable, "-m", "mailfleet", "--stacks-dir", str(root), "reputation", "--all",
                    "--format", "json", "--page-size", str(page_size),
                ]  # fmt: skip
                start = time.perf_counter()
                proc = subprocess.run(
                    cmd,
                    capture_output=True,
                    text=True,
                    env={**os.environ, "PYTHONPATH": str(REPO), **fake.env()},
                )
                wall = time.perf_counter() - start
                if proc.returncode not in (0, 1):
                    raise RuntimeError(f"reputation failed: {proc.stderr[-2000:]}")
                data = json.loads(proc.stdout)
                calls = fake.count("POST", "/v1/analytics/metrics")
                n = data["summary"]["domains"]
                per_domain_floor = n / RATE_PER_MINUTE * 60
                results.append(
                    Result(
                        f"reputation --all, {n} domains, page size {page_size}: API calls",
                        calls,
                        n,
                        "one Metrics call per domain",
                        target=0.05,
                        unit=" calls",
                        notes={"wall_s": round(wall, 3), "reported_api_calls": data["summary"]["api_calls"]},
                    )
                )
                results.append(
                    Result(
                        f"reputation --all, {n} domains, page size {page_size}: wall time",
                        wall,
                        per_domain_floor,
                        f"the {RATE_PER_MINUTE}/min bound of one call per domain (computed)",
                        notes={
                            "calls": calls,
                            "fail": data["summary"]["fail"],
                            "warn": data["summary"]["warn"],
                        },
                    )
                )
    return results


if __name__ == "__main__":
    for r in run():
        print(r.line())
