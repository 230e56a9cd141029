"""The rules a tenant must satisfy beyond its schema: one place, run by every command.

The tenant schema (``mailfleet.model.tenant``) checks each field on its own. The rules here
need the records a tenant produces or the other tenants, so they live above the record
builders:

- ``tenant_problems``: one tenant's merged SPF record within RFC 7208's limits (10 lookups,
  450 octets for the record and for the DNS answer, no include of itself), and every DNS name
  composed from its fields within 253 octets (``name_problems``);
- ``conflicts``: what two tenants may not share, over every stack of both regions.

Each problem names the tenant file and the field path (``sender_domain.spf_includes``); the
CLI turns field paths into flags where the input came from flags.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from mailfleet.desired.state import StackState, TenantState
from mailfleet.errors import Problem
from mailfleet.model import names
from mailfleet.model.migration import declaration
from mailfleet.model.region import REGIONS
from mailfleet.model.stack import StackConfig
from mailfleet.model.tenant import Tenant
from mailfleet.records import dkim, dmarc, spf, tracking

# Both regions use the same SPF include, so a tenant's merged record is the same in either.
MAILGUN_SPF_INCLUDE = REGIONS["eu"].spf_include
assert all(r.spf_include == MAILGUN_SPF_INCLUDE for r in REGIONS.values())


def tenant_problems(tenant: Tenant, where: str, stacks: Iterable[StackConfig] = ()) -> list[Problem]:
    """Every rule ``tenant`` breaks on its own, one ``Problem`` each.

    With ``stacks``, also the names that depend on a stack's settings (``name_problems``).
    """
    return [*_spf_problems(tenant, where), *name_problems(tenant, where, stacks)]


def _spf_problems(tenant: Tenant, where: str) -> list[Problem]:
    sender = tenant.sender_domain
    if sender is None:
        return []
    if sender.name in sender.spf_includes:
        return [
            Problem(
                where,
                "sender_domain.spf_includes",
                f"include:{sender.name} is the domain's own SPF record "
                "(it would include itself: an SPF loop, permerror)",
            )
        ]
    # A tenant's own dedicated IPs replace include:mailgun.org (a stack's are not known here,
    # so a tenant relying on those is counted with Mailgun's include: the safe side).
    terms = tenant.mailgun_ips.spf_terms() if tenant.mailgun_ips is not None else ()
    try:
        spf.merge(MAILGUN_SPF_INCLUDE, sender.spf_includes, ip_terms=terms)
    except ValueError as exc:
        return [Problem(where, "sender_domain.spf_includes", str(exc))]
    try:
        spf.merge(
            MAILGUN_SPF_INCLUDE, sender.spf_includes, sender.spf_all, domain=sender.name, ip_terms=terms
        )
    except ValueError as exc:
        return [Problem(where, "sender_domain", str(exc))]
    existing = adopted_spf(tenant)
    if existing is not None:
        # The record mailfleet publishes is the customer's with its part merged in: the
        # limits apply to all of it, the customer's own senders included.
        try:
            spf.check_record(
                spf.merge_into(
                    existing,
                    [MAILGUN_SPF_INCLUDE, *sender.spf_includes],
                    ip_terms=terms,
                    replace=(MAILGUN_SPF_INCLUDE,) if terms else (),
                ),
                domain=sender.name,
            )
        except ValueError as exc:
            return [Problem(where, "adopted.dns", f"merged with the customer's SPF record: {exc}")]
    return []


def adopted_spf(tenant: Tenant) -> str | None:
    """The customer's SPF record found at the sender domain when it was adopted, if any."""
    sender = tenant.sender_domain
    dns = tenant.adopted.dns if tenant.adopted is not None else None
    if sender is None or dns is None:
        return None
    found = dns.find(sender.name, "TXT")
    return found.spf if found is not None else None


MAX_NAME_OCTETS = names.MAX_DOMAIN_OCTETS
# The DKIM record name is the longest a domain gets (a selector is at least one octet): where
# it fits, the DMARC and tracking names fit too, so name_problems checks only it.
_DKIM_FIXED = len(dkim.record_name("", ""))
assert max(len(dmarc.record_name("")), len(tracking.record_name(""))) <= _DKIM_FIXED + 1
_LIMIT = f"over the {MAX_NAME_OCTETS}-octet limit of a domain name (RFC 1035 §2.3.4)"


def name_problems(tenant: Tenant, where: str, stacks: Iterable[StackConfig] = ()) -> list[Problem]:
    """DNS names composed from the tenant's fields that would exceed 253 octets.

    Each field is valid alone, but a record name joins several: ``<selector>._domainkey.<domain>``
    (``_dmarc.<domain>`` and the tracking ``email.<domain>`` are shorter, so they fit when it
    does) and the RFC 7489 §7.1 authorisation ``<domain>._report._dmarc.<destination>``, for
    the sender domain and for a platform domain kept by a migration. One problem per field,
    for the longest name it makes too long: the DKIM selector when a shorter selector would
    fit, otherwise the domain; a report address when the authorisation its destination must
    publish cannot exist (receivers then never send it reports). With ``stacks``, also the
    authorisation each declaring stack publishes for its own report address
    (``mailfleet:dmarcRua``). Names under a stack's platform domain fit by the limit on
    ``mailfleet:platformDomain`` (``mailfleet.model.stack``). No label can grow: every label of
    a composed name is one of the tenant's labels (each at most 63 octets, checked by the
    schema) or a fixed one.
    """
    found: dict[str, tuple[int, str]] = {}

    def check(field: str, what: str, name: str, hint: str = "") -> None:
        size = len(name)
        if size > MAX_NAME_OCTETS and size > found.get(field, (0, ""))[0]:
            found[field] = (size, f"{what} would be {size} octets, {_LIMIT}{hint}")

    domains: list[tuple[str, str]] = []
    if tenant.sender_domain is not None:
        domains.append(("sender_domain.name", tenant.sender_domain.name))
    if tenant.migration is not None:
        domains.append(("migration.platform_domain", tenant.migration.platform_domain))
    selector = tenant.dkim.selector
    dkim_what = "the DKIM record name <selector>._domainkey.<domain>"
    for field, domain in domains:
        room = MAX_NAME_OCTETS - _DKIM_FIXED - len(domain)
        name = dkim.record_name(selector, domain)
        if room >= 1:
            check(
                "dkim.selector",
                dkim_what,
                name,
                f"; with this domain a selector of at most {room} octets fits",
            )
        else:
            check(
                field,
                dkim_what,
                name,
                f"; a domain of at most {MAX_NAME_OCTETS - _DKIM_FIXED - 1} octets leaves room for a selector",
            )
    if tenant.sender_domain is not None:
        domain = tenant.sender_domain.name
        for tag, uris in (("rua", tenant.dmarc.rua), ("ruf", tenant.dmarc.ruf)):
            for i, uri in enumerate(uris):
                name = dmarc.authorisation_name(domain, names.mailto_domain(uri))
                # Only a destination in another organisation needs the record (a PSL lookup).
                if len(name) > MAX_NAME_OCTETS and dmarc.external_destinations(domain, [uri]):
                    check(
                        f"dmarc.{tag}.{i}",
                        "the report authorisation <domain>._report._dmarc.<destination> "
                        "its destination must publish (RFC 7489 §7.1)",
                        name,
                        "; receivers would never send it reports",
                    )
    for stack in stacks:
        if declaration(tenant.migration, stack.region, tenant.region) is None:
            continue
        dest = names.mailto_domain(stack.dmarc_rua)
        ours = dest == stack.platform_domain or dest.endswith("." + stack.platform_domain)
        for field, domain in domains:
            # As mailfleet.desired.build publishes it: a destination in our zone, outside the
            # domain's organisation.
            name = dmarc.authorisation_name(domain, dest)
            if (
                len(name) > MAX_NAME_OCTETS
                and ours
                and dmarc.external_destinations(domain, [stack.dmarc_rua])
            ):
                check(
                    field,
                    f"the report authorisation <domain>._report._dmarc.{dest} that stack "
                    f"{stack.name!r} publishes for its report address (RFC 7489 §7.1)",
                    name,
                )
    return [Problem(where, field, message) for field, (_, message) in found.items()]


def conflicts(
    states: list[StackState] | tuple[StackState, ...],
    paths: dict[str, Path] | None = None,
    *,
    last: str | None = None,
) -> list[Problem]:
    """Cross-tenant problems over all stacks, one ``Problem`` each, on the later tenant
    (``last``, a tenant being added, counts as the latest of all):

    - a Mailgun domain declared twice (domain names are global across regions and accounts),
      by two tenants or twice by one tenant in one stack (a sender domain equal to its own
      platform domain);
    - a sender domain equal to or under a stack's platform domain (those names belong to
      the platform: ``<slug>.<platform domain>``);
    - a sender domain under another tenant's sender domain (its records would be written into
      another customer's zone), or naming the Cloudflare/Route53 zone id of another tenant's
      domain (a zone holds one domain: the records would land in the wrong zone);
    - one address routed twice in a region;
    - one DNS name and type declared twice, or a CNAME sharing its name with any other record
      (RFC 1034 §3.6.2).

    The same tenant may appear in two stacks while it moves between regions; that is not a
    conflict by itself.
    """
    paths = paths or {}
    problems: list[Problem] = []
    domains: dict[str, tuple[str, str]] = {}
    # a sender domain -> (it, tenant); '.' + each proper suffix of one -> (that domain, tenant)
    sender_domains: dict[str, tuple[str, str]] = {}
    zones: dict[tuple[str, str], tuple[str, str]] = {}
    addresses: dict[tuple[str, str], tuple[str, str]] = {}
    records: dict[tuple[str, str], tuple[str, str]] = {}
    types_at: dict[str, dict[str, tuple[str, str]]] = {}
    platform_domains = sorted({s.platform_domain for s in states})

    def where(slug: str) -> str:
        return str(paths.get(slug, f"tenants/{slug}.yaml"))

    def clash(owner: tuple[str, str], slug: str, stack: str) -> bool:
        """Another tenant, or the same tenant twice in one stack (moves span two stacks)."""
        return owner[0] != slug or owner[1] == stack

    pairs = [(state, t) for state in states for t in state.tenants if t.slug != last]
    pairs += [(state, t) for state in states for t in state.tenants if t.slug == last]
    for state, t in pairs:
        stack = state.stack
        me = (t.slug, stack)
        domain_problems = len(problems)
        for d in t.domains:
            field = "sender_domain.name" if d.role == "sender" else "slug"
            owner = domains.get(d.name)
            if owner is None:
                domains[d.name] = me
            elif clash(owner, t.slug, stack):
                by = "this tenant" if owner[0] == t.slug else f"tenant {owner[0]!r} ({where(owner[0])})"
                problems.append(Problem(where(t.slug), field, f"domain {d.name} is already declared by {by}"))
                continue
            if d.role == "sender":
                problems.extend(_sender_problems(d.name, t, where, platform_domains, sender_domains, zones))
        # A domain problem explains the record clashes that follow from it: report it once.
        records_checked = len(problems) == domain_problems
        for r in t.routes:
            rkey = (state.region, r.address)
            owner = addresses.get(rkey)
            if owner is None:
                addresses[rkey] = me
            elif clash(owner, t.slug, stack):
                problems.append(
                    Problem(
                        where(t.slug),
                        "mailboxes",
                        f"address {r.address} is already routed for tenant {owner[0]!r} ({where(owner[0])})",
                    )
                )
        for rec in t.records if records_checked else ():
            field = "tracking" if rec.purpose == "tracking" else "slug" if rec.ours else "sender_domain.name"
            owner = records.get((rec.name, rec.type))
            if owner is None:
                records[(rec.name, rec.type)] = me
            elif clash(owner, t.slug, stack):
                problems.append(
                    Problem(
                        where(t.slug),
                        field,
                        f"{rec.type} record {rec.name} is already declared by tenant {owner[0]!r}",
                    )
                )
                continue
            at = types_at.setdefault(rec.name, {})
            for other_type, other_owner in at.items():
                cname_clash = other_type != rec.type and "CNAME" in (rec.type, other_type)
                if cname_clash and clash(other_owner, t.slug, stack):
                    by = "this tenant" if other_owner[0] == t.slug else f"tenant {other_owner[0]!r}"
                    problems.append(
                        Problem(
                            where(t.slug),
                            field,
                            f"{rec.type} record {rec.name} shares its name with a {other_type} "
                            f"record of {by} (a CNAME must be alone at its name)",
                        )
                    )
            at.setdefault(rec.type, me)
    return problems


def _sender_problems(
    name: str,
    t: TenantState,
    where: Callable[[str], str],
    platform_domains: list[str],
    sender_domains: dict[str, tuple[str, str]],
    zones: dict[tuple[str, str], tuple[str, str]],
) -> list[Problem]:
    """A sender domain against the platform domains and the other tenants' zones."""
    field = "sender_domain.name"
    inside = [p for p in platform_domains if name == p or name.endswith("." + p)]
    if inside:
        return [
            Problem(
                where(t.slug),
                field,
                f"domain {name} is inside the platform domain {inside[0]}, "
                "whose names are reserved for platform addresses",
            )
        ]
    out = []
    # A proper suffix of ``name`` that is another tenant's domain, or ``name`` being a proper
    # suffix of one: both looked up by label, not by scanning every tenant.
    labels = name.split(".")
    outer = next(
        (
            sender_domains[".".join(labels[i:])]
            for i in range(1, len(labels))
            if ".".join(labels[i:]) in sender_domains
        ),
        None,
    )
    inner = sender_domains.get("." + name)
    for other_domain, other in (x for x in (outer, inner) if x is not None and x[1] != t.slug):
        zone_of = other_domain if name.endswith("." + other_domain) else name
        out.append(
            Problem(
                where(t.slug),
                field,
                f"domain {name} and tenant {other!r}'s sender domain {other_domain} ({where(other)}) "
                f"share the zone {zone_of}: one tenant's records would be written into the other's zone",
            )
        )
    sender_domains.setdefault(name, (name, t.slug))
    for i in range(1, len(labels)):
        sender_domains.setdefault("." + ".".join(labels[i:]), (name, t.slug))
    zone = next((r for r in t.records if r.zone == name and r.zone_id is not None), None)
    if zone is not None and zone.zone_id is not None:
        owner = zones.setdefault((zone.provider, zone.zone_id), (t.slug, name))
        if owner[0] != t.slug and owner[1] != name:
            out.append(
                Problem(
                    where(t.slug),
                    "sender_domain.dns",
                    f"{zone.provider} zone {zone.zone_id} is the zone of tenant {owner[0]!r}'s domain "
                    f"{owner[1]} ({where(owner[0])}), not of {name}",
                )
            )
    return out


def spf_include_problems(tenants: dict[str, Tenant], paths: dict[str, Path]) -> list[Problem]:
    """SPF records of tenants that include each other: loops, and the lookups counted through.

    An include of another tenant's sender domain is known offline: its cost is 1 plus that
    tenant's merged record's lookups. A chain that comes back to a domain is an SPF loop
    (RFC 7208 §4.6.4 counts it to permerror).
    """
    by_domain = {t.sender_domain.name: t for t in tenants.values() if t.sender_domain is not None}
    if not any(i in by_domain for t in by_domain.values() for i in t.sender_domain.spf_includes):  # type: ignore[union-attr]
        return []

    def cost(domain: str, seen: tuple[str, ...]) -> int | tuple[str, ...]:
        """Lookups of ``domain``'s merged record, or the loop found (a chain of domains)."""
        sender = by_domain[domain].sender_domain
        assert sender is not None
        total = spf.include_cost(MAILGUN_SPF_INCLUDE)
        for inc in sender.spf_includes:
            if inc in seen:
                return (*seen, inc)
            if inc in by_domain:
                sub = cost(inc, (*seen, inc))
                if isinstance(sub, tuple):
                    return sub
                total += 1 + sub
            else:
                total += spf.include_cost(inc)
        return total

    problems = []
    for domain, tenant in sorted(by_domain.items(), key=lambda kv: kv[1].slug):
        where = str(paths.get(tenant.slug, f"tenants/{tenant.slug}.yaml"))
        result = cost(domain, (domain,))
        if isinstance(result, tuple):
            problems.append(
                Problem(
                    where,
                    "sender_domain.spf_includes",
                    f"SPF include loop {' -> '.join(result)} through other tenants' records "
                    "(permerror, RFC 7208 §4.6.4)",
                )
            )
        elif result > spf.MAX_LOOKUPS:
            problems.append(
                Problem(
                    where,
                    "sender_domain.spf_includes",
                    f"SPF needs {result} DNS lookups counting the other tenants' records it includes, "
                    f"over the limit of {spf.MAX_LOOKUPS} (RFC 7208 §4.6.4)",
                )
            )
    return problems
