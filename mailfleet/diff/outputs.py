"""Rendering ``StackChanges`` for reviewers (table, Markdown PR comments) and scripts (JSON).

Markdown protocol (docs/diff.md): one comment per stack, modelled on octoDNS's Markdown plan
(Operation, Name, Type, TTL, Value columns and a summary line). Every comment starts with a
hidden marker ``<!-- <tool>:stack=<stack> part=<i>/<n> -->`` (``tool`` is ``mailfleet-diff`` or
``mailfleet-preview``), so a bot finds and updates its own comments. A stack whose comment
would pass ``COMMENT_LIMIT`` characters is split at row boundaries into several parts; every
part repeats the heading, the summary line and the table header, so each stands alone.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from mailfleet.diff.change import OP_TITLES, Change, StackChanges
from mailfleet.fsutil import locked
from mailfleet.terminal import console

COMMENT_LIMIT = 60_000
CELL_LIMIT = 4_000
MANIFEST = "comments.json"
# GFM would read these as markup (emphasis, code, links, table cells): backslash-escape them.
_MD_SPECIAL = re.compile(r"[\\`*_\[\]~|]")
HEADERS = ("Operation", "{group}", "Name", "Type", "TTL", "Where", "Old value", "New value", "Why")


@dataclass
class Report:
    """What a command shows: its stacks' rows plus where they came from."""

    tool: str  # "mailfleet-diff" or "mailfleet-preview": the marker and the JSON format name
    title: str
    source: str  # one Markdown line saying what was compared
    stacks: list[StackChanges]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def destructive(self) -> bool:
        return any(r.destructive for s in self.stacks for r in s.rows)

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": f"{self.tool}/1",
            **self.meta,
            "destructive": self.destructive,
            "stacks": [s.as_dict() for s in self.stacks],
        }


def marker(tool: str, stack: str, part: int, parts: int) -> str:
    return f"<!-- {tool}:stack={stack} part={part}/{parts} -->"


def _cell(text: str) -> str:
    if len(text) > CELL_LIMIT:
        text = text[: CELL_LIMIT - 15] + "… (truncated)"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\g<0>", text).replace("\n", "<br>")


def _operation(row: Change) -> str:
    title = OP_TITLES[row.op]
    return f"⚠️ **{title}**" if row.destructive else title


def markdown_row(row: Change) -> str:
    cells = [
        row.group,
        row.name,
        row.type,
        row.ttl,
        row.where,
        "\n".join(row.old),
        "\n".join(row.new),
        "\n".join(row.reasons),
    ]
    return "| " + " | ".join([_operation(row), *(_cell(c) for c in cells)]) + " |"


@dataclass
class Comment:
    """One Markdown comment: a part of one stack's report."""

    tool: str
    stack: str
    part: int
    parts: int
    body: str

    @property
    def marker(self) -> str:
        return marker(self.tool, self.stack, self.part, self.parts)

    @property
    def file_name(self) -> str:
        return f"{self.tool}-{self.stack}-{self.part}.md"

    def manifest_entry(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "stack": self.stack,
            "part": self.part,
            "parts": self.parts,
            "key": f"{self.tool}:stack={self.stack}",
            "marker": self.marker,
            "file": self.file_name,
        }


def stack_comments(report: Report, changes: StackChanges, limit: int = COMMENT_LIMIT) -> list[Comment]:
    """The comments of one stack, each at most ``limit`` characters."""
    region = f" (region {changes.region})" if changes.region else ""
    heading = f"### {report.title}: stack `{changes.stack}`{region}"
    headers = [h.format(group=changes.group_label) for h in HEADERS]
    table_head = "| " + " | ".join(headers) + " |\n|" + "---|" * len(headers)
    summary = f"**Summary:** {changes.summary()}"
    lines = [markdown_row(r) for r in changes.rows]

    def render(part: int, parts: int, rows: list[str]) -> str:
        out = [marker(report.tool, changes.stack, part, parts), heading, "", report.source, "", summary, ""]
        if parts > 1:
            out[1] += f" — part {part} of {parts}"
        if rows:
            out += [table_head, *rows, ""]
        else:
            out += ["No changes.", ""]
        if part < parts:
            out.append(f"_Continued in part {part + 1} of {parts}._")
        return "\n".join(out).rstrip("\n") + "\n"

    # Room left for rows once the fixed text (with the longest marker/footer it may get) is in.
    fixed = len(render(999, 999, [])) + len(table_head) + 40
    groups: list[list[str]] = [[]]
    size = fixed
    for line in lines:
        if groups[-1] and size + len(line) + 1 > limit:
            groups.append([])
            size = fixed
        groups[-1].append(line)
        size += len(line) + 1
    parts = len(groups)
    comments = [
        Comment(report.tool, changes.stack, i + 1, parts, render(i + 1, parts, g))
        for i, g in enumerate(groups)
    ]
    for c in comments:
        if len(c.body) > limit:
            raise ValueError(f"comment {c.marker} is {len(c.body)} characters, over {limit}")
    return comments


def comments(report: Report, limit: int = COMMENT_LIMIT) -> list[Comment]:
    return [c for s in report.stacks for c in stack_comments(report, s, limit)]


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_comments(report: Report, directory: Path, limit: int = COMMENT_LIMIT) -> list[Comment]:
    """One file per comment plus ``comments.json`` (the manifest a bot reads), each atomic.

    Earlier part files of the same tool and stacks are removed so the directory always
    matches the manifest. Writers of the directory take its ``fsutil.locked`` lock, waiting
    as long as it takes.
    """
    made = comments(report, limit)
    directory.mkdir(parents=True, exist_ok=True)
    with locked(directory, timeout=-1):
        keep = {c.file_name for c in made}
        for s in report.stacks:
            for old in directory.glob(f"{report.tool}-{s.stack}-*.md"):
                if old.name not in keep:
                    old.unlink()
        for c in made:
            _write_atomic(directory / c.file_name, c.body.encode())
        manifest = [c.manifest_entry() for c in made]
        _write_atomic(directory / MANIFEST, orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")
    return made


class ReportMarkdown:
    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream

    def run(self, report: Report) -> None:
        stream = self.stream or sys.stdout
        stream.write("\n".join(c.body for c in comments(report)))
        stream.flush()


class ReportJson:
    def __init__(self, stream: IO[bytes] | None = None) -> None:
        self.stream = stream

    def run(self, report: Report) -> None:
        stream = self.stream or sys.stdout.buffer
        stream.write(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2))
        stream.write(b"\n")
        stream.flush()


class ReportTable:
    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream

    def run(self, report: Report) -> None:
        # rich (about 15 ms) only for this output: Markdown and JSON, what CI asks for, skip it.
        from rich.table import Table
        from rich.text import Text

        con = console(self.stream or sys.stdout)
        for s in report.stacks:
            region = f" (region {s.region})" if s.region else ""
            con.rule(f"{report.title}: stack {s.stack}{region}")
            if s.rows:
                table = Table(expand=False, show_lines=True)
                for h in HEADERS:
                    table.add_column(h.format(group=s.group_label), overflow="fold")
                for r in s.rows:
                    op = OP_TITLES[r.op] + (" (destructive)" if r.destructive else "")
                    cells = (
                        op,
                        r.group,
                        r.name,
                        r.type,
                        r.ttl,
                        r.where,
                        *map("\n".join, (r.old, r.new, r.reasons)),
                    )
                    table.add_row(*(Text(c) for c in cells), style="bold red" if r.destructive else None)
                con.print(table)
            else:
                con.print(Text("No changes."))
            con.print(Text(f"Summary: {s.summary()}"))


OUTPUTS = {"table": ReportTable, "markdown": ReportMarkdown, "json": ReportJson}
