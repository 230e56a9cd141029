"""Typed Cloudflare API errors, chosen from the HTTP status and Cloudflare's error codes.

Cloudflare answers every call with an envelope ``{"success", "errors": [{"code", "message",
"error_chain"?}], "messages", "result", "result_info"?}``. ``classify`` maps a failed answer
to one error type:

- ``Unauthorized``: HTTP 401/403, or an authentication code (10000 "Authentication error",
  9106 missing credentials, 9109 token refused, 6111 malformed ``Authorization`` header -
  Cloudflare answers that one with HTTP 400 -, 1000 "Invalid API Token"). With an API token,
  Cloudflare also answers a zone id the token cannot see - including one that does not exist -
  with 403 / 10000, so the message says the three possible causes;
- ``NotFound``: HTTP 404, or a "does not exist" code (81044 "Record does not exist.", 7003
  "Could not route to ..., perhaps your object identifier is invalid?", 1001/1003 invalid zone
  identifier);
- ``RateLimited``: HTTP 429 (or code 971 "Please wait and consider throttling your request
  speed") once the client's retries are used up;
- ``ServerError``: HTTP 5xx once the retries are used up;
- ``CloudflareError``: anything else, and failures without an answer (``status`` is None).

Contract: messages carry the method, the path, the HTTP status and Cloudflare's own codes and
messages; they never carry the API token in any form (``mailfleet.cloudflare.redact``). The
client scrubs what the server said before it builds a message, since a proxy or a hostile
server may echo the request's headers back. Exceptions from ``requests`` are never quoted or
chained: their text holds URLs.
"""

from __future__ import annotations

from mailfleet.errors import UsageError

AUTH_CODES = frozenset({1000, 6111, 9106, 9109, 10000})
NOT_FOUND_CODES = frozenset({1001, 1003, 7003, 81044})
RATE_LIMIT_CODES = frozenset({971})


class CloudflareError(Exception):
    """A Cloudflare API call failed. ``status`` is the HTTP status, or None (no answer);
    ``codes`` are Cloudflare's error codes (those of ``error_chain`` included)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        method: str = "",
        path: str = "",
        codes: tuple[int, ...] = (),
    ) -> None:
        self.status = status
        self.method = method
        self.path = path
        self.codes = codes
        super().__init__(message)


class Unauthorized(CloudflareError):
    """401/403 or an authentication code: the token is wrong, lacks the permission (DNS Read,
    Zone Read) for this zone, or the zone id does not exist. The token itself is never shown."""


class NotFound(CloudflareError):
    """404, 81044 or 7003: the record (or the object named by an id) does not exist."""


class RateLimited(CloudflareError):
    """429 after every retry: Cloudflare blocks a user for 5 minutes past 1200 requests.
    ``retry_after`` is the wait the last answer asked for (seconds), if it said."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        method: str = "",
        path: str = "",
        codes: tuple[int, ...] = (),
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, status=status, method=method, path=path, codes=codes)


class ServerError(CloudflareError):
    """5xx after every retry."""


class ListingChanged(CloudflareError):
    """The zone's records changed while their pages were being read (``total_count`` moved, or
    the pages did not add up to it): the listing is not a snapshot; list again."""


class InvalidBaseURL(CloudflareError, UsageError, ValueError):
    """The client's base URL is refused: it carries credentials (``user:password@host``), a
    query or a fragment, is plain ``http://`` to a host that is not loopback, or is no URL.

    A ``UsageError`` too, so the CLI reports it in one line (exit 2) instead of a traceback,
    and a ``ValueError`` (a bad argument). The message never repeats the URL.
    """


def classify(status: int, text: str, codes: tuple[int, ...], method: str, path: str) -> CloudflareError:
    """The typed error for a failed answer (``text`` and ``path`` already scrubbed)."""
    message = f"Cloudflare {method} {path} failed: HTTP {status}: {text}"
    found = set(codes)
    kind: type[CloudflareError] = CloudflareError
    if status in (401, 403) or found & AUTH_CODES:
        kind = Unauthorized
        message += (
            " (the API token is wrong, lacks access to this zone, or the zone id does not "
            "exist; the token is not shown)"
        )
    elif status == 404 or found & NOT_FOUND_CODES:
        kind = NotFound
    elif status == 429 or found & RATE_LIMIT_CODES:
        kind = RateLimited
    elif status >= 500:
        kind = ServerError
    return kind(message, status=status, method=method, path=path, codes=codes)
