"""The migration's verify step (``mailfleet.migrate.checker.DnsChecker``) against real Knot."""

from __future__ import annotations

import pytest

from mailfleet.migrate.checker import DnsChecker
from mailfleet.model.load import load_stack
from mailfleet.project import Project

pytestmark = pytest.mark.knot  # every test here reads a real Knot server


def _load(dns_world):
    project = Project.load(dns_world.project_dir / "tenants", dns_world.project_dir)
    stacks = {name: load_stack(dns_world.project_dir, name) for name in ("eu", "us")}
    return project.tenants, stacks


def test_a_tenant_whose_records_are_published_passes(dns_world):
    tenants, stacks = _load(dns_world)
    check = DnsChecker(dns_world.ns, timeout=0.5, retries=1)
    assert check(tenants["acme"], stacks["eu"]) == []
    assert check(tenants["nordlys"], stacks["eu"]) == []


def test_wrong_and_missing_records_are_reported_one_line_each(dns_world):
    tenants, stacks = _load(dns_world)
    check = DnsChecker(dns_world.ns, timeout=0.5, retries=1)
    problems = check(tenants["wrongregion"], stacks["eu"])
    assert problems == [p for p in problems if p.startswith("wrongregion.mail.example.eu MX: wrong")]
    assert len(problems) == 1

    # acme as if it had moved to the US stack: nothing is published under the US platform zone
    # yet, so every record the US stack would declare is reported, none is "ok".
    moved = tenants["acme"].model_copy(update={"region": "us"})
    problems = check(moved, stacks["us"])
    names = {p.split(" ", 1)[0] for p in problems}
    assert {"acme.mail.example.com", "_dmarc.acme.mail.example.com"} <= names
    assert all(": missing" in p for p in problems), problems


def test_a_stack_that_does_not_serve_the_tenant_says_so(dns_world):
    tenants, stacks = _load(dns_world)
    check = DnsChecker(dns_world.ns, timeout=0.5, retries=1)
    assert check(tenants["acme"], stacks["us"]) == ["the us stack declares nothing for acme yet"]
