"""Mailgun's REST API: a small, regional, rate-limited client and its typed errors.

``MailgunClient`` talks to one region's API host; every resource it touches is bound to that
region (DESIGN.md). Nothing here imports pulumi.
"""

from mailfleet.mailgun.client import MailgunClient
from mailfleet.mailgun.errors import AlreadyExists, MailgunError, NotFound, Unauthorized

__all__ = ["AlreadyExists", "MailgunClient", "MailgunError", "NotFound", "Unauthorized"]
