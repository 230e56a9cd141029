"""``AutomationRunner``: the ``StackRunner`` on real stacks, through the ``pulumi`` CLI.

The program is the checkout's own (``Pulumi.yaml`` + ``__main__.py`` in ``root``), so it reads
the same tenant files, migration blocks included, as ``mailfleet plan``. Any backend works:
the one ``pulumi login`` (or ``PULUMI_BACKEND_URL``) points at. Secrets encrypted with a
passphrase are opened with ``PULUMI_CONFIG_PASSPHRASE`` (or ``PULUMI_CONFIG_PASSPHRASE_FILE``)
from the environment; nothing here reads or prints it.

Every operation is one ``pulumi`` command run in ``root`` (``MAILFLEET_ROOT`` set), so what it
sends is exactly what an operator would type: ``stack export``/``stack import`` (state reads and
moves; secrets stay encrypted, nothing is written in clear), ``up``, ``state unprotect``,
``cancel`` and ``refresh``. (It began on the Automation API, which wraps the same commands but
cannot pass ``--import-pending-creates``.) ``pulumi`` (the SDK) is imported only for the texts
of a failed command, so the CLI stays fast (docs/architecture.md; the import-linter contracts in
pyproject.toml and tests/cli/test_no_pulumi_import.py hold it). When the ``pulumi`` binary is missing every method
raises ``RunnerError`` with one line saying so.

``state_move`` is ``pulumi state move`` done through ``stack export``/``stack import``
(``move_resources``), with one addition: a moved resource is pointed at the destination's own
provider of the same package, so the destination program's next ``up`` updates it in place
instead of replacing it for a provider change. Only URNs still in the source move, so a
resumed step moves nothing twice.

Interrupted updates (docs/migrate.md, "Interrupted stack runs"). A killed ``pulumi up``
leaves the backend's lock and, when it died inside a resource operation, ``pending_operations``
in the checkpoint. Pulumi since April 2022 (pulumi/pulumi#9293) only *warns* about pending
operations and goes on, creating a pending create a second time (pulumi/pulumi#11599): for a
Mailgun domain a 400 "already exists", for a route a silent duplicate. So ``up`` reads ``stack
export`` first and refuses a stack with pending operations (``StackBlocked``, one line naming the
stack and the command), and turns the CLI's lock refusal ("the stack is currently locked by N
lock(s)", Pulumi Cloud's "409 Conflict") into ``StackBlocked`` too. ``recover``
(``up(recover=True)``, ``migrate resume``) then does what Pulumi's "interrupted updates" guide
says: ``pulumi refresh --clear-pending-creates`` (after ``pulumi cancel`` when the refresh reports
a lock whose holder is a dead process on this host; a live or unknown holder is never
cancelled), importing with ``--import-pending-creates URN ID`` each pending create
``find_created`` proves went through.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from mailfleet.desired import naming
from mailfleet.migrate.runner import (
    LockHolder,
    RunnerError,
    StackBlocked,
    StackResource,
    UpResult,
    locked_error,
    pending_error,
    process_alive,
)

log = logging.getLogger("mailfleet.migrate.pulumi_runner")

MISSING_BINARY = (
    "the pulumi CLI is not installed (no `pulumi` on PATH): install it (https://www.pulumi.com/docs/install/) "
    "or point MAILFLEET_STACK_RUNNER at another stack runner"
)
_SKIP_TYPES = ("pulumi:pulumi:Stack",)
# What the CLI prints when a stack is locked: the DIY backends (file, S3, GCS, Azure Blob) name
# each lock file and its holder (``_HOLDER``); Pulumi Cloud answers 409. The texts themselves
# are the SDK's (``pulumi.automation.errors``, what the Automation API raises
# ``ConcurrentUpdateError`` on), read only when a command failed.
_LOCKED_SENTENCE = re.compile(r"the stack is currently locked by \d+ lock\(s\)\.[^\n]*")
_HOLDER = re.compile(r"created by (?P<user>[^@\s]+)@(?P<host>\S+) \(pid (?P<pid>\d+)\) at (?P<at>\S+)")
_NO_STACK = re.compile(r"no stack named '[^']*' found")

# Given a pending create (the ``resource`` of a ``pending_operations`` entry: ``type``, ``urn``,
# ``inputs``), the provider ID of the real thing when it exists (the create went through), else
# None (then the create is cleared and the next ``up`` creates it).
FindCreated = Callable[[dict[str, Any]], str | None]


def require_pulumi_binary() -> str:
    """The path of the ``pulumi`` binary; ``RunnerError`` with one clear line when missing."""
    found = shutil.which("pulumi")
    if not found:
        raise RunnerError(MISSING_BINARY)
    return found


def parse_lock_holders(text: str) -> list[LockHolder]:
    """The holders a DIY backend lists after "the stack is currently locked" (``dead`` known
    only for a process of this host)."""
    holders = []
    for m in _HOLDER.finditer(text):
        pid = int(m["pid"])
        alive = process_alive(m["host"], pid)
        holders.append(LockHolder(m["user"], m["host"], pid, m["at"], None if alive is None else not alive))
    return holders


class AutomationRunner:
    """Runs ``up`` / reads and moves state of the checkout's stacks with the ``pulumi`` CLI."""

    def __init__(
        self, root: Path, tenants_dir: Path | None = None, *, find_created: FindCreated | None = None
    ) -> None:
        require_pulumi_binary()  # fail before anything is written, with one clear line
        self.root = Path(root)
        self.tenants_dir = tenants_dir
        self.find_created = find_created

    # -- the CLI ---------------------------------------------------------------------------

    def _run(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        binary = require_pulumi_binary()
        # The program reads <MAILFLEET_ROOT>/tenants and the stack files (see __main__.py).
        env = {**os.environ, "MAILFLEET_ROOT": str(self.root)}
        return subprocess.run([binary, *args], cwd=self.root, env=env, capture_output=True, text=True)

    def _call(self, command: str, stack: str, args: list[str]) -> subprocess.CompletedProcess[str]:
        """Run ``pulumi <args>``; a failure becomes ``StackBlocked`` (lock) or ``RunnerError``."""
        proc = self._run(args)
        if proc.returncode == 0:
            return proc
        from pulumi.automation import errors as sdk

        text = f"{proc.stderr or ''}\n{proc.stdout or ''}"
        if sdk.diy_backend_conflict_text in text:
            m = _LOCKED_SENTENCE.search(text)
            raise locked_error(
                stack, m.group(0) if m else sdk.diy_backend_conflict_text, parse_lock_holders(text)
            )
        if sdk.conflict_text in text:
            raise locked_error(stack, sdk.conflict_text, [])
        if _NO_STACK.search(text):
            raise RunnerError(f"stack {stack!r} does not exist in the current Pulumi backend")
        raise RunnerError(f"{command} -s {stack} failed: {_error_line(text) or f'exit {proc.returncode}'}")

    def export(self, stack: str) -> dict[str, Any]:
        """``pulumi stack export``: the checkpoint (secrets left encrypted)."""
        proc = self._call("pulumi stack export", stack, ["stack", "export", "--stack", stack])
        try:
            doc = json.loads(proc.stdout)
        except ValueError:
            raise RunnerError(f"pulumi stack export -s {stack} printed no deployment JSON") from None
        return doc if isinstance(doc, dict) else {}

    def _import(self, stack: str, doc: dict[str, Any]) -> None:
        """``pulumi stack import --file``: a temporary file, removed at once (secrets encrypted)."""
        fd, path = tempfile.mkstemp(prefix="mailfleet-state-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(doc, fh)
            self._call("pulumi stack import", stack, ["stack", "import", "--stack", stack, "--file", path])
        finally:
            os.unlink(path)

    def pending_operations(self, stack: str) -> list[dict[str, Any]]:
        """``pending_operations`` of the checkpoint (``[]`` when none)."""
        return list((self.export(stack).get("deployment") or {}).get("pending_operations") or [])

    # -- StackRunner -----------------------------------------------------------------------

    def up(self, stack: str, *, recover: bool = False, tenants: Sequence[str] | None = None) -> UpResult:
        """``pulumi up``; with ``recover``, a stack left blocked is recovered once, then retried.
        ``tenants``: targeted at those tenants' components and their children (``target_args``)."""
        try:
            return self._up(stack, tenants)
        except StackBlocked as exc:
            if not recover:
                raise
            log.warning("stack blocked stack=%s reason=%s: recovering", stack, exc.reason)
        self.recover(stack)
        return self._up(stack, tenants)

    def project_name(self) -> str:
        """The Pulumi project's name (``name:`` in the checkout's ``Pulumi.yaml``): part of every URN."""
        try:
            doc = yaml.safe_load((self.root / "Pulumi.yaml").read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise RunnerError(f"{self.root / 'Pulumi.yaml'}: cannot read the project name ({exc})") from None
        name = doc.get("name") if isinstance(doc, dict) else None
        if not isinstance(name, str) or not name:
            raise RunnerError(f"{self.root / 'Pulumi.yaml'}: name: missing")
        return name

    def target_args(self, stack: str, tenants: Sequence[str]) -> list[str]:
        """``--target`` per tenant's ``TenantMail`` component URN, then ``--target-dependents``:
        Pulumi counts a child as a dependent of its parent, so the component's whole subtree
        (domains, routes, webhooks, credential, records, outbound setting) is in the update,
        including deletes of children the program no longer declares; nothing else is."""
        project = self.project_name()
        args: list[str] = []
        for slug in sorted(set(tenants)):
            args += [
                "--target",
                f"urn:pulumi:{stack}::{project}::{naming.COMPONENT_TYPE}::{naming.component(slug)}",
            ]
        return [*args, "--target-dependents"]

    def _up(self, stack: str, tenants: Sequence[str] | None = None) -> UpResult:
        if tenants is not None and not tenants:
            return UpResult(stack=stack, changes={})
        targets = self.target_args(stack, tenants) if tenants is not None else []
        pending = self.pending_operations(stack)
        if pending:
            raise pending_error(stack, pending)
        proc = self._call(
            "pulumi up",
            stack,
            ["up", "--yes", "--skip-preview", "--non-interactive", "--stack", stack, *targets],
        )
        for line in proc.stdout.splitlines():
            log.info("pulumi stack=%s %s", stack, line.rstrip())
        return UpResult(stack=stack, changes={})

    def resources(self, stack: str) -> list[StackResource]:
        out = []
        for res in (self.export(stack).get("deployment") or {}).get("resources") or []:
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

    def unprotect(self, stack: str, urns: list[str]) -> None:
        present = {r.urn for r in self.resources(stack) if r.protect}
        for urn in urns:
            if urn in present:
                self._call(
                    "pulumi state unprotect",
                    stack,
                    ["state", "unprotect", "--stack", stack, urn, "--yes", "--non-interactive"],
                )

    def state_move(self, src: str, dst: str, urns: list[str]) -> list[str]:
        src_doc, dst_doc = self.export(src), self.export(dst)
        new_src, new_dst, moved = move_resources(
            src_doc.get("deployment") or {}, dst_doc.get("deployment") or {}, urns, dst
        )
        if moved:
            # Destination first (as `pulumi state move` does): a crash in between leaves the
            # resources in both stacks, and a resumed move only drops them from the source.
            self._import(dst, {**dst_doc, "deployment": new_dst})
            self._import(src, {**src_doc, "deployment": new_src})
        return moved

    # -- recovery --------------------------------------------------------------------------

    def cancel(self, stack: str) -> None:
        """``pulumi cancel``: drop the stack's lock (the DIY backends delete the lock file)."""
        self._call("pulumi cancel", stack, ["cancel", "--yes", "--non-interactive", "--stack", stack])

    def refresh(
        self,
        stack: str,
        *,
        clear_pending_creates: bool = False,
        import_pending_creates: dict[str, str] | None = None,
    ) -> None:
        """``pulumi refresh``: state read back from the providers; pending updates and deletes
        are resolved by the read, pending creates only with these options (non-interactive)."""
        args = ["refresh", "--yes", "--skip-preview", "--non-interactive", "--stack", stack]
        for urn, rid in (import_pending_creates or {}).items():
            # A string array of [URN ID] pairs: one value per flag, paired in order.
            args += ["--import-pending-creates", urn, "--import-pending-creates", rid]
        if clear_pending_creates:
            args.append("--clear-pending-creates")
        self._call("pulumi refresh", stack, args)

    def recover(self, stack: str) -> list[str]:
        """Clear what a dead update left on ``stack`` (module docstring); the commands run."""
        imports: dict[str, str] = {}
        if self.find_created is not None:
            for op in self.pending_operations(stack):
                res = op.get("resource") or {}
                if op.get("type") == "creating" and res.get("urn"):
                    found = self.find_created(res)
                    # One real thing is imported once: a second pending create that finds it
                    # (two routes alike) is cleared, and the next `up` creates its own.
                    if found and found not in imports.values():
                        imports[res["urn"]] = found
        done: list[str] = []
        refresh = f"pulumi refresh -s {stack} --clear-pending-creates" + (
            f" --import-pending-creates ({len(imports)})" if imports else ""
        )
        try:
            self.refresh(stack, clear_pending_creates=True, import_pending_creates=imports)
        except StackBlocked as exc:
            if exc.reason != "locked" or not exc.holder_dead:
                raise
            log.warning(
                "stack locked by a dead update stack=%s holders=%s: pulumi cancel", stack, exc.holders
            )
            self.cancel(stack)
            done.append(f"pulumi cancel -s {stack}")
            self.refresh(stack, clear_pending_creates=True, import_pending_creates=imports)
        done.append(refresh)
        return done


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


def _error_line(text: str) -> str:
    """The CLI's ``error:`` line (the last one), else its last non-empty line."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    return (errors or lines or [""])[-1]
