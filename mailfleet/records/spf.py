"""SPF (RFC 7208): one ``v=spf1`` record per name, merging Mailgun with the customer's senders.

The DNS-lookup limit (§4.6.4) counts every ``include``, ``a``, ``mx``, ``ptr``, ``exists``
and ``redirect``, recursively. Offline we cannot resolve includes, so the cost of an include
comes from ``KNOWN_INCLUDE_COSTS``: the include itself (1) plus the lookups its record makes,
as published by the sender at the time this table was written. An include not in the table
costs 1 here (the minimum); ``mailfleet check`` resolves the real tree live.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailfleet.records import txt

MAX_LOOKUPS = 10
MAX_RECORD_OCTETS = 450  # RFC 7208 §3.4: keep the answer within a 512-octet UDP reply
DNS_HEADER_OCTETS = 12  # RFC 1035 §4.1.1

# include target -> total lookups it costs, the include term itself included.
KNOWN_INCLUDE_COSTS: dict[str, int] = {
    # mailgun.org -> _spf.mailgun.org (-> _spf1.mailgun.org, _spf2.mailgun.org) and
    # _spf.eu.mailgun.org: 1 + 2 + 2 = 5. Mailgun has published this tree with 4 or 5 lookups
    # over time; the table takes the upper bound, because counting too few lets a record
    # through that receivers reject with permerror (docs/plan.md, "SPF").
    "mailgun.org": 5,
    # Google Workspace: _spf.google.com -> _netblocks, _netblocks2, _netblocks3.
    "_spf.google.com": 4,
    # Microsoft 365: spf.protection.outlook.com -> spfd.protection.outlook.com.
    "spf.protection.outlook.com": 2,
    "sendgrid.net": 1,
    "amazonses.com": 1,
    "servers.mcsv.net": 1,
    "spf.mandrillapp.com": 1,
    "mail.zendesk.com": 1,
    "_spf.salesforce.com": 1,
    "spf.brevo.com": 1,
    "_spf.mlsend.com": 1,
    "helpscoutemail.com": 1,
}
UNKNOWN_INCLUDE_COST = 1


class SpfTooManyLookups(ValueError):
    """The merged record would need more than ``MAX_LOOKUPS`` DNS lookups."""


@dataclass(frozen=True, slots=True)
class Spf:
    includes: tuple[str, ...]
    all: str = "~all"
    # ``ip4:``/``ip6:`` terms of Mailgun dedicated IPs, in place of ``include:mailgun.org``;
    # they cost no DNS lookup (RFC 7208 §4.6.4 counts only include a mx ptr exists redirect).
    ip_terms: tuple[str, ...] = ()

    @property
    def value(self) -> str:
        terms = ["v=spf1", *self.ip_terms, *(f"include:{i}" for i in self.includes), self.all]
        return " ".join(terms)

    @property
    def lookups(self) -> int:
        return lookup_count(self.includes)


def include_cost(target: str) -> int:
    return KNOWN_INCLUDE_COSTS.get(target, UNKNOWN_INCLUDE_COST)


def lookup_count(includes: tuple[str, ...] | list[str]) -> int:
    return sum(include_cost(i) for i in includes)


def answer_octets(domain: str, value: str) -> int:
    """The size of the DNS response to a TXT query for ``domain`` holding only this record.

    RFC 1035 §4.1: the header, the question (the name in wire form, type, class) and one
    answer (a compressed pointer to the name, type, class, TTL, RDLENGTH, then each
    character-string with its length octet). Other TXT records at the name add to it; only
    ``mailfleet check`` sees those.
    """
    qname = len(domain) + 2  # a length octet per label (replacing the dots) and the root
    rdata = sum(1 + len(chunk) for chunk in txt.split(value))
    return DNS_HEADER_OCTETS + qname + 4 + 2 + 10 + rdata


def merge(
    mailgun_include: str,
    others: list[str] | tuple[str, ...],
    all_: str = "~all",
    *,
    domain: str | None = None,
    ip_terms: tuple[str, ...] = (),
) -> Spf:
    """One record: Mailgun's include first, then the customer's other senders, de-duplicated.

    With ``ip_terms`` (Mailgun dedicated IPs), those terms come first and Mailgun's include is
    left out: ``include:mailgun.org`` would let every other Mailgun customer pass.

    Raises ``SpfTooManyLookups`` (with the count) over 10 lookups, or ``ValueError`` when the
    record would exceed 450 octets (RFC 7208 §3.4) — with ``domain`` given, when the whole
    DNS answer for ``domain`` would.
    """
    includes: list[str] = [] if ip_terms else [mailgun_include]
    for other in others:
        if other not in includes and not (ip_terms and other == mailgun_include):
            includes.append(other)
    spf = Spf(tuple(includes), all_, tuple(ip_terms))
    count = spf.lookups
    if count > MAX_LOOKUPS:
        detail = ", ".join(f"{i}={include_cost(i)}" for i in includes)
        raise SpfTooManyLookups(
            f"SPF needs {count} DNS lookups, over the limit of {MAX_LOOKUPS} (RFC 7208 §4.6.4; {detail})"
        )
    value = spf.value
    if len(value) > MAX_RECORD_OCTETS:
        raise ValueError(f"SPF record is {len(value)} octets, over {MAX_RECORD_OCTETS} (RFC 7208 §3.4)")
    if domain is not None:
        size = answer_octets(domain, value)
        if size > MAX_RECORD_OCTETS:
            raise ValueError(
                f"the DNS answer for {domain}'s SPF record is {size} octets ({len(value)} for the record), "
                f"over {MAX_RECORD_OCTETS} (RFC 7208 §3.4)"
            )
    return spf


# Terms that make a DNS query (RFC 7208 §4.6.4); ``include`` and ``redirect`` cost their target.
QUERYING_MECHANISMS = ("a", "mx", "ptr", "exists")


def _term_cost(term: str) -> int:
    body = term.lstrip("+-~?").lower()
    name, sep, arg = body.partition(":")
    if name == "include" and sep:
        return include_cost(arg)
    if body.startswith("redirect="):
        return include_cost(body[len("redirect=") :])
    mech = name.split("/", 1)[0]
    return 1 if mech in QUERYING_MECHANISMS else 0


def record_lookups(value: str) -> int:
    """DNS lookups a whole record makes, its includes counted as ``include_cost`` does."""
    return sum(_term_cost(t) for t in value.split()[1:])


def merge_into(
    existing: str,
    ours: list[str] | tuple[str, ...],
    *,
    ip_terms: tuple[str, ...] = (),
    replace: tuple[str, ...] = (),
) -> str:
    """The customer's record ``existing`` with ``include:`` terms for ``ours`` added.

    ``ip_terms`` (Mailgun dedicated IPs) are added the same way, and every term for an
    include in ``replace`` (``mailgun.org``, with any qualifier) is taken out: mailfleet's part
    of the record is replaced, so no ``include:mailgun.org`` is left behind.

    The customer's mechanisms keep their order; ours go after them and before the final
    ``all`` (or ``redirect=``, whose record is only consulted when nothing matched), so a
    sender the customer already authorises still matches first. An include already present,
    with any qualifier, is not added twice. Modifiers (``exp=``) stay last.
    """
    terms = existing.split()
    head, body = terms[0], terms[1:]
    gone = {f"include:{r}".lower() for r in replace}
    body = [t for t in body if t.lstrip("+-~?").lower() not in gone]
    present = {t.lstrip("+-~?").lower() for t in body}
    wanted = [*ip_terms, *(f"include:{o}" for o in dict.fromkeys(ours) if o not in replace)]
    add = [t for t in dict.fromkeys(wanted) if t.lower() not in present]
    tail_at = len(body)
    for i, term in enumerate(body):
        bare = term.lstrip("+-~?").lower()
        if bare == "all" or bare.startswith(("redirect=", "exp=")):
            tail_at = i
            break
    return " ".join([head, *body[:tail_at], *add, *body[tail_at:]])


def check_record(value: str, *, domain: str | None = None) -> None:
    """``ValueError`` when ``value`` is over RFC 7208's limits (as ``merge`` checks ours)."""
    count = record_lookups(value)
    if count > MAX_LOOKUPS:
        raise SpfTooManyLookups(
            f"SPF needs {count} DNS lookups, over the limit of {MAX_LOOKUPS} (RFC 7208 §4.6.4), "
            "counting the customer's own terms"
        )
    if len(value) > MAX_RECORD_OCTETS:
        raise ValueError(f"SPF record is {len(value)} octets, over {MAX_RECORD_OCTETS} (RFC 7208 §3.4)")
    if domain is not None and answer_octets(domain, value) > MAX_RECORD_OCTETS:
        raise ValueError(
            f"the DNS answer for {domain}'s SPF record is {answer_octets(domain, value)} octets "
            f"({len(value)} for the record), over {MAX_RECORD_OCTETS} (RFC 7208 §3.4)"
        )
