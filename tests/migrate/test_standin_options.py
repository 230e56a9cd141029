"""The engine stand-in and the ``import``, ``ignoreChanges`` and ``retainOnDelete`` options.

A tenant adopts what already exists in Mailgun (``adopted.mailgun``: the program declares its
domain, a route, its webhooks and SMTP login with ``import`` and ``retain_on_delete``, the
domain with ``ignore_changes`` on what pulumi-mailgun cannot read back). The stand-in must read
them from the fake and never create them (no POST), update what differs in place (Pulumi >=
3.190), refuse an import of something absent, and let them go without a DELETE.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mailfleet.migrate.runner import RunnerError
from mailfleet.project import Project
from tests.migrate.conftest import World

DOMAIN = "bluebird.mail.example.com"
FRONTDESK = f"frontdesk@{DOMAIN}"
OLD_URL = "https://old-crm.example.com/hooks"


def adopting_world(make_world: Callable[..., World], *, route_id: str | None = None) -> World:
    """bluebird, with its US domain, frontdesk route, webhooks (``delivered`` at another URL)
    and ``crm`` login already in the fake, and a tenant file that adopts them."""
    world = make_world(file_backed=True, tenants=("bluebird",))
    [tenant] = Project.load(world.tenants_dir, world.root, ["us"]).states["us"].tenants
    fake = world.fake
    [declared] = tenant.domains
    fake.seed_domain(DOMAIN, "us", dkim_selector=declared.dkim_selector)
    route = next(r for r in tenant.routes if r.address == FRONTDESK)
    seeded = fake.seed_route(
        "us", route.expression, list(route.actions), priority=route.priority, description=route.description
    )
    fake.seed_webhooks(
        "us", DOMAIN, {w.kind: [OLD_URL] if w.kind == "delivered" else list(w.urls) for w in tenant.webhooks}
    )
    fake.seed_credential("us", DOMAIN, "crm")
    path = world.tenants_dir / "bluebird.yaml"
    path.write_text(
        path.read_text()
        + "adopted:\n  mailgun:\n    taken_at: '2026-11-29T20:00:00Z'\n    region: us\n"
        + f"    domains: [{DOMAIN}]\n"
        + f"    routes: {{{FRONTDESK}: {route_id or seeded['id']}}}\n"
        + "    credentials: [crm]\n"
    )
    fake.reset_log()
    return world


def by_suffix(held: dict[str, dict], suffix: str) -> str:
    [urn] = [u for u in held if u.endswith(suffix)]
    return urn


def test_import_reads_what_exists_updates_what_differs_and_creates_nothing_adopted(
    make_world: Callable[..., World],
) -> None:
    world = adopting_world(make_world)
    fake = world.fake
    result = world.runner.up("us")
    held = world.runner.held("us")
    domain = by_suffix(held, f"-domain-{DOMAIN}")
    frontdesk = by_suffix(held, f"-route-{FRONTDESK}")
    billing = by_suffix(held, f"-route-billing@{DOMAIN}")
    delivered = by_suffix(held, f"-webhook-{DOMAIN}-delivered")
    credential = by_suffix(held, f"-credential-{DOMAIN}")
    hooks = [u for u in held if "-webhook-" in u]

    # Nothing adopted was created: no POST for the domain, the frontdesk route, a webhook or
    # the login. The billing route, not adopted, was.
    assert fake.count("POST", "/v4/domains") == 0
    assert fake.count("POST", "/v3/routes") == 1
    assert fake.count("POST", f"/v3/domains/{DOMAIN}/webhooks") == 0
    assert fake.count("POST", f"/v3/domains/{DOMAIN}/credentials") == 0
    assert sorted(result.changes["import"]) == sorted([domain, frontdesk, credential, *hooks])
    assert billing in result.changes["create"]
    assert not {domain, frontdesk, credential, *hooks} & set(result.changes["create"])
    assert held[domain]["importID"] == f"us:{DOMAIN}" and held[domain]["retainOnDelete"] is True
    assert held[frontdesk]["importID"].startswith("us:")

    # The webhook found at another URL was updated in place after its import (one PUT).
    assert delivered in result.changes["update"]
    assert fake.count("PUT", f"/v3/domains/{DOMAIN}/webhooks/delivered") == 1
    with fake.lock:
        assert fake.webhooks[("us", DOMAIN)]["delivered"] == [
            "https://crm.example.com/mailgun/events/bluebird"
        ]
    assert held[delivered]["inputs"]["urls"] == ["https://crm.example.com/mailgun/events/bluebird"]

    # ignoreChanges: Mailgun's Read has no DKIM selector or key size; the domain keeps the read
    # (absent) values instead of being replaced for them, now and on the next up.
    assert "dkimSelector" not in held[domain]["inputs"] and "dkimKeySize" not in held[domain]["inputs"]
    assert "password" not in held[credential]["inputs"]
    fake.reset_log()
    assert world.runner.up("us").changes == {}
    assert [c for c in fake.calls if c.method != "GET"] == []


def test_import_of_something_mailgun_does_not_have_fails_the_up(make_world: Callable[..., World]) -> None:
    world = adopting_world(make_world, route_id="0123456789abcdef01234567")
    with pytest.raises(RunnerError) as exc:
        world.runner.up("us")
    assert "resource 'us:0123456789abcdef01234567' does not exist" in str(exc.value)
    assert not [
        r for r in world.routes("us", "bluebird") if "frontdesk" in r["expression"] and r["id"] != ""
    ][1:]
    assert world.fake.count("POST", "/v4/domains") == 0
    assert world.runner.locks("us") == [] and world.runner.pending_operations("us") == []
    assert not [u for u in world.runner.held("us") if u.endswith(f"-route-{FRONTDESK}")]


def test_retained_resources_leave_the_state_without_a_delete(make_world: Callable[..., World]) -> None:
    world = adopting_world(make_world)
    world.runner.up("us")
    held = world.runner.held("us")
    domain = by_suffix(held, f"-domain-{DOMAIN}")
    billing_id = held[by_suffix(held, f"-route-billing@{DOMAIN}")]["outputs"]["routeId"]
    world.runner.unprotect("us", [domain])  # protect still guards a retained domain
    (world.tenants_dir / "bluebird.yaml").unlink()
    world.fake.reset_log()

    result = world.runner.up("us")
    assert world.runner.held("us") == {}
    retained = result.changes["delete-retained"]
    assert domain in retained and any("-webhook-" in u for u in retained)
    assert any(u.endswith(f"-route-{FRONTDESK}") for u in retained)
    assert any(u.endswith(f"-credential-{DOMAIN}") for u in retained)
    # Mailgun heard one DELETE: the route mailfleet created. The adopted things are still there.
    deletes = [(c.method, c.path) for c in world.fake.calls if c.method == "DELETE"]
    assert deletes == [("DELETE", f"/v3/routes/{billing_id}")]
    assert world.domain_region(DOMAIN) == "us"
    assert [r["expression"] for r in world.routes("us", "bluebird")] == [
        'match_recipient("^frontdesk@bluebird\\.mail\\.example\\.com$")'
    ]
    with world.fake.lock:
        assert len(world.fake.webhooks[("us", DOMAIN)]) == 7
        assert list(world.fake.credentials[("us", DOMAIN)]) == [f"crm@{DOMAIN}"]
