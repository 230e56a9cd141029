"""Errors the CLI turns into one line per problem and an exit code.

Contract: library code raises these and never prints. The kind of error says what went wrong:
``UsageError``, the command's input (a flag, an argument, the environment); any other
``MailfleetError``, the data or the outside world. Only ``mailfleet.cli`` turns them into
lines (naming flags) and exit codes. Messages must never contain secrets (API keys, tokens,
passwords, private keys).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with one input: ``where`` is a file path; an empty ``where`` means a
    command parameter, named by ``field`` (the CLI turns it into the flag)."""

    where: str
    field: str
    message: str

    def __str__(self) -> str:
        if not self.where:
            return f"{self.field}: {self.message}" if self.field else self.message
        if self.field:
            return f"{self.where}: {self.field}: {self.message}"
        return f"{self.where}: {self.message}"


class MailfleetError(Exception):
    """Base class of every error mailfleet reports as problems."""

    def __init__(self, message: str = "", problems: list[Problem] | None = None) -> None:
        self.problems: list[Problem] = list(problems or [])
        super().__init__(message or "; ".join(str(p) for p in self.problems))

    def lines(self) -> list[str]:
        if self.problems:
            return [str(p) for p in self.problems]
        return [str(self)]


class InvalidData(MailfleetError):
    """Tenant or stack data is invalid."""


class UsageError(MailfleetError):
    """The command's input is wrong: a flag, an argument, an environment variable."""
