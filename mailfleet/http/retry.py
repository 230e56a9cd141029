"""Retry timing for HTTP API clients: the waits a 429 asks for, backoff, giving up.

Every function takes its clock and jitter as arguments (callables, called only when needed),
so a client can inject them and tests of retries run instantly. A header value that does not
parse is ignored (None), never quoted: an echoing server may have put a secret in it.
"""

from __future__ import annotations

import datetime
import email.utils
import re
from collections.abc import Callable

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRIED_FAILURES = ("timeout", "connection failed")  # no answer, worth another attempt
_RATELIMIT_RESET = re.compile(r"(?:^|[;,\s])t=(\d+(?:\.\d+)?)")


def backoff(attempt: int, base: float, cap: float, jitter: Callable[[], float]) -> float:
    """The wait before retry ``attempt`` (0 first): half the ceiling ``min(cap, base * 2**attempt)``
    plus ``jitter()`` (0 to 1) times the other half."""
    ceiling = min(cap, base * (2**attempt))
    return ceiling / 2 + jitter() * ceiling / 2


def retry_after_seconds(value: str | None, clock: Callable[[], float]) -> float | None:
    """Seconds a ``Retry-After`` value asks for: a number of seconds, or an HTTP date (less
    ``clock()``, epoch seconds); never below 0. None when absent, blank or unparsable."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        # Its message quotes the header; an echoing server may have put the secret there.
        parsed = None
    if parsed is None:
        return None
    if parsed.tzinfo is None:  # "-0000": UTC, per RFC 5322
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return max(0.0, parsed.timestamp() - clock())


def rate_limit_reset_seconds(value: str | None, clock: Callable[[], float]) -> float | None:
    """Seconds until an ``X-RateLimit-Reset`` value: epoch milliseconds (above 1e11), epoch
    seconds (above 1e9, less ``clock()``), else seconds from now; never below 0. None when
    absent, empty or not a number."""
    if not value:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    if number > 1e11:  # epoch milliseconds
        return max(0.0, number / 1000.0 - clock())
    if number > 1e9:  # epoch seconds
        return max(0.0, number - clock())
    return max(0.0, number)  # seconds from now


def ratelimit_reset_seconds(value: str | None) -> float | None:
    """The ``t=`` (seconds until the window resets) of a ``Ratelimit`` header
    (``"default";r=0;t=30``), or None."""
    match = _RATELIMIT_RESET.search(value or "")
    if match:
        return max(0.0, float(match.group(1)))
    return None


def give_up(failure: str, attempt: int, max_retries: int) -> str | None:
    """For a request that got no answer (``failure`` from ``transport.send``) on ``attempt``
    (0 first): None to retry it, else what failed, for the message (``"timeout after 6
    attempts"``). Only a timeout or a refused connection is retried."""
    if failure not in RETRIED_FAILURES:
        return failure
    if attempt >= max_retries:
        return f"{failure} after {attempt + 1} attempts"
    return None
