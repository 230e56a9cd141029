"""Completeness of a move (issue 11 item 7): nothing on the tenant's domains is lost silently.

- every route on the domain moves, catch-alls in every spelling included, and nothing that is
  only a look-alike (a subdomain, a longer name) is taken;
- every SMTP login is listed: the ones Mailgun cannot give back (passwords are never returned)
  go to the export, the journal and a notice for the operator to re-issue; ``crm`` is re-created.
"""

from __future__ import annotations

import json

import pytest

from mailfleet.migrate.export import RouteIndex, names_domain
from mailfleet.migrate.journal import Journal
from tests.migrate.conftest import World

SLUG, DOMAIN = "bluebird", "bluebird.mail.example.com"
ESCAPED = DOMAIN.replace(".", "\\.")

CATCH_ALLS = [
    f'match_recipient(".*@{DOMAIN}")',
    f"match_recipient('.*@{ESCAPED}')",
    f'match_recipient("^.*@{ESCAPED}$")',
    f'match_recipient("(.*)@{DOMAIN}")',
    f'match_header("to", ".*@{DOMAIN}")',
    f'match_recipient(".*@{DOMAIN.upper()}")',
]
LOOK_ALIKES = [
    f'match_recipient(".*@sub.{DOMAIN}")',  # a subdomain: another domain's mail
    f'match_recipient(".*@not{DOMAIN}")',  # a longer name
    f'match_recipient(".*@{DOMAIN}.evil.example")',  # the name as a prefix of another
    'match_recipient(".*@bluebird.mail.example.co")',  # a shorter one
    "catch_all()",  # account-wide, not the tenant's
]


@pytest.mark.parametrize("expression", CATCH_ALLS)
def test_a_catch_all_in_any_spelling_names_the_domain(expression: str) -> None:
    assert names_domain(expression, DOMAIN)


@pytest.mark.parametrize("expression", LOOK_ALIKES)
def test_a_look_alike_does_not(expression: str) -> None:
    assert not names_domain(expression, DOMAIN)


def test_route_index_takes_address_routes_and_domain_routes_only() -> None:
    routes = [{"id": str(i), "expression": e} for i, e in enumerate([*CATCH_ALLS, *LOOK_ALIKES])]
    routes.append({"id": "a", "expression": f'match_recipient("frontdesk@{DOMAIN}")'})
    picked = RouteIndex(routes).for_tenant([f"frontdesk@{DOMAIN}"], [DOMAIN])
    assert [r["expression"] for r in picked] == [*CATCH_ALLS, f'match_recipient("frontdesk@{DOMAIN}")']


def test_catch_alls_and_every_login_move_or_are_listed(world: World) -> None:
    us = world.client("us")
    actions = ['forward("https://crm.example.com/inbound/bluebird-catchall")']
    for priority, expression in enumerate(CATCH_ALLS):
        us.create_route(expression, actions, 10 + priority, "catch-all made by hand")
    for expression in LOOK_ALIKES:
        us.create_route(expression, ["stop()"], 99, "not bluebird's")
    world.fake.seed_credential("us", DOMAIN, "sales")
    world.fake.seed_credential("us", DOMAIN, "printer", password="printer-SECRET-pw")

    [outcome] = world.migrator().start([SLUG], "eu")
    assert outcome.ok, outcome

    with world.fake.lock:
        eu = {(r["expression"], tuple(r["actions"]), r["priority"]) for r in world.fake.routes["eu"].values()}
        us_exprs = [r["expression"] for r in world.fake.routes["us"].values()]
        eu_logins = sorted(world.fake.credentials[("eu", DOMAIN)])
    # Every catch-all moved, with its actions and priority; none is left in the US.
    assert {(e, tuple(actions), 10 + i) for i, e in enumerate(CATCH_ALLS)} <= eu
    assert [e for e in CATCH_ALLS if e in us_exprs] == []
    # Look-alikes are not the tenant's: untouched in the US, never copied to the EU.
    assert sorted(e for e in us_exprs if e in LOOK_ALIKES) == sorted(LOOK_ALIKES)
    assert [e for e, _, _ in eu if e in LOOK_ALIKES] == []

    # Logins: crm re-created by the stack; the others listed for the operator, everywhere.
    assert eu_logins == [f"crm@{DOMAIN}"]
    reissue = [f"printer@{DOMAIN}", f"sales@{DOMAIN}"]
    tenant = Journal(world.tenants_dir, SLUG).load()
    assert tenant.migration is not None and tenant.migration.export is not None
    assert tenant.migration.export.logins_to_reissue == reissue
    assert tenant.migration.export.routes == 2 + len(CATCH_ALLS)  # the managed two and the catch-alls
    data = json.loads((world.tenants_dir / tenant.migration.export.path).read_text())
    assert data["logins_to_reissue"] == reissue
    assert sorted(data["credentials"][DOMAIN]) == sorted([f"crm@{DOMAIN}", *reissue])
    [notice] = [n for n in world.notices if n.kind == "follow-up" and n.slug == SLUG]
    assert notice.message.startswith("re-issue 2 SMTP login(s) in region eu")
    assert notice.message.endswith(", ".join(reissue))
    # Passwords are never read, so never written.
    text = (world.tenants_dir / f"{SLUG}.yaml").read_text() + json.dumps(data)
    assert "printer-SECRET-pw" not in text


class Crash(Exception):
    """The process dying (not a MailfleetError: nothing catches it)."""


def test_suppressions_added_after_the_export_move_too(world: World) -> None:
    """A second export at the point of no return takes what was added since the first; a
    resumed step 4 (the domain already gone) does not export again, and nothing is lost."""
    us = world.client("us")
    us.import_suppressions(DOMAIN, "bounces", [{"address": "early@example.org", "code": "550", "error": "x"}])
    late = {
        "bounces": [{"address": "late-bounce@example.org", "code": "551", "error": "moved away"}],
        "unsubscribes": [{"address": "late-stop@example.org", "tags": ["*"]}],
        "complaints": [{"address": "late-angry@example.org"}],
    }

    def fault(slug: str, step: str, point: str) -> None:
        if (step, point) == ("cutover.release-source-domain", "started"):
            # Between the export (step 3) and the delete: the CRM keeps sending, people bounce.
            for kind, entries in late.items():
                us.import_suppressions(DOMAIN, kind, entries)
        if (step, point) == ("cutover.release-source-domain", "applied"):
            raise Crash("after the source domain's delete")

    with pytest.raises(Crash):
        world.migrator(fault=fault).start([SLUG], "eu")
    world.fake.reset_log()
    [outcome] = world.migrator().resume([SLUG])
    assert outcome.ok, outcome
    # The resumed step 4 found the journal's record: the source's lists were not read again.
    assert world.fake.count("GET", f"/v3/{DOMAIN}/bounces", "us") == 0

    with world.fake.lock:
        eu = {kind: set(world.fake.suppressions.get(("eu", DOMAIN, kind), {})) for kind in late}
    assert eu["bounces"] == {"early@example.org", "late-bounce@example.org"}
    assert eu["unsubscribes"] == {"late-stop@example.org"}
    assert eu["complaints"] == {"late-angry@example.org"}
    with world.fake.lock:
        assert world.fake.suppressions[("eu", DOMAIN, "bounces")]["late-bounce@example.org"]["code"] == "551"

    tenant = Journal(world.tenants_dir, SLUG).load()
    assert tenant.migration is not None and tenant.migration.export is not None
    record = tenant.migration.export.late
    assert record is not None and record.suppressions == 3
    assert tenant.migration.export.suppressions == 1  # the first export had only the early one
    data = json.loads((world.tenants_dir / record.path).read_text())
    assert data["format"] == "mailfleet-migration-late-export/1" and data["gone"] == []
    assert {k: [e["address"] for e in v] for k, v in data["suppressions"][DOMAIN].items()} == {
        k: [e["address"] for e in v] for k, v in late.items()
    }
    assert not [n for n in world.notices if "already gone" in n.message]


def test_templates_move_with_every_version(world: World) -> None:
    """Templates (Mailgun's Templates API) are exported with each version's content and
    re-created in the target, the source's active version active; a resumed import-data
    creates nothing twice."""
    welcome = [
        {"tag": "v1", "template": "Hello {{name}}", "comment": "first"},
        {"tag": "v2", "template": "Hi {{name}}!", "comment": "shorter", "active": True},
        {"tag": "v3", "template": "<p>Hey {{name}}</p>", "comment": "draft"},
    ]
    world.fake.seed_template("us", DOMAIN, "welcome", welcome, description="first mail")
    world.fake.seed_template("us", DOMAIN, "invoice", [{"tag": "initial", "template": "Due {{amount}}"}])

    def fault(slug: str, step: str, point: str) -> None:
        if (step, point) == ("cutover.import-data", "applied"):
            raise Crash("after import-data did its work")

    with pytest.raises(Crash):
        world.migrator(fault=fault).start([SLUG], "eu")
    [outcome] = world.migrator().resume([SLUG])
    assert outcome.ok, outcome

    with world.fake.lock:
        eu = world.fake.templates[("eu", DOMAIN)]
        got = {
            name: (
                t["description"],
                [(v["tag"], v["template"], v["comment"], v["active"]) for v in t["versions"].values()],
            )
            for name, t in eu.items()
        }
        version_posts = sum(
            1 for c in world.fake.calls if c.method == "POST" and c.path.endswith("/versions")
        )
        us_left = ("us", DOMAIN) in world.fake.templates
    assert got == {
        "welcome": (
            "first mail",
            [(v["tag"], v["template"], v["comment"], bool(v.get("active"))) for v in welcome],
        ),
        "invoice": ("", [("initial", "Due {{amount}}", "", True)]),
    }
    assert version_posts == 4  # one per version, the resumed step added none
    assert not us_left  # gone with the source domain
    tenant = Journal(world.tenants_dir, SLUG).load()
    assert tenant.migration is not None and tenant.migration.export is not None
    assert tenant.migration.export.templates == 4


def test_the_second_export_of_a_domain_already_gone_says_so(world: World) -> None:
    """A source domain that is gone before the second export (deleted by hand) has nothing more
    to give: it is named in ``gone``, and the engine warns the operator, instead of failing."""
    from mailfleet.migrate.export import late_suppressions

    us = world.client("us")
    first = {
        "tenant": SLUG,
        "region": "us",
        "suppressions": {DOMAIN: {"bounces": []}, "gone.example.com": {}},
    }
    us.import_suppressions(DOMAIN, "complaints", [{"address": "new@example.org"}])
    data = late_suppressions(us, first, "2026-11-29T00:00:00+00:00")
    assert data["gone"] == ["gone.example.com"]
    assert [e["address"] for e in data["suppressions"][DOMAIN]["complaints"]] == ["new@example.org"]
    assert data["suppressions"][DOMAIN]["bounces"] == []
