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
from mailfleet.loader import parse_yaml, scan_tenants, yaml_problem
from mailfleet.model import esc as esc_mod
from mailfleet.model.stack import CONFIG_KEYS, FIELD_KEYS, StackConfig, stack_file
from mailfleet.model.tenant import Tenant


def pydantic_problems(where: str, exc: ValidationError, prefix: str = "") -> list[Problem]:
    """One ``Problem`` per pydantic error, with the field path as ``a.b.0``."""
    problems = []
    # The input is looked at (its type only), never put into a message.
    for err in exc.errors(include_url=False, include_input=True):
        loc = ".".join(
            str(p) for p in err["loc"] if not str(p).startswith(("function-after", "function-before"))
        )
        field_name = prefix + loc if loc else prefix.rstrip(".")
        message = err["msg"]
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        if err["type"] == "extra_forbidden":
            message = "unknown field"
        elif err["type"] == "missing":
            message = "required field is missing"
        elif err["type"] == "int_type" and isinstance(err.get("input"), float):
            message = "Input should be a valid integer, written without a decimal point (not a float)"
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
    """Load every tenant file (or just ``paths``); never raises for bad files.

    A ``*.yaml`` entry of the directory that is not a readable file (a directory, a dangling
    symlink, a symlink loop) is a problem like a bad file (``mailfleet.loader.scan_tenants``).
    """
    loaded = Loaded()
    if paths is None:
        paths, loaded.problems = scan_tenants(tenants_dir)
    for path in paths:
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

# Any other setting whose name says it holds a secret must be encrypted too: the providers'
# ``mailgun:apiKey``, ``cloudflare:apiToken``, ``aws:accessKey``/``aws:secretKey``, and keys
# nested in structured settings. ``_SECRET_WORDS`` anywhere in the name; ``key(s)`` only at its
# end (apiKey, accessKey, private_key, apiKeys): a name with ``key`` elsewhere names a key
# rather than holding one (keyPair, keyName, kmsKeyId), and a public key is not a secret.
_SECRET_WORDS = ("token", "password", "passwd", "secret")
_SECRET_ENDINGS = ("key", "keys")
_NOT_SECRET_ENDINGS = ("publickey", "publickeys")
SECRET_HINT = "must be set with `pulumi config set --secret`"


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def secret_name(key: str) -> bool:
    """Whether a config key (``ns:name`` or a nested key) names a secret, by its name alone."""
    name = "".join(c for c in key.rpartition(":")[2].lower() if c.isalnum())
    if any(word in name for word in _SECRET_WORDS):
        return True
    return name.endswith(_SECRET_ENDINGS) and not name.endswith(_NOT_SECRET_ENDINGS)


def _has_clear_value(value: Any, visited: set[int] | None = None) -> bool:
    """Whether anything under ``value`` is not a ``secure:`` value.

    A search over the nodes, each looked at once: YAML aliases share nodes (and may form a
    cycle), so walking every path could take exponential time.
    """
    if _is_secret(value):
        return False
    if not isinstance(value, dict | list):
        return True
    visited = set() if visited is None else visited
    if id(value) in visited:
        return False
    visited.add(id(value))
    items = value.values() if isinstance(value, dict) else value
    return any(_has_clear_value(v, visited) for v in items)


def _clear_secrets(path: str, value: Any, seen: set[int]) -> list[str]:
    """Paths of secret-named keys under the structured setting ``value`` holding a clear value
    (a node shared through aliases is reported at the first path it is met)."""
    if _is_secret(value) or not isinstance(value, dict | list) or id(value) in seen:
        return []
    seen.add(id(value))
    items = value.items() if isinstance(value, dict) else enumerate(value)
    out = []
    for key, item in items:
        sub = f"{path}.{key}"
        if isinstance(key, str) and secret_name(key) and _has_clear_value(item):
            out.append(sub)
        else:
            out.extend(_clear_secrets(sub, item, seen))
    return out


def stack_from_data(
    where: str, name: str, data: Any, esc: esc_mod.EscResolver | None = None
) -> tuple[StackConfig | None, list[Problem]]:
    """Validate a parsed stack file. Settings imported from Pulumi ESC environments
    (``environment:``) are read through ``esc`` (default: ``esc_mod.default_resolver()``) the
    same way as those in the file, which win over them (see ``mailfleet.model.esc``)."""
    if not isinstance(data, dict):
        return None, [Problem(where, "config", "stack file needs a 'config:' mapping")]
    envs, env_problem = esc_mod.environments(data)
    if env_problem:
        return None, [Problem(where, "environment", env_problem)]
    config = data.get("config")
    if config is None and envs:
        config = {}
    if not isinstance(config, dict):
        return None, [Problem(where, "config", "stack file needs a 'config:' mapping")]
    values: dict[str, Any] = {"name": name}
    problems = []
    imported: dict[str, tuple[Any, str]] = {}
    unresolved = ""
    if envs:
        try:
            imported = esc_mod.imported_config(
                envs, set(CONFIG_KEYS), esc if esc is not None else esc_mod.default_resolver()
            )
        except esc_mod.EscUnavailable as exc:
            unresolved = str(exc)
    for key, (value, _env) in imported.items():
        if key not in config:
            values[CONFIG_KEYS[key]] = value
    seen: set[int] = set()
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
                problems.append(Problem(where, f"config.{key}", SECRET_HINT))
        elif isinstance(key, str) and key.startswith("mailfleet:"):
            known = ", ".join(sorted([*(k for k in CONFIG_KEYS if k.startswith("mailfleet:")), *SECRET_KEYS]))
            problems.append(Problem(where, f"config.{key}", f"unknown setting (known: {known})"))
        elif isinstance(key, str) and secret_name(key) and _has_clear_value(value):
            problems.append(Problem(where, f"config.{key}", SECRET_HINT))
        else:
            for path in _clear_secrets(f"config.{key}", value, seen):
                problems.append(Problem(where, path, "must be set with `pulumi config set --secret --path`"))
    try:
        stack = StackConfig.model_validate(values)
        return (None if problems else stack), problems
    except ValidationError as exc:
        for p in pydantic_problems(where, exc):
            head, dot, rest = p.field.partition(".")
            key = FIELD_KEYS.get(head, head) + dot + rest
            message = p.message
            if message == "required field is missing" and envs:
                if unresolved:
                    message = f"unresolved: needs ESC (environment {', '.join(envs)}: {unresolved})"
                else:
                    message += f" (not in the stack file nor in ESC environment {', '.join(envs)})"
            elif head in FIELD_KEYS and FIELD_KEYS[head] in imported and FIELD_KEYS[head] not in config:
                message += f" (from ESC environment {imported[FIELD_KEYS[head]][1]})"
            problems.append(Problem(where, f"config.{key}", message))
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
