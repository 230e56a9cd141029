"""A checkout's tenants and stacks, loaded, validated and built into desired states.

``Project.load`` is what every command that reads the model calls: it collects every problem
from every tenant file and stack file before raising, so ``validate`` can list them all. It
runs every rule once: the schema (``mailfleet.model``), each tenant's own rules and the
cross-tenant conflicts (``mailfleet.desired.rules``), and the stack rules below.

Stacks are not regions. A stack file names its region (``mailfleet:region``); any stack names
work (``Pulumi.prod-eu.yaml``). A region has one or more stacks, its shards
(``mailfleet.desired.shards``): each tenant is declared by exactly one of them, the one its file
names (``stack:``), or the region's only stack for a file that names none. Shards of one region
must agree on every setting but their cap: two stack files of a region that disagree (another
platform domain, zone or URL) are a problem naming both files. A tenant without ``stack:`` in a
region with several stacks is a problem (never placed silently), so a stray copy of a stack
file cannot declare every tenant a second time. ``stack_for_region``, ``stacks_declaring`` and
``place`` are the one way to find stacks.

Problems about a command's parameters (an unknown stack name, a bad slug) carry the
parameter's name as ``field`` and an empty ``where``; only the CLI turns them into flags.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mailfleet.desired.build import build_stack, in_stack, stack_declaration
from mailfleet.desired.rules import conflicts, spf_include_problems, tenant_problems
from mailfleet.desired.shards import home as shards_home
from mailfleet.desired.shards import propose
from mailfleet.desired.state import StackState
from mailfleet.errors import InvalidData, Problem, UsageError
from mailfleet.loader import tenant_paths as tenant_file_paths
from mailfleet.model import names
from mailfleet.model.load import Loaded, load_stack, load_tenant_file, load_tenants
from mailfleet.model.region import Region
from mailfleet.model.stack import FIELD_KEYS, StackConfig, discover_stacks, stack_file
from mailfleet.model.tenant import Tenant


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the block; restore its state after.

    Loading and building 10,000 tenants allocates millions of small objects that live until
    the command ends and form no reference cycles. With the collector on, every full
    collection walks all of them again: about 30% of ``mailfleet plan``'s time over 10,000
    tenants. Reference counting still frees everything as usual.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def param_problem(name: str, message: str) -> Problem:
    """A problem with the command parameter ``name`` (the CLI names the flag)."""
    return Problem("", name, message)


def tenant_file(tenants_dir: Path, slug: str) -> Path:
    """``tenants_dir/<slug>.yaml`` for a valid slug; a bad slug is a usage error (exit 2)."""
    try:
        names.slug(slug)
    except ValueError as exc:
        raise UsageError(problems=[param_problem("slug", str(exc))]) from None
    return tenants_dir / f"{slug}.yaml"


def load_one(tenants_dir: Path, slug: str) -> tuple[Tenant, Path]:
    """One tenant by slug, schema and own rules checked; ``InvalidData`` otherwise."""
    path = tenant_file(tenants_dir, slug)
    if not path.is_file():
        raise InvalidData(problems=[Problem(str(path), "", f"no tenant {slug!r} (file does not exist)")])
    tenant, problems = load_tenant_file(path)
    if tenant is not None:
        problems = tenant_problems(tenant, str(path))
    if problems or tenant is None:
        raise InvalidData(problems=problems)
    return tenant, path


# Settings a shard may set for itself; every other setting is the region's and must agree.
SHARD_OWN_FIELDS = frozenset({"name", "shard_cap"})


_STACK_LINE = re.compile(rb"(?m)^stack:[ \t]*([A-Za-z0-9_.-]+)[ \t]*(?:#[^\n]*)?$")
_MOVE_BLOCK = re.compile(rb"(?m)^(?:migration|shard_move):")


def may_concern(path: Path, stack: str) -> bool:
    """False only when the file's top-level ``stack:`` line names another stack and no move
    is under way in it (read as bytes, not parsed); anything else may concern ``stack``."""
    try:
        blob = path.read_bytes()
    except OSError:
        return True  # the loader reports it
    found = _STACK_LINE.search(blob)
    return found is None or found.group(1).decode() == stack or _MOVE_BLOCK.search(blob) is not None


def region_problems(stacks: dict[str, StackConfig], path_of: Callable[[str], str]) -> list[Problem]:
    """Shards of one region whose settings conflict: one problem per differing setting of each
    later file, naming both files. ``path_of(stack name)`` is the file shown (a path, or
    ``REV:path`` for ``diff``). Tenants move between shards by a state move only, so the
    region's settings (platform domain, zone, URLs, TTL...) must be the same in every shard."""
    first: dict[str, StackConfig] = {}
    problems = []
    for name, cfg in stacks.items():
        other = first.setdefault(cfg.region, cfg)
        if other.name == name:
            continue
        mine, theirs = cfg.model_dump(), other.model_dump()
        for fld, value in mine.items():
            if fld in SHARD_OWN_FIELDS or value == theirs[fld]:
                continue
            problems.append(
                Problem(
                    path_of(name),
                    f"config.{FIELD_KEYS[fld]}",
                    f"{value!r} differs from stack {other.name!r} ({path_of(other.name)}: {theirs[fld]!r}); "
                    f"the stacks of region {cfg.region!r} are its shards and must agree on every "
                    "setting but mailfleet:shardCap",
                )
            )
    return problems


def shard_names(stacks: dict[str, StackConfig]) -> dict[str, list[str]]:
    """Region -> the names of its stacks, in name order."""
    out: dict[str, list[str]] = {}
    for name in sorted(stacks):
        out.setdefault(stacks[name].region, []).append(name)
    return out


def placement_problems(
    tenants: dict[str, Tenant], paths: dict[str, Path], stacks: dict[str, StackConfig]
) -> list[Problem]:
    """A tenant's ``stack:`` that names no stack of its region (or, while it moves between
    regions, of either region), and a tenant naming none in a region with several stacks."""
    by_region = shard_names(stacks)
    problems = []
    for slug, t in tenants.items():
        where = str(paths[slug])
        mine = by_region.get(t.region, [])
        if t.stack is None:
            if len(mine) > 1:
                problems.append(
                    Problem(
                        where,
                        "stack",
                        f"region {t.region!r} has {len(mine)} stacks ({', '.join(mine)}): name the tenant's "
                        f"(`mailfleet shard pin --region {t.region} --stack NAME` writes it for every "
                        "tenant without one)",
                    )
                )
            continue
        cfg = stacks.get(t.stack)
        allowed = {t.region}
        if t.migration is not None and t.migration.state != "done":
            allowed |= {t.migration.from_region, t.migration.to}
        if cfg is None:
            problems.append(Problem(where, "stack", f"no stack file Pulumi.{t.stack}.yaml"))
        elif cfg.region not in allowed:
            problems.append(
                Problem(
                    where,
                    "stack",
                    f"stack {t.stack!r} serves region {cfg.region!r}, the tenant is in {t.region!r}",
                )
            )
    return problems


@dataclass
class Project:
    tenants_dir: Path
    stacks_dir: Path
    stacks: dict[str, StackConfig] = field(default_factory=dict)
    tenants: dict[str, Tenant] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)
    states: dict[str, StackState] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @classmethod
    def load(
        cls,
        tenants_dir: Path,
        stacks_dir: Path,
        stack_names: list[str] | None = None,
        *,
        strict: bool = True,
        tenant_paths: list[Path] | None = None,
        extra: tuple[Tenant, Path] | None = None,
    ) -> Project:
        """Load and build; with ``strict`` raise ``InvalidData`` listing every problem.

        ``extra`` is a tenant not yet written (``tenant add``): it is checked against every
        other tenant, and conflicts are reported on it rather than on the tenants already there.
        """
        with paused_gc():
            return cls._load(tenants_dir, stacks_dir, stack_names, strict, tenant_paths, extra)

    @classmethod
    def load_for_stack(cls, tenants_dir: Path, stacks_dir: Path, stack: str) -> Project:
        """What the Pulumi program of ``stack`` needs (``__main__.py``).

        A stack whose region has one stack: ``load(tenants_dir, stacks_dir, [stack])``, every
        file and every rule, as before sharding. A shard of a region with several stacks reads
        only the tenant files that can concern it: a file whose top-level ``stack:`` names
        another stack, with no ``migration:`` or ``shard_move:`` block, is skipped unparsed
        (``may_concern``). So one shard's program costs the same in a fleet of 1,000 or
        20,000 tenants (docs/sharding.md, the figures); the rules across shards (a domain used
        twice, SPF include loops) are checked over the whole fleet by ``mailfleet validate``,
        which CI runs on every change.
        """
        if stack not in discover_stacks(stacks_dir):
            return cls.load(tenants_dir, stacks_dir, [stack])
        try:
            cfg = load_stack(stacks_dir, stack)
        except InvalidData:
            return cls.load(tenants_dir, stacks_dir, [stack])
        siblings = 0
        for name in discover_stacks(stacks_dir):
            if name == stack:
                continue
            try:
                if load_stack(stacks_dir, name).region == cfg.region:
                    siblings += 1
            except InvalidData:
                return cls.load(tenants_dir, stacks_dir, [stack])  # report it
        if not siblings or not Path(tenants_dir).is_dir():
            return cls.load(tenants_dir, stacks_dir, [stack])
        try:
            listed = tenant_file_paths(Path(tenants_dir))
        except InvalidData:
            return cls.load(tenants_dir, stacks_dir, [stack])  # every problem, as validate says it
        paths = [p for p in listed if may_concern(p, stack)]
        return cls.load(tenants_dir, stacks_dir, [stack], tenant_paths=paths)

    @classmethod
    def _load(
        cls,
        tenants_dir: Path,
        stacks_dir: Path,
        stack_names: list[str] | None,
        strict: bool,
        paths: list[Path] | None,
        extra: tuple[Tenant, Path] | None,
    ) -> Project:
        project = cls(tenants_dir, stacks_dir)
        names_found = discover_stacks(stacks_dir)
        if stack_names is not None:
            unknown = [n for n in stack_names if n not in names_found]
            if unknown:
                raise UsageError(
                    problems=[
                        param_problem("stack", f"no stack file Pulumi.{n}.yaml in {stacks_dir}")
                        for n in unknown
                    ]
                )
        if not names_found:
            project.problems.append(
                Problem(str(stacks_dir), "", "no stack files (Pulumi.<stack>.yaml) in this directory")
            )
        for name in names_found:
            try:
                project.stacks[name] = load_stack(stacks_dir, name)
            except InvalidData as exc:
                project.problems.extend(exc.problems)
        project.problems.extend(region_problems(project.stacks, lambda n: str(stack_file(stacks_dir, n))))
        loaded: Loaded = load_tenants(tenants_dir, paths)
        project.problems.extend(loaded.problems)
        candidates = [(t, loaded.paths[slug]) for slug, t in loaded.tenants.items()]
        if extra is not None:
            candidates.append(extra)
        stacks = list(project.stacks.values())
        for tenant, path in candidates:
            problems = tenant_problems(tenant, str(path), stacks)
            if problems:
                project.problems.extend(problems)
                continue
            project.tenants[tenant.slug] = tenant
            project.paths[tenant.slug] = path
        regions = {s.region for s in project.stacks.values()}
        all_loaded = len(project.stacks) == len(names_found)
        for slug, tenant in project.tenants.items():
            # A stack file that failed to load serves an unknown region: its problems say why.
            if project.stacks and all_loaded and tenant.region not in regions:
                project.problems.append(
                    Problem(str(project.paths[slug]), "region", f"no stack serves region {tenant.region!r}")
                )
        if all_loaded:
            project.problems.extend(placement_problems(project.tenants, project.paths, project.stacks))
        # Build every stack (conflicts span both regions), keep the ones asked for.
        shards = shard_names(project.stacks)
        built = {
            name: build_stack(cfg, project.tenants, shards[cfg.region])
            for name, cfg in project.stacks.items()
        }
        last = extra[0].slug if extra is not None else None
        project.problems.extend(conflicts(list(built.values()), project.paths, last=last))
        project.problems.extend(spf_include_problems(project.tenants, project.paths))
        wanted = stack_names if stack_names is not None else names_found
        project.states = {n: built[n] for n in wanted if n in built}
        if strict and project.problems:
            raise InvalidData(problems=project.problems)
        return project

    def stacks_of_region(self, region: Region) -> list[StackConfig]:
        return [cfg for cfg in self.stacks.values() if cfg.region == region]

    def shards(self, region: Region) -> list[str]:
        """The names of ``region``'s stacks, in name order."""
        return sorted(cfg.name for cfg in self.stacks_of_region(region))

    def stack_for_region(self, region: Region, tenant: Tenant | None = None) -> StackConfig:
        """The stack of ``region`` serving ``tenant`` (``mailfleet.desired.shards.home``), or
        without a tenant the region's only stack. ``InvalidData`` when no stack file serves the
        region, when the tenant names no stack of a sharded region, or when the region has
        several stacks and no tenant says which."""
        found = self.stacks_of_region(region)
        if not found:
            raise InvalidData(
                problems=[
                    Problem(
                        str(self.stacks_dir),
                        "",
                        f"no stack file serves region {region!r} (mailfleet:region in Pulumi.<stack>.yaml)",
                    )
                ]
            )
        if len(found) == 1:
            return found[0]
        names_ = self.shards(region)
        if tenant is not None:
            chosen = shards_home(tenant, region, names_)
            if chosen is not None:
                return self.stacks[chosen]
        who = f"tenant {tenant.slug!r} names none of them (stack:)" if tenant is not None else "name one"
        raise InvalidData(
            problems=[
                Problem(
                    str(self.stacks_dir),
                    "stack",
                    f"region {region!r} has {len(found)} stacks ({', '.join(names_)}): {who}",
                )
            ]
        )

    def place(self, tenant: Tenant, counts: dict[str, int] | None = None) -> StackConfig:
        """The stack a new tenant goes to: the one its ``stack`` names (checked to serve its
        region), else the rendezvous proposal among its region's shards below their cap
        (``counts``: tenants per stack now; default: this project's tenants)."""
        mine = self.stacks_of_region(tenant.region)
        if tenant.stack is not None:
            cfg = self.stacks.get(tenant.stack)
            if cfg is None or cfg.region != tenant.region:
                why = "no such stack file" if cfg is None else f"it serves region {cfg.region!r}"
                raise UsageError(
                    problems=[
                        param_problem(
                            "stack", f"{tenant.stack!r} is not a stack of region {tenant.region!r} ({why})"
                        )
                    ]
                )
            return cfg
        if not mine:
            raise InvalidData(problems=[param_problem("region", f"no stack serves region {tenant.region!r}")])
        if counts is None:
            counts = self.counts()
        chosen = propose(tenant.slug, mine, counts)
        if chosen is None:
            caps = ", ".join(f"{s.name} {counts.get(s.name, 0)}/{s.shard_cap}" for s in mine)
            raise InvalidData(
                problems=[
                    Problem(
                        str(self.stacks_dir),
                        "config.mailfleet:shardCap",
                        f"every stack of region {tenant.region!r} is at its cap ({caps}): add a shard (docs/sharding.md)",
                    )
                ]
            )
        return self.stacks[chosen]

    def counts(self) -> dict[str, int]:
        """Tenants per stack (a tenant moving between regions counts in its home region)."""
        out = {name: 0 for name in self.stacks}
        for t in self.tenants.values():
            names_ = self.shards(t.region)
            chosen = shards_home(t, t.region, names_)
            if chosen is not None:
                out[chosen] += 1
        return out

    def stacks_declaring(self, tenant: Tenant) -> list[StackConfig]:
        """The stacks that declare something for ``tenant`` (two while it moves)."""
        return [cfg for cfg in self.stacks.values() if in_stack(tenant, cfg, self.shards(cfg.region))]

    def records_stack(self, tenant: Tenant) -> StackConfig:
        """The stack declaring the tenant's DNS records now: its own stack, or during a
        migration the stack the records have moved to."""
        for cfg in self.stacks_declaring(tenant):
            decl = stack_declaration(tenant, cfg)
            if decl is not None and decl.records:
                return cfg
        return self.stack_for_region(tenant.region, tenant)


def load_stacks(tenants_dir: Path, stacks_dir: Path) -> Project:
    """Only the stack files (no tenant is read): for commands about one tenant file."""
    return Project.load(tenants_dir, stacks_dir, strict=True, tenant_paths=[])
