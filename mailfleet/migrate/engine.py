"""The migration engine: runs the steps of ``mailfleet.model.migration.STEPS`` for tenants.

Contract:
- A run holds each tenant's run lock (``TenantRunLock``) for its whole duration: a second
  run on the same tenant refuses at once with ``MigrationBusy``.
- Every step first records its start in the journal (the model changes with it: see
  ``Migration.declaration``), then does its Pulumi and Mailgun work, then records its end.
  A resumed run re-runs a started-but-unfinished step; every step is idempotent (``up`` of an
  unchanged stack changes nothing, ``state_move`` skips what already moved, suppression
  imports upsert, unmanaged routes are recreated only when absent).
- Tenants of a batch go through the steps together: one ``up`` per stack per step for the
  whole batch, per-tenant Mailgun calls in between. A tenant that fails a step is dropped from
  the batch (its journal stays at that step, ready for ``resume``); the others go on.
- ``fault(slug, step, point)`` is called at ``started``/``applied``/``done`` of every step of
  every tenant (tests raise there, or kill the process, to prove resume works).
- ``resume`` (not ``start``, not ``abort``) recovers a stack an interrupted update left locked
  or with pending operations: a runner call refused with ``StackBlocked`` is retried once after
  the runner's optional ``recover(stack)`` (``mailfleet.migrate.runner``).
- Nothing here prints: progress and notices go to ``notify``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

from mailfleet.desired.build import build_tenant, changing_purposes, new_dkim_record, platform_domain_of
from mailfleet.desired.naming import CREDENTIAL_LOGIN, DNS_TYPES, TYPE_MAILGUN_DOMAIN
from mailfleet.desired.state import DnsRecord, TenantState
from mailfleet.errors import InvalidData, MailfleetError, Problem, UsageError
from mailfleet.mailgun import ratelimit
from mailfleet.mailgun.client import SUPPRESSION_KINDS, MailgunClient
from mailfleet.mailgun.errors import MailgunError
from mailfleet.migrate import dkim as dkim_mod
from mailfleet.migrate import export as export_mod
from mailfleet.migrate.journal import Journal, MigrationBusy, TenantRunLock, current_owner
from mailfleet.migrate.runner import (
    RecoveringRunner,
    StackBlocked,
    StackRunner,
    UpResult,
    can_recover,
    tenant_resources,
)
from mailfleet.model.migration import (
    LOWERED_TTL,
    POINT_OF_NO_RETURN,
    STEP_NAMES,
    DkimOverlap,
    InboundGap,
    Migration,
    epoch,
    now_iso,
)
from mailfleet.model.region import Region
from mailfleet.model.stack import StackConfig
from mailfleet.model.tenant import Tenant
from mailfleet.project import Project, load_stacks, param_problem

log = logging.getLogger("mailfleet.migrate.engine")

FaultHook = Callable[[str, str, str], None]
T = TypeVar("T")


class Checker(Protocol):
    """``mailfleet check`` for one tenant in one region: the problems found ([] when all good)."""

    def __call__(self, tenant: Tenant, stack: StackConfig) -> list[str]: ...


@dataclass(frozen=True)
class Notice:
    """Something the operator (or a manual-DNS customer) must know; the CLI prints it."""

    slug: str
    kind: str  # step | progress | progress-step (one tenant finished a step) | manual-dns | warning
    message: str
    records: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Options:
    wait_gone_timeout: float = 1800.0
    verify_timeout: float = 3600.0
    poll_interval: float = 10.0
    lowered_ttl: int = LOWERED_TTL
    max_ttl_wait: float | None = None  # cap on the prepare.wait-ttl wait (None: the full old TTL)
    workers: int = 8  # tenants of a batch whose Mailgun calls run at once
    # Mailgun requests per minute (the run's --rate) by which tenants are spaced at the point
    # of no return: each passes it one target create's worth of calls after the previous one,
    # so tenants' creates do not meet in the rate budget and lengthen each other's gap. None:
    # no spacing.
    cutover_rate: float | None = None
    # Encrypts the target region's DKIM private keys at rest (mailfleet.migrate.dkim); a run
    # reaching prepare.dkim without it fails that step with one line.
    key_passphrase: str | None = field(default=None, repr=False)
    dkim_timeout: float = 3600.0  # prepare.dkim: how long to wait for the new selector to be live


@dataclass
class Outcome:
    """How one tenant's run ended."""

    slug: str
    ok: bool
    step: str | None  # the step it stopped at (None when done)
    message: str = ""


@dataclass(eq=False)
class _Run:
    slug: str
    journal: Journal
    tenant: Tenant
    lock: TenantRunLock

    @property
    def migration(self) -> Migration:
        assert self.tenant.migration is not None
        return self.tenant.migration

    def reload(self) -> None:
        self.tenant = self.journal.load()

    def use_last(self) -> None:
        """Take the tenant as the journal's last write validated it (no re-read)."""
        if self.journal.last is not None:
            self.tenant = self.journal.last
        else:
            self.reload()


# The steps during which the tenant's inbound mail waits (from the source domain's delete to
# the target's create): their calls use the rate limiter's urgent lane.
GAP_STEPS = frozenset({"cutover.wait-source-gone", "cutover.create-target"})


@dataclass(eq=False)
class _UpRequest:
    tenants: list[str] | None
    urgent: bool = False
    done: bool = False
    result: UpResult | None = None
    error: BaseException | None = None


class _StackGate:
    """One stack's runner operations in this process: ``mutex`` serialises them (the backend
    would refuse a second one while the first holds its lock), and ``up`` merges the targeted
    ups that tenants ask for while another is running into one up (group commit): a tenant
    never waits for more than the up in flight, and 500 tenants do not cost 500 ups."""

    def __init__(self, stack: str) -> None:
        self.stack = stack
        self.mutex = threading.RLock()
        self._cond = threading.Condition()
        self._queue: list[_UpRequest] = []
        self._leading = False

    def up(self, run_up: Callable[[list[str] | None], UpResult], tenants: list[str] | None) -> UpResult:
        req = _UpRequest(None if tenants is None else sorted(set(tenants)), urgent=ratelimit.URGENT.get())
        with self._cond:
            self._queue.append(req)
        while True:
            with self._cond:
                if req.done:
                    break
                if self._leading:
                    self._cond.wait()
                    continue
                self._leading = True
                batch, self._queue = self._queue, []
            try:
                self._serve(batch, run_up)
            finally:
                with self._cond:
                    self._leading = False
                    self._cond.notify_all()
        if req.error is not None:
            raise req.error
        assert req.result is not None
        return req.result

    def _serve(self, batch: list[_UpRequest], run_up: Callable[[list[str] | None], UpResult]) -> None:
        whole = any(r.tenants is None for r in batch)
        merged = None if whole else sorted({t for r in batch for t in r.tenants or ()})
        try:
            with self.mutex, ratelimit.urgent(any(r.urgent for r in batch)):
                try:
                    result = run_up(merged)
                    for r in batch:
                        r.result = result
                except (MailfleetError, MailgunError) as exc:
                    if len(batch) == 1 or whole:
                        for r in batch:
                            r.error = exc
                    else:
                        # Which tenant's resources failed? Each alone (idempotent: what the
                        # merged up did is not done again), so no tenant fails for another.
                        for r in batch:
                            try:
                                r.result = run_up(r.tenants)
                            except (MailfleetError, MailgunError) as one:
                                r.error = one
        except BaseException as exc:  # a kill (tests) or an interrupt: every waiter sees it
            for r in batch:
                if r.result is None and r.error is None:
                    r.error = exc
            raise
        finally:
            with self._cond:
                for r in batch:
                    r.done = True


class Migrator:
    """Starts, resumes and aborts moves of tenants between region stacks."""

    def __init__(
        self,
        tenants_dir: Path,
        stacks_dir: Path,
        runner: StackRunner,
        mailgun: Callable[[str], MailgunClient],
        *,
        checker: Checker | None = None,
        options: Options | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        notify: Callable[[Notice], None] | None = None,
        fault: FaultHook | None = None,
        confirm: Callable[[list[str]], bool] | None = None,
    ) -> None:
        self.tenants_dir = Path(tenants_dir)
        self.stacks_dir = Path(stacks_dir)
        self.runner = runner
        self._mailgun_factory = mailgun
        self._clients: dict[str, MailgunClient] = {}
        self._clients_lock = threading.Lock()
        self.checker = checker
        self.options = options or Options()
        self.clock = clock
        self.sleep = sleep
        self.notify = notify or (lambda notice: None)
        self.fault = fault
        # Asked once a tenant is about to pass the point of no return (``mailfleet migrate``
        # without --yes types the confirmation); False stops those tenants before it.
        self.confirm = confirm
        self._project: Project | None = None
        self._pending_exports: dict[str, Any] = {}
        self._recover = False  # set by resume: stacks left blocked by a dead update are recovered
        self._gates: dict[str, _StackGate] = {}
        self._gates_lock = threading.Lock()
        self._route_indexes: dict[str, export_mod.RouteIndex] = {}
        self._route_indexes_lock = threading.Lock()
        # Inbound gap marks, by slug, between a step's work and the journal write ending it.
        self._deleted_at: dict[str, float] = {}
        self._pace_lock = threading.Lock()
        self._next_cutover = 0.0
        self._live_at: dict[str, float] = {}

    # -- plumbing -------------------------------------------------------------------------

    def mailgun(self, region: str) -> MailgunClient:
        with self._clients_lock:
            if region not in self._clients:
                self._clients[region] = self._mailgun_factory(region)
            return self._clients[region]

    def _each(self, group: list[_Run], fn: Callable[[_Run], None]) -> dict[str, str]:
        """``fn(r)`` for every tenant, ``workers`` at a time; the tenants that failed, with why."""

        def run(r: _Run) -> str | None:
            try:
                fn(r)
            except (MailgunError, MailfleetError) as exc:
                return _message(exc)
            return None

        if len(group) <= 1 or self.options.workers <= 1:
            results = [run(r) for r in group]
        else:
            with ThreadPoolExecutor(max_workers=self.options.workers) as pool:
                results = list(pool.map(run, group))
        return {r.slug: message for r, message in zip(group, results, strict=True) if message}

    @property
    def project(self) -> Project:
        """The stack files (read once per run; stacks are found by region through it)."""
        if self._project is None:
            self._project = load_stacks(self.tenants_dir, self.stacks_dir)
        return self._project

    def stack_for(self, region: Region, tenant: Tenant | None = None) -> StackConfig:
        """The stack serving ``region`` (``mailfleet:region``), whatever its name; in a region
        with several stacks (shards), the one serving ``tenant`` there (docs/sharding.md)."""
        if not self.project.stacks_of_region(region):
            raise UsageError(problems=[param_problem("to", f"no stack file serves region {region!r}")])
        return self.project.stack_for_region(region, tenant)

    def _hook(self, slug: str, step: str, point: str) -> None:
        if self.fault is not None:
            self.fault(slug, step, point)

    # -- starting -------------------------------------------------------------------------

    def new_migration(self, tenant: Tenant, to: str) -> Migration:
        """The journal block a move of ``tenant`` to ``to`` starts with (nothing written)."""
        if tenant.region == to:
            raise UsageError(problems=[param_problem("to", f"tenant {tenant.slug!r} is already in {to!r}")])
        source = self.stack_for(tenant.region, tenant)
        self.stack_for(to, tenant)
        now = self.clock()
        return Migration.model_validate(
            {
                "from": tenant.region,
                "to": to,
                "started_at": now_iso(now),
                "platform_domain": platform_domain_of(tenant, source),
                "platform_zone_id": source.hosted_zone_id,
                "original_ttl": source.record_ttl,
                "lowered_ttl": self.options.lowered_ttl,
                "owner": current_owner(now).model_dump(),
            }
        )

    def start(
        self, slugs: list[str], to: str, *, from_region: str | None = None, batch: int = 50
    ) -> list[Outcome]:
        """Begin moving ``slugs`` to region ``to`` and run them to the end (or their failure)."""
        outcomes: list[Outcome] = []
        ready: list[str] = []
        for slug in slugs:
            journal = Journal(self.tenants_dir, slug)
            try:
                tenant = journal.load()
                if tenant.migration is not None:
                    m = tenant.migration
                    if m.state == "done":
                        raise UsageError(
                            problems=[
                                Problem(f"tenant {slug}", "", f"already moved from {m.from_region} to {m.to}")
                            ]
                        )
                    raise UsageError(
                        problems=[
                            Problem(
                                f"tenant {slug}",
                                "",
                                f"a move to {m.to} is under way (next step {m.next_step}); "
                                f"use `mailfleet migrate resume {slug}` or `abort`",
                            )
                        ]
                    )
                if from_region is not None and tenant.region != from_region:
                    raise UsageError(
                        problems=[
                            Problem(
                                f"tenant {slug}", "region", f"is in {tenant.region!r}, not {from_region!r}"
                            )
                        ]
                    )
                with TenantRunLock(self.tenants_dir, slug):
                    journal.write(self.new_migration(tenant, to))
                ready.append(slug)
            except MailfleetError as exc:
                outcomes.append(Outcome(slug, False, None, "; ".join(exc.lines())))
        outcomes.extend(self.resume(ready, batch=batch, recover=False))
        return outcomes

    # -- running --------------------------------------------------------------------------

    def resume(self, slugs: list[str], *, batch: int = 50, recover: bool = True) -> list[Outcome]:
        """Run every tenant of ``slugs`` from its journal's next step to the end.

        Each tenant runs its own step sequence; at most ``batch`` tenants run at once (a worker
        pool), so a tenant waiting (for its source domain's 404, for DNS) or failing never holds
        back another: the others' steps go on, and their stack runs are targeted at their own
        resources (``_up``). ``recover`` (``mailfleet migrate resume``): a stack an interrupted
        run left locked or with pending operations is recovered by the runner (``_stack_op``)."""
        self._recover = recover
        self._route_indexes.clear()
        try:
            workers = min(max(1, batch), len(slugs))
            if workers <= 1:
                return [self._run_tenant(slug) for slug in slugs]
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="migrate") as pool:
                return list(pool.map(self._run_tenant, slugs))
        finally:
            self._recover = False

    def _acquire(self, slug: str) -> _Run:
        journal = Journal(self.tenants_dir, slug)
        tenant = journal.load()
        if tenant.migration is None:
            raise UsageError(problems=[Problem(f"tenant {slug}", "migration", "no migration under way")])
        lock = TenantRunLock(self.tenants_dir, slug)
        owner = tenant.migration.owner
        hint = f" (journal owner: {owner.host} pid {owner.pid} since {owner.since})" if owner else ""
        lock.acquire(hint)
        try:
            if tenant.migration.state != "done":
                journal.update(owner=current_owner(self.clock()))
                tenant = journal.load()
        except BaseException:
            lock.release()
            raise
        return _Run(slug, journal, tenant, lock)

    def _run_tenant(self, slug: str) -> Outcome:
        """One tenant from its next step to the end (or the step that failed); its lock held throughout."""
        try:
            r = self._acquire(slug)
        except (MigrationBusy, MailfleetError) as exc:
            return Outcome(slug, False, None, "; ".join(exc.lines()))
        try:
            if r.migration.state == "done":
                return Outcome(slug, True, None, "already done")
            while (step := r.migration.next_step) is not None:
                if step == POINT_OF_NO_RETURN and not r.migration.started(step):
                    self._pace_cutover(r)
                # In its inbound gap, a tenant's Mailgun calls go before the others' (the
                # rate limiter's urgent lane): a batch's exports never lengthen its gap.
                with ratelimit.urgent(step in GAP_STEPS):
                    failed = self._run_step(step, [r])
                if r in failed:
                    return Outcome(slug, False, step, failed[r])
                if r.migration.state != "done" and r.migration.next_step == step:
                    break  # a step that neither failed nor finished: report it, never loop
            r.reload()
            if r.migration.state == "done":
                return Outcome(slug, True, None, "done")
            return Outcome(slug, False, r.migration.next_step, "not finished")
        finally:
            r.lock.release()

    def _run_step(self, step: str, group: list[_Run]) -> dict[_Run, str]:
        """Run ``step`` for ``group``; returns the tenants that failed, with why."""
        handler = _STEP_HANDLERS[step]
        failed: dict[_Run, str] = {}
        started: list[_Run] = []
        if step == POINT_OF_NO_RETURN and self.confirm is not None:
            asking = [r for r in group if not r.migration.started(step)]
            if asking and not self.confirm([r.slug for r in asking]):
                for r in asking:
                    failed[r] = (
                        "not confirmed: stopped before the point of no return (nothing deleted); "
                        f"`mailfleet migrate resume {r.slug} --yes` goes on, `mailfleet migrate abort {r.slug} --yes` undoes"
                    )
                group = [r for r in group if r not in failed]
        for r in group:
            try:
                extra = {"point_of_no_return_passed": True} if step == POINT_OF_NO_RETURN else {}
                r.journal.start_step(step, self.clock(), r.migration, **extra)
                r.use_last()
                started.append(r)
                self._hook(r.slug, step, "started")
            except MailfleetError as exc:
                failed[r] = "; ".join(exc.lines())
        if not started:
            return failed
        self.notify(Notice(",".join(r.slug for r in started), "step", f"{step} ({len(started)} tenant(s))"))
        try:
            per_tenant = handler(self, step, started)
        except (MailfleetError, MailgunError) as exc:
            message = _message(exc)
            log.warning("step failed step=%s tenants=%d error=%s", step, len(started), message)
            for r in started:
                failed[r] = message
            return failed

        def finish(r: _Run) -> str | None:
            if r.slug in per_tenant:
                return per_tenant[r.slug]
            try:
                self._hook(r.slug, step, "applied")
                if step == STEP_NAMES[-1]:
                    self._finish(r)
                else:
                    # One write ends this step and starts the next (nothing happens in between),
                    # except the point of no return, whose start is its own, deliberate write.
                    after = STEP_NAMES[STEP_NAMES.index(step) + 1]
                    r.journal.finish_step(
                        step,
                        self.clock(),
                        r.migration,
                        then_start=None if after == POINT_OF_NO_RETURN else after,
                        **self._finish_changes(step, r),
                    )
                r.use_last()
                self.notify(Notice(r.slug, "progress-step", step))
                self._hook(r.slug, step, "done")
            except MailfleetError as exc:
                return "; ".join(exc.lines())
            return None

        # Sequential: journal writes take the directory lock (a polling file lock), so
        # writing from several threads only adds lock waits.
        messages = [finish(r) for r in started]
        for r, message in zip(started, messages, strict=True):
            if message is not None:
                failed[r] = message
        return failed

    def _finish_changes(self, step: str, r: _Run) -> dict[str, Any]:
        if step == "prepare.lower-ttl":
            return {"ttl_wait_until": now_iso(self.clock() + r.migration.original_ttl)}
        if step == "export":
            return {"export": self._pending_exports.pop(r.slug)}
        if step == POINT_OF_NO_RETURN and r.migration.inbound_gap is None:
            # The release up has returned: the source region accepted the domain's delete.
            deleted = self._deleted_at.pop(r.slug, None) or self.clock()
            return {
                "inbound_gap": InboundGap(
                    source_deleted_at=round(deleted, 3), resolver_cache_s=r.migration.lowered_ttl
                )
            }
        if step == "cutover.create-target":
            gap = r.migration.inbound_gap
            if gap is not None and gap.target_live_at is None:
                live = self._live_at.pop(r.slug, None) or self.clock()
                return {
                    "inbound_gap": gap.model_copy(
                        update={
                            "target_live_at": round(live, 3),
                            "seconds": round(max(0.0, live - gap.source_deleted_at), 3),
                        }
                    )
                }
        return {}

    def _finish(self, r: _Run) -> None:
        m = r.migration
        steps = dict(m.steps)
        now = self.clock()
        steps[STEP_NAMES[-1]] = steps[STEP_NAMES[-1]].model_copy(update={"done_at": now_iso(now)})
        done = Migration.model_validate(
            {
                **m.model_dump(mode="json", by_alias=True, exclude_none=True),
                "steps": {k: v.model_dump(mode="json", exclude_none=True) for k, v in steps.items()},
                "state": "done",
                "finished_at": now_iso(now),
                "owner": None,
            }
        )
        # A tenant that names its stack names the target's from now on (the region moved).
        stack = self._target(r).name if r.tenant.stack is not None else None
        r.journal.write(done, region=m.to, stack=stack)

    # -- the steps ------------------------------------------------------------------------

    def _source(self, r: _Run) -> StackConfig:
        return self.stack_for(r.migration.from_region, r.tenant)

    def _target(self, r: _Run) -> StackConfig:
        return self.stack_for(r.migration.to, r.tenant)

    def _pace_cutover(self, r: _Run) -> None:
        """Wait for this tenant's turn at the point of no return (``Options.cutover_rate``)."""
        rate = self.options.cutover_rate
        if not rate:
            return
        target = build_tenant(r.tenant, self._target(r))
        # The target create's Mailgun calls, plus the wait's polls and the verify, roughly.
        calls = len(target.domains) * 3 + len(target.routes) + len(target.webhooks) + 1
        spacing = calls * 60.0 / rate
        with self._pace_lock:
            now = self.clock()
            turn = max(now, self._next_cutover)
            self._next_cutover = turn + spacing
        if turn > now:
            self.sleep(turn - now)

    def _gate(self, stack: str) -> _StackGate:
        with self._gates_lock:
            if stack not in self._gates:
                self._gates[stack] = _StackGate(stack)
            return self._gates[stack]

    def _up(self, stack: StackConfig, runs: list[_Run] | None = None) -> None:
        """``up`` of ``stack`` targeted at the tenants of ``runs`` (None: the whole stack).

        Tenants advance independently, so several may want the same stack at once: their
        targeted ups are merged into one (``_StackGate``); a merged up that fails is retried per
        tenant, so one tenant's failure is never another's."""
        self._up_tenants(stack, None if runs is None else [r.slug for r in runs])

    def _up_tenants(self, stack: StackConfig, slugs: list[str] | None) -> None:
        def run_up(tenants: list[str] | None) -> UpResult:
            if tenants is None:
                return self._stack_op(self.runner.up, stack.name)
            return self._stack_op(partial(self.runner.up, tenants=tenants), stack.name)

        result = self._gate(stack.name).up(run_up, slugs)
        log.info(
            "up stack=%s tenants=%s changes=%s",
            stack.name,
            "all" if slugs is None else len(slugs),
            {k: len(v) for k, v in result.changes.items()},
        )

    def _locked(self, *stacks: str) -> contextlib.ExitStack:
        """Hold the in-process mutex of ``stacks`` (sorted: no deadlock) for a runner operation
        that takes the backend's lock, so this run's own operations never refuse each other."""
        held = contextlib.ExitStack()
        for name in sorted(set(stacks)):
            held.enter_context(self._gate(name).mutex)
        return held

    def _stack_op(self, call: Callable[..., T], *args: Any) -> T:
        """``call(*args)``; when resuming, a stack an interrupted update left blocked is recovered by
        the runner once (``recover``: cancel a dead holder's lock, clear or import the pending
        creates) and the call retried. Otherwise ``StackBlocked`` fails the step, naming the
        command to run."""
        try:
            return call(*args)
        except StackBlocked as exc:
            if not (self._recover and can_recover(self.runner)):
                raise
            log.warning("stack blocked stack=%s reason=%s: recovering", exc.stack, exc.reason)
            done = cast(RecoveringRunner, self.runner).recover(exc.stack)
            left = "locked" if exc.reason == "locked" else "with pending operations"
            self.notify(
                Notice(
                    f"stack {exc.stack}",
                    "warning",
                    f"an interrupted update left it {left}; ran {'; '.join(done)}",
                )
            )
        return call(*args)

    def _step_lower_ttl(self, step: str, group: list[_Run]) -> dict[str, str]:
        for source in {self._source(r).name: self._source(r) for r in group}.values():
            self._up(source, [r for r in group if self._source(r).name == source.name])
        for r in group:
            manual = self._changing_manual_records(r)
            if manual:
                wait_until = now_iso(self.clock() + r.migration.original_ttl)
                self.notify(
                    Notice(
                        r.slug,
                        "manual-dns",
                        f"ask the customer to lower the TTL of these records to {r.migration.lowered_ttl} s now; "
                        f"their values change after the cutover, no earlier than {wait_until}",
                        [_record_row(rec, ttl=r.migration.lowered_ttl) for rec in manual],
                    )
                )
        return {}

    def _step_prepare_dkim(self, step: str, group: list[_Run]) -> dict[str, str]:
        """DKIM overlap: the target's keys made (or the stored ones reused), their public halves
        journaled and published by the target stack under the new selector, then checked live
        (``mailfleet check`` on what the target declares now: those records only)."""
        passphrase = self.options.key_passphrase
        if not passphrase:
            why = "no passphrase to encrypt the new DKIM key with: set " + " or ".join(
                dkim_mod.PASSPHRASE_VARS
            )
            return {r.slug: why for r in group}

        def one(r: _Run) -> None:
            if r.migration.dkim is not None:
                return
            source, target = self._source(r), self._target(r)
            domains = [d.name for d in build_tenant(r.tenant, source).domains]
            selector = dkim_mod.next_selector(r.tenant.dkim.selector, target.region)
            keys = {
                d: dkim_mod.ensure_key(self.tenants_dir, r.slug, d, selector, passphrase) for d in domains
            }
            self._hook(r.slug, step, "key-saved")
            old: dict[str, str] = {}
            client = self.mailgun(source.region)
            for d in domains:
                name = f"{r.tenant.dkim.selector}._domainkey.{d}"
                for item in client.get_domain(d).get("sending_dns_records", []):
                    if item.get("name") == name and item.get("record_type") == "TXT":
                        old[d] = str(item.get("value"))
            now = self.clock()
            overlap = {
                "selector": selector,
                "old_selector": r.tenant.dkim.selector,
                "keys": keys,
                "old_values": old,
                "generated_at": now_iso(now),
                "publish_by": now_iso(now + self.options.dkim_timeout),
            }
            r.journal.update(r.migration, dkim=DkimOverlap.model_validate(overlap))
            r.use_last()

        failed = self._each(group, one)
        ready = [r for r in group if r.slug not in failed]
        for target in {self._target(r).name: self._target(r) for r in ready}.values():
            self._up(target, [r for r in ready if self._target(r).name == target.name])
        for r in ready:
            target = self._target(r)
            manual = [
                rec
                for rec in build_tenant(r.tenant, target).records
                if rec.provider == "manual" and new_dkim_record(r.tenant, rec)
            ]
            if manual:
                assert r.migration.dkim is not None
                self.notify(
                    Notice(
                        r.slug,
                        "manual-dns",
                        f"ask the customer to ADD these DKIM records now, by {r.migration.dkim.publish_by} "
                        f"(new selector {r.migration.dkim.selector}; keep the {r.migration.dkim.old_selector} "
                        "record as it is): the move waits for them before its point of no return",
                        [_record_row(rec) for rec in manual],
                    )
                )
        failed.update(
            self._wait_checked(ready, self.options.dkim_timeout, "the new DKIM records are not live")
        )
        return failed

    def _wait_checked(self, group: list[_Run], timeout: float, what: str) -> dict[str, str]:
        """Poll ``check`` on what each tenant's target stack declares until it finds nothing."""
        if self.checker is None or not group:
            return {}
        deadline = self.clock() + timeout
        pending = {r.slug: r for r in group}
        last: dict[str, list[str]] = {}
        while True:

            def look(r: _Run) -> None:
                assert self.checker is not None
                last[r.slug] = list(self.checker(r.tenant, self._target(r)))

            errors = self._each(list(pending.values()), look)
            if errors:
                return errors
            for slug in [slug for slug in pending if not last[slug]]:
                del pending[slug]
            if not pending:
                return {}
            if self.clock() >= deadline:
                return {
                    slug: f"{what} after {timeout:g} s: {'; '.join(last[slug])}; run "
                    f"`mailfleet migrate resume {slug}` once they are (nothing past the point of no "
                    "return was done)"
                    for slug in pending
                }
            self.sleep(min(self.options.poll_interval, max(0.0, deadline - self.clock())))

    def _install_dkim(self, group: list[_Run]) -> dict[str, str]:
        """Import and activate each moved domain's new key in the target region (mailfleet.migrate.dkim)."""

        def one(r: _Run) -> None:
            overlap = r.migration.dkim
            if overlap is None:
                return
            client = self.mailgun(r.migration.to)
            for domain, public in overlap.keys.items():

                def pem(domain: str = domain, public: str = public) -> str:
                    return self._private_key(r, domain, public)

                dkim_mod.install(client, domain, overlap.selector, pem)

        return self._each(group, one)

    def _private_key(self, r: _Run, domain: str, public: str) -> str:
        path = dkim_mod.key_path(self.tenants_dir, r.slug, domain)
        if not path.exists():
            raise InvalidData(problems=[Problem(str(path), "", "the new DKIM key of the move is missing")])
        if dkim_mod.stored_public_key(path) != public:
            raise InvalidData(
                problems=[Problem(str(path), "public_key", "differs from the journal's migration.dkim")]
            )
        if not self.options.key_passphrase:
            raise InvalidData(
                problems=[
                    Problem(str(path), "", "set " + " or ".join(dkim_mod.PASSPHRASE_VARS) + " to decrypt it")
                ]
            )
        return dkim_mod.unseal(path, self.options.key_passphrase)

    def _step_wait_ttl(self, step: str, group: list[_Run]) -> dict[str, str]:
        until = max(epoch(r.migration.ttl_wait_until) for r in group if r.migration.ttl_wait_until)
        wait = until - self.clock()
        if self.options.max_ttl_wait is not None:
            wait = min(wait, self.options.max_ttl_wait)
        if wait > 0:
            self.notify(
                Notice(",".join(r.slug for r in group), "progress", f"waiting {wait:.0f} s for old TTLs")
            )
            self.sleep(wait)
        return {}

    def _step_export(self, step: str, group: list[_Run]) -> dict[str, str]:
        # Routes are account-wide per region: list them once per run (the tenants' routes,
        # hand-made ones included, do not change while they wait for their export).
        indexes: dict[str, export_mod.RouteIndex] = {}
        for region in {r.migration.from_region for r in group}:
            with self._route_indexes_lock:
                if region not in self._route_indexes:
                    self._route_indexes[region] = export_mod.RouteIndex.fetch(self.mailgun(region))
                indexes[region] = self._route_indexes[region]

        def one(r: _Run) -> None:
            source = self._source(r)
            # Before the point of no return the source stack still declares everything.
            declared = build_tenant(r.tenant, source)
            data = export_mod.export_tenant(
                self.mailgun(source.region), declared, indexes[source.region], now_iso(self.clock())
            )
            self._pending_exports[r.slug] = r.journal.write_export(data)

        return self._each(group, one)

    def _late_exports(self, group: list[_Run]) -> None:
        """The second suppression export, just before the source domains go: what was added
        since the first. Recorded in the journal (``export.late``) BEFORE anything is deleted,
        so a resumed step never exports again from a domain that is gone. When it fails for a
        tenant, the step stops for the group before any change (nothing moved or deleted)."""

        def one(r: _Run) -> None:
            m = r.migration
            if m.export is None or m.export.late is not None:
                return
            first = r.journal.read_export(m.export)
            now = now_iso(self.clock())
            data = export_mod.late_suppressions(self.mailgun(m.from_region), first, now)
            late = r.journal.write_late_export(data, now)
            r.journal.update(m, export=m.export.model_copy(update={"late": late}))
            r.use_last()
            if data.get("gone"):
                self.notify(
                    Notice(
                        r.slug,
                        "warning",
                        "second suppression export: already gone from the source region: "
                        + ", ".join(data["gone"]),
                    )
                )

        failed = self._each(group, one)
        if failed:
            raise InvalidData(
                problems=[
                    Problem(f"tenant {slug}", "", f"second suppression export failed: {why}")
                    for slug, why in sorted(failed.items())
                ]
            )

    def _step_release_source(self, step: str, group: list[_Run]) -> dict[str, str]:
        """The point of no return: DNS ownership moves to the target, the source drops the domain."""
        self._late_exports(group)
        by_source: dict[tuple[str, str], list[_Run]] = {}
        for r in group:
            by_source.setdefault((self._source(r).name, self._target(r).name), []).append(r)
        for (src, dst), runs in by_source.items():
            held = self.runner.resources(src)
            dns = [res.urn for r in runs for res in tenant_resources(held, r.slug, DNS_TYPES)]
            with self._locked(src, dst):
                moved = self._stack_op(self.runner.state_move, src, dst, dns) if dns else []
            log.info("dns ownership moved src=%s dst=%s records=%d", src, dst, len(moved))
            domains = [
                res.urn
                for r in runs
                for res in tenant_resources(held, r.slug, frozenset({TYPE_MAILGUN_DOMAIN}))
            ]
            target = self.project.stacks[dst]
            if target.holding_mx:
                # The target now holds the records: point the MX at the holding host and wait
                # the lowered TTL, so no sender still has the source MX when its domain goes.
                self._up(target, runs)
                wait = max(r.migration.lowered_ttl for r in runs)
                self.notify(
                    Notice(
                        ",".join(r.slug for r in runs),
                        "progress",
                        f"MX points at the holding host {target.holding_mx}; waiting {wait} s (the lowered TTL) "
                        "before the source domain's delete",
                    )
                )
                self.sleep(wait)
            if domains:
                with self._locked(src):
                    self._stack_op(self.runner.unprotect, src, domains)
            self._up(self.project.stacks[src], runs)
            deleted = self.clock()
            for r in runs:
                self._deleted_at[r.slug] = deleted
        return {}

    def _step_wait_gone(self, step: str, group: list[_Run]) -> dict[str, str]:
        deadline = self.clock() + self.options.wait_gone_timeout
        pending = {r.slug: self._source_domains(r) for r in group}
        regions = {r.slug: r.migration.from_region for r in group}
        by_slug = {r.slug: r for r in group}
        while True:

            def poll(r: _Run) -> None:
                client = self.mailgun(regions[r.slug])
                pending[r.slug] = [d for d in pending[r.slug] if client.domain_exists(d)]

            errors = self._each([by_slug[s] for s in pending], poll)
            if errors:
                return errors
            for slug in [slug for slug, names in pending.items() if not names]:
                del pending[slug]
            if not pending:
                return {}
            if self.clock() >= deadline:
                return {
                    slug: f"the source region still answers for {', '.join(names)} after "
                    f"{self.options.wait_gone_timeout:g} s; run `mailfleet migrate resume {slug}` later"
                    for slug, names in pending.items()
                }
            self.sleep(min(self.options.poll_interval, max(0.0, deadline - self.clock())))

    def _step_create_target(self, step: str, group: list[_Run]) -> dict[str, str]:
        for target in {self._target(r).name: self._target(r) for r in group}.values():
            self._up(target, [r for r in group if self._target(r).name == target.name])
        live = self.clock()  # domains created, routes live: the target accepts the tenant's mail
        for r in group:
            self._live_at[r.slug] = live
        # Right after the domains exist: sign with the key published since prepare.dkim.
        return self._install_dkim(group)

    def _step_import_data(self, step: str, group: list[_Run]) -> dict[str, str]:
        def one(r: _Run) -> None:
            target = self._target(r)
            assert r.migration.export is not None
            data = r.journal.read_export(r.migration.export)
            client = self.mailgun(target.region)
            declared = build_tenant(r.tenant, target)
            for domain, kinds in data.get("suppressions", {}).items():
                for kind in SUPPRESSION_KINDS:
                    entries = export_mod.suppression_entries(kinds.get(kind, []), kind)
                    if entries:
                        client.import_suppressions(domain, kind, entries)
            if r.migration.export.late is not None:
                # Added between the export and the point of no return (upserts, like the first).
                late = r.journal.read_export(r.migration.export.late)
                for domain, kinds in late.get("suppressions", {}).items():
                    for kind in SUPPRESSION_KINDS:
                        entries = export_mod.suppression_entries(kinds.get(kind, []), kind)
                        if entries:
                            client.import_suppressions(domain, kind, entries)
            self._restore_unmanaged(r, client, data, declared)
            export_mod.restore_templates(client, data)
            logins = list(data.get("logins_to_reissue") or [])
            if logins:
                self.notify(
                    Notice(
                        r.slug,
                        "follow-up",
                        f"re-issue {len(logins)} SMTP login(s) in region {target.region} (Mailgun never "
                        f"returns passwords; only {CREDENTIAL_LOGIN} is re-created): {', '.join(logins)}",
                    )
                )

        return self._each(group, one)

    def _restore_unmanaged(
        self, r: _Run, client: MailgunClient, data: dict[str, Any], declared: TenantState
    ) -> None:
        """Routes and webhook kinds the source held but the model does not declare: recreate them."""
        managed_exprs = {route.expression for route in declared.routes}
        unmanaged = [
            route for route in data.get("routes", []) if route.get("expression") not in managed_exprs
        ]
        if unmanaged:
            present = {(x.get("expression"), tuple(x.get("actions") or ())) for x in client.list_routes()}
            for route in unmanaged:
                key = (route.get("expression"), tuple(route.get("actions") or ()))
                if key not in present:
                    client.create_route(
                        str(route["expression"]),
                        list(route.get("actions") or ()),
                        int(route.get("priority") or 0),
                        str(route.get("description") or ""),
                    )
            self.notify(
                Notice(r.slug, "warning", f"recreated {len(unmanaged)} route(s) mailfleet does not manage")
            )
        managed_kinds = {(w.domain, w.kind) for w in declared.webhooks}
        for domain, kinds in data.get("webhooks", {}).items():
            extra = {k: urls for k, urls in kinds.items() if (domain, k) not in managed_kinds and urls}
            if not extra:
                continue
            present_hooks = client.list_webhooks(domain)
            for kind, urls in extra.items():
                if kind not in present_hooks:
                    client.create_webhook(domain, kind, urls)

    def _step_release_source_routes(self, step: str, group: list[_Run]) -> dict[str, str]:
        for source in {self._source(r).name: self._source(r) for r in group}.values():
            self._up(source, [r for r in group if self._source(r).name == source.name])

        def one(r: _Run) -> None:
            # Routes mailfleet does not manage were recreated in the target (import-data):
            # delete them in the source too, or they keep processing the tenant's mail there.
            assert r.migration.export is not None
            data = r.journal.read_export(r.migration.export)
            managed = {route.expression for route in build_tenant(r.tenant, self._target(r)).routes}
            unmanaged = {
                (x.get("expression"), tuple(x.get("actions") or ()))
                for x in data.get("routes", [])
                if x.get("expression") not in managed
            }
            if unmanaged:
                client = self.mailgun(r.migration.from_region)
                for route in client.list_routes():
                    if (route.get("expression"), tuple(route.get("actions") or ())) in unmanaged:
                        client.delete_route(str(route["id"]))

        return self._each(group, one)

    def _step_dns_confirm(self, step: str, group: list[_Run]) -> dict[str, str]:
        """Managed records: the target stack holds them (moved, not recreated). Manual: tell the customer."""
        failed: dict[str, str] = {}
        by_target: dict[str, list[_Run]] = {}
        for r in group:
            by_target.setdefault(self._target(r).name, []).append(r)
        for target_name, runs in by_target.items():
            held = self.runner.resources(target_name)
            target = self.project.stacks[target_name]
            for r in runs:
                declared = build_tenant(r.tenant, target)
                managed = [rec for rec in declared.records if rec.provider != "manual"]
                names = {res.inputs.get("name") for res in tenant_resources(held, r.slug, DNS_TYPES)}
                missing = [rec.name for rec in managed if rec.name not in names]
                if missing:
                    failed[r.slug] = (
                        f"the {target_name} stack holds no record for {', '.join(sorted(set(missing)))}"
                    )
                    continue
                manual = [rec for rec in declared.records if rec.provider == "manual"]
                if manual:
                    self.notify(
                        Notice(
                            r.slug,
                            "manual-dns",
                            f"ask the customer to publish these values now (region {target.region}); "
                            "`verify` waits for them",
                            [self._manual_row(rec, target.region) for rec in manual],
                        )
                    )
        return failed

    def _step_verify(self, step: str, group: list[_Run]) -> dict[str, str]:
        deadline = self.clock() + self.options.verify_timeout
        pending = {r.slug: r for r in group}
        last: dict[str, list[str]] = {}
        while True:

            def verify(r: _Run) -> None:
                target = self._target(r)
                problems = list(self.checker(r.tenant, target)) if self.checker else []
                client = self.mailgun(target.region)
                for d in build_tenant(r.tenant, target).domains:
                    body = client.verify_domain(d.name)
                    state = (body.get("domain") or {}).get("state")
                    if state != "active":
                        problems.append(f"Mailgun reports {d.name} as {state!r} in {target.region}")
                last[r.slug] = problems

            errors = self._each(list(pending.values()), verify)
            if errors:
                return errors
            for slug in [slug for slug in pending if not last[slug]]:
                del pending[slug]
            if not pending:
                return {}
            if self.clock() >= deadline:
                return {
                    slug: f"not verified after {self.options.verify_timeout:g} s: " + "; ".join(last[slug])
                    for slug in pending
                }
            self.sleep(min(self.options.poll_interval, max(0.0, deadline - self.clock())))

    def _step_finalize(self, step: str, group: list[_Run]) -> dict[str, str]:
        for target in {self._target(r).name: self._target(r) for r in group}.values():
            self._up(target, [r for r in group if self._target(r).name == target.name])
        return {}

    # -- helpers --------------------------------------------------------------------------

    def _source_domains(self, r: _Run) -> list[str]:
        names = [r.migration.platform_domain]
        if r.tenant.sender_domain is not None:
            names.append(r.tenant.sender_domain.name)
        return names

    def _changing_manual_records(self, r: _Run) -> list[DnsRecord]:
        source = build_tenant(r.tenant, self._source(r))
        changing = changing_purposes(r.migration.from_region, r.migration.to)
        return [rec for rec in source.records if rec.provider == "manual" and rec.purpose in changing]

    def _manual_row(self, rec: DnsRecord, region: str) -> dict[str, Any]:
        row = _record_row(rec)
        if rec.from_mailgun and rec.mailgun_domain:
            try:
                body = self.mailgun(region).get_domain(rec.mailgun_domain)
                for item in body.get("sending_dns_records", []):
                    if item.get("name") == rec.name and item.get("record_type") == rec.type:
                        row["values"] = [item.get("value")]
            except MailgunError as exc:
                row["values"] = [f"(not available yet: {_message(exc)})"]
        return row

    # -- abort and status -----------------------------------------------------------------

    def abort(self, slug: str) -> None:
        """Undo a move that has not reached the point of no return; refuse after it."""
        journal = Journal(self.tenants_dir, slug)
        tenant = journal.load()
        m = tenant.migration
        if m is None or m.state == "done":
            raise UsageError(problems=[Problem(f"tenant {slug}", "migration", "no migration under way")])
        if m.point_of_no_return_passed or m.started(POINT_OF_NO_RETURN):
            since = m.steps[POINT_OF_NO_RETURN].started_at if POINT_OF_NO_RETURN in m.steps else "?"
            raise InvalidData(
                problems=[
                    Problem(
                        f"tenant {slug}",
                        "",
                        f"past the point of no return ({POINT_OF_NO_RETURN} started {since}: the "
                        f"{m.from_region} Mailgun domain is deleted); it cannot be aborted, "
                        f"run `mailfleet migrate resume {slug}`",
                    )
                ]
            )
        with TenantRunLock(self.tenants_dir, slug):
            source = self.stack_for(m.from_region, tenant)
            journal.write(None)
            journal.remove_export()
            dkim_mod.remove_keys(self.tenants_dir, slug)
            # The source stack declares the tenant in full again (TTLs back to normal).
            self._up_tenants(source, [slug])
            if m.dkim is not None:
                self._up_tenants(self.stack_for(m.to, tenant), [slug])  # drops the new selector's records
        log.info("aborted slug=%s", slug)


def status_entry(t: Tenant) -> dict[str, Any]:
    m = t.migration
    assert m is not None
    return {
        "slug": t.slug,
        "region": t.region,
        "from": m.from_region,
        "to": m.to,
        "state": m.state,
        "phase": m.phase,
        "next_step": m.next_step,
        "steps_done": sum(1 for s in STEP_NAMES if m.is_done(s)),
        "steps_total": len(STEP_NAMES),
        "point_of_no_return_passed": m.point_of_no_return_passed,
        "started_at": m.started_at,
        "finished_at": m.finished_at,
        "owner": m.owner.model_dump() if m.owner else None,
        "export": m.export.model_dump() if m.export else None,
    }


def _record_row(rec: DnsRecord, ttl: int | None = None) -> dict[str, Any]:
    return {
        "name": rec.name,
        "type": rec.type,
        "ttl": ttl if ttl is not None else rec.ttl,
        "values": list(rec.values) if not rec.from_mailgun else ["(from Mailgun)"],
    }


def _message(exc: BaseException) -> str:
    if isinstance(exc, MailfleetError):
        return "; ".join(exc.lines())
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


_STEP_HANDLERS: dict[str, Callable[[Migrator, str, list[_Run]], dict[str, str]]] = {
    "prepare.lower-ttl": Migrator._step_lower_ttl,
    "prepare.dkim": Migrator._step_prepare_dkim,
    "prepare.wait-ttl": Migrator._step_wait_ttl,
    "export": Migrator._step_export,
    "cutover.release-source-domain": Migrator._step_release_source,
    "cutover.wait-source-gone": Migrator._step_wait_gone,
    "cutover.create-target": Migrator._step_create_target,
    "cutover.import-data": Migrator._step_import_data,
    "cutover.release-source-routes": Migrator._step_release_source_routes,
    "dns.confirm": Migrator._step_dns_confirm,
    "verify": Migrator._step_verify,
    "finalize": Migrator._step_finalize,
}
assert tuple(_STEP_HANDLERS) == STEP_NAMES
