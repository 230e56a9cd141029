"""The migration journal: the ``migration:`` block of ``tenants/<slug>.yaml``, plus its export.

Why in the tenant file: the journal is the state of a change to the tenant, so it sits where
the tenant is reviewed. ``git diff`` shows which step each tenant reached, a pull request that
starts or finishes a move shows it, and ``mailfleet plan`` (which reads the same file) shows
what each stack declares at that step. A separate state store would be one more thing to back
up and to keep consistent with the tenant files.

Why the export is a separate file (``tenants/.migrations/<slug>/export.json``): routes,
webhooks and suppression lists can be large (a suppression list can hold many thousands of
addresses), and they are data, not settings a reviewer reads. The block keeps the file's path,
its SHA-256 and the counts, so a reviewer sees that the export exists and a resumed run detects
a changed or missing file. Loaders read only ``tenants/*.yaml``; the hidden ``.migrations``
directory is never read as tenants.

Contract:
- every write holds the tenants directory lock (``fsutil.locked``) and replaces the file
  atomically (``fsutil.atomic_write``); the new text is validated as a tenant before it is
  written, so a write never leaves an invalid tenant file;
- only the ``migration:`` block (and, when a move finishes, the ``region:`` line) changes;
  every other byte of the tenant file, comments included, stays as it was;
- ``TenantRunLock`` is held for the whole of a run on one tenant: a second ``migrate`` of the
  same tenant refuses at once (``MigrationBusy``); the kernel drops the lock when the process
  dies, so a killed run never blocks ``resume``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import socket
from pathlib import Path
from typing import Any

import yaml
from filelock import FileLock, Timeout

from mailfleet import fsutil
from mailfleet.errors import InvalidData, MailfleetError, Problem
from mailfleet.loader import parse_yaml
from mailfleet.model.load import load_tenant_file, tenant_from_data
from mailfleet.model.migration import Export, LateExport, Migration, Owner, StepRecord, now_iso
from mailfleet.model.tenant import Tenant

log = logging.getLogger("mailfleet.migrate.journal")

MIGRATIONS_DIR = ".migrations"
EXPORT_NAME = "export.json"
LATE_EXPORT_NAME = "export-late.json"  # the suppressions added between the export and the point of no return
RUN_LOCK_NAME = "run.lock"
BLOCK_HEADER = "# Written by `mailfleet migrate` (its journal); do not edit by hand."


class MigrationBusy(MailfleetError):
    """Another process is migrating this tenant right now."""


def migrations_dir(tenants_dir: Path) -> Path:
    return Path(tenants_dir) / MIGRATIONS_DIR


def tenant_path(tenants_dir: Path, slug: str) -> Path:
    return Path(tenants_dir) / f"{slug}.yaml"


def export_path(tenants_dir: Path, slug: str) -> Path:
    return migrations_dir(tenants_dir) / slug / EXPORT_NAME


def split_block(text: str) -> tuple[str, str | None, str]:
    """``(before, block, after)`` around the top-level ``migration:`` block (``block`` may be None)."""
    lines = text.splitlines(keepends=True)
    start = None
    for i, line in enumerate(lines):
        if line.startswith("migration:"):
            start = i
            break
    if start is None:
        return text, None, ""
    begin = start
    if begin > 0 and lines[begin - 1].rstrip("\n") == BLOCK_HEADER:
        begin -= 1
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t"):
        end += 1
    return "".join(lines[:begin]), "".join(lines[begin:end]), "".join(lines[end:])


def render_block(migration: Migration) -> str:
    data = migration.model_dump(mode="json", by_alias=True, exclude_none=True)
    dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    body = yaml.dump({"migration": data}, Dumper=dumper, sort_keys=False, default_flow_style=False, width=200)
    return f"{BLOCK_HEADER}\n{body}"


def with_block(
    text: str, migration: Migration | None, region: str | None = None, stack: str | None = None
) -> str:
    """``text`` with its migration block replaced (removed when None) and optionally a new
    region and a new ``stack:`` (the tenant's stack in the new region, docs/sharding.md)."""
    before, _, after = split_block(text)
    rest = before + after
    if region is not None:
        rest, n = re.subn(r"(?m)^region:[^\n]*$", f"region: {region}", rest, count=1)
        if n != 1:
            raise InvalidData(problems=[Problem("tenant file", "region", "no top-level region: line")])
    if stack is not None:
        rest, n = re.subn(r"(?m)^stack:[^\n]*$", f"stack: {stack}", rest, count=1)
        if n != 1:
            raise InvalidData(problems=[Problem("tenant file", "stack", "no top-level stack: line")])
    if migration is None:
        return rest
    if rest and not rest.endswith("\n"):
        rest += "\n"
    return rest + render_block(migration)


class Journal:
    """Reads and writes one tenant's migration block; every write is locked and atomic."""

    def __init__(self, tenants_dir: Path, slug: str) -> None:
        self.tenants_dir = Path(tenants_dir)
        self.slug = slug
        self.path = tenant_path(self.tenants_dir, slug)
        self.last: Tenant | None = None  # the tenant as the last write left it
        self._rest_cache: tuple[str, dict[str, Any]] | None = None

    def load(self) -> Tenant:
        """The tenant as it is on disk now; ``InvalidData`` naming file and field if not valid."""
        if not self.path.exists():
            raise InvalidData(problems=[Problem(str(self.path), "", f"no tenant {self.slug!r}")])
        tenant, problems = load_tenant_file(self.path)
        if problems or tenant is None:
            raise InvalidData(problems=problems)
        return tenant

    @property
    def migration(self) -> Migration | None:
        return self.load().migration

    def write(
        self, migration: Migration | None, region: str | None = None, stack: str | None = None
    ) -> Tenant:
        """Replace the block (None removes it); validate, then write atomically under the lock."""
        with fsutil.locked(self.tenants_dir):
            text = self.path.read_text(encoding="utf-8")
            new_text = with_block(text, migration, region, stack)
            before, _, after = split_block(new_text)
            rest = before + after
            cached = self._rest_cache
            if cached is not None and cached[0] == rest:
                # The rest of the file is what the last write validated: validate the new
                # block with it without parsing the YAML again (a journal write per step).
                data = dict(cached[1])
                if migration is not None:
                    data["migration"] = migration.model_dump(mode="json", by_alias=True, exclude_none=True)
            else:
                data = parse_yaml(new_text)
            tenant, problems = tenant_from_data(str(self.path), data, self.slug)
            if problems or tenant is None:
                raise InvalidData(problems=problems)
            if isinstance(data, dict):
                self._rest_cache = (rest, {k: v for k, v in data.items() if k != "migration"})
            if new_text != text:
                fsutil.atomic_write(self.path, new_text.encode("utf-8"))
            self.last = tenant
            log.info(
                "journal slug=%s next=%s state=%s",
                self.slug,
                migration.next_step if migration else None,
                migration.state if migration else None,
            )
            return tenant

    def update(self, current: Migration | None = None, **changes: Any) -> Migration:
        """Apply ``changes`` to ``current`` (default: the block on disk) and write it.

        A run holding the tenant's run lock is the only writer of the block, so it may pass
        the block it last wrote instead of reading the file again.
        """
        if current is None:
            current = self.migration
        if current is None:
            raise InvalidData(problems=[Problem(str(self.path), "migration", "no migration under way")])
        updated = current.model_copy(update=changes)
        # model_copy does not validate: round-trip through the model to enforce the schema.
        updated = Migration.model_validate(updated.model_dump(mode="json", by_alias=True))
        self.write(updated)
        return updated

    def start_step(
        self, step: str, now: float, current: Migration | None = None, **changes: Any
    ) -> Migration:
        current = current or self.migration
        assert current is not None
        if step in current.steps and all(getattr(current, k) == v for k, v in changes.items()):
            return current  # already recorded (by the previous step's end): nothing to write
        steps = dict(current.steps)
        if step not in steps:
            steps[step] = StepRecord(started_at=now_iso(now))
        return self.update(current, steps=steps, **changes)

    def finish_step(
        self,
        step: str,
        now: float,
        current: Migration | None = None,
        *,
        then_start: str | None = None,
        **changes: Any,
    ) -> Migration:
        """Record the end of ``step`` (and, in the same write, the start of ``then_start``)."""
        current = current or self.migration
        assert current is not None
        steps = dict(current.steps)
        record = steps.get(step) or StepRecord(started_at=now_iso(now))
        steps[step] = record.model_copy(update={"done_at": now_iso(now)})
        if then_start is not None and then_start not in steps:
            steps[then_start] = StepRecord(started_at=now_iso(now))
        return self.update(current, steps=steps, **changes)

    # -- export -------------------------------------------------------------------------

    @property
    def export_file(self) -> Path:
        return export_path(self.tenants_dir, self.slug)

    def write_export(self, data: dict[str, Any]) -> Export:
        """Write the export atomically; returns the block's ``export`` entry for it."""
        path = self.export_file
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps(data, indent=2, sort_keys=True).encode() + b"\n"
        with fsutil.locked(self.tenants_dir):
            fsutil.atomic_write(path, payload)
        return Export(
            path=str(path.relative_to(self.tenants_dir)),
            sha256=hashlib.sha256(payload).hexdigest(),
            routes=len(data.get("routes", [])),
            webhooks=sum(len(v) for v in data.get("webhooks", {}).values()),
            suppressions=sum(
                len(entries) for kinds in data.get("suppressions", {}).values() for entries in kinds.values()
            ),
            logins_to_reissue=list(data.get("logins_to_reissue", [])) or None,
            templates=sum(
                len(t.get("versions") or []) for ts in data.get("templates", {}).values() for t in ts
            )
            or None,
        )

    def write_late_export(self, data: dict[str, Any], exported_at: str) -> LateExport:
        """Write the second suppression export atomically; returns its ``export.late`` entry."""
        path = self.export_file.with_name(LATE_EXPORT_NAME)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps(data, indent=2, sort_keys=True).encode() + b"\n"
        with fsutil.locked(self.tenants_dir):
            fsutil.atomic_write(path, payload)
        return LateExport(
            path=str(path.relative_to(self.tenants_dir)),
            sha256=hashlib.sha256(payload).hexdigest(),
            suppressions=sum(
                len(entries) for kinds in data.get("suppressions", {}).values() for entries in kinds.values()
            ),
            exported_at=exported_at,
        )

    def read_export(self, expected: Export | LateExport) -> dict[str, Any]:
        """The export, checked against the digest in the block (``InvalidData`` if it changed)."""
        path = self.tenants_dir / expected.path
        where = str(path)
        try:
            payload = path.read_bytes()
        except FileNotFoundError:
            raise InvalidData(problems=[Problem(where, "", "the migration export is missing")]) from None
        if hashlib.sha256(payload).hexdigest() != expected.sha256:
            raise InvalidData(
                problems=[Problem(where, "", "the migration export changed since it was written (sha256)")]
            )
        data: dict[str, Any] = json.loads(payload)
        return data

    def remove_export(self) -> None:
        with fsutil.locked(self.tenants_dir):
            for path in (self.export_file, self.export_file.with_name(LATE_EXPORT_NAME)):
                if path.exists():
                    fsutil.atomic_remove(path)


def current_owner(now: float) -> Owner:
    return Owner(host=socket.gethostname()[:253] or "localhost", pid=os.getpid(), since=now_iso(now))


class TenantRunLock:
    """An exclusive, non-blocking lock on one tenant for the whole of a run."""

    def __init__(self, tenants_dir: Path, slug: str) -> None:
        self.path = migrations_dir(tenants_dir) / slug / RUN_LOCK_NAME
        self.slug = slug
        self._lock: Any = None

    def acquire(self, owner_hint: str = "") -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        ignore = self.path.parent.parent / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# run locks of `mailfleet migrate`\n*.lock\n")
        lock = FileLock(str(self.path), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise MigrationBusy(
                problems=[
                    Problem(
                        f"tenant {self.slug}",
                        "",
                        f"another mailfleet migrate is running on this tenant{owner_hint}; "
                        "wait for it or, if it died, run `mailfleet migrate resume " + self.slug + "`",
                    )
                ]
            ) from None
        self._lock = lock

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> TenantRunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
