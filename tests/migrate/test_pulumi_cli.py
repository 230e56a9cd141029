"""``AutomationRunner`` against a FAKE ``pulumi`` executable: the exact commands it sends.

The fake (a Python script first on ``PATH``) records its argv, working directory and
``MAILFLEET_ROOT``, and answers from a script of canned replies as the CLI documents them: exit
255 with the DIY backends' lock sentence or Pulumi Cloud's 409 on stderr, ``stack export`` JSON
with ``pending_operations``. The real CLI cannot be installed here; these replies are taken from
its sources and docs (pulumi/pulumi pkg/backend/diy, pkg/cmd/pulumi/refresh.go, the "interrupted
updates" troubleshooting guide).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mailfleet.migrate.pulumi_runner import AutomationRunner
from mailfleet.migrate.runner import RunnerError, StackBlocked

FAKE_PULUMI = """#!{python}
import json, os, sys
here = os.path.dirname(os.path.abspath(__file__))
args = sys.argv[1:]
with open(os.path.join(here, "calls.jsonl"), "a") as fh:
    fh.write(json.dumps({{"argv": args, "cwd": os.getcwd(), "root": os.environ.get("MAILFLEET_ROOT")}}) + "\\n")
replies = json.load(open(os.path.join(here, "replies.json")))
used_path = os.path.join(here, "used.json")
used = json.load(open(used_path)) if os.path.exists(used_path) else {{}}
for i, reply in enumerate(replies):
    if args[: len(reply["match"])] == reply["match"] and used.get(str(i), 0) < reply.get("times", 10**9):
        used[str(i)] = used.get(str(i), 0) + 1
        json.dump(used, open(used_path, "w"))
        if "file_to" in reply:  # keep the file `stack import --file` was given
            src = args[args.index("--file") + 1]
            open(os.path.join(here, reply["file_to"]), "w").write(open(src).read())
            open(os.path.join(here, reply["file_to"] + ".mode"), "w").write(oct(os.stat(src).st_mode & 0o777))
        sys.stdout.write(reply.get("stdout", ""))
        sys.stderr.write(reply.get("stderr", ""))
        sys.exit(reply.get("rc", 0))
sys.stderr.write("error: fake pulumi has no reply for: " + " ".join(args) + "\\n")
sys.exit(255)
"""

US = "us"
DOMAIN_URN = (
    "urn:pulumi:us::mailfleet::mailfleet:index:TenantMail$mailgun:index/domain:Domain::bluebird-domain-x"
)
ROUTE_URN = "urn:pulumi:us::mailfleet::mailfleet:index:TenantMail$mailgun:index/route:Route::bluebird-route-x"

EXPORT = ["stack", "export", "--stack", US]
UP = ["up", "--yes", "--skip-preview", "--non-interactive", "--stack", US]
REFRESH = ["refresh", "--yes", "--skip-preview", "--non-interactive", "--stack", US]
CANCEL = ["cancel", "--yes", "--non-interactive", "--stack", US]


def deployment(pending: list[dict[str, Any]] | None = None) -> str:
    """``pulumi stack export`` output (v3 deployment)."""
    return json.dumps(
        {
            "version": 3,
            "deployment": {
                "manifest": {"time": "2026-11-29T20:00:00Z", "magic": "x", "version": "v3.190.0"},
                "resources": [
                    {
                        "urn": "urn:pulumi:us::mailfleet::pulumi:pulumi:Stack::mailfleet-us",
                        "type": "pulumi:pulumi:Stack",
                    }
                ],
                **({"pending_operations": pending} if pending else {}),
            },
        }
    )


def pending_create(urn: str, type_: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"resource": {"urn": urn, "type": type_, "custom": True, "inputs": inputs}, "type": "creating"}


def locked(host: str, pid: int) -> str:
    """The DIY backends' refusal, as ``pulumi up`` prints it (exit 255)."""
    return (
        "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end "
        "or delete the lock file with `pulumi cancel`.\n"
        "  file:///home/ops/.pulumi/locks/organization/mailfleet/us/6f1c2b7e-58d4-4f0e-9a53-1f1b6d2c7a10.json: "
        f"created by ops@{host} (pid {pid}) at 2026-11-29T20:00:00Z\n"
    )


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


class FakePulumi:
    def __init__(self, bin_dir: Path) -> None:
        self.dir = bin_dir

    def replies(self, *replies: dict[str, Any]) -> None:
        (self.dir / "replies.json").write_text(json.dumps(list(replies)))
        (self.dir / "used.json").unlink(missing_ok=True)
        (self.dir / "calls.jsonl").unlink(missing_ok=True)

    def calls(self) -> list[dict[str, Any]]:
        path = self.dir / "calls.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def argvs(self) -> list[list[str]]:
        return [c["argv"] for c in self.calls()]


@pytest.fixture
def fake_pulumi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakePulumi:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "pulumi"
    script.write_text(FAKE_PULUMI.format(python=sys.executable))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return FakePulumi(bin_dir)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "project"
    path.mkdir()
    return path


def test_a_stack_locked_by_a_dead_update_is_cancelled_only_when_asked(
    fake_pulumi: FakePulumi, root: Path
) -> None:
    lock = locked(socket.gethostname(), dead_pid())
    replies = (
        {"match": EXPORT, "stdout": deployment()},
        {"match": ["up"], "rc": 255, "stderr": lock, "times": 1},
        {"match": ["refresh"], "rc": 255, "stderr": lock, "times": 1},
        {"match": CANCEL, "stdout": "The currently running update for 'us' has been canceled!\n"},
        {"match": ["refresh"], "stdout": "Resources:\n    12 unchanged\n"},
        {"match": ["up"], "stdout": "Resources:\n    12 unchanged\n"},
    )
    runner = AutomationRunner(root)

    fake_pulumi.replies(*replies)
    with pytest.raises(StackBlocked) as exc:
        runner.up(US)
    message = str(exc.value)
    assert exc.value.reason == "locked" and exc.value.holder_dead
    assert len(message.splitlines()) == 1
    assert message.startswith("stack 'us': the stack is currently locked by 1 lock(s).")
    assert "`pulumi cancel -s us`" in message and ", dead" in message
    assert fake_pulumi.argvs() == [EXPORT, UP]  # never a cancel unless asked

    fake_pulumi.replies(*replies)
    result = runner.up(US, recover=True)
    assert result.stack == US
    assert fake_pulumi.argvs() == [
        EXPORT,
        UP,  # locked
        [*REFRESH, "--clear-pending-creates"],  # locked: the holder is dead on this host
        CANCEL,
        [*REFRESH, "--clear-pending-creates"],
        EXPORT,
        UP,
    ]
    assert {(c["cwd"], c["root"]) for c in fake_pulumi.calls()} == {(str(root), str(root))}


def test_pending_operations_are_refused_before_any_up_then_imported_or_cleared(
    fake_pulumi: FakePulumi, root: Path
) -> None:
    """A modern ``pulumi up`` would only warn and create them again: the runner never runs it."""
    pending = [
        pending_create(DOMAIN_URN, "mailgun:index/domain:Domain", {"name": "x.example.com", "region": "us"}),
        pending_create(ROUTE_URN, "mailgun:index/route:Route", {"expression": "e", "region": "us"}),
    ]
    lock = locked(socket.gethostname(), dead_pid())
    replies = (
        {"match": EXPORT, "stdout": deployment(pending), "times": 2},
        {"match": ["refresh"], "rc": 255, "stderr": lock, "times": 1},
        {"match": CANCEL},
        {"match": ["refresh"]},
        {"match": EXPORT, "stdout": deployment()},
        {"match": UP},
    )
    fake_pulumi.replies(*replies)
    with pytest.raises(StackBlocked) as exc:
        AutomationRunner(root).up(US)
    message = str(exc.value)
    assert exc.value.reason == "pending" and len(message.splitlines()) == 1
    assert "stack 'us' has 2 pending operation(s)" in message
    assert "bluebird-domain-x interrupted while creating" in message
    assert "`pulumi refresh -s us --clear-pending-creates`" in message
    assert fake_pulumi.argvs() == [EXPORT]

    # Recovery: the domain went through (found in Mailgun): imported; the route did not: cleared.
    seen: list[str] = []

    def find_created(res: dict[str, Any]) -> str | None:
        seen.append(res["urn"])
        return "us:x.example.com" if res["type"] == "mailgun:index/domain:Domain" else None

    fake_pulumi.replies(*replies)
    AutomationRunner(root, find_created=find_created).up(US, recover=True)
    refresh = [
        *REFRESH,
        "--import-pending-creates",
        DOMAIN_URN,
        "--import-pending-creates",
        "us:x.example.com",
        "--clear-pending-creates",
    ]
    assert fake_pulumi.argvs() == [EXPORT, EXPORT, refresh, CANCEL, refresh, EXPORT, UP]
    assert seen == [DOMAIN_URN, ROUTE_URN]


@pytest.mark.parametrize("who", ["alive on this host", "another host", "pulumi cloud"])
def test_a_live_or_unknown_holder_is_never_cancelled(fake_pulumi: FakePulumi, root: Path, who: str) -> None:
    stderr, holder = {
        "alive on this host": (locked(socket.gethostname(), os.getpid()), f"pid {os.getpid()}"),
        "another host": (locked("ops-9.example.net", 4242), "ops@ops-9.example.net pid 4242"),
        "pulumi cloud": (
            "error: [409] Conflict: Another update is currently in progress.\n",
            "the backend does not say by whom",
        ),
    }[who]
    fake_pulumi.replies(
        {"match": EXPORT, "stdout": deployment()},
        {"match": ["up"], "rc": 255, "stderr": stderr},
        {"match": ["refresh"], "rc": 255, "stderr": stderr},
        {"match": ["cancel"]},
    )
    with pytest.raises(StackBlocked) as exc:
        AutomationRunner(root).up(US, recover=True)
    assert exc.value.reason == "locked" and not exc.value.holder_dead
    assert holder in str(exc.value) and "`pulumi cancel -s us`" in str(exc.value)
    assert [a[0] for a in fake_pulumi.argvs()] == ["stack", "up", "refresh"]


def test_other_failures_are_one_line_naming_the_stack(fake_pulumi: FakePulumi, root: Path) -> None:
    fake_pulumi.replies(
        {"match": EXPORT, "stdout": deployment()},
        {
            "match": ["up"],
            "rc": 255,
            "stdout": "Updating (us):\n",
            "stderr": "error: update failed\nerror: mailgun:index/domain:Domain: 401 Unauthorized\n",
        },
    )
    with pytest.raises(RunnerError) as exc:
        AutomationRunner(root).up(US)
    assert not isinstance(exc.value, StackBlocked)
    assert str(exc.value) == "pulumi up -s us failed: error: mailgun:index/domain:Domain: 401 Unauthorized"

    fake_pulumi.replies(
        {"match": ["stack", "export"], "rc": 255, "stderr": "error: no stack named 'us' found\n"}
    )
    with pytest.raises(RunnerError, match=r"^stack 'us' does not exist in the current Pulumi backend$"):
        AutomationRunner(root).resources(US)


def test_state_move_exports_both_and_imports_the_destination_first(
    fake_pulumi: FakePulumi, root: Path
) -> None:
    comp = "urn:pulumi:us::mailfleet::mailfleet:index:TenantMail::bluebird"
    rec = "urn:pulumi:us::mailfleet::mailfleet:index:TenantMail$aws:route53/record:Record::bluebird-dns-x-MX"
    src = {
        "version": 3,
        "deployment": {
            "resources": [
                {
                    "urn": "urn:pulumi:us::mailfleet::pulumi:pulumi:Stack::mailfleet-us",
                    "type": "pulumi:pulumi:Stack",
                },
                {"urn": comp, "type": "mailfleet:index:TenantMail"},
                {
                    "urn": rec,
                    "type": "aws:route53/record:Record",
                    "parent": comp,
                    "inputs": {
                        "records": {
                            "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
                            "ciphertext": "v1:abc",
                        }
                    },
                },
            ]
        },
    }
    dst = {
        "version": 3,
        "deployment": {
            "resources": [
                {
                    "urn": "urn:pulumi:eu::mailfleet::pulumi:pulumi:Stack::mailfleet-eu",
                    "type": "pulumi:pulumi:Stack",
                }
            ]
        },
    }
    fake_pulumi.replies(
        {"match": ["stack", "export", "--stack", "us"], "stdout": json.dumps(src)},
        {"match": ["stack", "export", "--stack", "eu"], "stdout": json.dumps(dst)},
        {"match": ["stack", "import", "--stack", "eu"], "file_to": "eu-import.json"},
        {"match": ["stack", "import", "--stack", "us"], "file_to": "us-import.json"},
    )
    moved = AutomationRunner(root).state_move("us", "eu", [rec])
    assert moved == [rec]
    argvs = fake_pulumi.argvs()
    assert [a[:4] for a in argvs] == [
        ["stack", "export", "--stack", "us"],
        ["stack", "export", "--stack", "eu"],
        ["stack", "import", "--stack", "eu"],
        ["stack", "import", "--stack", "us"],
    ]
    assert not any("--show-secrets" in a for a in argvs)
    assert not Path(argvs[2][argvs[2].index("--file") + 1]).exists()  # the temporary file is gone
    eu = json.loads((fake_pulumi.dir / "eu-import.json").read_text())
    moved_rec = next(r for r in eu["deployment"]["resources"] if r["type"] == "aws:route53/record:Record")
    assert moved_rec["urn"] == rec.replace("urn:pulumi:us::", "urn:pulumi:eu::")
    assert moved_rec["inputs"]["records"]["ciphertext"] == "v1:abc"  # still encrypted
    us = json.loads((fake_pulumi.dir / "us-import.json").read_text())
    assert rec not in {r["urn"] for r in us["deployment"]["resources"]}


def test_recovery_imports_what_mailgun_shows_went_through_with_the_exact_flags(
    fake_pulumi: FakePulumi, root: Path
) -> None:
    """Production's ``find_created`` (``MailgunLookup``, wired by ``Manager.migrator``) against
    the fake Mailgun: each pending create found there is passed as ``--import-pending-creates
    URN --import-pending-creates ID``; what Mailgun lacks is left to ``--clear-pending-creates``."""
    from mailfleet.mailgun.client import MailgunClient
    from mailfleet.migrate.recovery import MailgunLookup
    from tests.fakes.mailgun_server import FakeMailgun

    def urn(type_: str, name: str) -> str:
        return f"urn:pulumi:us::mailfleet::mailfleet:index:TenantMail${type_}::{name}"

    d = "x.example.com"
    secret = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "v1:zz"}
    types = {
        "domain": "mailgun:index/domain:Domain",
        "route": "mailgun:index/route:Route",
        "webhook": "mailgun:index/webhook:Webhook",
        "credential": "mailgun:index/domainCredential:DomainCredential",
    }
    with FakeMailgun() as fake:
        fake.seed_domain(d, "us")
        route = fake.seed_route("us", f'match_recipient("a@{d}")', [f'forward("https://crm/in/{d}")'])
        fake.seed_route("eu", 'match_recipient("b@x.example.com")', ["stop()"])  # the other region
        fake.seed_webhooks("us", d, {"delivered": ["https://crm/hooks/d"]})
        fake.seed_credential("us", d, "crm")
        pending = [
            pending_create(urn(types["domain"], "t-domain"), types["domain"], {"name": d, "region": "us"}),
            pending_create(
                urn(types["route"], "t-route-a"),
                types["route"],
                {"expression": route["expression"], "actions": route["actions"], "region": "us"},
            ),
            # Same expression, other actions: not the route that exists.
            pending_create(
                urn(types["route"], "t-route-b"),
                types["route"],
                {"expression": 'match_recipient("b@x.example.com")', "actions": ["stop()"], "region": "us"},
            ),
            pending_create(
                urn(types["webhook"], "t-webhook-delivered"),
                types["webhook"],
                {"domain": d, "kind": "delivered", "urls": ["https://crm/hooks/d"], "region": "us"},
            ),
            pending_create(
                urn(types["webhook"], "t-webhook-opened"),
                types["webhook"],
                {"domain": d, "kind": "opened", "urls": ["https://crm/hooks/o"], "region": "us"},
            ),
            pending_create(
                urn(types["credential"], "t-credential"),
                types["credential"],
                {"domain": d, "login": "crm", "password": secret, "region": "us"},
            ),
            pending_create(
                urn(types["domain"], "t-domain-gone"),
                types["domain"],
                {"name": "y.example.com", "region": "us"},
            ),
            # A secret where the lookup needs a plain value: cannot be looked up, cleared.
            pending_create(urn(types["domain"], "t-domain-secret"), types["domain"], {"name": secret}),
        ]
        fake_pulumi.replies(
            {"match": EXPORT, "stdout": deployment(pending), "times": 2},
            {"match": ["refresh"]},
            {"match": EXPORT, "stdout": deployment()},
            {"match": UP},
        )

        def client(region: str) -> MailgunClient:
            return MailgunClient(region, fake.api_key, fake.base_url(region), requests_per_minute=100_000)

        AutomationRunner(root, find_created=MailgunLookup(client)).up(US, recover=True)
        lookups = sorted({(c.region, c.method, c.path) for c in fake.calls})
    refresh = [
        *REFRESH,
        *("--import-pending-creates", urn(types["domain"], "t-domain")),
        *("--import-pending-creates", f"us:{d}"),
        *("--import-pending-creates", urn(types["route"], "t-route-a")),
        *("--import-pending-creates", f"us:{route['id']}"),
        *("--import-pending-creates", urn(types["webhook"], "t-webhook-delivered")),
        *("--import-pending-creates", f"us:{d}:delivered"),
        *("--import-pending-creates", urn(types["credential"], "t-credential")),
        *("--import-pending-creates", f"us:crm@{d}"),
        "--clear-pending-creates",
    ]
    assert fake_pulumi.argvs() == [EXPORT, EXPORT, refresh, EXPORT, UP]
    # Only reads, only in the region each resource names.
    assert {m for _, m, _ in lookups} == {"GET"} and {r for r, _, _ in lookups} == {"us"}


def test_a_targeted_up_names_each_tenant_component_and_its_dependents(
    fake_pulumi: FakePulumi, root: Path
) -> None:
    (root / "Pulumi.yaml").write_text("name: mailfleet-prod\nruntime: python\n")
    fake_pulumi.replies(
        {"match": EXPORT, "stdout": deployment()},
        {"match": ["up"], "stdout": "Resources:\n    9 unchanged\n"},
    )
    runner = AutomationRunner(root)
    runner.up(US, tenants=["harbor", "bluebird", "harbor"])
    component = "urn:pulumi:us::mailfleet-prod::mailfleet:index:TenantMail::"
    assert fake_pulumi.argvs() == [
        EXPORT,
        [
            *UP,
            "--target",
            f"{component}bluebird",
            "--target",
            f"{component}harbor",
            "--target-dependents",
        ],
    ]
    # A targeted up of no tenant runs nothing (an empty --target list would be the whole stack).
    fake_pulumi.replies({"match": ["up"], "stdout": ""})
    runner.up(US, tenants=[])
    assert fake_pulumi.argvs() == []
    # Untargeted: the plain command, unchanged.
    fake_pulumi.replies({"match": EXPORT, "stdout": deployment()}, {"match": ["up"], "stdout": ""})
    runner.up(US)
    assert fake_pulumi.argvs() == [EXPORT, UP]


def test_a_targeted_up_without_a_readable_project_name_fails_in_one_line(
    fake_pulumi: FakePulumi, root: Path
) -> None:
    fake_pulumi.replies({"match": EXPORT, "stdout": deployment()}, {"match": ["up"], "stdout": ""})
    with pytest.raises(RunnerError) as exc:
        AutomationRunner(root).up(US, tenants=["bluebird"])
    assert "Pulumi.yaml" in str(exc.value) and len(str(exc.value).splitlines()) == 1
    assert fake_pulumi.argvs() == []


def test_a_failed_state_import_leaves_no_state_file_and_the_source_untouched(
    fake_pulumi: FakePulumi, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(temp))
    rec = "urn:pulumi:us::mailfleet::mailfleet:index:TenantMail$aws:route53/record:Record::bluebird-dns-x-MX"
    src = {
        "version": 3,
        "deployment": {
            "resources": [
                {
                    "urn": "urn:pulumi:us::mailfleet::pulumi:pulumi:Stack::mailfleet-us",
                    "type": "pulumi:pulumi:Stack",
                },
                {
                    "urn": rec,
                    "type": "aws:route53/record:Record",
                    "inputs": {
                        "records": {"4dabf18193072939515e22adb298388d": "1b47", "ciphertext": "v1:abc"}
                    },
                },
            ]
        },
    }
    dst = {"version": 3, "deployment": {"resources": []}}
    fake_pulumi.replies(
        {"match": ["stack", "export", "--stack", "us"], "stdout": json.dumps(src)},
        {"match": ["stack", "export", "--stack", "eu"], "stdout": json.dumps(dst)},
        {
            "match": ["stack", "import", "--stack", "eu"],
            "file_to": "eu-import.json",
            "rc": 255,
            "stderr": "error: could not import deployment: the stack is currently locked by 1 lock(s)\n",
        },
    )
    with pytest.raises(RunnerError) as exc:
        AutomationRunner(root).state_move("us", "eu", [rec])
    assert len(str(exc.value).splitlines()) == 1 and "eu" in str(exc.value)
    argvs = fake_pulumi.argvs()
    assert [a[:4] for a in argvs] == [
        ["stack", "export", "--stack", "us"],
        ["stack", "export", "--stack", "eu"],
        ["stack", "import", "--stack", "eu"],  # the destination failed: the source is never written
    ]
    assert not any("--show-secrets" in a for a in argvs)
    assert list(temp.iterdir()) == []  # the temporary state file is gone on failure too
    assert (fake_pulumi.dir / "eu-import.json.mode").read_text() == "0o600"  # private while it lived
    written = (fake_pulumi.dir / "eu-import.json").read_text()
    assert "v1:abc" in written and "4dabf18193072939515e22adb298388d" in written  # secrets stayed encrypted
