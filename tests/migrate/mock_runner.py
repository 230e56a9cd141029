"""``MockStackRunner``: a ``StackRunner`` that runs the REAL program under Pulumi mocks.

It plays the Pulumi engine for ``up``: the checkout's tenants and stack files are loaded
exactly as ``__main__.py`` does, ``components.program.declare_stack`` runs under
``pulumi.runtime.set_mocks`` (fresh event loop per run), and every resource registration is
compared with what the stack held before:

- new URN -> create; changed inputs -> update; a change to a field the provider replaces on
  (a Mailgun domain's name/region/DKIM settings, a record's zone/name/type, a route's
  region), or a provider whose ``region`` differs -> replace (delete first for domains, as
  ``delete_before_replace``); URNs no longer declared -> delete (dependents first);
- ``protect``: deleting or replacing a protected resource fails the ``up`` (as Pulumi does);
- Mailgun resources are mirrored into the fake Mailgun server (domain create/delete, routes,
  webhooks, SMTP credentials) through ``MailgunClient``, so a create the real API would refuse
  (400 "already exists") fails the ``up`` here too, and the fake's request log shows every call;
- ``state_move`` follows ``pulumi state move``: URNs renamed to the destination stack, children
  moved along, parents not moved become the root stack, providers copied (or matched when the
  destination already has one with the same URN and inputs; an error when the inputs differ).

State is kept per stack in memory and, with ``state_dir``, in ``<state_dir>/<stack>.json``
(rewritten atomically after every operation, as Pulumi checkpoints) so a SIGKILLed process
leaves the state a resumed run continues from. Every operation is appended to
``<state_dir>/ops.jsonl`` (and ``self.ops``) with the resource's *physical identity*, which
is how tests prove that nothing was ever created twice and no DNS record was ever deleted.
Secret inputs are never stored: they are replaced by a digest.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from components.mocked import pulumi_config
from mailfleet.mailgun.client import MailgunClient
from mailfleet.mailgun.errors import MailgunError
from mailfleet.migrate.runner import RunnerError, StackResource, UpResult

STACK_TYPE = "pulumi:pulumi:Stack"
DOMAIN = "mailgun:index/domain:Domain"
ROUTE = "mailgun:index/route:Route"
WEBHOOK = "mailgun:index/webhook:Webhook"
CREDENTIAL = "mailgun:index/domainCredential:DomainCredential"
R53 = "aws:route53/record:Record"
CF = "cloudflare:index/dnsRecord:DnsRecord"
DNS = (R53, CF)

# Inputs whose change makes the provider replace the resource.
REPLACE_KEYS: dict[str, tuple[str, ...]] = {
    DOMAIN: ("name", "region", "dkimSelector", "dkimKeySize", "spamAction", "wildcard", "forceDkimAuthority"),
    ROUTE: ("region", "expression", "actions", "priority", "description"),  # the fake has no route update
    WEBHOOK: ("domain", "kind", "region"),
    CREDENTIAL: ("domain", "login", "region"),
    R53: ("zoneId", "name", "type"),
    CF: ("zoneId", "name", "type"),
    "aws:ssm/parameter:Parameter": ("name", "type"),
}

SECRET_CONFIG: dict[str, Any] = {
    "mailgun:apiKey": "key-mock-runner-SECRET",
    "cloudflare:apiToken": "cf-mock-runner-SECRET",
    "mailfleet:credentialSeed": "seed-mock-runner-SECRET",
}
_SECRET_SIG = "4dabf18193072939515e22adb298388d"


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
    ) -> None:
        self.root = Path(root)
        self.tenants_dir = Path(tenants_dir) if tenants_dir else self.root / "tenants"
        self._mailgun_factory = mailgun
        self._clients: dict[str, MailgunClient] = {}
        self.state_dir = Path(state_dir) if state_dir else None
        self.secrets = secrets
        self.project = project
        self.stacks: dict[str, dict[str, dict[str, Any]]] = {}
        self.ops: list[dict[str, Any]] = []
        self.ups = 0
        self._lock = threading.RLock()
        if self.state_dir:
            self.state_dir.mkdir(parents=True, exist_ok=True)

    # -- state persistence --------------------------------------------------------------

    def _state(self, stack: str) -> dict[str, dict[str, Any]]:
        if stack not in self.stacks:
            data: dict[str, dict[str, Any]] = {}
            if self.state_dir and (self.state_dir / f"{stack}.json").exists():
                data = json.loads((self.state_dir / f"{stack}.json").read_text())
            self.stacks[stack] = data
        return self.stacks[stack]

    def _refresh(self, stack: str) -> None:
        """Forget the cached state so the next read sees what another process wrote."""
        if self.state_dir:
            self.stacks.pop(stack, None)

    def _save(self, stack: str) -> None:
        if not self.state_dir:
            return
        path = self.state_dir / f"{stack}.json"
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.stacks[stack], indent=1))
        os.replace(tmp, path)

    def _op(self, stack: str, op: str, res: dict[str, Any]) -> None:
        entry = {
            "t": time.time(),
            "stack": stack,
            "op": op,
            "urn": res["urn"],
            "type": res["type"],
            "identity": self.identity(res),
        }
        self.ops.append(entry)
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
        prov = _provider_urn(res.get("provider", ""))
        for state in self.stacks.values():
            if prov in state:
                return str(state[prov].get("inputs", {}).get("region", ""))
        return ""

    # -- Mailgun mirror -------------------------------------------------------------------

    def _mg(self, region: str) -> MailgunClient | None:
        if self._mailgun_factory is None:
            return None
        if region not in self._clients:
            self._clients[region] = self._mailgun_factory(region)
        return self._clients[region]

    def _mirror_create(self, res: dict[str, Any], plain: dict[str, Any]) -> dict[str, Any]:
        """Create the real thing in the fake; returns the outputs the provider would report."""
        t = res["type"]
        outputs = dict(res["inputs"])
        mg = self._mg(str(plain.get("region", "us"))) if t.startswith("mailgun:index/") else None
        if t == DOMAIN:
            body: dict[str, Any] = {}
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
            outputs["sendingRecordsSets"] = [
                {
                    "id": str(n),
                    "name": r.get("name"),
                    "recordType": r.get("record_type"),
                    "value": r.get("value"),
                }
                for n, r in enumerate(body.get("sending_dns_records", []))
            ]
            outputs["receivingRecordsSets"] = [
                {"id": str(n), "priority": r.get("priority"), "recordType": "MX", "value": r.get("value")}
                for n, r in enumerate(body.get("receiving_dns_records", []))
            ]
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

    def _mirror_update(self, res: dict[str, Any], plain: dict[str, Any]) -> None:
        t = res["type"]
        if t == WEBHOOK:
            mg = self._mg(str(plain.get("region", "us")))
            if mg is not None:
                form = [("url", u) for u in plain.get("urls") or []]
                mg.request("PUT", f"/v3/domains/{plain['domain']}/webhooks/{plain['kind']}", data=form)

    def _mirror_delete(self, res: dict[str, Any]) -> None:
        t = res["type"]
        i = res.get("inputs", {})
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

    # -- the engine ---------------------------------------------------------------------

    def _register(self, stack: str, request: Any, urn: str, seen: list[str]) -> tuple[str, dict[str, Any]]:
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
    ) -> tuple[str, dict[str, Any]]:
        """One resource registration of an ``up``: compare with the state, act, record.

        Mailgun calls run outside the runner's lock, so registrations proceed in parallel (as
        the engine runs up to ``--parallel`` operations at once).
        """
        inputs = _mask(raw)
        plain = _unwrap(raw)
        new = {
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
        with self._lock:
            seen.append(urn)
            old = self._state(stack).get(urn)
            if old is None:
                op = "create"
            elif self._needs_replace(old, new):
                if old.get("protect"):
                    raise RunnerError(f"resource {urn} is protected and would be replaced")
                op = "replace"
            elif old["inputs"] != inputs:
                op = "update"
            elif old.get("parent") != parent or old.get("provider") != provider:
                op = "reparent"
            else:
                op = "same"
        if op == "replace":
            assert old is not None
            self._mirror_delete(old)
            with self._lock:
                self._op(stack, "delete", old)
        if op in ("create", "replace"):
            new["outputs"] = self._mirror_create(new, plain) if custom else {}
        elif op == "update":
            self._mirror_update(new, plain)
        with self._lock:
            state = self._state(stack)
            if op in ("create", "replace"):
                state[urn] = new
                self._op(stack, "create", new)
            elif op in ("update", "reparent"):
                assert old is not None
                outputs = dict(old.get("outputs") or {})
                outputs.update(inputs)
                new["outputs"] = outputs
                new["id"] = old.get("id", new["id"])
                state[urn] = new
                self._op(stack, op, new)
            else:
                assert old is not None
                old["protect"] = protect
                new = old
            if op != "same":
                self._save(stack)
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

    def up(self, stack: str) -> UpResult:
        from filelock import FileLock
        from pulumi.runtime import mocks as pulumi_mocks
        from pulumi.runtime.config import set_all_config
        from pulumi.runtime.settings import ROOT
        from pulumi.runtime.stack import run_in_stack

        from components.program import declare_stack
        from mailfleet.errors import MailfleetError
        from mailfleet.project import Project

        runner = self
        seen: list[str] = []
        start_ops = len(self.ops)

        class EngineMonitor(pulumi_mocks.MockMonitor):
            def RegisterResource(self, request: Any) -> Any:
                from pulumi.runtime import rpc
                from pulumi.runtime.proto import resource_pb2
                from pulumi.runtime.sync_await import _sync_await

                urn = self.make_urn(request.parent, request.type, request.name)
                if request.type == STACK_TYPE:
                    return resource_pb2.RegisterResourceResponse(urn=urn)
                id_, outputs = runner._register(stack, request, urn, seen)
                obj = _sync_await(rpc.serialize_properties(outputs, {}))
                self.resources[urn] = pulumi_mocks.MockMonitor.ResourceRegistration(urn, id_, outputs)
                return resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=obj)

        class NoMocks(pulumi_mocks.Mocks):
            def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
                return "", {}

            def call(self, args: Any) -> tuple[dict[str, Any], None]:
                return {}, None

        lock = FileLock(str(self.state_dir / f"{stack}.lock")) if self.state_dir else None
        if lock:
            lock.acquire(timeout=60)
        try:
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
                loop.run_until_complete(
                    run_in_stack(lambda: declare_stack(project.stacks[stack], project.states[stack]))
                )
            except RunnerError:
                raise
            except Exception as exc:  # the program or a provider call failed
                raise RunnerError(f"pulumi up -s {stack} failed: {_first_line(exc)}") from None
            finally:
                ROOT.set(None)
                loop.close()
                asyncio.set_event_loop(None)
            with self._lock:
                state = self._state(stack)
                seen_set = set(seen)
                gone = [urn for urn in state if urn not in seen_set]
                for urn in reversed(gone):
                    res = state[urn]
                    if res.get("protect"):
                        raise RunnerError(
                            f"pulumi up -s {stack} failed: resource {urn} is protected and would be deleted"
                        )
                    self._mirror_delete(res)
                    del state[urn]
                    self._op(stack, "delete", res)
                    self._save(stack)
            self.ups += 1
        finally:
            if lock:
                lock.release()
        changes: dict[str, list[str]] = {}
        for entry in self.ops[start_ops:]:
            changes.setdefault(entry["op"], []).append(entry["urn"])
        return UpResult(stack=stack, changes=changes)

    def resources(self, stack: str) -> list[StackResource]:
        with self._lock:
            self._refresh(stack)
            return [
                StackResource(
                    urn=r["urn"],
                    type=r["type"],
                    name=r["name"],
                    inputs=r.get("inputs", {}),
                    outputs=r.get("outputs", {}),
                    protect=bool(r.get("protect")),
                    parent=r.get("parent", ""),
                )
                for r in self._state(stack).values()
                if not r["type"].startswith("pulumi:providers:")
            ]

    def unprotect(self, stack: str, urns: list[str]) -> None:
        with self._lock:
            state = self._state(stack)
            for urn in urns:
                if urn in state:
                    state[urn]["protect"] = False
            self._save(stack)

    def state_move(self, src: str, dst: str, urns: list[str]) -> list[str]:
        with self._lock:
            self._refresh(src)
            self._refresh(dst)
            source, dest = self._state(src), self._state(dst)
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
                    del source[urn]
                    moved.append(urn)
                    continue
                prov = _provider_urn(res.get("provider", ""))
                if prov:
                    res["provider"] = self._dest_provider(source, dest, prov, dst, res["provider"])
                res["parent"] = _rename(res["parent"], dst) if res.get("parent") in todo else ""
                res["urn"] = new_urn
                dest[new_urn] = res
                self._op(dst, "move", res)
                moved.append(urn)
            self._save(dst)  # destination first, as Pulumi does: a crash leaves it in both
            for urn in moved:
                source.pop(urn, None)
            self._save(src)
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

    # -- queries for tests ----------------------------------------------------------------

    def held(self, stack: str) -> dict[str, dict[str, Any]]:
        """URN -> resource record of what ``stack`` holds now (re-read from disk if file-backed)."""
        with self._lock:
            self._refresh(stack)
            return {
                u: dict(r)
                for u, r in self._state(stack).items()
                if not r["type"].startswith("pulumi:providers:")
            }


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


def from_env(root: Path, tenants_dir: Path) -> MockStackRunner:
    """Factory for ``MAILFLEET_STACK_RUNNER=tests.migrate.mock_runner:from_env`` (subprocess tests).

    State lives in ``$MAILFLEET_MOCK_STATE_DIR``; Mailgun calls go to the fake named by
    ``MAILGUN_API_BASE_EU``/``_US`` with ``MAILGUN_API_KEY``.
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

    return MockStackRunner(root, tenants_dir, mailgun=client, state_dir=state_dir)
