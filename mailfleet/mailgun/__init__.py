"""Mailgun's REST API: a small, regional, rate-limited client and its typed errors.

``client.MailgunClient`` talks to one region's API host (``hosts.API_BASES``); every resource
it touches is bound to that region (Mailgun's EU and US regions are separate: a domain, its
routes, webhooks and suppressions live in the region they were created in; docs/migrate.md).
The API key never shows up in anything the client writes or returns (``redact``). Typed
errors are in ``errors``, the client-side request budget in ``ratelimit``.

A ground-floor package: it imports only the standard library, third-party packages, its own
modules, ``mailfleet.http`` (retry timing and redaction it shares with ``mailfleet.cloudflare``)
and ``mailfleet.errors`` (never ``mailfleet.model`` or anything above it), so any layer may use
it. Nothing here imports pulumi. This file imports nothing: ``errors`` and
``ratelimit`` load without requests.
"""
