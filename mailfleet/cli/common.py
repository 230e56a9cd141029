"""What every command shares: global settings, output streams and the project loader.

Only the CLI prints. Data goes to stdout (so ``--format json`` pipes cleanly); problems,
progress and hints go to stderr.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from enum import Enum, StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from mailfleet.project import Project


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


class StackChoice(StrEnum):
    eu = "eu"
    us = "us"
    all = "all"


class RegionChoice(StrEnum):
    eu = "eu"
    us = "us"


def stack_names(choice: StackChoice | str | None) -> list[str] | None:
    """``all`` (or nothing) means every stack file found."""
    value = choice.value if isinstance(choice, Enum) else choice
    if value in (None, "all"):
        return None
    return [str(value)]


def load_project(ctx: typer.Context, stack: StackChoice | str | None = None) -> Project:
    from mailfleet.project import Project

    s = settings(ctx)
    return Project.load(s.tenants_dir, s.stacks_dir, stack_names(stack))


def out(text: str = "") -> None:
    sys.stdout.write(text + ("\n" if not text.endswith("\n") else ""))


def err(text: str) -> None:
    sys.stderr.write(text + "\n")


def print_json(data: Any) -> None:
    import json

    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def console(stderr: bool = False) -> Any:
    """A rich Console (imported lazily); plain output when not a terminal."""
    from rich.console import Console

    return Console(
        stderr=stderr, highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 200
    )


def configure_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
