"""Validating parsed tenant and stack files into models, collecting every problem.

Loading never stops at the first bad file: callers get the valid models and the full list of
``Problem``s, one per bad field. Parsing (YAML, duplicate keys, file listing) is
``mailfleet.loader``'s; the rules that need records or other tenants are
``mailfleet.desired.rules``'s, run by ``mailfleet.project.Project``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from mailfleet.errors import InvalidData, Problem
from mailfleet.loader import parse_yaml, tenant_paths, yaml_problem
from mailfleet.model.stack import CONFIG_KEYS, FIELD_KEYS, StackConfig, stack_file
from mailfleet.model.tenant import Tenant


def pydantic_problems(where: str, exc: ValidationError, prefix: str = "") -> list[Problem]:
    """One ``Problem`` per pydantic error, with the field path as ``a.b.0``."""
    problems = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-after"))
        field_name = prefix + loc if loc else prefix.rstrip(".")
        message = err["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        if err["type"] == "extra_forbidden":
            message = "unknown field"
        elif err["type"] == "missing":
            message = "required field is missing"
        problems.append(Problem(where, field_name, message))
    return problems


@dataclass
class Loaded:
    """The valid tenants, by slug, and every problem found while loading."""

    tenants: dict[str, Tenant] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    paths: dict[str, Path] = field(default_factory=dict)

    def raise_for_problems(self) -> None:
        if self.problems:
            raise InvalidData(problems=self.problems)


def tenant_from_data(where: str, data: Any, expected_slug: str | None) -> tuple[Tenant | None, list[Problem]]:
    """Validate already-parsed YAML ``data`` as a tenant."""
    if data is None:
        return None, [Problem(where, "", "file is empty")]
    if not isinstance(data, dict):
        return None, [Problem(where, "", f"top level must be a mapping, not {type(data).__name__}")]
    try:
        tenant = Tenant.model_validate(data)
    except ValidationError as exc:
        return None, pydantic_problems(where, exc)
    if expected_slug is not None and tenant.slug != expected_slug:
        return None, [
            Problem(
                where,
                "slug",
                f"slug {tenant.slug!r} does not match the file name {expected_slug + '.yaml'!r}",
            )
        ]
    return tenant, []


def load_tenant_file(path: Path) -> tuple[Tenant | None, list[Problem]]:
    where = str(path)
    if not path.name.endswith(".yaml"):
        return None, [Problem(where, "", "tenant files end in .yaml (named tenants/<slug>.yaml)")]
    try:
        text = path.read_bytes()
    except OSError as exc:
        return None, [Problem(where, "", f"cannot read: {exc.strerror}")]
    if not text.strip():
        return None, [Problem(where, "", "file is empty")]
    try:
        data = parse_yaml(text)
    except yaml.YAMLError as exc:
        return None, [yaml_problem(where, exc)]
    return tenant_from_data(where, data, path.name[: -len(".yaml")])


def load_tenants(tenants_dir: Path, paths: list[Path] | None = None) -> Loaded:
    """Load every tenant file (or just ``paths``); never raises for bad files."""
    loaded = Loaded()
    for path in paths if paths is not None else tenant_paths(tenants_dir):
        tenant, problems = load_tenant_file(path)
        if problems:
            loaded.problems.extend(problems)
            continue
        assert tenant is not None
        loaded.tenants[tenant.slug] = tenant
        loaded.paths[tenant.slug] = path
    return loaded


# Secret settings the Pulumi program reads (components/secrets.py); the stack file may hold
# them only in Pulumi's encrypted form. ``SECRET_MAPS`` are maps of secrets (``--path`` keys).
SECRET_KEYS = ("mailfleet:credentialSeed", "mailfleet:smtpPasswords")
SECRET_MAPS = ("mailfleet:smtpPasswords",)


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def stack_from_data(where: str, name: str, data: Any) -> tuple[StackConfig | None, list[Problem]]:
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        return None, [Problem(where, "config", "stack file needs a 'config:' mapping")]
    config = data["config"]
    values: dict[str, Any] = {"name": name}
    problems = []
    for key, value in config.items():
        if key in CONFIG_KEYS:
            if _is_secret(value):
                problems.append(Problem(where, f"config.{key}", "must not be a secret"))
                continue
            values[CONFIG_KEYS[key]] = value
        elif key in SECRET_KEYS:
            # A map of secrets may also be stored as one secret (a JSON object, encrypted whole).
            is_map = key in SECRET_MAPS and isinstance(value, dict) and not _is_secret(value)
            leaves = list(value.values()) if is_map else [value]
            if not leaves or not all(_is_secret(v) for v in leaves):
                problems.append(
                    Problem(where, f"config.{key}", "must be set with `pulumi config set --secret`")
                )
        elif isinstance(key, str) and key.startswith("mailfleet:"):
            known = ", ".join(sorted([*(k for k in CONFIG_KEYS if k.startswith("mailfleet:")), *SECRET_KEYS]))
            problems.append(Problem(where, f"config.{key}", f"unknown setting (known: {known})"))
    try:
        stack = StackConfig.model_validate(values)
        return (None if problems else stack), problems
    except ValidationError as exc:
        for p in pydantic_problems(where, exc):
            head, dot, rest = p.field.partition(".")
            key = FIELD_KEYS.get(head, head) + dot + rest
            problems.append(Problem(where, f"config.{key}", p.message))
        return None, problems


def load_stack(stacks_dir: Path, name: str) -> StackConfig:
    """Load ``Pulumi.<name>.yaml``; raises ``InvalidData`` listing every problem."""
    path = stack_file(stacks_dir, name)
    where = str(path)
    try:
        data = parse_yaml(path.read_bytes())
    except FileNotFoundError:
        raise InvalidData(
            problems=[Problem(where, "", f"stack file for stack {name!r} does not exist")]
        ) from None
    except yaml.YAMLError as exc:
        raise InvalidData(problems=[yaml_problem(where, exc)]) from None
    stack, problems = stack_from_data(where, name, data)
    if problems or stack is None:
        raise InvalidData(problems=problems)
    return stack
