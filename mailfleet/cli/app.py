"""The root ``mailfleet`` command: global options, command registration, error handling."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from mailfleet import __version__
from mailfleet.cli import (
    check_cmd,
    diff_cmd,
    migrate_cmd,
    plan_cmd,
    preview_cmd,
    records_cmd,
    residency_cmd,
    tenant_cmd,
    validate_cmd,
)
from mailfleet.cli.common import Settings, configure_logging, default_root, err
from mailfleet.cli.flags import to_cli
from mailfleet.errors import MailfleetError

app = typer.Typer(
    name="mailfleet",
    help="Declare, preview, check and migrate every tenant's Mailgun and DNS setup, per region stack.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
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


plan_cmd.register(app)
tenant_cmd.register(app)
validate_cmd.register(app)
records_cmd.register(app)
diff_cmd.register(app)
preview_cmd.register(app)
check_cmd.register(app)
migrate_cmd.register(app)
residency_cmd.register(app)


def main() -> None:
    """Console-script entry point: one line per problem, exit 1 (data) or 2 (usage)."""
    try:
        app()
    except MailfleetError as exc:
        for line in exc.lines() if not exc.problems else [str(to_cli(p)) for p in exc.problems]:
            err(line)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err("interrupted")
        sys.exit(130)
