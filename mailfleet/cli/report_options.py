"""Options and output shared by the commands that render a change report (diff, preview-report)."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from mailfleet.cli.common import TableMarkdownJson, err
from mailfleet.diff import outputs
from mailfleet.diff.outputs import Report
from mailfleet.errors import Problem, UsageError


class FailOn(StrEnum):
    destructive = "destructive"


FormatOption = Annotated[TableMarkdownJson, typer.Option("--format", "-f", help="Output format.")]
FailOnOption = Annotated[
    FailOn | None,
    typer.Option("--fail-on", help="Exit 1 (after printing) when a destructive row exists."),
]
OutputDirOption = Annotated[
    Path | None,
    typer.Option(
        "--output-dir",
        metavar="DIR",
        help="With --format markdown: write one file per PR comment and comments.json there.",
    ),
]


def emit(report: Report, fmt: TableMarkdownJson, fail_on: FailOn | None, output_dir: Path | None) -> None:
    """Print ``report`` (or write its PR comments), then exit 1 if ``--fail-on`` says so."""
    if output_dir is not None:
        try:
            made = outputs.write_comments(report, output_dir)
        except OSError as exc:
            problem = Problem("--output-dir", "", f"cannot write {output_dir}: {exc.strerror or exc}")
            raise UsageError(problems=[problem]) from None
        err(f"wrote {len(made)} comment file(s) and {outputs.MANIFEST} to {output_dir}")
    else:
        stream = sys.stdout.buffer if fmt is TableMarkdownJson.json else sys.stdout
        outputs.OUTPUTS[fmt.value](stream).run(report)
    if fail_on is FailOn.destructive and report.destructive:
        raise typer.Exit(1)
