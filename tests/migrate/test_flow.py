"""A whole move of each kind of tenant, observed from the fake Mailgun and the stacks' state."""

from __future__ import annotations

import collections
import json

import pytest

from mailfleet.migrate.journal import export_path
from tests.migrate.conftest import TEST_DELETE_DELAY, Observer, World
from tests.migrate.mock_runner import DNS

US_MX = ["10 mxa.mailgun.org", "10 mxb.mailgun.org"]
EU_MX = ["10 mxa.eu.mailgun.org", "10 mxb.eu.mailgun.org"]


def created_twice(world: World) -> list[str]:
    counts = collections.Counter(o["identity"] for o in world.runner.all_ops() if o["op"] == "create")
    return [identity for identity, n in counts.items() if n > 1]


def dns_deleted(world: World) -> list[str]:
    return [o["identity"] for o in world.runner.all_ops() if o["op"] == "delete" and o["type"] in DNS]


def seed_us_data(world: World, domain: str, address: str) -> None:
    """What a US tenant accumulates outside Pulumi: suppressions and a hand-made route."""
    us = world.client("us")
    us.import_suppressions(domain, "bounces", [{"address": "gone@example.org", "code": "550", "error": "no"}])
    us.import_suppressions(domain, "unsubscribes", [{"address": "stop@example.org", "tags": ["*"]}])
    us.import_suppressions(domain, "complaints", [{"address": "angry@example.org"}])
    us.create_route(f'match_recipient("{address}")', ["store()"], 5, "added by hand")


def test_platform_tenant_moves_with_nothing_lost(world: World) -> None:
    slug, domain = "bluebird", "bluebird.mail.example.com"
    addresses = [f"frontdesk@{domain}", f"billing@{domain}"]
    seed_us_data(world, domain, addresses[0])
    world.fake.reset_log()
    us_dns_before = {u for u, r in world.runner.held("us").items() if r["type"] in DNS and slug in u}

    with Observer(world, domain, addresses) as seen:
        [outcome] = world.migrator().start([slug], "eu")
    assert outcome.ok, outcome

    # Mailgun: the domain lives in the EU only, with routes, webhooks, credential, suppressions.
    assert world.domain_region(domain) == "eu"
    assert world.routes("us", slug) == []
    assert sorted(r["expression"] for r in world.routes("eu", slug)) == sorted(
        f'match_recipient("^{a.replace(".", chr(92) + ".")}$")' for a in addresses
    )
    # Mail sent through the fake's route evaluation (Mailgun's documented matching): each mailbox
    # reaches the tenant's inbound URL in the EU, nothing in the US; a stranger reaches nothing.
    for address in addresses:
        ran = [r for r in world.fake.deliver("eu", address) if r["description"] != "added by hand"]
        assert [a for r in ran for a in r["actions"] if a.startswith("forward(")] == [
            f'forward("https://crm.example.eu/mailgun/inbound/{slug}")'
        ], address
        assert world.fake.deliver("us", address) == []
    assert world.fake.deliver("eu", f"stranger@{domain}") == []
    assert world.fake.deliver("eu", f"billing@{domain}.evil.test") == []
    with world.fake.lock:
        assert set(world.fake.webhooks[("eu", domain)]) == {
            "delivered",
            "permanent_fail",
            "temporary_fail",
            "complained",
            "unsubscribed",
            "opened",
            "clicked",
        }
        assert list(world.fake.credentials[("eu", domain)]) == [f"crm@{domain}"]
        for kind, address in (
            ("bounces", "gone@example.org"),
            ("unsubscribes", "stop@example.org"),
            ("complaints", "angry@example.org"),
        ):
            assert address in world.fake.suppressions[("eu", domain, kind)], kind
        # The hand-made route moved too: recreated in the EU, removed from the US.
        eu_exprs = [r["expression"] for r in world.fake.routes["eu"].values()]
        us_exprs = [r["expression"] for r in world.fake.routes["us"].values()]
    assert f'match_recipient("{addresses[0]}")' in eu_exprs
    assert f'match_recipient("{addresses[0]}")' not in us_exprs

    # DNS: the same records (URNs renamed to the EU stack) now hold EU values and full TTLs.
    eu = world.runner.held("eu")
    moved = {u.replace("urn:pulumi:us::", "urn:pulumi:eu::") for u in us_dns_before}
    assert moved <= set(eu)
    mx = next(
        r
        for r in eu.values()
        if r["type"] in DNS and r["inputs"]["name"] == domain and r["inputs"]["type"] == "MX"
    )
    assert sorted(mx["inputs"]["records"]) == EU_MX
    assert all(r["inputs"]["ttl"] == 3600 for r in eu.values() if r["type"] in DNS and slug in r["urn"])
    assert not [u for u in world.runner.held("us") if f"::{slug}" in u]

    # Never recreated, never deleted-then-created, never unrouted.
    assert created_twice(world) == []
    recreated = set(dns_deleted(world)) & {
        o["identity"] for o in world.runner.all_ops() if o["op"] == "create"
    }
    assert recreated == set()
    assert seen.samples > 50
    assert seen.route_gaps == dict.fromkeys(addresses, 0.0)
    # The only gap: no region holds the domain between the US delete and the EU create.
    assert TEST_DELETE_DELAY <= seen.domain_gap < TEST_DELETE_DELAY + 10
    print(
        f"\ndelete-to-create window for {domain}: {seen.domain_gap:.3f} s (fake delete delay {TEST_DELETE_DELAY} s)"
    )

    # The journal: done, region eu, export kept with its digest.
    text = (world.tenants_dir / f"{slug}.yaml").read_text()
    assert "\nregion: eu\n" in text and "state: done" in text
    assert text.startswith("# Way 1 in the US region.\nslug: bluebird\n")  # the rest of the file is untouched
    export = json.loads(export_path(world.tenants_dir, slug).read_text())
    assert {r["description"] for r in export["routes"]} >= {"added by hand"}
    assert export["suppressions"][domain]["bounces"][0]["address"] == "gone@example.org"

    # Mailgun calls outside Pulumi stay few: every one is accounted for in docs/migrate.md.
    assert world.fake.count("POST", "/v4/domains", "eu") == 1
    assert world.fake.count("DELETE", f"/v3/domains/{domain}", "us") == 1


@pytest.mark.tenants("harbor", "fjordbank")
def test_manual_dns_customer_is_told_what_to_change_and_verify_waits(world: World) -> None:
    slug = "harbor"
    migrator = world.migrator()
    # Mailgun cannot verify harborlogistics.com until the customer publishes the new DKIM key.
    world.fake.dns_checker = lambda name, body: name != "harborlogistics.com" and world.dns_valid(name, body)
    [outcome] = migrator.start([slug], "eu")
    assert not outcome.ok and outcome.step == "verify"
    assert "harborlogistics.com" in outcome.message
    manual = [n for n in world.notices if n.kind == "manual-dns"]
    assert "lower the TTL" in manual[0].message
    assert {r["name"] for r in manual[0].records} == {
        "mailfleet._domainkey.harborlogistics.com",
        "_dmarc.harborlogistics.com",
    }
    publish = manual[-1]
    dkim = next(r for r in publish.records if r["name"] == "mailfleet._domainkey.harborlogistics.com")
    with world.fake.lock:
        key = world.fake.domains["harborlogistics.com"].dkim_public_key
    assert dkim["values"] == [f"k=rsa; p={key}"]  # the EU key, taken from Mailgun
    # The customer publishes it; resume finishes the move.
    world.fake.dns_checker = world.dns_valid
    world.manual_published.add("harborlogistics.com")
    [again] = world.migrator().resume([slug])
    assert again.ok, again
    assert world.domain_region("harborlogistics.com") == "eu"
    assert created_twice(world) == []


@pytest.mark.tenants("redwood", "lakeside", "nordlys")
def test_cloudflare_and_tracking_tenants_in_one_batch(world: World) -> None:
    outcomes = world.migrator().start(["redwood", "lakeside"], "eu", batch=2)
    assert [(o.slug, o.ok) for o in outcomes] == [("redwood", True), ("lakeside", True)], outcomes
    eu = world.runner.held("eu")
    for slug in ("redwood", "lakeside"):
        values = [r["inputs"] for r in eu.values() if r["type"] in DNS and f"::{slug}-dns-" in r["urn"]]
        assert values, slug
        if slug == "lakeside":
            cname = next(v for v in values if v["type"] == "CNAME")
            assert cname["records"] == ["eu.mailgun.org"]
        else:
            assert any(v.get("zoneId") == "9a8b7c6d5e4f40312a1b2c3d4e5f6a7b" for v in values)
        deleted = [
            o
            for o in world.runner.all_ops()
            if o["op"] == "delete" and o["type"] in DNS and f"::{slug}-dns-" in o["urn"]
        ]
        # Only the US report authorisation goes (the DMARC report address moved to the EU zone).
        assert all("_report._dmarc.mail.example.com" in o["urn"] for o in deleted), deleted
    assert world.domain_region("redwood-outdoors.com") == "eu"
    assert created_twice(world) == []
    # Each tenant runs its own steps (targeted ups, merged when two want the same stack at
    # once): at most one up per step that runs the stacks (lower-ttl, release, create, release
    # routes, finalize) per tenant, at least one per such step, after the 2 of the bootstrap.
    assert 2 + 5 <= world.runner.ups <= 2 + 5 * 2
