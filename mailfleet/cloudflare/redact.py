"""Keeping the Cloudflare API token out of everything a person or a log can read.

``ApiToken`` holds the token. It never shows it (``repr``/``str`` are ``***``), hands it out
only through ``reveal()`` (for the request's ``Authorization: Bearer`` header), and knows every
form the token may take when something repeats it, so ``scrub()`` can cut each of them out of
a text:

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

import base64
import ipaddress
import re
from typing import Any
from urllib.parse import quote, urlsplit

from mailfleet.cloudflare.errors import InvalidBaseURL

MASK = "***"
MIN_TOKEN_LENGTH = 16
LOOPBACK_NAMES = frozenset({"localhost"})


class ApiToken:
    """A Cloudflare API token that does not print itself."""

    __slots__ = ("_pattern", "_value")

    def __init__(self, value: str) -> None:
        if not value:
            raise ValueError("a Cloudflare API token is required (CLOUDFLARE_API_TOKEN)")
        if not value.isascii() or not value.isprintable() or any(c.isspace() for c in value):
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
        self._value = value
        self._pattern = re.compile(
            "|".join(re.escape(f) for f in sorted(wire_forms(value), key=len, reverse=True)),
            re.IGNORECASE,
        )

    def reveal(self) -> str:
        """The token itself: for the request's ``Authorization`` header, nothing else."""
        return self._value

    def __repr__(self) -> str:
        return f"ApiToken({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def scrub(self, text: str) -> str:
        """``text`` with every form of the token replaced by ``***``."""
        return self._pattern.sub(MASK, text)

    def scrub_json(self, value: Any) -> Any:
        """A decoded JSON value with ``scrub`` applied to every string and object key."""
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, list):
            return [self.scrub_json(v) for v in value]
        if isinstance(value, dict):
            return {
                (self.scrub(k) if isinstance(k, str) else k): self.scrub_json(v) for k, v in value.items()
            }
        return value


def wire_forms(token: str) -> set[str]:
    """Every form of ``token`` that something repeating a request may quote."""
    forms = {token}
    for raw in (token.encode(), f"Bearer {token}".encode()):
        for encoded in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
            forms.add(encoded)
            forms.add(encoded.rstrip("="))  # unpadded base64 still decodes to the token
    for form in list(forms):
        forms.add(form.replace("/", "\\/"))
        forms.add(quote(form, safe=""))
    forms.discard("")
    return forms


def _is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(url: str) -> str:
    """``url`` without a trailing slash, if it is ``https://host[:port][/path]`` (or ``http://``
    to a loopback host)."""
    where = "the Cloudflare API base URL (base_url)"
    unshown = "(the URL is not shown: it may hold a secret)"
    if "@" in url:
        raise InvalidBaseURL(
            f"{where} must not carry credentials (user:password@host): the API token is passed "
            f"on its own (CLOUDFLARE_API_TOKEN) {unshown}"
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parses the port, raises ValueError when it is not a number
    except ValueError:  # its message quotes the URL: raise ours outside, unchained
        parts = None
    if parts is None:
        raise InvalidBaseURL(f"{where} is not a valid URL {unshown}")
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidBaseURL(f"{where} must start with https:// (or http:// for a local fake) {unshown}")
    if not parts.hostname:
        raise InvalidBaseURL(f"{where} has no host {unshown}")
    if "?" in url or "#" in url:
        raise InvalidBaseURL(f"{where} must not have a query or fragment {unshown}")
    if scheme == "http" and not _is_loopback(parts.hostname):
        raise InvalidBaseURL(
            f"{where} must use https:// unless its host is loopback (a local fake): plain http "
            f"would send the API token in clear {unshown}"
        )
    return url.rstrip("/")
