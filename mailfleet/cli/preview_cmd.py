"""``mailfleet preview-report``: a reviewer's table of a real ``pulumi preview --json``."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from mailfleet.cli.common import TableMarkdownJson, command_app, manager
from mailfleet.cli.report_options import FailOnOption, FormatOption, OutputDirOption, emit
from mailfleet.errors import Problem, UsageError


def preview_report(
    ctx: typer.Context,
    file: Annotated[
        str,
        typer.Argument(
            metavar="FILE", help="The output of `pulumi preview --json` ('-' reads standard input)."
        ),
    ],
    stack: Annotated[
        str | None,
        typer.Option(
            "--stack",
            "-s",
            metavar="NAME",
            help="Stack name for the heading and marker (default: from the URNs).",
        ),
    ] = None,
    fmt: FormatOption = TableMarkdownJson.table,
    fail_on: FailOnOption = None,
    output_dir: OutputDirOption = None,
) -> None:
    """Show the DNS records (Route53, Cloudflare) and Mailgun resources a Pulumi preview changes.

    Reads the PreviewDigest printed by `pulumi preview --json` and renders the same rows as
    `mailfleet diff`: destructive rows first with the reason (replaceReasons named), TXT values
    joined, secrets shown as [secret]. Exit 1 for a file that is not a preview document,
    2 for a file that cannot be read.
    """
    if output_dir is not None and fmt != TableMarkdownJson.markdown:
        raise UsageError(problems=[Problem("--output-dir", "", "only with --format markdown")])
    if stack is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", stack):
        raise UsageError(problems=[Problem("--stack", "", f"{stack!r} is not a stack name")])
    try:
        text = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        raise UsageError(problems=[Problem(file, "", f"cannot read: {exc.strerror}")]) from None
    report = manager(ctx).preview_report(text, file, stack)
    emit(report, fmt, fail_on, output_dir)


app = command_app("preview-report", preview_report)
