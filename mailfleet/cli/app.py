"""The root ``mailfleet`` command: global options, the command table, error handling.

Commands are loaded lazily: ``COMMANDS`` names each command's module and the one line
``mailfleet --help`` shows for it, and only the module of the command being run is imported.
So each ``*_cmd`` module imports what it needs at the top, and ``mailfleet --help`` or
``mailfleet plan`` never pay for dnspython, requests or asyncio. A test keeps each line
equal to the command's own docstring summary.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from mailfleet import __version__
from mailfleet.cli.common import HELP_OPTIONS, Settings, configure_logging, default_root, err
from mailfleet.cli.flags import to_cli
from mailfleet.errors import MailfleetError, UsageError

# command -> (module exposing ``app``, the summary `mailfleet --help` lists)
COMMANDS: dict[str, tuple[str, str]] = {
    "plan": (
        "mailfleet.cli.plan_cmd",
        "Show what each region stack declares for every tenant, offline, without Pulumi.",
    ),
    "validate": (
        "mailfleet.cli.validate_cmd",
        "Validate tenant and stack files: schema, cross-tenant conflicts, DNS limits.",
    ),
    "records": (
        "mailfleet.cli.records_cmd",
        "Show the DNS records the customer publishes in its own zone for tenant SLUG.",
    ),
    "diff": (
        "mailfleet.cli.diff_cmd",
        "Compare the desired state of two git revisions, per stack and tenant, without a checkout.",
    ),
    "preview-report": (
        "mailfleet.cli.preview_cmd",
        "Show the DNS records (Route53, Cloudflare) and Mailgun resources a Pulumi preview changes.",
    ),
    "check": (
        "mailfleet.cli.check_cmd",
        "Verify each tenant's live DNS records against the model, with SPF/DKIM/DMARC lint.",
    ),
    "reputation": (
        "mailfleet.cli.reputation_cmd",
        "Each tenant's bounce and complaint rates from Mailgun's Metrics API, judged against the stack's thresholds.",
    ),
    "blocklists": (
        "mailfleet.cli.blocklists_cmd",
        "Check every sending IP and domain of the tenants against DNS blocklists (DNSBL/RBL).",
    ),
    "bind-ips": (
        "mailfleet.cli.bind_ips_cmd",
        "Bind each tenant's Mailgun domains to the dedicated IPs (or IP pool) its files name.",
    ),
    "residency": (
        "mailfleet.cli.residency_cmd",
        "The data-residency report a data-protection officer asks for.",
    ),
    "tenant": (
        "mailfleet.cli.tenant_cmd",
        "Add, adopt, list, show and remove tenants (the files in the tenants directory).",
    ),
    "import": (
        "mailfleet.cli.import_cmd",
        "Adopt what already exists: write tenant files for the Mailgun domains, routes and webhooks of a region.",
    ),
    "migrate": (
        "mailfleet.cli.migrate_cmd",
        "Move tenants from one region stack to the other without losing mail: run (the default), "
        "status, report, resume, abort. See docs/migrate.md.",
    ),
    "shard": (
        "mailfleet.cli.shard_cmd",
        "The stacks (shards) of each region, and moving tenants between them: status, move, "
        "rebalance, pin. A state move only: nothing changes in Mailgun or DNS. See docs/sharding.md.",
    ),
}


class LazyGroup(TyperGroup):
    """The root group: commands from ``COMMANDS``, imported when run (or asked for help)."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in COMMANDS:
            return None
        module = importlib.import_module(COMMANDS[cmd_name][0])
        command = typer.main.get_command(module.app)
        command.name = cmd_name
        return command

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [(name, _short(summary, limit)) for name, (_, summary) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _short(text: str, limit: int) -> str:
    """Click's short-help cut: whole words up to ``limit``, then ``...``."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 3].rsplit(" ", 1)[0]
    return cut + "..."


app = typer.Typer(
    cls=LazyGroup,
    name="mailfleet",
    help="Declare, preview, check and migrate every tenant's Mailgun and DNS setup, per region stack.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings=HELP_OPTIONS,
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"mailfleet {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def root(
    ctx: typer.Context,
    tenants_dir: Annotated[
        Path | None,
        typer.Option("--tenants-dir", help="Directory of tenant files (default: <stacks-dir>/tenants)."),
    ] = None,
    stacks_dir: Annotated[
        Path | None,
        typer.Option(
            "--stacks-dir",
            help="Directory holding Pulumi.<stack>.yaml (default: $MAILFLEET_ROOT or the current directory).",
        ),
    ] = None,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="Log more (-vv for debug).")
    ] = 0,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    stacks = stacks_dir or default_root()
    ctx.obj = Settings(tenants_dir or stacks / "tenants", stacks, verbose)
    configure_logging(verbose)


def exit_code(exc: MailfleetError) -> int:
    """2 for a usage error (the command's input), 1 for invalid data or a failed operation."""
    return 2 if isinstance(exc, UsageError) else 1


def main() -> None:
    """Console-script entry point: one line per problem, exit 1 (data) or 2 (usage)."""
    try:
        app()
    except MailfleetError as exc:
        for line in exc.lines() if not exc.problems else [str(to_cli(p)) for p in exc.problems]:
            err(line)
        sys.exit(exit_code(exc))
    except KeyboardInterrupt:
        err("interrupted")
        sys.exit(130)
