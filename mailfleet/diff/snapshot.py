"""A revision's files validated and built into desired states, like ``Project.load``.

Contract: ``Snapshots.load(files)`` applies exactly the checks ``validate`` applies (YAML
syntax and duplicate keys, the tenant and stack schemas, the slug/file-name match, a stack
serving the tenant's region, cross-tenant conflicts) and returns every problem, located as
``REV:path``. Work is shared between the revisions loaded through one ``Snapshots``: a tenant
file whose bytes did not change is parsed and validated once, and its ``TenantState`` is built
once per stack file content, so two revisions of 10,000 tenants with 50 changes cost about one
load, and ``compare`` can skip a tenant whose base and head states are the same object.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from mailfleet.desired.build import build_tenant, tenants_for_stack
from mailfleet.desired.rules import conflicts, spf_include_problems, tenant_problems
from mailfleet.desired.state import StackState, TenantState
from mailfleet.diff.gitread import RevisionFiles
from mailfleet.errors import Problem
from mailfleet.loader import parse_yaml, yaml_problem
from mailfleet.model.load import stack_from_data, tenant_from_data
from mailfleet.model.stack import StackConfig
from mailfleet.model.tenant import Tenant
from mailfleet.project import paused_gc, placement_problems, region_problems, shard_names

log = logging.getLogger("mailfleet.diff.snapshot")


@dataclass
class Snapshot:
    """One revision: its valid stacks and their desired states, and every problem found."""

    files: RevisionFiles
    stacks: dict[str, StackConfig] = field(default_factory=dict)
    stack_blobs: dict[str, bytes] = field(default_factory=dict)
    states: dict[str, StackState] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


@dataclass
class Snapshots:
    """Loads revisions, sharing validation and building between them (see module docstring)."""

    _tenants: dict[tuple[str, bytes], tuple[Tenant | None, list[tuple[str, str]]]] = field(
        default_factory=dict
    )
    _stacks: dict[tuple[str, bytes], tuple[StackConfig | None, list[tuple[str, str]]]] = field(
        default_factory=dict
    )
    _built: dict[tuple[int, bytes], TenantState] = field(default_factory=dict)

    def _tenant(self, name: str, blob: bytes) -> tuple[Tenant | None, list[tuple[str, str]]]:
        key = (name, blob)
        hit = self._tenants.get(key)
        if hit is not None:
            return hit
        tenant: Tenant | None = None
        problems: list[Problem]
        if not blob.strip():
            problems = [Problem("", "", "file is empty")]
        else:
            try:
                data = parse_yaml(blob)
            except yaml.YAMLError as exc:
                problems = [yaml_problem("", exc)]
            else:
                tenant, problems = tenant_from_data("", data, name[: -len(".yaml")])
                if tenant is not None:
                    problems = tenant_problems(tenant, "")
                    tenant = None if problems else tenant
        result = (tenant, [(p.field, p.message) for p in problems])
        self._tenants[key] = result
        return result

    def _stack(self, name: str, blob: bytes) -> tuple[StackConfig | None, list[tuple[str, str]]]:
        key = (name, blob)
        hit = self._stacks.get(key)
        if hit is not None:
            return hit
        try:
            data: Any = parse_yaml(blob)
        except yaml.YAMLError as exc:
            p = yaml_problem("", exc)
            result: tuple[StackConfig | None, list[tuple[str, str]]] = (None, [(p.field, p.message)])
        else:
            cfg, problems = stack_from_data("", name, data)
            result = (None if problems else cfg, [(p.field, p.message) for p in problems])
        self._stacks[key] = result
        return result

    def _state(self, tenant: Tenant, cfg: StackConfig, stack_blob: bytes) -> TenantState:
        key = (id(tenant), stack_blob)
        state = self._built.get(key)
        if state is None:
            state = build_tenant(tenant, cfg)
            self._built[key] = state
        return state

    def load(self, files: RevisionFiles) -> Snapshot:
        with paused_gc():
            return self._load(files)

    def _load(self, files: RevisionFiles) -> Snapshot:
        snap = Snapshot(files)
        label = files.label
        for name, blob in files.stacks.items():
            cfg, problems = self._stack(name, blob)
            where = label + files.stack_paths[name]
            snap.problems.extend(Problem(where, f, m) for f, m in problems)
            if cfg is not None:
                snap.stacks[name] = cfg
                snap.stack_blobs[name] = blob
        snap.problems.extend(region_problems(snap.stacks, lambda n: label + files.stack_paths[n]))
        tenants: dict[str, Tenant] = {}
        paths: dict[str, Path] = {}
        for path, blob in files.tenants.items():
            tenant, problems = self._tenant(PurePosixPath(path).name, blob)
            where = label + path
            if problems:
                snap.problems.extend(Problem(where, f, m) for f, m in problems)
                continue
            assert tenant is not None
            tenants[tenant.slug] = tenant
            paths[tenant.slug] = Path(where)
        regions = {c.region for c in snap.stacks.values()}
        for slug, tenant in tenants.items():
            if snap.stacks and tenant.region not in regions:
                snap.problems.append(
                    Problem(str(paths[slug]), "region", f"no stack serves region {tenant.region!r}")
                )
        if len(snap.stacks) == len(files.stacks):
            snap.problems.extend(placement_problems(tenants, paths, snap.stacks))
        shards = shard_names(snap.stacks)
        for name, cfg in snap.stacks.items():
            state = StackState(
                stack=name,
                region=cfg.region,
                aws_region=cfg.aws_region,
                platform_domain=cfg.platform_domain,
                hosted_zone_id=cfg.hosted_zone_id,
            )
            blob = snap.stack_blobs[name]
            state.tenants = [
                self._state(t, cfg, blob) for t in tenants_for_stack(tenants, cfg, shards[cfg.region])
            ]
            snap.states[name] = state
        snap.problems.extend(conflicts(list(snap.states.values()), paths))
        snap.problems.extend(spf_include_problems(tenants, paths))
        log.info(
            "snapshot rev=%s stacks=%d tenants=%d problems=%d",
            files.rev,
            len(snap.states),
            len(tenants),
            len(snap.problems),
        )
        return snap
