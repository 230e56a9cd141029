"""The ``adopted.dns`` snapshot made from what was found, and its drift against the stored one.

Contract:
- ``refusals(live)``: two SPF records at one name (RFC 7208 §3.2) or two DMARC records (RFC
  7489 §6.6.3) cannot be adopted: one problem each, saying to delete all but one first.
- ``snapshot(live, source, taken_at, previous, published)``: a ``DnsAdoption`` with one record
  per (name, type) that holds values (NXDOMAIN/NODATA: nothing adopted there). Values are
  ordered SPF and DMARC first, then by value (DNS gives RRsets in any order, so the file does
  not change with it); Cloudflare ids follow their values.
- Adopting again after ``pulumi up``: with a stored snapshot, a live value that mailfleet itself
  publishes (the desired state built from that snapshot: the merged SPF and DMARC, the tracking
  CNAME) and that the snapshot does not hold stands for the original values it replaced; at the
  DKIM name (Mailgun's key, unknown offline) the stored record stays. So what mailfleet wrote is
  never recorded as the customer's, and the drift is only what the customer changed.
- ``drift(previous, new)``: per name and type, the values added and removed, and those
  changed (an SPF, DMARC or CNAME value replaced by another). ``same(previous, new)``: equal
  but for ``taken_at`` and ``source``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mailfleet.adopt.live import LiveRRset
from mailfleet.desired.state import DnsRecord
from mailfleet.errors import Problem
from mailfleet.model.adoption import AdoptedRecord, DnsAdoption, is_dmarc, is_spf


@dataclass(frozen=True, slots=True)
class Published:
    """What mailfleet publishes at one (name, type), and the adopted values it replaces."""

    values: tuple[str, ...]
    original: tuple[str, ...]
    from_mailgun: bool


@dataclass(frozen=True, slots=True)
class Drift:
    """How the values at one (name, type) differ from the stored snapshot."""

    name: str
    type: str
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (was, now)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": [{"from": a, "to": b} for a, b in self.changed],
        }


def iso(moment: datetime) -> str:
    """``2026-11-29T20:00:00Z``: the time in UTC, to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def published_by(records: Iterable[DnsRecord]) -> dict[tuple[str, str], Published]:
    """What the desired state publishes at each (name, type) of ``records``."""
    return {
        (r.name, r.type): Published(
            tuple(r.values), tuple(r.adopted.original) if r.adopted is not None else (), r.from_mailgun
        )
        for r in records
    }


def refusals(live: Iterable[LiveRRset]) -> list[Problem]:
    problems = []
    for rr in live:
        if rr.type != "TXT":
            continue
        spf = [v for v in rr.values if is_spf(v)]
        if len(spf) > 1:
            problems.append(
                Problem(
                    f"{rr.name} TXT",
                    "",
                    f"{len(spf)} SPF records ({' | '.join(spf)}); RFC 7208 §3.2 allows one and receivers "
                    "answer permerror: delete all but one first, then adopt again",
                )
            )
        dmarc = [v for v in rr.values if is_dmarc(v)]
        if len(dmarc) > 1:
            problems.append(
                Problem(
                    f"{rr.name} TXT",
                    "",
                    f"{len(dmarc)} DMARC records ({' | '.join(dmarc)}); RFC 7489 §6.6.3 ignores them all: "
                    "delete all but one first, then adopt again",
                )
            )
    return problems


def _order(pairs: dict[str, str | None]) -> list[tuple[str, str | None]]:
    return sorted(pairs.items(), key=lambda kv: (not (is_spf(kv[0]) or is_dmarc(kv[0])), kv[0]))


def _as_adopted(
    rr: LiveRRset, before: AdoptedRecord | None, published: Published | None
) -> dict[str, str | None]:
    """Value -> Cloudflare id of what ``rr`` stands for, with mailfleet's own values mapped back."""
    if published is not None and published.from_mailgun:
        return (
            dict(zip(before.values, before.ids or [None] * len(before.values), strict=True)) if before else {}
        )
    held = set(before.values) if before is not None else set()
    out: dict[str, str | None] = {}
    for value in rr.values:
        rid = rr.id_of(value)
        if published is not None and value in published.values and value not in held:
            for original in published.original:
                # Cloudflare: one record per value, updated in place, so the id stays the same.
                out.setdefault(original, rid if len(published.original) == 1 else None)
            continue
        out.setdefault(value, rid)
    return out


def snapshot(
    live: Iterable[LiveRRset],
    source: str,
    taken_at: str,
    previous: DnsAdoption | None = None,
    published: dict[tuple[str, str], Published] | None = None,
) -> DnsAdoption:
    """The block for what was found (see the module docstring)."""
    records = []
    for rr in live:
        if previous is not None:
            pairs = _as_adopted(
                rr, previous.find(rr.name, rr.type), (published or {}).get((rr.name, rr.type))
            )
        else:
            pairs = {v: rr.id_of(v) for v in rr.values}
        if not pairs:
            continue
        ordered = _order(pairs)
        ids = [rid for _, rid in ordered]
        records.append(
            AdoptedRecord(
                name=rr.name,
                type=rr.type,  # type: ignore[arg-type]
                values=[v for v, _ in ordered],
                ids=[str(i) for i in ids] if ids and all(ids) else [],
                ttl=rr.ttl,
            )
        )
    return DnsAdoption(taken_at=taken_at, source=source, records=records)


def _key(dns: DnsAdoption) -> dict[tuple[str, str], tuple[frozenset[tuple[str, str | None]], int | None]]:
    return {(r.name, r.type): (frozenset((v, r.id_of(v)) for v in r.values), r.ttl) for r in dns.records}


def same(previous: DnsAdoption | None, new: DnsAdoption) -> bool:
    return previous is not None and _key(previous) == _key(new)


def _pairs(removed: list[str], added: list[str]) -> list[tuple[str, str]]:
    """Removed and added values of one kind (SPF, DMARC) that replace each other."""
    changed = []
    for kind in (is_spf, is_dmarc):
        was = [v for v in removed if kind(v)]
        now = [v for v in added if kind(v)]
        if len(was) == 1 and len(now) == 1:
            changed.append((was[0], now[0]))
    return changed


def drift(previous: DnsAdoption | None, new: DnsAdoption) -> list[Drift]:
    """Per (name, type), what changed since ``previous`` (empty without one)."""
    if previous is None:
        return []
    keys = list(
        dict.fromkeys(
            [*((r.name, r.type) for r in previous.records), *((r.name, r.type) for r in new.records)]
        )
    )
    out = []
    for name, type_ in keys:
        was_rec, now_rec = previous.find(name, type_), new.find(name, type_)
        was = list(was_rec.values) if was_rec else []
        now = list(now_rec.values) if now_rec else []
        removed = [v for v in was if v not in now]
        added = [v for v in now if v not in was]
        if not removed and not added:
            continue
        changed = _pairs(removed, added)
        if type_ == "CNAME" and len(removed) == 1 and len(added) == 1:
            changed = [(removed[0], added[0])]
        gone = {a for a, _ in changed}
        came = {b for _, b in changed}
        out.append(
            Drift(
                name,
                type_,
                tuple(v for v in added if v not in came),
                tuple(v for v in removed if v not in gone),
                tuple(changed),
            )
        )
    return out
