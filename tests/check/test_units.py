"""`mailfleet check` in-process, on the hand-written zones read by dnspython's zone parser.

The same hand-written zones as tests/check/test_handwritten.py (tests/check/handwritten.py),
answered by ``ZoneResolver`` (dnspython parses the zone text; names can be made silent or
failing) instead of Knot, so these run in milliseconds, need no server, and `make mutate`
can trace them to the functions they exercise. The rules each get a literal record and a
literal expectation.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.zone
import pytest

from mailfleet.check import dkim, dmarc, mx, spf, tracking
from mailfleet.check import result as res
from mailfleet.check.runner import CheckOptions, CheckRunner
from mailfleet.dns.resolver import Lookup, ResolverStats
from mailfleet.project import Project
from tests.check import handwritten
from tests.conftest import REPO

RSA_1024 = (
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC3kJpoSsdXLOmEAc+3Lk4U2iZ9G7vjKf3E0n6Ebn3UiQm16CRkdKmr"
    "T3F0Q3qj0WYh5kH9GZaHhvFzOhGm0YUQ9uFZ6S7l1p3wDJ4i4ZcHfO6j3zQy2b3pT8m5LX9h5YpJ2Jvv5a4C0k4Gm6KJ"
    "Yd8Rw0oY1m0v0o5Bc5Vx3JzZbQIDAQAB"
)


class ZoneResolver:
    """Answers from zone text as an authoritative server would; ``silent`` names time out,
    ``failing`` names answer SERVFAIL."""

    def __init__(
        self, zones: dict[str, list[str]], silent: tuple[str, ...] = (), failing: tuple[str, ...] = ()
    ):
        self.zones = {}
        for origin, lines in zones.items():
            text = "\n".join(
                [
                    f"@ 300 SOA ns1.{origin}. h.{origin}. 1 3600 600 86400 300",
                    f"@ 300 NS ns1.{origin}.",
                    *lines,
                ]
            )
            self.zones[origin] = dns.zone.from_text(text, origin=origin, relativize=False, check_origin=False)
        self.silent = set(silent)
        self.failing = set(failing)
        self.asked: list[tuple[str, str]] = []
        self.stats = ResolverStats()
        self.nameserver = "zone-text"

    def answer(self, name: str, rdtype: str) -> Lookup:
        name = name.rstrip(".").lower()
        if name in self.silent:
            return Lookup(name, rdtype, "timeout", detail="2 attempts of 0.5 s")
        if name in self.failing:
            return Lookup(name, rdtype, "error", detail="the nameserver answered SERVFAIL")
        origin = max((z for z in self.zones if name == z or name.endswith("." + z)), key=len, default=None)
        if origin is None:
            return Lookup(name, rdtype, "error", detail="the nameserver answered REFUSED")
        zone = self.zones[origin]
        node = zone.get_node(dns.name.from_text(name))
        if node is None:
            return Lookup(name, rdtype, "nxdomain")
        rdataset = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.from_text(rdtype))
        if rdataset is None:
            cname = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
            if cname is not None and rdtype != "CNAME":
                chased = self.answer(str(next(iter(cname)).target), rdtype)
                return Lookup(name, rdtype, chased.status, chased.values, chased.detail)
            return Lookup(name, rdtype, "nodata")
        values = []
        for rd in rdataset:
            if rdtype == "TXT":
                values.append(b"".join(rd.strings).decode())
            elif rdtype == "MX":
                values.append((rd.preference, str(rd.exchange).rstrip(".")))
            elif rdtype == "CNAME":
                values.append(str(rd.target).rstrip("."))
            else:
                values.append(rd.to_text())
        return Lookup(name, rdtype, "ok", tuple(values))

    def ensure(self, name: str, rdtype: str) -> asyncio.Future[Lookup]:
        self.asked.append((name.rstrip(".").lower(), rdtype.upper()))
        self.stats.queries += 1
        future: asyncio.Future[Lookup] = asyncio.get_running_loop().create_future()
        future.set_result(self.answer(name, rdtype.upper()))
        return future

    def peek(self, name: str, rdtype: str) -> Lookup | None:
        if (name.rstrip(".").lower(), rdtype.upper()) not in self.asked:
            return None
        return self.answer(name, rdtype.upper())

    async def lookup(self, name: str, rdtype: str) -> Lookup:
        return await self.ensure(name, rdtype)

    async def txt(self, name: str) -> Lookup:
        return await self.lookup(name, "TXT")

    async def mx(self, name: str) -> Lookup:
        return await self.lookup(name, "MX")

    async def cname(self, name: str) -> Lookup:
        return await self.lookup(name, "CNAME")

    async def a(self, name: str) -> Lookup:
        return await self.lookup(name, "A")


LINT: dict[str, list[str]] = {
    "lint.test": [
        handwritten.txt("ptr.lint.test", "v=spf1 ptr include:mailgun.org ~all"),
        handwritten.txt(
            "voids.lint.test", "v=spf1 a:x1.lint.test a:x2.lint.test mx:x3.lint.test include:mailgun.org ~all"
        ),
        handwritten.txt("plusall.lint.test", "v=spf1 include:mailgun.org +all"),
        handwritten.txt("qall.lint.test", "v=spf1 include:mailgun.org ?all"),
        handwritten.txt("loop1.lint.test", "v=spf1 include:loop2.lint.test include:mailgun.org ~all"),
        handwritten.txt("loop2.lint.test", "v=spf1 include:loop1.lint.test ~all"),
        handwritten.txt("nomailgun.lint.test", "v=spf1 include:sendgrid.lint.test -all"),
        handwritten.txt("sendgrid.lint.test", "v=spf1 ip4:192.0.2.1 -all"),
        handwritten.txt(
            "long.lint.test",
            "v=spf1 " + " ".join(f"ip4:192.0.2.{i}" for i in range(1, 40)) + " include:mailgun.org ~all",
        ),
        handwritten.txt("syntax.lint.test", "v=spf1 include:mailgun.org bogus:x ~all"),
        handwritten.txt("two.lint.test", "v=spf1 include:mailgun.org ~all"),
        handwritten.txt("two.lint.test", "v=spf1 -all"),
        handwritten.txt("notspf.lint.test", "google-site-verification=abc"),
        handwritten.txt("doubleinc.lint.test", "v=spf1 include:two.lint.test include:mailgun.org ~all"),
        handwritten.txt("noneinc.lint.test", "v=spf1 include:notspf.lint.test include:mailgun.org ~all"),
        handwritten.txt("redirall.lint.test", "v=spf1 include:mailgun.org ~all redirect=gone.lint.test"),
        handwritten.txt("redirgone.lint.test", "v=spf1 redirect=gone.lint.test"),
        handwritten.txt("macro.lint.test", "v=spf1 include:%{d}.lint.test include:mailgun.org ~all"),
        handwritten.txt(
            "_dmarc.order.lint.test",
            "v=DMARC1; rua=mailto:d@lint.test; p=reject; pct=50; ri=3600; rf=afrf; zz=1",
        ),
        handwritten.txt("_dmarc.two.lint.test", "v=DMARC1; p=reject"),
        handwritten.txt("_dmarc.two.lint.test", "v=DMARC1; p=none"),
        handwritten.txt("_dmarc.late.lint.test", "p=reject; v=DMARC1"),
        handwritten.txt("_dmarc.badp.lint.test", "v=DMARC1; p=block; rua=https://example.org/r"),
        handwritten.txt("_dmarc.nop.lint.test", "v=DMARC1; rua=mailto:d@lint.test"),
        handwritten.txt("_dmarc.bad.lint.test", "v=DMARC1; p=none; sp=maybe; adkim=x; aspf=q; pct=101"),
        handwritten.txt("_dmarc.other.lint.test", "spf2.0/pra"),
        handwritten.txt("bad._domainkey.lint.test", "v=DKIM1; k=rsa; p=notbase64!!"),
        handwritten.txt("revoked._domainkey.lint.test", "v=DKIM1; k=rsa; p="),
        handwritten.txt(
            "ed._domainkey.lint.test", "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
        ),
        handwritten.txt("two._domainkey.lint.test", "v=DKIM1; k=rsa; p=AAAA"),
        handwritten.txt("two._domainkey.lint.test", "v=DKIM1; k=rsa; p=BBBB"),
        handwritten.txt("good._domainkey.lint.test", handwritten.DKIM_VALUE),
        handwritten.txt("nov._domainkey.lint.test", f"k=rsa; p={handwritten.DKIM_KEY}"),
        handwritten.txt("late._domainkey.lint.test", f"k=rsa; v=DKIM1; p={handwritten.DKIM_KEY}"),
        handwritten.txt("nop._domainkey.lint.test", "v=DKIM1; k=rsa"),
        "wrongregion.lint.test. 300 MX 10 mxa.mailgun.org.",
        "wrongregion.lint.test. 300 MX 10 mxb.mailgun.org.",
        "prio.lint.test. 300 MX 10 mxa.eu.mailgun.org.",
        "prio.lint.test. 300 MX 20 mxb.eu.mailgun.org.",
        "other.lint.test. 300 MX 10 mx.other.test.",
        "email.us.lint.test. 300 CNAME mailgun.org.",
        "email.eu.lint.test. 300 CNAME eu.mailgun.org.",
        "email.else.lint.test. 300 CNAME tracking.other.test.",
        'x1.lint.test. 300 TXT "not an address"',
    ],
    "noaddr.test": [
        'mx.noaddr.test. 300 TXT "no address here"',
        "v6.noaddr.test. 300 AAAA 2001:db8::1",
    ],
}


def world_resolver(silent: tuple[str, ...] = (), failing: tuple[str, ...] = ()) -> ZoneResolver:
    return ZoneResolver({**handwritten.zones(), **LINT}, silent, failing)


def _record(name: str, purpose: str, type_: str = "TXT") -> res.RecordResult:
    return res.RecordResult("t", purpose, "x", name, type_, res.ERROR)


def run(coro):
    return asyncio.run(coro)


def check_spf(name: str, **kw) -> res.RecordResult:
    async def go() -> res.RecordResult:
        r = world_resolver(**kw)
        out = _record(name, "spf")
        await spf.check(out, await r.txt(name), None, "mailgun.org", spf.SpfEvaluator(r), name)
        return out

    return run(go())


def check_dmarc(domain: str, **kw) -> res.RecordResult:
    async def go() -> res.RecordResult:
        r = world_resolver(**kw)
        out = _record(f"_dmarc.{domain}", "dmarc")
        await dmarc.check(out, await r.txt(f"_dmarc.{domain}"), None, r, domain)
        return out

    return run(go())


def check_dkim(name: str, expected_key: str | None = None, bits: int = 2048) -> res.RecordResult:
    async def go() -> res.RecordResult:
        r = world_resolver()
        out = _record(name, "dkim")
        dkim.check(
            out, await r.txt(name), expected_key=expected_key, expected_source="the test", expected_bits=bits
        )
        return out

    return run(go())


def check_mx(name: str, **kw) -> res.RecordResult:
    async def go() -> res.RecordResult:
        r = world_resolver(**kw)
        out = _record(name, "mx", "MX")
        await mx.check(out, await r.mx(name), ("10 mxa.eu.mailgun.org", "10 mxb.eu.mailgun.org"), "eu", r)
        return out

    return run(go())


def codes(result: res.RecordResult, severity: str | None = None) -> list[str]:
    return [f.code for f in result.findings if severity is None or f.severity == severity]


# -- the whole hand-written world, through CheckRunner ------------------------------------------------


@pytest.fixture(scope="module")
def hand_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = tmp_path_factory.mktemp("hand")
    (root / "tenants").mkdir()
    for name in ("Pulumi.yaml", "Pulumi.eu.yaml", "Pulumi.us.yaml"):
        (root / name).write_text((REPO / name).read_text())
    for slug, text in handwritten.TENANTS.items():
        (root / "tenants" / f"{slug}.yaml").write_text(text)
    return Project.load(root / "tenants", Path(root))


def run_world(project: Project, slugs: list[str], **kw) -> res.RunResult:
    state = project.states["eu"]
    targets = [(state, t) for t in state.tenants if t.slug in slugs]
    assert len(targets) == len(slugs)
    return run(CheckRunner(world_resolver(**kw), CheckOptions()).run(targets))  # type: ignore[arg-type]


def statuses(result: res.RunResult) -> dict[tuple[str, str, str], str]:
    return {(r.tenant, r.purpose, r.zone): r.status for t in result.tenants for r in t.records}


def test_the_hand_written_world_passes_but_its_broken_tenants(hand_project: Project) -> None:
    good = ["plainmx", "slowauth", "slowinc", "slowredir", "tenlookups"]
    result = run_world(hand_project, good)
    assert set(statuses(result).values()) == {"ok"}
    assert result.exit_code == 0
    assert len(statuses(result)) == 36
    spf_ten = next(
        r for t in result.tenants for r in t.records if r.zone == "ten-lookups.test" and r.purpose == "spf"
    )
    assert spf_ten.details == {"lookups": 10, "void_lookups": 0}
    doc = result.as_dict()
    assert doc["format"] == "mailfleet-check/1"
    assert doc["summary"]["ok"] == 36 and doc["summary"]["exit_code"] == 0


def test_eleven_lookups_and_an_unauthorised_destination_are_wrong(hand_project: Project) -> None:
    result = run_world(hand_project, ["elevenlookups", "txtauth"])
    assert result.exit_code == 1
    wrong = {k for k, v in statuses(result).items() if v != "ok"}
    assert wrong == {("elevenlookups", "spf", "eleven-lookups.test"), ("txtauth", "dmarc", "txtauth.test")}
    spf_rec = next(
        r
        for t in result.tenants
        for r in t.records
        if (r.tenant, r.purpose, r.zone) == ("elevenlookups", "spf", "eleven-lookups.test")
    )
    assert spf_rec.message == (
        "SPF needs 11 DNS lookups, over the limit of 10 (include:mailgun.org=4, include:spf.seven.test=7)"
    )
    assert result.tenants[0].status == "wrong"


@pytest.mark.parametrize("case", sorted(handwritten.SILENT_NAMES))
@pytest.mark.parametrize("failure", ["silent", "failing"])
def test_a_nested_lookup_without_an_answer_is_never_a_verdict(
    hand_project: Project, case: str, failure: str
) -> None:
    slug, purpose, zone, name = handwritten.SILENT_NAMES[case]
    result = run_world(hand_project, [slug], **{failure: (name,)})
    want = "timeout" if failure == "silent" else "error"
    assert {k: v for k, v in statuses(result).items() if v != "ok"} == {(slug, purpose, zone): want}
    assert result.exit_code == 3
    rec = next(r for t in result.tenants for r in t.records if (r.purpose, r.zone) == (purpose, zone))
    assert name in rec.message
    assert not [f for f in rec.findings if f.severity == "error"]


def test_wrong_beats_undecided_in_the_exit_code(hand_project: Project) -> None:
    result = run_world(hand_project, ["elevenlookups", "slowinc"], silent=("spf.silent-include.test",))
    assert result.exit_code == 1
    assert result.counts()["timeout"] == 1 and result.counts()["wrong"] == 1


# -- SPF rules ---------------------------------------------------------------------------------------


def test_spf_rules_one_by_one() -> None:
    assert codes(check_spf("ptr.lint.test"), "error") == ["spf-ptr"]
    voids = check_spf("voids.lint.test")
    assert codes(voids, "error") == ["spf-void-lookups"]
    assert voids.details == {"lookups": 7, "void_lookups": 3}
    assert (
        "3 void lookups, over the limit of 2 (a:x1.lint.test, a:x2.lint.test, mx:x3.lint.test)"
        in voids.message
    )
    plus = check_spf("plusall.lint.test")
    assert (plus.status, codes(plus)) == ("ok", ["spf-weak-all"])
    assert "lets anyone send" in plus.findings[0].message
    assert "asserts nothing" in check_spf("qall.lint.test").findings[0].message
    assert codes(check_spf("loop1.lint.test"), "error") == ["spf-loop"]
    nomg = check_spf("nomailgun.lint.test")
    assert codes(nomg) == ["spf-no-mailgun"] and nomg.status == "wrong"
    long = check_spf("long.lint.test")
    assert codes(long, "error") == ["spf-too-long"]
    assert long.findings[0].message == "SPF record is 607 octets, over 450"
    assert codes(check_spf("syntax.lint.test")) == ["spf-syntax"]
    two = check_spf("two.lint.test")
    assert (two.status, codes(two)) == ("wrong", ["spf-multiple"])
    assert two.message == "2 SPF records at two.lint.test; exactly one is allowed (permerror)"
    assert codes(check_spf("doubleinc.lint.test"), "error") == ["spf-include-multiple"]
    none = check_spf("noneinc.lint.test")
    assert codes(none, "error") == ["spf-include-none"]
    assert "notspf.lint.test has TXT records but none is v=spf1" in none.findings[0].message
    # redirect= is ignored when the record has an all term (RFC 7208 §6.1)
    assert check_spf("redirall.lint.test").status == "ok"
    gone = check_spf("redirgone.lint.test")
    assert codes(gone, "error") == ["spf-include-none", "spf-no-mailgun"]
    assert gone.details["void_lookups"] == 1
    # a macro cannot be expanded offline: not counted, not an error
    macro = check_spf("macro.lint.test")
    assert macro.status == "ok" and macro.details["lookups"] == 5


def test_spf_missing_and_not_spf() -> None:
    missing = check_spf("nothing.lint.test")
    assert (missing.status, missing.message) == ("missing", "nothing.lint.test does not exist (NXDOMAIN)")
    other = check_spf("notspf.lint.test")
    assert (other.status, other.message) == ("missing", "no v=spf1 record among 1 TXT record(s)")


def test_spf_top_level_timeout_and_error() -> None:
    silent = check_spf("ptr.lint.test", silent=("ptr.lint.test",))
    assert (silent.status, silent.findings) == ("timeout", [])
    failing = check_spf("ptr.lint.test", failing=("ptr.lint.test",))
    assert failing.status == "error"
    assert failing.message == "ptr.lint.test TXT: the nameserver answered SERVFAIL"


def test_spf_a_failing_a_lookup_leaves_the_count_unknown() -> None:
    r = check_spf("voids.lint.test", silent=("x2.lint.test",))
    # x2's answer never came: 2 voids are known, not over the limit, the third is unknown
    assert r.status == "timeout"
    assert codes(r) == ["spf-lookup-failed"]
    assert r.details["void_lookups"] == 2


def test_spf_differs_from_the_model() -> None:
    async def go() -> res.RecordResult:
        r = world_resolver()
        out = _record("plusall.lint.test", "spf")
        lookup = await r.txt("plusall.lint.test")
        await spf.check(
            out,
            lookup,
            "v=spf1 include:mailgun.org ~all",
            "mailgun.org",
            spf.SpfEvaluator(r),
            "plusall.lint.test",
        )
        return out

    out = run(go())
    assert (out.status, out.message) == ("wrong", "SPF record differs from the model")
    assert out.expected == ["v=spf1 include:mailgun.org ~all"]
    assert out.found == ["v=spf1 include:mailgun.org +all"]


def test_spf_normalise_ignores_case_and_order() -> None:
    assert spf.normalise("v=spf1 Include:A.test ~all") == spf.normalise("v=spf1 ~all include:a.test")
    assert spf.normalise("v=spf1 include:a.test ~all") != spf.normalise("v=spf1 include:a.test -all")
    assert spf.spf_records(["v=spf1", "v=spf10 x", "V=SPF1 -all", "x"]) == ["v=spf1", "V=SPF1 -all"]


# -- DMARC rules -------------------------------------------------------------------------------------


def test_dmarc_rules_one_by_one() -> None:
    order = check_dmarc("order.lint.test")
    assert order.status == "ok"
    assert sorted(codes(order, "warning")) == [
        "dmarc-historic-pct",
        "dmarc-historic-rf",
        "dmarc-historic-ri",
        "dmarc-policy-second",
        "dmarc-unknown-tag",
    ]
    assert order.details == {"policy": "reject"}
    two = check_dmarc("two.lint.test")
    assert (two.status, codes(two)) == ("wrong", ["dmarc-multiple"])
    assert "2 DMARC records at _dmarc.two.lint.test" in two.message
    assert codes(check_dmarc("late.lint.test")) == ["dmarc-version-first"]
    assert sorted(codes(check_dmarc("badp.lint.test"), "error")) == ["dmarc-bad-policy", "dmarc-bad-uri"]
    assert codes(check_dmarc("nop.lint.test"), "error") == ["dmarc-no-policy"]
    bad = check_dmarc("bad.lint.test")
    assert sorted(codes(bad, "error")) == [
        "dmarc-bad-adkim",
        "dmarc-bad-aspf",
        "dmarc-bad-pct",
        "dmarc-bad-sp",
    ]
    assert "dmarc-p-none" in codes(bad, "warning")
    missing = check_dmarc("nothing.lint.test")
    assert (missing.status, missing.message) == (
        "missing",
        "_dmarc.nothing.lint.test does not exist (NXDOMAIN)",
    )
    other = check_dmarc("other.lint.test")
    assert (other.status, other.message) == ("missing", "no v=DMARC1 record at _dmarc.other.lint.test")


def test_dmarc_report_authorisation() -> None:
    ok = check_dmarc("slowauth.test")
    assert (ok.status, ok.findings) == ("ok", [])
    silent = check_dmarc("slowauth.test", silent=("slowauth.test._report._dmarc.reports.silent-auth.test",))
    assert (silent.status, codes(silent)) == ("timeout", ["dmarc-auth-unknown"])
    failing = check_dmarc("slowauth.test", failing=("slowauth.test._report._dmarc.reports.silent-auth.test",))
    assert (failing.status, codes(failing)) == ("error", ["dmarc-auth-unknown"])
    txt_only = check_dmarc("txtauth.test")
    assert (txt_only.status, codes(txt_only)) == ("wrong", ["dmarc-report-unauthorised"])


def test_dmarc_uri_domain_and_authorisation_record() -> None:
    assert dmarc.uri_domain("mailto:a@Reports.Example.") == "reports.example"
    assert dmarc.uri_domain("mailto:a@b.test!10m") == "b.test"
    assert dmarc.uri_domain("https://b.test/") is None
    assert dmarc.uri_domain("mailto:@b.test") is None
    assert dmarc.uri_domain("mailto:a@localhost") is None
    assert dmarc.is_dmarc("v=DMARC1; p=none") and not dmarc.is_dmarc("p=none; v=DMARC1")
    assert not dmarc.is_dmarc("") and not dmarc.is_dmarc("v=dmarc1")
    for values, status in ((("v=DMARC1",), "ok"), ((" v=dmarc1 ",), "ok"), (("v=spf1 -all",), "wrong")):
        out = _record("a._report._dmarc.b", "dmarc-auth")
        dmarc.check_authorisation(out, Lookup("a._report._dmarc.b", "TXT", "ok", values), "v=DMARC1")
        assert out.status == status, values
    out = _record("a._report._dmarc.b", "dmarc-auth")
    dmarc.check_authorisation(out, Lookup("a._report._dmarc.b", "TXT", "nodata"), "v=DMARC1")
    assert (out.status, out.message) == ("missing", "a._report._dmarc.b has no TXT record")


# -- DKIM rules --------------------------------------------------------------------------------------


def test_dkim_rules_one_by_one() -> None:
    good = check_dkim("good._domainkey.lint.test")
    assert (good.status, good.findings, good.details["bits"]) == ("ok", [], 2048)
    assert codes(check_dkim("bad._domainkey.lint.test")) == ["dkim-bad-key"]
    assert codes(check_dkim("revoked._domainkey.lint.test")) == ["dkim-revoked"]
    assert "dkim-key-type" in codes(check_dkim("ed._domainkey.lint.test"))
    assert codes(check_dkim("two._domainkey.lint.test")) == ["dkim-multiple"]
    assert codes(check_dkim("nov._domainkey.lint.test")) == ["dkim-no-version"]
    assert codes(check_dkim("late._domainkey.lint.test"), "error") == ["dkim-version"]
    nop = check_dkim("nop._domainkey.lint.test")
    assert (nop.status, nop.message) == (
        "missing",
        "no DKIM key (p=) among 1 TXT record(s) at nop._domainkey.lint.test",
    )
    assert check_dkim("none._domainkey.lint.test").status == "missing"
    assert codes(check_dkim("good._domainkey.lint.test", bits=1024)) == ["dkim-size-differs"]


def test_dkim_expected_key() -> None:
    same = check_dkim("good._domainkey.lint.test", expected_key=handwritten.DKIM_KEY)
    assert same.status == "ok"
    assert same.details["expected_key_source"] == "the test"
    other = check_dkim("good._domainkey.lint.test", expected_key=handwritten.DKIM_KEY[:-8] + "AAAAAAAA")
    assert other.status == "wrong"
    assert dkim.expected_key_of(f"v=DKIM1; k=rsa; p={handwritten.DKIM_KEY}") == handwritten.DKIM_KEY
    assert (
        dkim.expected_key_of(f" {handwritten.DKIM_KEY[:10]} {handwritten.DKIM_KEY[10:]}")
        == handwritten.DKIM_KEY
    )
    assert dkim.parse_key("!!")[2] == "p= is not valid base64"
    assert dkim.parse_key("AAAA")[2] == "p= is not a DER-encoded public key (SubjectPublicKeyInfo)"
    assert dkim.parse_key(handwritten.DKIM_KEY)[1] == 2048


# -- MX and tracking ---------------------------------------------------------------------------------


def test_mx_rules() -> None:
    ok = check_mx("plainmx.mail.example.eu")
    assert (ok.status, ok.found) == ("ok", ["10 mxa.eu.mailgun.org", "10 mxb.eu.mailgun.org"])
    region = check_mx("wrongregion.lint.test")
    assert region.status == "wrong"
    assert region.message == "MX does not point at this region's Mailgun inbound hosts"
    assert region.hint.startswith("MX still points at Mailgun's US hosts (mxa.mailgun.org, mxb.mailgun.org)")
    prio = check_mx("prio.lint.test")
    assert (prio.status, prio.message, prio.hint) == (
        "wrong",
        "MX hosts are right but their priorities differ",
        "",
    )
    other = check_mx("other.lint.test")
    assert other.status == "wrong" and other.hint == ""
    assert check_mx("nothing.lint.test").status == "missing"
    assert check_mx("plainmx.mail.example.eu", silent=("plainmx.mail.example.eu",)).status == "timeout"
    assert mx.region_of_hosts({"mxa.eu.mailgun.org", "mxb.eu.mailgun.org"}) == "eu"
    assert mx.region_of_hosts({"mxa.eu.mailgun.org"}) is None


def test_mx_host_addresses() -> None:
    async def go(hosts: list[str], **kw) -> res.RecordResult:
        r = world_resolver(**kw)
        out = _record("n", "mx", "MX")
        out.status = res.OK
        await mx.check_targets(out, hosts, r)  # type: ignore[arg-type]
        out.apply_findings()
        return out

    assert run(go(["mxa.eu.mailgun.org"])).status == "ok"
    v6 = run(go(["v6.noaddr.test"]))  # no A, an AAAA: an address
    assert (v6.status, v6.findings) == ("ok", [])
    none = run(go(["mx.noaddr.test", "gone.noaddr.test"]))
    assert none.status == "wrong"
    assert codes(none) == ["mx-target-no-address", "mx-target-no-address"]
    assert (
        none.message
        == "MX host mx.noaddr.test has no address (no A or AAAA record): mail cannot be delivered"
    )
    both = run(go(["gone.noaddr.test", "mxb.eu.mailgun.org"], silent=("mxb.eu.mailgun.org",)))
    assert both.status == "wrong"  # a definite fault wins over an unknown one
    failing = run(go(["mxb.eu.mailgun.org"], failing=("mxb.eu.mailgun.org",)))
    assert (failing.status, codes(failing)) == ("error", ["mx-target-unknown"])


def test_tracking_rules() -> None:
    def one(name: str, region: str = "eu") -> res.RecordResult:
        async def go() -> res.RecordResult:
            r = world_resolver()
            out = _record(name, "tracking", "CNAME")
            tracking.check(
                out, await r.cname(name), "eu.mailgun.org." if region == "eu" else "mailgun.org", region
            )
            return out

        return run(go())

    assert one("email.eu.lint.test").status == "ok"
    us = one("email.us.lint.test")
    assert us.status == "wrong"
    assert (
        us.hint
        == "the CNAME points at Mailgun's US tracking host mailgun.org; this EU tenant needs eu.mailgun.org"
    )
    elsewhere = one("email.else.lint.test")
    assert (elsewhere.status, elsewhere.hint) == ("wrong", "")
    missing = one("email.none.lint.test")
    assert missing.status == "missing"
    assert missing.message.endswith(": open and click tracking links will not resolve")


# -- results -----------------------------------------------------------------------------------------


def test_status_folding_and_exit_codes() -> None:
    rec = _record("n", "spf")
    rec.status = res.OK
    rec.findings = [res.Finding("warning", "w", "a warning"), res.Finding("undecided", "u", "unknown")]
    rec.apply_findings()
    assert (rec.status, rec.message) == ("error", "unknown")
    rec = _record("n", "spf")
    rec.status = res.OK
    rec.findings = [res.Finding("timeout", "t", "slow"), res.Finding("error", "e", "broken")]
    rec.apply_findings()
    assert (rec.status, rec.message) == ("wrong", "broken")
    rec = _record("n", "spf")
    rec.status = res.MISSING
    rec.findings = [res.Finding("error", "e", "broken")]
    rec.apply_findings()
    assert (rec.status, rec.message) == ("missing", "")
    assert res.worst(["ok", "error", "timeout"]) == "timeout"
    assert res.worst(["ok", "missing", "wrong"]) == "wrong"
    assert res.worst(["ok"]) == "ok"
    run_ = res.RunResult([res.TenantResult("a", "eu", "eu", [rec])], nameserver="ns", queries=4)
    doc = run_.as_dict()
    assert doc["summary"] == {
        "tenants": 1,
        "records": 1,
        "ok": 0,
        "missing": 1,
        "wrong": 0,
        "timeout": 0,
        "error": 0,
        "warnings": 0,
        "exit_code": 1,
        "nameserver": "ns",
        "dns_queries": 4,
        "mailgun_checked": False,
    }
    assert doc["tenants"][0]["records"][0]["findings"] == [
        {"severity": "error", "code": "e", "message": "broken", "rfc": ""}
    ]


# -- Mailgun's view, through the fake Mailgun in this process ------------------------------------------


def _domain(name: str, region: str = "eu"):
    from mailfleet.desired.state import MailgunDomain

    return MailgunDomain(
        tenant="t",
        name=name,
        region=region,
        role="platform",
        dkim_selector="mailfleet",
        dkim_key_size=2048,
    )


def _views(fake, names: list[tuple[str, str]], *, trigger: bool = False):
    from mailfleet.check.mailgun_state import MailgunState
    from mailfleet.mailgun.client import MailgunClient

    clients = {
        r: MailgunClient(r, fake.api_key, base_url=fake.base_url(r), max_retries=0, sleep=lambda s: None)
        for r in ("eu", "us")
    }
    state = MailgunState(clients, trigger_verify=trigger)

    async def go():
        return [await state.view(_domain(n, r)) for n, r in names]

    return asyncio.run(go())


def test_mailgun_views() -> None:
    from mailfleet.check.mailgun_state import record_result
    from tests.fakes.mailgun_server import FakeMailgun

    with FakeMailgun() as fake:
        active = fake.seed_domain("a.mail.example.eu", "eu", state="active", dns_valid=True)
        fake.seed_domain("u.mail.example.eu", "eu")
        fake.seed_domain("moved.mail.example.eu", "us")
        fake.inject(500, count=5, path="broken")
        ok, unverified, moved, missing, broken = _views(
            fake,
            [
                ("a.mail.example.eu", "eu"),
                ("u.mail.example.eu", "eu"),
                ("moved.mail.example.eu", "eu"),
                ("none.mail.example.eu", "eu"),
                ("broken.mail.example.eu", "eu"),
            ],
        )
        assert (ok.status, ok.state, ok.message) == ("ok", "active", "")
        assert ok.dkim_keys == {
            f"{active.dkim_selector}._domainkey.a.mail.example.eu": active.dkim_public_key
        }
        assert (unverified.status, unverified.state) == ("wrong", "unverified")
        assert unverified.message == (
            "Mailgun state is 'unverified'; Mailgun does not see as valid: TXT u.mail.example.eu, "
            f"TXT {active.dkim_selector}._domainkey.u.mail.example.eu, CNAME email.u.mail.example.eu, "
            "MX u.mail.example.eu, MX u.mail.example.eu"
        )
        assert (moved.status, moved.message) == ("missing", "not in Mailgun's EU region")
        assert moved.hint == "moved.mail.example.eu exists in Mailgun's US region (migration not finished?)"
        assert (missing.status, missing.hint) == ("missing", "")
        assert broken.status == "error"
        row = record_result("t", ok, verified=False)
        assert (row.purpose, row.zone, row.type, row.expected, row.found) == (
            "mailgun",
            "mailgun eu",
            "DOMAIN",
            ["active"],
            ["active"],
        )
        assert record_result("t", missing, verified=True).found == []
        assert record_result("t", missing, verified=True).purpose == "mailgun-verify"
        fake.set_dns_valid("u.mail.example.eu")
        (verified,) = _views(fake, [("u.mail.example.eu", "eu")], trigger=True)
        assert (verified.status, verified.state) == ("ok", "active")
        assert fake.count("PUT", "/v4/domains/u.mail.example.eu/verify", "eu") == 1


# -- reports -------------------------------------------------------------------------------------------


def test_table_and_json_reports() -> None:
    import io
    import json

    from mailfleet.check.report import OUTPUTS, JsonReport, TableReport

    good = res.RecordResult("a", "mx", "ours", "a.test", "MX", res.OK, ["10 m"], ["10 m"])
    warn = res.RecordResult("a", "dmarc", "ours", "_dmarc.a.test", "TXT", res.OK)
    warn.findings.append(res.Finding("warning", "dmarc-p-none", "p=none only monitors", "RFC 7489 §6.3"))
    bad = res.RecordResult(
        "b", "spf", "b.test", "b.test", "TXT", res.WRONG, ["v=spf1 ~all"], [], "differs", "fix it"
    )
    bad.findings.append(res.Finding("error", "spf-x", "another problem"))
    bad.fix_by = "the customer (b.test DNS)"
    run_ = res.RunResult(
        [res.TenantResult("a", "eu", "eu", [good, warn]), res.TenantResult("b", "eu", "eu", [bad])],
        nameserver="127.0.0.1:53",
        queries=7,
    )
    table = TableReport()
    assert table.rows(run_) == [
        ("a", "ok", "mx", "ours", "a.test", "MX", "", ""),
        (
            "a",
            "ok",
            "dmarc",
            "ours",
            "_dmarc.a.test",
            "TXT",
            "",
            "warning: p=none only monitors (RFC 7489 §6.3)",
        ),
        (
            "b",
            "wrong",
            "spf",
            "b.test",
            "b.test",
            "TXT",
            "the customer (b.test DNS)",
            "differs\nhint: fix it\nerror: another problem",
        ),
    ]
    assert table.fixes(run_) == [
        "What to fix (full values; `mailfleet check --format bind` prints them as a zone file):",
        "b: b.test TXT (spf, wrong); fix by: the customer (b.test DNS)",
        "  differs",
        "  expected: v=spf1 ~all",
        "  found:    (nothing)",
        "  hint: fix it",
    ]
    assert table.summary(run_) == (
        "2 tenant(s), 1 not ok; records: 2 ok, 0 missing, 1 wrong, 0 timeout, 0 error; 1 warning(s); "
        "7 DNS queries to 127.0.0.1:53"
    )
    out = io.StringIO()
    TableReport(out).run(run_)
    assert "b.test" in out.getvalue() and "1 warning(s)" in out.getvalue()
    # over 20 tenants: only what is not ok or warns
    many = res.RunResult([res.TenantResult(f"t{i}", "eu", "eu", [good]) for i in range(21)])
    many.tenants[0].records.append(bad)
    assert [r[0] for r in table.rows(many)] == ["t0"]
    buf = io.StringIO()
    JsonReport(buf).run(run_)
    doc = json.loads(buf.getvalue())
    assert doc["summary"]["exit_code"] == 1 and doc["summary"]["warnings"] == 1
    assert set(OUTPUTS) == {"table", "json", "bind"}
