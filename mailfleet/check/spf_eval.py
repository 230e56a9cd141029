"""SPF evaluation of one IP against a live record: RFC 7208 ``check_host()``, the subset
mailfleet's records use.

Used by ``check`` for tenants with dedicated IPs: each dedicated IP must ``pass``, and an
address of Mailgun's shared ranges (from the live ``mailgun.org`` SPF tree) must not, or
another Mailgun customer could pass SPF for the tenant's domain. Mechanisms: ``all``,
``include``, ``a``, ``mx``, ``ip4``, ``ip6``, ``exists`` (without macros), ``ptr`` (never
matches here: RFC 7208 §5.5 lets receivers skip it) and the ``redirect`` modifier; qualifiers
``+ - ~ ?``; the 10-lookup limit (§4.6.4). A term with a macro (``%``) gives ``None``: no
verdict. Results are RFC 7208's words: pass, fail, softfail, neutral, none, permerror,
temperror, as pyspf gives them (tests compare the two against Knot).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from mailfleet.dns.resolver import NODATA, NXDOMAIN, OK, Resolver

QUALIFIERS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
MAX_LOOKUPS = 10


class _PermError(Exception):
    pass


class _TempError(Exception):
    pass


class _NoVerdict(Exception):
    pass


@dataclass
class _Budget:
    lookups: int = 0

    def spend(self) -> None:
        self.lookups += 1
        if self.lookups > MAX_LOOKUPS:
            raise _PermError("more than 10 DNS lookups")


async def _txt_spf(resolver: Resolver, domain: str) -> str | None:
    lookup = await resolver.txt(domain)
    if lookup.status in (NXDOMAIN, NODATA):
        return None
    if lookup.status != OK:
        raise _TempError(lookup.describe())
    found = [v for v in lookup.values if isinstance(v, str) and v.lower().split(" ", 1)[0] == "v=spf1"]
    if len(found) > 1:
        raise _PermError("two SPF records")
    return found[0] if found else None


async def _addresses(resolver: Resolver, name: str) -> list[str]:
    out: list[str] = []
    for rdtype in ("A", "AAAA"):
        lookup = await resolver.lookup(name, rdtype)
        if lookup.status == OK:
            out.extend(str(v) for v in lookup.values)
        elif lookup.status not in (NXDOMAIN, NODATA):
            raise _TempError(lookup.describe())
    return out


def _in(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, address: str, cidr: str | None) -> bool:
    try:
        other = ipaddress.ip_address(address)
    except ValueError:
        return False
    if other.version != ip.version:
        return False
    default = 32 if ip.version == 4 else 128
    length = int(cidr) if cidr else default
    return ip in ipaddress.ip_network(f"{other}/{length}", strict=False)


async def _check(resolver: Resolver, ip: str, domain: str, budget: _Budget, depth: int) -> str:
    if depth > 10:
        raise _PermError("nested too deep")
    record = await _txt_spf(resolver, domain)
    if record is None:
        return "none"
    address = ipaddress.ip_address(ip)
    redirect: str | None = None
    for term in record.split()[1:]:
        if "%" in term:
            raise _NoVerdict(f"macro in {term}")
        lower = term.lower()
        if lower.startswith("redirect="):
            redirect = term.split("=", 1)[1]
            continue
        if "=" in lower.split(":", 1)[0]:
            continue  # exp= and unknown modifiers
        qualifier = QUALIFIERS.get(term[0])
        body = term[1:] if qualifier else term
        result = qualifier or "pass"
        name, _, arg = body.partition(":")
        name = name.lower()
        cidr = None
        if "/" in (arg or name):
            if arg:
                arg, _, cidr = arg.partition("/")
                cidr = cidr.split("/")[0] or None
            else:
                name, _, cidr = name.partition("/")
                cidr = cidr.split("/")[0] or None
        if name == "all":
            return result
        if name in ("ip4", "ip6"):
            if _in(address, arg, cidr):
                return result
        elif name == "include":
            budget.spend()
            sub = await _check(resolver, ip, arg, budget, depth + 1)
            if sub == "pass":
                return result
            if sub in ("permerror", "none"):
                raise _PermError(f"include:{arg} gives {sub}")
            if sub == "temperror":
                raise _TempError(f"include:{arg}")
        elif name == "a":
            budget.spend()
            if any(_in(address, a, cidr) for a in await _addresses(resolver, arg or domain)):
                return result
        elif name == "mx":
            budget.spend()
            lookup = await resolver.mx(arg or domain)
            if lookup.status not in (OK, NXDOMAIN, NODATA):
                raise _TempError(lookup.describe())
            for _pref, host in lookup.values if lookup.status == OK else ():
                if any(_in(address, a, cidr) for a in await _addresses(resolver, host)):
                    return result
        elif name == "exists":
            budget.spend()
            if await _addresses(resolver, arg):
                return result
        elif name == "ptr":
            budget.spend()
        else:
            raise _PermError(f"unknown term {term}")
    if redirect is not None:
        budget.spend()
        sub = await _check(resolver, ip, redirect, budget, depth + 1)
        if sub == "none":
            raise _PermError(f"redirect={redirect} has no SPF record")
        return sub
    return "neutral"


async def check_host(resolver: Resolver, ip: str, domain: str) -> str | None:
    """RFC 7208's result for mail from ``ip`` with ``domain`` as MAIL FROM domain; None when a
    macro leaves it undecided here."""
    try:
        return await _check(resolver, ip, domain, _Budget(), 0)
    except _PermError:
        return "permerror"
    except _TempError:
        return "temperror"
    except _NoVerdict:
        return None


async def first_address(resolver: Resolver, domain: str, avoid: set[str], depth: int = 0) -> str | None:
    """An address the SPF tree of ``domain`` authorises (the first ``ip4``/``ip6`` range's first
    host), skipping ``avoid``: for ``mailgun.org``, an address of another Mailgun customer."""
    if depth > 10:
        return None
    try:
        record = await _txt_spf(resolver, domain)
    except (_PermError, _TempError):
        return None
    if record is None:
        return None
    for term in record.split()[1:]:
        body = term.lstrip("+-~?")
        name, _, arg = body.partition(":")
        if name.lower() in ("ip4", "ip6") and arg:
            network = ipaddress.ip_network(arg, strict=False)
            hosts = [network.network_address] if network.num_addresses == 1 else []
            if not hosts:
                first = network.network_address + 1
                hosts = [first, first + 1]
            for host in hosts:
                if str(host) not in avoid:
                    return str(host)
        elif name.lower() == "include" and arg:
            found = await first_address(resolver, arg, avoid, depth + 1)
            if found is not None:
                return found
    return None
