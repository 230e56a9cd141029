"""Settings a stack imports from Pulumi ESC environments.

A stack file may list ESC environments (``environment:`` in ``Pulumi.<stack>.yaml``, as
``pulumi config env add`` writes it, or the older ``environment: {imports: [...]}``). When
Pulumi runs, each environment's ``pulumiConfig`` values become stack configuration: the
environments are merged in order (a later one wins), and a key set in the stack file itself
wins over them; an unqualified key (``platformDomain``) belongs to the project's namespace
(``mailfleet:platformDomain``).

Offline commands read the same settings through an ``EscResolver``: ``EscCli`` runs
``esc env open ENV --format json`` (the ``esc`` binary on PATH, or ``$MAILFLEET_ESC``) and takes
the ``pulumiConfig`` of the result; tests give a fake. When an environment cannot be opened
(no ``esc`` binary, not logged in, a failure) the resolver raises ``EscUnavailable`` and the
settings the stack file lacks are reported as "unresolved: needs ESC".

Only the non-secret ``mailfleet:*``/``aws:region`` settings are taken from an environment
(``CONFIG_KEYS``); every other value, secrets included, is dropped as soon as it is read and
never stored, logged or printed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Any, Protocol

ESC_BINARY_ENV = "MAILFLEET_ESC"  # the esc binary to run (default: `esc` on PATH)
PROJECT_NAMESPACE = "mailfleet"  # Pulumi.yaml's `name`: the namespace of unqualified keys
OPEN_TIMEOUT = 60.0


class EscUnavailable(Exception):
    """An environment could not be opened; the message says why (never a value)."""


class EscResolver(Protocol):
    def pulumi_config(self, environment: str) -> dict[str, Any]:
        """The ``pulumiConfig`` values of ``environment`` opened; raises ``EscUnavailable``."""
        ...


@dataclass
class EscCli:
    """Opens environments with the ``esc`` CLI, once per environment per process."""

    binary: str | None = None
    timeout: float = OPEN_TIMEOUT
    _cache: dict[str, dict[str, Any] | EscUnavailable] = field(default_factory=dict)

    def pulumi_config(self, environment: str) -> dict[str, Any]:
        cached = self._cache.get(environment)
        if cached is None:
            try:
                cached = self._open(environment)
            except EscUnavailable as exc:
                cached = exc
            self._cache[environment] = cached
        if isinstance(cached, EscUnavailable):
            raise cached
        return cached

    def _open(self, environment: str) -> dict[str, Any]:
        name = self.binary or os.environ.get(ESC_BINARY_ENV) or "esc"
        path = shutil.which(name)
        if path is None:
            raise EscUnavailable(f"the esc CLI ({name}) is not installed")
        argv = [path, "env", "open", environment, "--format", "json"]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout, check=False)
        except subprocess.TimeoutExpired:
            raise EscUnavailable(f"`esc env open {environment}` took over {self.timeout:g} s") from None
        except OSError as exc:
            raise EscUnavailable(f"cannot run {name}: {exc.strerror or exc}") from None
        if proc.returncode != 0:
            # esc's own error line (e.g. not logged in, no such environment); never stdout
            last = next((ln.strip() for ln in reversed(proc.stderr.splitlines()) if ln.strip()), "")
            reason = f"`esc env open {environment}` failed (exit {proc.returncode})"
            raise EscUnavailable(f"{reason}: {last[:200]}" if last else reason)
        try:
            data = json.loads(proc.stdout)
        except ValueError:
            raise EscUnavailable(f"`esc env open {environment}` did not print JSON") from None
        config = data.get("pulumiConfig", {}) if isinstance(data, dict) else None
        if not isinstance(config, dict):
            raise EscUnavailable(f"`esc env open {environment}`: pulumiConfig is not a mapping")
        return config


_default: EscResolver | None = None


def default_resolver() -> EscResolver:
    """The process-wide resolver (``EscCli``; one ``esc env open`` per environment per run)."""
    global _default
    if _default is None:
        _default = EscCli()
    return _default


def set_default_resolver(resolver: EscResolver | None) -> None:
    """Replace the process-wide resolver (tests); ``None`` goes back to ``EscCli``."""
    global _default
    _default = resolver


def environments(data: dict[str, Any]) -> tuple[list[str], str]:
    """The environments a stack file imports, and a problem message ('' when fine)."""
    value = data.get("environment")
    if value is None:
        return [], ""
    if isinstance(value, dict) and set(value) <= {"imports"}:
        value = value.get("imports") or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        return [], "must be a list of ESC environment names (as `pulumi config env add` writes it)"
    return list(value), ""


def qualified(key: str) -> str:
    return key if ":" in key else f"{PROJECT_NAMESPACE}:{key}"


def imported_config(envs: list[str], wanted: set[str], resolver: EscResolver) -> dict[str, tuple[Any, str]]:
    """key -> (value, environment) for the ``wanted`` keys the environments set, merged in
    order (a later environment wins). Raises ``EscUnavailable`` when one cannot be opened."""
    out: dict[str, tuple[Any, str]] = {}
    for env in envs:
        for key, value in resolver.pulumi_config(env).items():
            if isinstance(key, str) and qualified(key) in wanted:
                out[qualified(key)] = (value, env)
    return out
