"""``mailfleet bind-ips``: bind each tenant's Mailgun domains to the dedicated IPs its files name."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated

import typer

from mailfleet.cli.common import RegionOption, TableJson, command_app, format_table, manager, out
from mailfleet.errors import Problem, UsageError
from mailfleet.manager import API_KEY_ENV


def _usage(flag: str, message: str) -> Exception:
    return UsageError(problems=[Problem(flag, "", message)])


def bind_ips(
    ctx: typer.Context,
    slugs: Annotated[list[str] | None, typer.Argument(metavar="SLUG", help="Tenants to bind.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every tenant (of --region, if given).")] = False,
    region: Annotated[
        RegionOption | None, typer.Option("--region", help="Only tenants of this region.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; change nothing.")
    ] = False,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes", help="Also unassign IPs the files do not name (changes where mail leaves from)."
        ),
    ] = False,
    fmt: Annotated[TableJson, typer.Option("--format", "-f", help="Output format.")] = TableJson.table,
) -> None:
    """Bind each tenant's Mailgun domains to the dedicated IPs (or IP pool) its files name.

    pulumi-mailgun has no IP argument, so this uses the Mailgun API (/v3/domains/{d}/ips):
    missing IPs are assigned (or the pool linked); IPs the files do not name are unassigned
    only with --yes. Tenants without mailgun_ips (and no stack mailgunIps) are skipped. Needs
    MAILGUN_API_KEY. `mailfleet check` reports the same drift.

    Exit codes: 0 every domain in sync or bound; 1 drift left or an API error; 2 usage.
    """
    if not slugs and not all_:
        raise _usage("bind-ips", "give one or more tenant SLUGs, or --all")
    if slugs and all_:
        raise _usage("bind-ips", "give tenant SLUGs or --all, not both")
    api_key = os.environ.get(API_KEY_ENV, "")
    if not api_key:
        raise _usage("bind-ips", f"needs {API_KEY_ENV} in the environment")
    result = manager(ctx).bind_ips(list(slugs or []), region, api_key, dry_run=dry_run, yes=yes)
    if fmt is TableJson.json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
    else:
        rows = [
            (
                b.tenant,
                b.domain,
                b.status,
                ", ".join(b.expected),
                ", ".join(b.found),
                "; ".join(b.actions) or b.message,
            )
            for b in result.bindings
        ]
        for line in format_table(("tenant", "domain", "status", "expected", "found", "actions"), rows):
            out(line)
        s = result.to_dict()["summary"]
        out(
            f"{s['in-sync']} in sync, {s['bound']} bound, {s['drift']} drift, {s['error']} errors; "
            f"{s['skipped_tenants']} tenants send from Mailgun's shared IPs"
            + (" (dry run)" if dry_run else "")
        )
    raise typer.Exit(result.exit_code)


app = command_app("bind-ips", bind_ips)
