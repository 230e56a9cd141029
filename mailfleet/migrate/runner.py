"""``StackRunner``: the interface every Pulumi operation of a migration goes through.

The migration engine never talks to Pulumi directly. It asks a runner to bring a stack up to
date with the checkout (``up``: the program reads the tenant files, whose migration blocks say
what each stack declares), to list what a stack holds (``resources``), to clear ``protect`` on
resources it is about to let go (``unprotect``) and to move resources between stacks without
touching the real things (``state_move``, as ``pulumi state move`` does).

Implementations:
- ``mailfleet.migrate.pulumi_runner.AutomationRunner``: the Automation API on real stacks
  (any backend, passphrase from ``PULUMI_CONFIG_PASSPHRASE``);
- ``tests/migrate/mock_runner.py``: the real program under ``pulumi.runtime.set_mocks``, with
  each stack's resources kept between runs and Mailgun resources mirrored into the fake.

``mailfleet.migrate.runners.load_runner(spec)`` builds one from ``module:factory``
(``MAILFLEET_STACK_RUNNER``), the plug-in point for other backends and for tests that run the
real CLI.

Contract for implementations:
- ``up`` is idempotent: with nothing changed it changes nothing; it raises ``RunnerError``
  (message without secrets) when any resource operation fails, after recording what did succeed;
- ``state_move`` moves only the given URNs still present in ``src`` (and their children) and
  returns the URNs it moved; moving URNs already moved is a no-op (so a resumed step is safe);
- ``unprotect`` is idempotent and ignores URNs that are not in the stack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from mailfleet.desired import naming
from mailfleet.errors import MailfleetError


class RunnerError(MailfleetError):
    """A Pulumi operation failed; the message names the stack and never a secret."""


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
    def up(self, stack: str) -> UpResult:
        """Run the program of ``stack`` against the checkout's files and apply the changes."""
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


def tenant_resources(resources: list[StackResource], slug: str, types: frozenset[str]) -> list[StackResource]:
    """The resources of tenant ``slug`` of the given types: the children of its ``TenantMail``
    component, selected by the parent's URN (``mailfleet.desired.naming``), never by name."""
    return [r for r in resources if r.type in types and naming.is_tenant_child(r.parent, slug)]
