"""A project copy in a git repository, a fake Mailgun holding a seeded fleet, and the CLI."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, run_cli
from tests.diff.conftest import Repo
from tests.fakes.mailgun_server import FakeMailgun
from tests.fleet_import.fleet import SeededFleet, SeededTenant, seed_fleet, seed_tenant

CANARY = "key-CANARY-7f3e9a1b2c4d5e6f"


def secret_forms(key: str = CANARY) -> list[str]:
    """Every form of the key a leak could take: itself, ``api:<key>``, the Basic value."""
    return [key, f"api:{key}", base64.b64encode(f"api:{key}".encode()).decode()]


def stack_settings(name: str = "eu") -> dict[str, str]:
    """The stack's ``mailfleet:*`` settings, read as plain YAML (not through mailfleet)."""
    config = yaml.safe_load((REPO / f"Pulumi.{name}.yaml").read_text())["config"]
    return {k.split(":", 1)[1]: v for k, v in config.items() if k.startswith("mailfleet:")}


@dataclass
class World(Repo):
    """The project copy as a git repository (``git``/``commit`` from the diff tests' ``Repo``)."""

    root: Path
    fake: FakeMailgun
    fleet: SeededFleet
    acme: SeededTenant
    base: str  # the commit before the import

    @property
    def tenants(self) -> Path:
        return self.root / "tenants"

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, cwd=self.root, env={**self.fake.env(), **(env or {})})

    def import_json(self, *args: str) -> dict[str, Any]:
        proc = self.run("import", "--from-mailgun", "--region", "eu", "--format", "json", *args)
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr
        for form in secret_forms(self.fake.api_key):
            assert form not in proc.stdout and form not in proc.stderr
        return json.loads(proc.stdout)


def make_world(root: Path) -> World:
    """A copy of the example project, committed, and a fake Mailgun seeded with the fleet."""
    root.mkdir(parents=True)
    for name in ("Pulumi.yaml", "Pulumi.eu.yaml", "Pulumi.us.yaml"):
        shutil.copy(REPO / name, root / name)
    shutil.copytree(REPO / "tenants", root / "tenants")
    fake = FakeMailgun(api_key=CANARY).start()
    settings = stack_settings("eu")
    fleet = seed_fleet(fake, "eu", settings)
    # acme has a tenant file (tenants/acme.yaml): mailboxes support and sales, default DKIM.
    acme = seed_tenant(
        fake,
        "eu",
        settings,
        "acme",
        sender=None,
        selector="mailfleet",
        bits=2048,
        mailboxes=["support", "sales"],
        tracking=False,
    )
    world = World(root, fake, fleet, acme, "")
    world.git("init", "-q", "-b", "main")
    world.base = world.commit("before the import")
    return world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = make_world(tmp_path / "project")
    try:
        yield w
    finally:
        w.fake.stop()


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, dict[str, Any]]]:
    """One import of the seeded fleet, committed; tests read it, none changes it."""
    w = make_world(tmp_path_factory.mktemp("imported") / "project")
    try:
        doc = w.import_json()
        w.commit("import")
        yield w, doc
    finally:
        w.fake.stop()
