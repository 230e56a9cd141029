"""Check outputs: small classes with one ``run(result)``, like plan outputs.

``JsonReport`` writes the documented ``mailfleet-check/1`` document (see docs/check.md).
``TableReport`` writes one table: every record of every tenant when at most
``FULL_TABLE_TENANTS`` tenants were checked, otherwise only the records that are not ok,
then a summary line. TXT values are shown joined; long values are shortened in the table
only (the JSON carries them whole).
"""

from __future__ import annotations

import sys
from typing import IO, ClassVar

import orjson
from rich.table import Table
from rich.text import Text

from mailfleet.check import result as res
from mailfleet.terminal import console

FULL_TABLE_TENANTS = 20
MAX_CELL = 90


def _short(text: str, limit: int = MAX_CELL) -> str:
    return text if len(text) <= limit else text[: limit - 20] + "…" + text[-19:]


class JsonReport:
    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout

    def run(self, result: res.RunResult) -> None:
        self.stream.write(orjson.dumps(result.as_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")


class TableReport:
    STYLES: ClassVar[dict[str, str]] = {
        res.OK: "green",
        res.MISSING: "red",
        res.WRONG: "red",
        res.TIMEOUT: "yellow",
        res.ERROR: "yellow",
    }

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream

    def rows(self, result: res.RunResult) -> list[tuple[str, ...]]:
        full = len(result.tenants) <= FULL_TABLE_TENANTS
        rows = []
        for tenant in result.tenants:
            for r in tenant.all_results:
                if not full and r.status == res.OK and not r.warnings:
                    continue
                notes = []
                if r.message:
                    notes.append(r.message)
                if r.status != res.OK and (r.expected or r.found):
                    notes.append(f"expected: {_short(' | '.join(r.expected))}")
                    notes.append(f"found: {_short(' | '.join(r.found)) if r.found else '(nothing)'}")
                if r.hint:
                    notes.append(f"hint: {r.hint}")
                for f in r.findings:
                    if f.message != r.message:
                        rfc = f" ({f.rfc})" if f.rfc else ""
                        notes.append(f"{f.severity}: {f.message}{rfc}")
                rows.append((tenant.slug, r.status, r.purpose, r.zone, r.name, r.type, "\n".join(notes)))
        return rows

    def summary(self, result: res.RunResult) -> str:
        counts = result.counts()
        warnings = sum(len(r.warnings) for t in result.tenants for r in t.all_results)
        parts = ", ".join(f"{counts[s]} {s}" for s in res.STATUSES)
        failing = sum(1 for t in result.tenants if t.status != res.OK)
        return (
            f"{len(result.tenants)} tenant(s), {failing} not ok; records: {parts}; {warnings} warning(s); "
            f"{result.queries} DNS queries to {result.nameserver}"
        )

    def run(self, result: res.RunResult) -> None:
        con = console(self.stream or sys.stdout)
        rows = self.rows(result)
        if rows:
            table = Table(show_lines=False, header_style="bold")
            for header in ("Tenant", "Status", "Check", "Zone", "Name", "Type", "Details"):
                table.add_column(header, overflow="fold")
            for row in rows:
                style = self.STYLES.get(row[1], "")
                table.add_row(*(Text(cell, style=style if i == 1 else "") for i, cell in enumerate(row)))
            con.print(table)  # type: ignore[attr-defined]
        con.print(Text(self.summary(result)))  # type: ignore[attr-defined]


OUTPUTS = {"table": TableReport, "json": JsonReport}
