"""Keeping an API secret out of everything a person or a log can read.

``Secret`` holds one. It never shows it (``repr`` is ``<class name>('***')``, ``str`` is
``***``), hands it out only through ``reveal()`` (for the request's credentials), and is given
every form the secret takes on the wire (each client knows its own: ``wire_forms`` of
``mailfleet.mailgun.redact`` and ``mailfleet.cloudflare.redact``), so ``scrub()`` can cut each
of them out of a text. Matching ignores case, and every match becomes ``***``.
``scrub_json()`` does the same to every string (and key) of a decoded JSON body.

``server_text()`` quotes what a server said about an error: scrubbed first, then on one line
and cut, so a cut never leaves half a secret behind.

``check_base_url()`` accepts only ``http(s)://host[:port][/path]`` (optionally ``http://``
only to a loopback host): a URL that carries credentials (``user:password@host``), a query or
a fragment is refused with the caller's error type, whose message never repeats the URL (it
may hold the secret).
"""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote, urlsplit

MASK = "***"
ERROR_TEXT_MAX = 200  # characters of a server's error text quoted in a message
LOOPBACK_NAMES = frozenset({"localhost"})
UNSHOWN = "(the URL is not shown: it may hold a secret)"


class Secret:
    """A secret that does not print itself; ``scrub`` cuts every one of its ``forms`` out."""

    __slots__ = ("_pattern", "_value")

    def __init__(self, value: str, forms: Iterable[str]) -> None:
        self._value = value
        self._pattern = re.compile(
            "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)),
            re.IGNORECASE,
        )

    def reveal(self) -> str:
        """The secret itself: for the request's credentials, nothing else."""
        return self._value

    def __repr__(self) -> str:
        return f"{type(self).__name__}({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def scrub(self, text: str) -> str:
        """``text`` with every form of the secret replaced by ``***``."""
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


def sendable(value: str) -> bool:
    """Whether a secret can go in a header: printable ASCII, no spaces or line breaks."""
    return value.isascii() and value.isprintable() and not any(c.isspace() for c in value)


def base64_forms(raw: bytes) -> set[str]:
    """``raw`` in standard and URL-safe base64 (padded)."""
    return {base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}


def with_escapes(forms: Iterable[str]) -> set[str]:
    """``forms``, each also with ``/`` escaped as ``\\/`` (JSON) and percent-encoded."""
    out = set(forms)
    for form in list(out):
        out.add(form.replace("/", "\\/"))
        out.add(quote(form, safe=""))
    return out


def server_text(text: str, reason: str | None, scrub: Callable[[str], str]) -> str:
    """A server's error ``text`` scrubbed, on one line, at most ``ERROR_TEXT_MAX`` characters
    (scrubbed before it is cut); else its ``reason`` phrase the same way; else ``"error"``."""
    text = " ".join(scrub(text).split())
    if len(text) > ERROR_TEXT_MAX:
        text = text[:ERROR_TEXT_MAX] + "..."
    return text or " ".join(scrub(reason or "").split()) or "error"


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback IP address."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(
    url: str,
    *,
    where: str,
    secret: str,
    env: str,
    error: Callable[[str], Exception],
    https_unless_loopback: bool = False,
) -> str:
    """``url`` without a trailing slash, if it is ``http(s)://host[:port][/path]`` (with
    ``https_unless_loopback``, ``http://`` only to a loopback host); else ``error(message)``
    is raised. ``where`` names the URL, ``secret`` the secret (``API key``) and ``env`` where
    the secret comes from, for the messages; none of them repeats the URL."""
    if "@" in url:
        raise error(
            f"{where} must not carry credentials (user:password@host): the {secret} is passed "
            f"on its own ({env}) {UNSHOWN}"
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parses the port, raises ValueError when it is not a number
    except ValueError:  # its message quotes the URL: raise ours outside, unchained
        parts = None
    if parts is None:
        raise error(f"{where} is not a valid URL {UNSHOWN}")
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise error(f"{where} must start with https:// (or http:// for a local fake) {UNSHOWN}")
    if not parts.hostname:
        raise error(f"{where} has no host {UNSHOWN}")
    if "?" in url or "#" in url:
        raise error(f"{where} must not have a query or fragment {UNSHOWN}")
    if https_unless_loopback and scheme == "http" and not is_loopback(parts.hostname):
        raise error(
            f"{where} must use https:// unless its host is loopback (a local fake): plain http "
            f"would send the {secret} in clear {UNSHOWN}"
        )
    return url.rstrip("/")
