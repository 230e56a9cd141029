"""Choosing the ``StackRunner`` of a run: ``MAILFLEET_STACK_RUNNER``, else the Automation API."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path

from mailfleet.errors import Problem, UsageError
from mailfleet.migrate.pulumi_runner import AutomationRunner, FindCreated
from mailfleet.migrate.runner import StackRunner

RUNNER_ENV = "MAILFLEET_STACK_RUNNER"
RUNNER_METHODS = ("up", "resources", "unprotect", "state_move")


def load_runner(
    spec: str | None, root: Path, tenants_dir: Path, *, find_created: FindCreated | None = None
) -> StackRunner:
    """The runner named by ``spec`` (``module:factory``), else the Automation API runner
    (given ``find_created``: how its recovery tells a pending create that went through).

    ``factory(root=..., tenants_dir=...)`` must return a ``StackRunner``: anything else (a
    factory that is not callable, raises, or returns an object without the runner's methods)
    is one usage line naming ``MAILFLEET_STACK_RUNNER``.
    """
    spec = spec or os.environ.get(RUNNER_ENV)
    if not spec:
        return AutomationRunner(root, tenants_dir, find_created=find_created)
    module_name, _, attr = spec.partition(":")

    def refuse(why: str) -> UsageError:
        return UsageError(problems=[Problem(RUNNER_ENV, "", f"{spec!r} is not a stack runner: {why}")])

    try:
        factory: Callable[..., StackRunner] = getattr(importlib.import_module(module_name), attr or "runner")
    except (ImportError, AttributeError, ValueError) as exc:
        raise refuse(f"cannot load it ({exc})") from None
    if not callable(factory):
        raise refuse(f"{attr or 'runner'} is not callable")
    try:
        runner = factory(root=root, tenants_dir=tenants_dir)
    except Exception as exc:
        raise refuse(f"its factory failed: {type(exc).__name__}: {exc}") from None
    missing = [m for m in RUNNER_METHODS if not callable(getattr(runner, m, None))]
    if missing:
        raise refuse(f"the object it returns ({type(runner).__name__}) has no {', '.join(missing)}")
    return runner
