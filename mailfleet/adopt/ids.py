"""Cloudflare record ids for what DNS serves: one Cloudflare record per value.

``with_ids(live, client, zone_id)`` lists the records at each (name, type) through the API
(``list_dns_records(zone, name=..., type=...)``) and matches them to the values DNS served by
value, never by string: a TXT ``content`` may be quoted, split or unquoted
(``mailfleet.cloudflare.txt.txt_value``). A value DNS serves that Cloudflare does not list, a
record Cloudflare lists that DNS does not serve (proxied, or not yet propagated), or two
Cloudflare records holding one value is a problem (``AdoptRefused``), not a guess. A failed API
call is a ``CloudflareFailed`` carrying the client's message, which never holds the token.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from mailfleet.adopt.live import AdoptRefused, LiveRRset
from mailfleet.cloudflare.client import CloudflareClient
from mailfleet.cloudflare.errors import CloudflareError
from mailfleet.cloudflare.txt import txt_value
from mailfleet.errors import MailfleetError, Problem


class CloudflareFailed(MailfleetError):
    """Cloudflare's API did not answer the listing (after the client's retries)."""


def _value(record: dict[str, Any], type_: str) -> str:
    content = record.get("content")
    if not isinstance(content, str):
        raise ValueError("the record has no content")
    if type_ == "TXT":
        return txt_value(content)
    return content.rstrip(".").lower()


def with_ids(live: list[LiveRRset], client: CloudflareClient, zone_id: str) -> list[LiveRRset]:
    """``live`` with the Cloudflare record id of each value (see the module docstring)."""
    out: list[LiveRRset] = []
    problems: list[Problem] = []
    for rr in live:
        where = f"{rr.name} {rr.type}"
        try:
            listed = client.list_dns_records(zone_id, name=rr.name, type=rr.type)
        except CloudflareError as exc:
            raise CloudflareFailed(
                problems=[
                    Problem(f"cloudflare zone {zone_id}", "", f"{exc}; nothing adopted, nothing written")
                ]
            ) from None
        by_value: dict[str, list[dict[str, Any]]] = {}
        for record in listed:
            if not isinstance(record.get("id"), str) or not record["id"]:
                problems.append(Problem(where, "", "Cloudflare listed a record without an id"))
                continue
            try:
                value = _value(record, rr.type)
            except ValueError as exc:
                problems.append(
                    Problem(where, "", f"Cloudflare record {record.get('id')}: unreadable content ({exc})")
                )
                continue
            by_value.setdefault(value, []).append(record)
        for value, records in by_value.items():
            if len(records) > 1:
                ids = ", ".join(str(r.get("id")) for r in records)
                problems.append(
                    Problem(
                        where,
                        "",
                        f"Cloudflare holds {len(records)} records with the value {value!r} ({ids}); "
                        "delete all but one first, then adopt again",
                    )
                )
            elif value not in rr.values:
                proxied = bool(records[0].get("proxied"))
                why = (
                    "it is proxied (DNS answers with Cloudflare's addresses); turn proxying off first"
                    if proxied
                    else "was it just changed? wait for its TTL, then adopt again"
                )
                problems.append(
                    Problem(
                        where,
                        "",
                        f"Cloudflare zone {zone_id} lists {value!r} (record {records[0].get('id')}) but DNS "
                        f"does not serve it: {why}",
                    )
                )
        for value in rr.values:
            if value not in by_value:
                problems.append(
                    Problem(
                        where,
                        "",
                        f"DNS serves {value!r} but Cloudflare zone {zone_id} lists no such record: is the "
                        "zone served by Cloudflare (and --nameserver one of its servers)? was it just changed?",
                    )
                )
        if problems:
            continue
        ids = tuple(str(by_value[v][0]["id"]) for v in rr.values)
        ttls = {by_value[v][0].get("ttl") for v in rr.values}
        ttl = next(iter(ttls)) if len(ttls) == 1 else None
        out.append(replace(rr, ids=ids, ttl=ttl if isinstance(ttl, int) and ttl >= 1 else None))
    if problems:
        raise AdoptRefused(problems=problems)
    return out
