"""mailfleet.project.tenants: adding a tenant runs the same rules as validate, on the new tenant."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailfleet.errors import InvalidData, UsageError
from mailfleet.manager import Manager
from tests.conftest import run_cli, tree_bytes


def test_tenant_add_refuses_what_validate_would_refuse(project_dir: Path) -> None:
    """The repro of the issue: two adds both exited 0 and validate then exited 1."""
    first = run_cli(
        "tenant", "add", "aaa", "--region", "eu", "--mailbox", "x",
        "--sender-domain", "shop-example.org", "--tracking", cwd=project_dir,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    before = tree_bytes(project_dir / "tenants")
    second = run_cli(
        "tenant", "add", "bbb", "--region", "us", "--mailbox", "y",
        "--sender-domain", "email.shop-example.org", cwd=project_dir,
    )  # fmt: skip
    assert second.returncode == 1, second.stderr
    assert "Traceback" not in second.stderr
    assert second.stderr.splitlines() == [
        "--sender-domain: domain email.shop-example.org and tenant 'aaa''s sender domain shop-example.org "
        "(tenants/aaa.yaml) share the zone shop-example.org: one tenant's records would be written into "
        "the other's zone"
    ]
    assert tree_bytes(project_dir / "tenants") == before
    assert run_cli("validate", cwd=project_dir).returncode == 0


def test_conflicts_are_reported_on_the_new_tenant_even_when_it_sorts_first(project_dir: Path) -> None:
    # 'aaa' sorts before 'nordlys': the problem must still be about the tenant being added.
    api = Manager(project_dir / "tenants", project_dir)
    tenant = api.new_tenant(
        {
            "slug": "aaa",
            "name": "A",
            "region": "us",
            "mailboxes": ["x"],
            "sender_domain": {"name": "nordlys-reiser.no"},
        }
    )
    with pytest.raises(InvalidData) as exc:
        api.add_tenant(tenant, dry_run=True)
    assert [(p.where, p.field) for p in exc.value.problems] == [("", "sender_domain.name")]
    assert "nordlys" in exc.value.problems[0].message
    assert not (project_dir / "tenants" / "aaa.yaml").exists()


def test_own_rules_are_problems_of_the_input_by_field(project_dir: Path) -> None:
    api = Manager(project_dir / "tenants", project_dir)
    data = {
        "slug": "loop",
        "name": "Loop",
        "region": "eu",
        "mailboxes": ["x"],
        "sender_domain": {"name": "loop.no", "spf_includes": ["loop.no"]},
    }
    with pytest.raises(UsageError) as exc:
        api.new_tenant(data)
    assert [(p.where, p.field) for p in exc.value.problems] == [("", "sender_domain.spf_includes")]
    result = run_cli(
        "tenant", "add", "loop", "--region", "eu", "--mailbox", "x",
        "--sender-domain", "loop.no", "--spf-include", "loop.no", cwd=project_dir,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith("--spf-include: include:loop.no is the domain's own SPF record")


def test_spf_include_loop_between_two_tenants(project_dir: Path) -> None:
    ok = run_cli(
        "tenant", "add", "one", "--region", "eu", "--mailbox", "x",
        "--sender-domain", "one.example", "--spf-include", "two.example", cwd=project_dir,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    loop = run_cli(
        "tenant", "add", "two", "--region", "eu", "--mailbox", "x",
        "--sender-domain", "two.example", "--spf-include", "one.example", cwd=project_dir,
    )  # fmt: skip
    assert loop.returncode == 1
    assert loop.stderr.splitlines() == [
        "--spf-include: SPF include loop two.example -> one.example -> two.example through other "
        "tenants' records (permerror, RFC 7208 §4.6.4)"
    ]
    assert not (project_dir / "tenants" / "two.yaml").exists()
