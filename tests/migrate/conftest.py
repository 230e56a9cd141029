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
from tests.migrate.mock_runner import DNS, MockStackRunner

TEST_DELETE_DELAY = 0.3  # seconds the fake keeps answering for a deleted domain


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
        kw.setdefault("options", Options(wait_gone_timeout=30, verify_timeout=30, poll_interval=0.05))
        kw.setdefault("clock", self.clock)
        kw.setdefault("sleep", self.clock.sleep)
        kw.setdefault("notify", self.notices.append)
        return Migrator(self.tenants_dir, self.root, self.runner, self.client, **kw)

    def bootstrap(self) -> None:
        self.runner.up("us")
        self.runner.up("eu")
        self.fake.reset_log()

    def checker(self, tenant: Tenant, stack: StackConfig) -> list[str]:
        """``mailfleet check`` stand-in: every managed record the model wants, held by the stack."""
        from mailfleet.desired.build import build_tenant

        held = {
            (r["inputs"].get("name"), r["inputs"].get("type")): r
            for r in self.runner.held(stack.name).values()
            if r["type"] in DNS
        }
        problems = []
        for rec in build_tenant(tenant, stack).records:
            if rec.provider == "manual":
                continue
            res = held.get((rec.name, rec.type))
            if res is None:
                problems.append(f"{rec.name} {rec.type} missing")
            elif res["inputs"].get("ttl") != rec.ttl:
                problems.append(f"{rec.name} {rec.type} ttl {res['inputs'].get('ttl')} != {rec.ttl}")
        return problems

    def dns_valid(self, name: str, body: dict[str, Any]) -> bool:
        """Mailgun's verify, answered from what the stacks hold (and manual records as published)."""
        dkim = next(
            (r for r in body["sending_dns_records"] if "._domainkey." in r["name"]),
            None,
        )
        if dkim is None:
            return False
        for stack in ("eu", "us"):
            for res in self.runner.held(stack).values():
                if res["type"] in DNS and res["inputs"].get("name") == dkim["name"]:
                    value = str(res["inputs"].get("records") or res["inputs"].get("content"))
                    if dkim["value"].split("p=")[-1][:40] in value.replace('" "', ""):
                        return True
        return name in self.manual_published

    manual_published: set[str] = field(default_factory=set)

    def routes(self, region: str, slug: str) -> list[dict[str, Any]]:
        with self.fake.lock:
            return [r for r in self.fake.routes[region].values() if f'/{slug}"' in str(r["actions"])]

    def domain_region(self, name: str) -> str | None:
        with self.fake.lock:
            self.fake._purge_deleted()
            dom = self.fake.domains.get(name)
            return None if dom is None or dom.deleted_at is not None else dom.region


def copy_project(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("Pulumi.yaml", "Pulumi.eu.yaml", "Pulumi.us.yaml"):
        shutil.copy(REPO / name, dest / name)
    shutil.copytree(REPO / "tenants", dest / "tenants")
    return dest


@pytest.fixture
def make_world(tmp_path: Path) -> Iterator[Callable[..., World]]:
    fakes: list[FakeMailgun] = []

    def make(*, file_backed: bool = False, delete_delay: float = TEST_DELETE_DELAY) -> World:
        root = copy_project(tmp_path / f"project{len(fakes)}")
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
        return world

    yield make
    for fake in fakes:
        fake.stop()


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:
    w = make_world()
    w.bootstrap()
    return w
