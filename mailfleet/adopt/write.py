"""Writing the ``adopted:`` block of an existing tenant file.

Contract: only the top-level ``adopted:`` block changes (``tenantfile.replace_block``); every
other byte, comments included, stays. The new text must load as the tenant (schema, file name,
the tenant's own rules with its stack) and carry exactly the new block, or nothing is written.
The write replaces the file atomically under the tenants directory's lock, after checking
again under the lock that the block on disk is still the one the snapshot was compared with
(two adopts of one tenant at once: the second refuses). The checks also run once before the
lock, so a refused write never creates the lock file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mailfleet.desired.rules import tenant_problems
from mailfleet.errors import InvalidData, Problem
from mailfleet.fsutil import atomic_write, locked
from mailfleet.loader import parse_yaml
from mailfleet.model.adoption import Adoption, DnsAdoption
from mailfleet.model.load import tenant_from_data
from mailfleet.model.stack import StackConfig
from mailfleet.project.tenantfile import dump_yaml, replace_block

KEY = "adopted"


def block_text(adoption: Adoption) -> str:
    """The ``adopted:`` block as YAML, in the form ``tenant add`` writes it."""
    return dump_yaml({KEY: adoption.model_dump(mode="json", exclude_none=True, exclude_defaults=True)})


def _parsed(where: str, text: str) -> Any:
    try:
        return parse_yaml(text)
    except yaml.YAMLError as exc:
        reason = " ".join(str(exc).split())
        raise InvalidData(problems=[Problem(where, "", f"not valid YAML: {reason}")]) from None


def new_text(
    path: Path, slug: str, adoption: Adoption, expected: DnsAdoption | None, stack: StackConfig
) -> str:
    """The file's text with ``adoption`` as its block, checked (see the module docstring)."""
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidData(problems=[Problem(where, "", f"cannot read: {exc.strerror or exc}")]) from None
    current, problems = tenant_from_data(where, _parsed(where, text), slug)
    if problems or current is None:
        raise InvalidData(problems=problems)
    now = current.adopted.dns if current.adopted is not None else None
    if now != expected:
        raise InvalidData(
            problems=[
                Problem(where, "adopted.dns", "changed while the zone was read (another adopt?); adopt again")
            ]
        )
    result = replace_block(text, KEY, block_text(adoption))
    tenant, problems = tenant_from_data(where, _parsed(where, result), slug)
    if tenant is not None:
        problems = tenant_problems(tenant, where, [stack])
    if problems or tenant is None:
        raise InvalidData(
            problems=[*problems, Problem(where, "adopted", "not written: the file would not load")]
        )
    if tenant.adopted != adoption:
        raise InvalidData(problems=[Problem(where, "adopted", "not written: the block did not round-trip")])
    return result


def write(
    tenants_dir: Path,
    path: Path,
    slug: str,
    adoption: Adoption,
    expected: DnsAdoption | None,
    stack: StackConfig,
) -> None:
    """Replace the ``adopted:`` block of ``path`` atomically, under the directory's lock."""
    new_text(path, slug, adoption, expected, stack)
    with locked(tenants_dir):
        text = new_text(path, slug, adoption, expected, stack)
        try:
            atomic_write(path, text.encode("utf-8"))
        except OSError as exc:
            raise InvalidData(
                problems=[Problem(str(path), "", f"cannot write: {exc.strerror or exc}")]
            ) from None
