"""``mailfleet reputation``: bounce and complaint rates per sending domain, from Mailgun."""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from typing import Annotated

import typer

from mailfleet.cli.common import RegionOption, command_app, manager
from mailfleet.errors import Problem, UsageError
from mailfleet.manager import API_KEY_ENV
from mailfleet.reputation.report import OUTPUTS
from mailfleet.terminal import progress


class ReputationFormat(StrEnum):
    table = "table"
    json = "json"
    prometheus = "prometheus"


def _usage(flag: str, message: str) -> Exception:
    return UsageError(problems=[Problem(flag, "", message)])


def reputation(
    ctx: typer.Context,
    slugs: Annotated[list[str] | None, typer.Argument(metavar="SLUG", help="Tenants to report.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every tenant (of --region, if given).")] = False,
    region: Annotated[
        RegionOption | None, typer.Option("--region", help="Only tenants of this region.")
    ] = None,
    since: Annotated[
        str,
        typer.Option(
            "--since", metavar="WINDOW", help="Window ending now: 24h, 7d, 1m (hours, days, months)."
        ),
    ] = "7d",
    fmt: Annotated[
        ReputationFormat, typer.Option("--format", "-f", help="Output format.")
    ] = ReputationFormat.table,
    api_retries: Annotated[
        int, typer.Option("--api-retries", min=0, help="Retries per Mailgun API call (429, 5xx, network).")
    ] = 5,
    page_size: Annotated[
        int, typer.Option("--page-size", min=1, max=1000, help="Rows per Metrics API page.")
    ] = 1000,
) -> None:
    """Each tenant's bounce and complaint rates from Mailgun's Metrics API, judged against the stack's thresholds.

    Per Mailgun domain: accepted, delivered, permanent and temporary failures, bounces,
    complaints and unsubscribes over the window, the bounce rate (bounced / processed) and the
    complaint rate (complained / delivered) as Mailgun defines them, and a verdict against the
    stack's mailfleet:reputation thresholds: ok, warn, fail, or low-volume (not enough mail to
    judge). Needs MAILGUN_API_KEY. --format prometheus writes the text exposition format that
    node-exporter's textfile collector reads.

    Exit codes: 0 no fail; 1 any domain fails; 3 no fail, but the API kept failing; 2 usage.
    """
    if not slugs and not all_:
        raise _usage("reputation", "give one or more tenant SLUGs, or --all")
    if slugs and all_:
        raise _usage("reputation", "give tenant SLUGs or --all, not both")
    api_key = os.environ.get(API_KEY_ENV, "")
    if not api_key:
        raise _usage("reputation", f"needs {API_KEY_ENV} in the environment (the Metrics API is Mailgun's)")
    with progress("reading Mailgun metrics"):
        result = manager(ctx).reputation(
            list(slugs or []), region, api_key, since=since, api_retries=api_retries, page_limit=page_size
        )
    OUTPUTS[fmt.value](sys.stdout).run(result)
    raise typer.Exit(result.exit_code)


app = command_app("reputation", reputation)
