"""mailfleet.adopt.live and take(): what the zones hold, and no verdict without an answer."""

from __future__ import annotations

import errno
import os
import socket
from datetime import UTC, datetime

import pytest

from mailfleet.adopt.live import AdoptRefused, LookupFailed, Target, read
from mailfleet.dns.resolver import Nameserver
from mailfleet.errors import UsageError
from mailfleet.manager import Manager
from tests.adopt.conftest import (
    GOOGLE_SPF,
    GOOGLE_VERIFY,
    GSUITE_DMARC,
    GSUITE_TRACKING,
    MICROSOFT_SPF,
    MS_VERIFY,
    World,
)
from tests.check.knot import free_port
from tests.conftest import tree_bytes

NOW = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


def _ns(world: World) -> Nameserver:
    return Nameserver.parse(world.ns)


@pytest.mark.knot
def test_reads_every_value_at_each_name_and_says_what_is_not_there(world: World) -> None:
    wanted = [
        Target("gsuite.no", "TXT", ("spf",)),
        Target("_dmarc.gsuite.no", "TXT", ("dmarc",)),
        Target("email.gsuite.no", "CNAME", ("tracking",)),
        Target("mailfleet._domainkey.gsuite.no", "TXT", ("dkim",)),
        Target("bare.no", "TXT", ("spf",)),
        Target("office.no", "TXT", ("spf",)),
    ]
    live, source = read(wanted, _ns(world), timeout=1, retries=1)
    got = {(rr.name, rr.type): (rr.status, rr.values) for rr in live}
    assert got == {
        ("gsuite.no", "TXT"): ("ok", (GOOGLE_SPF, GOOGLE_VERIFY)),
        ("_dmarc.gsuite.no", "TXT"): ("ok", (GSUITE_DMARC,)),
        ("email.gsuite.no", "CNAME"): ("ok", (GSUITE_TRACKING,)),
        ("mailfleet._domainkey.gsuite.no", "TXT"): ("nxdomain", ()),
        ("bare.no", "TXT"): ("nodata", ()),
        # SPF first whatever order the server gives.
        ("office.no", "TXT"): ("ok", (MICROSOFT_SPF, MS_VERIFY)),
    }
    assert source == f"nameserver {world.ns}"


@pytest.mark.knot
def test_a_cname_where_a_txt_record_belongs_is_refused(world: World) -> None:
    with pytest.raises(AdoptRefused) as caught:
        read([Target("mailfleet._domainkey.cnamed.no", "TXT", ("dkim",))], _ns(world), timeout=1, retries=0)
    (line,) = caught.value.lines()
    assert "is a CNAME to dkim.elsewhere.example" in line and "remove the CNAME first" in line


def test_a_timeout_is_an_error_never_nothing_there() -> None:
    silent = Nameserver("127.0.0.1", free_port("127.0.0.1"))
    with pytest.raises(LookupFailed) as caught:
        read([Target("gsuite.no", "TXT", ("spf",))], silent, timeout=0.2, retries=0)
    (line,) = caught.value.lines()
    assert line.startswith(f"nameserver {silent}: no answer for gsuite.no TXT")
    assert "nothing written" in line


def test_an_unreachable_nameserver_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    target = Nameserver("127.0.0.1", free_port("127.0.0.1"))
    original = socket.socket.connect

    def connect(self: socket.socket, address: object) -> None:
        if isinstance(address, tuple) and tuple(address[:2]) == (target.host, target.port):
            raise OSError(errno.ENETUNREACH, os.strerror(errno.ENETUNREACH))
        original(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)
    with pytest.raises(LookupFailed) as caught:
        read([Target("gsuite.no", "TXT", ("spf",))], target, timeout=5, retries=2)
    (line,) = caught.value.lines()
    assert f"no route to nameserver {target}: {os.strerror(errno.ENETUNREACH)}" in line


@pytest.mark.knot
def test_a_failed_lookup_writes_nothing(world: World) -> None:
    silent = f"127.0.0.1:{free_port('127.0.0.1')}"
    before = tree_bytes(world.tenants)
    with pytest.raises(LookupFailed):
        Manager(world.tenants, world.project).adopt_dns("gsuite", silent, timeout=0.2, retries=0)
    assert tree_bytes(world.tenants) == before  # not even the lock file


@pytest.mark.knot
def test_two_spf_records_are_refused_and_nothing_is_written(world: World) -> None:
    before = tree_bytes(world.tenants)
    with pytest.raises(AdoptRefused) as caught:
        Manager(world.tenants, world.project).adopt_dns("twospf", world.ns, clock=lambda: NOW)
    (line,) = caught.value.lines()
    assert line.startswith("twospf.no TXT: 2 SPF records")
    assert "delete all but one first" in line
    assert tree_bytes(world.tenants) == before


@pytest.mark.knot
def test_nothing_at_any_name_adopts_nothing(world: World) -> None:
    (world.tenants / "bare.yaml").write_text(
        "slug: bare\nname: Bare AS\nregion: eu\nmailboxes: [post]\n"
        "sender_domain: {name: bare.no, dns: manual}\ndmarc: {policy: reject}\n"
    )
    result = Manager(world.tenants, world.project).adopt_dns("bare", world.ns, clock=lambda: NOW)
    assert result.status == "written"
    assert result.snapshot.records == []
    assert {rr.status for rr in result.live} == {"nodata", "nxdomain"}
    tenant, _ = Manager(world.tenants, world.project).tenant("bare")
    assert tenant.adopted is not None and tenant.adopted.dns is not None
    assert tenant.adopted.dns.taken_at == "2026-12-01T09:30:00Z"


@pytest.mark.knot
def test_a_tenant_without_a_sender_domain_has_nothing_to_adopt(world: World) -> None:
    with pytest.raises(UsageError) as caught:
        Manager(world.tenants, world.project).adopt_dns("acme", world.ns)
    assert caught.value.problems[0].field == "slug"
    assert "no sender_domain" in caught.value.problems[0].message
