"""``MockStackRunner``: the engine stand-in, a ``StackRunner`` that runs the REAL program under mocks.

It plays the Pulumi engine and a self-managed ("DIY") backend, closely enough that what a real
``pulumi up`` leaves behind when it dies can be shown and recovered from
(docs/migrate.md, "The engine stand-in"):

- **The checkpoint is the only state.** Every operation (``up``, ``refresh``, ``state_move``,
  ``unprotect``, ``resources``) reads the stack's checkpoint afresh: ``<state_dir>/<stack>.json``
  in ``pulumi stack export``'s shape (``{"version": 3, "deployment": {"resources": [...],
  "pending_operations": [...]}}``). Nothing is cached between operations, so another process's
  (or another runner's) ``up`` of the same stack is seen. Without ``state_dir`` the checkpoints
  live in this runner's memory (one process, one writer: the same rules, no files).
- **Steps are checkpointed as Pulumi journals them**: before a resource operation the checkpoint
  gets a ``pending_operations`` entry (``{"resource": {...}, "type": "creating"|"updating"|
  "deleting"|"importing"}``), then the provider is called, then the entry is replaced by the
  result. A provider error drops the entry (Pulumi knows the step failed); a kill does not.
- **A lock per stack**, taken for the whole ``up``, ``refresh``, ``state_move`` and
  ``unprotect``, as the DIY backends do: a lock file per holder under ``<state_dir>/locks/<stack>/``
  naming user, host, pid and time. A second operation fails with the backend's sentence ("the
  stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete
  the lock file with `pulumi cancel`."), whether the holder is alive or not: a killed process's
  lock stays until ``cancel``.
- **Kills**: ``kill_hook(stack, op, urn)`` runs after each provider call and before the
  checkpoint records it. Raising there (``Killed``, or anything) stands for the process dying on
  the spot: nothing more is written or sent, the lock and the pending operation stay. From a
  subprocess, ``from_env`` turns ``MAILFLEET_MOCK_KILL_AFTER=<op>:<urn part>`` into a real SIGKILL.
- **Two ``up``s.** ``pulumi_up`` is what the CLI does with pending operations (since
  pulumi/pulumi#9293): warn (``self.warnings``), go on, keep pending creates, and so create a pending
  create a second time (pulumi/pulumi#11599). ``up`` is the ``StackRunner`` method and behaves as
  ``AutomationRunner.up``: it refuses a stack with pending operations (``StackBlocked``), and
  with ``recover=True`` recovers once and retries.
- **Recovery, as the CLI offers it**: ``cancel`` (drops the locks), ``refresh`` (reads the fake:
  a resource in state but gone from Mailgun is dropped, a changed webhook or route is read
  back; a thing created in Mailgun but not in state stays unknown; pending updates and deletes
  are resolved by the read; pending creates are kept unless ``clear_pending_creates`` or
  ``import_pending_creates={urn: id}``), and ``recover`` (what ``AutomationRunner.recover``
  does: ``refresh --clear-pending-creates``, ``cancel`` first when the lock's holder is dead,
  importing the pending creates the fake shows went through when ``resolve_created``).
- **Resource options**: ``import`` (the registration's ``importId``: the thing is read from the
  fake and must exist there, else the ``up`` fails with Pulumi's "resource '<id>' does not
  exist"; it is recorded with op ``import``, never created; declared inputs that differ are then
  updated in place, as Pulumi >= 3.190 does, pulumi/pulumi#19339; a difference that needs a
  replacement fails), ``retainOnDelete`` (no longer declared: it leaves the state, the fake's
  delete is never called, op ``delete-retained``), ``ignoreChanges`` (those inputs keep the
  state's value when diffing), ``protect`` (a delete or replace fails the ``up``).
- **The diff**: new URN -> create; changed inputs -> update; a change to a field the provider
  replaces on (``REPLACE_KEYS``), or a provider whose ``region`` differs -> replace (delete
  first); URNs no longer declared -> delete (dependents first).
- **Providers**: Mailgun resources go to the fake Mailgun through ``MailgunClient`` (domain
  create/delete, an in-place domain change with PUT /v4/domains/{name}, routes, webhooks with
  PUT on update, SMTP logins), so a create the real API
  refuses (400 "already exists") fails the ``up`` here too, and the fake's request log shows every
  call. DNS records and SSM parameters have no server, but what exists is kept (the store's
  ``things``: ``<state_dir>/things.json``): creating one that exists fails as Route53,
  Cloudflare and SSM do, and ``find_created`` finds it.
- ``state_move`` follows ``pulumi state move``: URNs renamed to the destination stack, children
  moved along, parents not moved become the root stack, providers matched or copied.
- **The ops log** (``<state_dir>/ops.jsonl`` and ``self.ops``) records every provider call when it
  returns (before the checkpoint, so a kill after it is still logged) with the resource's
  *physical identity*, and every state-only change: ``create``, ``update``, ``delete``,
  ``reparent``, ``move``, ``import``, ``delete-retained``, ``refresh-gone``, ``refresh-update``,
  ``clear-pending``. Tests prove with it that nothing was created twice and no DNS record deleted.
  Secret inputs are never stored: they are replaced by a digest.

Not modelled: reads of DNS records and SSM parameters (an import of one the stand-in did not
create is taken as found, as declared; ``refresh`` leaves them alone); the backend's lock race (two lockers at the same instant may both fail, as
Pulumi's may); parallelism limits; Pulumi Cloud (its 409 and ``pulumi cancel`` of a running
update are ``AutomationRunner``'s, tested against a fake ``pulumi``).
"""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import json
import os
import re
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from components.mocked import pulumi_config
from mailfleet.desired.naming import COMPONENT_TYPE
from mailfleet.mailgun.client import MailgunClient
from mailfleet.mailgun.errors import MailgunError
from mailfleet.migrate.recovery import MailgunLookup
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

STACK_TYPE = "pulumi:pulumi:Stack"
DOMAIN = "mailgun:index/domain:Domain"
ROUTE = "mailgun:index/route:Route"
WEBHOOK = "mailgun:index/webhook:Webhook"
CREDENTIAL = "mailgun:index/domainCredential:DomainCredential"
R53 = "aws:route53/record:Record"
CF = "cloudflare:index/dnsRecord:DnsRecord"
DNS = (R53, CF)
SSM = "aws:ssm/parameter:Parameter"

# Domain inputs updated in place through PUT /v4/domains/{name} (Mailgun's documented fields).
DOMAIN_UPDATE_FIELDS = {
    "webScheme": "web_scheme",
    "requireTls": "require_tls",
    "skipVerification": "skip_verification",
}
# Inputs whose change makes the provider replace the resource.
REPLACE_KEYS: dict[str, tuple[str, ...]] = {
    DOMAIN: ("name", "region", "dkimSelector", "dkimKeySize", "spamAction", "wildcard", "forceDkimAuthority"),
    ROUTE: ("region", "expression", "actions", "priority", "description"),  # the fake has no route update
    WEBHOOK: ("domain", "kind", "region"),
    CREDENTIAL: ("domain", "login", "region"),
    R53: ("zoneId", "name", "type"),
    CF: ("zoneId", "name", "type"),
    SSM: ("name", "type"),
}

SECRET_CONFIG: dict[str, Any] = {
    "mailgun:apiKey": "key-mock-runner-SECRET",
    "cloudflare:apiToken": "cf-mock-runner-SECRET",
    "mailfleet:credentialSeed": "seed-mock-runner-SECRET",
}
_SECRET_SIG = "4dabf18193072939515e22adb298388d"

# The DIY backends' sentence (pkg/backend/diy), and `pulumi up`'s warning (pulumi/pulumi#9293).
LOCKED_SENTENCE = (
    "the stack is currently locked by {n} lock(s). Either wait for the other process(es) to end "
    "or delete the lock file with `pulumi cancel`."
)
PENDING_WARNING = (
    "Attempting to deploy or update resources with {n} pending operations from previous deployment."
)

KillHook = Callable[[str, str, str], None]

# Lock ids held by operations of this process that are still running (a killed one is removed:
# its lock file stays, and its holder counts as dead although the process lives on).
_LIVE_LOCKS: set[str] = set()
_PROGRAM = threading.RLock()
_GUARD = threading.RLock()  # lock files and checkpoints, between the threads of this process


class ProviderError(Exception):
    """A provider refused an operation (the stand-in's DNS and SSM providers)."""


_ALREADY_EXISTS = {
    R53: "creating Route53 Record: InvalidChangeBatch: [Tried to create resource record set "
    "[name='{name}.', type='{type}'] but it already exists]",
    CF: "failed to create DNS record: An identical record already exists. (81058)",
    SSM: "creating SSM Parameter ({name}): ParameterAlreadyExists: The parameter already exists.",
}


class Killed(BaseException):
    """Raise it from a ``kill_hook``: the runner dies on the spot; ``pulumi_up`` (and so ``up``)
    then raises it. A ``BaseException``, so no ``except Exception`` on the way out handles it."""


class _Dying(Exception):
    """Inside the program: unwinds every registration of a killed ``up`` (the Pulumi runtime
    resolves a resource's outputs only for an ``Exception``; anything else would hang it).
    Nothing is recorded meanwhile: every step checks ``_Op.dead`` before it writes or calls."""


def _mask(value: Any) -> Any:
    """``value`` with every Pulumi secret replaced by a digest (never stored in clear)."""
    if isinstance(value, dict):
        if value.get(_SECRET_SIG) == "1b47061264138c4ac30d75fd1eb44270":
            digest = hashlib.sha256(json.dumps(_unwrap(value), sort_keys=True).encode()).hexdigest()[:16]
            return {"secret": digest}
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value


def _unwrap(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(_SECRET_SIG) == "1b47061264138c4ac30d75fd1eb44270":
            return _unwrap(value.get("value"))
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


def _rename(urn: str, dst: str) -> str:
    parts = urn.split("::")
    head = parts[0].rsplit(":", 1)[0]  # "urn:pulumi"
    return "::".join([f"{head}:{dst}", *parts[1:]])


def _provider_urn(ref: str) -> str:
    return ref.rsplit("::", 1)[0] if ref else ""


def _stack_of(urn: str) -> str:
    return urn.split("::", 1)[0].rsplit(":", 1)[-1]


def _camel(name: str) -> str:
    """An ``ignore_changes`` entry as the engine names the property (``dkim_selector`` -> ``dkimSelector``)."""
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _unqualified(urn: str) -> str:
    """``urn`` without its parent-type qualifiers (``A$B`` -> ``B``): the mocks prefix the root
    stack's type to a top-level resource's type, the engine does not, and ``--target`` names
    the engine's URN."""
    head, sep, name = urn.rpartition("::")
    prefix, _, type_ = head.rpartition("::")
    return f"{prefix}::{type_.rpartition('$')[2]}{sep}{name}" if sep and prefix else urn


def _copy(res: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(res))


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# -- checkpoints and locks ----------------------------------------------------------------------


@dataclass
class Checkpoint:
    """One stack's state: resources by URN (in checkpoint order) and pending operations."""

    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 3,
            "deployment": {"resources": list(self.resources.values()), "pending_operations": self.pending},
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Checkpoint:
        dep = doc.get("deployment") or {}
        return cls(
            {r["urn"]: r for r in dep.get("resources") or []}, list(dep.get("pending_operations") or [])
        )


class Store(Protocol):
    """Where checkpoints, locks and the DNS/SSM registry live (``DirStore``, ``MemoryStore``)."""

    def load(self, stack: str) -> Checkpoint: ...
    def save(self, stack: str, checkpoint: Checkpoint) -> None: ...
    def add_lock(self, stack: str, info: dict[str, Any]) -> str: ...
    def locks(self, stack: str) -> dict[str, dict[str, Any]]: ...
    def remove_lock(self, stack: str, lock_id: str) -> None: ...
    def things(self, edit: Callable[[dict[str, Any]], Any]) -> Any: ...


class DirStore:
    """Checkpoints in ``<dir>/<stack>.json`` (replaced atomically), locks in ``<dir>/locks/<stack>/``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def load(self, stack: str) -> Checkpoint:
        path = self.root / f"{stack}.json"
        return Checkpoint.from_json(json.loads(path.read_text())) if path.exists() else Checkpoint()

    def save(self, stack: str, checkpoint: Checkpoint) -> None:
        path = self.root / f"{stack}.json"
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(checkpoint.to_json(), indent=1))
        os.replace(tmp, path)

    def _lock_dir(self, stack: str) -> Path:
        return self.root / "locks" / stack

    def add_lock(self, stack: str, info: dict[str, Any]) -> str:
        lock_id = str(uuid.uuid4())
        self._lock_dir(stack).mkdir(parents=True, exist_ok=True)
        (self._lock_dir(stack) / f"{lock_id}.json").write_text(json.dumps(info))
        return lock_id

    def locks(self, stack: str) -> dict[str, dict[str, Any]]:
        out = {}
        for path in sorted(self._lock_dir(stack).glob("*.json")):
            try:
                out[path.stem] = json.loads(path.read_text())
            except (OSError, ValueError):
                out[path.stem] = {}  # being written or removed right now: still a lock
        return out

    def remove_lock(self, stack: str, lock_id: str) -> None:
        (self._lock_dir(stack) / f"{lock_id}.json").unlink(missing_ok=True)

    def things(self, edit: Callable[[dict[str, Any]], Any]) -> Any:
        """``edit(registry)`` on ``things.json`` under a file lock (shared by processes)."""
        from filelock import FileLock

        path = self.root / "things.json"
        with FileLock(str(path) + ".lock"):
            registry = json.loads(path.read_text()) if path.exists() else {}
            before = json.dumps(registry, sort_keys=True)
            result = edit(registry)
            if json.dumps(registry, sort_keys=True) != before:
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(json.dumps(registry))
                os.replace(tmp, path)
        return result


class MemoryStore:
    """The same in this runner's memory (no ``state_dir``): one process, one writer."""

    def __init__(self) -> None:
        self.checkpoints: dict[str, Checkpoint] = {}
        self._locks: dict[str, dict[str, dict[str, Any]]] = {}
        self._things: dict[str, Any] = {}
        self._things_lock = threading.Lock()

    def load(self, stack: str) -> Checkpoint:
        return self.checkpoints.setdefault(stack, Checkpoint())

    def save(self, stack: str, checkpoint: Checkpoint) -> None:
        self.checkpoints[stack] = checkpoint

    def add_lock(self, stack: str, info: dict[str, Any]) -> str:
        lock_id = str(uuid.uuid4())
        self._locks.setdefault(stack, {})[lock_id] = info
        return lock_id

    def locks(self, stack: str) -> dict[str, dict[str, Any]]:
        return dict(self._locks.get(stack, {}))

    def remove_lock(self, stack: str, lock_id: str) -> None:
        self._locks.get(stack, {}).pop(lock_id, None)

    def things(self, edit: Callable[[dict[str, Any]], Any]) -> Any:
        with self._things_lock:
            return edit(self._things)


@dataclass
class _Op:
    """One operation on one stack (an ``up``, a ``refresh``...): its checkpoint, read at its
    start and written after each step, its lock, and whether the process 'died' in it."""

    stack: str
    checkpoint: Checkpoint
    lock_id: str | None = None
    changes: dict[str, list[str]] = field(default_factory=dict)
    dead: bool = False
    # ``--target`` URNs of a targeted up (None: every resource); with ``--target-dependents``
    # a resource whose parent is targeted is targeted too (filled in as registrations come).
    targets: set[str] | None = None


# -- the runner ---------------------------------------------------------------------------------


class MockStackRunner:
    """See the module docstring. ``mailgun(region)`` gives the client the fake is reached by."""

    def __init__(
        self,
        root: Path,
        tenants_dir: Path | None = None,
        *,
        mailgun: Callable[[str], MailgunClient] | None = None,
        state_dir: Path | None = None,
        secrets: dict[str, Any] | None = None,
        project: str = "mailfleet",
        kill_hook: KillHook | None = None,
        resolve_created: bool = True,
    ) -> None:
        self.root = Path(root)
        self.tenants_dir = Path(tenants_dir) if tenants_dir else self.root / "tenants"
        self._mailgun_factory = mailgun
        self._clients: dict[str, MailgunClient] = {}
        self.state_dir = Path(state_dir) if state_dir else None
        self.store: Store = DirStore(self.state_dir) if self.state_dir else MemoryStore()
        self.secrets = secrets
        self.project = project
        self.kill_hook = kill_hook
        self.resolve_created = resolve_created
        self.ops: list[dict[str, Any]] = []
        self.warnings: list[str] = []
        self.ups = 0
        self._lock = threading.RLock()
        self._open: dict[str, _Op] = {}  # operations running now, by stack (provider lookups)

    # -- checkpoints, locks, the ops log --------------------------------------------------

    def export(self, stack: str) -> dict[str, Any]:
        """``pulumi stack export``: the checkpoint as it is now (no lock)."""
        with _GUARD:
            return _copy(self.store.load(stack).to_json())

    def pending_operations(self, stack: str) -> list[dict[str, Any]]:
        return list(self.export(stack)["deployment"]["pending_operations"])

    def locks(self, stack: str) -> list[LockHolder]:
        """Who holds ``stack``'s lock now (``dead``: a process known to be gone)."""
        with _GUARD:
            return [self._holder(lock_id, info) for lock_id, info in self.store.locks(stack).items()]

    def _holder(self, lock_id: str, info: dict[str, Any]) -> LockHolder:
        pid = info.get("pid")
        host = str(info.get("hostname", ""))
        if not isinstance(pid, int):
            return LockHolder(since=str(info.get("timestamp", "")))
        if pid == os.getpid() and host == socket.gethostname():
            alive: bool | None = lock_id in _LIVE_LOCKS  # this process: alive unless 'killed'
        else:
            alive = process_alive(host, pid)
        return LockHolder(
            str(info.get("username", "")),
            host,
            pid,
            str(info.get("timestamp", "")),
            None if alive is None else not alive,
        )

    def _acquire(self, stack: str) -> str:
        """Take ``stack``'s lock as a DIY backend does: write ours, refuse when there are others."""
        info = {
            "pid": os.getpid(),
            "username": getpass.getuser(),
            "hostname": socket.gethostname(),
            "timestamp": _now(),
        }
        with _GUARD:
            lock_id = self.store.add_lock(stack, info)
            others = {i: x for i, x in self.store.locks(stack).items() if i != lock_id}
            if others:
                self.store.remove_lock(stack, lock_id)
                raise locked_error(
                    stack,
                    LOCKED_SENTENCE.format(n=len(others)),
                    [self._holder(i, x) for i, x in others.items()],
                )
            _LIVE_LOCKS.add(lock_id)
        return lock_id

    def _release(self, op: _Op) -> None:
        with _GUARD:
            if op.lock_id is not None:
                _LIVE_LOCKS.discard(op.lock_id)
                if not op.dead:
                    self.store.remove_lock(op.stack, op.lock_id)
        with self._lock:
            if self._open.get(op.stack) is op:
                del self._open[op.stack]

    def _begin_op(self, stack: str) -> _Op:
        """Lock ``stack`` and read its checkpoint: the start of every operation that writes."""
        lock_id = self._acquire(stack)
        with _GUARD:
            op = _Op(stack, self.store.load(stack), lock_id)
        with self._lock:
            self._open[stack] = op
        return op

    def _alive(self, op: _Op) -> None:
        if op.dead:
            raise _Dying(f"the runner died during an operation on {op.stack}")

    def _save(self, op: _Op) -> None:
        """Write ``op``'s checkpoint (called with ``self._lock`` held)."""
        self._alive(op)
        with _GUARD:
            self.store.save(op.stack, op.checkpoint)

    def _killpoint(self, op: _Op, what: str, urn: str) -> None:
        """After a provider call, before the checkpoint records it: where a kill hurts."""
        if self.kill_hook is None:
            return
        try:
            self.kill_hook(op.stack, what, urn)
        except BaseException as exc:
            op.dead = True
            with _GUARD:
                if op.lock_id is not None:
                    _LIVE_LOCKS.discard(op.lock_id)
            raise _Dying(f"killed after {what} of {urn}") from exc

    def _op(self, stack: str, op: str, res: dict[str, Any], run: _Op | None = None) -> None:
        entry = {
            "t": time.time(),
            "stack": stack,
            "op": op,
            "urn": res["urn"],
            "type": res["type"],
            "identity": self.identity(res),
        }
        self.ops.append(entry)
        if run is not None:
            run.changes.setdefault(op, []).append(res["urn"])
        if self.state_dir:
            with open(self.state_dir / "ops.jsonl", "a") as fh:
                fh.write(json.dumps(entry) + "\n")

    def all_ops(self) -> list[dict[str, Any]]:
        """Every operation so far, across processes when file-backed."""
        if self.state_dir and (self.state_dir / "ops.jsonl").exists():
            return [
                json.loads(line) for line in (self.state_dir / "ops.jsonl").read_text().splitlines() if line
            ]
        return list(self.ops)

    def identity(self, res: dict[str, Any]) -> str:
        """What names the real thing (not the URN): the same thing created twice shares it."""
        i = res.get("inputs", {})
        t = res["type"]
        if t.startswith("pulumi:providers:") or not res.get("custom"):
            return str(res["urn"])  # no real thing behind it: providers and components, per stack
        if t in DNS:
            return f"{t}|{i.get('zoneId')}|{i.get('name')}|{i.get('type')}|{i.get('content', '')}"
        if t == DOMAIN:
            return f"{t}|{i.get('region')}|{i.get('name')}"
        if t == ROUTE:
            return f"{t}|{i.get('region')}|{i.get('expression')}"
        if t == WEBHOOK:
            return f"{t}|{i.get('region')}|{i.get('domain')}|{i.get('kind')}"
        if t == CREDENTIAL:
            return f"{t}|{i.get('region')}|{i.get('domain')}|{i.get('login')}"
        region = self._provider_region(res)
        return f"{t}|{region}|{i.get('name', res['name'])}"

    def _provider_region(self, res: dict[str, Any]) -> str:
        """The ``region`` of ``res``'s provider: from the operation running on its stack, else
        read from that stack's checkpoint."""
        prov = _provider_urn(res.get("provider", ""))
        if not prov:
            return ""
        stack = _stack_of(prov)
        with self._lock:
            running = self._open.get(stack)
        checkpoint = running.checkpoint if running is not None else self.store.load(stack)
        found = checkpoint.resources.get(prov)
        return str(found.get("inputs", {}).get("region", "")) if found else ""

    # -- Mailgun: the provider ------------------------------------------------------------

    def _mg(self, region: str) -> MailgunClient | None:
        if self._mailgun_factory is None:
            return None
        if region not in self._clients:
            self._clients[region] = self._mailgun_factory(region)
        return self._clients[region]

    @staticmethod
    def _domain_outputs(body: dict[str, Any]) -> dict[str, Any]:
        return {
            "sendingRecordsSets": [
                {
                    "id": str(n),
                    "name": r.get("name"),
                    "recordType": r.get("record_type"),
                    "value": r.get("value"),
                }
                for n, r in enumerate(body.get("sending_dns_records", []))
            ],
            "receivingRecordsSets": [
                {"id": str(n), "priority": r.get("priority"), "recordType": "MX", "value": r.get("value")}
                for n, r in enumerate(body.get("receiving_dns_records", []))
            ],
        }

    # -- DNS and SSM: no fake server, but what exists is known -----------------------------

    def _thing_key(self, res: dict[str, Any]) -> str | None:
        """The physical key of a DNS record or SSM parameter (None for other types): Route53
        owns an RRset (zone, name, type), Cloudflare one record per value, SSM a name per region."""
        t, i = res["type"], res.get("inputs", {})
        if t == R53:
            return f"{t}|{i.get('zoneId')}|{i.get('name')}|{i.get('type')}"
        if t == CF:
            return f"{t}|{i.get('zoneId')}|{i.get('name')}|{i.get('type')}|{i.get('content')}"
        if t == SSM:
            return f"{t}|{self._provider_region(res)}|{i.get('name')}"
        return None

    def _thing_import_id(self, res: dict[str, Any], record_id: str) -> str:
        """Import ids as ``mailfleet.desired.adopt`` writes them (SSM: the parameter name)."""
        t, i = res["type"], res.get("inputs", {})
        if t == R53:
            return f"{i.get('zoneId')}_{i.get('name')}_{i.get('type')}"
        if t == CF:
            return f"{i.get('zoneId')}/{record_id}"
        return str(i.get("name"))

    def _thing_create(self, res: dict[str, Any]) -> None:
        """Create a DNS record / SSM parameter; refused like the provider when it exists."""
        key = self._thing_key(res)
        if key is None:
            return
        entry = {"id": uuid.uuid4().hex[:16], "inputs": _copy(res.get("inputs", {}))}
        entry["import_id"] = self._thing_import_id(res, entry["id"])

        def create(registry: dict[str, Any]) -> None:
            if key in registry:
                raise ProviderError(_ALREADY_EXISTS[res["type"]].format(**res.get("inputs", {})))
            registry[key] = entry

        self.store.things(create)

    def _thing_update(self, old: dict[str, Any] | None, res: dict[str, Any]) -> None:
        key = self._thing_key(res)
        if key is None:
            return
        old_key = self._thing_key(old) if old is not None else key

        def update(registry: dict[str, Any]) -> None:
            entry = registry.pop(old_key, None) or {"id": uuid.uuid4().hex[:16]}
            entry["inputs"] = _copy(res.get("inputs", {}))
            entry["import_id"] = self._thing_import_id(res, entry["id"])
            registry[key] = entry

        self.store.things(update)

    def _thing_delete(self, res: dict[str, Any]) -> None:
        key = self._thing_key(res)
        if key is not None:
            self.store.things(lambda registry: registry.pop(key, None))

    def _thing_find(self, import_id: str, type_: str) -> dict[str, Any] | None:
        return self.store.things(
            lambda registry: next(
                (
                    _copy(e)
                    for k, e in registry.items()
                    if k.startswith(f"{type_}|") and e.get("import_id") == import_id
                ),
                None,
            )
        )

    def _mirror_create(self, res: dict[str, Any], plain: dict[str, Any]) -> dict[str, Any]:
        """Create the real thing in the fake; returns the outputs the provider would report."""
        t = res["type"]
        outputs = dict(res["inputs"])
        if self._has_provider(res):
            self._thing_create(res)
        mg = self._mg(str(plain.get("region", "us"))) if t.startswith("mailgun:index/") else None
        if t == DOMAIN:
            if mg is not None:
                body = mg.create_domain(
                    plain["name"],
                    plain.get("dkimSelector"),
                    int(plain.get("dkimKeySize") or 2048),
                    spam_action=plain.get("spamAction") or "disabled",
                    wildcard=bool(plain.get("wildcard")),
                    force_dkim_authority=bool(plain.get("forceDkimAuthority")),
                    web_scheme=plain.get("webScheme") or "https",
                )
            else:
                from components.mocked import sending_records

                body = {
                    "sending_dns_records": [
                        {"name": r["name"], "record_type": r["recordType"], "value": r["value"]}
                        for r in sending_records(plain["name"], plain.get("dkimSelector") or "mailo", 2048)
                    ]
                }
            outputs.update(self._domain_outputs(body))
        elif t == ROUTE and mg is not None:
            route = mg.create_route(
                plain["expression"],
                plain.get("actions") or [],
                int(plain.get("priority") or 0),
                plain.get("description") or "",
            )
            outputs["routeId"] = route.get("id")
        elif t == WEBHOOK and mg is not None:
            mg.create_webhook(plain["domain"], plain["kind"], plain.get("urls") or [])
        elif t == CREDENTIAL and mg is not None:
            mg.create_credential(plain["domain"], plain["login"], plain.get("password") or "")
        return outputs

    def _mirror_update(
        self, res: dict[str, Any], plain: dict[str, Any], old: dict[str, Any] | None = None
    ) -> None:
        t = res["type"]
        self._thing_update(old, res)
        if t == WEBHOOK:
            mg = self._mg(str(plain.get("region", "us")))
            if mg is not None:
                form = [("url", u) for u in plain.get("urls") or []]
                mg.request("PUT", f"/v3/domains/{plain['domain']}/webhooks/{plain['kind']}", data=form)
        if t == DOMAIN:  # a change that does not replace the domain: PUT /v4/domains/{name}
            mg = self._mg(str(plain.get("region", "us")))
            before = (old or {}).get("inputs", {})
            form = [
                (api, str(plain[key]).lower() if isinstance(plain[key], bool) else str(plain[key]))
                for key, api in DOMAIN_UPDATE_FIELDS.items()
                if key in plain and plain.get(key) != before.get(key)
            ]
            if mg is not None and form:
                mg.request("PUT", f"/v4/domains/{plain['name']}", data=form)

    def _mirror_delete(self, res: dict[str, Any]) -> None:
        t = res["type"]
        i = res.get("inputs", {})
        if self._has_provider(res):
            self._thing_delete(res)
        if not t.startswith("mailgun:index/"):
            return
        mg = self._mg(str(i.get("region", "us")))
        if mg is None:
            return
        try:
            if t == DOMAIN:
                mg.delete_domain(i["name"])
            elif t == ROUTE and res.get("outputs", {}).get("routeId"):
                mg.delete_route(res["outputs"]["routeId"])
            elif t == WEBHOOK:
                mg.request("DELETE", f"/v3/domains/{i['domain']}/webhooks/{i['kind']}")
            elif t == CREDENTIAL:
                login = i["login"] if "@" in i["login"] else f"{i['login']}@{i['domain']}"
                mg.request("DELETE", f"/v3/domains/{i['domain']}/credentials/{login}")
        except MailgunError as exc:
            if exc.status != 404:  # already gone (e.g. webhooks of a deleted domain)
                raise

    def _read(
        self, type_: str, import_id: str, declared: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any], str] | None:
        """The provider's Read by import id: (inputs, outputs, id), or None when nothing is
        there. Ids as ``mailfleet.desired.adopt`` writes them: ``region:domain``,
        ``region:route-id``, ``region:domain:kind``, ``region:login@domain``. Resources with no
        fake behind them (DNS, SSM, or no Mailgun client) are taken as found, as declared."""
        if type_ in (*DNS, SSM):
            # Known when the stand-in created it; otherwise (adopted from a customer's zone) it
            # cannot tell, and takes it as found, as declared.
            found = self._thing_find(import_id, type_)
            inputs = found["inputs"] if found else declared
            return dict(inputs), dict(inputs), found["id"] if found else import_id
        region, _, rest = import_id.partition(":")
        mg = self._mg(region) if type_.startswith("mailgun:index/") else None
        if mg is None:
            return dict(declared), dict(declared), import_id
        try:
            if type_ == DOMAIN:
                body = mg.get_domain(rest)
                d = body.get("domain") or {}
                inputs = {
                    "name": d.get("name", rest),
                    "region": region,
                    "spamAction": d.get("spam_action"),
                    "wildcard": d.get("wildcard"),
                    "webScheme": d.get("web_scheme"),
                }
                # pulumi-mailgun's Read never sets dkimSelector, dkimKeySize, forceDkimAuthority.
                return inputs, {**inputs, **self._domain_outputs(body)}, rest
            if type_ == ROUTE:
                route = mg.request("GET", f"/v3/routes/{rest}").get("route") or {}
                inputs = {
                    "priority": route.get("priority"),
                    "description": route.get("description"),
                    "expression": route.get("expression"),
                    "actions": list(route.get("actions") or []),
                    "region": region,
                }
                return inputs, {**inputs, "routeId": rest}, rest
            if type_ == WEBHOOK:
                domain, _, kind = rest.rpartition(":")
                hook = mg.request("GET", f"/v3/domains/{domain}/webhooks/{kind}").get("webhook") or {}
                inputs = {
                    "domain": domain,
                    "kind": kind,
                    "urls": list(hook.get("urls") or []),
                    "region": region,
                }
                return inputs, dict(inputs), rest
            if type_ == CREDENTIAL:
                login, _, domain = rest.partition("@")
                if rest not in mg.list_credential_logins(domain):
                    return None
                inputs = {"domain": domain, "login": login, "region": region}  # never the password
                return inputs, dict(inputs), rest
        except MailgunError as exc:
            if exc.status == 404:
                return None
            raise
        return dict(declared), dict(declared), import_id

    def find_created(self, res: dict[str, Any]) -> str | None:
        """The import id of the thing a pending create made, when it exists (what an operator
        checks before ``--import-pending-creates``); None otherwise. Mailgun resources are
        looked up by production's ``MailgunLookup`` (``AutomationRunner``'s ``find_created``)
        in the fake; DNS records and SSM parameters in what the stand-in knows exists."""
        key = self._thing_key(res)
        if key is not None:
            entry = self.store.things(lambda registry: _copy(registry.get(key)))
            return str(entry["import_id"]) if entry else None
        factory = self._mailgun_factory
        if factory is None:
            return None
        return MailgunLookup(lambda region: self._mg(region) or factory(region))(res)

    # -- resource steps, checkpointed as Pulumi journals them -----------------------------

    def _begin(self, run: _Op, kind: str, res: dict[str, Any]) -> dict[str, Any]:
        entry = {"resource": _copy(res), "type": kind}
        with self._lock:
            self._alive(run)
            run.checkpoint.pending.append(entry)
            self._save(run)
        return entry

    def _drop(self, run: _Op, entry: dict[str, Any]) -> None:
        run.checkpoint.pending = [p for p in run.checkpoint.pending if p is not entry]

    def _failed(self, run: _Op, entry: dict[str, Any]) -> None:
        """The provider answered with an error: the engine knows the step failed."""
        with self._lock:
            if not run.dead:
                self._drop(run, entry)
                self._save(run)

    def _has_provider(self, res: dict[str, Any]) -> bool:
        return bool(res.get("custom")) and not res["type"].startswith("pulumi:providers:")

    def _create(self, run: _Op, new: dict[str, Any], plain: dict[str, Any]) -> None:
        if not self._has_provider(new):
            with self._lock:
                self._alive(run)
                run.checkpoint.resources[new["urn"]] = new
                self._op(run.stack, "create", new, run)
                self._save(run)
            return
        pending = dict(new, id="")
        entry = self._begin(run, "creating", pending)
        try:
            new["outputs"] = self._mirror_create(new, plain)
        except BaseException:
            self._failed(run, entry)
            raise
        self._op(run.stack, "create", new, run)
        self._killpoint(run, "create", new["urn"])
        with self._lock:
            self._alive(run)
            self._drop(run, entry)
            run.checkpoint.resources[new["urn"]] = new
            self._save(run)

    def _delete(self, run: _Op, old: dict[str, Any], *, remove: bool = True) -> None:
        urn = old["urn"]
        if old.get("retainOnDelete"):
            with self._lock:
                self._alive(run)
                if remove:
                    run.checkpoint.resources.pop(urn, None)
                self._op(run.stack, "delete-retained", old, run)
                self._save(run)
            return
        if not self._has_provider(old):
            with self._lock:
                self._alive(run)
                if remove:
                    run.checkpoint.resources.pop(urn, None)
                self._op(run.stack, "delete", old, run)
                self._save(run)
            return
        entry = self._begin(run, "deleting", old)
        try:
            self._mirror_delete(old)
        except BaseException:
            self._failed(run, entry)
            raise
        self._op(run.stack, "delete", old, run)
        self._killpoint(run, "delete", urn)
        with self._lock:
            self._alive(run)
            self._drop(run, entry)
            if remove:
                run.checkpoint.resources.pop(urn, None)
            self._save(run)

    def _update(self, run: _Op, old: dict[str, Any], new: dict[str, Any], plain: dict[str, Any]) -> None:
        outputs = dict(old.get("outputs") or {})
        outputs.update(new["inputs"])
        new["outputs"] = outputs
        new["id"] = old.get("id", new["id"])
        entry = self._begin(run, "updating", new) if self._has_provider(new) else None
        try:
            self._mirror_update(new, plain, old)
        except BaseException:
            if entry is not None:
                self._failed(run, entry)
            raise
        self._op(run.stack, "update", new, run)
        if entry is not None:
            self._killpoint(run, "update", new["urn"])
        with self._lock:
            self._alive(run)
            if entry is not None:
                self._drop(run, entry)
            run.checkpoint.resources[new["urn"]] = new
            self._save(run)

    def _import(self, run: _Op, new: dict[str, Any], plain: dict[str, Any], ignore: tuple[str, ...]) -> None:
        """The ``import`` option: read, record (op ``import``), then update what differs."""
        urn = new["urn"]
        entry = self._begin(run, "importing", dict(new, id=new["importID"]))
        try:
            read = self._read(new["type"], new["importID"], new["inputs"])
        except BaseException:
            self._failed(run, entry)
            raise
        if read is None:
            self._failed(run, entry)
            raise RunnerError(f"pulumi up -s {run.stack} failed: resource '{new['importID']}' does not exist")
        inputs, outputs, rid = read
        found = dict(new, inputs={k: v for k, v in inputs.items() if v is not None}, outputs=outputs, id=rid)
        self._op(run.stack, "import", found, run)
        self._killpoint(run, "import", urn)
        with self._lock:
            self._alive(run)
            self._drop(run, entry)
            run.checkpoint.resources[urn] = found
            self._save(run)
        declared = self._ignoring(new["inputs"], found["inputs"], ignore)
        wanted = dict(new, inputs=declared)
        if self._needs_replace(found, wanted):
            keys = [k for k in REPLACE_KEYS.get(new["type"], ()) if found["inputs"].get(k) != declared.get(k)]
            raise RunnerError(
                f"pulumi up -s {run.stack} failed: {urn}: inputs to import do not match the existing "
                f"resource and would replace it ({', '.join(keys)})"
            )
        if declared != found["inputs"]:
            self._update(
                run, found, wanted, {**plain, **{k: _unwrap(found["inputs"].get(k)) for k in ignore}}
            )

    @staticmethod
    def _ignoring(declared: dict[str, Any], current: dict[str, Any], ignore: Iterable[str]) -> dict[str, Any]:
        """``declared`` with the ``ignoreChanges`` inputs taking ``current``'s value."""
        out = dict(declared)
        for key in ignore:
            if key in current:
                out[key] = current[key]
            else:
                out.pop(key, None)
        return out

    # -- the engine -----------------------------------------------------------------------

    def _register(
        self, stack: str, request: Any, urn: str, seen: list[str], run: _Op
    ) -> tuple[str, dict[str, Any]]:
        from pulumi.runtime import rpc

        raw = rpc.deserialize_properties(request.object, keep_internal=False)
        return self.register(
            stack,
            urn,
            request.type,
            request.name,
            raw,
            seen,
            parent=request.parent,
            provider=request.provider,
            custom=bool(request.custom),
            protect=bool(request.protect),
            import_id=request.importId,
            retain_on_delete=bool(request.retainOnDelete),
            ignore_changes=tuple(request.ignoreChanges),
            run=run,
        )

    def register(
        self,
        stack: str,
        urn: str,
        type_: str,
        name: str,
        raw: dict[str, Any],
        seen: list[str],
        *,
        parent: str = "",
        provider: str = "",
        custom: bool = True,
        protect: bool = False,
        import_id: str = "",
        retain_on_delete: bool = False,
        ignore_changes: tuple[str, ...] = (),
        run: _Op | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """One resource registration of an ``up``: diff with the checkpoint, act, record.

        Provider calls run outside the runner's lock, so registrations proceed in parallel (as
        the engine runs up to ``--parallel`` operations at once). Without ``run`` (a caller
        driving registrations itself, like the bench's model runner) the stack's checkpoint is
        read and written around this one registration.
        """
        if run is None:
            run = _Op(stack, self.store.load(stack))
        inputs = _mask(raw)
        plain = _unwrap(raw)
        ignore = tuple(_camel(k) for k in ignore_changes)
        new: dict[str, Any] = {
            "urn": urn,
            "type": type_,
            "name": name,
            "parent": parent,
            "provider": provider,
            "custom": custom,
            "protect": protect,
            "inputs": inputs,
            "outputs": {},
            "id": f"{name}-id",
        }
        if retain_on_delete:
            new["retainOnDelete"] = True
        if import_id:
            new["importID"] = import_id
        with self._lock:
            self._alive(run)
            seen.append(urn)
            old = run.checkpoint.resources.get(urn)
            if run.targets is not None:
                if _unqualified(urn) in run.targets or parent in run.targets:
                    run.targets.add(urn)
                elif not type_.startswith("pulumi:providers:"):
                    # Not targeted: Pulumi leaves it exactly as the checkpoint has it (an
                    # untargeted create is skipped; the program sees the declared inputs).
                    if old is None:
                        return f"{name}-id", plain
                    computed = {k: v for k, v in (old.get("outputs") or {}).items() if k not in inputs}
                    return old.get("id") or f"{name}-id", {**plain, **computed}
            if old is not None and ignore:
                new["inputs"] = self._ignoring(inputs, old["inputs"], ignore)
                plain = {**plain, **{k: _unwrap(old["inputs"].get(k)) for k in ignore if k in old["inputs"]}}
            if old is None:
                op = "import" if import_id else "create"
            elif self._needs_replace(old, new):
                if old.get("protect"):
                    raise RunnerError(f"resource {urn} is protected and would be replaced")
                op = "replace"
            elif old["inputs"] != new["inputs"]:
                op = "update"
            elif old.get("parent") != parent or old.get("provider") != provider:
                op = "reparent"
            else:
                op = "same"
        if op == "create":
            self._create(run, new, plain)
        elif op == "import":
            self._import(run, new, plain, ignore)
            new = run.checkpoint.resources[urn]
        elif op == "replace":
            assert old is not None
            self._delete(run, old, remove=False)
            self._create(run, new, plain)
        elif op == "update":
            assert old is not None
            self._update(run, old, new, plain)
        elif op == "reparent":
            assert old is not None
            with self._lock:
                self._alive(run)
                new["outputs"] = dict(old.get("outputs") or {})
                new["id"] = old.get("id", new["id"])
                run.checkpoint.resources[urn] = new
                self._op(stack, "reparent", new, run)
                self._save(run)
        else:
            assert old is not None
            with self._lock:
                old["protect"] = protect  # options are recorded on a same step too
                if retain_on_delete:
                    old["retainOnDelete"] = True
                else:
                    old.pop("retainOnDelete", None)
                if import_id:
                    old["importID"] = import_id
                new = old
        # The program sees its inputs (secrets included) plus what the provider computed.
        computed = {k: v for k, v in (new.get("outputs") or {}).items() if k not in inputs}
        return new.get("id") or f"{name}-id", {**plain, **computed}

    def _needs_replace(self, old: dict[str, Any], new: dict[str, Any]) -> bool:
        keys = REPLACE_KEYS.get(new["type"], ())
        if any(old["inputs"].get(k) != new["inputs"].get(k) for k in keys):
            return True
        old_prov, new_prov = _provider_urn(old.get("provider", "")), _provider_urn(new.get("provider", ""))
        if old_prov and new_prov and old_prov != new_prov:
            return self._provider_region(old) != self._provider_region(new)
        return False

    def up(self, stack: str, *, recover: bool = False, tenants: Sequence[str] | None = None) -> UpResult:
        """The ``StackRunner`` ``up``, as ``AutomationRunner.up``: refuses a stack with pending
        operations or a lock (``StackBlocked``); with ``recover``, recovers once and retries.
        ``tenants``: a targeted up (``--target`` each tenant's component, ``--target-dependents``)."""
        try:
            return self._checked_up(stack, tenants)
        except StackBlocked:
            if not recover:
                raise
        self.recover(stack)
        return self._checked_up(stack, tenants)

    def _checked_up(self, stack: str, tenants: Sequence[str] | None = None) -> UpResult:
        pending = self.pending_operations(stack)
        if pending:
            raise pending_error(stack, pending)
        return self.pulumi_up(stack, tenants=tenants)

    def component_urn(self, stack: str, slug: str) -> str:
        """The URN of tenant ``slug``'s ``TenantMail`` component in ``stack`` (its ``--target``)."""
        return f"urn:pulumi:{stack}::{self.project}::{COMPONENT_TYPE}::{slug}"

    def pulumi_up(self, stack: str, *, tenants: Sequence[str] | None = None) -> UpResult:
        """What ``pulumi up`` itself does: lock, read the checkpoint, run the program, diff,
        apply step by step; pending operations only warn (``self.warnings``) and are kept.

        ``tenants`` makes it ``pulumi up --target <component URN>... --target-dependents``:
        only those components and their descendants are created, updated or deleted; every
        other resource keeps its checkpoint entry untouched (an untargeted create is skipped)."""
        # The Pulumi SDK's runtime settings are process-global: one program at a time per
        # process (real Pulumi runs each ``up`` in its own process).
        # The backend's lock first: a locked stack is refused at once, never queued.
        run = self._begin_op(stack)
        try:
            _PROGRAM.acquire()
        except BaseException:
            self._release(run)
            raise
        try:
            return self._pulumi_up(stack, tenants, run)
        finally:
            _PROGRAM.release()

    def _pulumi_up(self, stack: str, tenants: Sequence[str] | None, run: _Op) -> UpResult:
        from pulumi.runtime import mocks as pulumi_mocks
        from pulumi.runtime.config import set_all_config
        from pulumi.runtime.settings import ROOT, SETTINGS
        from pulumi.runtime.stack import run_in_stack

        from components.program import declare_stack
        from mailfleet.errors import MailfleetError
        from mailfleet.project import Project

        runner = self
        seen: list[str] = []
        if tenants is not None:
            run.targets = {self.component_urn(stack, slug) for slug in tenants}

        class EngineMonitor(pulumi_mocks.MockMonitor):
            def RegisterResource(self, request: Any) -> Any:
                from pulumi.runtime import rpc
                from pulumi.runtime.proto import resource_pb2
                from pulumi.runtime.sync_await import _sync_await

                urn = self.make_urn(request.parent, request.type, request.name)
                if request.type == STACK_TYPE:
                    return resource_pb2.RegisterResourceResponse(urn=urn)
                id_, outputs = runner._register(stack, request, urn, seen, run)
                obj = _sync_await(rpc.serialize_properties(outputs, {}))
                self.resources[urn] = pulumi_mocks.MockMonitor.ResourceRegistration(urn, id_, outputs)
                return resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=obj)

        class NoMocks(pulumi_mocks.Mocks):
            def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
                return "", {}

            def call(self, args: Any) -> tuple[dict[str, Any], None]:
                return {}, None

        try:
            if run.checkpoint.pending:
                urns = ", ".join(f"{p['resource']['urn']} ({p['type']})" for p in run.checkpoint.pending)
                self.warnings.append(f"{PENDING_WARNING.format(n=len(run.checkpoint.pending))} {urns}")
            try:
                project = Project.load(self.tenants_dir, self.root, [stack])
            except MailfleetError as exc:
                raise RunnerError(f"pulumi up -s {stack} failed: {'; '.join(exc.lines())}") from None
            secrets = dict(self.secrets if self.secrets is not None else SECRET_CONFIG)
            smtp = {t.slug: f"smtp-{t.slug}-SECRET" for t in project.tenants.values() if t.uses_smtp}
            secrets.setdefault("mailfleet:smtpPasswords", smtp)
            monitor = EngineMonitor(NoMocks())
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                set_all_config(pulumi_config(secrets), list(secrets))
                pulumi_mocks.set_mocks(
                    monitor.mocks, project=self.project, stack=stack, preview=False, monitor=monitor
                )
                ROOT.set(None)
                # A run that died left its tasks (bound to its closed loop) in the runtime's
                # global set of outputs to await: forget them, or this run would await them.
                with SETTINGS.lock:
                    stale = {t for t in SETTINGS.outputs if t.get_loop() is not loop}
                    SETTINGS.outputs.difference_update(stale)
                loop.run_until_complete(
                    run_in_stack(lambda: declare_stack(project.stacks[stack], project.states[stack]))
                )
            except RunnerError:
                if run.dead:
                    raise Killed(f"died during pulumi up -s {stack}") from None
                raise
            except Exception as exc:  # the program or a provider call failed
                if run.dead:
                    raise Killed(f"died during pulumi up -s {stack}") from None
                raise RunnerError(f"pulumi up -s {stack} failed: {_first_line(exc)}") from None
            finally:
                ROOT.set(None)
                loop.run_until_complete(loop.shutdown_default_executor())
                # A failed run's unwound futures would each print "exception never retrieved".
                loop.set_exception_handler(lambda _loop, _context: None)
                loop.close()
                asyncio.set_event_loop(None)
            if run.dead:
                raise Killed(f"died during pulumi up -s {stack}")
            state = run.checkpoint.resources
            seen_set = set(seen)
            gone = [urn for urn in state if urn not in seen_set]
            if run.targets is not None:
                gone = [urn for urn in gone if self._targeted_in_state(state, urn, run.targets)]
            for urn in reversed(gone):  # dependents first
                res = state[urn]
                if res.get("protect"):
                    raise RunnerError(
                        f"pulumi up -s {stack} failed: resource {urn} is protected and would be deleted"
                    )
                self._delete(run, res)
            with self._lock:
                self._save(run)  # the same steps' option changes
            self.ups += 1
        except _Dying as exc:
            raise Killed(str(exc)) from None
        finally:
            self._release(run)
        return UpResult(stack=stack, changes=run.changes)

    @staticmethod
    def _targeted_in_state(state: dict[str, Any], urn: str, targets: set[str]) -> bool:
        """A resource of the checkpoint that a targeted up may delete: it, or an ancestor, is a
        target (Pulumi's ``--target-dependents`` counts a child as its parent's dependent)."""
        seen: set[str] = set()
        while urn and urn not in seen:
            if urn in targets or _unqualified(urn) in targets:
                return True
            seen.add(urn)
            urn = (state.get(urn) or {}).get("parent", "")
        return False

    # -- recovery -------------------------------------------------------------------------

    def cancel(self, stack: str) -> int:
        """``pulumi cancel`` on a DIY backend: delete the stack's lock files; how many there were."""
        with _GUARD:
            found = self.store.locks(stack)
            for lock_id in found:
                self.store.remove_lock(stack, lock_id)
        return len(found)

    def refresh(
        self,
        stack: str,
        *,
        clear_pending_creates: bool = False,
        import_pending_creates: dict[str, str] | None = None,
    ) -> UpResult:
        """``pulumi refresh --yes`` (non-interactive): see the module docstring."""
        imports = dict(import_pending_creates or {})
        run = self._begin_op(stack)
        try:
            # Worked on a copy and written at the end: a refresh that fails changes nothing.
            cp = Checkpoint.from_json(_copy(run.checkpoint.to_json()))
            keep = []
            log: list[tuple[str, dict[str, Any]]] = []
            for entry in cp.pending:
                res = entry["resource"]
                urn = res["urn"]
                if entry["type"] == "creating" and urn in imports:
                    rid = imports.pop(urn)
                    read = self._read(res["type"], rid, res.get("inputs", {}))
                    if read is None:
                        raise RunnerError(
                            f"pulumi refresh -s {stack} failed: resource '{rid}' does not exist"
                        )
                    _, outputs, rid = read
                    done = dict(res, id=rid, outputs={**res.get("inputs", {}), **outputs})
                    cp.resources[urn] = done
                    log.append(("import", done))
                elif entry["type"] == "creating" and not clear_pending_creates:
                    keep.append(entry)
                else:
                    log.append(("clear-pending", res))
            cp.pending = keep
            for urn in imports:
                self.warnings.append(f'warning: "{urn}" did not correspond to a pending create')
            for urn, res in list(cp.resources.items()):
                read = self._refresh_one(res)
                if read is None:
                    continue
                if read == "gone":
                    del cp.resources[urn]
                    log.append(("refresh-gone", res))
                else:
                    cp.resources[urn] = read
                    log.append(("refresh-update", read))
            with self._lock:
                run.checkpoint.resources, run.checkpoint.pending = cp.resources, cp.pending
                self._save(run)
                for what, res in log:
                    self._op(stack, what, res, run)
        finally:
            self._release(run)
        return UpResult(stack=stack, changes=run.changes)

    def _refresh_one(self, res: dict[str, Any]) -> dict[str, Any] | str | None:
        """What the provider's Read says of ``res``: "gone", the changed resource, or None."""
        t, i, out = res["type"], res.get("inputs", {}), res.get("outputs", {})
        if not self._has_provider(res) or not t.startswith("mailgun:index/"):
            return None
        region = str(i.get("region", "us"))
        if t == DOMAIN:
            rid = f"{region}:{i.get('name')}"
        elif t == ROUTE:
            if not out.get("routeId"):
                return None
            rid = f"{region}:{out['routeId']}"
        elif t == WEBHOOK:
            rid = f"{region}:{i.get('domain')}:{i.get('kind')}"
        elif t == CREDENTIAL:
            login = i["login"] if "@" in i["login"] else f"{i['login']}@{i['domain']}"
            rid = f"{region}:{login}"
        else:
            return None
        read = self._read(t, rid, i)
        if read is None:
            return "gone"
        inputs, _, _ = read
        drift = {
            k: v
            for k, v in inputs.items()
            if k in ("urls", "expression", "actions", "priority", "description", "webScheme")
            and i.get(k) != v
        }
        if not drift:
            return None
        return dict(res, inputs={**i, **drift}, outputs={**out, **drift})

    def recover(self, stack: str) -> list[str]:
        """What ``AutomationRunner.recover`` does (``mailfleet.migrate.pulumi_runner``)."""
        imports: dict[str, str] = {}
        if self.resolve_created:
            for entry in self.pending_operations(stack):
                if entry["type"] == "creating":
                    found = self.find_created(entry["resource"])
                    if found and found not in imports.values():  # one thing imported once
                        imports[entry["resource"]["urn"]] = found
        done = []
        refresh = f"pulumi refresh -s {stack} --clear-pending-creates" + (
            f" --import-pending-creates ({len(imports)})" if imports else ""
        )
        try:
            self.refresh(stack, clear_pending_creates=True, import_pending_creates=imports)
        except StackBlocked as exc:
            if exc.reason != "locked" or not exc.holder_dead:
                raise
            self.cancel(stack)
            done.append(f"pulumi cancel -s {stack}")
            self.refresh(stack, clear_pending_creates=True, import_pending_creates=imports)
        done.append(refresh)
        return done

    # -- state reads and edits ------------------------------------------------------------

    def resources(self, stack: str) -> list[StackResource]:
        # self._lock first (the order _save takes them): an in-memory checkpoint another
        # thread's up is writing is read whole, as `pulumi stack export` reads a snapshot.
        with self._lock, _GUARD:
            checkpoint = self.store.load(stack)
            return [
                StackResource(
                    urn=r["urn"],
                    type=r["type"],
                    name=r["name"],
                    inputs=_copy(r.get("inputs", {})),
                    outputs=_copy(r.get("outputs", {})),
                    protect=bool(r.get("protect")),
                    parent=r.get("parent", ""),
                )
                for r in checkpoint.resources.values()
                if not r["type"].startswith("pulumi:providers:")
            ]

    def unprotect(self, stack: str, urns: list[str]) -> None:
        run = self._begin_op(stack)
        try:
            with self._lock:
                for urn in urns:
                    if urn in run.checkpoint.resources:
                        run.checkpoint.resources[urn]["protect"] = False
                self._save(run)
        finally:
            self._release(run)

    def state_move(self, src: str, dst: str, urns: list[str]) -> list[str]:
        source_op = self._begin_op(src)
        try:
            dest_op = self._begin_op(dst)
        except BaseException:
            self._release(source_op)
            raise
        try:
            with self._lock:
                return self._move(source_op, dest_op, urns)
        finally:
            self._release(dest_op)
            self._release(source_op)

    def _move(self, source_op: _Op, dest_op: _Op, urns: list[str]) -> list[str]:
        dst = dest_op.stack
        source, dest = source_op.checkpoint.resources, dest_op.checkpoint.resources
        todo = {u for u in urns if u in source}
        if not todo:
            return []
        changed = True
        while changed:  # children move along
            changed = False
            for urn, res in source.items():
                if urn not in todo and res.get("parent") in todo:
                    todo.add(urn)
                    changed = True
        moved = []
        for urn in [u for u in source if u in todo]:
            res = dict(source[urn])
            new_urn = _rename(urn, dst)
            if new_urn in dest:  # a move interrupted between the two saves: finish it
                moved.append(urn)
                continue
            prov = _provider_urn(res.get("provider", ""))
            if prov:
                res["provider"] = self._dest_provider(source, dest, prov, dst, res["provider"])
            res["parent"] = _rename(res["parent"], dst) if res.get("parent") in todo else ""
            res["urn"] = new_urn
            dest[new_urn] = res
            self._op(dst, "move", res, dest_op)
            moved.append(urn)
        self._save(dest_op)  # destination first, as Pulumi does: a crash leaves it in both
        for urn in moved:
            source.pop(urn, None)
        self._save(source_op)
        return moved

    def _dest_provider(
        self, source: dict[str, Any], dest: dict[str, Any], prov: str, dst: str, ref: str
    ) -> str:
        """The destination's own provider of the same package, else a copy of the source's."""
        package = source[prov]["type"]
        for urn, res in dest.items():
            if res["type"] == package:
                return f"{urn}::{res.get('id', '')}"
        new_prov = _rename(prov, dst)
        copy = dict(source[prov])
        copy["urn"] = new_prov
        dest[new_prov] = copy
        return f"{new_prov}::{ref.rsplit('::', 1)[-1]}"

    # -- queries for tests, and the bench's model runner ----------------------------------

    def held(self, stack: str) -> dict[str, dict[str, Any]]:
        """URN -> resource record of what ``stack`` holds now (read from its checkpoint)."""
        with self._lock, _GUARD:
            return {
                u: _copy(r)
                for u, r in self.store.load(stack).resources.items()
                if not r["type"].startswith("pulumi:providers:")
            }

    def _state(self, stack: str) -> dict[str, dict[str, Any]]:
        """The resources of ``stack``'s checkpoint, for a caller that edits them itself (the
        bench's model runner, without ``state_dir``: the checkpoint in memory)."""
        return self.store.load(stack).resources


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def stack_checker(runner: MockStackRunner) -> Callable[..., list[str]]:
    """A ``mailfleet check`` stand-in: every managed record the model wants, held by the stack
    with the model's values and TTL (DKIM: any value; Mailgun's verify judges the key)."""

    def check(tenant: Any, stack: Any) -> list[str]:
        from mailfleet.desired.build import build_tenant

        held = {
            (r["inputs"].get("name"), r["inputs"].get("type")): r
            for r in runner.held(stack.name).values()
            if r["type"] in DNS
        }
        problems = []
        for rec in build_tenant(tenant, stack).records:
            if rec.provider == "manual":
                continue
            res = held.get((rec.name, rec.type))
            if res is None:
                problems.append(f"{rec.name} {rec.type} missing")
            elif res["inputs"].get("ttl") != rec.ttl:
                problems.append(f"{rec.name} {rec.type} ttl {res['inputs'].get('ttl')} != {rec.ttl}")
        return problems

    return check


KILL_ENV = "MAILFLEET_MOCK_KILL_AFTER"


def sigkill_after(spec: str) -> KillHook:
    """A kill hook that SIGKILLs this process after the provider call ``<op>:<urn part>``
    (``create:-domain-bluebird``): no cleanup, no finally blocks, as a real kill."""
    what, _, part = spec.partition(":")

    def hook(stack: str, op: str, urn: str) -> None:
        if op == what and re.search(re.escape(part), urn):
            os.kill(os.getpid(), signal.SIGKILL)

    return hook


def from_env(root: Path, tenants_dir: Path) -> MockStackRunner:
    """Factory for ``MAILFLEET_STACK_RUNNER=tests.migrate.mock_runner:from_env`` (subprocess tests).

    State lives in ``$MAILFLEET_MOCK_STATE_DIR``; Mailgun calls go to the fake named by
    ``MAILGUN_API_BASE_EU``/``_US`` with ``MAILGUN_API_KEY``; ``MAILFLEET_MOCK_KILL_AFTER``
    (``<op>:<urn part>``) SIGKILLs the process after that provider call, before its checkpoint.
    """
    state_dir = Path(os.environ["MAILFLEET_MOCK_STATE_DIR"])

    def client(region: str) -> MailgunClient:
        return MailgunClient(
            region,
            os.environ["MAILGUN_API_KEY"],
            os.environ[f"MAILGUN_API_BASE_{region.upper()}"],
            backoff_base=0.01,
            backoff_max=0.05,
        )

    kill = os.environ.get(KILL_ENV)
    return MockStackRunner(
        root,
        tenants_dir,
        mailgun=client,
        state_dir=state_dir,
        kill_hook=sigkill_after(kill) if kill else None,
    )
