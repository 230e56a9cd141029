"""What ``tenant adopt`` and ``tenant add --adopt`` print: text for people, JSON for scripts.

Both say what was found at each name and type (values, Cloudflare record ids), what mailfleet
will publish instead (the desired state built with the snapshot: the merged SPF and DMARC,
with the import id of each adopted record), for manual DNS what the customer replaces, and the
drift against the stored snapshot. The JSON document is versioned: ``"format":
"mailfleet-adopt/1"``; a change that removes or renames a key gets a new version.
"""

from __future__ import annotations

from typing import Any

from mailfleet.adopt.run import DRIFT, DRY_RUN, FORMAT, UNCHANGED, WRITTEN, AdoptResult
from mailfleet.desired.publish import DKIM_PLACEHOLDER
from mailfleet.desired.state import DnsRecord
from mailfleet.model.adoption import is_dmarc, is_spf

KIND = {"spf": "SPF", "dmarc": "DMARC", "dkim": "DKIM", "tracking": "tracking CNAME"}


def _published(result: AdoptResult) -> list[DnsRecord]:
    return result.state.customer_records


def manual_steps(result: AdoptResult) -> list[str]:
    """For ``dns: manual``: what the customer changes in their zone, one line each."""
    if result.provider != "manual":
        return []
    lines = []
    for r in _published(result):
        kind = KIND.get(r.purpose, r.purpose)
        if r.from_mailgun:
            value = f"{DKIM_PLACEHOLDER} (from Mailgun, after the first `pulumi up -s {result.stack.name}`)"
        else:
            value = " | ".join(r.values)
        replaced = r.adopted is not None and any(_is_kind(r.purpose, v) for v in r.adopted.original)
        if replaced:
            lines.append(f"Replace your {kind} record at {r.name} ({r.type}) with: {value}")
        else:
            lines.append(f"Add a {kind} record at {r.name} ({r.type}): {value}")
    return lines


def _is_kind(purpose: str, value: str) -> bool:
    """Whether an adopted ``value`` is the record of ``purpose`` (the apex holds others too)."""
    if purpose == "spf":
        return is_spf(value)
    if purpose == "dmarc":
        return is_dmarc(value)
    return True


def _note(r: DnsRecord) -> str:
    parts = [r.purpose]
    if r.adopted is not None:
        if r.adopted.import_id:
            parts.append(f"imports {r.adopted.import_id}")
        if r.adopted.original:
            parts.append("was: " + " | ".join(r.adopted.original))
    elif r.provider != "manual":
        parts.append("new record")
    return "; ".join(parts)


def text_lines(result: AdoptResult, table: Any, *, status_line: bool = True) -> list[str]:
    """The text report; ``table(header, rows, indent=...)`` lays out columns. ``status_line``:
    end with what happened to the file (``tenant add --adopt`` says it itself)."""
    snap = result.snapshot
    where = f"{result.provider} zone {result.zone_id}" if result.zone_id else "manual DNS"
    lines = [
        f"Tenant {result.slug}: sender domain {result.domain} ({where}), stack {result.stack.name}",
        f"Read from {snap.source} at {snap.taken_at}.",
        "",
        "Found:",
    ]
    cloudflare = result.provider == "cloudflare"
    rows: list[tuple[str, ...]] = []
    for rr in result.live:
        if not rr.values:
            gone = "nothing (NXDOMAIN)" if rr.status == "nxdomain" else f"nothing (no {rr.type} record)"
            rows.append((rr.name, rr.type, gone, "") if cloudflare else (rr.name, rr.type, gone))
            continue
        for value in rr.values:
            row = (rr.name, rr.type, value)
            rows.append((*row, rr.id_of(value) or "") if cloudflare else row)
    header = ("NAME", "TYPE", "VALUE", "CLOUDFLARE ID") if cloudflare else ("NAME", "TYPE", "VALUE")
    lines.extend(table(header, rows, indent="  "))
    lines += ["", "mailfleet will publish instead:"]
    published = []
    for r in _published(result):
        values = [DKIM_PLACEHOLDER] if r.from_mailgun else list(r.values)
        published.extend((r.name, r.type, v, _note(r) if i == 0 else "") for i, v in enumerate(values))
    lines.extend(table(("NAME", "TYPE", "VALUE", "NOTE"), published, indent="  "))
    if cloudflare:
        lines.append("  Other TXT records at these names stay the customer's; mailfleet does not touch them.")
    steps = manual_steps(result)
    if steps:
        lines += ["", "Manual DNS: the customer changes their zone:"]
        lines.extend(f"  {s}" for s in steps)
    if result.drift:
        assert result.previous is not None
        lines += ["", f"Drift since the snapshot of {result.previous.taken_at}:"]
        for d in result.drift:
            lines.extend(f"  {d.name} {d.type}: changed {a!r} -> {b!r}" for a, b in d.changed)
            lines.extend(f"  {d.name} {d.type}: added {v!r}" for v in d.added)
            lines.extend(f"  {d.name} {d.type}: removed {v!r}" for v in d.removed)
    if not status_line:
        return lines
    lines.append("")
    if result.status == WRITTEN:
        lines.append(f"Wrote adopted.dns to {result.path}. Next: pulumi preview -s {result.stack.name}")
    elif result.status == UNCHANGED:
        assert result.previous is not None
        lines.append(f"Unchanged since the snapshot of {result.previous.taken_at}: nothing written.")
    elif result.status in (DRY_RUN, DRIFT):
        lines.append(f"{result.path} not changed.")
    return lines


def as_json(result: AdoptResult) -> dict[str, Any]:
    """The ``mailfleet-adopt/1`` document."""
    return {
        "format": FORMAT,
        "tenant": result.slug,
        "file": str(result.path),
        "stack": result.stack.name,
        "domain": result.domain,
        "dns": result.provider,
        "zone_id": result.zone_id,
        "status": result.status,
        "written": result.written,
        "source": result.snapshot.source,
        "taken_at": result.snapshot.taken_at,
        "found": [
            {
                "name": rr.name,
                "type": rr.type,
                "purposes": list(rr.purposes),
                "status": rr.status,
                "values": list(rr.values),
                "ids": list(rr.ids) if rr.ids else None,
                "ttl": rr.ttl,
            }
            for rr in result.live
        ],
        "adopted": result.snapshot.model_dump(mode="json", exclude_none=True),
        "previous_taken_at": result.previous.taken_at if result.previous is not None else None,
        "drift": [d.as_dict() for d in result.drift],
        "publish": [
            {
                "purpose": r.purpose,
                "name": r.name,
                "type": r.type,
                "ttl": r.ttl,
                "values": [] if r.from_mailgun else list(r.values),
                "from_mailgun": r.from_mailgun,
                "import_id": r.adopted.import_id if r.adopted is not None else None,
                "replaces": list(r.adopted.original) if r.adopted is not None else [],
            }
            for r in _published(result)
        ],
        "manual": manual_steps(result),
    }
