"""``Change`` rows from a ``pulumi preview --json`` document (a PreviewDigest).

Contract: the digest is ``{"steps": [{"op", "urn", "oldState", "newState", "diffReasons",
"replaceReasons", "detailedDiff"}, ...], "changeSummary": ...}`` as printed by ``pulumi
preview --json`` (pulumi/pulumi ``display.PreviewDigest``; ``oldState``/``newState`` are
``ResourceV3`` with ``type``, ``inputs`` and ``outputs``). Only DNS records (Route53,
Cloudflare) and Mailgun resources become rows. The steps of one replacement
(``create-replacement``, ``replace``, ``delete-replaced``) become one ``replace`` row.

Nothing is dropped without being understood. ``load`` refuses (``InvalidData``, one
``Problem`` per finding, located by JSON path such as ``steps.3.op``):
- a document that is not a PreviewDigest: wrong JSON types anywhere this module reads
  (``steps``, a step, ``op``, ``urn``, the states and their ``inputs``/``outputs``,
  ``diffReasons``, ``replaceReasons``, ``detailedDiff``, the properties a DNS record or a
  Mailgun resource is shown by), a change step of a reported resource without its state;
- a well-formed step mailfleet does not understand: an ``op`` other than the six change ops
  and ``same``/``read`` (which change nothing), whether Pulumi's (``refresh``, ``import``,
  ``discard``, ``remove-pending-replace``...) or not (``frobnicate``); a change of a resource
  type that is neither reported (DNS record, Mailgun) nor known to be outside the report
  (the stack, providers, mailfleet's own components, the SSM parameters of outbound
  channels), e.g. an ``aws:route53/zone:Zone`` or ``cloudflare:index/zone:Zone``.
So "No changes" is only ever printed for a preview whose every step was understood.

Secrets never reach a row: the engine already prints secret values as ``"[secret]"``, and
anything still in Pulumi's secret envelope (an object carrying the secret signature key) is
shown as ``[secret]`` without looking inside it.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from mailfleet.diff.change import CREATE, DELETE, IMPORT, RELEASE, REPLACE, UPDATE, Change, StackChanges
from mailfleet.errors import InvalidData, Problem

log = logging.getLogger("mailfleet.diff.preview")

SECRET = "[secret]"
SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"  # resource.SigKey in pulumi/sdk
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # plugin.UnknownStringValue: computed at apply
UNKNOWN_TEXT = "(known after apply)"

DNS_TYPES = {
    "aws:route53/record:Record": "route53",
    "cloudflare:index/dnsRecord:DnsRecord": "cloudflare",
    "cloudflare:index/record:Record": "cloudflare",
}
MAILGUN_PREFIX = "mailgun:"

OP_MAP = {
    "create": CREATE,
    "update": UPDATE,
    "delete": DELETE,
    "replace": REPLACE,
    "create-replacement": REPLACE,
    "delete-replaced": REPLACE,
    "import": IMPORT,  # an adopted resource taken over (the import resource option)
}
# Steps that change nothing: ``same`` (nothing to do) and ``read`` (a ``get()`` of a resource
# the stack does not manage; Pulumi never changes or deletes it).
UNCHANGED_OPS = {"same", "read"}
# Every step op Pulumi has (pulumi/pulumi ``pkg/resource/deploy/step.go``, ``StepOps``) and what
# it does: the problem line of a step mailfleet does not report says it.
PULUMI_OPS = {
    "same": "nothing to do",
    "create": "creates the resource",
    "update": "updates the resource",
    "delete": "deletes the resource",
    "replace": "replaces the resource",
    "create-replacement": "creates the replacement",
    "delete-replaced": "deletes the replaced resource",
    "read": "reads an external resource",
    "read-replacement": "replaces a managed resource by an external one read from the provider",
    "refresh": "reads the live resource into the recorded state, as with --refresh",
    "discard": "forgets a resource that was read",
    "discard-replaced": "forgets a read resource that was replaced",
    "remove-pending-replace": "drops a pending replacement from the state",
    "import": "adopts an existing resource into the stack",
    "import-replacement": "replaces a managed resource by an imported one",
    "diff": "diffs a resource",
}
# Resources a preview of this project has that are outside the report: the stack itself,
# provider instances, mailfleet's component resources (their children have their own steps)
# and the SSM parameters holding outbound channels (``mailfleet diff`` shows those).
OUT_OF_SCOPE_TYPES = {"pulumi:pulumi:Stack", "aws:ssm/parameter:Parameter"}
OUT_OF_SCOPE_PREFIXES = ("pulumi:providers:", "mailfleet:")
# The change steps of a reported resource need the state they show.
NEEDS_NEW = {"create", "update", "replace", "create-replacement", "import"}
NEEDS_OLD = {"update", "replace", "delete", "delete-replaced"}
# Mailgun properties a row is named and placed by: strings when present.
MAILGUN_TEXT_PROPS = ("name", "region", "domain", "kind", "login", "description", "expression")
PLACEHOLDERS = {SECRET, UNKNOWN_TEXT}
MAX_DEPTH = 100  # JSON nesting a PreviewDigest never comes near
HIDDEN_INPUTS = {"__defaults"}
STACK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def redact(value: Any) -> Any:
    """``value`` with every secret replaced by ``[secret]`` and unknowns by a note."""
    if isinstance(value, dict):
        if SECRET_SIG_KEY in value:
            return SECRET
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    if value == UNKNOWN:
        return UNKNOWN_TEXT
    return value


def join_txt(value: str) -> str:
    """A TXT value as one logical string: ``"a" "b"`` (provider-split chunks) becomes ``ab``."""
    stripped = value.strip()
    if stripped.startswith('"') and stripped.endswith('"'):
        chunks = _QUOTED.findall(stripped)
        if chunks and _QUOTED.sub("", stripped).strip() == "":
            return "".join(re.sub(r"\\(.)", r"\1", c) for c in chunks)
    return value


def _route53_txt(value: str) -> str:
    """pulumi-aws takes a long TXT value as ``chunk1" "chunk2`` (it adds the outer quotes):
    give it its outer quotes back so ``join_txt`` reads the chunks."""
    stripped = value.strip()
    if '" "' in stripped and not (stripped.startswith('"') and stripped.endswith('"')):
        return f'"{stripped}"'
    return value


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ", ".join(_text(v) for v in value)
    if value is None:
        return ""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _whole(value: Any) -> int | None:
    """An integral JSON number as ``int`` (``300`` or ``300.0``); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _props_key(state: dict[str, Any] | None) -> str | None:
    """Which of ``inputs``/``outputs`` a state's properties are read from (None: neither)."""
    if not state:
        return None
    for key in ("inputs", "outputs"):
        if state.get(key):
            return key
    return None


def _props(state: dict[str, Any] | None) -> dict[str, Any]:
    key = _props_key(state)
    if state is None or key is None:
        return {}
    props = redact(state[key])
    return props if isinstance(props, dict) else {}


def _top_fields(step: dict[str, Any]) -> list[str]:
    """Top-level property names the engine says changed (``detailedDiff`` paths trimmed)."""
    names: list[str] = []
    for path in [
        *(step.get("detailedDiff") or {}),
        *(step.get("diffReasons") or []),
        *(step.get("replaceReasons") or []),
    ]:
        top = re.split(r"[.\[]", str(path), maxsplit=1)[0]
        if top and top not in names:
            names.append(top)
    return names


def parse_urn(urn: str) -> tuple[str, str, str]:
    """``(stack, type, name)`` of ``urn:pulumi:<stack>::<project>::<type>::<name>``."""
    parts = urn.split("::", 3)
    if len(parts) != 4 or not parts[0].startswith("urn:pulumi:"):
        raise ValueError(f"not a Pulumi URN: {urn!r}")
    return parts[0][len("urn:pulumi:") :], parts[2].split("$")[-1], parts[3]


class _Resource:
    """What a row needs to know about one resource, from its (redacted) properties."""

    def __init__(self, type_: str, urn_name: str, props: dict[str, Any]) -> None:
        self.props = props
        if type_ in DNS_TYPES:
            self.kind = "dns"
            self.provider = DNS_TYPES[type_]
            self.name = _text(props.get("name", urn_name))
            self.type = _text(props.get("type", ""))
            self.ttl = _whole(props.get("ttl"))
            zone = _text(props.get("zoneId", ""))
            self.where = f"{self.provider} {zone}".strip()
        else:
            cls = type_.rsplit(":", 1)[-1]
            self.kind = {"Domain": "mailgun domain", "Route": "route", "Webhook": "webhook"}.get(
                cls, "credential"
            )
            self.provider = "mailgun"
            self.type = f"Mailgun {cls}"
            self.ttl = None
            self.where = f"mailgun {_text(props.get('region') or 'us')}"
            if cls == "Route":
                self.name = _text(props.get("description") or props.get("expression") or urn_name)
            elif cls == "Webhook":
                self.name = (
                    f"{_text(props.get('domain', ''))} {_text(props.get('kind', ''))}".strip() or urn_name
                )
            elif cls == "DomainCredential":
                self.name = f"{_text(props.get('login', ''))}@{_text(props.get('domain', ''))}"
            else:
                self.name = _text(props.get("name") or urn_name)

    def values(self) -> list[str]:
        """The DNS values (TXT joined) of a record."""
        p = self.props
        if self.provider == "route53":
            records = p.get("records")
            if _placeholder(records):  # the whole list is secret or known after apply
                records = [records]
            out = [
                join_txt(_route53_txt(_text(r))) if self.type == "TXT" else _text(r) for r in records or []
            ]
            aliases = p.get("aliases")
            if _placeholder(aliases):
                aliases = [{"name": aliases}]
            for alias in aliases or []:
                if isinstance(alias, dict):
                    out.append(f"ALIAS {_text(alias.get('name', ''))}")
            return out
        content = p.get("content", p.get("value"))
        if content is None:
            return []
        text = _text(content)
        if self.type == "TXT":
            text = join_txt(text)
        if self.type == "MX" and p.get("priority") is not None:
            priority = _whole(p["priority"])
            text = f"{priority if priority is not None else _text(p['priority'])} {text}"
        return [text]

    def fields(self) -> dict[str, str]:
        """Property name -> display text; DNS records show their values under ``value``."""
        out: dict[str, str] = {}
        if self.kind == "dns":
            out["value"] = "\n".join(self.values())
            skip = {"ttl", "records", "content", "value", "priority"}
        else:
            skip = set()
        for key in sorted(self.props):
            if key not in skip and key not in HIDDEN_INPUTS:
                out[key] = _text(self.props[key])
        return out

    @property
    def is_mx(self) -> bool:
        return self.kind == "dns" and self.type == "MX"

    @property
    def is_dkim(self) -> bool:
        return self.kind == "dns" and "._domainkey." in self.name


def _lines(names: list[str], fields: dict[str, str]) -> list[str]:
    out: list[str] = []
    for n in names:
        if n == "value":
            out.extend(v for v in fields.get(n, "").split("\n") if v)
        else:
            out.append(f"{n}={fields.get(n, '')}")
    return out


def _summary(res: _Resource) -> list[str]:
    if res.kind == "dns":
        return res.values()
    fields = res.fields()
    return _lines([k for k in fields if k != "name"], fields)


def _got(value: Any, limit: int = 60) -> str:
    """How a value is named in a one-line message: ``12``, ``"x"``, ``null``, ``a list``."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = json.dumps(value, ensure_ascii=False)
    text = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)  # one line
    return text if len(text) <= limit else text[: limit - 20] + "…" + text[-19:]


def _quoted(text: str) -> str:
    """``text`` quoted for a one-line message (control characters escaped, shortened)."""
    return _got(text, 200)


def _key(name: str) -> str:
    """A property name as a JSON path element: bare when plain, quoted otherwise."""
    return name if re.fullmatch(r"[\w\[\]@$-]+(?:\.[\w\[\]@$-]+)*", name) else _got(name)


def _too_deep(doc: Any) -> bool:
    """Whether ``doc`` nests deeper than ``MAX_DEPTH`` (checked without recursion)."""
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return False


def _placeholder(value: Any) -> bool:
    """``[secret]`` or ``(known after apply)``: stands for a value of any type."""
    return isinstance(value, str) and value in PLACEHOLDERS


def _out_of_scope(type_: str) -> bool:
    return type_ in OUT_OF_SCOPE_TYPES or type_.startswith(OUT_OF_SCOPE_PREFIXES)


def _reported(type_: str) -> bool:
    return type_ in DNS_TYPES or type_.startswith(MAILGUN_PREFIX)


class _Problems:
    """Collects one ``Problem`` per finding in one file, located by JSON path."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.items: list[Problem] = []
        self.stack: tuple[str, str] | None = None  # the stack of the first URN, and its path

    def add(self, path: str, message: str) -> None:
        self.items.append(Problem(self.where, path, message))

    def expect(self, path: str, value: Any, kind: type | tuple[type, ...], what: str) -> bool:
        """Add a problem unless ``value`` is None or of ``kind``; whether it is usable."""
        if value is None:
            return False
        if isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool):
            return True
        self.add(path, f"expected {what}, got {_got(value)}")
        return False


def problems(doc: Any, where: str) -> list[Problem]:
    """Everything that keeps ``doc`` from being reported faithfully (see the module doc)."""
    out = _Problems(where)
    if _too_deep(doc):
        out.add("", f"nested deeper than {MAX_DEPTH} levels: not a `pulumi preview --json` document")
        return out.items
    if not isinstance(doc, dict):
        out.add("", f"expected a JSON object (the PreviewDigest of `pulumi preview --json`), got {_got(doc)}")
        return out.items
    if "steps" not in doc:
        out.add(
            "steps",
            "missing: not a `pulumi preview --json` document of a preview that ran "
            "(it has a step for the stack itself at least)",
        )
        return out.items
    steps = doc["steps"]
    if not isinstance(steps, list):
        out.add("steps", f"expected a list of steps, got {_got(steps)}")
        return out.items
    for i, step in enumerate(steps):
        _step_problems(step, f"steps.{i}", out)
    return out.items


def _step_problems(step: Any, path: str, out: _Problems) -> None:
    if not isinstance(step, dict):
        out.add(path, f"expected a step object, got {_got(step)}")
        return
    before = len(out.items)
    for key in ("op", "urn"):
        if step.get(key) is None:
            out.add(f"{path}.{key}", "missing: every step has an op and a urn")
        else:
            out.expect(f"{path}.{key}", step[key], str, "a string")
    urn_type = urn_name = ""
    if isinstance(step.get("urn"), str):
        try:
            urn_stack, urn_type, urn_name = parse_urn(step["urn"])
        except ValueError as exc:
            out.add(f"{path}.urn", str(exc))
        else:
            if not STACK_NAME.fullmatch(urn_stack):
                out.add(f"{path}.urn", f"{_quoted(urn_stack)} is not a stack name")
            elif out.stack is None:
                out.stack = (urn_stack, path)
            elif out.stack[0] != urn_stack:
                out.add(
                    f"{path}.urn",
                    f"stack {_quoted(urn_stack)} differs from {_quoted(out.stack[0])} of {out.stack[1]}",
                )
    for key in ("oldState", "newState"):
        state = step.get(key)
        if out.expect(f"{path}.{key}", state, dict, "an object (a resource state)"):
            out.expect(f"{path}.{key}.type", state.get("type"), str, "a string")
            for sub in ("inputs", "outputs"):
                out.expect(f"{path}.{key}.{sub}", state.get(sub), dict, "an object of properties")
    for key in ("diffReasons", "replaceReasons"):
        reasons = step.get(key)
        if out.expect(f"{path}.{key}", reasons, list, "a list of property names"):
            for j, reason in enumerate(reasons):
                if not isinstance(reason, str):
                    out.add(f"{path}.{key}.{j}", f"expected a property name (a string), got {_got(reason)}")
    detailed = step.get("detailedDiff")
    if out.expect(f"{path}.detailedDiff", detailed, dict, "an object of property path -> {kind, inputDiff}"):
        for prop, diff in detailed.items():
            at = f"{path}.detailedDiff.{_key(prop)}"
            if out.expect(at, diff, dict, "an object {kind, inputDiff}"):
                out.expect(f"{at}.kind", diff.get("kind"), str, "a string")
                out.expect(f"{at}.inputDiff", diff.get("inputDiff"), bool, "true or false")
    if len(out.items) > before:
        return  # not well-formed: whether it is understood is moot
    op: str = step["op"]
    if op in UNCHANGED_OPS:
        return
    resource = _quoted(f"{urn_type}::{urn_name}")
    if op not in OP_MAP:
        if op in PULUMI_OPS:
            what = f"mailfleet does not report {_quoted(op)} steps (Pulumi: {PULUMI_OPS[op]})"
        else:
            what = f"{_quoted(op)} is not a Pulumi step op"
        out.add(f"{path}.op", f"not understood: {what}; resource {resource}")
        return
    if _out_of_scope(urn_type):
        return
    if not _reported(urn_type):
        out.add(
            f"{path}.urn",
            f"not understood: mailfleet does not report {_quoted(urn_type)} resources (a {op} of {_quoted(urn_name)})",
        )
        return
    for key, needed in (("newState", NEEDS_NEW), ("oldState", NEEDS_OLD)):
        if op in needed and not step.get(key):
            out.add(f"{path}.{key}", f"missing: a {op} step of {urn_type} carries the resource's {key}")
    for key in ("oldState", "newState"):
        state = step.get(key)
        sub = _props_key(state)
        if state is None or sub is None:
            continue
        props = redact(state[sub])
        if not isinstance(props, dict):  # a secret envelope as a whole: shown as nothing
            continue
        where = f"{path}.{key}.{sub}"
        if urn_type in DNS_TYPES:
            _dns_problems(props, where, DNS_TYPES[urn_type], out)
        else:
            for name in MAILGUN_TEXT_PROPS:
                out.expect(f"{where}.{name}", props.get(name), str, "a string")


def _dns_problems(props: dict[str, Any], path: str, provider: str, out: _Problems) -> None:
    """The properties a DNS record row is made of must have the types the providers give them."""
    for name in ("name", "type", "zoneId"):
        out.expect(f"{path}.{name}", props.get(name), str, "a string")
    for name in ("ttl", "priority"):
        value = props.get(name)
        if value is not None and not _placeholder(value) and _whole(value) is None:
            out.add(f"{path}.{name}", f"expected a whole number, got {_got(value)}")
    if provider != "route53":
        for name in ("content", "value"):
            out.expect(f"{path}.{name}", props.get(name), str, "a string")
        return
    records = props.get("records")
    if not _placeholder(records) and out.expect(f"{path}.records", records, list, "a list of strings"):
        for j, record in enumerate(records):
            if not isinstance(record, str):
                out.add(f"{path}.records.{j}", f"expected a string, got {_got(record)}")
    aliases = props.get("aliases")
    if not _placeholder(aliases) and out.expect(f"{path}.aliases", aliases, list, "a list of objects"):
        for j, alias in enumerate(aliases):
            if out.expect(f"{path}.aliases.{j}", alias, dict, "an object {name, zoneId, ...}"):
                out.expect(f"{path}.aliases.{j}.name", alias.get("name"), str, "a string")


def load(text: str | bytes, where: str) -> dict[str, Any]:
    """Parse a PreviewDigest; ``InvalidData`` naming ``where`` and each JSON path otherwise."""
    try:
        doc = json.loads(text)
    except RecursionError:
        raise InvalidData(problems=[Problem(where, "", "not JSON: nested too deeply")]) from None
    except ValueError as exc:
        raise InvalidData(problems=[Problem(where, "", f"not JSON: {exc}")]) from None
    found = problems(doc, where)
    if found:
        raise InvalidData(problems=found)
    return doc


def changes(doc: dict[str, Any], stack: str | None = None, where: str = "preview") -> StackChanges:
    """One stack's rows from a digest (the stack named by the URNs unless ``stack`` is given).

    ``InvalidData`` (``where`` names the document) for a step that is not understood: see
    ``problems``; ``load`` has already refused those for a document it read.
    """
    found_problems = problems(doc, where)
    if found_problems:
        raise InvalidData(problems=found_problems)
    steps: list[dict[str, Any]] = doc["steps"]
    found = stack
    grouped: dict[str, list[dict[str, Any]]] = {}
    unchanged: set[str] = set()
    hidden: dict[str, set[str]] = {}
    for step in steps:
        urn_stack, type_, _ = parse_urn(step["urn"])
        found = found or urn_stack
        if step["op"] == "same":
            unchanged.add(step["urn"])
        elif step["op"] in OP_MAP and _reported(type_):
            grouped.setdefault(step["urn"], []).append(step)
        elif step["op"] in OP_MAP:
            hidden.setdefault(type_, set()).add(step["urn"])
    out = StackChanges(found or "", None, group_label="Resource")
    out.unchanged = len(unchanged)
    out.not_shown = {t: len(urns) for t, urns in sorted(hidden.items())}
    for urn, group in grouped.items():
        out.rows.append(_row(out.stack, urn, group))
    out.sort()
    log.info("preview stack=%s steps=%d rows=%d", out.stack, len(steps), len(out.rows))
    return out


def _row(stack: str, urn: str, group: list[dict[str, Any]]) -> Change:
    ops = {OP_MAP[s["op"]] for s in group}
    op = REPLACE if REPLACE in ops else OP_MAP[group[0]["op"]]
    retained = any((s.get("oldState") or {}).get("retainOnDelete") for s in group)
    if op == DELETE and retained:
        op = RELEASE  # retain_on_delete: Pulumi forgets it, the resource stays
    step = next((s for s in group if s["op"] == "replace"), group[0])
    old_state = next((s.get("oldState") for s in group if s.get("oldState")), None)
    new_state = next((s.get("newState") for s in group if s.get("newState")), None)
    _, type_, urn_name = parse_urn(urn)
    old = _Resource(type_, urn_name, _props(old_state)) if old_state else None
    new = _Resource(type_, urn_name, _props(new_state)) if new_state else None
    shown = (new if new is not None and op not in (DELETE, RELEASE) else old) or _Resource(
        type_, urn_name, {}
    )
    row = Change(stack, urn_name, op, shown.kind, urn, shown.name, shown.type, shown.where)
    row.ttl_old = old.ttl if old is not None else None
    row.ttl_new = new.ttl if new is not None and op not in (DELETE, RELEASE) else None
    if op == CREATE:
        row.new = _summary(shown)
    elif op == IMPORT:
        row.import_id = str((new_state or {}).get("id") or "") or None
        row.new = [*_summary(shown), f"import {row.import_id}" if row.import_id else "import"]
    elif op == DELETE:
        row.old = _summary(shown)
    elif op == RELEASE:
        row.old = [*_summary(shown), "leaves Pulumi's state; not deleted (retain_on_delete)"]
    else:
        fo = old.fields() if old is not None else {}
        fn = new.fields() if new is not None else {}
        names = _top_fields(step) or [k for k in fo.keys() | fn.keys() if fo.get(k) != fn.get(k)]
        if shown.kind == "dns":
            names = ["value" if n in ("records", "content", "value", "priority") else n for n in names]
        names = list(dict.fromkeys(n for n in names if n != "ttl" or shown.kind != "dns"))
        names.sort(key=lambda n: (n not in ("name", "type"), n != "value", n))
        row.fields = [*names, *(["ttl"] if row.ttl_old != row.ttl_new else [])]
        row.old = _lines(names, fo)
        row.new = _lines(names, fn)
    reasons = [str(r) for s in group for r in (s.get("replaceReasons") or [])]
    reasons = list(dict.fromkeys(reasons))
    if shown.kind == "mailgun domain" and shown.type == "Mailgun Domain":
        if op == DELETE:
            row.reasons.append(
                "Mailgun domain deleted: its DKIM key, SMTP credentials, suppressions and stored messages are lost"
            )
        elif op == REPLACE:
            why = ", ".join(reasons) or "a property that cannot be updated"
            row.reasons.append(
                f"{why} forces pulumi-mailgun to replace the domain (delete, then create): its DKIM key, "
                "SMTP credentials, suppressions and stored messages are lost"
            )
    elif shown.is_mx and op in (DELETE, REPLACE):
        verb = (
            "deleted"
            if op == DELETE
            else f"replaced ({', '.join(reasons) or 'replace'}): deleted, then created"
        )
        row.reasons.append(f"MX record {verb}: inbound mail for {shown.name} no longer reaches Mailgun")
    elif shown.is_dkim and op in (DELETE, REPLACE):
        verb = (
            "deleted"
            if op == DELETE
            else f"replaced ({', '.join(reasons) or 'replace'}): deleted, then created"
        )
        row.reasons.append(f"DKIM record {verb}: mail signed with this selector fails DKIM verification")
    if op == DELETE and shown.kind == "route":
        row.risks.append("route deleted: mail to the addresses it matches is no longer received")
    elif op == DELETE and shown.kind == "dns" and shown.type == "CNAME" and shown.name.startswith("email."):
        row.risks.append(
            f"tracking CNAME deleted: open and click links in mail already sent through {shown.name} stop working"
        )
    return row
