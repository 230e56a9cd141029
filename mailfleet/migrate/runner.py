"""``StackRunner``: the interface every Pulumi operation of a migration goes through.

The migration engine never talks to Pulumi directly. It asks a runner to bring a stack up to
date with the checkout (``up``: the program reads the tenant files, whose migration blocks say
what each stack declares), to list what a stack holds (``resources``), to clear ``protect`` on
resources it is about to let go (``unprotect``) and to move resources between stacks without
touching the real things (``state_move``, as ``pulumi state move`` does).

Implementations:
- ``mailfleet.migrate.pulumi_runner.AutomationRunner``: the ``pulumi`` CLI on real stacks
  (any backend, passphrase from ``PULUMI_CONFIG_PASSPHRASE``);
- ``tests/migrate/mock_runner.py``: the engine stand-in: the real program under
  ``pulumi.runtime.set_mocks``, diffed against a checkpoint re-read at every operation, with a
  backend lock, pending operations and Mailgun resources mirrored into the fake.

``mailfleet.migrate.runners.load_runner(spec)`` builds one from ``module:factory``
(``MAILFLEET_STACK_RUNNER``), the plug-in point for other backends and for tests that run the
real CLI.

Contract for implementations:
- ``up`` is idempotent: with nothing changed it changes nothing; it raises ``RunnerError``
  (message without secrets) when any resource operation fails, after recording what did succeed;
  ``up(stack, tenants=[...])`` touches only those tenants' resources (``--target``), so that
  tenants of one stack advance independently (``mailfleet.migrate.engine``);
- ``state_move`` moves only the given URNs still present in ``src`` (and their children) and
  returns the URNs it moved; moving URNs already moved is a no-op (so a resumed step is safe);
- ``unprotect`` is idempotent and ignores URNs that are not in the stack.
- A stack an interrupted update left behind makes an operation raise ``StackBlocked`` (a
  ``RunnerError``): ``reason`` ``"locked"`` (the backend's lock is held; ``holders`` says by whom
  and whether that process is known to be dead) or ``"pending"`` (the checkpoint holds
  ``pending_operations``). Its message is one line naming the stack and the command to run.
- Optional: ``recover(stack)`` repairs such a stack the documented way (``pulumi cancel`` when
  the lock's holder is dead, then ``pulumi refresh --clear-pending-creates``, importing the
  pending creates the runner can prove went through) and returns the commands it ran. A
  runner that has it also takes ``up(stack, recover=True)`` (recover once, then retry).
  ``mailfleet migrate resume`` uses it (``can_recover``); ``migrate run`` and ``abort`` never do.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from mailfleet.desired import naming
from mailfleet.errors import MailfleetError


class RunnerError(MailfleetError):
    """A Pulumi operation failed; the message names the stack and never a secret."""


# What ``pulumi up`` prints for each kind of pending operation (pkg/resource/deploy).
PENDING_KINDS = {
    "creating": "interrupted while creating",
    "updating": "interrupted while updating",
    "deleting": "interrupted while deleting",
    "reading": "interrupted while reading",
    "importing": "interrupted while importing",
}


@dataclass(frozen=True, slots=True)
class LockHolder:
    """Who holds a stack's lock, as the backend reports it. ``dead``: the process is known to
    be gone (same host, no such pid); ``None`` when that cannot be known (another host, or a
    backend that does not say, like Pulumi Cloud's "409 Conflict")."""

    user: str = ""
    host: str = ""
    pid: int | None = None
    since: str = ""
    dead: bool | None = None

    def __str__(self) -> str:
        who = f"{self.user}@{self.host} pid {self.pid}" if self.pid is not None else "an unnamed update"
        state = {True: ", dead", False: ", running", None: ""}[self.dead]
        return f"{who} since {self.since or '?'}{state}"


class StackBlocked(RunnerError):
    """An interrupted update left ``stack`` locked or with pending operations (see the module
    docstring); ``recover`` on the runner is the way out."""

    def __init__(
        self,
        stack: str,
        reason: Literal["locked", "pending"],
        message: str,
        *,
        holders: Iterable[LockHolder] = (),
        pending: Iterable[dict[str, Any]] = (),
    ) -> None:
        self.stack = stack
        self.reason = reason
        self.holders = tuple(holders)
        self.pending = tuple(pending)
        super().__init__(message)

    @property
    def holder_dead(self) -> bool:
        """Every holder of the lock is known to be dead: ``pulumi cancel`` harms no live update."""
        return bool(self.holders) and all(h.dead for h in self.holders)


def process_alive(host: str, pid: int) -> bool | None:
    """Whether process ``pid`` on ``host`` runs; ``None`` for another host (cannot tell)."""
    if host != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def locked_error(stack: str, backend_text: str, holders: Iterable[LockHolder]) -> StackBlocked:
    """``StackBlocked`` for a held lock: the backend's sentence, who holds it, what to run."""
    held = list(holders)
    who = "; ".join(str(h) for h in held) or "the backend does not say by whom"
    return StackBlocked(
        stack,
        "locked",
        f"stack {stack!r}: {backend_text} ({who}); if no update is running on it, run "
        f"`pulumi cancel -s {stack}` (`mailfleet migrate resume` does it when the holder died on this host)",
        holders=held,
    )


def pending_error(stack: str, pending: Iterable[dict[str, Any]]) -> StackBlocked:
    """``StackBlocked`` for ``pending_operations`` (Pulumi's checkpoint field) left by a kill."""
    ops = list(pending)
    described = [
        f"{(op.get('resource') or {}).get('urn', '?').rsplit('::', 1)[-1]} "
        f"{PENDING_KINDS.get(str(op.get('type')), 'interrupted')}"
        for op in ops
    ]
    if len(described) > 3:
        described = [*described[:3], f"{len(described) - 3} more"]
    return StackBlocked(
        stack,
        "pending",
        f"stack {stack!r} has {len(ops)} pending operation(s) from an interrupted (or still running) update "
        f"({', '.join(described)}): check them with the provider, then run `pulumi refresh -s {stack} "
        "--clear-pending-creates` (with `--import-pending-creates URN ID` for a create that went "
        "through), or `mailfleet migrate resume`",
        pending=ops,
    )


@dataclass(frozen=True, slots=True)
class StackResource:
    """One resource a stack holds: URN, type token, logical name, inputs and outputs."""

    urn: str
    type: str
    name: str
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    protect: bool = False
    parent: str = ""


@dataclass(frozen=True, slots=True)
class UpResult:
    """What one ``up`` did, by operation (``create``/``update``/``replace``/``delete``) -> URNs."""

    stack: str
    changes: dict[str, list[str]] = field(default_factory=dict)

    def count(self, op: str) -> int:
        return len(self.changes.get(op, []))


class StackRunner(Protocol):
    def up(self, stack: str, *, tenants: Sequence[str] | None = None) -> UpResult:
        """Run the program of ``stack`` against the checkout's files and apply the changes.

        ``tenants`` (slugs): a *targeted* up that creates, updates and deletes only those
        tenants' resources (Pulumi: ``--target`` each tenant's ``TenantMail`` component URN,
        ``--target-dependents`` for its children); every other resource of the stack stays as
        the checkpoint has it, changed or not. ``None``: the whole stack."""
        ...

    def resources(self, stack: str) -> list[StackResource]:
        """Every resource ``stack`` holds now (providers and the root stack excluded)."""
        ...

    def unprotect(self, stack: str, urns: list[str]) -> None:
        """Clear ``protect`` on ``urns`` (those present) so the next ``up`` may delete them."""
        ...

    def state_move(self, src: str, dst: str, urns: list[str]) -> list[str]:
        """Move ``urns`` still in ``src`` (and their children) to ``dst``; returns those moved."""
        ...


class RecoveringRunner(StackRunner, Protocol):
    """A ``StackRunner`` with the optional ``recover`` (see the module docstring)."""

    def recover(self, stack: str) -> list[str]:
        """Clear what a dead update left on ``stack``; returns the commands run, in order."""
        ...


def can_recover(runner: StackRunner) -> bool:
    """Whether ``runner`` has the optional ``recover``."""
    return callable(getattr(runner, "recover", None))


def tenant_resources(resources: list[StackResource], slug: str, types: frozenset[str]) -> list[StackResource]:
    """The resources of tenant ``slug`` of the given types: the children of its ``TenantMail``
    component, selected by the parent's URN (``mailfleet.desired.naming``), never by name."""
    return [r for r in resources if r.type in types and naming.is_tenant_child(r.parent, slug)]
