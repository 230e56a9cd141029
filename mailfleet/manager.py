"""``Manager``: the one application API, as octoDNS's ``Manager`` is for octoDNS.

Every command of the CLI goes through it, and so can any other caller (a bot, a notebook, a
test). Each method returns data, or raises ``mailfleet.errors`` carrying ``Problem``s: about a
file (``where`` is the path) or about a parameter (empty ``where``, the parameter's name as
``field``). It never prints and never exits; turning problems into flags, lines and exit codes
is ``mailfleet.cli``'s job.

Layers (docs/architecture.md): cli > manager > commands (plan, diff, check, migrate,
residency) > project > desired > records > model > utilities. The modules that load heavy
libraries when imported are imported inside the methods that need them, so ``plan``,
``validate``, ``diff`` and the other offline commands never pay for them: ``check`` (asyncio,
about 30 ms), the Mailgun client (requests, about 30 ms; ``residency`` and ``migrate`` load it
too) and ``migrate`` (both, and its stack runners, about 3 ms). Everything else is imported
at the top.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailfleet.desired.shards import Move
from mailfleet.desired.state import StackState, TenantState
from mailfleet.diff import affected
from mailfleet.diff import run as diff_run
from mailfleet.diff.outputs import Report
from mailfleet.errors import InvalidData, Problem, UsageError
from mailfleet.loader import parse_yaml
from mailfleet.mailgun.ratelimit import RateLimiter
from mailfleet.migrate.plan import PlannedStep, migration_plan
from mailfleet.model.load import load_tenants
from mailfleet.model.region import REGION_NAMES, Region
from mailfleet.model.stack import StackConfig
from mailfleet.model.tenant import Tenant
from mailfleet.project import Project, load_one, param_problem, paused_gc
from mailfleet.project import tenants as tenant_ops
from mailfleet.project.tenantfile import migration_in_progress, migration_phase
from mailfleet.project.validate import Report as ValidationReport
from mailfleet.project.validate import validate_project

if TYPE_CHECKING:
    from datetime import datetime

    from mailfleet.adopt.run import AdoptResult
    from mailfleet.blocklists.run import BlocklistResult
    from mailfleet.check.result import RunResult
    from mailfleet.cloudflare.client import CloudflareClient
    from mailfleet.dedicated.bind import BindResult
    from mailfleet.desired.publish import CustomerRecords
    from mailfleet.dns.resolver import Nameserver
    from mailfleet.fleet_import.report import ImportReport
    from mailfleet.mailgun.client import MailgunClient
    from mailfleet.migrate.engine import Migrator, Notice
    from mailfleet.reputation.run import ReputationResult
    from mailfleet.shard.run import ShardMover

API_KEY_ENV = "MAILGUN_API_KEY"


def api_base_env(region: str) -> str:
    """The environment variable overriding ``region``'s Mailgun API base URL (tests, proxies)."""
    return f"MAILGUN_API_BASE_{region.upper()}"


@dataclass(frozen=True)
class MigrationPlan:
    slug: str
    source: StackConfig
    target: StackConfig
    steps: list[PlannedStep]


class Manager:
    """The application API over one checkout: its tenants directory and stack files."""

    def __init__(self, tenants_dir: Path, stacks_dir: Path) -> None:
        self.tenants_dir = Path(tenants_dir)
        self.stacks_dir = Path(stacks_dir)

    # -- the model ------------------------------------------------------------------------

    def project(self, stack: str | None = None, region: Region | None = None) -> Project:
        """Everything loaded and checked; ``stack`` (or every stack of ``region``) limits the
        built states to those stacks."""
        return Project.load(self.tenants_dir, self.stacks_dir, self.stack_selection(stack, region))

    def stack_selection(self, stack: str | None, region: Region | None) -> list[str] | None:
        """The stacks a command's ``--stack NAME`` or ``--region R`` (all of R's stacks, its
        shards) names; None for every stack. Both at once is a usage error."""
        if stack is not None and region is not None:
            raise UsageError(problems=[param_problem("region", "not with --stack: give one of them")])
        if stack is not None:
            return [stack]
        if region is None:
            return None
        names = Project.load(self.tenants_dir, self.stacks_dir, tenant_paths=[]).shards(region)
        if not names:
            raise UsageError(problems=[param_problem("region", f"no stack file serves region {region!r}")])
        return names

    def plan(self, stack: str | None = None, region: Region | None = None) -> list[StackState]:
        """What each stack (or ``stack``, or every stack of ``region``) declares, offline."""
        return list(self.project(stack, region).states.values())

    def validate(self, paths: list[Path] | None = None) -> ValidationReport:
        return validate_project(self.tenants_dir, self.stacks_dir, paths)

    # -- tenants --------------------------------------------------------------------------

    def new_tenant(self, data: dict[str, Any], usage: list[Problem] | None = None) -> Tenant:
        """``data`` validated as a new tenant (schema and own rules), problems by field path."""
        return tenant_ops.validate_new(data, usage)

    def add_tenant(self, tenant: Tenant, *, dry_run: bool = False) -> tenant_ops.Added:
        return tenant_ops.add_tenant(self.tenants_dir, self.stacks_dir, tenant, dry_run=dry_run)

    def tenants(self, region: Region | None = None) -> tuple[list[dict[str, Any]], list[Problem]]:
        return tenant_ops.summaries(self.tenants_dir, region)

    def tenant(self, slug: str) -> tuple[Tenant, Path]:
        return load_one(self.tenants_dir, slug)

    def records(self, slug: str) -> tenant_ops.TenantView:
        """The tenant, the stack declaring its records now and its state (``records``)."""
        return tenant_ops.view(self.tenants_dir, self.stacks_dir, slug)

    def records_of(
        self, stack: str | None = None, region: Region | None = None
    ) -> list[tenant_ops.TenantView]:
        """``records --stack NAME`` / ``--region R``: the view of every tenant whose DNS
        records those stacks declare now, by slug."""
        wanted = self.stack_selection(stack, region)
        project = self.project()
        views = []
        for slug in sorted(project.tenants):
            tenant = project.tenants[slug]
            cfg = project.records_stack(tenant)
            if wanted is None or cfg.name in wanted:
                state = project.states[cfg.name].tenant(slug)
                if state is not None:
                    views.append(tenant_ops.TenantView(tenant, project.paths[slug], cfg, state))
        return views

    def removal(self, slug: str) -> tenant_ops.Removal:
        """What removing ``slug`` concerns (nothing written)."""
        return tenant_ops.removal(self.tenants_dir, self.stacks_dir, slug)

    def remove_tenant(self, target: tenant_ops.Removal) -> None:
        tenant_ops.remove_tenant(self.tenants_dir, target)

    def stack_for_region(self, region: Region) -> StackConfig:
        """The stack that serves ``region`` (whatever its name)."""
        return Project.load(self.tenants_dir, self.stacks_dir, tenant_paths=[]).stack_for_region(region)

    def stacks_declaring(self, slug: str) -> list[StackConfig]:
        """The stacks that declare something for tenant ``slug`` (two while it moves)."""
        tenant, _ = self.tenant(slug)
        return Project.load(self.tenants_dir, self.stacks_dir, tenant_paths=[]).stacks_declaring(tenant)

    # -- diff -----------------------------------------------------------------------------

    def diff(
        self, base: str, head: str | None = None, stack: str | None = None, region: Region | None = None
    ) -> Report:
        """Desired state at ``base`` against ``head``: every stack, ``stack``, or every stack of
        ``region`` at either revision."""
        if stack is not None and region is not None:
            raise UsageError(problems=[param_problem("region", "not with --stack: give one of them")])
        with paused_gc():
            return diff_run.revisions(self.tenants_dir, self.stacks_dir, base, head, stack, region)

    def affected_stacks(
        self,
        base: str,
        head: str | None = None,
        *,
        stacks_at_once: int = affected.DEFAULT_STACKS_AT_ONCE,
        api_latency: float = affected.DEFAULT_API_LATENCY,
    ) -> affected.Affected:
        """The stacks the change from ``base`` to ``head`` touches, each with its ``--parallel``
        (``diff --affected-stacks``; CI's dynamic matrix)."""
        rates = affected.Parallelism(latency=api_latency, stacks_at_once=stacks_at_once)
        return affected.affected(self.tenants_dir, self.stacks_dir, base, head, rates)

    def preview_report(self, text: bytes, file: str, stack: str | None = None) -> Report:
        return diff_run.preview_file(text, file, stack)

    # -- check ----------------------------------------------------------------------------

    def check_targets(
        self, slugs: list[str], region: Region | None = None, stack: str | None = None
    ) -> list[tuple[StackState, TenantState]]:
        """(stack state, tenant state) pairs to check: ``slugs`` (every tenant when empty), of
        the stacks of ``region`` or of ``stack`` only when given."""
        project = self.project(stack, region)
        pairs = [(state, tenant) for state in project.states.values() for tenant in state.tenants]
        if not slugs:
            return pairs
        by_slug = {t.slug: (s, t) for s, t in pairs}
        unknown = [s for s in slugs if s not in by_slug]
        if unknown:
            where = f" in region {region}" if region else ""
            raise UsageError(
                problems=[param_problem("slugs", f"no tenant {', '.join(repr(u) for u in unknown)}{where}")]
            )
        return [by_slug[s] for s in dict.fromkeys(slugs)]

    def check(
        self,
        pairs: list[tuple[StackState, TenantState]],
        server: Nameserver | None,
        *,
        timeout: float,
        retries: int,
        concurrency: int,
        dkim_keys: dict[str, str],
        dkim_keys_source: str = "the expected keys",
        api_key: str = "",
        trigger_verify: bool = False,
        api_retries: int = 5,
        on_tenant: Callable[[], None] | None = None,
    ) -> RunResult:
        """Check ``pairs`` live; Mailgun's verification state too when ``api_key`` is given."""
        from mailfleet.check.run import check_tenants
        from mailfleet.check.runner import CheckOptions

        options = CheckOptions(dkim_keys=dkim_keys, dkim_keys_source=dkim_keys_source)
        if trigger_verify and not api_key:
            raise UsageError(
                problems=[param_problem("trigger_verify", f"needs {API_KEY_ENV} in the environment")]
            )
        if api_key:
            from mailfleet.check.mailgun_state import MailgunState

            options.mailgun = MailgunState(
                self.mailgun_clients(api_key, max_retries=api_retries), trigger_verify=trigger_verify
            )
        return check_tenants(
            pairs,
            server,
            timeout=timeout,
            retries=retries,
            concurrency=concurrency,
            options=options,
            on_tenant=on_tenant,
        )

    # -- Mailgun --------------------------------------------------------------------------

    def fetch_dkim(self, view: CustomerRecords, api_key: str) -> list[str]:
        """Fill ``view.dkim_values`` with the DKIM values Mailgun holds (``GET
        /v4/domains/{name}``, the tenant's region); notes for stderr on what stays a placeholder."""
        from mailfleet.mailgun.errors import MailgunError

        notes = []
        # a display command: two retries, then the placeholder (check waits longer, --api-retries)
        client = self.mailgun_client(view.region, api_key, max_retries=2)
        for rec in view.records:
            if not rec.from_mailgun or not rec.mailgun_domain:
                continue
            try:
                body = client.get_domain(rec.mailgun_domain)
            except MailgunError as exc:
                if exc.status == 404:
                    notes.append(
                        f"DKIM of {rec.name}: {rec.mailgun_domain} is not in Mailgun's {view.region.upper()} "
                        f"region yet (`pulumi up -s {view.stack}` creates it); showing a placeholder"
                    )
                else:
                    notes.append(f"DKIM of {rec.name}: cannot ask Mailgun ({exc}); showing a placeholder")
                continue
            for item in body.get("sending_dns_records") or []:
                name = str(item.get("name") or "").rstrip(".").lower()
                if item.get("record_type") == "TXT" and name == rec.name.lower() and item.get("value"):
                    view.dkim_values[name] = str(item["value"])
            if rec.name.lower() not in view.dkim_values:
                notes.append(f"DKIM of {rec.name}: Mailgun lists no such record; showing a placeholder")
        return notes

    def mailgun_clients(self, api_key: str, **options: Any) -> dict[str, MailgunClient]:
        """One client per region (``MAILGUN_API_BASE_<REGION>`` overrides its host)."""
        return {region: self.mailgun_client(region, api_key, **options) for region in REGION_NAMES}

    def mailgun_client(self, region: str, api_key: str, **options: Any) -> MailgunClient:
        from mailfleet.mailgun.client import MailgunClient

        return MailgunClient(
            region, api_key, base_url=os.environ.get(api_base_env(region)) or None, **options
        )

    # -- reputation -----------------------------------------------------------------------

    def reputation(
        self,
        slugs: list[str],
        region: Region | None,
        api_key: str,
        *,
        since: str = "7d",
        api_retries: int = 5,
        page_limit: int = 1000,
    ) -> ReputationResult:
        """Bounce and complaint rates of the tenants' Mailgun domains over ``since``, judged
        against each stack's ``mailfleet:reputation`` thresholds (Mailgun's Metrics API)."""
        from mailfleet.reputation.run import parse_since, reputation

        try:
            parse_since(since)
        except ValueError as exc:
            raise UsageError(problems=[param_problem("since", str(exc))]) from None
        pairs = self.check_targets(slugs, region)
        thresholds = {s.name: s.reputation for s in self.project().stacks.values()}
        clients = self.mailgun_clients(api_key, max_retries=api_retries)
        return reputation(pairs, clients, thresholds, since=since, page_limit=page_limit)

    # -- blocklists -----------------------------------------------------------------------

    def blocklists(
        self,
        slugs: list[str],
        region: Region | None,
        server: Nameserver | None,
        *,
        lists_file: Path | None = None,
        api_key: str = "",
        timeout: float = 2.0,
        retries: int = 2,
        concurrency: int = 100,
        api_retries: int = 5,
        on_target: Callable[[], None] | None = None,
    ) -> BlocklistResult:
        """Every sending IP and domain of the tenants (and their stacks' egress IPs) against
        the blocklists of ``lists_file`` (default: the documented set)."""
        from mailfleet.blocklists.lists import ListFileError, load_lists
        from mailfleet.blocklists.run import BlocklistResult, ask_lists, collect_targets, mailgun_sending_ips

        try:
            lists = load_lists(lists_file)
        except ListFileError as exc:
            raise UsageError(problems=[param_problem("lists", str(exc))]) from None
        project = self.project()
        pairs = self.check_targets(slugs, region)
        per_domain: dict[str, list[str]] = {}
        per_region: dict[str, list[str]] = {}
        problems: list[str] = []
        if api_key:
            clients = self.mailgun_clients(api_key, max_retries=api_retries)
            per_domain, per_region, problems = mailgun_sending_ips(pairs, clients)
        dedicated = {t.slug: list(t.sending_ips.ips) for _s, t in pairs if t.sending_ips is not None}
        targets = collect_targets(pairs, project.tenants, project.stacks, per_domain, per_region, dedicated)
        nameserver, queries = ask_lists(
            targets,
            lists,
            server,
            timeout=timeout,
            retries=retries,
            concurrency=concurrency,
            on_target=on_target,
        )
        return BlocklistResult(targets, lists, nameserver, queries, bool(api_key), problems)

    # -- dedicated IPs --------------------------------------------------------------------

    def bind_ips(
        self,
        slugs: list[str],
        region: Region | None,
        api_key: str,
        *,
        dry_run: bool = False,
        yes: bool = False,
    ) -> BindResult:
        """Bind each tenant's Mailgun domains to the dedicated IPs (or pool) its files name."""
        from mailfleet.dedicated.bind import bind

        pairs = self.check_targets(slugs, region)
        return bind(pairs, self.mailgun_clients(api_key), dry_run=dry_run, yes=yes)

    # -- residency ------------------------------------------------------------------------

    def residency(
        self, api_key: str | None = None, stack: str | None = None, region: Region | None = None
    ) -> dict[str, Any]:
        """The residency report; with ``api_key``, what each region's Mailgun API holds too.
        ``stack`` / ``region``: only the tenants those stacks declare something for."""
        from mailfleet.residency import residency_report

        wanted = self.stack_selection(stack, region)
        project = self.project()
        tenants = project.tenants
        if wanted is not None:
            tenants = {
                slug: t
                for slug, t in tenants.items()
                if any(s.name in wanted for s in project.stacks_declaring(t))
            }
        clients = self.mailgun_clients(api_key) if api_key else None
        return residency_report(tenants, list(project.stacks.values()), clients=clients)

    # -- migrate --------------------------------------------------------------------------

    def migration_slugs(self, slugs: list[str], from_region: Region | None) -> list[str]:
        """``slugs`` checked to exist, or every tenant of ``from_region`` not moving (``--all``)."""
        loaded = load_tenants(self.tenants_dir)
        if not slugs and from_region is not None:
            return sorted(
                t.slug for t in loaded.tenants.values() if t.region == from_region and t.migration is None
            )
        slugs = list(dict.fromkeys(slugs))
        unknown = [x for x in slugs if x not in loaded.tenants]
        if unknown:
            bad = [p for p in loaded.problems if any(p.where.endswith(f"/{u}.yaml") for u in unknown)]
            if bad:
                raise InvalidData(problems=bad)
            raise UsageError(
                problems=[
                    param_problem(
                        "slugs", f"no tenant {', '.join(repr(u) for u in unknown)} in {self.tenants_dir}"
                    )
                ]
            )
        return slugs

    def migration_plans(self, slugs: list[str], to: Region) -> list[MigrationPlan]:
        """The dry run of moving ``slugs`` to region ``to``: every step, nothing changed."""
        project = Project.load(self.tenants_dir, self.stacks_dir, tenant_paths=[])
        loaded = load_tenants(self.tenants_dir)
        plans = []
        for slug in slugs:
            tenant = loaded.tenants[slug]
            if tenant.region == to and tenant.migration is None:
                raise UsageError(problems=[param_problem("to", f"tenant {slug!r} is already in {to!r}")])
            source_region = tenant.migration.from_region if tenant.migration else tenant.region
            source = project.stack_for_region(source_region, tenant)
            target = project.stack_for_region(to, tenant)
            plans.append(MigrationPlan(slug, source, target, migration_plan(tenant, source, target)))
        return plans

    def migration_estimate(self, slugs: list[str], to: Region, *, rate: int, batch: int) -> dict[str, Any]:
        """The dry run's ETA and inbound gap estimate (``mailfleet.migrate.report.estimate``)."""
        from mailfleet.migrate.report import ASSUMED_DELETE_DELAY, estimate

        project = Project.load(self.tenants_dir, self.stacks_dir, tenant_paths=[])
        loaded = load_tenants(self.tenants_dir)
        tenants = [loaded.tenants[s] for s in slugs]
        first = tenants[0] if tenants else None
        source = project.stack_for_region(first.region if first else to, first)
        numbers: dict[str, float | None] = {"poll": 10.0, "ttl": None, "delay": ASSUMED_DELETE_DELAY}
        for key, env in (
            ("poll", "MAILFLEET_MIGRATE_POLL_INTERVAL"),
            ("ttl", "MAILFLEET_MIGRATE_MAX_TTL_WAIT"),
            ("delay", "MAILFLEET_MIGRATE_ASSUME_DELETE_DELAY"),
        ):
            if os.environ.get(env):
                try:
                    numbers[key] = float(os.environ[env])
                except ValueError:
                    raise UsageError(problems=[Problem(env, "", "must be a number of seconds")]) from None
        return estimate(
            tenants,
            source,
            project.stack_for_region(to, first),
            rate=rate,
            batch=batch,
            poll_interval=float(numbers["poll"] or 0.0),
            max_ttl_wait=numbers["ttl"],
            assumed_delete_delay=float(numbers["delay"] or 0.0),
        )

    def migration_reports(self, slugs: list[str] | None = None) -> list[dict[str, Any]]:
        """The final report of each tenant with a migration block (``slugs``: only those)."""
        from mailfleet.migrate.report import tenant_report

        project = Project.load(self.tenants_dir, self.stacks_dir, tenant_paths=[])
        loaded = load_tenants(self.tenants_dir)
        if slugs:
            missing = [x for x in slugs if x not in loaded.tenants]
            if missing:
                raise UsageError(
                    problems=[param_problem("slugs", f"no tenant {', '.join(repr(u) for u in missing)}")]
                )
        out = []
        for slug in slugs or sorted(loaded.tenants):
            tenant = loaded.tenants[slug]
            m = tenant.migration
            if m is None:
                continue
            out.append(
                tenant_report(
                    tenant,
                    project.stack_for_region(m.from_region, tenant),
                    project.stack_for_region(m.to, tenant),
                )
            )
        return out

    def migrating(self, slugs: list[str]) -> dict[str, Tenant]:
        """``slugs`` that have a migration under way (``resume``); ``UsageError`` otherwise."""
        loaded = load_tenants(self.tenants_dir)
        missing = [x for x in slugs if x not in loaded.tenants]
        if missing:
            raise UsageError(
                problems=[param_problem("slugs", f"no tenant {', '.join(repr(u) for u in missing)}")]
            )
        idle = [x for x in slugs if loaded.tenants[x].migration is None]
        if idle:
            raise UsageError(
                problems=[
                    param_problem("slugs", f"no migration under way for {', '.join(repr(u) for u in idle)}")
                ]
            )
        return {x: loaded.tenants[x] for x in slugs}

    def migrator(self, rate: int, notify: Callable[[Notice], None]) -> Migrator:
        """A ``Migrator`` wired from the environment: the Mailgun key, the stack runner
        (``MAILFLEET_STACK_RUNNER``), timeouts and the DNS checker of the verify step."""
        from mailfleet.migrate.checker import DnsChecker
        from mailfleet.migrate.engine import Migrator, Options
        from mailfleet.migrate.recovery import MailgunLookup
        from mailfleet.migrate.runners import load_runner

        api_key = os.environ.get(API_KEY_ENV, "")
        if not api_key:
            raise UsageError(
                problems=[
                    Problem(
                        API_KEY_ENV,
                        "",
                        "is not set: migrate reads and writes Mailgun (export, wait, import, verify)",
                    )
                ]
            )
        limiter = RateLimiter(rate)

        def client(region: str) -> MailgunClient:
            c = self.mailgun_client(region, api_key, requests_per_minute=rate)
            c.limiter = limiter  # one budget for every call of the run, both regions
            return c

        clients: dict[str, MailgunClient] = {}

        def lookup_client(region: str) -> MailgunClient:
            if region not in clients:
                clients[region] = client(region)
            return clients[region]

        # A resumed run imports the pending creates Mailgun shows went through (never creates twice).
        runner = load_runner(
            None, self.stacks_dir, self.tenants_dir, find_created=MailgunLookup(lookup_client)
        )
        options = Options(cutover_rate=rate)
        for name, env in (
            ("wait_gone_timeout", "MAILFLEET_MIGRATE_WAIT_TIMEOUT"),
            ("verify_timeout", "MAILFLEET_MIGRATE_VERIFY_TIMEOUT"),
            ("poll_interval", "MAILFLEET_MIGRATE_POLL_INTERVAL"),
            ("max_ttl_wait", "MAILFLEET_MIGRATE_MAX_TTL_WAIT"),
            ("dkim_timeout", "MAILFLEET_MIGRATE_DKIM_TIMEOUT"),
        ):
            if os.environ.get(env):
                try:
                    setattr(options, name, float(os.environ[env]))
                except ValueError:
                    raise UsageError(problems=[Problem(env, "", "must be a number of seconds")]) from None
        from mailfleet.migrate.dkim import passphrase_from_env

        options.key_passphrase = passphrase_from_env(os.environ)
        checker = None
        if os.environ.get("MAILFLEET_MIGRATE_CHECK", "1") != "0":
            checker = DnsChecker(os.environ.get("MAILFLEET_NAMESERVER") or None)
        return Migrator(
            self.tenants_dir, self.stacks_dir, runner, client, checker=checker, options=options, notify=notify
        )

    def abortable(self, slug: str) -> Tenant:
        """The tenant whose move ``abort`` may undo (named before any credential is asked)."""
        tenant = load_tenants(self.tenants_dir).tenants.get(slug)
        if tenant is None:
            raise UsageError(problems=[param_problem("slug", f"no tenant {slug!r}")])
        if tenant.migration is None or tenant.migration.state == "done":
            raise UsageError(problems=[param_problem("slug", f"no migration under way for {slug!r}")])
        return tenant

    def migration_status(self, slug: str | None = None) -> list[dict[str, Any]]:
        """Where each move stands. A tenant file whose journal fails validation still shows
        as moving (state ``invalid``), with the problems: it must never look idle."""
        from mailfleet.migrate.engine import status_entry

        loaded = load_tenants(self.tenants_dir)
        broken = dict(_broken_journals(loaded.problems))
        if slug is not None and slug not in loaded.tenants and slug not in broken:
            raise UsageError(problems=[param_problem("slug", f"no tenant {slug!r}")])
        rows = []
        for s in sorted({*loaded.tenants, *broken}):
            if slug is not None and s != slug:
                continue
            if s in broken:
                rows.append(broken[s])
                continue
            t = loaded.tenants[s]
            if t.migration is not None:
                rows.append(status_entry(t))
            elif slug is not None:
                rows.append({"slug": t.slug, "region": t.region, "state": "none"})
        return rows

    # -- shards: moving tenants between the stacks of one region ---------------------------

    def shard_mover(self, fault: Callable[[str, str], None] | None = None) -> ShardMover:
        """A ``ShardMover`` over the checkout, with the stack runner of the environment
        (``MAILFLEET_STACK_RUNNER``, else the Pulumi CLI)."""
        from mailfleet.migrate.runners import load_runner
        from mailfleet.shard.run import ShardMover

        return ShardMover(
            self.tenants_dir,
            self.stacks_dir,
            lambda: load_runner(None, self.stacks_dir, self.tenants_dir),
            fault=fault,
        )

    def shard_rebalance(self, region: Region) -> tuple[list[Move], list[tuple[str, str]]]:
        """``shard rebalance``'s dry run for ``region``: the fewest moves to the balanced share,
        and the moves a killed run left under way (slug, target)."""
        from mailfleet.shard.run import moves_of

        project = self.project()
        moves = moves_of(project, region)
        if moves is None:
            caps = ", ".join(f"{s.name} {s.shard_cap}" for s in project.stacks_of_region(region))
            count = sum(1 for t in project.tenants.values() if t.region == region)
            raise InvalidData(
                problems=[
                    Problem(
                        str(self.stacks_dir),
                        "config.mailfleet:shardCap",
                        f"the caps of region {region!r} ({caps}) hold fewer than its {count} tenants: add a shard",
                    )
                ]
            )
        under_way = [
            (slug, t.shard_move.to)
            for slug, t in sorted(project.tenants.items())
            if t.shard_move is not None and t.region == region
        ]
        return moves, under_way

    def shard_status(self, region: Region | None = None) -> list[dict[str, Any]]:
        """Per stack: region, tenants, cap, and the moves under way into or out of it."""
        project = self.project()
        counts = project.counts()
        rows = []
        for name in sorted(project.stacks):
            cfg = project.stacks[name]
            if region is not None and cfg.region != region:
                continue
            moving = sorted(
                f"{slug} {t.shard_move.from_stack}->{t.shard_move.to}"
                for slug, t in project.tenants.items()
                if t.shard_move is not None and name in (t.shard_move.from_stack, t.shard_move.to)
            )
            rows.append(
                {
                    "stack": name,
                    "region": cfg.region,
                    "tenants": counts[name],
                    "cap": cfg.shard_cap,
                    "moving": moving,
                }
            )
        return rows

    def shard_pin(self, region: Region, stack: str | None = None, *, dry_run: bool = False) -> list[str]:
        """Write ``stack:`` into every tenant of ``region`` that names none (``stack``: default
        the region's only stack). Run it before a region gets its second stack, or name the
        stack the tenants are in. Returns the slugs pinned (or to pin, on a dry run)."""
        from mailfleet.shard.journal import ShardJournal

        stacks = Project.load(self.tenants_dir, self.stacks_dir, tenant_paths=[])
        mine = stacks.shards(region)
        if stack is None:
            if len(mine) != 1:
                raise UsageError(
                    problems=[
                        param_problem(
                            "stack", f"region {region!r} has stacks {', '.join(mine) or 'none'}: name one"
                        )
                    ]
                )
            stack = mine[0]
        elif stack not in mine:
            raise UsageError(
                problems=[
                    param_problem(
                        "stack", f"{stack!r} is not a stack of region {region!r} ({', '.join(mine)})"
                    )
                ]
            )
        loaded = load_tenants(self.tenants_dir)
        if loaded.problems:
            raise InvalidData(problems=loaded.problems)
        slugs = sorted(s for s, t in loaded.tenants.items() if t.region == region and t.stack is None)
        if not dry_run:
            for slug in slugs:
                ShardJournal(self.tenants_dir, slug).write(None, stack=stack)
        return slugs

    # -- adopt: what a customer's zone already holds (tenant adopt, tenant add --adopt) ----

    def adopt_dns(
        self,
        slug: str,
        nameserver: Nameserver | str | None = None,
        *,
        dry_run: bool = False,
        accept_drift: bool = False,
        timeout: float = 2.0,
        retries: int = 2,
        clock: Callable[[], datetime] | None = None,
    ) -> AdoptResult:
        """Snapshot what ``slug``'s sender domain holds at the names mailfleet declares into the
        tenant file's ``adopted.dns`` (``mailfleet.adopt``). Not written on a dry run, when the
        stored snapshot already says the same, or when values drifted from it and
        ``accept_drift`` is false: the result's ``status`` says which."""
        from mailfleet.adopt.run import adopt_existing, utc_now

        server = self._adopt_nameserver(nameserver)
        tenant, path = self.tenant(slug)
        stack = Project.load(self.tenants_dir, self.stacks_dir, tenant_paths=[]).records_stack(tenant)
        return adopt_existing(
            self.tenants_dir,
            path,
            tenant,
            stack,
            server,
            dry_run=dry_run,
            accept_drift=accept_drift,
            cloudflare=self.cloudflare_client(tenant),
            clock=clock or utc_now,
            timeout=timeout,
            retries=retries,
        )

    def add_adopted_tenant(
        self,
        tenant: Tenant,
        nameserver: Nameserver | str | None = None,
        *,
        dry_run: bool = False,
        timeout: float = 2.0,
        retries: int = 2,
        clock: Callable[[], datetime] | None = None,
    ) -> tuple[tenant_ops.Added, AdoptResult]:
        """``add_tenant`` with what the sender domain already holds adopted into the new file
        (``tenant add --adopt``): the DMARC policy is left out when a DMARC record is adopted."""
        from dataclasses import replace

        from mailfleet.adopt.run import DRY_RUN, WRITTEN, take, utc_now

        server = self._adopt_nameserver(nameserver)
        if tenant.sender_domain is None:
            raise UsageError(
                problems=[
                    param_problem(
                        "adopt",
                        "needs a sender domain: a tenant without one has no zone of its own to adopt",
                    )
                ]
            )
        path = self.tenants_dir / f"{tenant.slug}.yaml"
        if path.exists():
            raise InvalidData(problems=[Problem(str(path), "", f"tenant {tenant.slug!r} already exists")])
        stack = Project.load(self.tenants_dir, self.stacks_dir).place(tenant)
        result = take(
            tenant,
            stack,
            server,
            path,
            cloudflare=self.cloudflare_client(tenant),
            clock=clock or utc_now,
            timeout=timeout,
            retries=retries,
        )
        added = self.add_tenant(result.tenant, dry_run=dry_run)
        status = WRITTEN if added.written else DRY_RUN
        return added, replace(result, tenant=added.tenant, state=added.state, status=status)

    def cloudflare_client(self, tenant: Tenant) -> CloudflareClient | None:
        """A Cloudflare API client for a tenant whose sender domain is on Cloudflare (None
        otherwise): the token from ``CLOUDFLARE_API_TOKEN``, the base URL from
        ``CLOUDFLARE_BASE_URL`` (tests), neither ever echoed."""
        from mailfleet.cloudflare.client import CloudflareClient
        from mailfleet.cloudflare.errors import CloudflareError

        sender = tenant.sender_domain
        if sender is None or sender.provider != "cloudflare":
            return None
        token = os.environ.get("CLOUDFLARE_API_TOKEN", "")
        if not token:
            raise UsageError(
                problems=[
                    Problem(
                        "CLOUDFLARE_API_TOKEN",
                        "",
                        "is not set: adopting a Cloudflare zone reads its record ids from Cloudflare's API "
                        "(a token with DNS Read on the zone)",
                    )
                ]
            )
        try:
            return CloudflareClient(token, base_url=os.environ.get("CLOUDFLARE_BASE_URL") or None)
        except (ValueError, CloudflareError) as exc:
            # Neither message repeats the token or the URL (mailfleet.cloudflare.redact).
            name = "CLOUDFLARE_API_TOKEN" if "token" in str(exc).lower() else "CLOUDFLARE_BASE_URL"
            raise UsageError(problems=[Problem(name, "", str(exc))]) from None

    @staticmethod
    def _adopt_nameserver(value: Nameserver | str | None) -> Nameserver | None:
        from mailfleet.dns.resolver import Nameserver

        if value is None or isinstance(value, Nameserver):
            return value
        try:
            return Nameserver.parse(value)
        except ValueError as exc:
            raise UsageError(problems=[param_problem("nameserver", str(exc))]) from None

    # -- import ---------------------------------------------------------------------------

    def import_from_mailgun(
        self,
        region: Region,
        *,
        dry_run: bool,
        api_key: str | None = None,
        rate: int = 300,
        workers: int | None = None,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> ImportReport:
        """Adopt what one Mailgun region holds: tenant files with ``adopted.mailgun`` blocks.

        ``api_key`` defaults to ``MAILGUN_API_KEY``; ``MAILGUN_API_BASE_<REGION>`` overrides the
        API host; at most ``rate`` requests a minute. See ``mailfleet.fleet_import.run``."""
        from mailfleet.fleet_import.read import DEFAULT_WORKERS
        from mailfleet.fleet_import.run import import_region

        if region not in REGION_NAMES:
            raise UsageError(problems=[param_problem("region", f"must be one of {', '.join(REGION_NAMES)}")])
        if rate < 1:
            raise UsageError(problems=[param_problem("rate", "must be at least 1 request a minute")])
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV, "")
        if not key:
            raise UsageError(
                problems=[
                    Problem(
                        API_KEY_ENV,
                        "",
                        "is not set: import reads every domain, route and webhook of the region from Mailgun",
                    )
                ]
            )
        client = self.mailgun_client(region, key, requests_per_minute=rate)
        return import_region(
            self.tenants_dir,
            self.stacks_dir,
            client,
            dry_run=dry_run,
            workers=workers or DEFAULT_WORKERS,
            progress=progress,
        )


def _broken_journals(problems: list[Problem]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Tenant files that do not validate but whose raw ``migration`` block marks a move."""
    by_file: dict[str, list[str]] = {}
    for p in problems:
        by_file.setdefault(p.where, []).append(f"{p.field}: {p.message}" if p.field else p.message)
    for where, messages in by_file.items():
        path = Path(where)
        try:
            data = parse_yaml(path.read_bytes())
        except Exception:
            continue
        if not isinstance(data, dict) or not migration_in_progress(data.get("migration")):
            continue
        raw = data["migration"]
        yield (
            path.stem,
            {
                "slug": path.stem,
                "region": data.get("region"),
                "from": raw.get("from") if isinstance(raw, dict) else None,
                "to": raw.get("to") if isinstance(raw, dict) else None,
                "state": "invalid",
                "phase": migration_phase(raw),
                "problems": messages,
            },
        )
