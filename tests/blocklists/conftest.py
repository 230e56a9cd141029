"""A real Knot server serving local copies of the default blocklist zones, for the tests.

Listed and unlisted entries, and every return code each list documents, are published as A
records under the lists' real zone names (on loopback only); a forwarder in front of Knot
(bench/dns_delay_forwarder.py) never answers names under psbl.surriel.com, so PSBL times out;
ix.dnsbl.manitu.net is not served, so Knot answers REFUSED.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailfleet.blocklists.lists import BlockList, load_lists
from tests.check.conftest import _load_forwarder
from tests.check.knot import KnotServer
from tests.conftest import REPO, require_knot

TIMEOUT_ZONE = "psbl.surriel.com"
REFUSED_ZONE = "ix.dnsbl.manitu.net"

# target -> {list zone: [answers]} for the example tenants and stacks
WORLD: dict[str, dict[str, list[str]]] = {
    "192.0.2.10": {"zen.spamhaus.org": ["127.255.255.254"]},  # EU stack egress: public resolver error
    "198.51.100.20": {"dnsbl.dronebl.org": ["127.0.0.99"]},  # US stack egress: undocumented code
    "198.51.100.25": {"bl.spamcop.net": ["127.0.0.2"]},  # alpine's own SMTP server: listed
    "203.0.113.5": {"b.barracudacentral.org": ["127.0.0.2"], "zen.spamhaus.org": ["127.0.0.3", "127.0.0.4"]},
    "nordlys-reiser.no": {"dbl.spamhaus.org": ["127.0.1.2"]},
    "fjordbank.no": {"dbl.spamhaus.org": ["127.0.1.255"]},
    "harborlogistics.com": {"multi.surbl.org": ["127.0.0.72"]},
    "berlinbikes.de": {"multi.surbl.org": ["127.0.0.1"]},
    "redwood-outdoors.com": {"multi.surbl.org": ["127.0.0.32"]},
    "acme.mail.example.eu": {"multi.uribl.com": ["127.0.0.4"]},
}


@dataclass
class ListWorld:
    project_dir: Path
    knot: KnotServer
    forwarder_ns: str
    lists: list[BlockList]
    codes_target: dict[tuple[str, str], str]  # (list zone, answer) -> the target that returns it

    @property
    def ns(self) -> str:
        return self.forwarder_ns


def every_code_targets(lists: list[BlockList]) -> dict[tuple[str, str], str]:
    """One synthetic target per (list, documented answer): 10.0.<list>.<n> or code-<n>.<zone-ish>.test."""
    out = {}
    for li, blocklist in enumerate(lists):
        answers = list(blocklist.codes)
        answers += [f"127.0.0.{bit}" for bit in blocklist.bitmask]
        for ci, answer in enumerate(answers, start=1):
            target = f"10.0.{li}.{ci}" if blocklist.kind == "ip" else f"code-{li}-{ci}.test"
            out[(blocklist.zone, answer)] = target
    return out


@pytest.fixture(scope="session")
def list_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ListWorld]:
    require_knot()
    root = tmp_path_factory.mktemp("blocklists")
    project_dir = root / "project"
    project_dir.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.eu.yaml", "Pulumi.us.yaml"):
        shutil.copy(REPO / name, project_dir / name)
    shutil.copytree(REPO / "tenants", project_dir / "tenants")
    lists = load_lists()
    zones: dict[str, list[str]] = {b.zone: [] for b in lists if b.zone != REFUSED_ZONE}
    by_zone = {b.zone: b for b in lists}

    def publish(target: str, zone: str, answers: list[str]) -> None:
        name = by_zone[zone].query_name(target)
        zones[zone].extend(f"{name}. 300 A {a}" for a in answers)

    for target, entries in WORLD.items():
        for zone, answers in entries.items():
            publish(target, zone, answers)
    codes = every_code_targets(lists)
    for (zone, answer), target in codes.items():
        if zone in zones:
            publish(target, zone, [answer])
    fwd = _load_forwarder()
    with KnotServer(root / "knot", zones) as knot:
        forwarder = fwd.ForwarderThread(
            ("127.0.0.1", 0), (knot.address, knot.port), 0.0, [TIMEOUT_ZONE]
        ).start()
        try:
            host, port = forwarder.address
            yield ListWorld(project_dir, knot, f"{host}:{port}", lists, codes)
        finally:
            forwarder.stop()
