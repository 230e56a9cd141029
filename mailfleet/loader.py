"""Reading files: the one YAML loader, and the listing of a tenants directory.

A ground-floor utility: it knows files and YAML, not tenants. ``MailfleetLoader`` is the one
YAML loader of the project (libyaml's C parser when present, with duplicate keys rejected);
the benchmarks' "YAML-parse floor" uses it too. Turning parsed data into validated models is
``mailfleet.model.load``'s job.

Nesting is limited to ``MAX_NESTING`` lists and mappings inside each other, checked before
anything is built: libyaml's composer recurses in C (a 100,000-deep ``[[[...`` crashes the
process) and the constructor recurses in Python (``RecursionError``). No tenant or stack
file needs more than a handful of levels.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml

from mailfleet.errors import InvalidData, Problem

log = logging.getLogger("mailfleet.loader")

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class DuplicateKey(yaml.constructor.ConstructorError):
    pass


class MailfleetLoader(_Base):  # type: ignore[misc, valid-type]
    """Safe YAML loader that refuses duplicate mapping keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                hash(key)
            except TypeError:
                # Let the base constructor raise its "found unhashable key" ConstructorError.
                break
            if key in seen:
                raise DuplicateKey(
                    None,
                    None,
                    f"duplicate key {key!r} (line {key_node.start_mark.line + 1})",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


MailfleetLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, MailfleetLoader.construct_mapping
)


MAX_NESTING = 100

# Every list or mapping starts at one of these characters: ``[``, ``{``, a block sequence's
# ``-``, a mapping key's ``:`` or ``?``. A text with no more of them than the limit cannot nest
# deeper (even through aliases, which reuse nodes that each started at such a character), so
# only longer texts pay for the exact check.
_COLLECTION_STARTS = ("[", "{", "-", ":", "?")
_COLLECTION_STARTS_B = tuple(c.encode() for c in _COLLECTION_STARTS)


class TooDeep(yaml.MarkedYAMLError):
    """Lists and mappings nested deeper than ``MAX_NESTING``."""


def _start_bound(text: str | bytes) -> int:
    if isinstance(text, bytes):
        return sum(text.count(c) for c in _COLLECTION_STARTS_B)
    return sum(text.count(c) for c in _COLLECTION_STARTS)


def check_nesting(text: str | bytes, limit: int = MAX_NESTING) -> None:
    """Raise ``TooDeep`` when the YAML ``text`` nests lists and mappings deeper than ``limit``.

    Counted on the parser's events, so nothing is built: a collection's depth is the number of
    collections open around it, and an alias adds the height of the node it refers to (an
    alias chain nests as deep as its expansion). Syntax errors are left to ``parse_yaml``.
    """
    if _start_bound(text) <= limit:
        return
    heights: dict[str, int] = {}
    # One entry per open collection: its anchor and the height of its tallest child so far.
    open_: list[list[Any]] = []
    try:
        for event in yaml.parse(text, Loader=MailfleetLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                open_.append([event.anchor, 0])
                if len(open_) > limit:
                    raise TooDeep(
                        problem=f"nesting deeper than {limit} levels", problem_mark=event.start_mark
                    )
                continue
            if isinstance(event, yaml.CollectionEndEvent):
                anchor, tallest = open_.pop()
                height = tallest + 1
                if anchor is not None:
                    heights[anchor] = height
            elif isinstance(event, yaml.AliasEvent):
                height = heights.get(event.anchor, 0)
                if len(open_) + height > limit:
                    raise TooDeep(
                        problem=f"nesting deeper than {limit} levels (through the alias *{event.anchor})",
                        problem_mark=event.start_mark,
                    )
            elif isinstance(event, yaml.ScalarEvent):
                height = 0
            else:
                continue
            if open_:
                open_[-1][1] = max(open_[-1][1], height)
    except TooDeep:
        raise
    except yaml.YAMLError:
        return


def parse_yaml(text: str | bytes) -> Any:
    """Parse one YAML document with ``MailfleetLoader`` (nesting limited to ``MAX_NESTING``).

    The result is always what ``yaml.load(text, Loader=MailfleetLoader)`` returns, or the
    error it raises. libyaml composes the node tree in C; PyYAML's constructor then walks it
    in Python with a generator per collection and bookkeeping per node, about as long as
    libyaml's own work. For the plain documents tenant and stack files are (mappings,
    sequences, strings, numbers, booleans, nulls, no node used twice) ``_build`` makes the
    same values in one recursive pass, about 3x faster; anything else (a duplicate or
    unhashable key, an alias, a merge key, another tag) is handed to the full constructor,
    which builds it or raises its usual error.
    """
    check_nesting(text)
    loader = MailfleetLoader(text)
    try:
        node = loader.get_single_node()
    finally:
        loader.dispose()
    if node is None:
        return None
    try:
        return _build(node, set(), loader)
    except _Unusual:
        return yaml.load(text, Loader=MailfleetLoader)


class _Unusual(Exception):
    """A document ``_build`` leaves to PyYAML's constructor."""


_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_PLAIN_SCALAR_TAGS = frozenset(
    {
        _STR_TAG,
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:null",
        "tag:yaml.org,2002:float",
    }
)
_KEY_TYPES = (str, int, bool, float)
_ScalarNode = yaml.nodes.ScalarNode
_MappingNode = yaml.nodes.MappingNode
_SequenceNode = yaml.nodes.SequenceNode


def _build(node: Any, seen: set[int], loader: Any) -> Any:
    """The value of ``node`` as SafeConstructor builds it; ``_Unusual`` when not plain."""
    kind = node.__class__
    tag = node.tag
    if kind is _ScalarNode:
        if tag == _STR_TAG:
            return node.value
        if tag not in _PLAIN_SCALAR_TAGS:
            raise _Unusual
        try:
            return loader.yaml_constructors[tag](loader, node)
        except Exception:  # e.g. ``!!int abc``: the full constructor raises what it raises
            raise _Unusual from None
    if id(node) in seen:  # an alias (or a recursive one): keep PyYAML's shared objects
        raise _Unusual
    seen.add(id(node))
    if kind is _MappingNode and tag == _MAP_TAG:
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _build(key_node, seen, loader)
            if (key is not None and key.__class__ not in _KEY_TYPES) or key in out:
                raise _Unusual  # merge keys, unhashable or duplicate keys: PyYAML decides
            out[key] = _build(value_node, seen, loader)
        return out
    if kind is _SequenceNode and tag == _SEQ_TAG:
        return [_build(item, seen, loader) for item in node.value]
    raise _Unusual


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def json_nesting_exceeds(text: str, limit: int = MAX_NESTING) -> bool:
    """Whether JSON ``text`` nests arrays and objects deeper than ``limit`` (strings skipped).

    Python's ``json`` raises ``RecursionError`` on deep input; this answers first, without
    recursion. Only texts with more brackets than ``limit`` are scanned.
    """
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                return True
        elif token in "]}":
            depth -= 1
    return False


def yaml_problem(where: str, exc: yaml.YAMLError) -> Problem:
    mark = getattr(exc, "problem_mark", None)
    line = f"line {mark.line + 1}" if mark is not None else ""
    if isinstance(exc, DuplicateKey | TooDeep):
        return Problem(where, line, str(exc.problem))
    what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return Problem(where, line, f"YAML syntax error: {what}")


def scan_tenants(tenants_dir: Path) -> tuple[list[Path], list[Problem]]:
    """The ``*.yaml`` files directly in ``tenants_dir`` sorted by name, and the ``*.yaml``
    entries that cannot be tenant files, one ``Problem`` each.

    A symlink to a file counts as that file. A ``*.yaml`` that is a directory, a dangling
    symlink, a symlink loop or another kind of file (a FIFO would block the reader) is a
    problem, never skipped: a tenant file that silently dropped out of the listing would drop
    its tenant out of its stack, and the next ``pulumi up`` would delete its resources.
    Raises ``InvalidData`` when the directory itself cannot be read.
    """
    try:
        entries = os.scandir(tenants_dir)
    except FileNotFoundError:
        raise InvalidData(
            problems=[Problem(str(tenants_dir), "", "tenants directory does not exist")]
        ) from None
    except OSError as exc:
        raise InvalidData(
            problems=[Problem(str(tenants_dir), "", f"cannot read tenants directory: {exc.strerror}")]
        ) from None
    names: list[str] = []
    problems: list[Problem] = []
    ignored: list[str] = []
    with entries:
        for entry in entries:
            if not entry.name.endswith(".yaml"):
                if entry.name.endswith(".yml") and _not_a_tenant_file(tenants_dir / entry.name) is None:
                    ignored.append(entry.name)
                continue
            # A regular file (not a symlink) needs no stat: the directory listing says so.
            problem = (
                None if entry.is_file(follow_symlinks=False) else _not_a_tenant_file(tenants_dir / entry.name)
            )
            if problem is None:
                names.append(entry.name)
            else:
                problems.append(problem)
    for name in sorted(ignored):
        log.warning("ignored tenant file: path=%s reason='tenant files end in .yaml'", tenants_dir / name)
    problems.sort(key=lambda p: p.where)
    return [tenants_dir / n for n in sorted(names)], problems


def _not_a_tenant_file(path: Path) -> Problem | None:
    """Why ``path`` (a ``*.yaml`` entry of the tenants directory) cannot be read as a file."""
    where = str(path)
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return Problem(where, "", "symlink loop (too many levels of symbolic links); not a tenant file")
        if exc.errno == errno.ENOENT and os.path.islink(path):
            try:
                target = f" {os.readlink(path)!r}"
            except OSError:
                target = ""
            return Problem(
                where,
                "",
                f"dangling symlink: its target{target} does not exist (the tenant would drop out of its stack)",
            )
        return Problem(where, "", f"cannot read: {exc.strerror}")
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return Problem(where, "", "is a directory, not a tenant file")
    return Problem(where, "", "is not a regular file (tenant files are plain YAML files)")


def tenant_paths(tenants_dir: Path) -> list[Path]:
    """Every ``*.yaml`` file directly in ``tenants_dir``, sorted by name; ``InvalidData``
    listing every ``*.yaml`` entry that is not a readable file (``scan_tenants``)."""
    paths, problems = scan_tenants(tenants_dir)
    if problems:
        raise InvalidData(problems=problems)
    return paths
