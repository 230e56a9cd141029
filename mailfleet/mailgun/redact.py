"""Keeping the Mailgun API key out of everything a person or a log can read.

``ApiKey`` holds the key. It never shows it (``repr``/``str`` are ``***``), hands it out only
through ``reveal()`` (for the request's basic auth), and knows every form the key takes on the
wire, so ``scrub()`` can cut each of them out of a text:

- the key itself, and ``api:<key>`` (the decoded basic-auth pair) with it;
- ``base64("api:<key>")``, the ``Authorization: Basic <value>`` value, so ``Basic <value>`` too,
  in standard and URL-safe base64, as is and with ``/`` escaped as ``\\/`` (JSON);
- the percent-encoded form of each of these.

Matching ignores case, and every match becomes ``***``. ``scrub_json()`` does the same to
every string (and key) of a decoded JSON body.

``check_base_url()`` accepts only ``http(s)://host[:port][/path]``: a URL that carries
credentials (``user:password@host``), a query or a fragment is refused with
``InvalidBaseURL``, whose message never repeats the URL (it may hold the secret).
"""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import quote, urlsplit

from mailfleet.mailgun.errors import InvalidBaseURL

MASK = "***"


class ApiKey:
    """A Mailgun API key that does not print itself."""

    __slots__ = ("_pattern", "_value")

    def __init__(self, value: str) -> None:
        if not value:
            raise ValueError("a Mailgun API key is required (MAILGUN_API_KEY)")
        if not value.isascii() or not value.isprintable() or any(c.isspace() for c in value):
            # Never say which character: that would show part of the key.
            raise ValueError(
                "the Mailgun API key (MAILGUN_API_KEY) must be printable ASCII without spaces "
                "or line breaks; the key is not shown"
            )
        self._value = value
        self._pattern = re.compile(
            "|".join(re.escape(n) for n in sorted(wire_forms(value), key=len, reverse=True)),
            re.IGNORECASE,
        )

    def reveal(self) -> str:
        """The key itself: for the basic-auth pair of a request, nothing else."""
        return self._value

    def __repr__(self) -> str:
        return f"ApiKey({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def scrub(self, text: str) -> str:
        """``text`` with every wire form of the key replaced by ``***``."""
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


def wire_forms(key: str) -> set[str]:
    """Every form of ``key`` that a request carries or an echo may quote."""
    pair = f"api:{key}".encode()
    forms = {key, base64.b64encode(pair).decode(), base64.urlsafe_b64encode(pair).decode()}
    for form in list(forms):
        forms.add(form.replace("/", "\\/"))
        forms.add(quote(form, safe=""))
        forms.add(form.rstrip("="))  # unpadded base64 still decodes to the key
    forms.discard("")
    return forms


def check_base_url(region: str, url: str) -> str:
    """``url`` without a trailing slash, if it is ``http(s)://host[:port][/path]``."""
    where = f"the Mailgun API base URL for region {region} (base_url / MAILGUN_API_BASE_{region.upper()})"
    unshown = "(the URL is not shown: it may hold a secret)"
    if "@" in url:
        raise InvalidBaseURL(
            f"{where} must not carry credentials (user:password@host): the API key is passed on "
            f"its own (MAILGUN_API_KEY) {unshown}"
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parses the port, raises ValueError when it is not a number
    except ValueError:  # its message quotes the URL: raise ours outside, unchained
        parts = None
    if parts is None:
        raise InvalidBaseURL(f"{where} is not a valid URL {unshown}")
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidBaseURL(f"{where} must start with https:// (or http:// for a local fake) {unshown}")
    if not parts.hostname:
        raise InvalidBaseURL(f"{where} has no host {unshown}")
    if "?" in url or "#" in url:
        raise InvalidBaseURL(f"{where} must not have a query or fragment {unshown}")
    return url.rstrip("/")
