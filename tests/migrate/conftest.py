"""A migration world: a copy of the example project, the fake Mailgun and a mock stack runner.

``world.bootstrap()`` brings both stacks up once (every example tenant's domains, routes,
webhooks and credentials then exist in the fake, in their region), as production would be
before anyone migrates. The fake's ``dns_checker`` (what Mailgun's verify looks at) answers
from what the stacks hold: a domain verifies once some stack holds its DKIM record with the
key the fake generated for it, and its MX record (platform domains) points at the region.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mailfleet.mailgun.client import MailgunClient
from mailfleet.migrate.engine import Migrator, Notice, Options
from mailfleet.model.stack import StackConfig
from mailfleet.model.tenant import Tenant
from tests.conftest import REPO
from tests.fakes.mailgun_server import FakeMailgun
from tests.migrate.mock_runner import DNS, MockStackRunner, stack_checker

TEST_DELETE_DELAY = 0.3  # seconds the fake keeps answering for a deleted domain
TEST_KEY_PASSPHRASE = "test-passphrase-for-dkim-keys"  # encrypts the moves' DKIM keys at rest


class FakeClock:
    """Wall time plus whatever the code under test chose to sleep (sleeps are not slept)."""

    def __init__(self, real_sleep_below: float = 0.05) -> None:
        import time

        self._time = time
        self.offset = 0.0
        self.slept: list[float] = []
        self.real_sleep_below = real_sleep_below

    def __call__(self) -> float:
        return self._time.time() + self.offset

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        # Short waits (polling the fake's delete delay) really wait; long ones (TTLs) jump.
        if seconds <= self.real_sleep_below:
            self._time.sleep(seconds)
        else:
            self._time.sleep(self.real_sleep_below)
            self.offset += seconds - self.real_sleep_below


@dataclass
class World:
    root: Path
    fake: FakeMailgun
    runner: MockStackRunner
    clock: FakeClock
    notices: list[Notice] = field(default_factory=list)

    @property
    def tenants_dir(self) -> Path:
        return self.root / "tenants"

    def client(self, region: str) -> MailgunClient:
        return MailgunClient(
            region,
            self.fake.api_key,
            self.fake.base_url(region),
            backoff_base=0.01,
            backoff_max=0.05,
            requests_per_minute=100_000,
        )

    def migrator(self, **kw: Any) -> Migrator:
        kw.setdefault("checker", self.checker)
        kw.setdefault(
            "options",
            Options(
                wait_gone_timeout=30,
                verify_timeout=5,
                dkim_timeout=5,
                poll_interval=0.2,
                key_passphrase=TEST_KEY_PASSPHRASE,
            ),
        )
        kw.setdefault("clock", self.clock)
        kw.setdefault("sleep", self.clock.sleep)
        kw.setdefault("notify", self.notices.append)
        return Migrator(self.tenants_dir, self.root, self.runner, self.client, **kw)

    def bootstrap(self) -> None:
        self.runner.up("us")
        self.runner.up("eu")
        self.fake.reset_log()

    def checker(self, tenant: Tenant, stack: StackConfig) -> list[str]:
        """The stand-in's check, plus the manual-DNS records of a move's new DKIM selector:
        live once the test "published" them (``published``, name -> value)."""
        from mailfleet.desired.build import build_tenant, new_dkim_record

        problems = stack_checker(self.runner)(tenant, stack)
        for rec in build_tenant(tenant, stack).records:
            manual_new = rec.provider == "manual" and new_dkim_record(tenant, rec)
            if manual_new and self.published.get(rec.name) != rec.values[0]:
                problems.append(f"{rec.name} TXT missing")
        return problems

    def key_dns_valid(self, name: str, value: str) -> bool:
        """What Mailgun's key activation checks: the key's record is published (a stack holds it,
        or the customer published it)."""
        key = value.split("p=")[-1][:40]
        for stack in self.dns_stacks:
            for res in self.runner.held(stack).values():
                if res["type"] in DNS and res["inputs"].get("name") == name:
                    held = str(res["inputs"].get("records") or res["inputs"].get("content"))
                    if key in held.replace('" "', ""):
                        return True
        return key in self.published.get(name, "")

    def dns_valid(self, name: str, body: dict[str, Any]) -> bool:
        """Mailgun's verify, answered from what the stacks hold (and manual records as published)."""
        dkim = next(
            (r for r in body["sending_dns_records"] if "._domainkey." in r["name"]),
            None,
        )
        if dkim is None:
            return False
        for stack in self.dns_stacks:
            for res in self.runner.held(stack).values():
                if res["type"] in DNS and res["inputs"].get("name") == dkim["name"]:
                    value = str(res["inputs"].get("records") or res["inputs"].get("content"))
                    if dkim["value"].split("p=")[-1][:40] in value.replace('" "', ""):
                        return True
        return name in self.manual_published

    manual_published: set[str] = field(default_factory=set)
    # The stacks whose DNS records Mailgun's verify and key activation see (a sharded test names its shards).
    dns_stacks: tuple[str, ...] = ("eu", "us")
    published: dict[str, str] = field(default_factory=dict)

    def routes(self, region: str, slug: str) -> list[dict[str, Any]]:
        with self.fake.lock:
            return [r for r in self.fake.routes[region].values() if f'/{slug}"' in str(r["actions"])]

    def domain_region(self, name: str) -> str | None:
        with self.fake.lock:
            self.fake._purge_deleted()
            dom = self.fake.domains.get(name)
            return None if dom is None or dom.deleted_at is not None else dom.region


def copy_project(dest: Path, tenants: tuple[str, ...] | None = None) -> Path:
    """The example project (or only ``tenants`` of it: fewer tenants, faster stack runs)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("Pulumi.yaml", "Pulumi.eu.yaml", "Pulumi.us.yaml"):
        shutil.copy(REPO / name, dest / name)
    shutil.copytree(REPO / "tenants", dest / "tenants")
    if tenants is not None:
        for path in (dest / "tenants").glob("*.yaml"):
            if path.stem not in tenants:
                path.unlink()
    return dest


@pytest.fixture
def make_world(tmp_path: Path) -> Iterator[Callable[..., World]]:
    fakes: list[FakeMailgun] = []

    def make(
        *,
        file_backed: bool = False,
        delete_delay: float = TEST_DELETE_DELAY,
        tenants: tuple[str, ...] | None = ("acme", "bluebird"),
    ) -> World:
        root = copy_project(tmp_path / f"project{len(fakes)}", tenants)
        fake = FakeMailgun(delete_delay=delete_delay).start()
        fakes.append(fake)
        clock = FakeClock()
        holder: dict[str, World] = {}

        def client(region: str) -> MailgunClient:
            return holder["w"].client(region)

        runner = MockStackRunner(
            root, root / "tenants", mailgun=client, state_dir=(root / ".state") if file_backed else None
        )
        world = World(root, fake, runner, clock)
        holder["w"] = world
        fake.dns_checker = world.dns_valid
        fake.key_dns_checker = world.key_dns_valid
        return world

    yield make
    for fake in fakes:
        fake.stop()


@pytest.fixture
def world(make_world: Callable[..., World], request: pytest.FixtureRequest) -> World:
    """A bootstrapped world; ``@pytest.mark.tenants(...)`` picks its tenants (default acme, bluebird)."""
    marker = request.node.get_closest_marker("tenants")
    w = make_world(tenants=tuple(marker.args)) if marker else make_world()
    w.bootstrap()
    return w


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "tenants(*slugs): the example tenants a migration world keeps")


class Observer:
    """Samples the fake every few milliseconds while a move runs, to measure the windows.

    ``domain_gap``: the longest time no region held the tenant's platform domain (the
    delete-to-create window). ``route_gaps``: per address, the longest time no region held a
    route for it (must stay 0). Reads take the fake's lock, so every sample is consistent.
    """

    def __init__(self, world: World, domain: str, addresses: list[str], interval: float = 0.003) -> None:
        import threading

        self.world = world
        self.domain = domain
        self.addresses = addresses
        self.interval = interval
        self.samples = 0
        self.domain_gap = 0.0
        self.route_gaps = dict.fromkeys(addresses, 0.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _present(self) -> tuple[bool, dict[str, bool]]:
        fake = self.world.fake
        with fake.lock:
            fake._purge_deleted()
            dom = fake.domains.get(self.domain)
            has_domain = dom is not None and dom.deleted_at is None
            exprs = [
                str(r["expression"]).replace("\\", "")
                for region in fake.routes.values()
                for r in region.values()
            ]
        return has_domain, {a: any(a in e for e in exprs) for a in self.addresses}

    def _run(self) -> None:
        import time

        gap_start: float | None = None
        route_start: dict[str, float | None] = dict.fromkeys(self.addresses)
        while not self._stop.is_set():
            now = time.monotonic()
            has_domain, routes = self._present()
            self.samples += 1
            if not has_domain:
                gap_start = gap_start if gap_start is not None else now
                self.domain_gap = max(self.domain_gap, now - gap_start)
            else:
                gap_start = None
            for a, ok in routes.items():
                if not ok:
                    start = route_start[a] if route_start[a] is not None else now
                    route_start[a] = start
                    self.route_gaps[a] = max(self.route_gaps[a], now - start)
                else:
                    route_start[a] = None
            time.sleep(self.interval)

    def __enter__(self) -> Observer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def end_state(world: World, slug: str) -> dict[str, Any]:
    """What a move leaves behind, without run-specific values (times, ids, generated keys)."""
    import re

    from mailfleet.model.load import load_tenant_file

    fake = world.fake
    with fake.lock:
        fake._purge_deleted()
        domains = {n: d.region for n, d in fake.domains.items() if d.deleted_at is None}
        routes = {
            region: sorted((r["expression"], tuple(r["actions"]), r["priority"]) for r in rs.values())
            for region, rs in fake.routes.items()
        }
        hooks = {f"{r}:{d}": dict(sorted(h.items())) for (r, d), h in fake.webhooks.items() if h}
        supp = {f"{r}:{d}:{k}": sorted(t) for (r, d, k), t in fake.suppressions.items() if t}
        creds = {f"{r}:{d}": sorted(c) for (r, d), c in fake.credentials.items() if c}
    stacks = {}
    for stack in ("eu", "us"):
        held = {}
        for urn, res in world.runner.held(stack).items():
            inputs = dict(res["inputs"])
            if "._domainkey." in str(inputs.get("name", "")):
                inputs.pop("records", None)
                inputs.pop("content", None)
            held[urn] = {"inputs": inputs, "protect": res.get("protect")}
        stacks[stack] = held
    tenant, _ = load_tenant_file(world.tenants_dir / f"{slug}.yaml")
    assert tenant is not None
    m = tenant.migration
    text = (world.tenants_dir / f"{slug}.yaml").read_text()
    text = re.sub(r"'?\d{4}-\d\d-\d\dT[0-9:+]+'?", "T", text)
    text = re.sub(r"(?ms)^  owner:.*?(?=^  \w)", "", text)
    # The new DKIM keys differ from run to run (tests/migrate/test_dkim.py checks them).
    text = re.sub(r"(?ms)^  dkim:.*?(?=^  \w)", "  dkim: X\n", text)
    text = re.sub(r"sha256: [0-9a-f]+", "sha256: X", text)
    text = re.sub(r"pid: \d+", "pid: X", text)
    text = re.sub(r"(source_deleted_at|target_live_at|seconds): [0-9.]+", r"\1: X", text)
    return {
        "domains": domains,
        "routes": routes,
        "webhooks": hooks,
        "suppressions": supp,
        "credentials": creds,
        "stacks": stacks,
        "tenant_region": tenant.region,
        "state": m.state if m else None,
        "file": text,
    }
