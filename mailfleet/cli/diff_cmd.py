"""``mailfleet diff``: what a change to tenants or stack files does, between two git revisions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailfleet.cli.common import TableMarkdownJson, command_app, manager, stack_option
from mailfleet.cli.report_options import FailOnOption, FormatOption, OutputDirOption, emit
from mailfleet.diff.outputs import Section
from mailfleet.errors import Problem, UsageError


def _read(path: Path, flag: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(problems=[Problem(flag, "", f"cannot read {path}: {exc.strerror}")]) from None


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
    preview: Annotated[
        Path | None,
        typer.Option(
            "--preview",
            metavar="FILE",
            help="A `pulumi preview --json` of one stack: its report joins that stack's in one comment.",
        ),
    ] = None,
    preview_log: Annotated[
        Path | None,
        typer.Option(
            "--preview-log",
            metavar="FILE",
            help="With --preview: the human output of `pulumi preview`, folded into the comment.",
        ),
    ] = None,
) -> None:
    """Compare the desired state of two git revisions, per stack and tenant, without a checkout.

    Rows are Mailgun domains, routes, webhooks, DNS records and outbound settings created,
    updated, replaced or deleted, with old and new values side by side (TXT values joined).
    Destructive rows come first and say why. With --preview, the real `pulumi preview` of a
    stack joins its report (one PR comment per stack). Invalid tenant or stack files at either revision
    exit 1 with one "REV:path: field: problem" line each; an unknown revision exits 2.
    """
    if output_dir is not None and fmt != TableMarkdownJson.markdown:
        raise UsageError(problems=[Problem("--output-dir", "", "only with --format markdown")])
    if preview_log is not None and preview is None:
        raise UsageError(problems=[Problem("--preview-log", "", "only with --preview")])
    mgr = manager(ctx)
    report = mgr.diff(base, head, stack_option(stack))
    if preview is not None:
        text = _read(preview, "--preview")
        raw = _read(preview_log, "--preview-log").decode("utf-8", "replace") if preview_log else None
        found = mgr.preview_report(text, str(preview), None)  # the stack its URNs name
        changes = found.stacks[0]
        if changes.stack not in {s.stack for s in report.stacks}:
            shown = ", ".join(s.stack for s in report.stacks)
            problem = Problem(
                "--preview", "", f"{preview} previews stack {changes.stack!r}, not one of: {shown}"
            )
            raise UsageError(problems=[problem])
        report.previews[changes.stack] = Section(found.title, found.source, changes, raw)
    emit(report, fmt, fail_on, output_dir)


app = command_app("diff", diff)
