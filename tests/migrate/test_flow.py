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

    # DNS: the same records (URNs renamed to the EU stack) now hold EU values and full TTLs;
    # the old selector's DKIM record moved too and went at finalize (the new selector's stays).
    eu = world.runner.held("eu")
    moved = {u.replace("urn:pulumi:us::", "urn:pulumi:eu::") for u in us_dns_before}
    old_dkim = {u for u in moved if "mailfleet._domainkey." in u}
    assert len(old_dkim) == 1 and not old_dkim & set(eu)
    assert moved - old_dkim <= set(eu)
    assert [u for u in eu if "mailfleet-eu._domainkey." in u]
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
    ops = world.runner.all_ops()
    recreated = {
        o["identity"]
        for i, o in enumerate(ops)
        if o["op"] == "delete" and o["type"] in DNS
        for later in ops[i + 1 :]
        if later["op"] == "create" and later["identity"] == o["identity"]
    }
    assert recreated == set()
    assert all("mailfleet._domainkey." in identity for identity in dns_deleted(world))
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
    # Mailgun cannot verify harborlogistics.com until the customer publishes the EU records.
    world.fake.dns_checker = lambda name, body: name != "harborlogistics.com" and world.dns_valid(name, body)
    [outcome] = migrator.start([slug], "eu")
    # The new DKIM selector must be live before the point of no return: the move waits there.
    assert not outcome.ok and outcome.step == "prepare.dkim", outcome
    assert "mailfleet-eu._domainkey.harborlogistics.com TXT missing" in outcome.message
    assert world.domain_region("harborlogistics.com") == "us"  # nothing past the point of no return
    manual = [n for n in world.notices if n.kind == "manual-dns"]
    assert "lower the TTL" in manual[0].message
    assert {r["name"] for r in manual[0].records} == {
        "mailfleet._domainkey.harborlogistics.com",
        "_dmarc.harborlogistics.com",
    }
    add = manual[1]
    assert "ADD these DKIM records now, by 20" in add.message and "keep the mailfleet record" in add.message
    [new] = add.records
    assert new["name"] == "mailfleet-eu._domainkey.harborlogistics.com"
    assert new["values"][0].startswith("v=DKIM1; k=rsa; p=MII")
    # The customer adds it; resume goes on to the cutover and waits again at verify.
    world.published[new["name"]] = new["values"][0]
    [second] = world.migrator().resume([slug])
    assert not second.ok and second.step == "verify"
    assert "harborlogistics.com" in second.message
    publish = [n for n in world.notices if n.kind == "manual-dns"][-1]
    dkim = next(r for r in publish.records if "_domainkey" in r["name"])
    assert dkim == {**dkim, "name": new["name"], "values": new["values"]}  # the key published before
    with world.fake.lock:
        keys = {k.selector: k for k in world.fake.domains["harborlogistics.com"].key_list()}
    assert keys["mailfleet-eu"].active and keys["mailfleet-eu"].imported
    assert new["values"][0].endswith(keys["mailfleet-eu"].public_key)
    assert not keys["mailfleet"].active  # Mailgun's own key for the old selector never signs
    # The customer's records verify; resume finishes the move.
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
        # Only the US report authorisation goes (the DMARC report address moved to the EU zone),
        # and, at finalize, the old DKIM selector's records (the overlap ends).
        assert all(
            "_report._dmarc.mail.example.com" in o["urn"]
            or "mailfleet._domainkey." in o["urn"]
            or "rw1._domainkey." in o["urn"]
            for o in deleted
        ), deleted
    assert world.domain_region("redwood-outdoors.com") == "eu"
    assert created_twice(world) == []
    # Each tenant runs its own steps (targeted ups, merged when two want the same stack at
    # once): at most one up per step that runs the stacks (lower-ttl, dkim, release, create,
    # release routes, finalize) per tenant, at least one per such step, after the 2 of the bootstrap.
    assert 2 + 6 <= world.runner.ups <= 2 + 6 * 2
