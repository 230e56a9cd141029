"""Mailgun route filters evaluated as Mailgun documents them (for the fake Mailgun).

Mailgun's user manual ("Route filters") and API reference ("Routes"):

- ``match_recipient(pattern)`` matches the SMTP recipient against ``pattern``, a Python-style
  regular expression (its examples: ``match_recipient(".*@bar.com")`` for any recipient at
  bar.com, ``match_recipient("^chris\\+(.*)@example.com$")``). The examples start with ``.*``
  to match anywhere, so a pattern is matched from the start of the address (Python's
  ``re.match``), not searched for inside it.
- ``match_header(header, pattern)``: the same against a MIME header of the message (the
  header name is case-insensitive, as MIME header names are).
- ``catch_all()`` "matches if no preceding routes matched".
- ``match_recipient(...) and match_header(...)``: both must match.
- Routes run in priority order, lower first; every matching route's actions run unless a
  matching route has ``stop()``. Filter and action fields are at most 4k (4096 characters).

A filter string is double- or single-quoted; inside it a backslash escapes the quote (and a
backslash); every other backslash reaches the regular expression unchanged
(``"^chris\\+(.*)@example.com$"``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

MAX_FIELD = 4096

_STRING = r"""(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"""
_CALL = re.compile(
    rf"""\s*(?:
        (?P<recipient>match_recipient)\s*\(\s*(?P<rpat>{_STRING})\s*\)
      | (?P<header>match_header)\s*\(\s*(?P<hname>{_STRING})\s*,\s*(?P<hpat>{_STRING})\s*\)
      | (?P<catch>catch_all)\s*\(\s*\)
    )\s*""",
    re.X,
)
_AND = re.compile(r"and(?=[\s(])")


class InvalidExpression(ValueError):
    """The filter is not one Mailgun accepts (what its API answers 400 for)."""


@dataclass(frozen=True)
class Condition:
    kind: str  # recipient | header | catch_all
    pattern: re.Pattern[str] | None = None
    header: str = ""


def _unquote(literal: str) -> str:
    body = literal[1:-1]
    quote = literal[0]
    return re.sub(r"\\([\\" + quote + r"])", r"\1", body)


def _compile(pattern: str, where: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise InvalidExpression(f"{where}: invalid regular expression {pattern!r}: {exc}") from None


def parse(expression: str) -> tuple[Condition, ...]:
    """The conditions of a route filter, all of which must hold; InvalidExpression otherwise."""
    if not expression.strip():
        raise InvalidExpression("the filter expression is empty")
    if len(expression) > MAX_FIELD:
        raise InvalidExpression(f"the filter expression is longer than {MAX_FIELD} characters")
    out: list[Condition] = []
    rest = expression
    while True:
        match = _CALL.match(rest)
        if match is None:
            raise InvalidExpression(f"not a route filter: {expression!r}")
        if match.group("recipient"):
            out.append(Condition("recipient", _compile(_unquote(match.group("rpat")), "match_recipient")))
        elif match.group("header"):
            out.append(
                Condition(
                    "header",
                    _compile(_unquote(match.group("hpat")), "match_header"),
                    _unquote(match.group("hname")).lower(),
                )
            )
        else:
            out.append(Condition("catch_all"))
        rest = rest[match.end() :]
        if not rest:
            break
        joined = _AND.match(rest)
        if joined is None:
            raise InvalidExpression(f"not a route filter: {expression!r}")
        rest = rest[joined.end() :]
    if any(c.kind == "catch_all" for c in out) and len(out) > 1:
        raise InvalidExpression("catch_all() cannot be combined with other filters")
    return tuple(out)


def matches(
    conditions: Iterable[Condition], recipient: str, headers: Mapping[str, str], earlier: bool
) -> bool:
    """Does a message to ``recipient`` with ``headers`` match? ``earlier``: an earlier route matched."""
    lowered = {k.lower(): v for k, v in headers.items()}
    for cond in conditions:
        if cond.kind == "catch_all":
            if earlier:
                return False
        elif cond.kind == "recipient":
            assert cond.pattern is not None
            if cond.pattern.match(recipient) is None:
                return False
        else:
            assert cond.pattern is not None
            value = lowered.get(cond.header)
            if value is None or cond.pattern.match(value) is None:
                return False
    return True


def deliver(
    routes: Iterable[Mapping[str, Any]], recipient: str, headers: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """The routes whose actions Mailgun runs for one incoming message, in the order it runs them.

    Lower priority first (equal priorities in creation order); every matching route runs until
    one whose actions include ``stop()``.
    """
    ordered = sorted(enumerate(routes), key=lambda pair: (int(pair[1].get("priority", 0)), pair[0]))
    ran: list[dict[str, Any]] = []
    for _, route in ordered:
        if matches(parse(str(route["expression"])), recipient, headers or {}, bool(ran)):
            ran.append(dict(route))
            if any(str(a).strip().startswith("stop(") for a in route.get("actions", [])):
                break
    return ran
