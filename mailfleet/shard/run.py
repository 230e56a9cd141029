"""Moving tenants between the stacks of one region: a state move only, journaled, resumable.

Contract:
- ``ShardMover.move(slug, target)`` moves the tenant's ``TenantMail`` component and every child
  (selected by the component's URN, ``mailfleet.desired.naming``) from its stack to ``target``
  with the runner's ``state_move`` (``pulumi state move``). No ``up`` runs and no provider API
  is called: nothing changes in Mailgun or DNS, mail is not affected.
- The journal is the tenant file's ``shard_move:`` block (``mailfleet.shard.journal``): written
  before anything else; ``state-move`` recorded as started (the target stack declares the
  tenant from then on) before the runner is called and as done after; the last write sets
  ``stack:`` to the target and removes the block. A killed run resumes with the same command:
  every step is idempotent (``state_move`` finishes a move Pulumi left in both stacks and skips
  what already moved).
- A run holds the tenant's run lock (``mailfleet.migrate.journal.TenantRunLock``), shared with
  ``migrate``: a second run on the same tenant refuses at once.
- ``fault(slug, point)`` is called at ``begun``, ``started``, ``moved`` and ``recorded`` (tests
  kill the run there).
- ``rebalance`` proposes the fewest moves that balance a region's shards within their caps
  (``mailfleet.desired.shards.rebalance``); ``pin`` writes ``stack:`` into the tenants of a
  region that name none (before a region gets its second stack).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mailfleet.desired import naming
from mailfleet.desired.shards import Move, home
from mailfleet.desired.shards import rebalance as balance
from mailfleet.errors import InvalidData, Problem, UsageError
from mailfleet.migrate.journal import TenantRunLock
from mailfleet.migrate.runner import RunnerError, StackResource, StackRunner
from mailfleet.model.region import Region
from mailfleet.project import Project, param_problem
from mailfleet.shard.journal import ShardJournal

log = logging.getLogger("mailfleet.shard.run")

Fault = Callable[[str, str], None]


@dataclass
class MoveResult:
    slug: str
    source: str
    target: str
    moved: list[str] = field(default_factory=list)
    resumed: bool = False


def tenant_urns(resources: list[StackResource], slug: str) -> list[str]:
    """The tenant's component and its children in a stack's resources (by URN, never by name)."""
    top = [r.urn for r in resources if r.type == naming.COMPONENT_TYPE and r.name == naming.component(slug)]
    children = [r.urn for r in resources if naming.is_tenant_child(r.parent, slug)]
    return list(dict.fromkeys(top + children))


def moves_of(project: Project, region: Region) -> list[Move] | None:
    """``shard rebalance``'s plan for ``region``: the fewest moves to the balanced share."""
    names = project.shards(region)
    placement = {}
    for slug, t in project.tenants.items():
        if t.region != region or (t.migration is not None and t.migration.state != "done"):
            continue
        where = home(t, region, names)
        if where is not None:
            placement[slug] = t.shard_move.to if t.shard_move is not None else where
    return balance(placement, project.stacks_of_region(region))


class ShardMover:
    def __init__(
        self,
        tenants_dir: Path,
        stacks_dir: Path,
        runner: StackRunner | Callable[[], StackRunner],
        *,
        project: Project | None = None,
        fault: Fault | None = None,
    ) -> None:
        """``runner``: a ``StackRunner``, or a factory called on the first move (so bad input is
        refused before the runner, and the Pulumi CLI it may need, is looked for)."""
        self.tenants_dir = Path(tenants_dir)
        self.stacks_dir = Path(stacks_dir)
        self._runner = runner
        self.fault = fault
        self._project = project

    @property
    def runner(self) -> StackRunner:
        if not hasattr(self._runner, "state_move"):
            self._runner = self._runner()  # type: ignore[operator]
        return self._runner  # type: ignore[return-value]

    @property
    def project(self) -> Project:
        if self._project is None:
            self._project = Project.load(self.tenants_dir, self.stacks_dir)
        return self._project

    def _hook(self, slug: str, point: str) -> None:
        if self.fault is not None:
            self.fault(slug, point)

    def check(self, slug: str, target: str) -> tuple[str, bool]:
        """(source stack, resuming) for moving ``slug`` to ``target``; ``UsageError`` otherwise."""
        project = self.project
        tenant = project.tenants.get(slug)
        if tenant is None:
            raise UsageError(problems=[param_problem("slug", f"no tenant {slug!r} in {self.tenants_dir}")])
        if tenant.migration is not None and tenant.migration.state != "done":
            raise UsageError(
                problems=[
                    param_problem("slug", f"tenant {slug!r} is moving between regions (migrate status)")
                ]
            )
        cfg = project.stacks.get(target)
        if cfg is None or cfg.region != tenant.region:
            shards = ", ".join(project.shards(tenant.region))
            raise UsageError(
                problems=[
                    param_problem("to", f"{target!r} is not a stack of region {tenant.region!r} ({shards})")
                ]
            )
        move = tenant.shard_move
        if move is not None:
            if move.to != target:
                raise UsageError(
                    problems=[
                        param_problem(
                            "to",
                            f"tenant {slug!r} is being moved to {move.to!r}: finish that first "
                            f"(mailfleet shard move {slug} --to {move.to})",
                        )
                    ]
                )
            return move.from_stack, True
        source = home(tenant, tenant.region, project.shards(tenant.region))
        if source is None:  # reported by Project.load already; kept for type narrowing
            raise InvalidData(problems=[Problem(str(project.paths[slug]), "stack", "names no stack")])
        if source == target:
            raise UsageError(
                problems=[param_problem("to", f"tenant {slug!r} is already on stack {target!r}")]
            )
        return source, False

    def move(self, slug: str, target: str) -> MoveResult:
        source, resumed = self.check(slug, target)
        with TenantRunLock(self.tenants_dir, slug):
            journal = ShardJournal(self.tenants_dir, slug)
            move = journal.load().shard_move
            if move is None:
                move = journal.begin(source, target)
            self._hook(slug, "begun")
            if not move.started("state-move"):
                move = journal.step(move, "state-move", done=False)
            self._hook(slug, "started")
            moved: list[str] = []
            if not move.is_done("state-move"):
                urns = tenant_urns(self.runner.resources(source), slug)
                if urns:
                    moved = self.runner.state_move(source, target, urns)
                left = tenant_urns(self.runner.resources(source), slug)
                if left:
                    raise RunnerError(
                        problems=[
                            Problem(
                                f"stack {source}",
                                "",
                                f"{len(left)} resource(s) of tenant {slug!r} are still in the stack after the "
                                f"state move; run `mailfleet shard move {slug} --to {target}` again",
                            )
                        ]
                    )
                self._hook(slug, "moved")
                move = journal.step(move, "state-move", done=True)
            self._hook(slug, "recorded")
            journal.finish(move)
        log.info("shard move slug=%s source=%s target=%s moved=%d", slug, source, target, len(moved))
        return MoveResult(slug, source, target, moved, resumed)

    def under_way(self) -> list[tuple[str, str]]:
        """(slug, target) of every move a killed run left in the journal."""
        return sorted(
            (s, t.shard_move.to) for s, t in self.project.tenants.items() if t.shard_move is not None
        )
