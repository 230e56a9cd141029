"""``mailfleet residency``: where each tenant's mail is processed and stored, and US leftovers."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from mailfleet.cli.common import RegionOption, TableMarkdownJson, command_app, manager, out, print_json
from mailfleet.errors import Problem, UsageError
from mailfleet.manager import API_KEY_ENV
from mailfleet.terminal import console, print_table


def residency(
    ctx: typer.Context,
    fmt: Annotated[
        TableMarkdownJson, typer.Option("--format", "-f", help="Output format.")
    ] = TableMarkdownJson.table,
    live: Annotated[
        bool,
        typer.Option(
            "--live",
            help="Also ask each region's Mailgun API (MAILGUN_API_KEY) which of the tenant's domains and routes exist there.",
        ),
    ] = False,
    fail_on_leftovers: Annotated[
        bool, typer.Option("--fail-on-leftovers", help="Exit 1 when any tenant has a leftover.")
    ] = False,
    stack: Annotated[
        str | None,
        typer.Option(
            "--stack", "-s", metavar="NAME", help="Only the tenants this stack declares something for."
        ),
    ] = None,
    region: Annotated[
        RegionOption | None,
        typer.Option("--region", "-r", help="Only the tenants of this region's stacks; not with --stack."),
    ] = None,
) -> None:
    """The data-residency report a data-protection officer asks for.

    Per tenant: its region, the Mailgun API host its domain lives on, where Mailgun stores its
    received mail, the MX hosts of its platform domain, and every leftover that points at
    another region than its home (routes, Mailgun domains, webhooks, DNS records, DKIM keys,
    outbound settings, and mail stored before a move, kept up to 3 days). A tenant moving
    between regions counts the target as home. Computed from the tenant files and stack files;
    --live adds what the Mailgun APIs report.
    """
    key = None
    if live:
        key = os.environ.get(API_KEY_ENV, "")
        if not key:
            raise UsageError(problems=[Problem("--live", "", f"needs {API_KEY_ENV} in the environment")])
    report = manager(ctx).residency(key, stack, region)
    if fmt is TableMarkdownJson.json:
        print_json(report)
    else:
        _render(report, markdown=fmt is TableMarkdownJson.markdown)
    if fail_on_leftovers and report["summary"]["with_leftovers"]:
        raise typer.Exit(1)


def _render(report: dict, *, markdown: bool) -> None:  # type: ignore[type-arg]
    headers = ("Tenant", "Region", "Mailgun API", "Stored mail", "MX hosts", "Sends from", "Leftovers")
    rows = []
    for t in report["tenants"]:
        left = "; ".join(f"{x['kind']} ({x['region']}): {x['detail']}" for x in t["leftovers"]) or "none"
        region = t["region"] + (f" [{t['migration']}]" if t["migration"] else "")
        sends = "dedicated " + ", ".join(t["sending_ips"]) if t["sending_ips"] else "Mailgun shared IPs"
        rows.append(
            (
                t["slug"],
                region,
                t["mailgun_api_host"],
                t["stored_mail"],
                ", ".join(t["mx_hosts"]),
                sends,
                left,
            )
        )
    summary = report["summary"]
    tail = (
        f"{summary['tenants']} tenants: "
        + ", ".join(f"{n} in {r}" for r, n in summary["by_region"].items())
        + f"; {summary['with_leftovers']} with leftovers"
        + (" (live)" if report["live"] else "")
    )
    if markdown:

        def cell(v: str) -> str:
            return v.replace("|", "\\|")

        out("| " + " | ".join(headers) + " |")
        out("|" + "---|" * len(headers))
        for row in rows:
            out("| " + " | ".join(cell(v) for v in row) + " |")
        out("")
        out(tail)
        return
    print_table(console(sys.stdout), headers, rows)
    out(tail)


app = command_app("residency", residency)
