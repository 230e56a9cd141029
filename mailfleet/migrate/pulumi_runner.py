"""``AutomationRunner``: the ``StackRunner`` on real stacks, through Pulumi's Automation API.

The program is the checkout's own (``Pulumi.yaml`` + ``__main__.py`` in ``root``), so it reads
the same tenant files, migration blocks included, as ``mailfleet plan``. Any backend works:
the one ``pulumi login`` (or ``PULUMI_BACKEND_URL``) points at. Secrets encrypted with a
passphrase are opened with ``PULUMI_CONFIG_PASSPHRASE`` (or ``PULUMI_CONFIG_PASSPHRASE_FILE``)
from the environment; nothing here reads or prints it.

``pulumi.automation`` is imported only inside the methods: the CLI stays fast and ``mailfleet``
never imports pulumi unless a command runs a real stack (docs/architecture.md; the
import-linter contracts in pyproject.toml and tests/cli/test_no_pulumi_import.py hold it). When the ``pulumi``
binary is missing every method raises ``RunnerError`` with one line saying so.

``unprotect`` shells out to ``pulumi state unprotect`` (the Automation API has no call for
it). ``state_move`` is ``pulumi state move`` done through ``export_stack``/``import_stack``
(``move_resources``), with one addition: a moved resource is pointed at the destination's own
provider of the same package, so the destination program's next ``up`` updates it in place
instead of replacing it for a provider change. Only URNs still in the source move, so a
resumed step moves nothing twice.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from mailfleet.migrate.runner import RunnerError, StackResource, UpResult

log = logging.getLogger("mailfleet.migrate.pulumi_runner")

MISSING_BINARY = (
    "the pulumi CLI is not installed (no `pulumi` on PATH): install it (https://www.pulumi.com/docs/install/) "
    "or point MAILFLEET_STACK_RUNNER at another stack runner"
)
_SKIP_TYPES = ("pulumi:pulumi:Stack",)


def require_pulumi_binary() -> str:
    """The path of the ``pulumi`` binary; ``RunnerError`` with one clear line when missing."""
    found = shutil.which("pulumi")
    if not found:
        raise RunnerError(MISSING_BINARY)
    return found


class AutomationRunner:
    """Runs ``up`` / reads state of the checkout's stacks with the Automation API."""

    def __init__(self, root: Path, tenants_dir: Path | None = None) -> None:
        require_pulumi_binary()  # fail before anything is written, with one clear line
        self.root = Path(root)
        self.tenants_dir = tenants_dir

    def _stack(self, name: str) -> Any:
        require_pulumi_binary()
        from pulumi import automation as auto

        # The program reads <MAILFLEET_ROOT>/tenants and the stack files (see __main__.py).
        env = {"MAILFLEET_ROOT": str(self.root)}
        try:
            return auto.select_stack(
                stack_name=name,
                work_dir=str(self.root),
                opts=auto.LocalWorkspaceOptions(env_vars=env),
            )
        except auto.errors.StackNotFoundError:
            raise RunnerError(f"stack {name!r} does not exist in the current Pulumi backend") from None
        except auto.errors.CommandError as exc:
            raise RunnerError(f"cannot select stack {name!r}: {_first_line(exc)}") from None

    def up(self, stack: str) -> UpResult:
        from pulumi import automation as auto

        s = self._stack(stack)
        try:
            result = s.up(on_output=lambda line: log.info("pulumi stack=%s %s", stack, line.rstrip()))
        except auto.errors.CommandError as exc:
            raise RunnerError(f"pulumi up -s {stack} failed: {_first_line(exc)}") from None
        changes = {op: [] for op in (result.summary.resource_changes or {})}
        return UpResult(stack=stack, changes=changes)

    def resources(self, stack: str) -> list[StackResource]:
        deployment = self._stack(stack).export_stack()
        out = []
        for res in deployment.deployment.get("resources", []):
            rtype = res.get("type", "")
            if rtype in _SKIP_TYPES or rtype.startswith("pulumi:providers:"):
                continue
            urn = res["urn"]
            out.append(
                StackResource(
                    urn=urn,
                    type=rtype,
                    name=urn.rsplit("::", 1)[-1],
                    inputs=res.get("inputs", {}),
                    outputs=res.get("outputs", {}),
                    protect=bool(res.get("protect")),
                    parent=res.get("parent", ""),
                )
            )
        return out

    def _cli(self, args: list[str]) -> None:
        binary = require_pulumi_binary()
        proc = subprocess.run(
            [binary, *args, "--yes", "--non-interactive"],
            cwd=self.root,
            env=os.environ.copy(),
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            message = (proc.stderr or proc.stdout).strip().splitlines()
            raise RunnerError(
                f"pulumi {' '.join(args[:2])} failed: {message[-1] if message else proc.returncode}"
            )

    def unprotect(self, stack: str, urns: list[str]) -> None:
        present = {r.urn for r in self.resources(stack) if r.protect}
        for urn in urns:
            if urn in present:
                self._cli(["state", "unprotect", "--stack", stack, urn])

    def state_move(self, src: str, dst: str, urns: list[str]) -> list[str]:
        from pulumi import automation as auto

        source, dest = self._stack(src), self._stack(dst)
        src_dep, dst_dep = source.export_stack(), dest.export_stack()
        new_src, new_dst, moved = move_resources(src_dep.deployment, dst_dep.deployment, urns, dst)
        if moved:
            # Destination first (as `pulumi state move` does): a crash in between leaves the
            # resources in both stacks, and a resumed move only drops them from the source.
            dest.import_stack(auto.Deployment(version=dst_dep.version, deployment=new_dst))
            source.import_stack(auto.Deployment(version=src_dep.version, deployment=new_src))
        return moved


def rename_stack(urn: str, stack: str) -> str:
    """``urn`` in stack ``stack`` (``urn:pulumi:<stack>::<project>::<type>::<name>``)."""
    head, _, rest = urn.partition("::")
    return f"{head.rsplit(':', 1)[0]}:{stack}::{rest}"


def move_resources(
    src: dict[str, Any], dst: dict[str, Any], urns: list[str], dst_stack: str
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Move ``urns`` (and their children) from deployment ``src`` to ``dst``; pure.

    The rules of ``pulumi state move``, plus one: a moved resource uses the destination's own
    provider of the same package when there is one (the destination program declares it with
    that provider, so the next ``up`` sees no provider change and updates in place), else a
    copy of its source provider. Parents not moved become the destination's root stack;
    dependencies on resources left behind are dropped. URNs already in ``dst`` are only removed
    from ``src`` (finishing an interrupted move). Returns (new src, new dst, moved URNs).
    """
    src_res = list(src.get("resources") or [])
    dst_res = list(dst.get("resources") or [])
    by_urn = {r["urn"]: r for r in src_res}
    todo = {u for u in urns if u in by_urn}
    grew = True
    while grew:
        grew = False
        for r in src_res:
            if r["urn"] not in todo and r.get("parent") in todo:
                todo.add(r["urn"])
                grew = True
    if not todo:
        return src, dst, []
    dst_urns = {r["urn"] for r in dst_res}
    root = next((r["urn"] for r in dst_res if r.get("type") == "pulumi:pulumi:Stack"), "")
    providers = {
        r["type"]: f"{r['urn']}::{r.get('id', '')}"
        for r in dst_res
        if r["type"].startswith("pulumi:providers:")
    }
    moved: list[str] = []
    for r in src_res:
        if r["urn"] not in todo:
            continue
        moved.append(r["urn"])
        new_urn = rename_stack(r["urn"], dst_stack)
        if new_urn in dst_urns:
            continue
        copy = dict(r)
        copy["urn"] = new_urn
        parent = r.get("parent", "")
        copy["parent"] = rename_stack(parent, dst_stack) if parent in todo else root
        ref = r.get("provider", "")
        if ref:
            prov_urn = ref.rsplit("::", 1)[0]
            prov = by_urn.get(prov_urn)
            package = prov["type"] if prov else ""
            if package in providers:
                copy["provider"] = providers[package]
            elif prov is not None:
                prov_copy = dict(prov)
                prov_copy["urn"] = rename_stack(prov_urn, dst_stack)
                prov_copy["parent"] = root
                dst_res.append(prov_copy)
                providers[package] = f"{prov_copy['urn']}::{prov.get('id', '')}"
                copy["provider"] = providers[package]
        copy["dependencies"] = [rename_stack(d, dst_stack) for d in r.get("dependencies") or [] if d in todo]
        copy["propertyDependencies"] = {
            k: [rename_stack(d, dst_stack) for d in v if d in todo]
            for k, v in (r.get("propertyDependencies") or {}).items()
        }
        dst_res.append(copy)
    new_src = {**src, "resources": [r for r in src_res if r["urn"] not in todo]}
    new_dst = {**dst, "resources": dst_res}
    return new_src, new_dst, moved


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    for line in text.splitlines():
        if "error:" in line:
            return line.strip()
    return text.splitlines()[0] if text else type(exc).__name__
