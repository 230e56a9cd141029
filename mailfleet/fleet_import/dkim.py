"""A Mailgun domain's DKIM selector and key size, read from its ``sending_dns_records``.

Mailgun lists the DKIM record it wants published as a TXT record named
``<selector>._domainkey.<domain>`` whose value is a tag list (RFC 6376 §3.6.1) with the public
key in ``p=`` (base64 DER: a SubjectPublicKeyInfo, or a PKCS#1 RSAPublicKey). The selector is
the name's first label; the key size is the RSA modulus size of ``p=``, read with the pinned
``cryptography`` package (imported only when a key is parsed).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from mailfleet.records.dkim import parse_tags

DOMAINKEY = "._domainkey."


@dataclass(frozen=True, slots=True)
class DkimFound:
    selector: str
    bits: int


class DkimUnreadable(ValueError):
    """The domain lists no DKIM record, or one whose key cannot be read (the message says why)."""


def key_bits(value: str) -> int:
    """The RSA key size of a DKIM TXT value's ``p=`` tag; ``DkimUnreadable`` otherwise."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    tags = parse_tags(value)
    if tags.get("k", "rsa").lower() != "rsa":
        raise DkimUnreadable(f"key type k={tags['k']} (only RSA keys are supported)")
    p = tags.get("p")
    if not p:
        raise DkimUnreadable(
            "no public key (p=) in the DKIM record" if p is None else "empty p= (key revoked)"
        )
    try:
        der = base64.b64decode(p, validate=True)
        key = load_der_public_key(der)
    except (binascii.Error, ValueError, TypeError):
        raise DkimUnreadable("p= is not a base64 DER public key") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise DkimUnreadable(f"p= holds a {type(key).__name__}, not an RSA key")
    return key.key_size


def dkim_of(domain: str, body: dict[str, Any]) -> DkimFound:
    """Selector and key size of ``domain`` from its ``GET /v4/domains/{name}`` body."""
    suffix = DOMAINKEY + domain
    found = [
        r
        for r in body.get("sending_dns_records") or []
        if isinstance(r, dict)
        and str(r.get("record_type", "")).upper() == "TXT"
        and str(r.get("name", "")).lower().endswith(suffix)
    ]
    if not found:
        raise DkimUnreadable(f"Mailgun lists no DKIM record (<selector>{suffix}) for it")
    if len(found) > 1:
        names = ", ".join(sorted(str(r.get("name")) for r in found))
        raise DkimUnreadable(f"Mailgun lists {len(found)} DKIM records ({names})")
    record = found[0]
    selector = str(record["name"]).lower()[: -len(suffix)]
    return DkimFound(selector, key_bits(str(record.get("value") or "")))
