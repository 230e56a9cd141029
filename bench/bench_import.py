"""`mailfleet import --from-mailgun` of 1,000 domains from the fake Mailgun: calls and wall time.

The fake runs in its own process (as in bench_migrate: the client and the server would
otherwise share one interpreter lock) and is seeded there with the fleet of the import tests
(``tests/fleet_import/fleet.py``): tenants with a platform domain, two thirds of them with a
sender domain, routes and webhooks by mailfleet's convention, the CRM's SMTP login, plus the
odd items (foreign domains, a catch-all, a route elsewhere, a second sender domain). The
project is a copy of the example project; the import writes a tenant file per tenant.

Two figures:

1. **Mailgun API calls per domain**, counted in the fake's request log, against the floor no
   import can go under with Mailgun's API: the list pages (domains, routes) plus one webhooks
   read per domain (webhooks say whose a domain is) and one settings read per tenant domain
   (the DKIM selector and key are only in ``GET /v4/domains/{name}``). The rest are the SMTP
   login reads, one per tenant.
2. **Wall time against the rate-limit bound**: every call the import made divided by the
   allowed rate. Mailgun allows about 300 requests a minute; as in bench_migrate the limiter's
   clock is compressed (``BENCH_IMPORT_SCALE``, default 25: 300 per 2.4 s, 125 requests/s) so
   the bench takes seconds, not minutes. The wall time includes reading and validating the
   project and writing the files. Target: at most 1.2x the bound.

``python bench/run.py import`` runs this alone.
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
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

from common import Result  # noqa: E402

from mailfleet.fleet_import.run import import_region  # noqa: E402
from mailfleet.mailgun.client import MailgunClient  # noqa: E402
from mailfleet.mailgun.ratelimit import RateLimiter  # noqa: E402

SCALE = int(os.environ.get("BENCH_IMPORT_SCALE", "25"))  # rate-limit clock compression
RATE = 300
DOMAINS = 1000
TARGET = 1.2

FAKE_SERVER = """
import json, re, sys
sys.path.insert(0, sys.argv[1])
from tests.fakes.mailgun_server import FakeMailgun
from tests.fleet_import.conftest import stack_settings
from tests.fleet_import.fleet import seed_fleet
fake = FakeMailgun().start()
fleet = seed_fleet(fake, "eu", stack_settings("eu"), tenants=int(sys.argv[2]))
tenant_domains = sum(len(t.domains) for t in fleet.tenants.values())
print(json.dumps([fake.api_key, fake.urls, fleet.domain_count, len(fleet.tenants), tenant_domains]), flush=True)
for line in sys.stdin:
    command = line.strip()
    if command == "count":
        print(len(fake.calls), flush=True)
    elif command == "by-path":
        counts = {}
        for c in fake.calls:
            kind = re.sub(r"^/v4/domains/[^/]+$", "/v4/domains/{d}", c.path)
            kind = re.sub(r"^/v3/domains/[^/]+/", "/v3/domains/{d}/", kind)
            counts[c.method + " " + kind] = counts.get(c.method + " " + kind, 0) + 1
        print(json.dumps(counts), flush=True)
    else:
        break
fake.stop()
"""


def tenants_for(domains: int) -> int:
    """Tenants whose fleet holds ``domains`` domains: n platform + 2n/3 sender + 5 odd ones."""
    n = 1
    while n + sum(1 for i in range(n) if i % 3) + 5 < domains:
        n += 1
    return n


class RemoteFake:
    def __init__(self, tenants: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", FAKE_SERVER, str(REPO), str(tenants)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.api_key, self.urls, self.domains, self.tenants, self.tenant_domains = json.loads(
            self.proc.stdout.readline()
        )

    def ask(self, command: str) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(10)


def _project() -> Path:
    root = Path(tempfile.mkdtemp(prefix="bench-import-")) / "p"
    root.mkdir(parents=True)
    for name in ("Pulumi.yaml", "Pulumi.eu.yaml", "Pulumi.us.yaml"):
        shutil.copy(REPO / name, root / name)
    shutil.copytree(REPO / "tenants", root / "tenants")
    return root


def run() -> list[Result]:
    fake = RemoteFake(tenants_for(DOMAINS))
    root = _project()
    try:
        client = MailgunClient("eu", fake.api_key, fake.urls["eu"], backoff_base=0.01, backoff_max=0.05)
        client.limiter = RateLimiter(
            RATE, clock=lambda: time.monotonic() * SCALE, sleep=lambda s: time.sleep(s / SCALE)
        )
        start = time.perf_counter()
        report = import_region(root / "tenants", root, client, dry_run=False)
        elapsed = time.perf_counter() - start
        calls = int(fake.ask("count"))
        assert report.summary()["written"] == fake.tenants, report.summary()
        floor = 2 + fake.domains + fake.tenant_domains  # list pages, webhooks, tenant domain settings
        bound = calls / (RATE * SCALE / 60.0)
        return [
            Result(
                f"import {fake.domains} domains: Mailgun API calls",
                float(calls),
                float(floor),
                "list pages + webhooks per domain + settings per tenant domain",
                unit=" calls",
                notes={
                    "calls_per_domain": round(calls / fake.domains, 2),
                    "tenants": fake.tenants,
                    "by_call": fake.ask("by-path"),
                },
            ),
            Result(
                f"import {fake.domains} domains (rate {RATE}/min x{SCALE})",
                elapsed,
                bound,
                "calls / rate-limit bound",
                target=TARGET,
                notes={"calls": calls, "tenants_written": report.summary()["written"]},
            ),
        ]
    finally:
        fake.stop()
        shutil.rmtree(root.parent, ignore_errors=True)


if __name__ == "__main__":
    for r in run():
        print(r.line())
