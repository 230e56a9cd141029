"""Tenant files as written by ``mailfleet tenant add``: stable key order, round-trip safe.

Contract:

- ``render(tenant)`` returns the bytes of ``tenants/<slug>.yaml`` with keys in the order of the
  example files (slug, name, region, mailboxes, sender_domain, dmarc, dkim, tracking,
  outbound, migration). Fields that change a Mailgun domain when edited (DKIM selector and
  size) and the DMARC policy are always written, so a later change of a default never changes
  an existing tenant silently. The result parses back (``MailfleetLoader``) to an equal
  ``Tenant``; ``render`` checks that and raises ``ValueError`` otherwise.
- ``as_data(tenant, full=True)`` is the same mapping with every default filled in (``show``).
- ``migration_in_progress(value)`` says whether a tenant file's ``migration`` block (the
  ``Migration`` model, or the raw mapping of a file that does not validate) marks a migration
  that has not finished: any non-empty block whose state/phase is not ``"done"``. The migration command owns that block; this module only reads it.
"""

from __future__ import annotations

from typing import Any

import yaml

from mailfleet.loader import parse_yaml
from mailfleet.model.tenant import DEFAULT_DMARC_POLICY, Tenant
from mailfleet.records.dmarc import policy_of as dmarc_policy_of

HEADER = "# Written by `mailfleet tenant add`. Hand edits are fine: run `mailfleet validate` after.\n"
DONE_PHASES = frozenset({"done"})


def as_data(tenant: Tenant, *, full: bool = False) -> dict[str, Any]:
    """The tenant as a plain mapping in file order; ``full`` includes every default."""
    data: dict[str, Any] = {
        "slug": tenant.slug,
        "name": tenant.name,
        "region": tenant.region,
    }
    if tenant.stack is not None or full:
        data["stack"] = tenant.stack
    data["mailboxes"] = list(tenant.mailboxes)
    sender = tenant.sender_domain
    if sender is not None:
        sd: dict[str, Any] = {"name": sender.name, "dns": sender.dns}
        if sender.spf_includes or full:
            sd["spf_includes"] = list(sender.spf_includes)
        if sender.spf_all != "~all" or full:
            sd["spf_all"] = sender.spf_all
        data["sender_domain"] = sd
    elif full:
        data["sender_domain"] = None
    dmarc: dict[str, Any] = {}
    if tenant.dmarc.policy is not None:
        dmarc["policy"] = tenant.dmarc.policy
    elif full:
        dmarc["policy"] = effective_dmarc_policy(tenant)
    if tenant.dmarc.rua or full:
        dmarc["rua"] = list(tenant.dmarc.rua)
    if tenant.dmarc.ruf or full:
        dmarc["ruf"] = list(tenant.dmarc.ruf)
    data["dmarc"] = dmarc
    data["dkim"] = {"selector": tenant.dkim.selector, "bits": tenant.dkim.bits}
    data["tracking"] = tenant.tracking
    out = tenant.outbound
    if tenant.uses_smtp or full:
        outbound: dict[str, Any] = {"service": out.service, "marketing": out.marketing}
        if out.smtp is not None:
            outbound["smtp"] = {"host": out.smtp.host, "port": out.smtp.port}
            if out.smtp.egress_ips or full:
                outbound["smtp"]["egress_ips"] = list(out.smtp.egress_ips)
        elif full:
            outbound["smtp"] = None
        data["outbound"] = outbound
    if tenant.mailgun_ips is not None:
        ips: dict[str, Any] = {"ips": list(tenant.mailgun_ips.ips)}
        if tenant.mailgun_ips.pool is not None:
            ips["pool"] = tenant.mailgun_ips.pool
        data["mailgun_ips"] = ips
    elif full:
        data["mailgun_ips"] = None
    if tenant.adopted is not None:
        data["adopted"] = tenant.adopted.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    elif full:
        data["adopted"] = None
    if tenant.migration is not None:
        data["migration"] = tenant.migration.model_dump(mode="json", by_alias=True, exclude_none=True)
    elif full:
        data["migration"] = None
    if tenant.shard_move is not None:
        data["shard_move"] = tenant.shard_move.model_dump(mode="json", by_alias=True, exclude_none=True)
    elif full:
        data["shard_move"] = None
    return data


def effective_dmarc_policy(tenant: Tenant) -> str:
    """The policy the tenant's DMARC record gets: its own, the adopted record's, or the default."""
    if tenant.dmarc.policy is not None:
        return tenant.dmarc.policy
    dns = tenant.adopted.dns if tenant.adopted is not None else None
    if dns is not None and tenant.sender_domain is not None:
        found = dns.find(f"_dmarc.{tenant.sender_domain.name}", "TXT")
        if found is not None and found.dmarc is not None:
            return dmarc_policy_of(found.dmarc) or "none"
    return DEFAULT_DMARC_POLICY


def dump_yaml(data: Any) -> str:
    """Block mappings, flow-style lists of scalars (``[support, sales]``), UTF-8 kept readable."""

    class _Dumper(yaml.SafeDumper):
        def represent_list(self, items: Any) -> Any:  # type: ignore[override]
            flow = all(not isinstance(i, dict | list) for i in items)
            return self.represent_sequence("tag:yaml.org,2002:seq", items, flow_style=flow)

    _Dumper.add_representer(list, _Dumper.represent_list)
    return yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=4096
    )


def render(tenant: Tenant, header: str = HEADER) -> bytes:
    """The file bytes for ``tenant``; verified to parse back to the same tenant."""
    text = header + dump_yaml(as_data(tenant))
    data = text.encode("utf-8")
    again = Tenant.model_validate(parse_yaml(data))
    if again != tenant:
        raise ValueError(f"rendered tenant file for {tenant.slug!r} does not round-trip")
    return data


def migration_phase(value: Any) -> str | None:
    """The phase of a ``migration`` block: a ``Migration`` model's phase (``done`` once its
    state is done), or a raw mapping's ``phase``, else its ``state``; None without one."""
    if value is None:
        return None
    if hasattr(value, "state") and hasattr(value, "phase"):
        return "done" if value.state == "done" else str(value.phase)
    if not isinstance(value, dict):
        return None
    for key in ("phase", "state"):
        phase = value.get(key)
        if phase is not None:
            return str(phase)
    return None


def migration_in_progress(value: Any) -> bool:
    """True for a non-empty ``migration`` block whose phase is not ``done``."""
    if value is None:
        return False
    if isinstance(value, dict):
        if not value:
            return False
        return not any(str(value.get(k)) in DONE_PHASES for k in ("state", "phase"))
    return migration_phase(value) not in DONE_PHASES


def replace_block(text: str, key: str, block_text: str) -> str:
    """``text`` with its top-level ``key:`` block replaced by ``block_text`` (removed when empty).

    The block is the ``key:`` line and the indented lines after it (blank lines inside it
    included, blank lines after it not); every other byte, comments included, stays as it was.
    Without such a block, ``block_text`` is appended at the end.
    """
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith(f"{key}:")), None)
    if block_text and not block_text.endswith("\n"):
        block_text += "\n"
    if start is None:
        if not block_text:
            return text
        head = text if not text or text.endswith("\n") else text + "\n"
        return head + block_text
    end = start + 1
    last = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t"):
        end += 1
        if lines[end - 1].strip():
            last = end
    return "".join(lines[:start]) + block_text + "".join(lines[last:])
