"""Rendering rows: cell escaping, truncation of huge cells, splitting at the comment limit."""

from __future__ import annotations

import re

from mailfleet.diff.change import Change, StackChanges
from mailfleet.diff.outputs import CELL_LIMIT, COMMENT_LIMIT, Report, markdown_row, stack_comments


def change(i: int, value: str, destructive: bool = False) -> Change:
    row = Change(
        "eu", f"t{i:04d}", "update", "dns", f"dns:n{i}:TXT", f"n{i}.example.eu", "TXT", "route53 our zone"
    )
    row.old, row.new = [value], [value + "!"]
    if destructive:
        row.reasons.append("because")
    return row


def report(rows: list[Change]) -> Report:
    s = StackChanges("eu", "eu", rows)
    s.sort()
    return Report("mailfleet-diff", "mailfleet diff", "source line", [s])


def test_cells_are_escaped_so_values_render_as_written() -> None:
    line = markdown_row(change(1, "a|b *c* _d_ `e` [f](g) <!-- h --> \\i & ~j~\nk"))
    cells = line.split(" | ")
    escaped = "a\\|b \\*c\\* \\_d\\_ \\`e\\` \\[f\\](g) &lt;!-- h --&gt; \\\\i &amp; \\~j\\~<br>k"
    # The Change column: old, then → new, on two lines.
    assert cells[2] == f"{escaped}<br>→ {escaped}!"
    assert "<!--" not in line  # a value can never open a hidden HTML comment


def test_huge_cells_are_cut_and_every_part_fits() -> None:
    rows = [change(i, "x" * 50_000, destructive=i % 7 == 0) for i in range(12)]
    comments = stack_comments(report(rows), report(rows).stacks[0])
    assert len(comments) >= 2
    seen = []
    for c in comments:
        assert len(c.body) <= COMMENT_LIMIT
        seen += [line for line in c.body.splitlines() if line.startswith("| ") and "Operation" not in line]
    assert len(seen) == 12
    assert all("… (truncated)" in line and len(line) < 3 * CELL_LIMIT for line in seen)
    # Destructive rows come first, across parts.
    flags = [line.startswith("| ⚠️") for line in seen]
    assert flags == sorted(flags, reverse=True) and sum(flags) == 2


def test_parts_split_exactly_at_the_limit_passed() -> None:
    rows = [change(i, "v" * 300) for i in range(100)]
    r = report(rows)
    for limit in (5_000, 12_345, COMMENT_LIMIT):
        comments = stack_comments(r, r.stacks[0], limit)
        n = len(comments)
        assert all(len(c.body) <= limit for c in comments)
        assert [
            re.match(r"<!-- mailfleet-diff:stack=eu part=(\d+)/(\d+) -->", c.body).groups() for c in comments
        ] == [(str(i), str(n)) for i in range(1, n + 1)]
        parts = [[line for line in c.body.splitlines() if line.startswith("| Update |")] for c in comments]
        assert sum(len(p) for p in parts) == 100 and all(parts)
        # Greedy packing: the next part's first row would not have fitted in this part.
        for body, following in zip([c.body for c in comments], parts[1:], strict=False):
            assert len(body) + len(following[0]) + 1 > limit - 200
    assert len(stack_comments(r, r.stacks[0], 5_000)) > len(stack_comments(r, r.stacks[0], 12_345))
