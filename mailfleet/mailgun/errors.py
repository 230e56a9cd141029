"""Typed Mailgun API errors.

Contract: messages carry the HTTP method, the path and Mailgun's own ``message``; they never
carry the API key in any form (the key, ``api:<key>``, its base64 ``Authorization: Basic``
value) nor credentials from a URL. The client builds every message from parts it scrubbed
(``mailfleet.mailgun.redact``), including what the server said, since a proxy or a hostile
server may echo the request's headers back. Exceptions from ``requests`` are never quoted or
chained: their text holds URLs.
"""

from __future__ import annotations

from mailfleet.errors import UsageError


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


class InvalidBaseURL(MailgunError, UsageError, ValueError):
    """The client's base URL (``base_url``, ``MAILGUN_API_BASE_EU``/``_US``) is refused: it carries
    credentials (``user:password@host``), a query or a fragment, or is no http(s) URL.

    A ``UsageError`` too, so the CLI reports it in one line (exit 2) instead of a traceback,
    and a ``ValueError`` (a bad argument). The message never repeats the URL.
    """


ALREADY_EXISTS_MARKERS = ("already exists", "already taken")


def classify(status: int, message: str, method: str, path: str) -> MailgunError:
    """The typed error for an HTTP error answer (``message`` and ``path`` already scrubbed)."""
    text = f"Mailgun {method} {path} failed: HTTP {status}: {message}"
    lowered = message.lower()
    if status == 404:
        return NotFound(text, status=status, method=method, path=path)
    if status in (401, 403):
        return Unauthorized(text, status=status, method=method, path=path)
    if status in (400, 409) and any(m in lowered for m in ALREADY_EXISTS_MARKERS):
        return AlreadyExists(text, status=status, method=method, path=path)
    return MailgunError(text, status=status, method=method, path=path)
