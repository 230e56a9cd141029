"""``mailfleet shard``: the stacks of a region, and moving tenants between them (state moves)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mailfleet.cli.common import RegionOption, TableJson, err, format_table, manager, out, print_json

STATUS_FORMAT = "mailfleet-shards/1"
REBALANCE_FORMAT = "mailfleet-shard-rebalance/1"

shard_app = typer.Typer(
    rich_markup_mode=None,
    no_args_is_help=True,
    help="The stacks (shards) of each region, and moving tenants between them: status, move, "
    "rebalance, pin. A state move only: nothing changes in Mailgun or DNS. See docs/sharding.md.",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _progress(slug: str, point: str) -> None:
    if point == "begun":
        err(f"{slug}: moving (journal written)")


@shard_app.command("status")
def status(
    ctx: typer.Context,
    region: Annotated[
        RegionOption | None, typer.Option("--region", "-r", help="Only this region's stacks.")
    ] = None,
    fmt: Annotated[TableJson, typer.Option("--format", "-f", help="Output format.")] = TableJson.table,
) -> None:
    """Each stack: its region, tenants, cap, and the moves under way into or out of it."""
    rows = manager(ctx).shard_status(region)
    if fmt is TableJson.json:
        print_json({"format": STATUS_FORMAT, "stacks": rows})
        return
    table = [
        (
            r["stack"],
            r["region"],
            str(r["tenants"]),
            "-" if r["cap"] is None else str(r["cap"]),
            ", ".join(r["moving"]),
        )
        for r in rows
    ]
    for line in format_table(("stack", "region", "tenants", "cap", "moving"), table):
        out(line)


@shard_app.command("move")
def move(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(metavar="SLUG", help="The tenant to move.")],
    to: Annotated[
        str, typer.Option("--to", metavar="NAME", help="The stack of the same region to move it to.")
    ],
) -> None:
    """Move tenant SLUG to another stack of its region: `pulumi state move` of its resources,
    journaled in its tenant file (shard_move:). Nothing changes in Mailgun or DNS. A killed run
    resumes with the same command. Pause deploys of both stacks while it runs and land the
    tenant file right after (docs/sharding.md)."""
    result = manager(ctx).shard_mover(fault=_progress).move(slug, to)
    verb = "resumed and moved" if result.resumed else "moved"
    out(
        f"{slug}: {verb} from {result.source} to {result.target} "
        f"({len(result.moved)} resource(s) in state; nothing changed in Mailgun or DNS). "
        f"Next: commit tenants/{slug}.yaml, then pulumi preview -s {result.target} (expect no changes)."
    )


def _move_json(m: Any) -> dict[str, str]:
    return {"slug": m.slug, "from": m.source, "to": m.target}


@shard_app.command("rebalance")
def rebalance(
    ctx: typer.Context,
    region: Annotated[
        RegionOption, typer.Option("--region", "-r", help="The region whose stacks to balance.")
    ],
    yes: Annotated[bool, typer.Option("--yes", help="Apply the moves (default: list them only).")] = False,
    fmt: Annotated[TableJson, typer.Option("--format", "-f", help="Output format.")] = TableJson.table,
) -> None:
    """List the fewest moves that balance the region's stacks within their caps; --yes applies
    them one tenant at a time (state moves, each journaled and resumable; moves a killed run
    left under way are finished first)."""
    api = manager(ctx)
    moves, under_way = api.shard_rebalance(region)
    done: list[dict[str, str]] = []
    if yes:
        mover = api.shard_mover(fault=_progress)
        for slug, target in under_way:
            r = mover.move(slug, target)
            done.append({"slug": slug, "from": r.source, "to": r.target})
        mover = api.shard_mover(fault=_progress)  # re-reads the files those moves changed
        for m in moves:
            r = mover.move(m.slug, m.target)
            done.append({"slug": m.slug, "from": r.source, "to": r.target})
    if fmt is TableJson.json:
        print_json(
            {
                "format": REBALANCE_FORMAT,
                "region": region,
                "applied": yes,
                "moves": [_move_json(m) for m in moves],
                "under_way": [{"slug": s, "to": t} for s, t in under_way],
                "done": done,
            }
        )
        return
    if under_way:
        out(
            f"{len(under_way)} move(s) under way (a killed run): {', '.join(f'{s} -> {t}' for s, t in under_way)}"
        )
    if not moves:
        out(f"region {region}: balanced, no move needed")
    else:
        out(f"region {region}: {len(moves)} move(s) balance the stacks:")
        for line in format_table(("slug", "from", "to"), [(m.slug, m.source, m.target) for m in moves], "  "):
            out(line)
    if yes:
        out(f"applied {len(done)} move(s); nothing changed in Mailgun or DNS. Next: commit tenants/.")
    elif moves or under_way:
        out(f"Dry run: nothing moved. Apply with: mailfleet shard rebalance --region {region} --yes")


@shard_app.command("pin")
def pin(
    ctx: typer.Context,
    region: Annotated[RegionOption, typer.Option("--region", "-r", help="The region whose tenants to pin.")],
    stack: Annotated[
        str | None,
        typer.Option(
            "--stack", metavar="NAME", help="The stack they are in (default: the region's only stack)."
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List the tenants only.")] = False,
) -> None:
    """Write stack: into every tenant file of the region that names none: run it before adding
    the region's second stack (nothing moves; the files only say where the tenants already are)."""
    slugs = manager(ctx).shard_pin(region, stack, dry_run=dry_run)
    verb = "would pin" if dry_run else "pinned"
    out(f"{verb} {len(slugs)} tenant(s) of region {region}" + (f": {', '.join(slugs)}" if slugs else ""))


app = shard_app
