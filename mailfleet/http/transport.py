"""Sending one request without letting ``requests`` put a URL into a message.

The text of an exception of ``requests`` holds the request's URL (and an echoing proxy may
put more there). ``send`` returns a word for the failure instead of the exception, so the
caller raises its own error outside any ``except`` block: nothing quoted, nothing chained as
``__context__``. ``decode_json`` likewise drops the decoder's message, which may quote the body.
"""

from __future__ import annotations

from typing import Any

import requests


def send(session: requests.Session, method: str, url: str, **kwargs: Any) -> requests.Response | str:
    """What ``session.request(method, url, **kwargs)`` returns, or, when ``requests`` raises,
    a word for what failed: ``"timeout"``, ``"connection failed"`` or the exception's class
    name. Other exceptions pass through."""
    try:
        return session.request(method, url, **kwargs)
    except requests.Timeout:
        return "timeout"
    except requests.ConnectionError:
        return "connection failed"
    except requests.RequestException as exc:
        return type(exc).__name__


NOT_JSON: Any = object()  # what decode_json returns for a body that is not JSON


def decode_json(response: requests.Response) -> Any:
    """The decoded JSON body of ``response``, or ``NOT_JSON``; the decoder's message, which
    may quote the body, is dropped."""
    try:
        return response.json()
    except ValueError:  # its message may quote the body
        return NOT_JSON
