"""Rendering stack desired states for people (table, Markdown) and scripts (JSON).

The JSON shape (documented in README.md, "plan --format json") is
``{"format": "mailfleet-plan/1", "stacks": [StackState.as_dict(), ...]}``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import IO

import orjson

from mailfleet.desired.state import Adopted, StackState, TenantState
from mailfleet.terminal import console, print_table

FORMAT = "mailfleet-plan/1"
FROM_MAILGUN = "(from Mailgun once the domain exists)"

Row = tuple[str, str, str, str, str, str]
HEADERS = ("Kind", "Where", "Name", "Type", "TTL", "Value")


def plan_document(states: list[StackState]) -> dict[str, object]:
    return {"format": FORMAT, "stacks": [s.as_dict() for s in states]}


def _kind(kind: str, adopted: Adopted | None) -> str:
    """An adopted item says so: it is imported and given back, never created or deleted."""
    return kind if adopted is None else f"{kind} (adopted)"


def tenant_rows(t: TenantState) -> Iterator[Row]:
    """One row per declared item, in a stable order; TXT values shown joined."""
    for d in t.domains:
        yield (
            _kind("mailgun domain", d.adopted),
            f"mailgun {d.region}",
            d.name,
            d.role,
            "",
            f"dkim {d.dkim_selector}/{d.dkim_key_size} tracking={'on' if d.open_tracking else 'off'}",
        )
    if t.sending_ips is not None:
        ips = t.sending_ips
        pool = f" (pool {ips.pool})" if ips.pool else ""
        yield (
            "dedicated ips",
            "mailgun",
            ", ".join(d.name for d in t.domains),
            ips.source,
            "",
            f"send from {', '.join(ips.ips)}{pool}; SPF lists them instead of include:mailgun.org "
            "(mailfleet bind-ips binds them)",
        )
    for r in t.routes:
        yield (
            _kind("route", r.adopted),
            f"mailgun {r.region}",
            r.address,
            f"prio {r.priority}",
            "",
            f"{r.expression} -> {', '.join(r.actions)}",
        )
    hooks: dict[str, list[str]] = {}
    for w in t.webhooks:
        hooks.setdefault(w.domain, []).append(w.kind)
    urls = {w.domain: w.urls[0] for w in t.webhooks}
    for domain, kinds in hooks.items():
        yield ("webhooks", "mailgun", domain, "", "", f"{','.join(kinds)} -> {urls[domain]}")
    for rec in t.records:
        where = f"{rec.provider} {'our zone' if rec.ours else rec.zone}"
        value = FROM_MAILGUN if rec.from_mailgun else " | ".join(rec.values)
        yield (_kind("dns", rec.adopted), where, rec.name, rec.type, str(rec.ttl), value)
    if t.outbound is not None:
        o = t.outbound
        channels = f"service={_channel(o.service.as_dict())} marketing={_channel(o.marketing.as_dict())}"
        if o.egress_ips:
            channels += f"; customer allows {', '.join(o.egress_ips)}"
        yield ("outbound", f"ssm {o.aws_region}", o.parameter, "", "", channels)


def _channel(c: dict[str, object]) -> str:
    return f"smtp {c['host']}:{c['port']}" if c["via"] == "smtp" else str(c["via"])


class PlanJson:
    def __init__(self, stream: IO[bytes] | None = None) -> None:
        self.stream = stream

    def run(self, states: list[StackState]) -> None:
        stream = self.stream or sys.stdout.buffer
        stream.write(orjson.dumps(plan_document(states), option=orjson.OPT_INDENT_2))
        stream.write(b"\n")
        stream.flush()


class PlanMarkdown:
    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream

    def run(self, states: list[StackState]) -> None:
        stream = self.stream or sys.stdout
        for state in states:
            stream.write(f"## Stack `{state.stack}` ({state.region}, {state.aws_region})\n\n")
            if not state.tenants:
                stream.write("No tenants.\n\n")
            for t in state.tenants:
                stream.write(f"### {t.slug}: {_md(t.display_name)}\n\n")
                stream.write("| " + " | ".join(HEADERS) + " |\n")
                stream.write("|" + "---|" * len(HEADERS) + "\n")
                for row in tenant_rows(t):
                    stream.write("| " + " | ".join(_md(c) for c in row) + " |\n")
                stream.write("\n")
            stream.write(_summary(state) + "\n\n")


# Characters Markdown would act on inside a table cell; each is backslash-escaped so the
# rendered cell shows the value exactly (route expressions hold backslashes, DNS names hold
# underscores, tenant names may hold anything).
_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\|*_`<[]"})


def _md(cell: str) -> str:
    return cell.translate(_MD_SPECIAL).replace("\n", " ") if cell else ""


def _summary(state: StackState) -> str:
    n = {"domains": 0, "routes": 0, "webhooks": 0, "records": 0}
    for t in state.tenants:
        n["domains"] += len(t.domains)
        n["routes"] += len(t.routes)
        n["webhooks"] += len(t.webhooks)
        n["records"] += len(t.records)
    return (
        f"Stack {state.stack}: {len(state.tenants)} tenants, {n['domains']} Mailgun domains, "
        f"{n['routes']} routes, {n['webhooks']} webhooks, {n['records']} DNS records"
    )


class PlanTable:
    """Rich tables for a terminal. Every cell is plain ``Text``: tenant data is never parsed
    as Rich markup (a name like ``[/b]`` would otherwise raise or restyle the output)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream

    def run(self, states: list[StackState]) -> None:
        # rich (about 15 ms) only for this output: `plan --format json|markdown` skip it.
        from rich.text import Text

        con = console(self.stream or sys.stdout)
        for state in states:
            con.rule(Text(f"stack {state.stack} ({state.region}, {state.aws_region})"))
            for t in state.tenants:
                print_table(con, HEADERS, tenant_rows(t), title=f"{t.slug}: {t.display_name}")
            con.print(Text(_summary(state)))


OUTPUTS = {"table": PlanTable, "markdown": PlanMarkdown, "json": PlanJson}
