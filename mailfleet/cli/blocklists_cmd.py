"""``mailfleet blocklists``: every sending IP and domain against DNS blocklists."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from mailfleet.blocklists.report import OUTPUTS
from mailfleet.cli import dns_options
from mailfleet.cli.common import RegionOption, TableJson, command_app, manager
from mailfleet.dns.resolver import Nameserver
from mailfleet.errors import Problem, UsageError
from mailfleet.manager import API_KEY_ENV
from mailfleet.terminal import progress


def _usage(flag: str, message: str) -> Exception:
    return UsageError(problems=[Problem(flag, "", message)])


def blocklists(
    ctx: typer.Context,
    slugs: Annotated[list[str] | None, typer.Argument(metavar="SLUG", help="Tenants to check.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every tenant (of --region, if given).")] = False,
    region: Annotated[
        RegionOption | None, typer.Option("--region", help="Only tenants of this region.")
    ] = None,
    nameserver: dns_options.Nameserver = None,
    timeout: dns_options.Timeout = 2.0,
    retries: dns_options.Retries = 2,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=4096, help="DNS queries in flight at most.")
    ] = 100,
    fmt: Annotated[TableJson, typer.Option("--format", "-f", help="Output format.")] = TableJson.table,
    lists: Annotated[
        Path | None,
        typer.Option(
            "--lists", metavar="FILE", help="YAML file of blocklists (default: the documented set)."
        ),
    ] = None,
    api_retries: Annotated[
        int, typer.Option("--api-retries", min=0, help="Retries per Mailgun API call (429, 5xx, network).")
    ] = 5,
) -> None:
    """Check every sending IP and domain of the tenants against DNS blocklists (DNSBL/RBL).

    IPs: the Mailgun sending IPs of each tenant's domains (with MAILGUN_API_KEY), the
    dedicated IPs the files name, the customer's own SMTP egress IPs (way 3) and the stack's
    egress IPs. Domains: every Mailgun domain, against the domain lists. Each answer is read
    the way the list documents it; an error code (a refused public resolver, too many
    queries) or a timeout is "could not tell", never "listed".

    Exit codes: 0 nothing listed; 1 something listed; 3 nothing listed, but some answers
    could not tell; 2 usage.
    """
    if not slugs and not all_:
        raise _usage("blocklists", "give one or more tenant SLUGs, or --all")
    if slugs and all_:
        raise _usage("blocklists", "give tenant SLUGs or --all, not both")
    try:
        server = Nameserver.parse(nameserver) if nameserver is not None else None
    except ValueError as exc:
        raise _usage("--nameserver", str(exc)) from None
    with progress("checking blocklists"):
        result = manager(ctx).blocklists(
            list(slugs or []),
            region,
            server,
            lists_file=lists,
            api_key=os.environ.get(API_KEY_ENV, ""),
            timeout=timeout,
            retries=retries,
            concurrency=concurrency,
            api_retries=api_retries,
        )
    OUTPUTS[fmt.value](sys.stdout).run(result)
    raise typer.Exit(result.exit_code)


app = command_app("blocklists", blocklists)
