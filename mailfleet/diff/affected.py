"""``diff --affected-stacks``: the stacks a change touches, for CI's dynamic matrix.

Contract: ``affected(tenants_dir, stacks_dir, base, head)`` lists the paths that differ between
two git revisions (``head`` None: the working tree, untracked files included) and maps them to
stacks without building any desired state:

- a change to the code the Pulumi program runs (``CODE_PATHS``: ``mailfleet/``, ``components/``,
  ``__main__.py``, ``Pulumi.yaml``, ``requirements.txt``) affects every stack;
- a stack file (``Pulumi.<stack>.yaml``) affects that stack (a removed one is listed apart);
- a tenant file affects the stacks declaring the tenant at base and at head: its shard, both
  regions' shards while it moves between regions, old and new shard when ``stack:`` changes.
  A tenant's desired state depends only on its own file and its stack's settings, so no other
  tenant is read: the cost grows with the change, not the fleet.

Only the changed tenant files and the stack files are read (one ``git cat-file --batch``).
A changed file that does not parse is a problem (``REV:path: field: problem``), as in ``diff``.

Each stack gets the ``--parallel`` for its ``pulumi up`` from the providers' rate limits
(``parallelism``; docs/sharding.md has the arithmetic and the assumption).
"""

from __future__ import annotations

import math
import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from mailfleet.desired.build import in_stack
from mailfleet.diff import gitread
from mailfleet.errors import InvalidData, Problem, UsageError
from mailfleet.loader import parse_yaml, yaml_problem
from mailfleet.model.load import stack_from_data, tenant_from_data
from mailfleet.model.stack import StackConfig, discover_stacks, stack_file
from mailfleet.model.tenant import Tenant
from mailfleet.project import shard_names

FORMAT = "mailfleet-affected-stacks/1"

# Paths (relative to the project root: the directory of Pulumi.yaml and the stack files) whose
# change affects what every stack's program does.
CODE_PATHS: tuple[str, ...] = ("mailfleet/", "components/", "__main__.py", "Pulumi.yaml", "requirements.txt")

# Documented rate limits (docs/sharding.md cites the pages).
# Mailgun: about 300 requests a minute on the domain, route and webhook endpoints, per region.
MAILGUN_REQUESTS_PER_SECOND = 300 / 60
# Cloudflare: 1,200 requests per five minutes per user, every zone and token together.
CLOUDFLARE_REQUESTS_PER_SECOND = 1200 / 300
# The assumed mean time one API request of a resource operation takes, provider work included.
DEFAULT_API_LATENCY = 1.0
# How many stacks CI runs at once by default (the matrix's max-parallel).
DEFAULT_STACKS_AT_ONCE = 4


@dataclass
class Parallelism:
    """The inputs of the ``--parallel`` arithmetic, as they appear in the JSON."""

    mailgun_rps: float = MAILGUN_REQUESTS_PER_SECOND
    cloudflare_rps: float = CLOUDFLARE_REQUESTS_PER_SECOND
    latency: float = DEFAULT_API_LATENCY
    stacks_at_once: int = DEFAULT_STACKS_AT_ONCE

    def parallel(self, at_once: int, at_once_in_region: int) -> int:
        """``--parallel`` for one stack: P operations in flight, each one request per
        ``latency`` seconds, make P / latency requests a second. Mailgun's budget is per
        region (shared by the region's stacks running at once), Cloudflare's by every stack
        running at once, so P = floor(min(R_mg * L / S_region, R_cf * L / S)), at least 1."""
        mg = self.mailgun_rps * self.latency / max(at_once_in_region, 1)
        cf = self.cloudflare_rps * self.latency / max(at_once, 1)
        return max(1, math.floor(min(mg, cf)))

    def as_json(self) -> dict[str, Any]:
        return {
            "mailgun_requests_per_second": self.mailgun_rps,
            "cloudflare_requests_per_second": self.cloudflare_rps,
            "assumed_api_latency_seconds": self.latency,
            "stacks_at_once": self.stacks_at_once,
            "rule": "parallel = max(1, floor(min(mailgun_rps * latency / region_stacks_at_once, "
            "cloudflare_rps * latency / stacks_at_once)))",
        }


@dataclass
class AffectedStack:
    stack: str
    region: str
    reasons: list[str] = field(default_factory=list)
    parallel: int = 1


@dataclass
class Affected:
    base: dict[str, str | None]
    head: dict[str, str | None]
    all_stacks: bool
    reason: str
    stacks: list[AffectedStack]
    removed: list[dict[str, str]]
    parallelism: Parallelism
    max_parallel: int

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "base": self.base,
            "head": self.head,
            "all_stacks": self.all_stacks,
            "reason": self.reason,
            "stacks": [
                {"stack": s.stack, "region": s.region, "parallel": s.parallel, "reasons": s.reasons}
                for s in self.stacks
            ],
            "removed_stacks": self.removed,
            "max_parallel": self.max_parallel,
            "parallelism": self.parallelism.as_json(),
        }


def _git(top: Path, *args: str) -> bytes:
    proc = subprocess.run(["git", "-C", str(top), *args], capture_output=True, check=False)
    if proc.returncode != 0:
        raise UsageError(
            problems=[Problem("", "base", f"git {args[0]} failed: {proc.stderr.decode().strip()[:200]}")]
        )
    return proc.stdout


def changed_paths(top: Path, base: str, head: str | None) -> list[str]:
    """Repository paths that differ between ``base`` and ``head`` (None: the working tree,
    untracked files included), renames as a delete and an add."""
    args = ["diff", "--name-only", "-z", "--no-renames", "--no-ext-diff", base]
    if head is not None:
        args.append(head)
    paths = [p for p in _git(top, *args, "--").decode("utf-8", "surrogateescape").split("\0") if p]
    if head is None:
        others = _git(top, "ls-files", "--others", "--exclude-standard", "-z")
        paths += [p for p in others.decode("utf-8", "surrogateescape").split("\0") if p]
    return sorted(set(paths))


def _relative(path: str, directory: str) -> str | None:
    if not directory:
        return path
    prefix = directory.rstrip("/") + "/"
    return path[len(prefix) :] if path.startswith(prefix) else None


def _blob_ids(top: Path, commit: str, paths: list[str]) -> dict[str, str]:
    """Blob id of each of ``paths`` present at ``commit`` (one ``git ls-tree``)."""
    if not paths:
        return {}
    out = _git(top, "ls-tree", "-z", "--full-tree", commit, "--", *paths)
    found = {}
    for entry in out.split(b"\0"):
        if not entry:
            continue
        meta, _, path = entry.partition(b"\t")
        mode, kind, oid = meta.split(b" ")
        if kind == b"blob" and mode != b"120000":
            found[path.decode("utf-8", "surrogateescape")] = oid.decode()
    return found


@dataclass
class _Side:
    """One revision's stack files and changed tenant files, parsed."""

    label: str
    stacks: dict[str, StackConfig] = field(default_factory=dict)
    tenants: dict[str, Tenant] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def _parse_stack(side: _Side, name: str, where: str, blob: bytes) -> None:
    try:
        data = parse_yaml(blob)
    except yaml.YAMLError as exc:
        side.problems.append(yaml_problem(where, exc))
        return
    cfg, problems = stack_from_data(where, name, data)
    side.problems.extend(problems)
    if cfg is not None and not problems:
        side.stacks[name] = cfg


def _parse_tenant(side: _Side, where: str, blob: bytes) -> None:
    if not blob.strip():
        side.problems.append(Problem(where, "", "file is empty"))
        return
    try:
        data = parse_yaml(blob)
    except yaml.YAMLError as exc:
        side.problems.append(yaml_problem(where, exc))
        return
    tenant, problems = tenant_from_data(where, data, PurePosixPath(where).name[: -len(".yaml")])
    side.problems.extend(problems)
    if tenant is not None and not problems:
        side.tenants[tenant.slug] = tenant


def _read_commit(lay: gitread.Layout, rev: str, commit: str, tenant_paths: list[str]) -> _Side:
    side = _Side(f"{rev}:")
    stack_dir = lay.stacks
    listing = gitread._ls_tree(lay.top, commit, stack_dir)
    stacks = [
        (n[len(gitread.STACK_PREFIX) : -len(gitread.SUFFIX)], gitread._join(stack_dir, n), o)
        for n, o in listing
        if n.startswith(gitread.STACK_PREFIX) and len(n) > len(gitread.STACK_PREFIX) + len(gitread.SUFFIX)
    ]
    tenant_blobs = _blob_ids(lay.top, commit, tenant_paths)
    blobs = gitread.cat_blobs(
        lay.top, list(dict.fromkeys([o for _, _, o in stacks] + list(tenant_blobs.values())))
    )
    for name, path, oid in stacks:
        _parse_stack(side, name, side.label + path, blobs[oid])
    for path, oid in sorted(tenant_blobs.items()):
        _parse_tenant(side, side.label + path, blobs[oid])
    return side


def _read_worktree(lay: gitread.Layout, stacks_dir: Path, tenant_paths: list[str]) -> _Side:
    side = _Side("")
    for name in discover_stacks(stacks_dir):
        path = stack_file(stacks_dir, name)
        _parse_stack(side, name, str(path), path.read_bytes())
    for rel in tenant_paths:
        path = lay.top / rel
        if path.is_file() and not path.is_symlink():
            _parse_tenant(side, str(Path(rel)), path.read_bytes())
    return side


def _declaring(side: _Side, tenant: Tenant) -> list[str]:
    shards = shard_names(side.stacks)
    return [n for n, cfg in side.stacks.items() if in_stack(tenant, cfg, shards[cfg.region])]


def affected(
    tenants_dir: Path,
    stacks_dir: Path,
    base: str,
    head: str | None,
    parallelism: Parallelism | None = None,
) -> Affected:
    """The stacks the change from ``base`` to ``head`` (None: the working tree) touches."""
    rates = parallelism or Parallelism()
    if rates.stacks_at_once < 1:
        raise UsageError(problems=[Problem("", "stacks_at_once", "must be at least 1")])
    if not rates.latency > 0:
        raise UsageError(problems=[Problem("", "api_latency", "must be a positive number of seconds")])
    lay = gitread.layout(tenants_dir, stacks_dir)
    base_commit = gitread.resolve(lay.top, base, "base")
    head_commit = gitread.resolve(lay.top, head, "head") if head is not None else None
    paths = changed_paths(lay.top, base_commit, head_commit)

    code: list[str] = []
    stack_files: set[str] = set()
    tenant_paths: list[str] = []
    for path in paths:
        rel = _relative(path, lay.stacks)
        if rel is not None and any(rel == c or (c.endswith("/") and rel.startswith(c)) for c in CODE_PATHS):
            code.append(path)
            continue
        if (
            rel is not None
            and "/" not in rel
            and rel.startswith(gitread.STACK_PREFIX)
            and rel.endswith(gitread.SUFFIX)
        ):
            name = rel[len(gitread.STACK_PREFIX) : -len(gitread.SUFFIX)]
            if name:
                stack_files.add(name)
            continue
        in_tenants = _relative(path, lay.tenants)
        if in_tenants is not None and "/" not in in_tenants and in_tenants.endswith(".yaml"):
            tenant_paths.append(path)

    old = _read_commit(lay, base, base_commit, tenant_paths)
    new = (
        _read_commit(lay, head or "", head_commit, tenant_paths)
        if head_commit is not None
        else _read_worktree(lay, stacks_dir, tenant_paths)
    )
    problems = old.problems + new.problems
    if problems:
        raise InvalidData(problems=problems)

    reasons: dict[str, list[str]] = {}

    def touch(stack: str, why: str) -> None:
        reasons.setdefault(stack, [])
        if why not in reasons[stack]:
            reasons[stack].append(why)

    all_stacks = bool(code)
    if all_stacks:
        shown = ", ".join(code[:3]) + (f" and {len(code) - 3} more" if len(code) > 3 else "")
        reason = f"code changed: {shown}"
        for name in new.stacks:
            touch(name, "code")
    else:
        for name in sorted(stack_files):
            touch(name, f"stack file Pulumi.{name}.yaml")
        for side in (old, new):
            for slug, tenant in side.tenants.items():
                for name in _declaring(side, tenant):
                    touch(name, f"tenant {slug}")
        # A tenant file removed at head (or added) is read on one side only: covered above.
        reason = (
            f"{len(tenant_paths)} tenant file(s), {len(stack_files)} stack file(s) changed"
            if reasons
            else "no tenant, stack or program file changed"
        )

    live = [n for n in sorted(reasons) if n in new.stacks]
    removed = [
        {"stack": n, "region": old.stacks[n].region}
        for n in sorted(reasons)
        if n not in new.stacks and n in old.stacks
    ]
    at_once = min(len(live), rates.stacks_at_once)
    out: list[AffectedStack] = []
    regions = [new.stacks[n].region for n in live]
    for name in live:
        region = new.stacks[name].region
        in_region = min(regions.count(region), at_once)
        out.append(AffectedStack(name, region, reasons[name], rates.parallel(at_once, in_region)))
    return Affected(
        base={"rev": base, "commit": base_commit},
        head={"rev": head if head is not None else gitread.WORKTREE, "commit": head_commit},
        all_stacks=all_stacks,
        reason=reason,
        stacks=out,
        removed=removed,
        parallelism=rates,
        max_parallel=max(at_once, 1),
    )
