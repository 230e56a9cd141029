"""`mailfleet bind-ips` against the fake Mailgun, run as a real process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.mailgun_server import FakeMailgun

IPS = ["203.0.113.7", "203.0.113.8"]


@pytest.fixture
def fake() -> Iterator[FakeMailgun]:
    with FakeMailgun() as server:
        server.seed_domain("nordlys.mail.example.eu", "eu")
        server.seed_domain("nordlys-reiser.no", "eu")
        server.seed_domain("acme.mail.example.eu", "eu")
        server.seed_shared_ips("eu", ["198.51.100.99"])
        for ip in (*IPS, "203.0.113.9"):
            server.seed_ip("eu", ip)
        yield server


def with_ips(project_dir: Path, slug: str, block: str) -> None:
    path = project_dir / "tenants" / f"{slug}.yaml"
    path.write_text(path.read_text() + block)


def run(cli, project_dir: Path, fake: FakeMailgun, *args: str):
    proc = cli("--stacks-dir", str(project_dir), "bind-ips", *args, "--format", "json", env=fake.env())
    return proc, (json.loads(proc.stdout) if proc.stdout.startswith("{") else None)


def ips_of(fake: FakeMailgun, domain: str) -> list[str]:
    return fake.ips.domain_ips("eu", domain)


def test_binds_then_in_sync_and_drift_needs_yes(cli, project_dir, fake):
    with_ips(project_dir, "nordlys", "mailgun_ips:\n  ips: [203.0.113.7, 203.0.113.8]\n")
    dry, data = run(cli, project_dir, fake, "nordlys", "--dry-run")
    assert dry.returncode == 1 and {d["status"] for d in data["domains"]} == {"drift"}
    assert ips_of(fake, "nordlys-reiser.no") == ["198.51.100.99"]  # nothing changed
    proc, data = run(cli, project_dir, fake, "nordlys", "acme")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {d["domain"]: d["status"] for d in data["domains"]} == {
        "nordlys.mail.example.eu": "bound",
        "nordlys-reiser.no": "bound",
    }
    assert data["skipped"] == ["acme"]
    assert ips_of(fake, "nordlys-reiser.no") == IPS
    assert fake.count("POST", "/v3/domains/nordlys-reiser.no/ips", "eu") == 2
    again, data = run(cli, project_dir, fake, "nordlys")
    assert again.returncode == 0 and {d["status"] for d in data["domains"]} == {"in-sync"}
    # someone bound an extra IP by hand: drift, removed only with --yes
    fake.ips.assigned[("eu", "nordlys-reiser.no")].append("203.0.113.9")
    drift, data = run(cli, project_dir, fake, "nordlys")
    row = next(d for d in data["domains"] if d["domain"] == "nordlys-reiser.no")
    assert drift.returncode == 1 and row["status"] == "drift"
    assert row["actions"] == ["would unassign 203.0.113.9 (needs --yes)"]
    fixed, data = run(cli, project_dir, fake, "nordlys", "--yes")
    assert fixed.returncode == 0 and ips_of(fake, "nordlys-reiser.no") == IPS
    assert fake.count("DELETE", "/v3/domains/nordlys-reiser.no/ips/203.0.113.9", "eu") == 1
    assert fake.api_key not in fixed.stdout + fixed.stderr


def test_pool_from_the_stack_file(cli, project_dir, fake):
    fake.seed_pool("eu", "pool_eu", ["203.0.113.20", "203.0.113.21"])
    stack = project_dir / "Pulumi.eu.yaml"
    stack.write_text(
        stack.read_text()
        + "  mailfleet:mailgunIps:\n    ips: [203.0.113.20, 203.0.113.21]\n    pool: pool_eu\n"
    )
    proc, data = run(cli, project_dir, fake, "acme")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    row = data["domains"][0]
    assert row["actions"] == ["link pool pool_eu"] and row["status"] == "bound"
    assert ips_of(fake, "acme.mail.example.eu") == ["203.0.113.20", "203.0.113.21"]
    # Mailgun: a domain's single IPs cannot be changed while a pool is linked to it
    text = stack.read_text().replace(
        "    ips: [203.0.113.20, 203.0.113.21]\n    pool: pool_eu\n", "    ips: [203.0.113.7]\n"
    )
    stack.write_text(text)
    refused, data = run(cli, project_dir, fake, "acme")
    assert refused.returncode == 1
    assert data["domains"][0]["status"] == "error"
    assert "while an IP pool is linked" in data["domains"][0]["message"]


def test_an_ip_mailgun_refuses_is_an_error(cli, project_dir, fake):
    with_ips(project_dir, "acme", "mailgun_ips:\n  ips: [192.0.2.200]\n")  # not the account's
    proc, data = run(cli, project_dir, fake, "acme")
    assert proc.returncode == 1
    assert data["domains"][0]["status"] == "error" and "does not belong" in data["domains"][0]["message"]


def test_usage(cli, project_dir, fake):
    proc = cli("--stacks-dir", str(project_dir), "bind-ips", "acme", env={"MAILGUN_API_KEY": ""})
    assert proc.returncode == 2 and "needs MAILGUN_API_KEY" in proc.stderr
    proc = cli("--stacks-dir", str(project_dir), "bind-ips", env=fake.env())
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
