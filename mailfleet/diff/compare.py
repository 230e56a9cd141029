"""The rows between two snapshots: per stack, per tenant, by desired-state item ``key``.

Contract: an item only at base is a delete, only at head a create; an item at both whose
fields differ is an update, or a replace when a field of ``DOMAIN_REPLACE_FIELDS`` changed on
a Mailgun domain. An item at head that is adopted with an import id (``adopted.import_id``:
``import --from-mailgun``, ``tenant adopt``) that it did not have at base is an import: it
exists already and Pulumi takes it over, whether it is new at head or its tenant file just
gained the ``adopted:`` block; an import is never destructive. A row is destructive
(``Change.reasons`` not empty) when:

- a Mailgun domain is deleted (its DKIM key, routes' traffic, credentials, suppressions and
  stored messages live only in that region), including a tenant moving to another region's
  stack, where the domain must be deleted before the other region can create the same name;
- a Mailgun domain is replaced, naming the field that forces it (DKIM selector, key size...);
- an MX record is deleted (inbound mail stops), or a DKIM record is deleted (mail signed with
  that selector fails verification), which a DKIM selector change always causes.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from mailfleet.desired.adopt import ADOPTED_DOMAIN_IGNORE
from mailfleet.desired.state import (
    DOMAIN_REPLACE_FIELDS,
    DnsRecord,
    MailgunDomain,
    MailgunRoute,
    MailgunWebhook,
    OutboundSetting,
    StackState,
    TenantState,
)
from mailfleet.diff.change import CREATE, DELETE, IMPORT, RELEASE, REPLACE, UPDATE, Change, StackChanges
from mailfleet.diff.snapshot import Snapshot

log = logging.getLogger("mailfleet.diff.compare")

FROM_MAILGUN = "(DKIM key from Mailgun)"
VALUE = "value"


def _onoff(flag: bool) -> str:
    return "on" if flag else "off"


def _channel(c: dict[str, Any]) -> str:
    return f"smtp {c['host']}:{c['port']}" if c["via"] == "smtp" else str(c["via"])


def describe(item: Any) -> tuple[str, str, str, str, int | None, dict[str, str], list[str]]:
    """``(kind, name, type, where, ttl, fields, summary)`` of one desired-state item.

    ``fields`` are compared for updates and shown as ``field=value`` lines (``value`` bare);
    ``summary`` is what a create or delete row shows.
    """
    if isinstance(item, DnsRecord):
        value = FROM_MAILGUN if item.from_mailgun else "\n".join(item.values)
        where = f"{item.provider} {'our zone' if item.ours else item.zone}"
        fields = {
            VALUE: value,
            "provider": item.provider,
            "zone": item.zone,
            "zone_id": str(item.zone_id or ""),
        }
        return ("dns", item.name, item.type, where, item.ttl, fields, value.split("\n"))
    if isinstance(item, MailgunDomain):
        fields = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in item.as_dict().items()}
        fields.pop("name")
        summary = [
            f"{item.role} domain, dkim {item.dkim_selector}/{item.dkim_key_size}, "
            f"spam_action={item.spam_action}, wildcard={str(item.wildcard).lower()}, "
            f"force_dkim_authority={str(item.force_dkim_authority).lower()}, "
            f"tracking open={_onoff(item.open_tracking)} click={_onoff(item.click_tracking)}"
        ]
        return (
            "mailgun domain",
            item.name,
            "Mailgun domain",
            f"mailgun {item.region}",
            None,
            fields,
            summary,
        )
    if isinstance(item, MailgunRoute):
        fields = {
            "priority": str(item.priority),
            "expression": item.expression,
            "actions": ", ".join(item.actions),
            "description": item.description,
        }
        summary = [f"prio {item.priority}: {item.expression} -> {', '.join(item.actions)}"]
        return ("route", item.address, "Mailgun route", f"mailgun {item.region}", None, fields, summary)
    if isinstance(item, MailgunWebhook):
        urls = "\n".join(item.urls)
        return (
            "webhook",
            item.domain,
            f"webhook {item.kind}",
            f"mailgun {item.region}",
            None,
            {"urls": urls},
            list(item.urls),
        )
    if isinstance(item, OutboundSetting):
        value = item.value
        fields = {
            "service": _channel(value["service"]),
            "marketing": _channel(value["marketing"]),
            "sending_domain": item.sending_domain,
            "egress_ips_to_allow": ", ".join(item.egress_ips),
            "secret_parameter": item.secret_parameter or "",
            "aws_region": item.aws_region,
        }
        summary = [f"service={fields['service']} marketing={fields['marketing']}"]
        summary.append(f"sending_domain={item.sending_domain}")
        if item.egress_ips:
            summary.append(f"customer allows {fields['egress_ips_to_allow']}")
        return ("outbound", item.parameter, "SSM parameter", f"ssm {item.aws_region}", None, fields, summary)
    raise TypeError(f"unknown desired-state item {type(item).__name__}")


def field_lines(names: list[str], fields: dict[str, str]) -> list[str]:
    out: list[str] = []
    for name in names:
        value = fields.get(name, "")
        if name == VALUE:
            out.extend(value.split("\n"))
        else:
            out.append(f"{name}={value}")
    return out


def import_id(item: Any) -> str | None:
    """The id a desired-state item is imported by (``Adopted.import_id``), or None."""
    adopted = getattr(item, "adopted", None)
    return adopted.import_id if adopted is not None else None


def _selector(record: DnsRecord) -> str:
    return record.name.split("._domainkey.", 1)[0]


class _Comparer:
    def __init__(self, head: Snapshot) -> None:
        self.unchanged = 0  # items at both revisions, equal; reset per stack by ``compare``
        self.head_domains: dict[str, str] = {}
        self.head_tenants: dict[str, list[str]] = {}
        self._in_stack: dict[str, set[str]] = {}
        for name, state in head.states.items():
            self._in_stack[name] = {t.slug for t in state.tenants}
            for t in state.tenants:
                self.head_tenants.setdefault(t.slug, []).append(name)
                for d in t.domains:
                    self.head_domains[d.name] = name

    def head_tenants_in(self, stack: str) -> set[str]:
        return self._in_stack.get(stack, set())

    def tenant(
        self, stack: str, slug: str, base: TenantState | None, head: TenantState | None
    ) -> list[Change]:
        old = {i.key: i for i in base.items()} if base is not None else {}
        new = {i.key: i for i in head.items()} if head is not None else {}
        rows: list[Change] = []
        for key in old.keys() | new.keys():
            a, b = old.get(key), new.get(key)
            if a is not None and b is not None and a == b:
                self.unchanged += 1
                continue
            rows.append(self.row(stack, slug, key, a, b))
        self.explain(stack, rows, old, new)
        self.risks(rows, old, new)
        return rows

    def risks(self, rows: list[Change], old: dict[str, Any], new: dict[str, Any]) -> None:
        """Attach why a row is risky though not destructive (mail already sent, a mailbox, the
        customer's DNS)."""
        for row in rows:
            item = new.get(row.key) if row.key in new else old.get(row.key)
            if row.op == DELETE and isinstance(item, MailgunRoute):
                row.risks.append(
                    f"route deleted: mail to {item.address} is no longer received (Mailgun rejects it)"
                )
            if not isinstance(item, DnsRecord) or row.op == RELEASE:
                continue
            if row.op == DELETE and item.purpose == "tracking":
                row.risks.append(
                    f"tracking CNAME deleted: open and click links in mail already sent through {item.name} "
                    "stop working"
                )
            if item.provider == "manual":
                verb = {DELETE: "remove", CREATE: "add"}.get(row.op, "change")
                row.risks.append(
                    f"manual DNS: the customer must {verb} this record in their zone "
                    f"({item.zone}) themselves (`mailfleet records {row.group}`)"
                )

    def row(self, stack: str, slug: str, key: str, a: Any, b: Any) -> Change:
        imported = import_id(b) if b is not None else None
        if imported is not None and (a is None or import_id(a) != imported):
            return self.import_row(stack, slug, key, a, b, imported)
        if a is None:
            kind, name, type_, where, ttl, _fields, summary = describe(b)
            return Change(stack, slug, CREATE, kind, key, name, type_, where, ttl_new=ttl, new=summary)
        if b is None:
            kind, name, type_, where, ttl, _fields, summary = describe(a)
            if getattr(a, "adopted", None) is not None:
                # retain_on_delete: Pulumi forgets it; it stays where it is, the customer's again.
                return Change(
                    stack, slug, RELEASE, kind, key, name, type_, where, ttl_old=ttl,
                    old=[*summary, "leaves Pulumi's state; not deleted (retain_on_delete)"],
                )  # fmt: skip
            return Change(stack, slug, DELETE, kind, key, name, type_, where, ttl_old=ttl, old=summary)
        kind, name, type_, where, ttl_a, fa, _ = describe(a)
        _, _, _, where_b, ttl_b, fb, _ = describe(b)
        changed = [f for f in fa.keys() | fb.keys() if fa.get(f) != fb.get(f)]
        order = list(fa)
        changed.sort(key=lambda f: order.index(f) if f in order else len(order))
        if ttl_a != ttl_b:
            changed.append("ttl")
        if not changed:
            # A difference no display field covers: name the dataclass fields that differ.
            for f in dataclasses.fields(a):
                if getattr(a, f.name) != getattr(b, f.name):
                    changed.append(f.name)
                    fa[f.name], fb[f.name] = str(getattr(a, f.name)), str(getattr(b, f.name))
        shown = [f for f in changed if f != "ttl"]
        row = Change(
            stack,
            slug,
            UPDATE,
            kind,
            key,
            name,
            type_,
            where_b if where_b != where else where,
            ttl_old=ttl_a,
            ttl_new=ttl_b,
            old=field_lines(shown, fa),
            new=field_lines(shown, fb),
            fields=changed,
        )
        if isinstance(a, MailgunDomain):
            # An adopted domain ignores the fields pulumi-mailgun cannot read back: no replace.
            ignored = ADOPTED_DOMAIN_IGNORE if b.adopted is not None else ()
            forcing = [f for f in DOMAIN_REPLACE_FIELDS if f in changed and f not in ignored]
            if forcing:
                row.op = REPLACE
                what = ", ".join(f"{f} {fa[f]} → {fb[f]}" for f in forcing)
                row.reasons.append(
                    f"{what} forces pulumi-mailgun to replace the domain (delete, then create): "
                    "its DKIM key, SMTP credentials, suppressions and stored messages are lost"
                )
        return row

    def import_row(self, stack: str, slug: str, key: str, a: Any, b: Any, imported: str) -> Change:
        """An item Pulumi imports: new at head, or its tenant file just adopted it."""
        kind, name, type_, where, ttl, fb, summary = describe(b)
        row = Change(stack, slug, IMPORT, kind, key, name, type_, where, ttl_new=ttl, import_id=imported)
        if a is None:
            row.new = [*summary, f"import {imported}"]
            return row
        _, _, _, _, ttl_a, fa, _ = describe(a)
        order = list(fb)
        changed = sorted(
            (f for f in fa.keys() | fb.keys() if f != "adopted" and fa.get(f) != fb.get(f)),
            key=lambda f: order.index(f) if f in order else len(order),
        )
        row.ttl_old = ttl_a
        row.old = field_lines(changed, fa)
        row.new = [*field_lines(changed, fb), f"import {imported}"]
        row.fields = [*changed, *(["ttl"] if ttl_a != ttl else [])]
        return row

    def explain(self, stack: str, rows: list[Change], old: dict[str, Any], new: dict[str, Any]) -> None:
        """Attach the destructive reasons that need more than one row to tell."""
        created_dkim = {
            r.mailgun_domain: r for r in new.values() if isinstance(r, DnsRecord) and r.purpose == "dkim"
        }
        for row in rows:
            if row.op != DELETE:
                continue
            item = old[row.key]
            if isinstance(item, MailgunDomain):
                moved_to = [n for n in self.head_tenants.get(row.group, ()) if n != stack]
                if moved_to and row.group not in self.head_tenants_in(stack):
                    other = moved_to[0]
                    same_name = self.head_domains.get(item.name) == other
                    row.reasons.append(
                        f"tenant moves to stack {other}: "
                        + (
                            f"domain names are global, so {item.name} is deleted here before stack {other} "
                            "can create it; "
                            if same_name
                            else ""
                        )
                        + f"its DKIM key, SMTP credentials, suppressions and stored messages in {item.region} "
                        "do not move"
                    )
                else:
                    row.reasons.append(
                        f"Mailgun domain deleted in {item.region}: its DKIM key, SMTP credentials, "
                        "suppressions and stored messages are lost"
                    )
            elif isinstance(item, DnsRecord) and item.type == "MX":
                row.reasons.append(
                    f"MX record deleted: inbound mail for {item.name} no longer reaches Mailgun"
                )
            elif isinstance(item, DnsRecord) and item.purpose == "dkim":
                replacement = created_dkim.get(item.mailgun_domain)
                if replacement is not None and replacement.name != item.name:
                    row.reasons.append(
                        f"DKIM selector changed {_selector(item)} → {_selector(replacement)}: "
                        f"mail signed with selector {_selector(item)} fails DKIM verification"
                    )
                else:
                    row.reasons.append(
                        f"DKIM record deleted: mail signed with selector {_selector(item)} fails DKIM verification"
                    )


def _stack_order(names: set[str]) -> list[str]:
    return sorted(names)


def compare(base: Snapshot, head: Snapshot, stacks: list[str] | None = None) -> list[StackChanges]:
    """The changes from ``base`` to ``head`` for ``stacks`` (None: every stack at either)."""
    comparer = _Comparer(head)
    names = _stack_order(set(base.states) | set(head.states))
    if stacks is not None:
        names = [n for n in names if n in stacks]
    out = []
    for name in names:
        b_state: StackState | None = base.states.get(name)
        h_state: StackState | None = head.states.get(name)
        region = (h_state or b_state).region if (h_state or b_state) else None
        changes = StackChanges(name, region)
        b = {t.slug: t for t in b_state.tenants} if b_state else {}
        h = {t.slug: t for t in h_state.tenants} if h_state else {}
        skipped = 0
        comparer.unchanged = 0
        for slug in sorted(b.keys() | h.keys()):
            bt, ht = b.get(slug), h.get(slug)
            if bt is ht:
                skipped += 1
                comparer.unchanged += len(ht.items()) if ht is not None else 0
                continue
            changes.rows.extend(comparer.tenant(name, slug, bt, ht))
        changes.unchanged = comparer.unchanged
        changes.sort()
        log.info("compare stack=%s rows=%d unchanged_tenants=%d", name, len(changes.rows), skipped)
        out.append(changes)
    return out
