"""`mailfleet import --from-mailgun` end to end: a seeded fleet of 55+ domains in the fake Mailgun.

Import -> the files validate -> every tenant matches what was seeded -> what does not fit is
listed -> `diff` shows imports only for Mailgun items -> the Pulumi program under mocks imports
every item with the provider's import id -> a second import changes nothing -> a route added
in Mailgun shows on the next import. No form of the API key in any output.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from components.mocked import RecordingMonitor
from mailfleet.project import Project
from tests.components.conftest import TYPES, run_state
from tests.conftest import REPO, tree_bytes
from tests.fleet_import.conftest import World, secret_forms, stack_settings

MAILGUN_KINDS = {"mailgun domain", "route", "webhook", "credential"}
TENANT_KINDS = {"delivered", "permanent_fail", "temporary_fail", "complained", "unsubscribed"}


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def test_the_fleet_is_large_enough(imported: tuple[World, dict[str, Any]]) -> None:
    w, doc = imported
    assert w.fleet.domain_count >= 50
    assert doc["format"] == "mailfleet-import/1"
    assert doc["read"]["domains"] == w.fleet.domain_count + 1  # + acme's platform domain
    assert doc["dry_run"] is False


def test_import_writes_files_that_validate(imported: tuple[World, dict[str, Any]]) -> None:
    w, doc = imported
    proc = w.run("validate")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    written = {t["slug"] for t in doc["tenants"] if t["action"] == "written"}
    assert written == set(w.fleet.tenants)
    assert {t["slug"]: t["action"] for t in doc["tenants"]}["acme"] == "updated"
    assert doc["summary"]["written"] == len(w.fleet.tenants)


def test_every_tenant_matches_what_was_seeded(imported: tuple[World, dict[str, Any]]) -> None:
    w, _ = imported
    settings = stack_settings("eu")
    two_senders = w.fleet.second_senders[0]
    for slug, seeded in w.fleet.tenants.items():
        data = load(w.tenants / f"{slug}.yaml")
        assert data["slug"] == slug and data["region"] == "eu"
        assert data["dkim"] == {"selector": seeded.selector, "bits": seeded.bits}, slug
        assert sorted(data["mailboxes"]) == sorted(seeded.mailboxes), slug
        assert data.get("tracking", False) is seeded.tracking, slug
        if seeded.sender is None:
            assert "sender_domain" not in data, slug
        else:
            assert data["sender_domain"] == {"name": seeded.sender, "dns": "manual"}, slug
        mg = data["adopted"]["mailgun"]
        assert mg["region"] == "eu"
        assert sorted(mg["domains"]) == sorted(seeded.domains), slug
        assert mg["routes"] == seeded.routes, slug
        assert ("crm" in mg.get("credentials", [])) is seeded.crm, slug
        assert seeded.platform == f"{slug}.{settings['platformDomain']}"
    assert "sender_domain" not in load(w.tenants / f"{two_senders}.yaml")


def test_an_existing_tenant_file_only_gains_its_adopted_block(imported: tuple[World, dict[str, Any]]) -> None:
    w, _ = imported
    before = (REPO / "tenants" / "acme.yaml").read_text()
    after = (w.tenants / "acme.yaml").read_text()
    assert after.startswith(before), "the lines before the block changed"
    added = after[len(before) :]
    assert added.startswith("adopted:\n  mailgun:\n")
    data = load(w.tenants / "acme.yaml")
    original = yaml.safe_load(before)
    assert {k: v for k, v in data.items() if k != "adopted"} == original
    assert data["adopted"]["mailgun"]["routes"] == w.acme.routes
    assert data["adopted"]["mailgun"]["domains"] == [w.acme.platform]
    # Tenant files the fleet does not name are untouched.
    for name in ("alpine.yaml", "berlinbikes.yaml", "fjordbank.yaml", "nordlys.yaml"):
        assert (w.tenants / name).read_bytes() == (REPO / "tenants" / name).read_bytes()


def test_what_does_not_fit_is_listed_with_the_reason(imported: tuple[World, dict[str, Any]]) -> None:
    w, doc = imported
    unmatched = {(u["kind"], u["id"] or u["name"]): u for u in doc["unmatched"]}
    for name in w.fleet.foreign:
        assert "no tenant" in unmatched[("domain", name)]["reason"]
    assert "catch-all" in unmatched[("route", w.fleet.catch_all)]["reason"]
    assert unmatched[("route", w.fleet.catch_all)]["tenant"] == "shop001"
    assert "forwards elsewhere" in unmatched[("route", w.fleet.elsewhere)]["reason"]
    slug, senders = w.fleet.second_senders
    for name in senders:
        u = unmatched[("domain", name)]
        assert u["tenant"] == slug and "2 sender domains" in u["reason"]
    assert len(doc["unmatched"]) == len(w.fleet.foreign) + 2 + len(senders)
    differences = {(d["tenant"], d["name"], d["field"]): d for d in doc["differences"]}
    tenant, address = w.fleet.odd_priority
    assert differences[(tenant, address, "priority")]["found"] == "0"
    assert differences[(tenant, address, "priority")]["effect"] == "update"
    tenant, domain = w.fleet.odd_spam
    assert differences[(tenant, domain, "spam_action")]["effect"] == "replace"


def test_diff_shows_mailgun_items_as_imports_only(imported: tuple[World, dict[str, Any]]) -> None:
    w, _ = imported
    proc = w.run("diff", "--base", w.base, "--stack", "eu", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    [stack] = json.loads(proc.stdout)["stacks"]
    mailgun_rows = [r for r in stack["rows"] if r["kind"] in MAILGUN_KINDS]
    assert mailgun_rows and {r["op"] for r in mailgun_rows} == {"import"}
    assert not [r for r in stack["rows"] if r["op"] in ("delete", "replace")]
    seeded = [*w.fleet.tenants.values(), w.acme]
    domains = {d for t in seeded for d in t.domains}
    routes = {a for t in seeded for a in t.routes}
    kinds = {r["kind"] for r in mailgun_rows}
    assert kinds == {"mailgun domain", "route", "webhook"}
    assert {r["name"] for r in mailgun_rows if r["kind"] == "mailgun domain"} == domains
    assert {r["name"] for r in mailgun_rows if r["kind"] == "route"} == routes
    ids = {r["name"]: r["import_id"] for r in mailgun_rows if r["kind"] == "route"}
    assert ids == {a: f"eu:{i}" for t in seeded for a, i in t.routes.items()}
    assert all(not r["destructive"] for r in mailgun_rows)
    assert stack["summary"]["import"] == len(mailgun_rows)
    table = w.run("diff", "--base", w.base, "--stack", "eu")
    assert f"Imports={len(mailgun_rows)}" in table.stdout


def test_the_program_under_mocks_imports_every_item(imported: tuple[World, dict[str, Any]]) -> None:
    w, _ = imported
    project = Project.load(w.tenants, w.root)
    state = project.states["eu"]
    monitor: RecordingMonitor = run_state(project.stacks["eu"], state)
    seeded = {**w.fleet.tenants, "acme": w.acme}
    parents = {r.urn: r.name for r in monitor.of_type(TYPES["tenant"])}

    def ours(type_: str) -> list[Any]:
        return [r for r in monitor.of_type(TYPES[type_]) if parents.get(r.parent) in seeded]

    domains = ours("domain")
    assert {d.plain("name") for d in domains} == {d for t in seeded.values() for d in t.domains}
    for d in domains:
        assert d.import_id == f"eu:{d.plain('name')}"
        assert d.retain_on_delete is True
        assert set(d.ignore_changes) == {"dkimSelector", "dkimKeySize", "forceDkimAuthority"}
    routes = ours("route")
    assert {r.import_id for r in routes} == {f"eu:{i}" for t in seeded.values() for i in t.routes.values()}
    assert all(r.retain_on_delete for r in routes)
    hooks = ours("webhook")
    expected_hooks = {
        f"eu:{d}:{k}"
        for t in seeded.values()
        for d in t.domains
        for k in TENANT_KINDS | ({"opened", "clicked"} if t.tracking else set())
    }
    assert {h.import_id for h in hooks} == expected_hooks
    creds = {parents[c.parent]: c for c in ours("credential")}
    for slug, t in seeded.items():
        if t.crm:
            assert creds[slug].import_id == f"eu:crm@{t.sending}"
            assert "password" in creds[slug].ignore_changes
        else:
            assert creds[slug].import_id == ""  # no login to adopt: the stack creates it
    # Nothing of Mailgun is created for the imported tenants except logins that did not exist.
    created = [r for t in ("domain", "route", "webhook") for r in ours(t) if not r.import_id]
    assert created == []


def test_a_second_import_changes_nothing(imported: tuple[World, dict[str, Any]]) -> None:
    w, first = imported
    before = tree_bytes(w.tenants)
    doc = w.import_json()
    assert {t["action"] for t in doc["tenants"]} == {"unchanged"}
    assert tree_bytes(w.tenants) == before
    assert [u["name"] for u in doc["unmatched"]] == [u["name"] for u in first["unmatched"]]


def test_dry_run_writes_nothing_and_says_what_it_would_do(world: World) -> None:
    before = tree_bytes(w_root := world.root)
    doc = world.import_json("--dry-run")
    assert doc["dry_run"] is True
    assert tree_bytes(w_root) == before
    assert {t["slug"] for t in doc["tenants"] if t["action"] == "written"} == set(world.fleet.tenants)


def test_a_route_added_in_mailgun_shows_on_the_next_import(world: World) -> None:
    world.import_json()
    world.commit("import")
    settings = stack_settings("eu")
    t = world.fleet.tenants["shop003"]
    # The old tooling recreated support@ (new id) and added a route for a new mailbox.
    old_address = next(iter(t.routes))
    old_id = t.routes[old_address]
    del world.fake.routes["eu"][old_id]
    new_id = world.fake.seed_route(
        "eu",
        'match_recipient("^' + old_address.replace(".", "\\.") + '$")',
        [f'forward("{settings["inboundUrl"]}/shop003")', "stop()"],
        priority=10,
        description=f"mailfleet shop003: {old_address}",
    )["id"]
    extra = world.fake.seed_route(
        "eu",
        'match_recipient("^orders@shop003\\.mail\\.example\\.eu$")',
        [f'forward("{settings["inboundUrl"]}/shop003")', "stop()"],
    )["id"]
    doc = world.import_json()
    actions = {x["slug"]: x["action"] for x in doc["tenants"]}
    assert actions["shop003"] == "updated"
    assert {a for s, a in actions.items() if s != "shop003"} == {"unchanged"}
    assert load(world.tenants / "shop003.yaml")["adopted"]["mailgun"]["routes"][old_address] == new_id
    listed = {u["id"]: u for u in doc["unmatched"]}
    assert "not in tenants/shop003.yaml" in listed[extra]["reason"]
    rows = world.run("diff", "--base", "HEAD", "--stack", "eu", "--format", "json")
    [stack] = json.loads(rows.stdout)["stacks"]
    assert [(r["op"], r["name"], r["import_id"]) for r in stack["rows"]] == [
        ("import", old_address, f"eu:{new_id}")
    ]


def test_no_form_of_the_key_in_any_output_even_when_mailgun_echoes_it(world: World) -> None:
    world.fake.echo_requests(True)
    outputs = []
    for fmt in ("table", "json"):
        proc = world.run("-vv", "import", "--from-mailgun", "--region", "eu", "--format", fmt)
        assert proc.returncode == 0, proc.stderr
        outputs += [proc.stdout, proc.stderr]
    world.fake.inject(400, count=1, path="^/v3/routes")  # its message echoes the key
    failed = world.run("import", "--from-mailgun", "--region", "eu")
    assert failed.returncode == 1 and "GET /v3/routes failed: HTTP 400" in failed.stderr
    outputs += [failed.stdout, failed.stderr]
    files = [p.read_text() for p in world.tenants.glob("*.yaml")]
    for form in secret_forms(world.fake.api_key):
        for text in [*outputs, *files]:
            assert form not in text
