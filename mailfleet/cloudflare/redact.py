"""Keeping the Cloudflare API token out of everything a person or a log can read.

``ApiToken`` holds the token (a ``mailfleet.http.redact.Secret``). It never shows it
(``repr``/``str`` are ``***``), hands it out only through ``reveal()`` (for the request's
``Authorization: Bearer`` header), and knows every form the token may take when something
repeats it, so ``scrub()`` can cut each of them out of a text:

- the token itself, so ``Bearer <token>`` too;
- its percent-encoded form, and ``/`` escaped as ``\\/`` (JSON);
- its base64 forms (standard and URL-safe, padded and not), and those of ``Bearer <token>``,
  for a proxy that logs header values encoded.

Matching ignores case, and every match becomes ``***``. ``scrub_json()`` does the same to
every string (and key) of a decoded JSON body.

A token is printable ASCII without spaces, at least ``MIN_TOKEN_LENGTH`` characters long
(Cloudflare's are 40): a very short "token" would be scrubbed out of ordinary words and make
every message unreadable. Refusals never say which character was wrong.

``check_base_url()`` accepts only ``https://host[:port][/path]``, or ``http://`` to a loopback
host (a local fake): a URL that carries credentials (``user:password@host``), a query or a
fragment is refused with ``InvalidBaseURL``, whose message never repeats the URL (it may hold
a secret). Plain ``http://`` elsewhere would send the token in clear.
"""

from __future__ import annotations

from mailfleet.cloudflare.errors import InvalidBaseURL
from mailfleet.http import redact
from mailfleet.http.redact import Secret, base64_forms, sendable, with_escapes

MIN_TOKEN_LENGTH = 16


class ApiToken(Secret):
    """A Cloudflare API token that does not print itself."""

    __slots__ = ()

    def __init__(self, value: str) -> None:
        if not value:
            raise ValueError("a Cloudflare API token is required (CLOUDFLARE_API_TOKEN)")
        if not sendable(value):
            # Never say which character: that would show part of the token.
            raise ValueError(
                "the Cloudflare API token (CLOUDFLARE_API_TOKEN) must be printable ASCII without "
                "spaces or line breaks; the token is not shown"
            )
        if len(value) < MIN_TOKEN_LENGTH:
            raise ValueError(
                f"the Cloudflare API token (CLOUDFLARE_API_TOKEN) is shorter than {MIN_TOKEN_LENGTH} "
                "characters (Cloudflare's are 40); the token is not shown"
            )
        super().__init__(value, wire_forms(value))


def wire_forms(token: str) -> set[str]:
    """Every form of ``token`` that something repeating a request may quote."""
    forms = {token}
    for raw in (token.encode(), f"Bearer {token}".encode()):
        for encoded in base64_forms(raw):
            forms.add(encoded)
            forms.add(encoded.rstrip("="))  # unpadded base64 still decodes to the token
    forms = with_escapes(forms)
    forms.discard("")
    return forms


def check_base_url(url: str) -> str:
    """``url`` without a trailing slash, if it is ``https://host[:port][/path]`` (or ``http://``
    to a loopback host)."""
    return redact.check_base_url(
        url,
        where="the Cloudflare API base URL (base_url)",
        secret="API token",
        env="CLOUDFLARE_API_TOKEN",
        error=InvalidBaseURL,
        https_unless_loopback=True,
    )
