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
        if dest == domain and domain == domain.lower():
            continue  # reports about a domain to itself: its own organisation
        if _shared_labels(domain, dest) < 2 <= dest.count(".") + 1:
            # ``dest``'s organisational domain is a suffix of it with at least two labels
            # (its public suffix and one more, or all of ``dest`` when it is a public suffix
            # itself), which ``domain`` does not end in: another organisation, no list lookup.
            out.append(dest)
            continue
        dest_org = names.organisational_domain(dest)
        # The organisational domain of ``domain`` is ``domain`` or one of its parents, so a
        # domain outside ``dest_org``'s tree is in another organisation: no lookup needed.
        inside = domain == dest_org or domain.endswith("." + dest_org)
        if not inside or names.organisational_domain(domain) != dest_org:
            out.append(dest)
    return out


def _shared_labels(a: str, b: str) -> int:
    """How many trailing labels ``a`` and ``b`` have in common, ignoring case (it counts up to
    2 exactly; more shared labels may count as 2 or 3)."""
    a_labels, b_labels = a.lower().rsplit(".", 2), b.lower().rsplit(".", 2)
    shared = 0
    for x, y in zip(reversed(a_labels), reversed(b_labels), strict=False):
        if x != y:
            break
        shared += 1
    return shared


def tags(value: str) -> list[tuple[str, str]]:
    """The tag list of a DMARC record, in order (RFC 7489 §6.4: ``tag=value`` split on ``;``)."""
    out = []
    for part in value.split(";"):
        tag, sep, val = part.strip().partition("=")
        if sep:
            out.append((tag.strip().lower(), val.strip()))
    return out


def policy_of(value: str) -> str | None:
    return dict(tags(value)).get("p")


def merge_into(
    existing: str, policy: str | None, rua: list[str] | tuple[str, ...], ruf: list[str] | tuple[str, ...] = ()
) -> str:
    """The customer's record with mailfleet's part merged in.

    ``policy`` None keeps the customer's ``p=``. Report addresses are added after the
    customer's own, which are kept; every other tag (``sp``, ``adkim``, ``fo`` ...) is kept
    as it was, in its place. The result starts ``v=DMARC1; p=`` (RFC 7489 §6.4 wants ``p``
    right after ``v``).
    """
    found = tags(existing)
    by = dict(found)

    def uris(tag: str, extra: list[str] | tuple[str, ...]) -> str:
        own = [u.strip() for u in by.get(tag, "").split(",") if u.strip()]
        return ",".join(dict.fromkeys([*own, *extra]))

    parts = ["v=DMARC1", f"p={policy or by.get('p', 'none')}"]
    for tag, val in found:
        if tag in ("v", "p"):
            continue
        if tag == "rua":
            val = uris("rua", rua)
        elif tag == "ruf":
            val = uris("ruf", ruf)
        parts.append(f"{tag}={val}")
    if "rua" not in by and rua:
        parts.append("rua=" + ",".join(dict.fromkeys(rua)))
    if "ruf" not in by and ruf:
        parts.append("ruf=" + ",".join(dict.fromkeys(ruf)))
    return "; ".join(parts)
