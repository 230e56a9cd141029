"""``mailfleet migrate``: move tenants between region stacks (run, status, report, resume, abort).

The group's default command is ``run``, so the spellings of the issue work as they read:
``mailfleet migrate acme --to eu`` is ``mailfleet migrate run acme --to eu`` and
``mailfleet migrate --from us --to eu --all`` is ``mailfleet migrate run --from us --to eu --all``.
(A tenant whose slug is ``run``, ``status``, ``resume`` or ``abort`` needs the explicit ``run``.)
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from typer.core import TyperGroup

from mailfleet.cli.common import RegionOption, TableJson, err, manager, out, print_json
from mailfleet.errors import Problem, UsageError
from mailfleet.migrate.engine import Migrator, Notice
from mailfleet.migrate.plan import PLAN_FORMAT
from mailfleet.migrate.report import REPORT_FORMAT, estimate_lines, report_lines
from mailfleet.model.migration import POINT_OF_NO_RETURN, STEP_NAMES

DEFAULT_RATE = 300  # Mailgun's documented budget on domain and webhook endpoints (per minute)


class _DefaultRunGroup(TyperGroup):
    """A group whose first argument, when it is not a subcommand, goes to ``run``."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


migrate_app = typer.Typer(
    rich_markup_mode=None,
    cls=_DefaultRunGroup,
    no_args_is_help=True,
    help=(
        "Move tenants from one region stack to the other without losing mail: "
        "run (the default), status, report, resume, abort. See docs/migrate.md."
    ),
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _usage(flag: str, message: str) -> Exception:
    return UsageError(problems=[Problem(flag, "", message)])


def _print_notice(notice: Notice) -> None:
    if notice.kind == "progress-step":
        return
    err(f"{notice.slug}: {notice.kind}: {notice.message}")
    for rec in notice.records:
        err(f"    {rec['name']} {rec['type']} ttl={rec['ttl']} {' | '.join(str(v) for v in rec['values'])}")


def _report(outcomes: list[Any], fmt: TableJson, ctx: typer.Context | None = None) -> None:
    failed = [o for o in outcomes if not o.ok]
    reports = manager(ctx).migration_reports([o.slug for o in outcomes]) if ctx is not None else []
    if fmt is TableJson.json:
        print_json(
            {
                "format": "mailfleet-migrate-result/1",
                "tenants": [
                    {"slug": o.slug, "ok": o.ok, "stopped_at": o.step, "message": o.message} for o in outcomes
                ],
                "failed": len(failed),
                "reports": reports,  # each as `mailfleet migrate report` gives it
            }
        )
    else:
        for o in outcomes:
            if o.ok:
                out(f"{o.slug}: {o.message}")
            else:
                out(f"{o.slug}: FAILED at {o.step or 'start'}: {o.message}")
        out(f"{len(outcomes) - len(failed)} done, {len(failed)} failed")
        if reports:
            out("")
            out("Report:")
            for line in report_lines(reports):
                out(f"  {line}")
    if failed:
        raise typer.Exit(1)


def _typed_confirmation(slugs: list[str]) -> Callable[[list[str]], bool]:
    """Asked once, when the first tenant reaches the point of no return: the operator types the
    slug (one tenant) or ``N tenants`` (several); anything else, or end of input, stops every
    tenant of the run before it. The answer holds for the rest of the run."""
    expected = slugs[0] if len(slugs) == 1 else f"{len(slugs)} tenants"
    answer: dict[str, bool] = {}
    asking = threading.Lock()  # tenants advance in parallel: one prompt, the others wait for it

    def ask(reaching: list[str]) -> bool:
        with asking:
            return _asked(reaching)

    def _asked(reaching: list[str]) -> bool:
        if "ok" not in answer:
            others = (
                f", then those of every tenant of this run ({', '.join(slugs)})" if len(slugs) > 1 else ""
            )
            err(
                f"POINT OF NO RETURN: the next step deletes the Mailgun domain(s) of {', '.join(reaching)} "
                f"in the source region{others} (Mailgun has no undelete)."
            )
            err(f"Type {expected!r} to go on (anything else stops before it; then resume or abort):")
            line = sys.stdin.readline()
            answer["ok"] = line.strip() == expected
            err("confirmed" if answer["ok"] else "not confirmed: stopping before the point of no return")
        return answer["ok"]

    return ask


def _with_progress(
    ctx: typer.Context,
    rate: int,
    total: int,
    work: Callable[[Migrator], Any],
    confirm: Callable[[list[str]], bool] | None = None,
) -> list[Any]:
    """Run ``work(migrator)`` with a progress bar on stderr (one tick per tenant step; none
    when the operator will be asked to confirm)."""
    api = manager(ctx)
    if total <= 1 or not sys.stderr.isatty() or confirm is not None:
        migrator = api.migrator(rate, _print_notice)
        migrator.confirm = confirm
        return list(work(migrator))
    progress = Progress(
        TextColumn("migrating"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = progress.add_task("migrate", total=total)

    def notify(notice: Notice) -> None:
        if notice.kind == "progress-step":
            progress.advance(task)
        else:
            progress.console.print(f"{notice.slug}: {notice.kind}: {notice.message}", markup=False)
            for rec in notice.records:
                progress.console.print(
                    f"    {rec['name']} {rec['type']} ttl={rec['ttl']} {' | '.join(str(v) for v in rec['values'])}",
                    markup=False,
                )

    with progress:
        return list(work(api.migrator(rate, notify)))


@migrate_app.command("run")
def run(
    ctx: typer.Context,
    slugs: Annotated[list[str] | None, typer.Argument(metavar="SLUG", help="Tenants to move.")] = None,
    to: Annotated[RegionOption | None, typer.Option("--to", help="Region to move to.")] = None,
    from_: Annotated[
        RegionOption | None,
        typer.Option("--from", help="Only tenants now in this region (required with --all)."),
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every tenant in the --from region.")] = False,
    batch: Annotated[
        int, typer.Option("--batch", min=1, help="Tenants moved together (one stack run per step per batch).")
    ] = 50,
    rate: Annotated[
        int, typer.Option("--rate", min=1, help="Mailgun requests per minute, both regions together.")
    ] = DEFAULT_RATE,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the full plan, change nothing.")] = False,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes", help="Confirm: the move deletes each tenant's Mailgun domain in the source region."
        ),
    ] = False,
    fmt: Annotated[TableJson, typer.Option("--format", "-f", help="Output format.")] = TableJson.table,
) -> None:
    """Move tenants to another region (the point of no return is the source domain's delete).

    Without --yes (from a terminal) the move runs up to the point of no return and asks the
    operator to type the tenant's slug (or "N tenants" for several) before it goes on.

    Steps: prepare (lower TTLs, wait out the old TTL), export (routes, webhooks, suppressions
    from the source API), cutover (DNS ownership moves to the target stack, the source stack
    deletes the Mailgun domain = POINT OF NO RETURN, wait for its 404, the target stack creates
    domain, routes, webhooks, credential and changes DNS values in place, suppressions
    imported, source routes deleted), dns (confirm; manual-DNS customers get the new values),
    verify (mailfleet check + Mailgun verify until a deadline), finalize (TTLs restored,
    region written). The journal is the migration: block of tenants/<slug>.yaml.

    Exit codes: 0 all moved; 1 a tenant failed (the others went on; resume it later); 2 usage.
    """
    if to is None:
        raise _usage("--to", "is required (the region to move to)")
    if all_ and slugs:
        raise _usage("--all", "give tenant SLUGs or --all, not both")
    if not all_ and not slugs:
        raise _usage("SLUG", "give one or more tenant SLUGs, or --from REGION --all")
    if all_ and from_ is None:
        raise _usage("--from", "is required with --all")
    if from_ is not None and from_ == to:
        raise _usage("--to", "must differ from --from")
    api = manager(ctx)
    slugs = api.migration_slugs([] if all_ else list(slugs or []), from_ if all_ else None)
    if dry_run:
        plans = [(p.slug, p.source, p.target, p.steps) for p in api.migration_plans(slugs, to)]
        est = api.migration_estimate(slugs, to, rate=rate, batch=batch)
        if fmt is TableJson.json:
            print_json(
                {
                    "format": PLAN_FORMAT,
                    "point_of_no_return": POINT_OF_NO_RETURN,
                    "estimate": est,
                    "tenants": [
                        {
                            "slug": slug,
                            "from": src.region,
                            "to": dst.region,
                            "steps": [p.as_dict() for p in plan],
                        }
                        for slug, src, dst, plan in plans
                    ],
                }
            )
            return
        for slug, src, dst, plan in plans:
            out(f"Migration plan for {slug}: {src.region} -> {dst.region} (dry run, nothing changes)")
            phase = None
            for p in plan:
                if p.phase != phase:
                    phase = p.phase
                    out(f"  {phase}")
                mark = "  <== POINT OF NO RETURN" if p.point_of_no_return else ""
                done = " (done)" if p.done else ""
                out(f"    {p.number:2d}. {p.step}{done}{mark}")
                out(f"        {p.summary}")
                for d in p.details:
                    out(f"          - {d}")
            out(
                f"  Until step {STEP_NAMES.index(POINT_OF_NO_RETURN) + 1} starts, `mailfleet migrate abort` "
                "undoes everything; from then on only `mailfleet migrate resume` goes forward."
            )
        for line in estimate_lines(est):
            out(line)
        return
    confirm = None
    if not yes:
        if not sys.stdin.isatty():
            raise _usage(
                "--yes",
                "a move deletes each tenant's Mailgun domain in the source region (the point of no return): "
                "pass --yes, run it from a terminal to type the confirmation there, or --dry-run to see the plan first",
            )
        confirm = _typed_confirmation(slugs)
    total = len(slugs) * len(STEP_NAMES)
    outcomes = _with_progress(
        ctx,
        rate,
        total,
        lambda m: m.start(slugs, to, from_region=from_, batch=batch),
        confirm,
    )
    _report(outcomes, fmt, ctx)


@migrate_app.command("resume")
def resume(
    ctx: typer.Context,
    slugs: Annotated[list[str], typer.Argument(metavar="SLUG", help="Tenants whose move to continue.")],
    batch: Annotated[int, typer.Option("--batch", min=1, help="Tenants moved together.")] = 50,
    rate: Annotated[int, typer.Option("--rate", min=1, help="Mailgun requests per minute.")] = DEFAULT_RATE,
    yes: Annotated[
        bool, typer.Option("--yes", help="Confirm (the move may pass its point of no return).")
    ] = False,
    fmt: Annotated[TableJson, typer.Option("--format", "-f", help="Output format.")] = TableJson.table,
) -> None:
    """Continue interrupted moves from the journal's next step (re-running a started step).

    Exit codes: 0 all finished; 1 a tenant failed again; 2 usage.
    """
    if not yes:
        raise _usage(
            "--yes", "resuming may pass the point of no return (the source domain's delete): pass --yes"
        )
    moving = manager(ctx).migrating(slugs)
    total = sum(
        len(STEP_NAMES) - sum(1 for st in STEP_NAMES if t.migration is not None and t.migration.is_done(st))
        for t in moving.values()
    )
    outcomes = _with_progress(ctx, rate, total, lambda m: m.resume(list(dict.fromkeys(slugs)), batch=batch))
    _report(outcomes, fmt, ctx)


@migrate_app.command("abort")
def abort(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(metavar="SLUG", help="The tenant whose move to undo.")],
    yes: Annotated[bool, typer.Option("--yes", help="Confirm.")] = False,
) -> None:
    """Undo a move that has not reached its point of no return (refused after it, exit 1).

    Removes the migration block and the export, then brings the source stack back to its
    normal TTLs. Exit codes: 0 aborted; 1 past the point of no return; 2 usage.
    """
    if not yes:
        raise _usage("--yes", "abort rewrites the tenant file and runs the source stack: pass --yes")
    # Name a wrong slug before asking for credentials or a stack runner.
    api = manager(ctx)
    api.abortable(slug)
    api.migrator(DEFAULT_RATE, _print_notice).abort(slug)
    out(f"{slug}: migration aborted; the tenant stays in its region")


@migrate_app.command("report")
def report(
    ctx: typer.Context,
    slugs: Annotated[
        list[str] | None,
        typer.Argument(metavar="SLUG", help="Tenants (default: every tenant with a migration block)."),
    ] = None,
    fmt: Annotated[TableJson, typer.Option("--format", "-f", help="Output format.")] = TableJson.table,
) -> None:
    """Per tenant: duration of each phase, the measured inbound gap, and the follow-ups (DKIM
    records to add or remove, SMTP logins to re-issue, mail stored in the old region until when)."""
    reports = manager(ctx).migration_reports(list(slugs or []))
    if fmt is TableJson.json:
        print_json({"format": REPORT_FORMAT, "tenants": reports})
        return
    if not reports:
        out("no migrations")
        return
    for line in report_lines(reports):
        out(line)


@migrate_app.command("status")
def status(
    ctx: typer.Context,
    slug: Annotated[
        str | None,
        typer.Argument(metavar="SLUG", help="One tenant (default: every tenant with a migration)."),
    ] = None,
    fmt: Annotated[TableJson, typer.Option("--format", "-f", help="Output format.")] = TableJson.table,
) -> None:
    """Where each move stands: phase, next step, steps done, point of no return, owner."""
    rows = manager(ctx).migration_status(slug)
    if fmt is TableJson.json:
        print_json({"format": "mailfleet-migrate-status/1", "tenants": rows})
        return
    if not rows:
        out("no migrations")
        return
    for r in rows:
        if r["state"] == "none":
            out(f"{r['slug']}: no migration (region {r['region']})")
            continue
        if r["state"] == "invalid":
            out(
                f"{r['slug']}: {r['from']} -> {r['to']} MOVING, journal invalid (phase {r['phase']}): "
                + "; ".join(r["problems"])
            )
            continue
        ponr = "passed" if r["point_of_no_return_passed"] else "not passed"
        nxt = f", next {r['next_step']}" if r["next_step"] else ""
        out(
            f"{r['slug']}: {r['from']} -> {r['to']} {r['state']}, phase {r['phase']}{nxt}, "
            f"{r['steps_done']}/{r['steps_total']} steps, point of no return {ponr}"
        )


app = migrate_app
