"""What every command shares: global settings, the application API, output streams.

Only the CLI prints. Data goes to stdout (so ``--format json`` pipes cleanly); problems,
progress and hints go to stderr.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from mailfleet.model.region import Region

if TYPE_CHECKING:
    from mailfleet.manager import Manager


@dataclass
class Settings:
    tenants_dir: Path
    stacks_dir: Path
    verbose: int = 0


def settings(ctx: typer.Context) -> Settings:
    obj = ctx.find_root().obj
    if isinstance(obj, Settings):
        return obj
    root = default_root()
    return Settings(root / "tenants", root)


def default_root() -> Path:
    """The repository root: ``MAILFLEET_ROOT``, else the current directory."""
    return Path(os.environ.get("MAILFLEET_ROOT", "."))


class TableJson(StrEnum):
    table = "table"
    json = "json"


class TableMarkdownJson(StrEnum):
    table = "table"
    markdown = "markdown"
    json = "json"


RegionOption = Region  # Typer reads the Literal: `--region [eu|us]`


HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}


def command_app(name: str, fn: Callable[..., None]) -> typer.Typer:
    """A one-command Typer app: what a ``*_cmd`` module exposes as ``app`` (``cli.app`` loads
    it only when the command runs)."""
    one = typer.Typer(rich_markup_mode=None, context_settings=HELP_OPTIONS, add_completion=False)
    one.command(name)(fn)
    return one


def manager(ctx: typer.Context) -> Manager:
    """The application API over the checkout the global options name.

    Imported here, not at the top: the root command imports this module, and ``mailfleet
    --help`` must not load pydantic and the model (about 100 ms)."""
    from mailfleet.manager import Manager

    s = settings(ctx)
    return Manager(s.tenants_dir, s.stacks_dir)


def stack_option(value: str | None) -> str | None:
    """``--stack``: a stack name, or ``all`` (and nothing) for every stack."""
    return None if value in (None, "all") else value


def out(text: str = "") -> None:
    sys.stdout.write(text + ("\n" if not text.endswith("\n") else ""))


def err(text: str) -> None:
    sys.stderr.write(text + "\n")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def format_table(header: tuple[str, ...], rows: list[tuple[str, ...]], indent: str = "") -> list[str]:
    """Plain fixed-width columns (stable for any terminal width); the last column is not padded."""
    all_rows = [header, *rows]
    widths = [max(len(r[i]) for r in all_rows) for i in range(len(header) - 1)]
    lines = []
    for r in all_rows:
        cells = [c.ljust(w) for c, w in zip(r, widths, strict=False)] + [r[-1]]
        lines.append((indent + "  ".join(cells)).rstrip())
    return lines


def configure_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
