"""``Change`` rows from a ``pulumi preview --json`` document (a PreviewDigest).

Contract: the digest is ``{"steps": [{"op", "urn", "oldState", "newState", "diffReasons",
"replaceReasons", "detailedDiff"}, ...], "changeSummary": ...}`` as printed by ``pulumi
preview --json`` (pulumi/pulumi ``display.PreviewDigest``; ``oldState``/``newState`` are
``ResourceV3`` with ``type``, ``inputs`` and ``outputs``). Only DNS records (Route53,
Cloudflare) and Mailgun resources become rows. The steps of one replacement
(``create-replacement``, ``replace``, ``delete-replaced``) become one ``replace`` row;
``same``, ``read``, ``refresh``, ``discard`` and import steps are not changes and are skipped.

Secrets never reach a row: the engine already prints secret values as ``"[secret]"``, and
anything still in Pulumi's secret envelope (an object carrying the secret signature key) is
shown as ``[secret]`` without looking inside it.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from mailfleet.diff.change import CREATE, DELETE, REPLACE, UPDATE, Change, StackChanges
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
}
SKIPPED_OPS = {
    "same",
    "read",
    "read-replacement",
    "refresh",
    "import",
    "import-replacement",
    "discard",
    "discard-replaced",
    "remove-pending-replace",
}
HIDDEN_INPUTS = {"__defaults"}
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


def _props(state: dict[str, Any] | None) -> dict[str, Any]:
    if not state:
        return {}
    props = state.get("inputs") or state.get("outputs") or {}
    return redact(props) if isinstance(props, dict) else {}


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
        self.type_token = type_
        self.props = props
        if type_ in DNS_TYPES:
            self.kind = "dns"
            self.provider = DNS_TYPES[type_]
            self.name = _text(props.get("name", urn_name))
            self.type = _text(props.get("type", ""))
            ttl = props.get("ttl")
            self.ttl = ttl if isinstance(ttl, int) else None
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
            out = [join_txt(_text(r)) if self.type == "TXT" else _text(r) for r in records or []]
            for alias in p.get("aliases") or []:
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
            text = f"{_text(p['priority'])} {text}"
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


def load(text: str | bytes, where: str) -> dict[str, Any]:
    """Parse a PreviewDigest; ``InvalidData`` naming ``where`` when it is not one."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise InvalidData(problems=[Problem(where, "", f"not JSON: {exc}")]) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("steps", []), list):
        raise InvalidData(
            problems=[Problem(where, "steps", "not a `pulumi preview --json` document (no steps list)")]
        )
    for i, step in enumerate(doc.get("steps", [])):
        if (
            not isinstance(step, dict)
            or not isinstance(step.get("op"), str)
            or not isinstance(step.get("urn"), str)
        ):
            raise InvalidData(problems=[Problem(where, f"steps.{i}", "a step needs string 'op' and 'urn'")])
        try:
            parse_urn(step["urn"])
        except ValueError as exc:
            raise InvalidData(problems=[Problem(where, f"steps.{i}.urn", str(exc))]) from None
    return doc


def changes(doc: dict[str, Any], stack: str | None = None) -> StackChanges:
    """One stack's rows from a digest (the stack named by the URNs unless ``stack`` is given)."""
    steps: list[dict[str, Any]] = doc.get("steps", [])
    found = stack
    grouped: dict[str, list[dict[str, Any]]] = {}
    for step in steps:
        urn_stack, type_, _ = parse_urn(step["urn"])
        found = found or urn_stack
        op = step["op"]
        if op in SKIPPED_OPS or op not in OP_MAP:
            continue
        if type_ in DNS_TYPES or type_.startswith(MAILGUN_PREFIX):
            grouped.setdefault(step["urn"], []).append(step)
    out = StackChanges(found or "", None, group_label="Resource")
    for urn, group in grouped.items():
        out.rows.append(_row(out.stack, urn, group))
    out.sort()
    log.info("preview stack=%s steps=%d rows=%d", out.stack, len(steps), len(out.rows))
    return out


def _row(stack: str, urn: str, group: list[dict[str, Any]]) -> Change:
    ops = {OP_MAP[s["op"]] for s in group}
    op = REPLACE if REPLACE in ops else OP_MAP[group[0]["op"]]
    step = next((s for s in group if s["op"] == "replace"), group[0])
    old_state = next((s.get("oldState") for s in group if s.get("oldState")), None)
    new_state = next((s.get("newState") for s in group if s.get("newState")), None)
    _, type_, urn_name = parse_urn(urn)
    old = _Resource(type_, urn_name, _props(old_state)) if old_state else None
    new = _Resource(type_, urn_name, _props(new_state)) if new_state else None
    shown = (new if new is not None and op != DELETE else old) or _Resource(type_, urn_name, {})
    row = Change(stack, urn_name, op, shown.kind, urn, shown.name, shown.type, shown.where)
    row.ttl_old = old.ttl if old is not None else None
    row.ttl_new = new.ttl if new is not None and op != DELETE else None
    if op == CREATE:
        row.new = _summary(shown)
    elif op == DELETE:
        row.old = _summary(shown)
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
    return row
