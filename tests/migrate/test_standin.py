"""The engine stand-in (``MockStackRunner``) behaves as the Pulumi engine and a DIY backend do.

Re-read on every operation, the backend lock (live and stale), pending operations after a kill
between a Mailgun create and the checkpoint, what a real ``pulumi up`` then does, the recovery
commands (``cancel``, ``refresh``, clearing or importing pending creates), and ``refresh``
reading the fake. docs/migrate.md, "The engine stand-in".
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest

from mailfleet.migrate.runner import RunnerError, StackBlocked, UpResult
from tests.conftest import REPO
from tests.migrate.conftest import TEST_KEY_PASSPHRASE, World
from tests.migrate.mock_runner import KILL_ENV, LOCKED_SENTENCE, PENDING_WARNING, Killed, MockStackRunner

DOMAIN = "bluebird.mail.example.com"
LOCKED = LOCKED_SENTENCE.format(n=1)


def kill_after(op: str, part: str) -> Callable[[str, str, str], None]:
    def hook(stack: str, what: str, urn: str) -> None:
        if what == op and part in urn:
            raise Killed(f"{what} {urn}")

    return hook


def second_runner(world: World, **kw: Any) -> MockStackRunner:
    """Another runner (as another process would be) on the same state directory and fake."""
    return MockStackRunner(
        world.root, world.tenants_dir, mailgun=world.client, state_dir=world.root / ".state", **kw
    )


def stack_snapshot(world: World, stack: str = "us") -> dict[str, Any]:
    """What an ``up`` leaves: the stack's resources (inputs, protect) and the fake's things."""
    held = {}
    for urn, res in world.runner.held(stack).items():
        inputs = dict(res["inputs"])
        if "._domainkey." in str(inputs.get("name", "")):
            inputs.pop("records", None)  # the DKIM key is new in every world
        held[urn] = (inputs, res.get("protect"))
    fake = world.fake
    with fake.lock:
        fake._purge_deleted()
        return {
            "held": held,
            "domains": sorted((n, d.region) for n, d in fake.domains.items() if d.deleted_at is None),
            "routes": sorted(
                (region, r["expression"], tuple(r["actions"]), r["priority"], r["description"])
                for region, rs in fake.routes.items()
                for r in rs.values()
            ),
            "webhooks": {f"{r}:{d}": dict(sorted(h.items())) for (r, d), h in fake.webhooks.items() if h},
            "credentials": {f"{r}:{d}": sorted(c) for (r, d), c in fake.credentials.items() if c},
        }


def uninterrupted(make_world: Callable[..., World]) -> dict[str, Any]:
    ref = make_world(tenants=("bluebird",))
    ref.runner.up("us")
    return stack_snapshot(ref)


def created_twice(world: World) -> list[str]:
    counts = collections.Counter(o["identity"] for o in world.runner.all_ops() if o["op"] == "create")
    return [identity for identity, n in counts.items() if n > 1]


def pending_creates(runner: MockStackRunner, stack: str = "us") -> dict[str, dict[str, Any]]:
    return {
        p["resource"]["urn"]: p["resource"]
        for p in runner.pending_operations(stack)
        if p["type"] == "creating"
    }


# -- re-read on every operation -------------------------------------------------------------


def test_two_runners_on_one_state_dir_see_each_others_ups(make_world: Callable[..., World]) -> None:
    world = make_world(file_backed=True, tenants=("bluebird",))
    a, b = world.runner, second_runner(world)
    a.up("us")
    assert b.held("us") == a.held("us") != {}
    assert b.up("us").changes == {}  # b diffs against a's checkpoint: nothing to do

    # b applies a change (a mailbox gone: its route deleted); a must see it, not redo it.
    path = world.tenants_dir / "bluebird.yaml"
    path.write_text(path.read_text().replace("mailboxes: [frontdesk, billing]", "mailboxes: [frontdesk]"))
    [route] = [u for u in a.held("us") if u.endswith(f"-route-billing@{DOMAIN}")]
    route_id = a.held("us")[route]["outputs"]["routeId"]
    assert b.up("us").changes == {"delete": [route]}
    assert route not in a.held("us") and route not in {r.urn for r in a.resources("us")}
    assert a.up("us").changes == {}  # with a cached checkpoint it would delete the route again
    assert world.fake.count("DELETE", f"/v3/routes/{route_id}") == 1
    assert [o["op"] for o in a.all_ops() if o["urn"] == route] == ["create", "delete"]


# -- the lock ---------------------------------------------------------------------------------


def test_a_second_operation_is_refused_while_an_up_holds_the_lock(make_world: Callable[..., World]) -> None:
    world = make_world(file_backed=True, tenants=("bluebird",))
    inside, release = threading.Event(), threading.Event()

    def hold(stack: str, op: str, urn: str) -> None:
        if op == "create" and "-domain-" in urn:
            inside.set()
            assert release.wait(60)

    world.runner.kill_hook = hold
    results: list[UpResult] = []
    first = threading.Thread(target=lambda: results.append(world.runner.up("us")))
    first.start()
    try:
        assert inside.wait(60)
        other = second_runner(world)
        with pytest.raises(StackBlocked) as locked:
            other.pulumi_up("us")
        assert locked.value.reason == "locked"
        assert LOCKED in str(locked.value) and "`pulumi cancel -s us`" in str(locked.value)
        [holder] = locked.value.holders
        assert (holder.pid, holder.dead) == (os.getpid(), False)
        assert len(str(locked.value).splitlines()) == 1
        for refused in (
            lambda: other.refresh("us"),
            lambda: other.unprotect("us", []),
            lambda: other.state_move("us", "eu", ["urn:pulumi:us::mailfleet::x::y"]),
        ):
            with pytest.raises(StackBlocked, match=r"currently locked by 1 lock\(s\)"):
                refused()
        # The running up's step shows as a pending create: the runner refuses, and recovering
        # never cancels a live holder's lock.
        with pytest.raises(StackBlocked) as blocked:
            other.up("us", recover=True)
        assert blocked.value.reason == "locked" and not blocked.value.holder_dead
        assert len(other.locks("us")) == 1
    finally:
        release.set()
        first.join(120)
    assert results and results[0].count("create") > 0
    assert other.locks("us") == [] and other.pending_operations("us") == []
    assert other.up("us").changes == {}


def test_a_killed_processs_lock_and_pending_create_stay_until_cleared(
    make_world: Callable[..., World],
) -> None:
    """A real SIGKILL between the Mailgun domain create and its checkpoint."""
    expected = uninterrupted(make_world)
    world = make_world(file_backed=True, tenants=("bluebird",))
    env = {
        **os.environ,
        **world.fake.env(),
        "MAILFLEET_MIGRATE_KEY_PASSPHRASE": TEST_KEY_PASSPHRASE,
        "MAILFLEET_MOCK_STATE_DIR": str(world.root / ".state"),
        KILL_ENV: "create:-domain-",
        "PYTHONPATH": str(REPO),
    }
    code = (
        "import sys; from pathlib import Path; from tests.migrate.mock_runner import from_env; "
        "root = Path(sys.argv[1]); from_env(root, root / 'tenants').up('us')"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(world.root)], cwd=REPO, env=env)
    assert proc.wait(120) == -9
    runner = world.runner

    # What the dead process left: its lock, and the create Mailgun did but the state never got.
    [holder] = runner.locks("us")
    assert (holder.pid, holder.dead) == (proc.pid, True)
    domain_urn = next(u for u in pending_creates(runner) if "-domain-" in u)
    assert domain_urn not in runner.held("us")
    assert world.domain_region(DOMAIN) == "us"
    assert world.fake.count("POST", "/v4/domains") == 1

    # The backend refuses while the lock is there, however dead its holder...
    with pytest.raises(StackBlocked, match=r"currently locked by 1 lock\(s\)") as locked:
        runner.pulumi_up("us")
    assert locked.value.holder_dead
    with pytest.raises(StackBlocked, match="currently locked"):
        runner.refresh("us", clear_pending_creates=True)
    # ...and the runner refuses a stack with pending operations, naming the command.
    with pytest.raises(StackBlocked) as pending:
        runner.up("us")
    assert pending.value.reason == "pending"
    message = str(pending.value)
    assert len(message.splitlines()) == 1
    assert "stack 'us' has" in message and "interrupted while creating" in message
    assert "`pulumi refresh -s us --clear-pending-creates`" in message

    # pulumi cancel; pulumi refresh --import-pending-creates URN ID (what went through)
    # --clear-pending-creates (the rest); pulumi up.
    assert runner.cancel("us") == 1
    found = {urn: runner.find_created(res) for urn, res in pending_creates(runner).items()}
    assert found[domain_urn] == f"us:{DOMAIN}"
    runner.refresh(
        "us", clear_pending_creates=True, import_pending_creates={u: i for u, i in found.items() if i}
    )
    assert runner.pending_operations("us") == [] and runner.locks("us") == []
    assert runner.held("us")[domain_urn]["id"] == DOMAIN
    runner.up("us")
    assert stack_snapshot(world) == expected
    assert world.fake.count("POST", "/v4/domains") == 1  # the domain was never created twice
    assert created_twice(world) == []


def test_recover_after_an_injected_kill_reaches_the_uninterrupted_end_state(
    make_world: Callable[..., World],
) -> None:
    expected = uninterrupted(make_world)
    world = make_world(tenants=("bluebird",))  # checkpoints in memory: the same rules
    world.runner.kill_hook = kill_after("create", "-domain-")
    with pytest.raises(Killed):
        world.runner.up("us")
    world.runner.kill_hook = None
    assert [h.dead for h in world.runner.locks("us")] == [True]
    assert any("-domain-" in u for u in pending_creates(world.runner))

    with pytest.raises(StackBlocked, match="pending operation"):
        world.runner.up("us")
    result = world.runner.up("us", recover=True)
    assert result.count("create") > 0
    assert world.runner.locks("us") == [] and world.runner.pending_operations("us") == []
    assert stack_snapshot(world) == expected
    assert world.fake.count("POST", "/v4/domains") == 1
    assert created_twice(world) == []
    ops = [o["op"] for o in world.runner.all_ops() if "-domain-" in o["urn"]]
    assert ops == ["create", "import"]


def test_a_pending_update_and_delete_are_resolved_by_refresh(make_world: Callable[..., World]) -> None:
    world = make_world(file_backed=True, tenants=("bluebird",))
    world.runner.up("us")
    path = world.tenants_dir / "bluebird.yaml"
    # The billing route goes (a delete); kill after Mailgun deleted it, before the checkpoint.
    path.write_text(path.read_text().replace("mailboxes: [frontdesk, billing]", "mailboxes: [frontdesk]"))
    world.runner.kill_hook = kill_after("delete", "-route-billing")
    with pytest.raises(Killed):
        world.runner.up("us")
    world.runner.kill_hook = None
    [entry] = world.runner.pending_operations("us")
    assert entry["type"] == "deleting" and "-route-billing" in entry["resource"]["urn"]
    assert entry["resource"]["urn"] in world.runner.held("us")  # still in state: Pulumi cannot tell
    world.runner.cancel("us")
    world.runner.refresh("us")  # no pending creates: plain refresh clears the rest
    assert world.runner.pending_operations("us") == []
    assert entry["resource"]["urn"] not in world.runner.held("us")  # read: gone from Mailgun
    assert world.runner.up("us").changes == {}


# -- what a real `pulumi up` does, and why the runner refuses -----------------------------------


def test_a_real_pulumi_up_creates_a_pending_create_again(make_world: Callable[..., World]) -> None:
    """Pulumi (since pulumi/pulumi#9293) only warns about pending operations: the domain is
    POSTed a second time and Mailgun answers 400. Clearing the pending create (the create went
    through) does the same."""
    world = make_world(file_backed=True, tenants=("bluebird",))
    world.runner.kill_hook = kill_after("create", "-domain-")
    with pytest.raises(Killed):
        world.runner.up("us")
    world.runner.kill_hook = None
    world.runner.cancel("us")

    with pytest.raises(RunnerError, match="already exists"):
        world.runner.pulumi_up("us")
    warning = PENDING_WARNING.split("{n}")
    assert any(w.startswith(warning[0]) and warning[1] in w for w in world.runner.warnings)
    assert world.fake.count("POST", "/v4/domains") == 2
    assert any("-domain-" in u for u in pending_creates(world.runner))  # kept by the up
    assert world.runner.locks("us") == []  # a failed up releases its lock

    world.runner.refresh("us", clear_pending_creates=True)
    assert world.runner.pending_operations("us") == []
    with pytest.raises(RunnerError, match="already exists"):
        world.runner.up("us")
    assert world.fake.count("POST", "/v4/domains") == 3

    # A route has no unique name in Mailgun: clearing its pending create makes a silent duplicate.
    other = make_world(file_backed=True, tenants=("bluebird",))
    other.runner.kill_hook = kill_after("create", "-route-frontdesk")
    with pytest.raises(Killed):
        other.runner.up("us")
    other.runner.kill_hook = None
    other.runner.cancel("us")
    found = {u: other.runner.find_created(r) for u, r in pending_creates(other.runner).items()}
    route = next(u for u in found if "-route-frontdesk" in u)
    assert found[route] is not None  # it went through
    imports = {u: i for u, i in found.items() if i and u != route}
    other.runner.refresh("us", clear_pending_creates=True, import_pending_creates=imports)
    other.runner.up("us")
    frontdesk = [r for r in other.routes("us", "bluebird") if "frontdesk" in r["expression"]]
    assert len(frontdesk) == 2


def test_importing_a_pending_create_that_never_happened_fails(make_world: Callable[..., World]) -> None:
    world = make_world(file_backed=True, tenants=("bluebird",))
    world.runner.kill_hook = kill_after("create", "-domain-")
    with pytest.raises(Killed):
        world.runner.up("us")
    world.runner.cancel("us")
    urn = next(u for u in pending_creates(world.runner) if "-domain-" in u)
    with pytest.raises(RunnerError, match=r"resource 'us:nothere\.example\.com' does not exist"):
        world.runner.refresh("us", import_pending_creates={urn: "us:nothere.example.com"})
    assert urn in pending_creates(world.runner)  # a failed refresh changes nothing
    assert world.runner.locks("us") == []


# -- refresh reads the fake -------------------------------------------------------------------


def test_refresh_drops_what_mailgun_lost_and_reads_back_changes(make_world: Callable[..., World]) -> None:
    world = make_world(file_backed=True, tenants=("bluebird",))
    world.runner.up("us")
    held = world.runner.held("us")
    opened = next(u for u in held if u.endswith("-webhook-bluebird.mail.example.com-opened"))
    clicked = next(u for u in held if u.endswith("-webhook-bluebird.mail.example.com-clicked"))
    hand = 'match_recipient("^hand@bluebird\\.mail\\.example\\.com$")'
    with world.fake.lock:  # out of band: one webhook deleted, one changed, a route made by hand
        del world.fake.webhooks[("us", DOMAIN)]["opened"]
        world.fake.webhooks[("us", DOMAIN)]["clicked"] = ["https://elsewhere.example/hook"]
    world.fake.seed_route("us", hand, ["stop()"])

    result = world.runner.refresh("us")
    assert result.changes == {"refresh-gone": [opened], "refresh-update": [clicked]}
    after = world.runner.held("us")
    assert opened not in after
    assert after[clicked]["inputs"]["urls"] == ["https://elsewhere.example/hook"]
    assert not [r for r in after.values() if r["inputs"].get("expression") == hand]  # unknown to state

    world.fake.reset_log()
    changes = world.runner.up("us").changes
    assert changes == {"create": [opened], "update": [clicked]}
    assert world.fake.count("POST", f"/v3/domains/{DOMAIN}/webhooks") == 1
    assert world.fake.count("PUT", f"/v3/domains/{DOMAIN}/webhooks/clicked") == 1
    with world.fake.lock:
        assert world.fake.webhooks[("us", DOMAIN)]["clicked"] == [
            "https://crm.example.com/mailgun/events/bluebird"
        ]


def test_an_in_place_domain_change_is_sent_to_mailgun_as_a_domain_update(
    make_world: Callable[..., World],
) -> None:
    """A domain input that does not replace the domain (web scheme) reaches Mailgun as
    ``PUT /v4/domains/{name}``, which the fake validates as Mailgun documents."""
    world = make_world(tenants=("bluebird",))
    world.runner.up("us")
    urn = next(u for u in world.runner.held("us") if u.endswith(f"-domain-{DOMAIN}"))
    with world.fake.lock:  # out of band: someone switched tracking links to http
        world.fake.domains[DOMAIN].web_scheme = "http"
    assert world.runner.refresh("us").changes == {"refresh-update": [urn]}

    world.fake.reset_log()
    assert world.runner.up("us").changes == {"update": [urn]}
    assert world.fake.count("PUT", f"/v4/domains/{DOMAIN}", "us") == 1
    assert world.fake.count("POST", "/v4/domains") == 0  # updated, not replaced
    with world.fake.lock:
        assert world.fake.domains[DOMAIN].web_scheme == "https"
        assert world.fake.domain_updates == [("us", DOMAIN, {"web_scheme": "https"})]
