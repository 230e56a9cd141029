"""Reading files: the one YAML loader, and the listing of a tenants directory.

A ground-floor utility: it knows files and YAML, not tenants. ``MailfleetLoader`` is the one
YAML loader of the project (libyaml's C parser when present, with duplicate keys rejected);
the benchmarks' "YAML-parse floor" uses it too. Turning parsed data into validated models is
``mailfleet.model.load``'s job.
"""

from __future__ import annotations

import logging
import os
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


def parse_yaml(text: str | bytes) -> Any:
    """Parse one YAML document with ``MailfleetLoader``."""
    return yaml.load(text, Loader=MailfleetLoader)


def yaml_problem(where: str, exc: yaml.YAMLError) -> Problem:
    mark = getattr(exc, "problem_mark", None)
    line = f"line {mark.line + 1}" if mark is not None else ""
    if isinstance(exc, DuplicateKey):
        return Problem(where, line, str(exc.problem))
    what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return Problem(where, line, f"YAML syntax error: {what}")


def tenant_paths(tenants_dir: Path) -> list[Path]:
    """Every ``*.yaml`` file directly in ``tenants_dir``, sorted by name."""
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
    with entries:
        files = [e.name for e in entries if e.is_file()]
    names = sorted(n for n in files if n.endswith(".yaml"))
    for ignored in sorted(n for n in files if n.endswith(".yml")):
        log.warning("ignored tenant file: path=%s reason='tenant files end in .yaml'", tenants_dir / ignored)
    return [tenants_dir / n for n in names]
