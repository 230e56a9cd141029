"""`mailfleet check` with MAILGUN_API_KEY: Mailgun's verification state, against the local fake."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.check.conftest import record
from tests.fakes.mailgun_server import FakeMailgun

pytestmark = pytest.mark.knot  # every test here reads a real Knot server


@pytest.fixture
def fake(dns_world) -> Iterator[FakeMailgun]:
    with FakeMailgun() as server:
        yield server


def seed(fake: FakeMailgun, dns_world, name: str, region: str, selector: str = "mailfleet", **kw) -> None:
    key = dns_world.expected_keys[f"{selector}._domainkey.{name}"]
    fake.seed_domain(name, region, dkim_selector=selector, dkim_public_key=key, **kw)


def mailgun_row(data: dict, slug: str, name: str) -> dict:
    tenant = next(t for t in data["tenants"] if t["slug"] == slug)
    return next(m for m in tenant["mailgun"] if m["name"] == name)


def test_verification_state_through_429_and_5xx(check_cli, dns_world, fake):
    seed(fake, dns_world, "acme.mail.example.eu", "eu", state="active")
    fake.rate_limit(1, reset_in=0.3, reset_unit="ms", path="acme")
    fake.inject(503, count=1, path="acme")
    proc, data = check_cli("acme", env=fake.env())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    row = mailgun_row(data, "acme", "acme.mail.example.eu")
    assert row["status"] == "ok" and row["found"] == ["active"]
    assert data["summary"]["mailgun_checked"] is True
    # one GET answered 429, one 503, then the real answer; nothing went to the US host
    assert fake.count("GET", "/v4/domains/acme.mail.example.eu", "eu") == 3
    assert fake.count(region="us") == 0
    # the DKIM key was compared with the one Mailgun holds
    assert record(data, "acme", "dkim")["details"]["expected_key_source"] == "Mailgun (EU region)"
    assert fake.api_key not in proc.stdout + proc.stderr


def test_mailgun_key_mismatch_and_unverified_domain(check_cli, dns_world, fake):
    seed(fake, dns_world, "wrongkey.mail.example.com", "us", state="unverified")
    proc, data = check_cli("wrongkey", env=fake.env())
    assert proc.returncode == 1
    row = mailgun_row(data, "wrongkey", "wrongkey.mail.example.com")
    assert row["status"] == "wrong"
    assert "Mailgun state is 'unverified'" in row["message"]
    dkim = record(data, "wrongkey", "dkim")
    assert dkim["status"] == "wrong"
    assert dkim["message"] == "the published DKIM key is not the key Mailgun (US region) holds"


def test_domain_missing_in_its_region_but_present_in_the_other(check_cli, dns_world, fake):
    seed(fake, dns_world, "fjordbank.mail.example.eu", "eu", state="active")
    seed(fake, dns_world, "fjordbank.no", "us", state="active")  # not migrated yet
    proc, data = check_cli("fjordbank", env=fake.env())
    assert proc.returncode == 1
    row = mailgun_row(data, "fjordbank", "fjordbank.no")
    assert row["status"] == "missing"
    assert row["message"] == "not in Mailgun's EU region"
    assert "exists in Mailgun's US region" in row["hint"]
    assert mailgun_row(data, "fjordbank", "fjordbank.mail.example.eu")["status"] == "ok"


def test_trigger_verify(check_cli, dns_world, fake):
    seed(fake, dns_world, "harbor.mail.example.com", "us", state="unverified")
    seed(fake, dns_world, "harborlogistics.com", "us", state="unverified")
    fake.set_dns_valid("harbor.mail.example.com")
    fake.set_dns_valid("harborlogistics.com")
    fake.inject(500, count=1, method="PUT")
    proc, data = check_cli("harbor", "--trigger-verify", env=fake.env())
    assert proc.returncode == 0, proc.stdout
    for name in ("harbor.mail.example.com", "harborlogistics.com"):
        row = mailgun_row(data, "harbor", name)
        assert row["purpose"] == "mailgun-verify" and row["status"] == "ok"
    assert (
        fake.count("PUT", "/v4/domains/harborlogistics.com/verify")
        + fake.count("PUT", "/v4/domains/harbor.mail.example.com/verify")
        == 3
    )  # two domains, one retried after the injected 500
    assert fake.count("GET") == 0


def test_persistent_api_failure_is_an_error_not_missing(check_cli, dns_world, fake):
    seed(fake, dns_world, "alpine.mail.example.eu", "eu", state="active")
    fake.inject(502, count=100)
    proc, data = check_cli("alpine", "--api-retries", "1", env=fake.env())
    assert proc.returncode == 3
    row = mailgun_row(data, "alpine", "alpine.mail.example.eu")
    assert row["status"] == "error"
    assert "HTTP 502" in row["message"]
    assert fake.count("GET", "/v4/domains/alpine.mail.example.eu") == 2  # the call and one retry
    assert fake.api_key not in proc.stdout + proc.stderr


def test_trigger_verify_needs_a_key(cli, dns_world):
    proc = cli("check", "acme", "--trigger-verify", cwd=dns_world.project_dir, env={"MAILGUN_API_KEY": ""})
    assert proc.returncode == 2
    assert proc.stderr.strip() == "--trigger-verify: needs MAILGUN_API_KEY in the environment"
