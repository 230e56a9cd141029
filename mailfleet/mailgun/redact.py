"""Keeping the Mailgun API key out of everything a person or a log can read.

``ApiKey`` holds the key (a ``mailfleet.http.redact.Secret``). It never shows it
(``repr``/``str`` are ``***``), hands it out only through ``reveal()`` (for the request's basic
auth), and knows every form the key takes on the wire, so ``scrub()`` can cut each of them out
of a text:

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

from mailfleet.http import redact
from mailfleet.http.redact import Secret, base64_forms, sendable, with_escapes
from mailfleet.mailgun.errors import InvalidBaseURL


class ApiKey(Secret):
    """A Mailgun API key that does not print itself."""

    __slots__ = ()

    def __init__(self, value: str) -> None:
        if not value:
            raise ValueError("a Mailgun API key is required (MAILGUN_API_KEY)")
        if not sendable(value):
            # Never say which character: that would show part of the key.
            raise ValueError(
                "the Mailgun API key (MAILGUN_API_KEY) must be printable ASCII without spaces "
                "or line breaks; the key is not shown"
            )
        super().__init__(value, wire_forms(value))


def wire_forms(key: str) -> set[str]:
    """Every form of ``key`` that a request carries or an echo may quote."""
    forms = {key, *base64_forms(f"api:{key}".encode())}
    unpadded = {form.rstrip("=") for form in forms}  # unpadded base64 still decodes to the key
    forms = with_escapes(forms) | unpadded
    forms.discard("")
    return forms


def check_base_url(region: str, url: str) -> str:
    """``url`` without a trailing slash, if it is ``http(s)://host[:port][/path]``."""
    return redact.check_base_url(
        url,
        where=f"the Mailgun API base URL for region {region} (base_url / MAILGUN_API_BASE_{region.upper()})",
        secret="API key",
        env="MAILGUN_API_KEY",
        error=InvalidBaseURL,
    )
