"""The outputs of ``mailfleet blocklists``: table and JSON (``mailfleet-blocklists/1``)."""

from __future__ import annotations

import json
from typing import TextIO

from mailfleet.blocklists.lists import CLEAN
from mailfleet.blocklists.run import BlocklistResult

ALL_ROWS_UP_TO = 40  # targets; above that the table shows only what is not clean


class Table:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def run(self, result: BlocklistResult) -> None:
        header = ("target", "kind", "status", "owners", "lists")
        rows = []
        show_all = len(result.targets) <= ALL_ROWS_UP_TO
        for t in sorted(result.targets, key=lambda t: (t.status == CLEAN, t.status, t.kind, t.value)):
            if t.status == CLEAN and not show_all:
                continue
            owners = ", ".join(sorted(t.owners))
            if len(owners) > 60:
                owners = f"{len(t.owners)} owners: " + ", ".join(sorted(t.owners)[:3]) + ", ..."
            bad = [
                f"{r.list}: {r.status} ({'; '.join(r.meanings) or ', '.join(r.answers)})"
                for r in t.results
                if r.status != CLEAN
            ]
            rows.append((t.value, t.kind, t.status, owners, " | ".join(bad) or f"clean on {len(t.results)}"))
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
        for row in [header, *rows]:
            cells = [c.ljust(w) for c, w in zip(row, widths, strict=False)] + [row[-1]]
            self.stream.write("  ".join(cells).rstrip() + "\n")
        for problem in result.problems:
            self.stream.write(f"problem: {problem}\n")
        s = result.to_dict()["summary"]
        self.stream.write(
            f"{s['ips']} IPs and {s['domains']} domains on {s['lists']} lists: {s['listed']} listed, "
            f"{s['unknown']} could not tell, {s['clean']} clean; {s['dns_queries']} DNS queries to {s['nameserver']}"
            + ("" if s["mailgun_checked"] else "; Mailgun IPs not asked (no MAILGUN_API_KEY)")
            + "\n"
        )


class Json:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def run(self, result: BlocklistResult) -> None:
        self.stream.write(json.dumps(result.to_dict(), indent=2) + "\n")


OUTPUTS = {"table": Table, "json": Json}
