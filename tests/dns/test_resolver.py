"""The resolver against the session's Knot server, and the wire codec against dnspython."""

from __future__ import annotations

import asyncio

import dns.message
import dns.rrset
import pytest

from mailfleet.dns import wire
from mailfleet.dns.resolver import Nameserver, Resolver


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
            sem = r._sem
            assert sem is not None

            async def watch():
                nonlocal peak
                while True:
                    peak = max(peak, 3 - sem._value)
                    await asyncio.sleep(0)

            watcher = asyncio.ensure_future(watch())
            await asyncio.gather(*(r.txt(f"d{i}.spfchain.net") for i in range(1, 7)))
            watcher.cancel()
            return peak, r.stats.queries

    peak, queries = run(go())
    assert queries == 6
    assert 1 <= peak <= 3


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
