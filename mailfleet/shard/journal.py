"""The shard-move journal: the ``shard_move:`` block and the ``stack:`` line of a tenant file.

Contract (as ``mailfleet.migrate.journal``): every write holds the tenants directory lock and
replaces the file atomically; the new text is validated as a tenant before it is written; only
the ``shard_move:`` block and the ``stack:`` line change, every other byte (comments included)
stays as it was.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from mailfleet import fsutil
from mailfleet.errors import InvalidData, Problem
from mailfleet.loader import parse_yaml
from mailfleet.model.load import load_tenant_file, tenant_from_data
from mailfleet.model.migration import StepRecord, now_iso
from mailfleet.model.shard_move import ShardMove
from mailfleet.model.tenant import Tenant

BLOCK_KEY = "shard_move:"
BLOCK_HEADER = "# Written by `mailfleet shard move` (its journal); do not edit by hand."


def split_block(text: str) -> tuple[str, str | None, str]:
    """``(before, block, after)`` around the top-level ``shard_move:`` block."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith(BLOCK_KEY)), None)
    if start is None:
        return text, None, ""
    begin = start - 1 if start > 0 and lines[start - 1].rstrip("\n") == BLOCK_HEADER else start
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t"):
        end += 1
    return "".join(lines[:begin]), "".join(lines[begin:end]), "".join(lines[end:])


def with_stack(text: str, stack: str) -> str:
    """``text`` with its top-level ``stack:`` line set (added after ``region:`` when absent)."""
    new, n = re.subn(r"(?m)^stack:[^\n]*$", f"stack: {stack}", text, count=1)
    if n == 1:
        return new
    new, n = re.subn(r"(?m)^(region:[^\n]*)$", rf"\1\nstack: {stack}", text, count=1)
    if n != 1:
        raise InvalidData(problems=[Problem("tenant file", "region", "no top-level region: line")])
    return new


def render_block(move: ShardMove) -> str:
    data = move.model_dump(mode="json", by_alias=True, exclude_none=True)
    body = yaml.dump({"shard_move": data}, Dumper=yaml.SafeDumper, sort_keys=False, default_flow_style=False)
    return f"{BLOCK_HEADER}\n{body}"


class ShardJournal:
    """Reads and writes one tenant's ``shard_move`` block and ``stack`` line."""

    def __init__(self, tenants_dir: Path, slug: str) -> None:
        self.tenants_dir = Path(tenants_dir)
        self.slug = slug
        self.path = self.tenants_dir / f"{slug}.yaml"

    def load(self) -> Tenant:
        tenant, problems = load_tenant_file(self.path)
        if problems or tenant is None:
            raise InvalidData(problems=problems)
        return tenant

    def write(self, move: ShardMove | None, stack: str | None = None) -> Tenant:
        """Replace the block (None removes it) and optionally set ``stack:``; validated, atomic."""
        with fsutil.locked(self.tenants_dir):
            text = self.path.read_text(encoding="utf-8")
            before, _, after = split_block(text)
            rest = before + after
            if stack is not None:
                rest = with_stack(rest, stack)
            if move is not None:
                if rest and not rest.endswith("\n"):
                    rest += "\n"
                rest += render_block(move)
            data: Any = parse_yaml(rest.encode("utf-8"))
            tenant, problems = tenant_from_data(str(self.path), data, self.slug)
            if problems or tenant is None:
                raise InvalidData(problems=problems)
            if rest != text:
                fsutil.atomic_write(self.path, rest.encode("utf-8"))
            return tenant

    def begin(self, source: str, target: str) -> ShardMove:
        move = ShardMove.model_validate({"from": source, "to": target, "started_at": now_iso()})
        self.write(move)
        return move

    def step(self, move: ShardMove, name: str, *, done: bool) -> ShardMove:
        record = move.steps.get(name) or StepRecord(started_at=now_iso())
        if done:
            record = record.model_copy(update={"done_at": now_iso()})
        move = move.model_copy(update={"steps": {**move.steps, name: record}})
        self.write(move)
        return move

    def finish(self, move: ShardMove) -> Tenant:
        """The move's last write: ``stack:`` is the target, the block is gone."""
        return self.write(None, stack=move.to)
