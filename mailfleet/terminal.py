"""A Rich console on a given stream, and tables that fit it: the one place output code gets a
terminal from.

Output classes are handed a stream and never pick stdout themselves; the table outputs wrap it
here. Width: ``$COLUMNS`` when set (also when piped: ``COLUMNS=100 mailfleet plan | less``),
else the terminal's width, else (a pipe, a file) 200 columns, so tables are not cut to 80
columns in CI logs. Not a terminal: plain text, no colour.

Below ``STACK_BELOW`` columns a table with many columns would fold its cells mid-word
(``nordlys-rei`` / ``ser.no``); ``print_table`` then prints each row stacked instead: its first
cell as a heading, then one ``Header: value`` line per other non-empty cell, never cut.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any

STACK_BELOW = 120  # columns


def width(stream: IO[str]) -> int | None:
    """``$COLUMNS`` if it is a positive number; else None for a terminal (its own width), 200."""
    cols = os.environ.get("COLUMNS", "")
    if cols.isdigit() and int(cols) > 0:
        return int(cols)
    return None if stream.isatty() else 200


def console(stream: IO[str]) -> Any:
    """A ``rich.console.Console`` writing to ``stream`` (rich is imported here, lazily: it costs
    about 40 ms and only table output needs it)."""
    from rich.console import Console

    return Console(file=stream, highlight=False, soft_wrap=False, width=width(stream))


def print_table(
    con: Any,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    row_styles: Sequence[str | None] | None = None,
    show_lines: bool = False,
) -> None:
    """``rows`` as a table on ``con``, or stacked when ``con`` is narrower than ``STACK_BELOW``
    (each value wraps inside its own column, indented under its label).

    Cells are plain text (never Rich markup); ``row_styles`` styles whole rows (table) or their
    heading (stacked)."""
    from rich.table import Table
    from rich.text import Text

    rows = [list(r) for r in rows]
    styles = list(row_styles) if row_styles is not None else [None] * len(rows)
    if con.width >= STACK_BELOW:
        table = Table(
            title=Text(title) if title else None, title_justify="left", expand=False, show_lines=show_lines
        )
        for h in headers:
            table.add_column(h, overflow="fold")
        for row, style in zip(rows, styles, strict=True):
            table.add_row(*(Text(c) for c in row), style=style)
        con.print(table)
        return
    if title:
        con.print(Text(title, style="bold"))
    for row, style in zip(rows, styles, strict=True):
        con.print(Text(f"{headers[0]}: {row[0]}", style=style or "bold"))
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)  # "  Header:"
        grid.add_column(overflow="fold")  # the value, wrapped inside its column
        for h, cell in zip(headers[1:], row[1:], strict=True):
            if cell:
                grid.add_row(Text(f"  {h}:"), Text(cell))
        con.print(grid)
        con.print(Text(""))


class Ticker:
    """What a command tells its progress line: ``advance()`` one item done, ``update()`` a new
    label or total. The no-op one (stderr not a terminal) ignores both."""

    def __init__(self, bar: Any = None, task: Any = None) -> None:
        self._bar = bar
        self._task = task

    @property
    def live(self) -> bool:
        """True when a progress line is drawn (stderr is a terminal)."""
        return self._bar is not None

    def advance(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, n)

    def update(
        self, label: str | None = None, *, completed: int | None = None, total: int | None = None
    ) -> None:
        if self._bar is None:
            return
        fields: dict[str, Any] = {}
        if label is not None:
            fields["description"] = label
        if completed is not None:
            fields["completed"] = completed
        if total is not None:
            fields["total"] = total
        self._bar.update(self._task, **fields)


@contextmanager
def progress(label: str, total: int | None = None) -> Iterator[Ticker]:
    """A progress line on stderr while the block runs, only when stderr is a terminal: it shows
    at once (spinner, ``label``, done of ``total`` when known, elapsed time), so a run waiting on
    the network never looks hung, and is erased when the block ends. Not a terminal (CI, a pipe,
    a file): nothing is written and the ticker does nothing. stdout is never touched."""
    if not sys.stderr.isatty():
        yield Ticker()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with bar:
        yield Ticker(bar, bar.add_task(label, total=total))
