"""``mailfleet validate [PATH...]``: every problem in tenant and stack files, one per line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailfleet.cli.common import TableJson, command_app, err, manager, out, print_json
from mailfleet.project import paused_gc


def validate(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            metavar="PATH",
            help="Tenant files, tenant directories or Pulumi.<stack>.yaml files "
            "(default: every tenant file and every stack file).",
            show_default=False,
        ),
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as problems.")] = False,
    fmt: Annotated[TableJson, typer.Option("--format", "-f", help="Output format.")] = TableJson.table,
) -> None:
    """Validate tenant and stack files: schema, cross-tenant conflicts, DNS limits.

    Prints every problem, not just the first, one line each as `file: field: problem`, on
    stderr, then a one-line summary; warnings are prefixed `warning:`. Given paths are checked
    against every other tenant too (a domain used twice is reported for the given file).
    Exit 0 when valid, 1 with any problem (or any warning with --strict), 2 for a missing path.
    """
    # As in ``plan``: one pause over loading, the rules and the warnings. Everything built
    # stays alive until the command ends; a full collection would only walk it again.
    with paused_gc():
        _validate(ctx, paths, strict, fmt)


def _validate(ctx: typer.Context, paths: list[Path] | None, strict: bool, fmt: TableJson) -> None:
    report = manager(ctx).validate(list(paths or []))
    problems = report.problems + (report.warnings if strict else [])
    if fmt is TableJson.json:
        print_json(report.as_dict(ok=not problems))
    else:
        for p in report.problems:
            err(str(p))
        for p in report.warnings:
            err(
                f"{p.where}: {p.field}: warning: {p.message}"
                if p.field
                else f"{p.where}: warning: {p.message}"
            )
    if problems:
        err(f"validate: {report.summary(problems)}")
        raise typer.Exit(1)
    if fmt is TableJson.table:
        out(f"OK: {report.summary([])}")


app = command_app("validate", validate)
