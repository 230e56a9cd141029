"""SPF lint on the live record (RFC 7208), with the include tree resolved live.

Rules (each finding names its section):
- exactly one ``v=spf1`` record at the name (§3.2, §4.5: two records are a permerror);
- the record includes the region's Mailgun include (``include:mailgun.org``), directly or
  through a nested include (Mailgun's requirement, not an RFC rule);
- at most 10 DNS-querying terms (``include a mx ptr exists redirect``), counted recursively
  through includes and redirects (§4.6.4);
- at most 2 void lookups (a query answered NXDOMAIN or with no records) (§4.6.4);
- an include or redirect target without exactly one SPF record is a permerror (§5.2, §6.1);
- no ``ptr`` (§5.5: "SHOULD NOT be used"; an error here: receivers may skip it and the mail
  then fails SPF, docs/check.md);
- the record is at most 450 octets (§3.4);
- ``+all`` lets anyone send, ``?all`` says nothing: warnings (§5.1).
A DNS timeout or error while counting gives a ``timeout``/``undecided`` finding: the count is
unknown, never guessed.
"""

from __future__ import annotations

import asyncio
import functools
import re
from dataclasses import dataclass, field

from mailfleet.check import result as res
from mailfleet.dns.resolver import Lookup, Resolver
from mailfleet.records.spf import MAX_LOOKUPS, MAX_RECORD_OCTETS

MAX_VOID_LOOKUPS = 2
MAX_DEPTH = 10
_MECHANISM = re.compile(r"^([+\-~?]?)(all|include|a|mx|ptr|ip4|ip6|exists)([:/].*)?$", re.IGNORECASE)
_MODIFIER = re.compile(r"^([a-z][a-z0-9_.\-]*)=(.*)$", re.IGNORECASE)
LOOKUP_MECHANISMS = ("include", "a", "mx", "ptr", "exists")


def spf_records(values: tuple[str, ...] | list[str]) -> list[str]:
    """The TXT values that are SPF records (``v=spf1`` alone or followed by a space, §4.5)."""
    out = []
    for value in values:
        low = value.lower()
        if low == "v=spf1" or low.startswith("v=spf1 "):
            out.append(value)
    return out


def terms(record: str) -> list[str]:
    return record.split()[1:]


def normalise(record: str) -> list[str]:
    """Terms, lowercased, for comparing a found record with the model's."""
    return sorted(t.lower() for t in record.split())


@dataclass
class Tally:
    """What evaluating one record (and everything under it) costs and finds."""

    lookups: int = 0
    voids: int = 0
    findings: list[res.Finding] = field(default_factory=list)
    includes: set[str] = field(default_factory=set)
    void_terms: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.lookups += other.lookups
        self.voids += other.voids
        self.findings.extend(other.findings)
        self.includes |= other.includes
        self.void_terms.extend(other.void_terms)


def _failed(term: str, lookup: Lookup) -> res.Finding:
    severity = res.SEV_TIMEOUT if lookup.status == "timeout" else res.SEV_UNDECIDED
    return res.Finding(
        severity,
        "spf-lookup-failed",
        f"cannot count SPF lookups: {term}: {lookup.describe()}",
        "RFC 7208 §4.6.4",
    )


@dataclass(frozen=True, slots=True)
class Term:
    text: str
    kind: str  # include | a | mx | ptr | exists | redirect | all | ip | modifier | syntax
    qualifier: str = ""
    target: str = ""  # the name a lookup asks for ('' when none or a macro)


@functools.lru_cache(maxsize=8192)
def parse_terms(domain: str, record: str) -> tuple[Term, ...]:
    """The record's terms, with each lookup's target resolved against ``domain``."""
    out: list[Term] = []
    for text in terms(record):
        match = _MECHANISM.match(text)
        if match:
            qualifier, name, arg = match.group(1), match.group(2).lower(), match.group(3) or ""
            spec = arg[1:].split("/", 1)[0].lower().rstrip(".") if arg.startswith(":") else ""
            if name in ("ip4", "ip6"):
                out.append(Term(text, "ip", qualifier))
            elif name in ("a", "mx"):
                out.append(Term(text, name, qualifier, spec or domain))
            else:
                out.append(Term(text, name, qualifier, spec))
            continue
        modifier = _MODIFIER.match(text)
        if modifier:
            if modifier.group(1).lower() == "redirect":
                out.append(Term(text, "redirect", "", modifier.group(2).lower().rstrip(".")))
            else:
                out.append(Term(text, "modifier"))
            continue
        out.append(Term(text, "syntax"))
    return tuple(out)


def _redirect_applies(parsed: tuple[Term, ...]) -> bool:
    return not any(t.kind == "all" for t in parsed)


class SpfEvaluator:
    """Counts SPF lookups live, in two phases per record.

    1. ``_prefetch`` asks (concurrently, level by level) every name the include/redirect tree
       needs; the resolver's cache coalesces what other records already asked.
    2. ``_tally`` walks the tree synchronously from the cache. The tally of each include or
       redirect target is memoised for the run: Mailgun's tree is counted once.
    """

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self._memo: dict[tuple[str, str], Tally] = {}

    async def evaluate(self, domain: str, record: str) -> tuple[Tally, list[tuple[str, int]]]:
        """The tally of ``record`` published at ``domain`` and the cost of each top-level term."""
        domain = domain.lower()
        await self._prefetch(domain, record)
        return self._tally(domain, record, (domain,), top=True)

    async def _prefetch(self, domain: str, record: str) -> None:
        seen = {domain}
        frontier = [(domain, record)]
        depth = 0
        while frontier and depth <= MAX_DEPTH:
            wanted: list[tuple[str, str]] = []
            targets: list[str] = []
            for name, rec in frontier:
                parsed = parse_terms(name, rec)
                for term in parsed:
                    if not term.target or "%" in term.target:
                        continue
                    if term.kind in ("include", "redirect"):
                        if term.kind == "redirect" and not _redirect_applies(parsed):
                            continue
                        if term.target in seen or (term.kind, term.target) in self._memo:
                            continue
                        seen.add(term.target)
                        wanted.append((term.target, "TXT"))
                        targets.append(term.target)
                    elif term.kind in ("a", "exists"):
                        wanted.append((term.target, "A"))
                    elif term.kind == "mx":
                        wanted.append((term.target, "MX"))
            pending = [f for f in (self.resolver.ensure(n, t) for n, t in wanted) if not f.done()]
            if pending:
                await asyncio.wait(pending)
            frontier = []
            for target in targets:
                lookup = self.resolver.peek(target, "TXT")
                if lookup is not None and lookup.ok:
                    records = spf_records(lookup.values)
                    if len(records) == 1:
                        frontier.append((target, records[0]))
            depth += 1

    def _lookup(self, name: str, rdtype: str) -> Lookup:
        found = self.resolver.peek(name, rdtype)
        if found is None:  # not prefetched: deeper than MAX_DEPTH
            return Lookup(name, rdtype, "error", detail="not resolved (include tree too deep)")
        return found

    def _target(self, term: Term, depth: int, chain: tuple[str, ...]) -> Tally:
        """An include or redirect target: one SPF record, walked; else a permerror."""
        key = (term.kind, term.target)
        memo = self._memo.get(key)
        if memo is not None:
            return memo
        label = f"{term.kind}:{term.target}" if term.kind == "include" else f"redirect={term.target}"
        tally = Tally()
        target = term.target
        if target in chain:
            tally.findings.append(
                res.Finding(
                    res.SEV_ERROR, "spf-loop", f"{label}: include loop through {target}", "RFC 7208 §4.6.4"
                )
            )
            return tally
        if "%" in target:
            return tally  # macro: cannot be expanded without a client
        section = "RFC 7208 §5.2" if term.kind == "include" else "RFC 7208 §6.1"
        lookup = self._lookup(target, "TXT")
        if lookup.failed:
            tally.findings.append(_failed(label, lookup))
        else:
            records = spf_records(lookup.values) if lookup.ok else []
            if lookup.missing:
                tally.voids += 1
                tally.void_terms.append(label)
            if not records:
                why = (
                    f"{lookup.describe()}, a void lookup"
                    if lookup.missing
                    else f"{target} has TXT records but none is v=spf1"
                )
                tally.findings.append(
                    res.Finding(
                        res.SEV_ERROR,
                        "spf-include-none",
                        f"{label}: {why}; check_host() returns permerror for the whole record",
                        section,
                    )
                )
            elif len(records) > 1:
                tally.findings.append(
                    res.Finding(
                        res.SEV_ERROR,
                        "spf-include-multiple",
                        f"{label}: {target} publishes {len(records)} SPF records (permerror)",
                        "RFC 7208 §4.5",
                    )
                )
            elif depth + 1 > MAX_DEPTH:
                tally.findings.append(
                    res.Finding(
                        res.SEV_ERROR, "spf-too-deep", f"{label}: includes nested deeper than {MAX_DEPTH}"
                    )
                )
            else:
                sub, _ = self._tally(target, records[0], (*chain, target), top=False, depth=depth + 1)
                tally.add(sub)
        if not any(f.code == "spf-loop" for f in tally.findings):
            self._memo[key] = tally
        return tally

    def _address(self, term: Term) -> Tally:
        """An ``a``/``mx``/``exists`` lookup: only its void-ness matters for the limits."""
        tally = Tally()
        if not term.target or "%" in term.target:
            return tally
        lookup = self._lookup(term.target, "MX" if term.kind == "mx" else "A")
        if lookup.failed:
            tally.findings.append(_failed(term.text, lookup))
        elif lookup.missing:
            tally.voids += 1
            tally.void_terms.append(term.text)
        return tally

    def _tally(
        self, domain: str, record: str, chain: tuple[str, ...], *, top: bool, depth: int = 0
    ) -> tuple[Tally, list[tuple[str, int]]]:
        tally = Tally()
        costs: list[tuple[str, int]] = []
        parsed = parse_terms(domain, record)
        for term in parsed:
            kind = term.kind
            if kind == "all":
                if top and term.qualifier in ("+", "?"):
                    tally.findings.append(
                        res.Finding(
                            res.SEV_WARNING,
                            "spf-weak-all",
                            f"'{term.text}' {'lets anyone send' if term.qualifier == '+' else 'asserts nothing'}"
                            " for this domain",
                            "RFC 7208 §5.1",
                        )
                    )
                continue
            if kind == "syntax":
                tally.findings.append(
                    res.Finding(
                        res.SEV_ERROR,
                        "spf-syntax",
                        f"unknown term '{term.text}' at {domain}",
                        "RFC 7208 §4.6",
                    )
                )
                continue
            if kind not in (*LOOKUP_MECHANISMS, "redirect"):
                continue
            if kind == "redirect" and not _redirect_applies(parsed):
                continue
            sub = Tally()
            if kind == "include":
                if not term.target:
                    tally.findings.append(
                        res.Finding(
                            res.SEV_ERROR, "spf-syntax", f"'{term.text}' has no domain", "RFC 7208 §5.2"
                        )
                    )
                    continue
                tally.includes.add(term.target)
                sub = self._target(term, depth, chain)
            elif kind == "redirect":
                sub = self._target(term, depth, chain)
            elif kind in ("a", "mx", "exists"):
                sub = self._address(term)
            elif kind == "ptr":
                tally.findings.append(
                    res.Finding(
                        res.SEV_ERROR,
                        "spf-ptr",
                        f"'{term.text}' at {domain}: the ptr mechanism should not be used (slow, unreliable)",
                        "RFC 7208 §5.5",
                    )
                )
            tally.lookups += 1
            tally.add(sub)
            costs.append((term.text, 1 + sub.lookups))
        return tally, costs


async def check(
    record: res.RecordResult,
    lookup: Lookup,
    expected: str | None,
    mailgun_include: str,
    evaluator: SpfEvaluator,
    domain: str,
    dedicated: tuple[str, ...] = (),
) -> None:
    """Fill ``record`` (status ok/missing/wrong/timeout/error, findings) for an SPF name.

    With ``dedicated`` (the tenant's Mailgun dedicated IPs) the record must not include
    Mailgun's shared tree: each dedicated IP must pass, and an address of Mailgun's shared
    ranges (another Mailgun customer) must not (``spf_eval``)."""
    if expected:
        record.expected = [expected]
    if record.undecided_by(lookup):
        return
    found = spf_records(lookup.values) if lookup.ok else []
    record.found = list(found)
    if not found:
        record.status = res.MISSING
        record.message = (
            lookup.describe()
            if lookup.missing
            else f"no v=spf1 record among {len(lookup.values)} TXT record(s)"
        )
        return
    if len(found) > 1:
        record.wrong(
            "spf-multiple",
            f"{len(found)} SPF records at {domain}; exactly one is allowed (permerror)",
            "RFC 7208 §3.2, §4.5",
        )
        return
    value = found[0]
    record.status = res.OK
    if expected and normalise(value) != normalise(expected):
        record.status = res.WRONG
        record.message = "SPF record differs from the model"
    if len(value.encode()) > MAX_RECORD_OCTETS:
        record.findings.append(
            res.Finding(
                res.SEV_ERROR,
                "spf-too-long",
                f"SPF record is {len(value.encode())} octets, over {MAX_RECORD_OCTETS}",
                "RFC 7208 §3.4",
            )
        )
    tally, costs = await evaluator.evaluate(domain, value)
    record.findings.extend(tally.findings)
    if dedicated:
        await _dedicated(record, evaluator, domain, mailgun_include, dedicated, tally.includes)
    elif mailgun_include not in tally.includes and not any(
        f.severity == res.SEV_TIMEOUT for f in tally.findings
    ):
        record.findings.append(
            res.Finding(
                res.SEV_ERROR,
                "spf-no-mailgun",
                f"SPF record does not include {mailgun_include}: Mailgun's mail will fail SPF",
            )
        )
    undecided = any(f.severity in (res.SEV_TIMEOUT, res.SEV_UNDECIDED) for f in tally.findings)
    if tally.lookups > MAX_LOOKUPS:
        detail = ", ".join(f"{t}={c}" for t, c in costs)
        record.findings.append(
            res.Finding(
                res.SEV_ERROR,
                "spf-too-many-lookups",
                f"SPF needs {'at least ' if undecided else ''}{tally.lookups} DNS lookups, over the limit of "
                f"{MAX_LOOKUPS} ({detail})",
                "RFC 7208 §4.6.4",
            )
        )
    if tally.voids > MAX_VOID_LOOKUPS:
        record.findings.append(
            res.Finding(
                res.SEV_ERROR,
                "spf-void-lookups",
                f"SPF makes {tally.voids} void lookups, over the limit of {MAX_VOID_LOOKUPS} "
                f"({', '.join(tally.void_terms)})",
                "RFC 7208 §4.6.4",
            )
        )
    record.details.update({"lookups": tally.lookups, "void_lookups": tally.voids})
    record.apply_findings()


async def _dedicated(
    record: res.RecordResult,
    evaluator: SpfEvaluator,
    domain: str,
    mailgun_include: str,
    dedicated: tuple[str, ...],
    includes: set[str] | list[str] | tuple[str, ...],
) -> None:
    from mailfleet.check.spf_eval import check_host, first_address

    resolver = evaluator.resolver
    if mailgun_include in includes:
        record.findings.append(
            res.Finding(
                res.SEV_ERROR,
                "spf-mailgun-shared",
                f"the tenant sends from dedicated IPs, but its SPF record still includes {mailgun_include}: "
                "every Mailgun customer passes SPF for this domain",
            )
        )
    for ip in dedicated:
        result = await check_host(resolver, ip, domain)
        if result != "pass":
            severity = res.SEV_UNDECIDED if result in (None, "temperror") else res.SEV_ERROR
            record.findings.append(
                res.Finding(
                    severity,
                    "spf-dedicated-ip-fails",
                    f"the dedicated IP {ip} gets SPF {result or 'no verdict'}, not pass",
                    "RFC 7208 §4",
                )
            )
    stranger = await first_address(resolver, mailgun_include, set(dedicated))
    if stranger is None:
        record.findings.append(
            res.Finding(
                res.SEV_UNDECIDED,
                "spf-stranger-unknown",
                f"could not read an address of {mailgun_include}'s SPF tree to test a stranger with",
            )
        )
        return
    result = await check_host(resolver, stranger, domain)
    record.details.update({"stranger_ip": stranger, "stranger_result": result})
    if result == "pass":
        record.findings.append(
            res.Finding(
                res.SEV_ERROR,
                "spf-stranger-passes",
                f"{stranger}, an address of Mailgun's shared ranges (another Mailgun customer), passes SPF",
                "RFC 7208 §4",
            )
        )
    elif result in (None, "temperror"):
        record.findings.append(
            res.Finding(
                res.SEV_UNDECIDED,
                "spf-stranger-unknown",
                f"no SPF verdict for {stranger} ({result or 'a macro'})",
            )
        )
