"""Check outputs: small classes with one ``run(result)``, like plan outputs.

``JsonReport`` writes the documented ``mailfleet-check/1`` document (see docs/check.md).
``TableReport`` writes one table: every record of every tenant when at most
``FULL_TABLE_TENANTS`` tenants were checked, otherwise only the records that are not ok,
then a "What to fix" section in a stacked layout (one block per missing or wrong record,
with the full expected and found values on lines of their own, never shortened or folded,
so they can be copied), then a summary line. ``BindReport`` writes a zone-file snippet of
just the failing records, as the model says they should be.

``problems_only`` (``--problems-only``) leaves out the records (and tenants) that are ok.
"""

from __future__ import annotations

import sys
from typing import IO, ClassVar

import orjson
from rich.text import Text

from mailfleet.check import result as res
from mailfleet.terminal import console, print_table

FULL_TABLE_TENANTS = 20


def _problems_only(result: res.RunResult) -> dict:  # type: ignore[type-arg]
    doc = result.as_dict()
    tenants = []
    for tenant in doc["tenants"]:
        if tenant["status"] == res.OK:
            continue
        tenant["records"] = [r for r in tenant["records"] if r["status"] != res.OK]
        tenant["mailgun"] = [r for r in tenant["mailgun"] if r["status"] != res.OK]
        tenants.append(tenant)
    doc["tenants"] = tenants
    return doc


class JsonReport:
    def __init__(self, stream: IO[str] | None = None, *, problems_only: bool = False) -> None:
        self.stream = stream or sys.stdout
        self.problems_only = problems_only

    def run(self, result: res.RunResult) -> None:
        doc = _problems_only(result) if self.problems_only else result.as_dict()
        self.stream.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")


def failing(result: res.RunResult) -> list[tuple[res.TenantResult, res.RecordResult]]:
    """The missing and wrong records (and Mailgun rows), in report order."""
    return [(t, r) for t in result.tenants for r in t.all_results if r.status in res.FAILING]


def fix_lines(tenant: res.TenantResult, r: res.RecordResult) -> list[str]:
    """One stacked block for a failing record: full values, each on its own line."""
    head = f"{tenant.slug}: {r.name} {r.type} ({r.purpose}, {r.status})"
    if r.fix_by:
        head += f"; fix by: {r.fix_by}"
    lines = [head]
    if r.message:
        lines.append(f"  {r.message}")
    for value in r.expected:
        lines.append(f"  expected: {value}")
    kept = [v for v in r.found if v not in r.delete]
    if not r.found:
        lines.append("  found:    (nothing)")
    for value in kept:
        lines.append(f"  found:    {value}")
    for value in r.delete:
        lines.append(f"  delete this one: {value}")
    if r.hint:
        lines.append(f"  hint: {r.hint}")
    return lines


class TableReport:
    STYLES: ClassVar[dict[str, str]] = {
        res.OK: "green",
        res.MISSING: "red",
        res.WRONG: "red",
        res.TIMEOUT: "yellow",
        res.ERROR: "yellow",
    }

    def __init__(self, stream: IO[str] | None = None, *, problems_only: bool = False) -> None:
        self.stream = stream
        self.problems_only = problems_only

    def rows(self, result: res.RunResult) -> list[tuple[str, ...]]:
        full = len(result.tenants) <= FULL_TABLE_TENANTS and not self.problems_only
        rows = []
        for tenant in result.tenants:
            for r in tenant.all_results:
                if self.problems_only and r.status == res.OK:
                    continue
                if not full and r.status == res.OK and not r.warnings:
                    continue
                notes = []
                if r.message:
                    notes.append(r.message)
                if r.hint:
                    notes.append(f"hint: {r.hint}")
                for f in r.findings:
                    if f.message != r.message:
                        rfc = f" ({f.rfc})" if f.rfc else ""
                        notes.append(f"{f.severity}: {f.message}{rfc}")
                fix = r.fix_by if r.status in res.FAILING else ""
                rows.append((tenant.slug, r.status, r.purpose, r.zone, r.name, r.type, fix, "\n".join(notes)))
        return rows

    def fixes(self, result: res.RunResult) -> list[str]:
        """The stacked "What to fix" section (empty when nothing is missing or wrong)."""
        lines: list[str] = []
        for tenant in result.tenants:
            if tenant.hint:
                lines.append(f"{tenant.slug}: {tenant.hint}")
        for tenant, r in failing(result):
            lines.extend(fix_lines(tenant, r))
        if not lines:
            return []
        return [
            "What to fix (full values; `mailfleet check --format bind` prints them as a zone file):",
            *lines,
        ]

    def summary(self, result: res.RunResult) -> str:
        counts = result.counts()
        warnings = sum(len(r.warnings) for t in result.tenants for r in t.all_results)
        parts = ", ".join(f"{counts[s]} {s}" for s in res.STATUSES)
        failing_tenants = sum(1 for t in result.tenants if t.status != res.OK)
        return (
            f"{len(result.tenants)} tenant(s), {failing_tenants} not ok; records: {parts}; "
            f"{warnings} warning(s); {result.queries} DNS queries to {result.nameserver}"
        )

    def run(self, result: res.RunResult) -> None:
        stream = self.stream or sys.stdout
        con = console(stream)
        rows = self.rows(result)
        if rows:
            # A table, or stacked rows below 120 columns (mailfleet.terminal.print_table).
            headers = ("Tenant", "Status", "Check", "Zone", "Name", "Type", "Fix by", "Details")
            styles = [self.STYLES.get(row[1]) or None for row in rows]
            print_table(con, headers, rows, row_styles=styles)
        fixes = self.fixes(result)
        if fixes:
            # Plain lines, not through rich: a value must never be wrapped or cut.
            con.file.flush()  # type: ignore[attr-defined]
            stream.write("\n".join(fixes) + "\n\n")
        con.print(Text(self.summary(result)))  # type: ignore[attr-defined]


class BindReport:
    """A zone-file snippet of the failing records, as the model says they should be."""

    def __init__(self, stream: IO[str] | None = None, *, problems_only: bool = True) -> None:
        self.stream = stream or sys.stdout

    def lines(self, result: res.RunResult) -> list[str]:
        from mailfleet.desired.publish import bind_rdata

        lines = ["; mailfleet check: the missing and wrong records, as they should be"]
        for tenant in result.tenants:
            if tenant.hint:
                lines.append(f"; {tenant.slug}: {tenant.hint}")
        zone = None
        for tenant, r in failing(result):
            if r.type == "DOMAIN":  # Mailgun's view: no DNS record to publish
                continue
            if (tenant.slug, r.zone) != zone:
                zone = (tenant.slug, r.zone)
                where = "our zone" if r.zone == "ours" else f"zone {r.zone}"
                lines.append("")
                lines.append(f"; tenant {tenant.slug}, {where}; fix by: {r.fix_by}")
            lines.append(
                f"; {r.name} {r.type} ({r.purpose}, {r.status})" + (f": {r.message}" if r.message else "")
            )
            owner = f"{r.name}."
            for value in r.delete:
                lines.append(f"; delete this one: {owner} IN {r.type} {bind_rdata(r.type, value)}")
            source = str(r.details.get("expected_key_source", ""))
            if r.purpose == "dkim" and source.startswith("unknown"):
                lines.append(
                    "; the DKIM key is Mailgun's: run with MAILGUN_API_KEY (or --dkim-keys) to get it"
                )
                lines.extend(f"; {owner} {r.ttl} IN {r.type} {bind_rdata(r.type, v)}" for v in r.expected)
                continue
            lines.extend(f"{owner} {r.ttl} IN {r.type} {bind_rdata(r.type, v)}" for v in r.expected)
        return lines

    def run(self, result: res.RunResult) -> None:
        self.stream.write("\n".join(self.lines(result)) + "\n")


OUTPUTS = {"table": TableReport, "json": JsonReport, "bind": BindReport}
