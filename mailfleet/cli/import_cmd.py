"""``mailfleet import --from-mailgun``: adopt the Mailgun domains, routes and webhooks that exist."""

from __future__ import annotations

from typing import Annotated

import typer

from mailfleet.cli.common import (
    RegionOption,
    TableJson,
    command_app,
    err,
    format_table,
    manager,
    out,
    print_json,
)
from mailfleet.errors import Problem, UsageError
from mailfleet.fleet_import.report import ImportReport
from mailfleet.terminal import progress


def import_(
    ctx: typer.Context,
    region: Annotated[
        RegionOption,
        typer.Option(
            "--region",
            help="The Mailgun account region to read (its stack's settings decide the convention).",
        ),
    ],
    from_mailgun: Annotated[
        bool,
        typer.Option(
            "--from-mailgun", help="Read the account region's Mailgun API (MAILGUN_API_KEY); required."
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Read and check everything, write nothing; show what would be written."
        ),
    ] = False,
    fmt: Annotated[TableJson, typer.Option("--format", "-f", help="Output format.")] = TableJson.table,
    rate: Annotated[
        int,
        typer.Option(
            "--rate", help="At most this many Mailgun API requests a minute (Mailgun allows about 300)."
        ),
    ] = 300,
) -> None:
    """Adopt what already exists: write tenant files for the Mailgun domains, routes and webhooks of a region.

    Reads every domain, route and webhook of the region, and the SMTP logins of each tenant's
    sending domain (never passwords), and groups them into tenants by mailfleet's own URL
    convention: a route forwarding to <inboundUrl>/<slug> and a domain whose webhooks point at
    <webhookUrl>/<slug> belong to tenant <slug>; <slug>.<platformDomain> is its platform
    domain. New tenants get a tenant file; an existing tenant file gets its adopted.mailgun
    block added or replaced in place, nothing else. Whatever does not fit is listed with the
    reason. Every file is checked before any is written. See docs/import.md.
    """
    if not from_mailgun:
        raise UsageError(
            problems=[Problem("", "from_mailgun", "is required: Mailgun is the one source import reads")]
        )

    with progress(f"import {region}: listing domains and routes") as ticker:

        def step(what: str, done: int, total: int) -> None:
            if ticker.live:  # a terminal: one progress line, redrawn in place
                if what != "domains and routes listed":
                    ticker.update(f"import {region}: {what}", completed=done, total=total)
            elif what == "domains and routes listed":
                err(f"import {region}: {done} domains, {total} routes listed")
            else:
                err(f"import {region}: {what} {done}/{total}")

        report = manager(ctx).import_from_mailgun(region, dry_run=dry_run, rate=rate, progress=step)
    if fmt is TableJson.json:
        print_json(report.as_dict())
    else:
        _text(report)


def _text(report: ImportReport) -> None:
    r = report.read
    out(
        f"Mailgun {report.region} (stack {report.stack}): {r['domains']} domains, {r['routes']} routes, "
        f"{r['webhooks']} webhooks, {r['logins']} SMTP logins read in {r['api_calls']} API calls"
    )
    if report.tenants:
        out("")
        rows = []
        for t in report.tenants:
            o = t.outcome
            doms = ", ".join(o.adoption.domains)
            rows.append(
                (
                    t.action + (" (dry run)" if report.dry_run and t.action != "unchanged" else ""),
                    str(t.path),
                    f"{doms}; {len(o.adoption.routes)} routes; dkim {o.dkim.selector}/{o.dkim.bits}"
                    if o.dkim
                    else doms,
                )
            )
        for line in format_table(("Action", "File", "Adopted"), rows):
            out(line)
    if report.unmatched:
        out("")
        out("Not matched (listed, not imported):")
        for u in report.unmatched:
            what = f"route {u.id} {u.name}" if u.kind == "route" else f"domain {u.name}"
            out(f"  {what}: {u.reason}")
    if report.differences:
        out("")
        out("Differences between Mailgun and what the stack declares for adopted items:")
        for d in report.differences:
            out(
                f"  {d.tenant}: {d.kind} {d.name} {d.field}: Mailgun has {d.found!r}, the stack declares "
                f"{d.declared!r} ({d.effect})"
            )
    if report.stale:
        out("")
        out(f"Adopted before, not found now (left as they are): {', '.join(report.stale)}")
    n = report.summary()
    out("")
    out(
        f"Summary: {n['tenants']} tenants ({n['written']} written, {n['updated']} updated, "
        f"{n['unchanged']} unchanged), {n['unmatched']} not matched, {n['differences']} differences"
        + ("; dry run: nothing written" if report.dry_run else "")
    )


app = command_app("import", import_)
