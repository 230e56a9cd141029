"""A checkout's tenants and stacks, loaded, validated and built into desired states.

``Project.load`` is what every command that reads the model calls: it collects every problem
from every tenant file and stack file before raising, so ``validate`` can list them all. It
runs every rule once: the schema (``mailfleet.model``), each tenant's own rules and the
cross-tenant conflicts (``mailfleet.desired.rules``), and the stack rules below.

Stacks are not regions. A stack file names its region (``mailfleet:region``); any stack names
work (``Pulumi.prod-eu.yaml``). Until sharding lands a region has exactly one stack: a second
stack file with the same region is a problem naming both files, because a ``pulumi up`` of it
would declare every tenant of the region a second time (a second SPF record in customers'
zones). ``stack_for_region`` and ``stacks_declaring`` are the one way to find stacks.

Problems about a command's parameters (an unknown stack name, a bad slug) carry the
parameter's name as ``field`` and an empty ``where``; only the CLI turns them into flags.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mailfleet.desired.build import build_stack, stack_declaration
from mailfleet.desired.rules import conflicts, spf_include_problems, tenant_problems
from mailfleet.desired.state import StackState
from mailfleet.errors import InvalidData, Problem, UsageError
from mailfleet.model import names
from mailfleet.model.load import Loaded, load_stack, load_tenant_file, load_tenants
from mailfleet.model.region import Region
from mailfleet.model.stack import StackConfig, discover_stacks, stack_file
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


def region_problems(stacks: dict[str, StackConfig], path_of: Callable[[str], str]) -> list[Problem]:
    """A region served by more than one stack file: one problem per extra file, naming both.

    ``path_of(stack name)`` is the file shown (a path, or ``REV:path`` for ``diff``)."""
    first: dict[str, str] = {}
    problems = []
    for name, cfg in stacks.items():
        other = first.setdefault(cfg.region, name)
        if other != name:
            problems.append(
                Problem(
                    path_of(name),
                    "config.mailfleet:region",
                    f"region {cfg.region!r} is already served by stack {other!r} "
                    f"({path_of(other)}); a region has exactly one stack",
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
        # Build every stack (conflicts span both regions), keep the ones asked for.
        built = {name: build_stack(cfg, project.tenants) for name, cfg in project.stacks.items()}
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

    def stack_for_region(self, region: Region) -> StackConfig:
        """The stack of ``region``; ``InvalidData`` when no stack file serves it."""
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
        return found[0]

    def stacks_declaring(self, tenant: Tenant) -> list[StackConfig]:
        """The stacks that declare something for ``tenant`` (two while it moves)."""
        return [cfg for cfg in self.stacks.values() if stack_declaration(tenant, cfg) is not None]

    def records_stack(self, tenant: Tenant) -> StackConfig:
        """The stack declaring the tenant's DNS records now: its region's stack, or during a
        migration the stack the records have moved to."""
        for cfg in self.stacks.values():
            decl = stack_declaration(tenant, cfg)
            if decl is not None and decl.records:
                return cfg
        return self.stack_for_region(tenant.region)


def load_stacks(tenants_dir: Path, stacks_dir: Path) -> Project:
    """Only the stack files (no tenant is read): for commands about one tenant file."""
    return Project.load(tenants_dir, stacks_dir, strict=True, tenant_paths=[])
