"""DMARC lint on the live policy record (RFC 7489; DMARCbis RFC 9989-9991).

Rules:
- exactly one record starting with ``v=DMARC1`` at ``_dmarc.<domain>`` (§6.6.3: records not
  starting with it are discarded; several records mean no policy at all);
- ``p`` present (§6.3) and one of none/quarantine/reject; ``sp``, ``adkim``, ``aspf``,
  ``pct`` valid when present; ``p`` not right after ``v`` is a warning (RFC 7489 §6.4's grammar
  wants it there, DMARCbis does not);
- ``rua``/``ruf`` are ``mailto:`` URIs (§6.2, and the only scheme receivers act on);
- a report destination in another organisational domain (§3.2, Public Suffix List)
  publishes ``<domain>._report._dmarc.<destination>`` TXT ``v=DMARC1`` (§7.1), checked live;
- warnings: ``p=none`` (monitoring only), ``pct``/``rf``/``ri`` (historic in DMARCbis).
"""

from __future__ import annotations

import asyncio
import functools

from mailfleet.check import result as res
from mailfleet.dns.resolver import Lookup, Resolver
from mailfleet.model import names
from mailfleet.records.dmarc import authorisation_name

POLICIES = ("none", "quarantine", "reject")
HISTORIC_TAGS = ("pct", "rf", "ri")
KNOWN_TAGS = ("v", "p", "sp", "rua", "ruf", "adkim", "aspf", "fo", "pct", "rf", "ri", "np", "psd", "t")


def parse(value: str) -> list[tuple[str, str]]:
    """Tag/value pairs in order; tags lowercased, values stripped."""
    out = []
    for part in value.split(";"):
        if not part.strip():
            continue
        key, sep, val = part.partition("=")
        out.append((key.strip().lower(), val.strip() if sep else ""))
    return out


def is_dmarc(value: str) -> bool:
    """Does the record start with ``v=DMARC1`` (§6.6.3)?"""
    tags = parse(value)
    return bool(tags) and tags[0][0] == "v" and tags[0][1] == "DMARC1"


def mentions_dmarc(value: str) -> bool:
    return any(k == "v" and v.upper() == "DMARC1" for k, v in parse(value))


def _canonical(value: str) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, val in parse(value):
        if key in ("rua", "ruf"):
            out[key] = frozenset(u.strip().lower() for u in val.split(",") if u.strip())
        else:
            out[key] = val.lower()
    return out


@functools.lru_cache(maxsize=65536)
def organisational_domain(name: str) -> str:
    return names.organisational_domain(name.lower())


def uri_domain(uri: str) -> str | None:
    """The domain of a ``mailto:`` URI, or None when it is not one."""
    if not uri.lower().startswith("mailto:"):
        return None
    address = uri[len("mailto:") :].split("!", 1)[0]
    local, at, domain = address.rpartition("@")
    if not at or not local or "." not in domain:
        return None
    return domain.lower().rstrip(".")


async def check(
    record: res.RecordResult,
    lookup: Lookup,
    expected: str | None,
    resolver: Resolver,
    domain: str,
) -> None:
    """Fill ``record`` for ``_dmarc.<domain>``."""
    if expected:
        record.expected = [expected]
    if record.undecided_by(lookup):
        return
    values = list(lookup.values) if lookup.ok else []
    found = [v for v in values if is_dmarc(v)]
    misplaced = [v for v in values if not is_dmarc(v) and mentions_dmarc(v)]
    record.found = found + misplaced
    if not found:
        if misplaced:
            record.wrong(
                "dmarc-version-first",
                "v=DMARC1 is not the first tag: receivers discard the record",
                "RFC 7489 §6.4",
            )
        else:
            record.status = res.MISSING
            record.message = lookup.describe() if lookup.missing else f"no v=DMARC1 record at {record.name}"
        return
    if len(found) > 1:
        record.wrong(
            "dmarc-multiple",
            f"{len(found)} DMARC records at {record.name}: receivers apply no policy at all",
            "RFC 7489 §6.6.3",
        )
        return
    value = found[0]
    record.status = res.OK
    if expected and _canonical(value) != _canonical(expected):
        record.status = res.WRONG
        record.message = "DMARC record differs from the model"
    findings = record.findings
    tags = parse(value)
    tagmap = dict(tags)
    policy = tagmap.get("p")
    if policy is None:
        findings.append(
            res.Finding(
                res.SEV_ERROR, "dmarc-no-policy", "no p= tag: the record sets no policy", "RFC 7489 §6.3"
            )
        )
    else:
        record.details["policy"] = policy
        if policy.lower() not in POLICIES:
            findings.append(
                res.Finding(
                    res.SEV_ERROR,
                    "dmarc-bad-policy",
                    f"p={policy} is not none/quarantine/reject",
                    "RFC 7489 §6.3",
                )
            )
        elif len(tags) < 2 or tags[1][0] != "p":
            findings.append(
                res.Finding(
                    res.SEV_WARNING,
                    "dmarc-policy-second",
                    "p= does not directly follow v=DMARC1 (RFC 7489's grammar; DMARCbis allows any order)",
                    "RFC 7489 §6.4",
                )
            )
        if policy.lower() == "none":
            findings.append(
                res.Finding(
                    res.SEV_WARNING,
                    "dmarc-p-none",
                    "p=none only monitors: receivers take no action on failing mail",
                    "RFC 7489 §6.3",
                )
            )
    sp = tagmap.get("sp")
    if sp is not None and sp.lower() not in POLICIES:
        findings.append(
            res.Finding(
                res.SEV_ERROR, "dmarc-bad-sp", f"sp={sp} is not none/quarantine/reject", "RFC 7489 §6.3"
            )
        )
    for tag in ("adkim", "aspf"):
        if tag in tagmap and tagmap[tag].lower() not in ("r", "s"):
            findings.append(
                res.Finding(
                    res.SEV_ERROR, f"dmarc-bad-{tag}", f"{tag}={tagmap[tag]} is not r or s", "RFC 7489 §6.3"
                )
            )
    if "pct" in tagmap and not (tagmap["pct"].isdigit() and 0 <= int(tagmap["pct"]) <= 100):
        findings.append(
            res.Finding(res.SEV_ERROR, "dmarc-bad-pct", f"pct={tagmap['pct']} is not 0-100", "RFC 7489 §6.3")
        )
    for tag in HISTORIC_TAGS:
        if tag in tagmap:
            findings.append(
                res.Finding(
                    res.SEV_WARNING,
                    f"dmarc-historic-{tag}",
                    f"{tag}= is historic in DMARCbis and ignored by updated receivers",
                    "RFC 9989",
                )
            )
    unknown = [k for k, _ in tags if k not in KNOWN_TAGS]
    if unknown:
        findings.append(
            res.Finding(
                res.SEV_WARNING, "dmarc-unknown-tag", f"unknown tag(s): {', '.join(unknown)}", "RFC 7489 §6.3"
            )
        )
    destinations: list[str] = []
    for tag in ("rua", "ruf"):
        if tag not in tagmap:
            continue
        for uri in (u.strip() for u in tagmap[tag].split(",")):
            if not uri:
                continue
            dest = uri_domain(uri)
            if dest is None:
                findings.append(
                    res.Finding(
                        res.SEV_ERROR,
                        "dmarc-bad-uri",
                        f"{tag}: {uri!r} is not a mailto: URI",
                        "RFC 7489 §6.2",
                    )
                )
                continue
            if organisational_domain(dest) != organisational_domain(domain) and dest not in destinations:
                destinations.append(dest)
    if destinations:
        names_ = [authorisation_name(domain, d) for d in destinations]
        lookups = await asyncio.gather(*(resolver.txt(n) for n in names_))
        for dest, name, auth in zip(destinations, names_, lookups, strict=True):
            if auth.failed:
                findings.append(
                    res.Finding(
                        res.SEV_TIMEOUT if auth.status == "timeout" else res.SEV_UNDECIDED,
                        "dmarc-auth-unknown",
                        f"cannot tell whether {dest} accepts reports for {domain}: {auth.describe()}",
                        "RFC 7489 §7.1",
                    )
                )
            elif not any(is_dmarc(v) or v.strip().upper().startswith("V=DMARC1") for v in auth.values):
                findings.append(
                    res.Finding(
                        res.SEV_ERROR,
                        "dmarc-report-unauthorised",
                        f"reports for {domain} go to {dest}, which does not authorise them: "
                        f"no v=DMARC1 TXT at {name}",
                        "RFC 7489 §7.1",
                    )
                )
    record.apply_findings()


def check_authorisation(record: res.RecordResult, lookup: Lookup, expected: str) -> None:
    """A ``<domain>._report._dmarc.<dest>`` record we publish: a TXT starting ``v=DMARC1``."""
    record.expected = [expected]
    if record.undecided_by(lookup):
        return
    if lookup.missing:
        record.status = res.MISSING
        record.message = lookup.describe()
        return
    record.found = list(lookup.values)
    if any(v.strip().upper().startswith("V=DMARC1") for v in lookup.values):
        record.status = res.OK
    else:
        record.status = res.WRONG
        record.message = "no TXT starting with v=DMARC1"
