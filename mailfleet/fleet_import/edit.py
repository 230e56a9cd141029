"""Adding or replacing the ``adopted.mailgun`` block of an existing tenant file, in place.

A tenant file is written by people too: its comments, key order, quoting and blank lines are
theirs. So the block is edited as text, and only the block:

- no top-level ``adopted:`` key: ``adopted:`` with the ``mailgun:`` block is appended at the end;
- ``adopted:`` with other blocks (``dns:``, ``release:``) and no ``mailgun:``: the block is
  added after the last of them, at their indentation;
- ``adopted:`` with a ``mailgun:`` block: that block (up to the next key at its indentation or
  less) is replaced, at its own indentation.

Then the result is parsed and compared with the original: it must be the same mapping with
only ``adopted.mailgun`` set to the new value, or ``EditRefused`` says why (a flow-style
``adopted: {...}``, a block the editor does not recognise). Line endings (LF or CRLF) are kept.
"""

from __future__ import annotations

import re
from typing import Any

from mailfleet.loader import parse_yaml
from mailfleet.model.adoption import MailgunAdoption
from mailfleet.project.tenantfile import dump_yaml

_ADOPTED = re.compile(r"^adopted:[ \t]*(?P<rest>[^\r\n]*?)[ \t]*\r?\n?$")
_EMPTY_VALUES = ("", "~", "null", "Null", "NULL")


class EditRefused(ValueError):
    """The file cannot be edited in place safely (the message says why)."""


def _content(line: str) -> bool:
    """A line holding YAML content: not blank, not only a comment."""
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _without_comment(rest: str) -> str:
    return rest.split(" #", 1)[0].strip() if not rest.startswith("#") else ""


def _block_end(lines: list[str], start: int, indent: int) -> int:
    """The index after the last content line from ``start`` indented deeper than ``indent``."""
    last = start - 1
    for i in range(start, len(lines)):
        if not _content(lines[i]):
            continue
        if _indent(lines[i]) <= indent:
            break
        last = i
    return last + 1


def block_lines(mailgun: MailgunAdoption, indent: int, newline: str) -> list[str]:
    """The ``mailgun:`` block, as the tenant files write it (``tenantfile.as_data``), at
    ``indent`` and nesting by ``indent`` too (the file's own step: 2 or 4 spaces)."""
    data = {"mailgun": mailgun.model_dump(mode="json", exclude_defaults=True)}
    out = []
    for line in dump_yaml(data).splitlines():
        depth = _indent(line) // 2  # dump_yaml nests by 2; no multi-line scalars here
        out.append(" " * (indent + depth * indent) + line.lstrip(" ") + newline)
    return out


def with_mailgun_block(text: str, mailgun: MailgunAdoption) -> str:
    """``text`` with ``adopted.mailgun`` set to ``mailgun`` (see the module docstring)."""
    newline = "\r\n" if "\r\n" in text else "\n"
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += newline
    top = [i for i, line in enumerate(lines) if _ADOPTED.match(line)]
    if len(top) > 1:
        raise EditRefused("the file has more than one top-level adopted: key")
    if not top:
        out = [*lines, "adopted:" + newline, *block_lines(mailgun, 2, newline)]
    else:
        at = top[0]
        m = _ADOPTED.match(lines[at])
        assert m is not None
        value = _without_comment(m["rest"])
        if value not in _EMPTY_VALUES:
            raise EditRefused(
                f"adopted: is written inline ({value[:40]}); write it as a block to import into it"
            )
        end = _block_end(lines, at + 1, 0)
        children = [i for i in range(at + 1, end) if _content(lines[i])]
        if not children:
            out = [*lines[:at], "adopted:" + newline, *block_lines(mailgun, 2, newline), *lines[end:]]
        else:
            indent = _indent(lines[children[0]])
            own = [
                i
                for i in children
                if _indent(lines[i]) == indent and lines[i].lstrip().startswith("mailgun:")
            ]
            if len(own) > 1:
                raise EditRefused("adopted: has more than one mailgun: key")
            if own:
                start = own[0]
                rest = lines[start].lstrip()[len("mailgun:") :]
                if _without_comment(rest.strip()) not in _EMPTY_VALUES:
                    raise EditRefused(
                        "adopted.mailgun is written inline; write it as a block to import into it"
                    )
                stop = _block_end(lines, start + 1, indent)
                out = [*lines[:start], *block_lines(mailgun, indent, newline), *lines[stop:]]
            else:
                out = [*lines[:end], *block_lines(mailgun, indent, newline), *lines[end:]]
    result = "".join(out)
    _check(text, result, mailgun)
    return result


def _check(before: str, after: str, mailgun: MailgunAdoption) -> None:
    """``after`` parses to ``before`` with only ``adopted.mailgun`` replaced; ``EditRefused`` otherwise."""
    old = parse_yaml(before.encode())
    new = parse_yaml(after.encode())
    if not isinstance(old, dict) or not isinstance(new, dict):
        raise EditRefused("the file is not a mapping")
    expected: dict[str, Any] = dict(old)
    adopted = dict(expected.get("adopted") or {})
    adopted["mailgun"] = mailgun.model_dump(mode="json", exclude_defaults=True)
    expected["adopted"] = adopted
    if new != expected:
        raise EditRefused("editing adopted.mailgun in place would change more than that block")
