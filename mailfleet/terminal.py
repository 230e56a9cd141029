"""A Rich console on a given stream: the one place output code gets a terminal from.

Output classes are handed a stream and never pick stdout themselves; the table outputs wrap it
here. Not a terminal (a pipe, a file): plain text, no colour, 200 columns, so tables are not
cut to 80 columns in CI logs.
"""

from __future__ import annotations

from typing import IO, Any


def console(stream: IO[str]) -> Any:
    """A ``rich.console.Console`` writing to ``stream`` (rich is imported here, lazily: it costs
    about 40 ms and only table output needs it)."""
    from rich.console import Console

    tty = stream.isatty()
    return Console(file=stream, highlight=False, soft_wrap=False, width=None if tty else 200)
