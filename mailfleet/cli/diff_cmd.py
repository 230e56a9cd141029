"""``mailfleet diff``: what a change to tenants or stack files does, between two git revisions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailfleet.cli.common import (
    RegionOption,
    TableMarkdownJson,
    command_app,
    format_table,
    manager,
    out,
    print_json,
    stack_option,
)
from mailfleet.cli.report_options import FailOnOption, FormatOption, OutputDirOption, emit
from mailfleet.diff.affected import DEFAULT_API_LATENCY, DEFAULT_STACKS_AT_ONCE
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
    region: Annotated[
        RegionOption | None,
        typer.Option("--region", "-r", help="Every stack of this region (its shards); not with --stack."),
    ] = None,
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
    affected_stacks: Annotated[
        bool,
        typer.Option(
            "--affected-stacks",
            help="Print only the stacks the change touches, each with the --parallel for its "
            "`pulumi up` (CI's matrix; --format json: mailfleet-affected-stacks/1).",
        ),
    ] = False,
    stacks_at_once: Annotated[
        int,
        typer.Option(
            "--stacks-at-once",
            metavar="N",
            help="With --affected-stacks: how many stacks CI runs at once (shares the rate limits).",
        ),
    ] = DEFAULT_STACKS_AT_ONCE,
    api_latency: Annotated[
        float,
        typer.Option(
            "--api-latency",
            metavar="SECONDS",
            help="With --affected-stacks: the assumed mean latency of one provider API request.",
        ),
    ] = DEFAULT_API_LATENCY,
) -> None:
    """Compare the desired state of two git revisions, per stack and tenant, without a checkout.

    Rows are Mailgun domains, routes, webhooks, DNS records and outbound settings created,
    updated, replaced or deleted, with old and new values side by side (TXT values joined).
    Destructive rows come first and say why. With --preview, the real `pulumi preview` of a
    stack joins its report (one PR comment per stack). Invalid tenant or stack files at either revision
    exit 1 with one "REV:path: field: problem" line each; an unknown revision exits 2.
    """
    if affected_stacks:
        for flag, given in (("--preview", preview is not None), ("--region", region is not None)):
            if given:
                raise UsageError(problems=[Problem(flag, "", "not with --affected-stacks")])
        _affected(ctx, base, head, stack, fmt, fail_on, output_dir, stacks_at_once, api_latency)
        return
    if output_dir is not None and fmt != TableMarkdownJson.markdown:
        raise UsageError(problems=[Problem("--output-dir", "", "only with --format markdown")])
    if preview_log is not None and preview is None:
        raise UsageError(problems=[Problem("--preview-log", "", "only with --preview")])
    mgr = manager(ctx)
    report = mgr.diff(base, head, stack_option(stack), region)
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


def _affected(
    ctx: typer.Context,
    base: str,
    head: str | None,
    stack: str,
    fmt: TableMarkdownJson,
    fail_on: object,
    output_dir: object,
    stacks_at_once: int,
    api_latency: float,
) -> None:
    for flag, given in (
        ("--stack", stack != "all"),
        ("--fail-on", fail_on is not None),
        ("--output-dir", output_dir is not None),
        ("--format markdown", fmt == TableMarkdownJson.markdown),
    ):
        if given:
            raise UsageError(problems=[Problem(flag, "", "not with --affected-stacks")])
    result = manager(ctx).affected_stacks(base, head, stacks_at_once=stacks_at_once, api_latency=api_latency)
    if fmt == TableMarkdownJson.json:
        print_json(result.as_json())
        return
    out(f"{'every stack' if result.all_stacks else 'affected stacks'}: {result.reason}")
    rows = [(s.stack, s.region, str(s.parallel), ", ".join(s.reasons)) for s in result.stacks]
    if rows:
        for line in format_table(("stack", "region", "parallel", "why"), rows):
            out(line)
    else:
        out("no stack is affected")
    for gone in result.removed:
        out(
            f"removed: {gone['stack']} ({gone['region']}): its stack file is gone; `pulumi destroy` is manual"
        )
    out(f"at most {result.max_parallel} stack(s) at once")


app = command_app("diff", diff)
