"""`check` when nothing can be sent to the nameserver: every record ``error``, exit 3, one reason.

Two ways: the socket error injected (``sendto``/``send``/``connect`` raise ENETUNREACH for the
test's loopback nameserver only, so no packet is sent at all), and for real in a network
namespace without interfaces (``unshare -n``: even loopback is down there, a query to
127.0.0.1 fails with "Network is unreachable"). Plus ``--nameserver`` values that are not a
nameserver, the empty one first: a usage error, never the system resolver.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailfleet.check import result as res
from mailfleet.check.runner import CheckRunner
from mailfleet.dns.resolver import Nameserver, Resolver
from mailfleet.project import Project
from tests.check.knot import free_port
from tests.conftest import REPO, missing_dependency

UNREACHABLE = os.strerror(errno.ENETUNREACH)  # "Network is unreachable"


def _env() -> dict[str, str]:
    """The test environment without Mailgun credentials: nothing may leave loopback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILGUN_")}
    env.pop("MAILFLEET_ROOT", None)
    return {**env, "PYTHONPATH": str(REPO), "COLUMNS": "200"}


@pytest.fixture
def target() -> Nameserver:
    """A loopback nameserver nobody serves: the injected errors are raised for it only."""
    return Nameserver("127.0.0.1", free_port("127.0.0.1"))


def _unreachable(target: Nameserver, original, call: str):  # type: ignore[no-untyped-def]
    """``socket.socket.<call>`` raising ENETUNREACH for ``target``, the original otherwise."""

    def patched(self: socket.socket, *args):  # type: ignore[no-untyped-def]
        if call == "send":
            try:
                peer = self.getpeername()
            except OSError:
                peer = None
        else:  # sendto(data, addr) / connect(addr)
            peer = args[-1]
        if isinstance(peer, tuple) and tuple(peer[:2]) == (target.host, target.port):
            raise OSError(errno.ENETUNREACH, UNREACHABLE)
        return original(self, *args)

    return patched


@pytest.fixture
def send_fails(monkeypatch: pytest.MonkeyPatch, target: Nameserver) -> Nameserver:
    """Sending a datagram to ``target`` fails the way it does without a route."""
    for call in ("send", "sendto"):
        monkeypatch.setattr(socket.socket, call, _unreachable(target, getattr(socket.socket, call), call))
    return target


@pytest.fixture
def connect_fails(monkeypatch: pytest.MonkeyPatch, target: Nameserver) -> Nameserver:
    """Opening (connecting) the UDP socket to ``target`` fails: the endpoint cannot be made."""
    monkeypatch.setattr(socket.socket, "connect", _unreachable(target, socket.socket.connect, "connect"))
    return target


def _lookups(ns: Nameserver, **kw):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        async with Resolver(ns, timeout=5.0, retries=2, **kw) as r:
            found = await asyncio.gather(r.txt("mailgun.org"), r.mx("acme.mail.example.eu"))
            return found, r.stats

    return asyncio.run(asyncio.wait_for(go(), 4.0))  # an error at once: never the 5 s timeout


def test_send_failure_reported_by_asyncio_is_an_error_at_once(send_fails: Nameserver) -> None:
    (txt, mx), stats = _lookups(send_fails)
    reason = f"no route to nameserver {send_fails}: {UNREACHABLE}"
    for lookup in (txt, mx):
        assert lookup.status == "error" and lookup.failed and not lookup.missing
        assert lookup.detail == reason
    assert txt.describe() == f"mailgun.org TXT: {reason}"
    assert stats.retries == 0  # not retried: there is no route to wait for


def test_send_failure_raised_by_the_transport_is_an_error(
    monkeypatch: pytest.MonkeyPatch, target: Nameserver
) -> None:
    """A transport whose ``sendto`` raises (not asyncio's: it reports to the protocol)."""

    def sendto(self, data, addr=None):  # type: ignore[no-untyped-def]
        raise OSError(errno.EHOSTUNREACH, os.strerror(errno.EHOSTUNREACH))

    from asyncio import selector_events

    monkeypatch.setattr(selector_events._SelectorDatagramTransport, "sendto", sendto)
    (txt, _mx), _ = _lookups(target)
    assert txt.status == "error"
    assert txt.detail == f"no route to nameserver {target}: {os.strerror(errno.EHOSTUNREACH)}"


def test_other_send_errors_are_errors_too(monkeypatch: pytest.MonkeyPatch, target: Nameserver) -> None:
    original = socket.socket.send

    def send(self, *args):  # type: ignore[no-untyped-def]
        if self.getpeername()[:2] == (target.host, target.port):
            raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))  # a firewall's refusal
        return original(self, *args)

    monkeypatch.setattr(socket.socket, "send", send)
    (txt, _mx), _ = _lookups(target)
    assert txt.status == "error"
    assert txt.detail == f"cannot send to nameserver {target}: {os.strerror(errno.EPERM)}"


def test_udp_endpoint_that_cannot_be_opened(connect_fails: Nameserver) -> None:
    async def go():  # type: ignore[no-untyped-def]
        r = Resolver(connect_fails, timeout=5.0, retries=2)
        async with r:  # never raises
            return r.start_error, await r.txt("mailgun.org")

    start_error, txt = asyncio.run(asyncio.wait_for(go(), 4.0))
    assert start_error == f"no route to nameserver {connect_fails}: {UNREACHABLE}"
    assert txt.status == "error" and txt.detail == start_error


def test_tcp_fallback_without_route_is_an_error(monkeypatch: pytest.MonkeyPatch, target: Nameserver) -> None:
    import dns.asyncquery

    async def tcp(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError(errno.ENETUNREACH, UNREACHABLE)

    monkeypatch.setattr(dns.asyncquery, "tcp", tcp)

    async def go():  # type: ignore[no-untyped-def]
        async with Resolver(target, timeout=0.5, retries=1) as r:
            return await r._ask_tcp("big.example.org", "TXT")

    lookup = asyncio.run(go())
    assert lookup.status == "error"
    assert lookup.detail == f"TCP query failed: no route to nameserver {target}: {UNREACHABLE}"


def test_port_unreachable_still_times_out(target: Nameserver) -> None:
    """ICMP port unreachable (ECONNREFUSED) is not "no route": the attempts time out as before."""

    async def go():  # type: ignore[no-untyped-def]
        async with Resolver(target, timeout=0.2, retries=1) as r:
            return await r.txt("mailgun.org")

    lookup = asyncio.run(go())
    assert lookup.status == "timeout", lookup


def test_runner_marks_every_record_error_and_exits_3(send_fails: Nameserver, project_dir: Path) -> None:
    project = Project.load(project_dir / "tenants", project_dir)
    pairs = [(s, t) for s in project.states.values() for t in s.tenants if t.slug in ("acme", "fjordbank")]
    assert len(pairs) == 2

    async def go() -> res.RunResult:
        async with Resolver(send_fails, timeout=5.0, retries=2) as resolver:
            return await CheckRunner(resolver).run(pairs)

    run = asyncio.run(asyncio.wait_for(go(), 10.0))
    records = [r for t in run.tenants for r in t.all_results]
    assert records and {r.status for r in records} == {"error"}
    assert all(f"no route to nameserver {send_fails}: {UNREACHABLE}" in r.message for r in records)
    assert run.exit_code == 3


# -- the CLI, as a real process ----------------------------------------------------------------

INJECT = """
import errno, os, runpy, socket, sys
target = (sys.argv[1], int(sys.argv[2]))
del sys.argv[1:3]
def wrap(call):
    original = getattr(socket.socket, call)
    def patched(self, *args):
        peer = args[-1] if call != "send" else self.getpeername()
        if isinstance(peer, tuple) and tuple(peer[:2]) == target:
            raise OSError(errno.ENETUNREACH, os.strerror(errno.ENETUNREACH))
        return original(self, *args)
    setattr(socket.socket, call, patched)
for call in sys.argv.pop(1).split(","):
    wrap(call)
sys.argv[0] = "mailfleet"
runpy.run_module("mailfleet", run_name="__main__", alter_sys=True)
"""


def _check_json(proc: subprocess.CompletedProcess[str], ns: str) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 3, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    records = [r for t in data["tenants"] for r in t["records"]]
    assert records and {r["status"] for r in records} == {"error"}
    for r in records:
        assert f"no route to nameserver {ns}: {UNREACHABLE}" in r["message"], r
        assert "\n" not in r["message"]
    summary = data["summary"]
    assert summary["exit_code"] == 3 and summary["missing"] == summary["wrong"] == 0


@pytest.mark.parametrize("calls", ["send,sendto", "connect"])
def test_cli_with_the_socket_error_injected_exits_3(
    calls: str, target: Nameserver, project_dir: Path
) -> None:
    argv = [sys.executable, "-c", INJECT, target.host, str(target.port), calls]
    argv += ["check", "acme", "--nameserver", str(target), "--timeout", "5", "--retries", "2"]
    proc = subprocess.run(
        [*argv, "--format", "json"], cwd=project_dir, env=_env(), capture_output=True, text=True, timeout=60
    )
    _check_json(proc, str(target))
    table = subprocess.run(argv, cwd=project_dir, env=_env(), capture_output=True, text=True, timeout=60)
    assert table.returncode == 3 and "Traceback" not in table.stderr
    assert f"no route to nameserver {target}: {UNREACHABLE}" in table.stdout


def _unshare() -> list[str]:
    """``unshare -n`` when this user may make a network namespace; skip (saying why) otherwise."""
    if shutil.which("unshare") is None:
        missing_dependency("unshare (util-linux) is not installed")
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"unshare -n is not permitted here: {probe.stderr.strip()}")
    return ["unshare", "-n"]


@pytest.fixture
def mailfleet_cmd() -> Iterator[list[str]]:
    script = Path(sys.executable).with_name("mailfleet")
    yield [str(script)] if script.exists() else [sys.executable, "-m", "mailfleet"]


def test_cli_in_a_network_namespace_without_interfaces_exits_3(
    project_dir: Path, mailfleet_cmd: list[str]
) -> None:
    unshare = _unshare()
    argv = [*unshare, *mailfleet_cmd, "check", "acme", "fjordbank", "--nameserver", "127.0.0.1:53"]
    argv += ["--timeout", "5", "--retries", "2"]
    proc = subprocess.run(
        [*argv, "--format", "json"], cwd=project_dir, env=_env(), capture_output=True, text=True, timeout=60
    )
    _check_json(proc, "127.0.0.1:53")
    table = subprocess.run(argv, cwd=project_dir, env=_env(), capture_output=True, text=True, timeout=60)
    assert table.returncode == 3 and "Traceback" not in table.stderr, table.stderr
    assert f"no route to nameserver 127.0.0.1:53: {UNREACHABLE}" in table.stdout
    assert "0 missing, 0 wrong" in table.stdout


# -- --nameserver values that are not a nameserver -------------------------------------------------

BAD_NAMESERVERS = {
    "": "'' is empty: give the nameserver as IP, IP:PORT or [IPv6]:PORT",
    "   ": "'   ' is empty: give the nameserver as IP, IP:PORT or [IPv6]:PORT",
    ":53": "':53' is not IP[:PORT] (the IP address is missing)",
    "[]:53": "'[]:53' is not IP[:PORT] (the IP address is missing)",
    "1.2.3.4:70000": "'1.2.3.4:70000' is not IP[:PORT] (port 70000 is out of range 1-65535)",
    "127.0.0.1:0": "'127.0.0.1:0' is not IP[:PORT] (port 0 is out of range 1-65535)",
    "127.0.0.1:": "'127.0.0.1:' is not IP[:PORT] (the port after ':' is missing)",
    "127.0.0.1:x": "'127.0.0.1:x' is not IP[:PORT] (port 'x' is not a number)",
    "[::1]:5300x": "'[::1]:5300x' is not IP[:PORT] (port '5300x' is not a number)",
    "[::1]x": "'[::1]x' is not IP[:PORT] (only ':PORT' may follow ']')",
    "ns1.example.com": (
        "'ns1.example.com' is not IP[:PORT] ('ns1.example.com' is not an IP address; host names are not accepted)"
    ),
    "999.1.1.1": "'999.1.1.1' is not IP[:PORT] ('999.1.1.1' is not an IP address; host names are not accepted)",
}


@pytest.mark.parametrize("text", list(BAD_NAMESERVERS))
def test_nameserver_parse_says_what_is_wrong(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        Nameserver.parse(text)
    assert str(caught.value) == BAD_NAMESERVERS[text]


def test_nameserver_parse_still_takes_good_values() -> None:
    assert Nameserver.parse(" 127.0.0.1:5353 ") == Nameserver("127.0.0.1", 5353)
    assert Nameserver.parse("[::1]") == Nameserver("::1", 53)


@pytest.mark.parametrize("argv", [["--nameserver", ""], ["--nameserver="], ["--nameserver", "  "]])
def test_empty_nameserver_is_a_usage_error(argv: list[str], project_dir: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mailfleet", "check", "acme", *argv],
        cwd=project_dir,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("--nameserver: ") and "is empty" in lines[0]
