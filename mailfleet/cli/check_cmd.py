"""``mailfleet check``: verify every tenant's live DNS (and Mailgun's view of it)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mailfleet.cli.common import RegionChoice, TableJson, load_project

if TYPE_CHECKING:
    from mailfleet.check.resolver import Nameserver
    from mailfleet.desired.state import StackState, TenantState

PROGRESS_MIN_TENANTS = 20


def _usage(flag: str, message: str) -> Exception:
    from mailfleet.errors import Problem, UsageError

    return UsageError(problems=[Problem(flag, "", message)])


def _load_dkim_keys(path: Path) -> dict[str, str]:
    import json

    try:
        data = json.loads(path.read_text())
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
    all_: Annotated[bool, typer.Option("--all", help="Check every tenant (of --region, if given).")] = False,
    region: Annotated[
        RegionChoice | None, typer.Option("--region", help="Only tenants of this region.")
    ] = None,
    nameserver: Annotated[
        str | None,
        typer.Option(
            "--nameserver", metavar="IP[:PORT]", help="Ask this DNS server (default: the system's)."
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.01, help="Seconds to wait per DNS attempt.")
    ] = 2.0,
    retries: Annotated[
        int, typer.Option("--retries", min=0, help="Retries per DNS query after a timeout.")
    ] = 2,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=4096, help="DNS queries in flight at most.")
    ] = 100,
    fmt: Annotated[TableJson, typer.Option("--format", "-f", help="Output format.")] = TableJson.table,
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
    from mailfleet.check.resolver import Nameserver

    try:
        server = Nameserver.parse(nameserver) if nameserver is not None else None
    except ValueError as exc:
        raise _usage("--nameserver", str(exc)) from None
    keys = _load_dkim_keys(dkim_keys) if dkim_keys else {}
    api_key = os.environ.get("MAILGUN_API_KEY", "")
    if trigger_verify and not api_key:
        raise _usage("--trigger-verify", "needs MAILGUN_API_KEY in the environment")

    project = load_project(ctx)
    pairs = [
        (state, tenant)
        for state in project.states.values()
        if region is None or state.region == region.value
        for tenant in state.tenants
    ]
    if slugs:
        by_slug = {t.slug: (s, t) for s, t in pairs}
        unknown = [s for s in slugs if s not in by_slug]
        if unknown:
            where = f" in region {region.value}" if region else ""
            raise _usage("SLUG", f"no tenant {', '.join(repr(u) for u in unknown)}{where}")
        pairs = [by_slug[s] for s in dict.fromkeys(slugs)]

    _run(
        pairs,
        server,
        timeout=timeout,
        retries=retries,
        concurrency=concurrency,
        fmt=fmt.value,
        keys=keys,
        api_key=api_key,
        trigger_verify=trigger_verify,
        api_retries=api_retries,
    )


def _run(
    pairs: list[tuple[StackState, TenantState]],
    server: Nameserver | None,
    *,
    timeout: float,
    retries: int,
    concurrency: int,
    fmt: str,
    keys: dict[str, str],
    api_key: str,
    trigger_verify: bool,
    api_retries: int,
) -> None:
    """Check ``pairs``, print the report, exit with the run's code (0, 1 or 3)."""
    import asyncio

    from mailfleet.check.report import OUTPUTS
    from mailfleet.check.resolver import Resolver
    from mailfleet.check.runner import CheckOptions, CheckRunner

    options = CheckOptions(dkim_keys=keys)
    if api_key:
        from mailfleet.check.mailgun_state import MailgunState
        from mailfleet.mailgun import MailgunClient

        clients = {
            name: MailgunClient(
                name,
                api_key,
                base_url=os.environ.get(f"MAILGUN_API_BASE_{name.upper()}") or None,
                max_retries=api_retries,
            )
            for name in ("eu", "us")
        }
        options.mailgun = MailgunState(clients, trigger_verify=trigger_verify)

    progress = None
    if sys.stderr.isatty() and len(pairs) >= PROGRESS_MIN_TENANTS:
        from rich.console import Console
        from rich.progress import Progress

        progress = Progress(console=Console(stderr=True), transient=True)

    async def main():  # type: ignore[no-untyped-def]
        async with Resolver(server, timeout=timeout, retries=retries, concurrency=concurrency) as resolver:
            callback = None
            if progress is not None:
                task = progress.add_task("checking tenants", total=len(pairs))

                def callback(_tenant, _result):  # type: ignore[no-untyped-def]
                    progress.advance(task)

            return await CheckRunner(resolver, options, callback).run(pairs)

    if progress is not None:
        with progress:
            result = asyncio.run(main())
    else:
        result = asyncio.run(main())
    OUTPUTS[fmt]().run(result)
    raise typer.Exit(result.exit_code)


def register(app: typer.Typer) -> None:
    app.command("check")(check)
