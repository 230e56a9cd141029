"""``mailfleet diff``: what a change to tenants or stack files does, between two git revisions."""

from __future__ import annotations

from typing import Annotated

import typer

from mailfleet.cli.common import TableMarkdownJson, command_app, manager, stack_option
from mailfleet.cli.report_options import FailOnOption, FormatOption, OutputDirOption, emit
from mailfleet.errors import Problem, UsageError


def diff(
    ctx: typer.Context,
    base: Annotated[
        str,
        typer.Option(
            "--base",
            metavar="REV",
            help="Git revision to compare from (e.g. origin/main).",
            show_default=False,
        ),
    ],
    head: Annotated[
        str | None,
        typer.Option(
            "--head",
            metavar="REV",
            help="Git revision to compare to (default: the working tree).",
            show_default=False,
        ),
    ] = None,
    stack: Annotated[
        str, typer.Option("--stack", "-s", metavar="NAME", help="A stack name (e.g. eu, us), or all.")
    ] = "all",
    fmt: FormatOption = TableMarkdownJson.table,
    fail_on: FailOnOption = None,
    output_dir: OutputDirOption = None,
) -> None:
    """Compare the desired state of two git revisions, per stack and tenant, without a checkout.

    Rows are Mailgun domains, routes, webhooks, DNS records and outbound settings created,
    updated, replaced or deleted, with old and new values side by side (TXT values joined).
    Destructive rows come first and say why. Invalid tenant or stack files at either revision
    exit 1 with one "REV:path: field: problem" line each; an unknown revision exits 2.
    """
    if output_dir is not None and fmt != TableMarkdownJson.markdown:
        raise UsageError(problems=[Problem("--output-dir", "", "only with --format markdown")])
    report = manager(ctx).diff(base, head, stack_option(stack))
    emit(report, fmt, fail_on, output_dir)


app = command_app("diff", diff)
