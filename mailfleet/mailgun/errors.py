"""Typed Mailgun API errors.

Contract: messages carry the HTTP method, the path and Mailgun's own ``message``; they never
carry the API key (the client scrubs it from anything it did not write itself).
"""

from __future__ import annotations


class MailgunError(Exception):
    """A Mailgun API call failed. ``status`` is the HTTP status, or None (no answer)."""

    def __init__(self, message: str, *, status: int | None = None, method: str = "", path: str = "") -> None:
        self.status = status
        self.method = method
        self.path = path
        super().__init__(message)


class NotFound(MailgunError):
    """404: the domain, route or resource does not exist (in this region)."""


class AlreadyExists(MailgunError):
    """400 "already exists" / "already taken": the name lives in this or the other region."""


class Unauthorized(MailgunError):
    """401/403: the API key is wrong or lacks access (the key itself is never shown)."""


ALREADY_EXISTS_MARKERS = ("already exists", "already taken")


def classify(status: int, message: str, method: str, path: str) -> MailgunError:
    """The typed error for an HTTP error answer."""
    text = f"Mailgun {method} {path} failed: HTTP {status}: {message}"
    lowered = message.lower()
    if status == 404:
        return NotFound(text, status=status, method=method, path=path)
    if status in (401, 403):
        return Unauthorized(text, status=status, method=method, path=path)
    if status in (400, 409) and any(m in lowered for m in ALREADY_EXISTS_MARKERS):
        return AlreadyExists(text, status=status, method=method, path=path)
    return MailgunError(text, status=status, method=method, path=path)
