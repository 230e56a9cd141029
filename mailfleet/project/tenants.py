"""Tenant files: add, remove and read one tenant, every rule checked before anything is written.

Contract: every function returns data or raises ``mailfleet.errors`` with ``Problem``s. A
problem with the input of ``add`` (a schema error, a tenant rule, a conflict with another
tenant) has an empty ``where`` and the tenant's field path (``sender_domain.name``) as
``field``; the CLI names the flag. Writes are atomic and serialised by the tenants
directory's lock (``mailfleet.fsutil``); the checks run again under the lock, so the
existence check and the write are one critical section.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from mailfleet.desired.build import build_tenant
from mailfleet.desired.publish import CustomerRecords
from mailfleet.desired.rules import tenant_problems
from mailfleet.desired.state import TenantState
from mailfleet.errors import InvalidData, Problem, UsageError
from mailfleet.fsutil import atomic_remove, atomic_write, locked
from mailfleet.loader import parse_yaml
from mailfleet.model.load import load_tenants, pydantic_problems, tenant_from_data
from mailfleet.model.stack import StackConfig
from mailfleet.model.tenant import DEFAULT_DMARC_POLICY, Tenant
from mailfleet.project import Project, load_one, tenant_file
from mailfleet.project.tenantfile import migration_in_progress, migration_phase, render
from mailfleet.records.dmarc import record_name as dmarc_record_name

log = logging.getLogger("mailfleet.project.tenants")


@dataclass(frozen=True)
class TenantView:
    """A tenant with the stack that declares it now and what that stack declares for it."""

    tenant: Tenant
    path: Path
    stack: StackConfig
    state: TenantState

    @property
    def customer_records(self) -> CustomerRecords:
        t = self.tenant
        return CustomerRecords.from_state(self.state, self.stack.name, [*t.dmarc.rua, *t.dmarc.ruf])


@dataclass(frozen=True)
class Added(TenantView):
    content: bytes
    written: bool


def validate_new(data: dict[str, Any], usage: list[Problem] | None = None) -> Tenant:
    """``data`` through the tenant schema and the tenant's own rules; ``UsageError`` listing
    the problems with the input (and ``usage``, problems found before), by field path."""
    problems = list(usage or [])
    try:
        tenant = Tenant.model_validate(data)
    except ValidationError as exc:
        # A field already reported by the caller gets no second line from the schema.
        reported = {p.field for p in problems}
        problems.extend(
            Problem("", p.field, p.message) for p in pydantic_problems("", exc) if p.field not in reported
        )
        raise UsageError(problems=problems) from None
    problems.extend(Problem("", p.field, p.message) for p in tenant_problems(tenant, ""))
    if problems:
        raise UsageError(problems=problems)
    return tenant


def with_written_policy(tenant: Tenant) -> Tenant:
    """The tenant as `tenant add` writes it: the DMARC policy written out (so a later change of
    the default never changes it silently), unless an adopted DMARC record's policy applies."""
    if tenant.dmarc.policy is not None:
        return tenant
    dns = tenant.adopted.dns if tenant.adopted is not None else None
    domain = tenant.sender_domain.name if tenant.sender_domain is not None else None
    if dns is not None and domain is not None:
        found = dns.find(dmarc_record_name(domain), "TXT")
        if found is not None and found.dmarc is not None:
            return tenant
    return tenant.model_copy(
        update={"dmarc": tenant.dmarc.model_copy(update={"policy": DEFAULT_DMARC_POLICY})}
    )


def _checked(tenant: Tenant, path: Path, tenants_dir: Path, stacks_dir: Path) -> tuple[Project, Tenant]:
    """The project with ``tenant`` added, and the tenant with its stack written in (the one it
    names, else the rendezvous proposal: ``Project.place``); ``InvalidData`` when it exists,
    the project has problems of its own, or the tenant conflicts with another."""
    if path.exists():
        raise InvalidData(problems=[Problem(str(path), "", f"tenant {tenant.slug!r} already exists")])
    before = Project.load(tenants_dir, stacks_dir, strict=False)
    if before.problems:
        raise InvalidData(
            problems=[
                *before.problems,
                Problem(
                    str(path),
                    "",
                    "not written: the project has the problems above; fix them first (mailfleet validate)",
                ),
            ]
        )
    tenant = tenant.model_copy(update={"stack": before.place(tenant).name})
    project = Project.load(tenants_dir, stacks_dir, strict=False, extra=(tenant, path))
    mine = [Problem("", p.field, p.message) for p in project.problems if p.where == str(path)]
    if mine:
        raise InvalidData(problems=mine)
    return project, tenant


def add_tenant(tenants_dir: Path, stacks_dir: Path, tenant: Tenant, *, dry_run: bool) -> Added:
    """Write ``tenants/<slug>.yaml`` for a validated ``tenant`` (see the module docstring)."""
    if not tenants_dir.is_dir():
        raise InvalidData(problems=[Problem(str(tenants_dir), "", "tenants directory does not exist")])
    path = tenants_dir / f"{tenant.slug}.yaml"
    given = with_written_policy(tenant)
    # Checked once without the lock (so refused input never creates the lock file), then again
    # under it (where the stack is chosen again: another add may have filled a shard).
    project, tenant = _checked(given, path, tenants_dir, stacks_dir)
    content = render(tenant)
    if not dry_run:
        with locked(tenants_dir):
            project, tenant = _checked(given, path, tenants_dir, stacks_dir)
            content = render(tenant)
            _write(atomic_write, path, content)
        log.info(
            "tenant added slug=%s region=%s stack=%s path=%s", tenant.slug, tenant.region, tenant.stack, path
        )
    stack = project.stacks[tenant.stack or ""]
    return Added(tenant, path, stack, build_tenant(tenant, stack), content, not dry_run)


def view(tenants_dir: Path, stacks_dir: Path, slug: str) -> TenantView:
    """One tenant, the stack declaring its DNS records now, and that stack's state for it."""
    tenant, path = load_one(tenants_dir, slug)
    project = Project.load(tenants_dir, stacks_dir, strict=True, tenant_paths=[])
    stack = project.records_stack(tenant)
    return TenantView(tenant, path, stack, build_tenant(tenant, stack))


def summaries(tenants_dir: Path, region: str | None) -> tuple[list[dict[str, Any]], list[Problem]]:
    """``tenant list``: one mapping per valid tenant (of ``region``), and the broken files."""
    loaded = load_tenants(tenants_dir)
    items = []
    for slug, t in sorted(loaded.tenants.items()):
        if region is not None and t.region != region:
            continue
        sender = t.sender_domain
        items.append(
            {
                "slug": t.slug,
                "name": t.name,
                "region": t.region,
                "file": str(loaded.paths[slug]),
                "mailboxes": list(t.mailboxes),
                "sender_domain": sender.name if sender else None,
                "dns": sender.dns if sender else None,
                "outbound": {"service": t.outbound.service, "marketing": t.outbound.marketing},
                "tracking": t.tracking,
                "migration": migration_phase(t.migration),
            }
        )
    return items, loaded.problems


@dataclass(frozen=True)
class Removal(TenantView):
    """What ``tenant remove`` does, in stages for a tenant that adopted what existed.

    - ``delete`` (nothing adopted): the file goes; the next ``pulumi up`` deletes ``deleted``.
    - ``restore`` (adopted, first ``remove``): the file gets ``adopted.release: true``; the next
      ``up`` deletes what mailfleet created (``deleted``) and puts each adopted record back at
      its original value (``restored``).
    - ``release`` (second ``remove``): the file goes; the next ``up`` lets Pulumi forget
      ``released`` without deleting it (``retain_on_delete``). What existed before mailfleet
      exists after it.
    """

    stage: str
    deleted: TenantState
    restored: TenantState
    released: TenantState


def _items(state: TenantState) -> set[str]:
    return {item.key for item in state.items()}


def _only(state: TenantState, keys: set[str]) -> TenantState:
    kept = TenantState(state.slug, state.display_name, state.region)
    kept.domains = [d for d in state.domains if d.key in keys]
    kept.routes = [r for r in state.routes if r.key in keys]
    kept.webhooks = [w for w in state.webhooks if w.key in keys]
    kept.records = [r for r in state.records if r.key in keys]
    kept.outbound = state.outbound if state.outbound is not None and state.outbound.key in keys else None
    return kept


def _released(tenant: Tenant) -> Tenant:
    assert tenant.adopted is not None
    return tenant.model_copy(update={"adopted": tenant.adopted.model_copy(update={"release": True})})


def removal(tenants_dir: Path, stacks_dir: Path, slug: str) -> Removal:
    """What removing ``slug`` does now (see ``Removal``); refused for a tenant being migrated."""
    _refuse_migrating(tenant_file(tenants_dir, slug), slug)
    now = view(tenants_dir, stacks_dir, slug)
    empty = TenantState(now.state.slug, now.state.display_name, now.state.region)
    adopted = now.tenant.adopted
    if adopted is None:
        return Removal(now.tenant, now.path, now.stack, now.state, "delete", now.state, empty, empty)
    if adopted.release:
        return Removal(now.tenant, now.path, now.stack, now.state, "release", empty, empty, now.state)
    after = build_tenant(_released(now.tenant), now.stack)
    deleted = _only(now.state, _items(now.state) - _items(after))
    return Removal(now.tenant, now.path, now.stack, now.state, "restore", deleted, after, empty)


def remove_tenant(tenants_dir: Path, target: Removal) -> None:
    """Carry out ``target`` (from ``removal``) under the directory's lock: delete the tenant
    file, or for the ``restore`` stage write ``adopted.release: true`` into it."""
    path, slug = target.path, target.tenant.slug
    with locked(tenants_dir):
        if not path.exists():
            raise InvalidData(problems=[Problem(str(path), "", f"no tenant {slug!r} (already removed)")])
        _refuse_migrating(path, slug)
        if target.stage != "restore":
            _write(atomic_remove, path)
            return
        text = path.read_text(encoding="utf-8")
        new_text = with_release(text)
        tenant, problems = tenant_from_data(str(path), parse_yaml(new_text), slug)
        if problems or tenant is None or tenant.adopted is None or not tenant.adopted.release:
            raise InvalidData(
                problems=problems or [Problem(str(path), "adopted", "could not mark the tenant for release")]
            )
        _write(atomic_write, path, new_text.encode("utf-8"))


def with_release(text: str) -> str:
    """``text`` with ``release: true`` in its top-level ``adopted:`` block (comments kept)."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == "adopted:"), None)
    if start is None:
        return text
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t"):
        if lines[end].startswith("  release:"):
            lines[end] = "  release: true\n"
            return "".join(lines)
        end += 1
    lines.insert(start + 1, "  release: true\n")
    return "".join(lines)


def _write(operation: Any, path: Path, *args: Any) -> None:
    """Run a file operation on ``path``; an OS error becomes one problem line (exit 1)."""
    try:
        operation(path, *args)
    except OSError as exc:
        raise InvalidData(problems=[Problem(str(path), "", f"cannot write: {exc.strerror or exc}")]) from None


def _refuse_migrating(path: Path, slug: str) -> None:
    """Refuse (exit 1) when the file's raw ``migration`` block marks a migration in progress.

    Read raw, so that a journal that fails validation still protects the tenant."""
    try:
        data = parse_yaml(path.read_bytes())
    except (OSError, yaml.YAMLError, RecursionError):
        return  # not readable as YAML: loading the tenant reports the problem
    if isinstance(data, dict) and migration_in_progress(data.get("migration")):
        tenant, _ = tenant_from_data(str(path), data, None)
        block = tenant.migration if tenant is not None else data.get("migration")
        phase = migration_phase(block) or "unknown"
        raise InvalidData(
            problems=[
                Problem(
                    str(path),
                    "migration",
                    f"tenant {slug!r} is being migrated (phase {phase!r}); "
                    "finish or abort the migration before removing it",
                )
            ]
        )
