"""``mailfleet check``: verify every tenant's live DNS (and Mailgun's view of it)."""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from mailfleet.check.report import OUTPUTS
from mailfleet.check.run import relaxed_gc
from mailfleet.cli import dns_options
from mailfleet.cli.common import RegionOption, command_app, manager
from mailfleet.dns.resolver import Nameserver
from mailfleet.errors import Problem, UsageError
from mailfleet.manager import API_KEY_ENV
from mailfleet.terminal import progress


class CheckFormat(StrEnum):
    table = "table"
    json = "json"
    bind = "bind"


def _usage(flag: str, message: str) -> Exception:
    return UsageError(problems=[Problem(flag, "", message)])


def _load_dkim_keys(path: Path) -> dict[str, str]:
    # The stdlib parser recurses per nesting level: deep input would raise RecursionError.
    from mailfleet.loader import MAX_NESTING, json_nesting_exceeds

    try:
        text = path.read_text()
        if json_nesting_exceeds(text):
            raise _usage("--dkim-keys", f"{path} has nesting deeper than {MAX_NESTING} levels")
        data = json.loads(text)
    except OSError as exc:
        raise _usage("--dkim-keys", f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise _usage("--dkim-keys", f"{path} is not JSON: {exc}") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise _usage("--dkim-keys", f"{path} must be a JSON object of name -> public key strings")
    return {k.rstrip(".").lower(): v for k, v in data.items()}


def check(
    ctx: typer.Context,
    slugs: Annotated[list[str] | None, typer.Argument(metavar="SLUG", help="Tenants to check.")] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Check every tenant (of --region or --stack, if given).")
    ] = False,
    region: Annotated[
        RegionOption | None,
        typer.Option("--region", help="Only tenants of this region (every stack of it, its shards)."),
    ] = None,
    stack: Annotated[
        str | None,
        typer.Option(
            "--stack", "-s", metavar="NAME", help="Only tenants this stack declares; not with --region."
        ),
    ] = None,
    nameserver: dns_options.Nameserver = None,
    timeout: dns_options.Timeout = 2.0,
    retries: dns_options.Retries = 2,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            min=1,
            max=4096,
            help="DNS queries in flight at most; below it the number adapts to the answers' latency.",
        ),
    ] = 256,
    fmt: Annotated[
        CheckFormat,
        typer.Option(
            "--format", "-f", help="table, json, or bind (zone-file snippet of the failing records)."
        ),
    ] = CheckFormat.table,
    problems_only: Annotated[
        bool, typer.Option("--problems-only", help="Leave out the records and tenants that are ok.")
    ] = False,
    dkim_keys: Annotated[
        Path | None,
        typer.Option(
            "--dkim-keys",
            metavar="FILE",
            help="JSON object: DKIM record name (or domain) -> expected public key (p= value or record).",
        ),
    ] = None,
    trigger_verify: Annotated[
        bool,
        typer.Option(
            "--trigger-verify", help="Ask Mailgun to verify each domain again (needs MAILGUN_API_KEY)."
        ),
    ] = False,
    api_retries: Annotated[
        int, typer.Option("--api-retries", min=0, help="Retries per Mailgun API call (429, 5xx, network).")
    ] = 5,
) -> None:
    """Verify each tenant's live DNS records against the model, with SPF/DKIM/DMARC lint.

    Every record the model says must exist (our zone and the customer's zone) gets a status:
    ok, missing, wrong (expected and found shown), timeout or error (no verdict; never
    reported as missing). With MAILGUN_API_KEY set, Mailgun's own verification state of each
    domain is reported too (MAILGUN_API_BASE_EU / MAILGUN_API_BASE_US override the API hosts).

    Exit codes: 0 all ok; 1 anything missing or wrong; 3 only timeouts or errors; 2 usage.
    """
    if not slugs and not all_:
        raise _usage("check", "give one or more tenant SLUGs, or --all")
    if slugs and all_:
        raise _usage("check", "give tenant SLUGs or --all, not both")
    try:
        server = Nameserver.parse(nameserver) if nameserver is not None else None
    except ValueError as exc:
        raise _usage("--nameserver", str(exc)) from None
    keys = _load_dkim_keys(dkim_keys) if dkim_keys else {}
    api_key = os.environ.get(API_KEY_ENV, "")
    if trigger_verify and not api_key:
        raise _usage("--trigger-verify", f"needs {API_KEY_ENV} in the environment")
    # Loading, checking and writing the results under one relaxed collector (see relaxed_gc).
    with relaxed_gc():
        api = manager(ctx)
        pairs = api.check_targets(list(slugs or []), region, stack)
        with progress("checking tenants", total=len(pairs)) as ticker:
            result = api.check(
                pairs,
                server,
                timeout=timeout,
                retries=retries,
                concurrency=concurrency,
                dkim_keys=keys,
                dkim_keys_source="--dkim-keys",
                api_key=api_key,
                trigger_verify=trigger_verify,
                api_retries=api_retries,
                on_tenant=ticker.advance if ticker.live else None,
            )
        OUTPUTS[fmt.value](sys.stdout, problems_only=problems_only).run(result)
        raise typer.Exit(result.exit_code)


app = command_app("check", check)
