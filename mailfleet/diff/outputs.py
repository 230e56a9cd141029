"""Rendering ``StackChanges`` for reviewers (table, Markdown PR comments) and scripts (JSON).

Markdown protocol (docs/diff.md): one comment per stack that changes (none for a stack without
changes), modelled on octoDNS's Markdown plan: a four-column table (Operation, Record, Change
with old → new on two lines, Why) that fits GitHub's ~900 px comment box, a summary line with
the unchanged count, and, when ``diff --preview`` joins a real preview, its section (rows,
resources not shown, the raw output in ``<details>``). Every comment starts with a hidden
marker ``<!-- <tool>:stack=<stack> part=<i>/<n> -->`` (``tool`` is ``mailfleet-diff`` or
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
from mailfleet.terminal import console, print_table

COMMENT_LIMIT = 60_000
CELL_LIMIT = 4_000
RAW_LIMIT = 20_000  # characters of raw `pulumi preview` output folded into a comment
MANIFEST = "comments.json"
# GFM would read these as markup (emphasis, code, links, table cells): backslash-escape them.
_MD_SPECIAL = re.compile(r"[\\`*_\[\]~|]")
HEADERS = ("Operation", "{group}", "Name", "Type", "TTL", "Where", "Old value", "New value", "Why")
# The PR comment's table: four columns fit GitHub's ~900 px comment box.
MD_HEADERS = ("Operation", "Record", "Change", "Why")
# A run of this many characters without a space (a DKIM key, a long TXT value) gets a <wbr>
# every WBR_EVERY characters: browsers may break the line there, copying keeps the value whole.
_LONG_RUN = re.compile(r"\S{21,}")
WBR_EVERY = 20
_WBR = "\x00"  # stands for <wbr> until the cell is escaped
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass
class Section:
    """A second report on the same stack shown in its comment (the real `pulumi preview`)."""

    title: str
    source: str
    changes: StackChanges
    raw: str | None = None  # the human output of `pulumi preview`, folded in <details>


@dataclass
class Report:
    """What a command shows: its stacks' rows plus where they came from."""

    tool: str  # "mailfleet-diff" or "mailfleet-preview": the marker and the JSON format name
    title: str
    source: str  # one Markdown line saying what was compared
    stacks: list[StackChanges]
    meta: dict[str, Any] = field(default_factory=dict)
    previews: dict[str, Section] = field(default_factory=dict)  # stack -> its preview section

    @property
    def destructive(self) -> bool:
        sections = [*self.stacks, *(p.changes for p in self.previews.values())]
        return any(r.destructive for s in sections for r in s.rows)

    def as_dict(self) -> dict[str, Any]:
        stacks = []
        for s in self.stacks:
            d = s.as_dict()
            if s.stack in self.previews:
                d["preview"] = self.previews[s.stack].changes.as_dict()
            stacks.append(d)
        return {
            "format": f"{self.tool}/1",
            **self.meta,
            "destructive": self.destructive,
            "stacks": stacks,
        }


def marker(tool: str, stack: str, part: int, parts: int) -> str:
    return f"<!-- {tool}:stack={stack} part={part}/{parts} -->"


def _breakable(text: str) -> str:
    """A break opportunity after the punctuation of a long run (``.``, ``/``, ``,``...) and
    inside any piece still longer than ``WBR_EVERY`` (a DKIM key)."""

    def run(m: re.Match[str]) -> str:
        chunks: list[str] = [""]
        for piece in re.split(r"(?<=[.,/;:@=&?-])", m.group(0)):
            while len(piece) > WBR_EVERY:  # no punctuation for a while (a key): cut it
                room = WBR_EVERY - len(chunks[-1]) if len(chunks[-1]) < WBR_EVERY else WBR_EVERY
                if chunks[-1] and room == WBR_EVERY:
                    chunks.append("")
                chunks[-1] += piece[:room]
                piece = piece[room:]
                chunks.append("")
            if chunks[-1] and len(chunks[-1]) + len(piece) > WBR_EVERY:
                chunks.append("")
            chunks[-1] += piece
        return _WBR.join(c for c in chunks if c)

    return _LONG_RUN.sub(run, text)


def _cell(text: str, wbr: bool = False) -> str:
    if len(text) > CELL_LIMIT:
        text = text[: CELL_LIMIT - 15] + "… (truncated)"
    if wbr:
        text = _breakable(text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\g<0>", text).replace("\n", "<br>").replace(_WBR, "<wbr>")


def _operation(row: Change) -> str:
    title = OP_TITLES[row.op]
    if row.destructive:
        return f"⚠️ **{title}**"
    return f"⚠️ {title}" if row.risky else title


def _change(row: Change) -> str:
    """Old → new on two lines per field (as octoDNS's Markdown plan), a create's or delete's value."""
    lines: list[str] = []
    if row.old and row.new and len(row.old) == len(row.new):
        for a, b in zip(row.old, row.new, strict=True):
            lines += [_cell(a, wbr=True), "→ " + _cell(b, wbr=True)]
    else:
        lines += [_cell(v, wbr=True) for v in row.old]
        lines += [("→ " if row.old else "") + _cell(v, wbr=True) for v in row.new]
    if row.ttl_old is not None and row.ttl_new is not None and row.ttl_old != row.ttl_new:
        lines.append(f"TTL {row.ttl_old} → {row.ttl_new}")
    return "<br>".join(lines)


def markdown_row(row: Change) -> str:
    where = " · ".join(x for x in (row.type, row.where, row.group) if x)
    record = f"**{_cell(row.name, wbr=True)}**<br>{_cell(where, wbr=True)}"
    why = "<br>".join(_cell(r, wbr=True) for r in [*row.reasons, *row.risks])
    return f"| {_operation(row)} | {record} | {_change(row)} | {why} |"


TABLE_HEAD = "| " + " | ".join(MD_HEADERS) + " |\n|" + "---|" * len(MD_HEADERS)


def _counts_lines(changes: StackChanges, what: str) -> list[str]:
    out = [f"**Summary:** {changes.summary()}"]
    if changes.unchanged is not None:
        out[0] += f" · Unchanged: {changes.unchanged} {what}"
    if changes.not_shown:
        n = sum(changes.not_shown.values())
        kinds = ", ".join(f"`{t}` ×{c}" for t, c in changes.not_shown.items())
        out += ["", f"{n} resource(s) not shown (neither DNS records nor Mailgun): {kinds}"]
    return out


def _raw_block(raw: str) -> str:
    text = _ANSI.sub("", raw).rstrip("\n")
    if len(text) > RAW_LIMIT:
        text = text[:RAW_LIMIT] + "\n… (cut: the whole output is in the job log)"
    fence = "`" * max(3, max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    return f"<details><summary>pulumi preview output</summary>\n\n{fence}text\n{text}\n{fence}\n\n</details>"


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


def _has_change(changes: StackChanges) -> bool:
    return bool(changes.rows or changes.not_shown)


def stack_comments(report: Report, changes: StackChanges, limit: int = COMMENT_LIMIT) -> list[Comment]:
    """The comments of one stack, each at most ``limit`` characters; none when nothing changes
    (neither the diff nor the preview section has a row or a resource not shown)."""
    region = f" (region {changes.region})" if changes.region else ""
    heading = f"### {report.title}: stack `{changes.stack}`{region}"
    preview = report.previews.get(changes.stack)
    sections: list[tuple[str | None, str, StackChanges, str]] = [
        (
            None,
            report.source,
            changes,
            "existing records and resources" if report.tool == "mailfleet-diff" else "resources",
        )
    ]
    if preview is not None:
        sections.append((preview.title, preview.source, preview.changes, "resources"))
    if not any(_has_change(s[2]) for s in sections):
        return []
    raw = _raw_block(preview.raw) if preview is not None and preview.raw else ""
    # (section index, row line) in order: the rows of every section, split across parts.
    lines = [(i, markdown_row(r)) for i, s in enumerate(sections) for r in s[2].rows]

    def render(part: int, parts: int, chunk: list[tuple[int, str]]) -> str:
        out = [
            marker(report.tool, changes.stack, part, parts),
            heading + (f" — part {part} of {parts}" if parts > 1 else ""),
        ]
        for i, (title, source, ch, what) in enumerate(sections):
            rows = [line for j, line in chunk if j == i]
            if not rows and not (part == 1 and not ch.rows):
                continue
            if title:
                out += ["", f"#### {title}"]
            out += ["", source, "", *_counts_lines(ch, what), ""]
            out += [TABLE_HEAD, *rows] if rows else ["No changes."]
        if part == parts and raw:
            out += ["", raw]
        if part < parts:
            out += ["", f"_Continued in part {part + 1} of {parts}._"]
        return "\n".join(out).rstrip("\n") + "\n"

    # Room left for rows once the fixed text (with the longest marker/footer it may get) is in.
    fixed = len(render(999, 999, [(i, "") for i in range(len(sections))])) + len(raw) + 80
    groups: list[list[tuple[int, str]]] = [[]]
    size = fixed
    for item in lines:
        if groups[-1] and size + len(item[1]) + 1 > limit:
            groups.append([])
            size = fixed
        groups[-1].append(item)
        size += len(item[1]) + 1
    parts = len(groups)
    made = [
        Comment(report.tool, changes.stack, i + 1, parts, render(i + 1, parts, g))
        for i, g in enumerate(groups)
    ]
    for c in made:
        if len(c.body) > limit:
            raise ValueError(f"comment {c.marker} is {len(c.body)} characters, over {limit}")
    return made


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
        # A stack without changes gets no comment; its entry (no part, no file) tells the bot
        # to delete the comments an earlier run posted for it.
        for s in report.stacks:
            if not any(c.stack == s.stack for c in made):
                manifest.append(
                    {
                        "tool": report.tool,
                        "stack": s.stack,
                        "part": 0,
                        "parts": 0,
                        "key": f"{report.tool}:stack={s.stack}",
                        "marker": None,
                        "file": None,
                    }
                )
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
        from rich.text import Text

        con = console(self.stream or sys.stdout)
        for s in report.stacks:
            region = f" (region {s.region})" if s.region else ""
            sections = [(f"{report.title}: stack {s.stack}{region}", s)]
            if s.stack in report.previews:
                p = report.previews[s.stack]
                sections.append((f"{p.title}: stack {s.stack}{region}", p.changes))
            for title, changes in sections:
                con.rule(title)
                if changes.rows:
                    body = []
                    for r in changes.rows:
                        op = OP_TITLES[r.op] + (
                            " (destructive)" if r.destructive else " (risky)" if r.risky else ""
                        )
                        body.append(
                            (
                                op,
                                r.group,
                                r.name,
                                r.type,
                                r.ttl,
                                r.where,
                                *map("\n".join, (r.old, r.new, [*r.reasons, *r.risks])),
                            )
                        )
                    headers = [h.format(group=changes.group_label) for h in HEADERS]
                    styles = ["bold red" if r.destructive else None for r in changes.rows]
                    print_table(con, headers, body, row_styles=styles, show_lines=True)
                else:
                    con.print(Text("No changes."))
                line = f"Summary: {changes.summary()}"
                if changes.unchanged is not None:
                    line += f"; unchanged: {changes.unchanged}"
                con.print(Text(line))
                if changes.not_shown:
                    kinds = ", ".join(f"{t} x{c}" for t, c in changes.not_shown.items())
                    con.print(Text(f"{sum(changes.not_shown.values())} resource(s) not shown: {kinds}"))


OUTPUTS = {"table": ReportTable, "markdown": ReportMarkdown, "json": ReportJson}
