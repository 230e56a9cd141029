"""`check` for tenants with dedicated IPs: a stranger Mailgun address no longer passes SPF.

A real Knot serves Mailgun's SPF tree (tests/check/knot.py INCLUDE_TREES) and the tenants'
SPF records; mailfleet's evaluation (mailfleet.check.spf_eval) is compared with pyspf's on
the same Knot, for the dedicated IPs, a stranger Mailgun address and an unrelated address.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailfleet.check.spf_eval import check_host, first_address
from mailfleet.dns.resolver import Nameserver, Resolver
from tests.adopt.conftest import spf_result
from tests.check.knot import INCLUDE_TREES, INCLUDE_ZONES, KnotServer, txt_rr
from tests.conftest import require_knot
from tests.fakes.mailgun_server import FakeMailgun

pytestmark = pytest.mark.knot

GOOD = "v=spf1 ip4:203.0.113.7 ip6:2001:db8::25 include:_spf.google.com include:sendgrid.net ~all"
STILL_SHARED = "v=spf1 ip4:203.0.113.7 ip6:2001:db8::25 include:mailgun.org include:_spf.google.com ~all"
RECORDS = {
    "nordlys-reiser.no": GOOD,
    "nordlys.mail.example.eu": "v=spf1 ip4:203.0.113.7 ip6:2001:db8::25 ~all",
    "fjordbank.no": STILL_SHARED,
    "fjordbank.mail.example.eu": "v=spf1 ip4:203.0.113.99 ~all",  # the dedicated IPs are not listed
    "redirect.test": "v=spf1 redirect=nordlys-reiser.no",
    "a-mx.test": "v=spf1 a mx -all",
}


@dataclass
class World:
    ns: str
    project_dir: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    require_knot()
    root = tmp_path_factory.mktemp("dedicated")
    zones: dict[str, list[str]] = {z: [] for z in INCLUDE_ZONES}
    for name, value in INCLUDE_TREES.items():
        zone = next(z for z in INCLUDE_ZONES if name == z or name.endswith("." + z))
        zones[zone].append(txt_rr(name, value))
    for name, value in RECORDS.items():
        if name.endswith(".test"):
            zone = "test"
        elif name.endswith(".example.eu"):
            zone = "mail.example.eu"
        else:
            zone = ".".join(name.split(".")[-2:])
        zones.setdefault(zone, []).append(txt_rr(name, value))
    zones["test"].append("a-mx.test. 300 A 192.0.2.44")
    zones["test"].append("a-mx.test. 300 MX 10 mx.a-mx.test.")
    zones["test"].append("mx.a-mx.test. 300 A 192.0.2.45")
    project_dir = root / "project"
    project_dir.mkdir()
    import shutil

    from tests.conftest import REPO

    for name in ("Pulumi.yaml", "Pulumi.eu.yaml", "Pulumi.us.yaml"):
        shutil.copy(REPO / name, project_dir / name)
    shutil.copytree(REPO / "tenants", project_dir / "tenants")
    for slug in ("nordlys", "fjordbank"):
        path = project_dir / "tenants" / f"{slug}.yaml"
        path.write_text(path.read_text() + "mailgun_ips:\n  ips: [203.0.113.7, 2001:db8::25]\n")
    with KnotServer(root / "knot", zones) as knot:
        yield World(knot.nameserver, project_dir)


def evaluate(world: World, ip: str, domain: str) -> str | None:
    async def main() -> str | None:
        async with Resolver(Nameserver.parse(world.ns), timeout=1, retries=1) as resolver:
            return await check_host(resolver, ip, domain)

    return asyncio.run(main())


STRANGER = "209.61.151.1"  # the first host of spf1.mailgun.org's first range


@pytest.mark.parametrize(
    ("ip", "domain"),
    [
        ("203.0.113.7", "nordlys-reiser.no"),
        ("2001:db8::25", "nordlys-reiser.no"),
        (STRANGER, "nordlys-reiser.no"),
        (STRANGER, "fjordbank.no"),
        ("35.190.247.1", "nordlys-reiser.no"),  # Google, included
        ("198.51.100.1", "nordlys-reiser.no"),
        ("203.0.113.7", "fjordbank.mail.example.eu"),
        (STRANGER, "redirect.test"),
        ("203.0.113.7", "redirect.test"),
        ("192.0.2.44", "a-mx.test"),
        ("192.0.2.45", "a-mx.test"),
        ("192.0.2.46", "a-mx.test"),
        ("192.0.2.46", "nospf.test"),
    ],
)
def test_evaluation_agrees_with_pyspf(world, ip, domain):
    assert evaluate(world, ip, domain) == spf_result(ip, domain, world.ns)


def test_stranger_is_found_in_mailguns_tree(world):
    async def main() -> str | None:
        async with Resolver(Nameserver.parse(world.ns), timeout=1, retries=1) as resolver:
            return await first_address(resolver, "mailgun.org", {"203.0.113.7"})

    assert asyncio.run(main()) == STRANGER
    assert spf_result(STRANGER, "mailgun.org", world.ns) == "pass"  # it is Mailgun's indeed


def spf_row(data: dict, slug: str, name: str) -> dict:
    tenant = next(t for t in data["tenants"] if t["slug"] == slug)
    return next(r for r in tenant["records"] if r["purpose"] == "spf" and r["name"] == name)


def test_check_reports_stranger_shared_include_and_ip_drift(cli, world):
    with FakeMailgun() as fake:
        for name in (
            "nordlys.mail.example.eu",
            "nordlys-reiser.no",
            "fjordbank.mail.example.eu",
            "fjordbank.no",
        ):
            fake.seed_domain(name, "eu", state="active")
        for ip in ("203.0.113.7", "2001:db8::25"):
            fake.seed_ip("eu", ip)
        fake.seed_shared_ips("eu", ["198.51.100.99"])
        fake.ips.assigned[("eu", "nordlys-reiser.no")] = ["203.0.113.7", "2001:db8::25"]
        fake.ips.assigned[("eu", "nordlys.mail.example.eu")] = ["203.0.113.7", "2001:db8::25"]
        # one dedicated IP short, nothing extra: bind-ips without --yes fixes it
        fake.ips.assigned[("eu", "fjordbank.mail.example.eu")] = ["203.0.113.7"]
        args = (
            "check",
            "nordlys",
            "fjordbank",
            "--nameserver",
            world.ns,
            "--timeout",
            "0.5",
            "--retries",
            "1",
        )
        proc = cli(*args, "--format", "json", cwd=world.project_dir, env=fake.env())
        table = cli(*args, cwd=world.project_dir, env={**fake.env(), "COLUMNS": "200"})
    data = json.loads(proc.stdout)
    good = spf_row(data, "nordlys", "nordlys-reiser.no")
    assert good["status"] == "ok", good
    assert good["details"]["stranger_ip"] == STRANGER and good["details"]["stranger_result"] == "softfail"
    assert not [f for f in good["findings"] if f["code"] == "spf-no-mailgun"]
    shared = spf_row(data, "fjordbank", "fjordbank.no")
    codes = {f["code"] for f in shared["findings"]}
    assert {"spf-mailgun-shared", "spf-stranger-passes"} <= codes
    assert shared["status"] == "wrong"
    missing_ip = spf_row(data, "fjordbank", "fjordbank.mail.example.eu")
    assert "spf-dedicated-ip-fails" in {f["code"] for f in missing_ip["findings"]}
    # the IP binding, from Mailgun: nordlys is bound, fjordbank still sends from the shared IPs
    ips = {m["name"]: m for t in data["tenants"] for m in t["mailgun"] if m["purpose"] == "mailgun-ips"}
    assert ips["nordlys-reiser.no"]["status"] == "ok"
    assert ips["fjordbank.no"]["status"] == "wrong" and ips["fjordbank.no"]["found"] == ["198.51.100.99"]
    assert "mailfleet bind-ips fjordbank" in ips["fjordbank.no"]["hint"]
    # "fix by": bind-ips, with --yes only where Mailgun binds an IP the files do not name
    assert ips["fjordbank.no"]["fix_by"] == "mailfleet bind-ips fjordbank --yes"
    assert ips["fjordbank.mail.example.eu"]["status"] == "wrong"
    assert ips["fjordbank.mail.example.eu"]["fix_by"] == "mailfleet bind-ips fjordbank"
    assert ips["nordlys-reiser.no"]["fix_by"] == ""
    assert proc.returncode == 1
    # the table's "What to fix" block names the command on the binding row
    assert "fjordbank.no IPS (mailgun-ips, wrong); fix by: mailfleet bind-ips fjordbank --yes" in table.stdout
    assert "fjordbank.mail.example.eu IPS (mailgun-ips, wrong); fix by: mailfleet bind-ips fjordbank\n" in (
        table.stdout
    )
    assert table.returncode == 1
