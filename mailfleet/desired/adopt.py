"""Adoption in the desired state: own only Mailgun's part of what already exists.

``apply(tenant, state)`` takes what a tenant needs (``build._build_full``) and the tenant's
``adopted:`` block (``mailfleet.model.adoption``), and returns what the stack declares:

- A DNS record whose name and type already held an RRset is imported (``Adopted.import_id``:
  Route53 ``ZONEID_NAME_TYPE``, one resource per RRset; Cloudflare ``ZONE_ID/RECORD_ID``,
  one resource per value) and never deleted (``retain_on_delete``).
- SPF: the customer's record, with ``include:mailgun.org`` and the tenant's includes added
  before its ``all`` (``records.spf.merge_into``); never a second ``v=spf1`` record.
- DMARC: the customer's record with our report addresses added; its policy is kept unless the
  tenant file names one (``records.dmarc.merge_into``).
- Route53 owns a whole RRset, so the apex TXT record carries every other value (site
  verifications) unchanged. On Cloudflare each value is its own record: only the SPF record is
  mailfleet's, the others stay the customer's and are not in the program at all.
- Mailgun domains, routes, webhooks and the CRM's SMTP login found by
  ``import --from-mailgun`` are imported (``region:domain``, ``region:route-id``,
  ``region:domain:kind``, ``region:login@domain``) and retained.

``release``: ``tenant remove`` on an adopted tenant sets it. The stack then declares only what
was adopted, DNS records back at their original values (the restore ``pulumi up``); removing
the tenant file afterwards lets Pulumi forget them without deleting them (the release ``up``).
"""

from __future__ import annotations

from dataclasses import replace

from mailfleet.desired.naming import CREDENTIAL_LOGIN
from mailfleet.desired.rules import MAILGUN_SPF_INCLUDE
from mailfleet.desired.state import Adopted, DnsRecord, TenantState
from mailfleet.model.adoption import AdoptedRecord, DnsAdoption, MailgunAdoption, is_dmarc, is_spf
from mailfleet.model.tenant import Tenant
from mailfleet.records import dmarc, spf

# pulumi-mailgun's Read never sets these: an imported domain shows them as null, and each
# would force a replacement (delete, then create) that ``protect`` then blocks. An adopted
# domain ignores them (the components pass ``ignore_changes``; ``diff`` shows no replace).
ADOPTED_DOMAIN_IGNORE = ("dkim_selector", "dkim_key_size", "force_dkim_authority")


def import_id(record: DnsRecord, found: AdoptedRecord, value: str | None) -> str | None:
    """The Pulumi import id of ``record`` (Cloudflare: the record holding ``value``)."""
    if record.provider == "route53" and record.zone_id:
        return f"{record.zone_id}_{record.name}_{record.type}"
    if record.provider == "cloudflare" and record.zone_id:
        rid = found.id_of(value) if value is not None else (found.ids[0] if len(found.ids) == 1 else None)
        return f"{record.zone_id}/{rid}" if rid else None
    return None


def _spf(
    record: DnsRecord, found: AdoptedRecord, ours: list[str], ip_terms: tuple[str, ...] = ()
) -> DnsRecord:
    existing = found.spf
    # With dedicated IPs mailfleet's part is the ip4/ip6 terms: an include:mailgun.org the
    # customer had for Mailgun is replaced, never left behind.
    replace_ = (MAILGUN_SPF_INCLUDE,) if ip_terms else ()
    merged = (
        spf.merge_into(existing, ours, ip_terms=ip_terms, replace=replace_)
        if existing is not None
        else record.values[0]
    )
    others = tuple(v for v in found.values if not is_spf(v))
    if record.provider == "route53":
        # One resource owns the RRset: it must carry the site verifications too.
        return replace(
            record,
            values=(merged, *others),
            adopted=Adopted(import_id(record, found, None), tuple(found.values)),
        )
    original = (existing,) if existing is not None else ()
    if record.provider == "cloudflare" and existing is None:
        # No SPF record to take over: ours is a new record, the other TXT records stay the
        # customer's. Nothing to import, nothing to give back.
        return replace(record, values=(merged,))
    return replace(record, values=(merged,), adopted=Adopted(import_id(record, found, existing), original))


def _dmarc(
    record: DnsRecord, found: AdoptedRecord, policy: str | None, rua: list[str], ruf: list[str]
) -> DnsRecord:
    existing = found.dmarc
    if existing is None:
        return record
    merged = dmarc.merge_into(existing, policy, rua, ruf)
    others = tuple(v for v in found.values if not is_dmarc(v))
    if record.provider == "route53":
        return replace(
            record,
            values=(merged, *others),
            adopted=Adopted(import_id(record, found, None), tuple(found.values)),
        )
    return replace(record, values=(merged,), adopted=Adopted(import_id(record, found, existing), (existing,)))


def _other(record: DnsRecord, found: AdoptedRecord) -> DnsRecord:
    """DKIM, tracking, MX: the value is ours (Mailgun's); the RRset is taken over in place."""
    value = found.values[0] if len(found.values) == 1 else None
    return replace(record, adopted=Adopted(import_id(record, found, value), tuple(found.values)))


def _dns(tenant: Tenant, state: TenantState, dns: DnsAdoption, stack_rua: str) -> None:
    sender = tenant.sender_domain
    ours = [MAILGUN_SPF_INCLUDE, *(sender.spf_includes if sender is not None else [])]
    out = []
    for record in state.records:
        found = dns.find(record.name, record.type)
        if found is None or (record.provider == "manual" and record.purpose not in ("spf", "dmarc")):
            out.append(record)
            continue
        if record.purpose == "spf":
            ips = state.sending_ips
            terms = tuple(f"ip{6 if ':' in ip else 4}:{ip}" for ip in ips.ips) if ips is not None else ()
            record = _spf(record, found, ours, terms)
        elif record.purpose == "dmarc":
            own = [stack_rua] if record.ours else [stack_rua, *tenant.dmarc.rua]
            record = _dmarc(
                record, found, tenant.dmarc.policy, own, [] if record.ours else list(tenant.dmarc.ruf)
            )
        else:
            record = _other(record, found)
        if record.provider == "manual":
            # The customer publishes it: nothing to import; `records` says what to replace.
            original = record.adopted.original if record.adopted is not None else tuple(found.values)
            record = replace(record, adopted=Adopted(None, original))
        out.append(record)
    state.records = out


def _mailgun(state: TenantState, mg: MailgunAdoption) -> None:
    region = mg.region
    domains = set(mg.domains)
    state.domains = [
        replace(d, adopted=Adopted(f"{region}:{d.name}")) if d.name in domains and d.region == region else d
        for d in state.domains
    ]
    state.routes = [
        replace(r, adopted=Adopted(f"{region}:{mg.routes[r.address]}"))
        if r.address in mg.routes and r.region == region
        else r
        for r in state.routes
    ]
    state.webhooks = [
        replace(w, adopted=Adopted(f"{region}:{w.domain}:{w.kind}"))
        if w.domain in domains and w.region == region
        else w
        for w in state.webhooks
    ]
    cred = state.credential_domain
    if cred is not None and cred in domains and state.region == region and CREDENTIAL_LOGIN in mg.credentials:
        state.credential_adopted = Adopted(f"{region}:{CREDENTIAL_LOGIN}@{cred}")


def apply(tenant: Tenant, state: TenantState, stack_rua: str) -> TenantState:
    """``state`` with the tenant's adopted items marked and merged (see the module docstring)."""
    adopted = tenant.adopted
    if adopted is None:
        return state
    if adopted.dns is not None:
        _dns(tenant, state, adopted.dns, stack_rua)
    if adopted.mailgun is not None:
        _mailgun(state, adopted.mailgun)
    if adopted.release:
        _release(state)
    return state


def _release(state: TenantState) -> None:
    """Declare only what was adopted, DNS records back at their original values."""
    state.records = [
        replace(r, values=r.adopted.original)
        for r in state.records
        if r.adopted is not None and r.adopted.original
    ]
    state.domains = [d for d in state.domains if d.adopted is not None]
    state.routes = [r for r in state.routes if r.adopted is not None]
    state.webhooks = [w for w in state.webhooks if w.adopted is not None]
    # The CRM's SMTP login is bound to the outbound setting (``credential_domain``): an adopted
    # login keeps it declared until the tenant file goes, so the login is retained, not deleted.
    state.outbound = None if state.credential_adopted is None else state.outbound
