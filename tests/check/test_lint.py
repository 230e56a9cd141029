"""The SPF, DMARC and DKIM rules one by one, on records served by the session's Knot."""

from __future__ import annotations

import asyncio

import pytest

from mailfleet.check import dkim, dmarc, spf
from mailfleet.check import result as res
from mailfleet.dns.resolver import Nameserver, Resolver


def _record(name: str, purpose: str) -> res.RecordResult:
    return res.RecordResult("t", purpose, "x", name, "TXT", res.ERROR)


def check_spf(ns: str, name: str) -> res.RecordResult:
    async def go():
        async with Resolver(Nameserver.parse(ns), timeout=0.5, retries=1) as r:
            out = _record(name, "spf")
            await spf.check(out, await r.txt(name), None, "mailgun.org", spf.SpfEvaluator(r), name)
            return out

    return asyncio.run(go())


def check_dmarc(ns: str, domain: str) -> res.RecordResult:
    async def go():
        async with Resolver(Nameserver.parse(ns), timeout=0.5, retries=1) as r:
            out = _record(f"_dmarc.{domain}", "dmarc")
            await dmarc.check(out, await r.txt(f"_dmarc.{domain}"), None, r, domain)
            return out

    return asyncio.run(go())


def check_dkim(ns: str, name: str) -> res.RecordResult:
    async def go():
        async with Resolver(Nameserver.parse(ns), timeout=0.5, retries=1) as r:
            out = _record(name, "dkim")
            dkim.check(out, await r.txt(name), expected_key=None, expected_source="", expected_bits=2048)
            return out

    return asyncio.run(go())


def codes(result: res.RecordResult, severity: str | None = None) -> list[str]:
    return [f.code for f in result.findings if severity is None or f.severity == severity]


@pytest.mark.knot
def test_spf_ptr_is_an_error(dns_world):
    r = check_spf(dns_world.ns, "ptr.spfchain.net")
    assert r.status == "wrong"
    assert codes(r, "error") == ["spf-ptr"]
    assert r.details["lookups"] == 5  # ptr 1 + mailgun.org 4


@pytest.mark.knot
def test_three_void_lookups(dns_world):
    r = check_spf(dns_world.ns, "voids.spfchain.net")
    assert r.status == "wrong"
    assert codes(r, "error") == ["spf-void-lookups"]
    assert "3 void lookups, over the limit of 2" in r.message
    assert r.details == {"lookups": 7, "void_lookups": 3}


@pytest.mark.knot
def test_plus_all_is_a_warning(dns_world):
    r = check_spf(dns_world.ns, "plusall.spfchain.net")
    assert r.status == "ok"
    assert codes(r) == ["spf-weak-all"]


@pytest.mark.knot
def test_include_loop(dns_world):
    r = check_spf(dns_world.ns, "loop1.spfchain.net")
    assert r.status == "wrong"
    assert "spf-loop" in codes(r)


@pytest.mark.knot
def test_redirect_is_followed_and_counted(dns_world):
    r = check_spf(dns_world.ns, "redir.spfchain.net")
    # redirect (1) + d1 (include d4: 1); Mailgun is not included
    assert r.details["lookups"] == 2
    assert codes(r, "error") == ["spf-no-mailgun"]


@pytest.mark.knot
def test_spf_without_mailgun(dns_world):
    r = check_spf(dns_world.ns, "nomailgun.spfchain.net")
    assert r.status == "wrong"
    assert "does not include mailgun.org" in r.message


@pytest.mark.knot
def test_spf_over_450_octets(dns_world):
    r = check_spf(dns_world.ns, "long.spfchain.net")
    assert r.status == "wrong"
    assert codes(r, "error") == ["spf-too-long"]
    assert r.findings[0].rfc == "RFC 7208 §3.4"


@pytest.mark.knot
def test_dmarc_order_and_historic_tags_are_warnings(dns_world):
    r = check_dmarc(dns_world.ns, "order.spfchain.net")
    assert r.status == "ok"
    assert sorted(codes(r, "warning")) == ["dmarc-historic-pct", "dmarc-historic-ri", "dmarc-policy-second"]


@pytest.mark.knot
def test_two_dmarc_records(dns_world):
    r = check_dmarc(dns_world.ns, "two.spfchain.net")
    assert r.status == "wrong"
    assert "2 DMARC records" in r.message and "no policy at all" in r.message


@pytest.mark.knot
def test_dmarc_version_not_first(dns_world):
    r = check_dmarc(dns_world.ns, "late.spfchain.net")
    assert r.status == "wrong"
    assert codes(r) == ["dmarc-version-first"]


@pytest.mark.knot
def test_dmarc_bad_policy_and_uri(dns_world):
    r = check_dmarc(dns_world.ns, "badp.spfchain.net")
    assert r.status == "wrong"
    assert sorted(codes(r, "error")) == ["dmarc-bad-policy", "dmarc-bad-uri"]


@pytest.mark.knot
def test_dmarc_missing(dns_world):
    r = check_dmarc(dns_world.ns, "nothing.spfchain.net")
    assert r.status == "missing"


@pytest.mark.knot
def test_dkim_key_problems(dns_world):
    assert codes(check_dkim(dns_world.ns, "bad._domainkey.spfchain.net")) == ["dkim-bad-key"]
    assert codes(check_dkim(dns_world.ns, "revoked._domainkey.spfchain.net")) == ["dkim-revoked"]
    ed = check_dkim(dns_world.ns, "ed._domainkey.spfchain.net")
    assert ed.status == "wrong"
    assert "dkim-key-type" in codes(ed)
    two = check_dkim(dns_world.ns, "two._domainkey.spfchain.net")
    assert two.status == "wrong" and codes(two) == ["dkim-multiple"]
    missing = check_dkim(dns_world.ns, "none._domainkey.spfchain.net")
    assert missing.status == "missing"


def test_exit_code_rules():
    run = res.RunResult(tenants=[res.TenantResult("a", "eu", "eu")])
    assert run.exit_code == 0
    run.tenants[0].records.append(res.RecordResult("a", "spf", "ours", "n", "TXT", res.TIMEOUT))
    assert run.exit_code == 3
    run.tenants[0].records.append(res.RecordResult("a", "mx", "ours", "n", "MX", res.MISSING))
    assert run.exit_code == 1
    assert run.tenants[0].status == "missing"
