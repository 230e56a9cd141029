"""DMARC (RFC 7489; DMARCbis RFC 9989-9991): ``_dmarc.<domain>`` TXT, ``v=DMARC1`` then ``p=``.

``pct``, ``rf`` and ``ri`` are historic under DMARCbis and never emitted.
"""

from __future__ import annotations

from mailfleet.model import names


def record_name(domain: str) -> str:
    return f"_dmarc.{domain}"


def value(policy: str, rua: list[str] | tuple[str, ...], ruf: list[str] | tuple[str, ...] = ()) -> str:
    parts = ["v=DMARC1", f"p={policy}"]
    if rua:
        parts.append("rua=" + ",".join(rua))
    if ruf:
        parts.append("ruf=" + ",".join(ruf))
    return "; ".join(parts)


def authorisation_name(domain: str, destination: str) -> str:
    """Where ``destination`` authorises reports about ``domain`` (RFC 7489 §7.1)."""
    return f"{domain}._report._dmarc.{destination}"


AUTHORISATION_VALUE = "v=DMARC1"


def external_destinations(domain: str, uris: list[str] | tuple[str, ...]) -> list[str]:
    """Report destinations in another organisational domain than ``domain``'s."""
    out: list[str] = []
    for uri in uris:
        dest = names.mailto_domain(uri)
        if dest in out:
            continue
        dest_org = names.organisational_domain(dest)
        # The organisational domain of ``domain`` is ``domain`` or one of its parents, so a
        # domain outside ``dest_org``'s tree is in another organisation: no lookup needed.
        inside = domain == dest_org or domain.endswith("." + dest_org)
        if not inside or names.organisational_domain(domain) != dest_org:
            out.append(dest)
    return out
