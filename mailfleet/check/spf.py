"""SPF lint on the live record (RFC 7208), with the include tree resolved live.

Rules (each finding names its section):
- exactly one ``v=spf1`` record at the name (§3.2, §4.5: two records are a permerror);
- the record includes the region's Mailgun include (``include:mailgun.org``), directly or
  through a nested include (Mailgun's requirement, not an RFC rule);
- at most 10 DNS-querying terms (``include a mx ptr exists redirect``), counted recursively
  through includes and redirects (§4.6.4);
- at most 2 void lookups (a query answered NXDOMAIN or with no records) (§4.6.4);
- an include or redirect target without exactly one SPF record is a permerror (§5.2, §6.1);
- no ``ptr`` (§5.5: "SHOULD NOT be used"; treated as an error here, as DESIGN.md says);
- the record is at most 450 octets (§3.4);
- ``+all`` lets anyone send, ``?all`` says nothing: warnings (§5.1).
A DNS timeout or error while counting gives a ``timeout``/``undecided`` finding: the count is
unknown, never guessed.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

from mailfleet.check import result as res
from mailfleet.check.resolver import Lookup, Resolver
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


class SpfEvaluator:
    """Walks SPF include/redirect trees live; DNS answers come from the run's shared cache."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver

    async def evaluate(self, domain: str, record: str) -> tuple[Tally, list[tuple[str, int]]]:
        """The tally of ``record`` published at ``domain`` and the cost of each top-level term."""
        return await self._walk(domain, record, 0, (domain.lower(),), top=True)

    async def _target(self, term: str, target: str, depth: int, chain: tuple[str, ...], kind: str) -> Tally:
        """An include or redirect target: one SPF record, walked; else a permerror."""
        tally = Tally()
        if target in chain:
            tally.findings.append(
                res.Finding(
                    res.SEV_ERROR, "spf-loop", f"{term}: include loop through {target}", "RFC 7208 §4.6.4"
                )
            )
            return tally
        if "%" in target:
            return tally  # macro: cannot be expanded without a client
        lookup = await self.resolver.txt(target)
        section = "RFC 7208 §5.2" if kind == "include" else "RFC 7208 §6.1"
        if lookup.failed:
            tally.findings.append(_failed(term, lookup))
            return tally
        records = spf_records(lookup.values) if lookup.ok else []
        if lookup.missing:
            tally.voids += 1
            tally.void_terms.append(term)
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
                    f"{term}: {why}; check_host() returns permerror for the whole record",
                    section,
                )
            )
            return tally
        if len(records) > 1:
            tally.findings.append(
                res.Finding(
                    res.SEV_ERROR,
                    "spf-include-multiple",
                    f"{term}: {target} publishes {len(records)} SPF records (permerror)",
                    "RFC 7208 §4.5",
                )
            )
            return tally
        if depth + 1 > MAX_DEPTH:
            tally.findings.append(
                res.Finding(res.SEV_ERROR, "spf-too-deep", f"{term}: includes nested deeper than {MAX_DEPTH}")
            )
            return tally
        sub, _ = await self._walk(target, records[0], depth + 1, (*chain, target), top=False)
        tally.add(sub)
        return tally

    async def _address(self, term: str, name: str, rdtype: str) -> Tally:
        """An ``a``/``mx``/``exists`` lookup: only its void-ness matters for the limits."""
        tally = Tally()
        if "%" in name:
            return tally
        lookup = await self.resolver.lookup(name, rdtype)
        if lookup.failed:
            tally.findings.append(_failed(term, lookup))
        elif lookup.missing:
            tally.voids += 1
            tally.void_terms.append(term)
        return tally

    async def _walk(
        self, domain: str, record: str, depth: int, chain: tuple[str, ...], *, top: bool
    ) -> tuple[Tally, list[tuple[str, int]]]:
        tally = Tally()
        jobs: list[tuple[str, asyncio.Future[Tally] | None]] = []
        has_all = False
        redirect: str | None = None
        loop = asyncio.get_running_loop()
        for term in terms(record):
            match = _MECHANISM.match(term)
            if match:
                qualifier, name, arg = match.group(1), match.group(2).lower(), match.group(3) or ""
                spec = arg[1:].split("/", 1)[0].lower() if arg.startswith(":") else ""
                if name == "all":
                    has_all = True
                    if top and qualifier in ("+", "?"):
                        tally.findings.append(
                            res.Finding(
                                res.SEV_WARNING,
                                "spf-weak-all",
                                f"'{term}' {'lets anyone send' if qualifier == '+' else 'asserts nothing'}"
                                " for this domain",
                                "RFC 7208 §5.1",
                            )
                        )
                    continue
                if name not in LOOKUP_MECHANISMS:
                    continue
                job: asyncio.Future[Tally] | None = None
                if name == "include":
                    if not spec:
                        tally.findings.append(
                            res.Finding(
                                res.SEV_ERROR, "spf-syntax", f"'{term}' has no domain", "RFC 7208 §5.2"
                            )
                        )
                        continue
                    tally.includes.add(spec)
                    job = loop.create_task(self._target(term, spec, depth, chain, "include"))
                elif name == "a":
                    job = loop.create_task(self._address(term, spec or domain, "A"))
                elif name == "mx":
                    job = loop.create_task(self._address(term, spec or domain, "MX"))
                elif name == "exists":
                    job = loop.create_task(self._address(term, spec, "A")) if spec else None
                elif name == "ptr":
                    tally.findings.append(
                        res.Finding(
                            res.SEV_ERROR,
                            "spf-ptr",
                            f"'{term}' at {domain}: the ptr mechanism should not be used (slow, unreliable)",
                            "RFC 7208 §5.5",
                        )
                    )
                jobs.append((term, job))
                continue
            modifier = _MODIFIER.match(term)
            if modifier:
                if modifier.group(1).lower() == "redirect":
                    redirect = modifier.group(2).lower()
                continue
            tally.findings.append(
                res.Finding(
                    res.SEV_ERROR, "spf-syntax", f"unknown term '{term}' at {domain}", "RFC 7208 §4.6"
                )
            )
        if redirect and not has_all:
            jobs.append(
                (
                    f"redirect={redirect}",
                    loop.create_task(self._target("redirect", redirect, depth, chain, "redirect")),
                )
            )
        costs: list[tuple[str, int]] = []
        results = await asyncio.gather(*(j for _, j in jobs if j is not None))
        it = iter(results)
        for term, job in jobs:
            sub = next(it) if job is not None else Tally()
            tally.lookups += 1
            tally.add(sub)
            costs.append((term, 1 + sub.lookups))
        return tally, costs


async def check(
    record: res.RecordResult,
    lookup: Lookup,
    expected: str | None,
    mailgun_include: str,
    evaluator: SpfEvaluator,
    domain: str,
) -> None:
    """Fill ``record`` (status ok/missing/wrong/timeout/error, findings) for an SPF name."""
    if expected:
        record.expected = [expected]
    if lookup.failed:
        record.status = res.TIMEOUT if lookup.status == "timeout" else res.ERROR
        record.message = lookup.describe()
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
        record.status = res.WRONG
        record.message = f"{len(found)} SPF records at {domain}; exactly one is allowed (permerror)"
        record.findings.append(
            res.Finding(res.SEV_ERROR, "spf-multiple", record.message, "RFC 7208 §3.2, §4.5")
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
    if mailgun_include not in tally.includes and not any(
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
