"""DKIM with overlap: the target key made before the point of no return, kept encrypted,
published under a new selector, imported into the target region and activated there.

Against the fake Mailgun's Domain Keys endpoints and the engine stand-in, both directions.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mailfleet.errors import InvalidData
from mailfleet.mailgun.errors import MailgunError
from mailfleet.migrate import dkim
from mailfleet.migrate.journal import Journal
from mailfleet.model.migration import POINT_OF_NO_RETURN
from tests.conftest import REPO, run_cli
from tests.fakes.mailgun_server import FakeMailgun
from tests.migrate.conftest import TEST_KEY_PASSPHRASE, World
from tests.migrate.mock_runner import DNS


class Crash(Exception):
    """The process dying (not a MailfleetError: nothing catches it)."""


def _pem(bits: int = 2048) -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    return pem, dkim.public_key_of(key)


def _files_holding(root: Path, needles: list[str]) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if any(n.encode() in data for n in needles):
                found.append(str(path))
    return found


def _pem_needles(pem: str) -> list[str]:
    """Pieces of the PEM that only the private key holds (its first ~350 base64 characters
    include the modulus, which the public key publishes too)."""
    body = [line for line in pem.splitlines() if line and not line.startswith("-----")]
    joined = "".join(body)
    return ["PRIVATE KEY", body[len(body) // 2], joined[-200:-140], joined[600:660]]


# -- the fake's Domain Keys endpoints and the client -------------------------------------------


def test_fake_domain_keys_import_activate_in_mailguns_order() -> None:
    with FakeMailgun() as fake:
        from mailfleet.mailgun.client import MailgunClient

        eu = MailgunClient("eu", fake.api_key, fake.base_url("eu"), backoff_base=0.01, backoff_max=0.02)
        eu.create_domain("shop.example.no", "mailfleet", 2048)
        [own] = eu.list_domain_keys("shop.example.no")
        assert (own["selector"], own["active"]) == ("mailfleet", True)

        pem, public = _pem()
        made = eu.import_domain_key("shop.example.no", "mailfleet-eu", pem)
        assert made["dns_record"] == {
            "cached": [],
            "name": "mailfleet-eu._domainkey.shop.example.no",
            "record_type": "TXT",
            "valid": "unknown",
            "value": f"k=rsa; p={public}",
        }
        with pytest.raises(MailgunError) as dup:
            eu.import_domain_key("shop.example.no", "mailfleet-eu", pem)
        assert dup.value.status == 400 and "PRIVATE" not in str(dup.value)
        with pytest.raises(MailgunError) as bad:
            eu.import_domain_key("shop.example.no", "other", "-----BEGIN RSA PRIVATE KEY-----\nnope\n")
        assert bad.value.status == 400 and "nope" not in str(bad.value)

        # Activation needs the key's DNS record to be valid.
        published: dict[str, str] = {}
        fake.key_dns_checker = lambda name, value: published.get(name) == value
        with pytest.raises(MailgunError) as refused:
            eu.activate_domain_key("shop.example.no", "mailfleet-eu")
        assert refused.value.status == 400
        published["mailfleet-eu._domainkey.shop.example.no"] = f"k=rsa; p={public}"
        assert eu.activate_domain_key("shop.example.no", "mailfleet-eu")["active"] is True
        assert eu.deactivate_domain_key("shop.example.no", "mailfleet")["active"] is False
        keys = {k["selector"]: k["active"] for k in eu.list_domain_keys("shop.example.no")}
        assert keys == {"mailfleet": False, "mailfleet-eu": True}
        # The domain now reports the active key as its DKIM sending record.
        dkim_rows = [
            r for r in eu.get_domain("shop.example.no")["sending_dns_records"] if "_domainkey" in r["name"]
        ]
        assert [r["name"] for r in dkim_rows] == ["mailfleet-eu._domainkey.shop.example.no"]
        # Keys are regional: the US host does not know the domain.
        us = MailgunClient("us", fake.api_key, fake.base_url("us"), backoff_base=0.01, backoff_max=0.02)
        with pytest.raises(MailgunError) as other_region:
            us.import_domain_key("shop.example.no", "x", pem)
        assert other_region.value.status == 404
        assert fake.count("POST", "/v1/dkim/keys", "eu") == 3
        assert fake.count("PUT", "/v4/domains/shop.example.no/keys/mailfleet-eu/activate", "eu") == 2


def test_install_is_idempotent_and_calls_in_order() -> None:
    with FakeMailgun() as fake:
        from mailfleet.mailgun.client import MailgunClient

        eu = MailgunClient("eu", fake.api_key, fake.base_url("eu"), backoff_base=0.01, backoff_max=0.02)
        eu.create_domain("shop.example.no", "mailfleet", 2048)
        fake.set_dns_valid("shop.example.no")
        pem, _ = _pem()
        asked: list[int] = []

        def pem_of() -> str:
            asked.append(1)
            return pem

        assert dkim.install(eu, "shop.example.no", "mailfleet-eu", pem_of) == [
            "import",
            "activate",
            "deactivate mailfleet",
        ]
        order = [c.path for c in fake.calls if "/keys" in c.path]
        assert order == [
            "/v4/domains/shop.example.no/keys",
            "/v1/dkim/keys",
            "/v4/domains/shop.example.no/keys/mailfleet-eu/activate",
            "/v4/domains/shop.example.no/keys/mailfleet/deactivate",
        ]
        assert dkim.install(eu, "shop.example.no", "mailfleet-eu", pem_of) == []  # resumed: nothing again
        assert asked == [1]  # the key was decrypted once, when it was needed


# -- the key store ------------------------------------------------------------------------------


def test_key_is_stored_encrypted_reused_and_never_in_clear(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    public = dkim.ensure_key(tenants, "acme", "acme.example.com", "mailfleet-us", "pass one")
    path = dkim.key_path(tenants, "acme", "acme.example.com")
    stored = path.read_bytes()
    assert dkim.ensure_key(tenants, "acme", "acme.example.com", "mailfleet-us", "pass one") == public
    assert path.read_bytes() == stored  # reused, not regenerated
    pem = dkim.unseal(path, "pass one")
    assert pem.startswith("-----BEGIN RSA PRIVATE KEY-----")  # PKCS #1, as Mailgun imports it
    key = serialization.load_pem_private_key(pem.encode(), None)
    assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    assert dkim.public_key_of(key) == public == dkim.stored_public_key(path)
    assert _files_holding(tmp_path, _pem_needles(pem)) == []
    assert "PRIVATE" not in caplog.text and pem.splitlines()[1] not in caplog.text
    with pytest.raises(InvalidData) as wrong:
        dkim.unseal(path, "pass two")
    assert wrong.value.lines() == [
        f"{path}: cannot decrypt the DKIM key: wrong passphrase "
        "(MAILFLEET_MIGRATE_KEY_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE) or a changed file"
    ]
    # A file whose public half was swapped does not decrypt (it is authenticated data).
    path.write_text(stored.decode().replace(public[-20:], "A" * 20))
    with pytest.raises(InvalidData):
        dkim.unseal(path, "pass one")


def test_next_selector_always_differs() -> None:
    assert dkim.next_selector("mailfleet", "eu") == "mailfleet-eu"
    assert dkim.next_selector("mailfleet-eu", "us") == "mailfleet-us"
    assert dkim.next_selector("rw1", "eu") == "rw1-eu"
    assert len(dkim.next_selector("a" * 63, "eu")) == 63
    assert dkim.passphrase_from_env({"PULUMI_CONFIG_PASSPHRASE": "p"}) == "p"
    assert (
        dkim.passphrase_from_env({"MAILFLEET_MIGRATE_KEY_PASSPHRASE": "m", "PULUMI_CONFIG_PASSPHRASE": "p"})
        == "m"
    )
    assert dkim.passphrase_from_env({}) is None


# -- whole moves --------------------------------------------------------------------------------


def _held_dkim(world: World, stack: str, domain: str) -> dict[str, str]:
    """The DKIM records ``stack`` holds for ``domain``: name -> value(s) as the stack has them."""
    return {
        str(r["inputs"]["name"]): str(r["inputs"].get("records") or r["inputs"].get("content")).replace(
            '" "', ""
        )
        for r in world.runner.held(stack).values()
        if r["type"] in DNS and str(r["inputs"].get("name")).endswith(f"._domainkey.{domain}")
    }


@pytest.mark.parametrize(
    ("slug", "domain", "source", "target"),
    [("bluebird", "bluebird.mail.example.com", "us", "eu"), ("acme", "acme.mail.example.eu", "eu", "us")],
)
@pytest.mark.tenants("acme", "bluebird")
def test_overlap_then_the_target_signs_with_the_published_key(
    world: World, caplog: pytest.LogCaptureFixture, slug: str, domain: str, source: str, target: str
) -> None:
    caplog.set_level(logging.DEBUG)
    old_name, new_name = f"mailfleet._domainkey.{domain}", f"mailfleet-{target}._domainkey.{domain}"
    at_ponr: dict[str, dict[str, str]] = {}

    def look(s: str, step: str, point: str) -> None:
        if (step, point) == (POINT_OF_NO_RETURN, "started"):
            at_ponr[source], at_ponr[target] = (
                _held_dkim(world, source, domain),
                _held_dkim(world, target, domain),
            )

    [outcome] = world.migrator(fault=look).start([slug], target)
    assert outcome.ok, outcome

    m = Journal(world.tenants_dir, slug).load().migration
    assert m is not None and m.dkim is not None
    public = m.dkim.keys[domain]
    # Overlap: when the point of no return starts, the old selector is live in the source
    # stack and the new one, with our key, in the target stack.
    assert old_name in at_ponr[source] and new_name not in at_ponr[source]
    assert (
        at_ponr[target] == {new_name: f"['v=DKIM1; k=rsa; p={public}']"}
        or public in at_ponr[target][new_name]
    )
    # Afterwards the target holds the new selector only (the old one went at finalize).
    assert list(_held_dkim(world, target, domain)) == [new_name]
    assert public in _held_dkim(world, target, domain)[new_name]
    # Mailgun in the target region: our key imported and the only active one.
    with world.fake.lock:
        keys = {k.selector: k for k in world.fake.domains[domain].key_list()}
    assert keys[f"mailfleet-{target}"].public_key == public
    assert keys[f"mailfleet-{target}"].active and keys[f"mailfleet-{target}"].imported
    assert not keys["mailfleet"].active
    calls = [(c.method, c.path) for c in world.fake.calls if c.region == target and "/keys" in c.path]
    assert calls == [
        ("GET", f"/v4/domains/{domain}/keys"),
        ("POST", "/v1/dkim/keys"),
        ("PUT", f"/v4/domains/{domain}/keys/mailfleet-{target}/activate"),
        ("PUT", f"/v4/domains/{domain}/keys/mailfleet/deactivate"),
    ]
    # The target domain's first DKIM record is the published key: DKIM passes from the start.
    assert world.fake.domains[domain].dkim_records("valid")[0]["value"] == f"k=rsa; p={public}"
    # The private key: only encrypted, nowhere else.
    pem = dkim.unseal(dkim.key_path(world.tenants_dir, slug, domain), TEST_KEY_PASSPHRASE)
    assert _files_holding(world.root, _pem_needles(pem)) == []
    assert not any(n in caplog.text for n in _pem_needles(pem))
    assert not any(n in str(world.notices) for n in _pem_needles(pem))


@pytest.mark.tenants("acme", "bluebird")
def test_crash_after_generation_resume_reuses_the_same_key(world: World) -> None:
    slug, domain = "bluebird", "bluebird.mail.example.com"

    def crash(s: str, step: str, point: str) -> None:
        if (step, point) == ("prepare.dkim", "key-saved"):
            raise Crash(step)

    with pytest.raises(Crash):
        world.migrator(fault=crash).start([slug], "eu")
    path = dkim.key_path(world.tenants_dir, slug, domain)
    stored = path.read_bytes()
    assert dkim.stored_public_key(path)
    m = Journal(world.tenants_dir, slug).load().migration
    assert m is not None and m.dkim is None  # died before the journal named it

    [outcome] = world.migrator().resume([slug])
    assert outcome.ok, outcome
    assert path.read_bytes() == stored
    m = Journal(world.tenants_dir, slug).load().migration
    assert m is not None and m.dkim is not None
    assert m.dkim.keys[domain] == dkim.stored_public_key(path)
    with world.fake.lock:
        assert world.fake.domains[domain].keys["mailfleet-eu"].public_key == m.dkim.keys[domain]


def test_sigkill_after_generation_then_cli_resume(make_world: Callable[..., World]) -> None:
    world = make_world(file_backed=True)
    world.bootstrap()
    slug, domain = "bluebird", "bluebird.mail.example.com"
    env = {
        **world.fake.env(),
        "MAILFLEET_MOCK_STATE_DIR": str(world.root / ".state"),
        "MAILFLEET_MIGRATE_KEY_PASSPHRASE": TEST_KEY_PASSPHRASE,
        "PYTHONPATH": str(REPO),
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.migrate.kill_driver",
            str(world.root),
            slug,
            "start",
            "prepare.dkim",
            "key-saved",
        ],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -9, proc.stderr[-2000:]
    path = dkim.key_path(world.tenants_dir, slug, domain)
    stored = path.read_bytes()
    result = run_cli(
        "migrate",
        "resume",
        slug,
        "--yes",
        env={
            **env,
            "MAILFLEET_ROOT": str(world.root),
            "MAILFLEET_STACK_RUNNER": "tests.migrate.mock_runner:from_env",
            "MAILFLEET_MIGRATE_CHECK": "0",
            "MAILFLEET_MIGRATE_POLL_INTERVAL": "0.05",
            "MAILFLEET_MIGRATE_MAX_TTL_WAIT": "0",
        },
    )
    assert result.returncode == 0, result.stderr
    assert path.read_bytes() == stored
    m = Journal(world.tenants_dir, slug).load().migration
    assert m is not None and m.dkim is not None and m.dkim.keys[domain] == dkim.stored_public_key(path)
    with world.fake.lock:
        assert world.fake.domains[domain].keys["mailfleet-eu"].public_key == m.dkim.keys[domain]
    pem = dkim.unseal(path, TEST_KEY_PASSPHRASE)
    assert _files_holding(world.root, _pem_needles(pem)) == []
    assert not any(n in result.stdout + result.stderr + proc.stdout + proc.stderr for n in _pem_needles(pem))


@pytest.mark.tenants("acme", "bluebird")
def test_no_passphrase_stops_before_anything_is_generated(world: World) -> None:
    from mailfleet.migrate.engine import Options

    [outcome] = world.migrator(options=Options(poll_interval=0.2, key_passphrase=None)).start(
        ["bluebird"], "eu"
    )
    assert not outcome.ok and outcome.step == "prepare.dkim"
    assert outcome.message == (
        "no passphrase to encrypt the new DKIM key with: set MAILFLEET_MIGRATE_KEY_PASSPHRASE or "
        "PULUMI_CONFIG_PASSPHRASE"
    )
    assert not dkim.key_path(world.tenants_dir, "bluebird", "bluebird.mail.example.com").exists()
    assert world.domain_region("bluebird.mail.example.com") == "us"


@pytest.mark.tenants("acme", "bluebird")
def test_abort_after_publishing_drops_the_new_selector_and_the_key(world: World) -> None:
    slug, domain = "bluebird", "bluebird.mail.example.com"

    def crash(s: str, step: str, point: str) -> None:
        if (step, point) == ("prepare.wait-ttl", "started"):
            raise Crash(step)

    with pytest.raises(Crash):
        world.migrator(fault=crash).start([slug], "eu")
    assert list(_held_dkim(world, "eu", domain)) == [f"mailfleet-eu._domainkey.{domain}"]
    assert dkim.key_path(world.tenants_dir, slug, domain).exists()
    world.migrator().abort(slug)
    assert _held_dkim(world, "eu", domain) == {}
    assert list(_held_dkim(world, "us", domain)) == [f"mailfleet._domainkey.{domain}"]
    assert not dkim.key_path(world.tenants_dir, slug, domain).exists()
    assert Journal(world.tenants_dir, slug).load().migration is None


@pytest.mark.knot
@pytest.mark.tenants("harbor", "fjordbank")
def test_manual_customer_waits_until_check_resolves_the_new_selector(world: World, tmp_path: Path) -> None:
    """The real `check` (mailfleet.check through the resolver) against Knot serving the
    customer's zone: prepare.dkim stops until the new selector resolves, then goes on."""
    from mailfleet.migrate.checker import DnsChecker
    from mailfleet.migrate.engine import Options
    from tests.check.knot import KnotServer, txt_rr

    name = "mailfleet-eu._domainkey.harborlogistics.com"
    options = Options(dkim_timeout=1, poll_interval=0.2, key_passphrase=TEST_KEY_PASSPHRASE, max_ttl_wait=0)
    platform = "mailfleet-eu._domainkey.harbor.mail.example.com"  # our zone: the stack publishes it
    knot = KnotServer(tmp_path / "knot", {"harborlogistics.com": [], "mail.example.com": []}).start()
    try:
        checker = DnsChecker(knot.nameserver, timeout=1.0, retries=1)
        [first] = world.migrator(checker=checker, options=options).start(["harbor"], "eu")
        assert not first.ok and first.step == "prepare.dkim"
        assert f"{name} TXT" in first.message and "the new DKIM records are not live" in first.message
        m = Journal(world.tenants_dir, "harbor").load().migration
        assert m is not None and m.dkim is not None
        value = f"v=DKIM1; k=rsa; p={m.dkim.keys['harborlogistics.com']}"
        ours = f"v=DKIM1; k=rsa; p={m.dkim.keys['harbor.mail.example.com']}"
    finally:
        knot.stop()
    # The customer publishes it (same server address, the zone now holds the record).
    knot = KnotServer(
        tmp_path / "knot2",
        {"harborlogistics.com": [txt_rr(name, value)], "mail.example.com": [txt_rr(platform, ours)]},
        port=knot.port,
    ).start()
    try:

        def stop(s: str, step: str, point: str) -> None:
            if (step, point) == ("prepare.wait-ttl", "started"):
                raise Crash(step)

        checker = DnsChecker(knot.nameserver, timeout=1.0, retries=1)
        harbor = Journal(world.tenants_dir, "harbor").load()
        assert checker(harbor, world.migrator().stack_for("eu")) == []
        with pytest.raises(Crash):
            world.migrator(checker=checker, options=options, fault=stop).resume(["harbor"])
    finally:
        knot.stop()
    m = Journal(world.tenants_dir, "harbor").load().migration
    assert m is not None and m.is_done("prepare.dkim") and not m.point_of_no_return_passed
