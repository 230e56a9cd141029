"""The resolver against the session's Knot server, and the wire codec against dnspython."""

from __future__ import annotations

import asyncio

import dns.message
import dns.rrset
import pytest

from mailfleet.dns import wire
from mailfleet.dns.resolver import Nameserver, Resolver, Window


def run(coro):
    return asyncio.run(coro)


def resolver_for(ns: str, **kw) -> Resolver:
    kw.setdefault("timeout", 0.5)
    kw.setdefault("retries", 1)
    return Resolver(Nameserver.parse(ns), **kw)


def test_nameserver_parsing():
    assert Nameserver.parse("127.0.0.1") == Nameserver("127.0.0.1", 53)
    assert Nameserver.parse("127.0.0.2:5353") == Nameserver("127.0.0.2", 5353)
    assert Nameserver.parse("::1") == Nameserver("::1", 53)
    assert Nameserver.parse("[::1]:5300") == Nameserver("::1", 5300)
    assert str(Nameserver("::1", 5300)) == "[::1]:5300"
    for bad in ("example.com", "127.0.0.1:0", "127.0.0.1:x", "[::1", "1.2.3.4:70000"):
        with pytest.raises(ValueError):
            Nameserver.parse(bad)


@pytest.mark.knot
def test_ok_nxdomain_nodata_are_told_apart(dns_world):
    async def go():
        async with resolver_for(dns_world.ns) as r:
            return await asyncio.gather(
                r.txt("mailgun.org"),
                r.txt("nope.mailgun.org"),
                r.mx("mailgun.org"),
                r.mx("acme.mail.example.eu"),
            )

    txt, nx, nodata, mx = run(go())
    assert txt.status == "ok" and txt.values == (
        "v=spf1 include:spf1.mailgun.org include:spf2.mailgun.org ~all",
    )
    assert nx.status == "nxdomain" and nx.missing and not nx.failed
    assert nodata.status == "nodata" and nodata.missing
    assert mx.status == "ok" and sorted(mx.values) == [(10, "mxa.eu.mailgun.org"), (10, "mxb.eu.mailgun.org")]


@pytest.mark.knot
def test_long_txt_values_are_joined(dns_world):
    name = "mailfleet._domainkey.acme.mail.example.eu"

    async def go():
        async with resolver_for(dns_world.ns) as r:
            return await r.txt(name)

    lookup = run(go())
    assert lookup.values == (f"v=DKIM1; k=rsa; p={dns_world.keys[name]}",)
    assert len(lookup.values[0]) > 255  # more than one character-string on the wire


@pytest.mark.knot
def test_cache_coalesces_concurrent_identical_queries(dns_world):
    async def go():
        async with resolver_for(dns_world.ns) as r:
            results = await asyncio.gather(*(r.txt("spf2.mailgun.org") for _ in range(50)))
            again = await r.txt("SPF2.mailgun.org.")
            return r.stats, results, again

    stats, results, again = run(go())
    assert stats.queries == 1
    assert stats.cache_hits == 50
    assert {x.values for x in results} == {again.values}


@pytest.mark.knot
def test_timeout_is_not_missing_and_is_retried(dns_world):
    async def go():
        async with resolver_for(dns_world.forwarder_ns, timeout=0.2, retries=2) as r:
            return await r.txt("blackhole.no"), r.stats

    lookup, stats = run(go())
    assert lookup.status == "timeout"
    assert lookup.failed and not lookup.missing
    assert "3 attempts of 0.2s" in lookup.detail
    assert stats.attempts == 3 and stats.retries == 2


@pytest.mark.knot
def test_refused_is_an_error(dns_world):
    async def go():
        async with resolver_for(dns_world.ns) as r:
            return await r.txt("unserved.no")

    lookup = run(go())
    assert lookup.status == "error" and "REFUSED" in lookup.detail


@pytest.mark.knot
def test_truncated_udp_answer_is_asked_again_over_tcp(dns_world):
    async def go():
        async with resolver_for(dns_world.ns) as r:
            return await r.txt("big.spfchain.net"), r.stats

    lookup, stats = run(go())
    assert lookup.status == "ok"
    assert len(lookup.values) == 8
    assert stats.tcp == 1


@pytest.mark.knot
def test_cnames_are_followed(dns_world):
    async def go():
        async with resolver_for(dns_world.ns) as r:
            return await r.txt("alias.spfchain.net"), await r.cname("alias.spfchain.net")

    txt, cname = run(go())
    assert txt.values == ("v=spf1 ip4:192.0.2.4 ~all",)
    assert cname.values == ("d4.spfchain.net",)


@pytest.mark.knot
def test_concurrency_is_bounded(dns_world):
    async def go():
        r = resolver_for(dns_world.ns, concurrency=3)
        async with r:
            peak = 0
            window = r.window
            assert window is not None and window.limit == 3  # the bound caps the minimum too

            async def watch():
                nonlocal peak
                while True:
                    peak = max(peak, window.in_flight)
                    await asyncio.sleep(0)

            watcher = asyncio.ensure_future(watch())
            await asyncio.gather(*(r.txt(f"d{i}.spfchain.net") for i in range(1, 7)))
            watcher.cancel()
            return peak, window.peak, window.in_flight, r.stats.queries

    peak, window_peak, left, queries = run(go())
    assert queries == 6
    assert 1 <= peak <= window_peak <= 3
    assert left == 0  # every slot given back


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _rounds(
    window: Window, clock: FakeClock, rtt: float, rounds: int, cpu_rate: float | None = None
) -> list[float]:
    """Endless demand: each round fills the window, waits a round trip (or, when the CPU is
    the limit, as long as it takes to handle the answers), then every answer comes back."""
    limits = []
    for _ in range(rounds):
        n = int(window.limit)
        for _ in range(n):
            window._take()
        assert window.in_flight <= window.bound
        step = (max(rtt, n / cpu_rate) if cpu_rate else rtt) / n
        for _ in range(n):  # the answers come back spread over the round
            clock.now += step
            window.release(rtt)
        limits.append(window.limit)
    return limits


def test_window_doubles_while_it_limits_up_to_the_bound():
    clock = FakeClock()
    window = Window(300, minimum=16, clock=clock)
    limits = _rounds(window, clock, 0.02, 10)
    # 2 x (answers per second x 20 ms) + 16: from 16 to the bound within 7 round trips
    assert limits[0] == 16 and limits[1] == pytest.approx(48)
    assert limits == sorted(limits) and limits[6] == 300
    assert limits[-1] == 300 and window.peak == 300 and window.widest == 300


def test_window_settles_where_the_cpu_is_the_limit():
    clock = FakeClock()
    window = Window(1000, minimum=16, clock=clock)
    limits = _rounds(window, clock, 0.02, 30, cpu_rate=5000.0)  # 5,000 answers a second at most
    # twice what keeps the CPU busy (5,000/s x 20 ms = 100 in flight), plus the minimum
    assert limits[-1] == pytest.approx(2 * 5000 * 0.02 + 16)
    assert max(limits) < 1000


def test_window_stays_narrow_when_the_server_is_next_door():
    clock = FakeClock()
    window = Window(256, minimum=16, clock=clock)
    limits = _rounds(window, clock, 0.0001, 200, cpu_rate=8000.0)
    assert max(limits) < 20  # 2 x 8,000/s x 0.1 ms + 16


def test_a_timeout_halves_the_window_once_per_epoch():
    clock = FakeClock()
    window = Window(256, minimum=16, clock=clock)
    _rounds(window, clock, 0.02, 8)
    assert window.limit == 256
    for _ in range(3):
        window._take()
    window.release(timed_out=True)
    window.release(timed_out=True)  # the same burst: not halved again
    assert window.limit == 128 and window.timeouts == 2
    window.release(timed_out=True)
    assert window.limit == 128
    _rounds(window, clock, 0.02, 1)  # a new epoch
    low = Window(256, minimum=16, clock=clock)
    low._take()
    low.release(timed_out=True)
    assert low.limit == 16  # never below the minimum


def test_waiters_are_served_in_order_and_a_cancelled_one_leaks_nothing():
    async def go():
        window = Window(2, minimum=2)
        await window.acquire()
        await window.acquire()
        order: list[int] = []

        async def wait(i: int) -> None:
            await window.acquire()
            order.append(i)

        tasks = [asyncio.ensure_future(wait(i)) for i in range(4)]
        await asyncio.sleep(0)
        tasks[1].cancel()
        await asyncio.sleep(0)
        window.release()
        window.release()
        await asyncio.sleep(0)
        assert order == [0, 2] and window.in_flight == 2
        window.release()
        await asyncio.sleep(0)
        assert order == [0, 2, 3] and window.in_flight == 2
        for _ in range(2):
            window.release()
        assert window.in_flight == 0 and window.peak == 2

    run(go())


@pytest.mark.knot
def test_the_window_widens_for_a_slow_server(dns_world):
    """600 names through a forwarder adding 50 ms: sequentially 30 s; the window widens past
    its minimum within the bound, every answer comes (NXDOMAIN, never a timeout)."""
    forwarder = _load_forwarder().ForwarderThread(("127.0.0.1", 0), _hostport(dns_world.ns), 0.05).start()
    try:
        host, port = forwarder.address

        async def go():
            async with Resolver(Nameserver(host, port), timeout=2.0, retries=1, concurrency=200) as r:
                found = await asyncio.gather(*(r.txt(f"n{i}.nowhere.spfchain.net") for i in range(600)))
                assert r.window is not None
                return found, r.window

        found, window = run(go())
    finally:
        forwarder.stop()
    assert {f.status for f in found} == {"nxdomain"}
    assert window.widest > window.minimum and window.peak > window.minimum
    assert window.peak <= 200 and window.in_flight == 0 and window.timeouts == 0


def _hostport(ns: str) -> tuple[str, int]:
    host, _, port = ns.rpartition(":")
    return host, int(port)


def _load_forwarder():
    from tests.check.conftest import _load_forwarder as load

    return load()


def test_wire_codec_agrees_with_dnspython():
    query = dns.message.make_query("x.example.org", "TXT")
    response = dns.message.make_response(query)
    long = "a" * 300
    response.answer.append(dns.rrset.from_text("x.example.org.", 60, "IN", "CNAME", "y.example.org."))
    response.answer.append(
        dns.rrset.from_text("y.example.org.", 60, "IN", "TXT", f'"{long[:255]}" "{long[255:]}"', '"two"')
    )
    data = response.to_wire()
    answer = wire.parse_answer(data)
    assert answer.qname == "x.example.org" and answer.qtype == 16 and answer.rcode == 0
    assert answer.records[0].value == "y.example.org"
    assert sorted(b"".join(r.value) for r in answer.records[1:]) == sorted([long.encode(), b"two"])
    mx = dns.message.make_response(dns.message.make_query("m.example.org", "MX"))
    mx.answer.append(dns.rrset.from_text("m.example.org.", 60, "IN", "MX", "10 mxa.eu.mailgun.org."))
    assert wire.parse_answer(mx.to_wire()).records[0].value == (10, "mxa.eu.mailgun.org")
    q = wire.build_query(4242, "a.example.org", 16)
    parsed = dns.message.from_wire(q)
    assert parsed.id == 4242 and str(parsed.question[0].name) == "a.example.org." and parsed.edns == 0


@pytest.mark.parametrize(
    "data", [b"", b"\x00" * 11, b"\x12\x34\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00\xc0\x0c"]
)
def test_wire_codec_refuses_garbage(data):
    with pytest.raises(wire.WireError):
        wire.parse_answer(data)
