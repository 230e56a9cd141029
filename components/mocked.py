"""Running the Pulumi program under ``pulumi.runtime`` mocks, without the Pulumi CLI.

``run_program(fn)`` runs ``fn`` (for example ``lambda: declare_stack(config, state)``) in a
fresh event loop with ``set_mocks`` called inside it: ``set_mocks`` registers the root stack,
whose futures need the thread's event loop, and a module-level call relies on the implicit
loop Python 3.12 deprecates and 3.14 removes (pulumi/pulumi#24338; Pulumi's unit-testing
guide now uses one loop per test). It runs inside a real root ``Stack`` so that
``pulumi.export`` values are registered, and returns the ``RecordingMonitor`` that saw every
registration with its options (parent, provider, protect, delete_before_replace, depends_on,
import id, retain_on_delete, ignore_changes, property dependencies),
its inputs (secrets kept wrapped, so tests can tell what is secret) and the stack outputs.

``MailfleetMocks`` answers like the providers would after create: a Mailgun ``Domain`` gets
``sendingRecordsSets`` (SPF, DKIM with a fake public key, tracking CNAME) in a shuffled order,
so code that indexes the set instead of selecting by name and type breaks.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.config import set_all_config
from pulumi.runtime.settings import ROOT, SETTINGS
from pulumi.runtime.stack import run_in_stack

DOMAIN_TYPE = "mailgun:index/domain:Domain"
STACK_TYPE = "pulumi:pulumi:Stack"


def fake_dkim_value(domain: str, selector: str, bits: int) -> str:
    """A deterministic stand-in for the DKIM TXT value Mailgun reports (``k=rsa; p=...``)."""
    size = 38 + bits // 8  # about the DER length of an RSA public key of ``bits``
    stream = b""
    counter = 0
    while len(stream) < size:
        stream += hashlib.sha256(f"{selector}|{domain}|{counter}".encode()).digest()
        counter += 1
    return "k=rsa; p=" + base64.b64encode(stream[:size]).decode()


def sending_records(domain: str, selector: str, bits: int) -> list[dict[str, str]]:
    """What Mailgun lists as a domain's sending records, in a per-domain shuffled order."""
    records = [
        {"name": domain, "recordType": "TXT", "valid": "unknown", "value": "v=spf1 include:mailgun.org ~all"},
        {
            "name": f"{selector}._domainkey.{domain}",
            "recordType": "TXT",
            "valid": "unknown",
            "value": fake_dkim_value(domain, selector, bits),
        },
        {"name": f"email.{domain}", "recordType": "CNAME", "valid": "unknown", "value": "mailgun.org"},
    ]
    for i, r in enumerate(records):
        r["id"] = str(i)
    random.Random(domain).shuffle(records)
    return records


GET_DOMAIN_TOKEN = "mailgun:index/getDomain:getDomain"


class MailfleetMocks(pulumi_mocks.Mocks):
    """Outputs = inputs, plus what the providers compute (ids, Mailgun record sets).

    ``existing`` (domain -> (selector, bits)) are the Mailgun domains ``get_domain`` finds
    (domains created in the run are found too); others fail like a 404.
    """

    def __init__(self, existing: dict[str, tuple[str, int]] | None = None) -> None:
        self.existing = dict(existing or {})

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        outputs = dict(args.inputs)
        if args.typ == DOMAIN_TYPE:
            name = rpc.unwrap_rpc_secret(outputs.get("name"))
            selector = outputs.get("dkimSelector") or "mailo"
            bits = int(outputs.get("dkimKeySize") or 1024)
            outputs["sendingRecordsSets"] = sending_records(name, selector, bits)
            outputs["receivingRecordsSets"] = [
                {
                    "id": "0",
                    "priority": "10",
                    "recordType": "MX",
                    "valid": "unknown",
                    "value": "mxa.mailgun.org",
                }
            ]
            outputs["smtpLogin"] = f"postmaster@{name}"
            self.existing[name] = (selector, bits)
        return f"{args.name}-id", outputs

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        if args.token == GET_DOMAIN_TOKEN:
            name = args.args["name"]
            if name not in self.existing:
                raise ValueError(f"mock Mailgun: domain {name} not found")
            selector, bits = self.existing[name]
            return {
                "id": name,
                "name": name,
                "region": args.args.get("region") or "us",
                "sendingRecordsSets": sending_records(name, selector, bits),
            }, []
        return {}, []


@dataclass
class Registration:
    """One ``RegisterResource`` request as the engine would see it."""

    type: str
    name: str
    urn: str
    parent: str
    provider: str
    custom: bool
    protect: bool
    delete_before_replace: bool
    dependencies: list[str]
    inputs: dict[str, Any]  # deserialized; secrets are still wrapped (see is_secret)
    import_id: str = ""
    retain_on_delete: bool = False
    ignore_changes: tuple[str, ...] = ()
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)

    def plain(self, key: str) -> Any:
        return unwrap(self.inputs.get(key))


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A ``MockMonitor`` that keeps every registration with its options and the stack outputs.

    With ``record=False`` it records nothing (benchmarks: same work as a plain MockMonitor).
    """

    def __init__(self, mocks: pulumi_mocks.Mocks, *, record: bool = True) -> None:
        super().__init__(mocks)
        self.record = record
        self.registrations: list[Registration] = []
        self.component_outputs: dict[str, dict[str, Any]] = {}
        self.stack_outputs: dict[str, Any] = {}

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if self.record and request.type != STACK_TYPE:
            self.registrations.append(
                Registration(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    parent=request.parent,
                    provider=request.provider,
                    custom=request.custom,
                    protect=request.protect,
                    delete_before_replace=request.deleteBeforeReplace,
                    dependencies=list(request.dependencies),
                    inputs=rpc.deserialize_properties(request.object, keep_internal=False),
                    import_id=request.importId,
                    retain_on_delete=request.retainOnDelete,
                    ignore_changes=tuple(request.ignoreChanges),
                    property_dependencies={k: list(v.urns) for k, v in request.propertyDependencies.items()},
                )
            )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        if self.record:
            outputs = rpc.deserialize_properties(request.outputs, keep_internal=False)
            if request.urn.split("::")[2] == STACK_TYPE:
                self.stack_outputs = outputs
            else:
                self.component_outputs[request.urn] = outputs
        return super().RegisterResourceOutputs(request)

    # -- queries for tests ---------------------------------------------------------------

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_]

    def by_name(self) -> dict[str, Registration]:
        return {r.name: r for r in self.registrations}

    def by_urn(self) -> dict[str, Registration]:
        return {r.urn: r for r in self.registrations}


def is_secret(value: Any) -> bool:
    return rpc.is_rpc_secret(value)


def unwrap(value: Any) -> Any:
    """``value`` with every secret wrapper removed (for comparing values)."""
    if rpc.is_rpc_secret(value):
        return unwrap(value["value"])
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def clear_strings(value: Any) -> Iterator[str]:
    """Every string in ``value`` that is NOT inside a secret wrapper (what would show in clear)."""
    if rpc.is_rpc_secret(value):
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from clear_strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from clear_strings(v)


def pulumi_config(values: dict[str, Any]) -> dict[str, str]:
    """Config as the engine passes it to a program: every value a string (objects as JSON)."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}


def run_program(
    program: Callable[[], object],
    *,
    project: str = "mailfleet",
    stack: str = "eu",
    config: dict[str, Any] | None = None,
    secret_keys: list[str] | None = None,
    mocks: pulumi_mocks.Mocks | None = None,
    record: bool = True,
    preview: bool = False,
) -> RecordingMonitor:
    """Run ``program`` under mocks in a fresh event loop; re-raises what the program raised."""
    monitor = RecordingMonitor(mocks or MailfleetMocks(), record=record)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    _forget_previous_run()
    try:
        set_all_config(pulumi_config(config or {}), secret_keys or [])
        pulumi_mocks.set_mocks(monitor.mocks, project=project, stack=stack, preview=preview, monitor=monitor)
        # set_mocks installs and finishes a root Stack at once; run in a fresh one instead so
        # that the program's exports are registered as the stack's outputs.
        ROOT.set(None)
        loop.run_until_complete(run_in_stack(program))
    finally:
        _forget_previous_run()
        loop.close()
        asyncio.set_event_loop(None)
    return monitor


def _forget_previous_run() -> None:
    """Drop what a (failed) earlier run left in the SDK's globals: tasks of a closed loop."""
    ROOT.set(None)
    SETTINGS.rpc_manager.clear()
    SETTINGS.outputs.clear()
