"""``mailfleet diff``: what a change to tenants or stack files does, between two git revisions."""

from __future__ import annotations

from typing import Annotated

import typer

from mailfleet.cli.common import StackChoice, TableMarkdownJson, settings, stack_names
from mailfleet.cli.report_options import FailOnOption, FormatOption, OutputDirOption, emit


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
        StackChoice, typer.Option("--stack", "-s", help="Which stack to compare.")
    ] = StackChoice.all,
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
    from mailfleet.diff import compare, gitread, outputs, snapshot
    from mailfleet.errors import InvalidData, Problem, UsageError

    if output_dir is not None and fmt != TableMarkdownJson.markdown:
        raise UsageError(problems=[Problem("--output-dir", "", "only with --format markdown")])
    s = settings(ctx)
    lay = gitread.layout(s.tenants_dir, s.stacks_dir)
    revs = [(base, "--base")] + ([(head, "--head")] if head is not None else [])
    files = gitread.read_revisions(lay, revs)
    if head is None:
        files.append(gitread.read_worktree(s.tenants_dir, s.stacks_dir))
    loader = snapshot.Snapshots()
    old, new = loader.load(files[0]), loader.load(files[1])
    problems = old.problems + new.problems
    if problems:
        raise InvalidData(problems=problems)
    if not old.states and not new.states:
        where = Problem(str(s.stacks_dir), "", f"no stack files (Pulumi.<stack>.yaml) at {base} or head")
        raise InvalidData(problems=[where])
    wanted = stack_names(stack)
    if wanted is not None:
        missing = [n for n in wanted if n not in old.states and n not in new.states]
        if missing:
            raise UsageError(
                problems=[
                    Problem("--stack", "", f"no stack file Pulumi.{n}.yaml at {base} or head")
                    for n in missing
                ]
            )
    stacks = compare.compare(old, new, wanted)

    def rev_info(f: gitread.RevisionFiles) -> dict[str, str | None]:
        return {"rev": f.rev, "commit": f.commit}

    head_text = (
        f"`{files[1].rev}` (`{(files[1].commit or '')[:12]}`)" if head is not None else "the working tree"
    )
    report = outputs.Report(
        tool="mailfleet-diff",
        title="mailfleet diff",
        source=f"Desired state at `{base}` (`{(files[0].commit or '')[:12]}`) → {head_text}.",
        stacks=stacks,
        meta={"base": rev_info(files[0]), "head": rev_info(files[1])},
    )
    emit(report, fmt, fail_on, output_dir)


def register(app: typer.Typer) -> None:
    app.command("diff")(diff)
