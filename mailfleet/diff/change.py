"""One row of a diff or preview report: what happens to one resource, and why it is dangerous.

A ``Change`` is source-neutral: ``compare`` makes them from two desired states, ``preview``
from a ``pulumi preview --json`` digest, and every output renders either. ``old``/``new`` hold
display lines (TXT values joined into one logical string, secrets as ``[secret]``); for an
update or replace they hold only the fields that differ, side by side.

An ``import`` row is an item that already exists outside Pulumi and that the stack takes over
(the ``import`` resource option, ``import_id``) instead of creating it: nothing is created,
nothing deleted. A ``release`` row is an adopted item the stack stops declaring: it leaves
Pulumi's state without being deleted (``retain_on_delete``), given back as it is. The summary
counts imports and releases only for a stack that has some, so reports without adoption keep
their shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CREATE = "create"
UPDATE = "update"
REPLACE = "replace"
DELETE = "delete"
IMPORT = "import"
RELEASE = "release"
OPS = (CREATE, UPDATE, REPLACE, DELETE, IMPORT, RELEASE)
OPTIONAL_OPS = (IMPORT, RELEASE)  # counted only in a stack that has such rows
OP_TITLES = {
    CREATE: "Create",
    UPDATE: "Update",
    REPLACE: "Replace",
    DELETE: "Delete",
    IMPORT: "Import",
    RELEASE: "Release",
}
# Order of rows inside a stack: destructive first, then deletes, replaces, updates, creates,
# imports, releases.
OP_ORDER = {DELETE: 0, REPLACE: 1, UPDATE: 2, CREATE: 3, IMPORT: 4, RELEASE: 5}
KIND_ORDER = {"mailgun domain": 0, "route": 1, "webhook": 2, "credential": 3, "dns": 4, "outbound": 5}


@dataclass
class Change:
    """One created, imported, updated, replaced or deleted resource in one stack."""

    stack: str
    group: str  # the tenant slug (diff) or the resource's Pulumi name (preview)
    op: str
    kind: str  # mailgun domain | route | webhook | credential | dns | outbound
    key: str
    name: str
    type: str
    where: str
    ttl_old: int | None = None
    ttl_new: int | None = None
    old: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    fields: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    import_id: str | None = None  # an ``import`` row: the id Pulumi imports the resource by
    # Why a row is risky without being destructive: mail already sent or a mailbox breaks, or a
    # customer must act. Shown like the reasons; never fails ``--fail-on destructive``.
    risks: list[str] = field(default_factory=list)

    @property
    def destructive(self) -> bool:
        return bool(self.reasons)

    @property
    def risky(self) -> bool:
        return bool(self.risks)

    @property
    def ttl(self) -> str:
        if self.ttl_old is not None and self.ttl_new is not None and self.ttl_old != self.ttl_new:
            return f"{self.ttl_old} → {self.ttl_new}"
        value = self.ttl_new if self.ttl_new is not None else self.ttl_old
        return "" if value is None else str(value)

    def sort_key(self) -> tuple[Any, ...]:
        return (
            not self.destructive,
            self.group,
            OP_ORDER[self.op],
            KIND_ORDER.get(self.kind, 9),
            self.name,
            self.type,
            self.key,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "group": self.group,
            "op": self.op,
            "kind": self.kind,
            "key": self.key,
            "name": self.name,
            "type": self.type,
            "where": self.where,
            "ttl": {"old": self.ttl_old, "new": self.ttl_new},
            "old": self.old,
            "new": self.new,
            "fields": self.fields,
            "destructive": self.destructive,
            "reasons": self.reasons,
            "import_id": self.import_id,
            "risky": self.risky,
            "risks": self.risks,
        }


@dataclass
class StackChanges:
    """The rows of one stack, sorted (destructive first), with the counts of the summary line."""

    stack: str
    region: str | None
    rows: list[Change] = field(default_factory=list)
    group_label: str = "Tenant"
    # Items (diff: desired-state records and resources; preview: resources) that exist and do
    # not change; None when the source cannot tell.
    unchanged: int | None = None
    # Resources that change but that the report does not show, per type (preview: SSM
    # parameters, components, providers...), so its counts add up to Pulumi's.
    not_shown: dict[str, int] = field(default_factory=dict)

    def sort(self) -> None:
        self.rows.sort(key=Change.sort_key)

    def counts(self) -> dict[str, int]:
        """Rows per op and destructive rows; ``import``/``release`` only when the stack has some."""
        n = {op: 0 for op in OPS}
        for row in self.rows:
            n[row.op] += 1
        for op in OPTIONAL_OPS:
            if not n[op]:
                del n[op]
        n["destructive"] = sum(1 for r in self.rows if r.destructive)
        risky = sum(1 for r in self.rows if r.risky)
        if risky:
            n["risky"] = risky
        return n

    def summary(self) -> str:
        n = self.counts()
        imports = f"Imports={n[IMPORT]}, " if IMPORT in n else ""
        releases = f"Releases={n[RELEASE]}, " if RELEASE in n else ""
        risky = f", Risky={n['risky']}" if "risky" in n else ""
        return (
            f"Creates={n[CREATE]}, {imports}Updates={n[UPDATE]}, Replaces={n[REPLACE]}, Deletes={n[DELETE]}, "
            f"{releases}Destructive={n['destructive']}{risky}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "region": self.region,
            "summary": self.counts(),
            "unchanged": self.unchanged,
            "not_shown": self.not_shown,
            "rows": [r.as_dict() for r in self.rows],
        }
