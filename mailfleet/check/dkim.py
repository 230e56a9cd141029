"""DKIM lint on the live key record (RFC 6376, RFC 8301).

Rules:
- one DKIM key record at ``<selector>._domainkey.<domain>`` (§3.6.2.2: several TXT RRs make
  the result undefined);
- ``v=DKIM1`` first when present (§3.6.1; absent is allowed but warned about, because the
  model publishes it); ``k=rsa`` (absent means rsa, §3.6.1);
- ``p=`` parses (base64 DER SubjectPublicKeyInfo) as an RSA public key of at least 1024 bits
  (RFC 8301 §3.2); under 2048 bits is a warning; an empty ``p=`` is a revoked key;
- when the expected key is known (Mailgun's ``sending_dns_records`` or ``--dkim-keys``),
  the published key is that key; otherwise presence and lint only.
"""

from __future__ import annotations

import base64
import binascii
import functools

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from mailfleet.check import result as res
from mailfleet.dns.resolver import Lookup
from mailfleet.records.dkim import MIN_BITS, RECOMMENDED_BITS, parse_tags


@functools.lru_cache(maxsize=4096)
def parse_key(p: str) -> tuple[bytes, int | None, str]:
    """``(der, bits, problem)`` for a ``p=`` value; bits is None when not an RSA key."""
    try:
        der = base64.b64decode("".join(p.split()), validate=True)
    except (binascii.Error, ValueError):
        return b"", None, "p= is not valid base64"
    try:
        key = load_der_public_key(der)
    except (ValueError, TypeError):
        return der, None, "p= is not a DER-encoded public key (SubjectPublicKeyInfo)"
    if not isinstance(key, rsa.RSAPublicKey):
        return der, None, f"p= holds a {type(key).__name__.replace('PublicKey', '').lstrip('_')} key, not RSA"
    return der, key.key_size, ""


def expected_key_of(value: str) -> str:
    """The base64 key of an expected value: a bare key or a ``...; p=...`` record."""
    if ("=" in value and ";" in value) or value.strip().lower().startswith(("v=", "k=", "p=")):
        return parse_tags(value).get("p", "")
    return "".join(value.split())


def check(
    record: res.RecordResult,
    lookup: Lookup,
    *,
    expected_key: str | None,
    expected_source: str,
    expected_bits: int,
) -> None:
    """Fill ``record`` for a DKIM key name."""
    if expected_key:
        record.expected = [f"v=DKIM1; k=rsa; p={expected_key}"]
        record.details["expected_key_source"] = expected_source
    else:
        record.expected = [f"v=DKIM1; k=rsa; p=<the key Mailgun generated, RSA {expected_bits} bits>"]
        record.details["expected_key_source"] = "unknown (presence and lint only)"
    if record.undecided_by(lookup):
        return
    if lookup.missing:
        record.status = res.MISSING
        record.message = lookup.describe()
        return
    values = list(lookup.values)
    record.found = values
    keys = [v for v in values if "p=" in v.replace(" ", "")]
    if not keys:
        record.status = res.MISSING
        record.message = f"no DKIM key (p=) among {len(values)} TXT record(s) at {record.name}"
        return
    if len(keys) > 1:
        record.status = res.WRONG
        record.message = f"{len(keys)} DKIM key records at {record.name}; publish exactly one"
        record.findings.append(
            res.Finding(res.SEV_ERROR, "dkim-multiple", record.message, "RFC 6376 §3.6.2.2")
        )
        return
    record.status = res.OK
    value = keys[0]
    tags = parse_tags(value)
    first = value.split(";", 1)[0].split("=", 1)[0].strip()
    version = tags.get("v")
    if version is None:
        record.findings.append(
            res.Finding(
                res.SEV_WARNING,
                "dkim-no-version",
                "no v=DKIM1 tag (recommended first tag)",
                "RFC 6376 §3.6.1",
            )
        )
    elif version != "DKIM1" or first != "v":
        record.findings.append(
            res.Finding(
                res.SEV_ERROR,
                "dkim-version",
                f"v={version} {'is not DKIM1' if version != 'DKIM1' else 'must be the first tag'}",
                "RFC 6376 §3.6.1",
            )
        )
    key_type = tags.get("k", "rsa").lower()
    if key_type != "rsa":
        record.findings.append(
            res.Finding(
                res.SEV_ERROR,
                "dkim-key-type",
                f"k={key_type}: Mailgun signs with RSA (k=rsa)",
                "RFC 6376 §3.6.1",
            )
        )
    p = tags.get("p")
    if p is None:
        record.findings.append(res.Finding(res.SEV_ERROR, "dkim-no-key", "no p= tag", "RFC 6376 §3.6.1"))
    elif p == "":
        record.findings.append(
            res.Finding(res.SEV_ERROR, "dkim-revoked", "p= is empty: the key is revoked", "RFC 6376 §3.6.1")
        )
    else:
        der, bits, problem = parse_key(p)
        if problem:
            record.findings.append(res.Finding(res.SEV_ERROR, "dkim-bad-key", problem, "RFC 6376 §3.6.1"))
        elif bits is not None:
            record.details["bits"] = bits
            if bits < MIN_BITS:
                record.findings.append(
                    res.Finding(
                        res.SEV_ERROR,
                        "dkim-weak-key",
                        f"RSA key is {bits} bits; verifiers must reject keys under {MIN_BITS} bits",
                        "RFC 8301 §3.2",
                    )
                )
            elif bits < RECOMMENDED_BITS:
                record.findings.append(
                    res.Finding(
                        res.SEV_WARNING,
                        "dkim-short-key",
                        f"RSA key is {bits} bits; {RECOMMENDED_BITS} bits are recommended",
                        "RFC 8301 §3.2",
                    )
                )
            if bits != expected_bits and bits >= MIN_BITS:
                record.findings.append(
                    res.Finding(
                        res.SEV_WARNING,
                        "dkim-size-differs",
                        f"RSA key is {bits} bits but the tenant asks for {expected_bits}",
                    )
                )
        if expected_key and der:
            want_der, _, want_problem = parse_key(expected_key)
            if want_problem or want_der != der:
                record.status = res.WRONG
                record.message = f"the published DKIM key is not the key {expected_source} holds"
    record.apply_findings()
