"""The Pulumi program of a mailfleet region stack (``pulumi up -s eu`` / ``pulumi up -s us``).

Non-secret settings come from ``Pulumi.<stack>.yaml`` through the same loader as
``mailfleet plan`` (so the plan and the program cannot disagree); secrets come from Pulumi's
secret config (see components/secrets.py). ``MAILFLEET_ROOT`` overrides the directory
holding ``tenants/`` and the stack files (default: this file's directory).
"""

from __future__ import annotations

import os
from pathlib import Path

import pulumi

from components.program import declare_stack
from mailfleet.errors import MailfleetError
from mailfleet.project import Project


def main() -> None:
    root = Path(os.environ.get("MAILFLEET_ROOT") or Path(__file__).resolve().parent)
    stack = pulumi.get_stack()
    try:
        project = Project.load_for_stack(root / "tenants", root, stack)
    except MailfleetError as exc:
        # RunError: Pulumi prints the message alone, without a traceback.
        lines = exc.lines()
        raise pulumi.RunError(
            f"mailfleet: {len(lines)} problem(s) in the tenant/stack files: " + "; ".join(lines)
        ) from None
    declare_stack(project.stacks[stack], project.states[stack])


main()
