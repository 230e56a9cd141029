"""Mailgun's REST API: a small, regional, rate-limited client and its typed errors.

``MailgunClient`` talks to one region's API host (``hosts.API_BASES``); every resource it
touches is bound to that region (DESIGN.md). The API key never shows up in anything the
client writes or returns (``redact``).

A ground-floor package: it imports only the standard library, third-party packages, its own
modules and ``mailfleet.errors`` (never ``mailfleet.model`` or anything above it), so any
layer may use it. Nothing here imports pulumi.
"""

from mailfleet.mailgun.client import MailgunClient
from mailfleet.mailgun.errors import AlreadyExists, InvalidBaseURL, MailgunError, NotFound, Unauthorized
from mailfleet.mailgun.hosts import API_BASES

__all__ = [
    "API_BASES",
    "AlreadyExists",
    "InvalidBaseURL",
    "MailgunClient",
    "MailgunError",
    "NotFound",
    "Unauthorized",
]
