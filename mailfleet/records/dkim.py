"""DKIM (RFC 6376, RFC 8301): TXT at ``<selector>._domainkey.<domain>``, RSA >= 1024 bits."""

from __future__ import annotations

MIN_BITS = 1024
RECOMMENDED_BITS = 2048


def record_name(selector: str, domain: str) -> str:
    return f"{selector}._domainkey.{domain}"


def value(public_key_b64: str) -> str:
    """The TXT value for a base64 DER public key: ``v=DKIM1; k=rsa; p=...``."""
    return f"v=DKIM1; k=rsa; p={public_key_b64}"


def parse_tags(text: str) -> dict[str, str]:
    """Tag=value list (RFC 6376 §3.2); whitespace inside values is removed."""
    tags: dict[str, str] = {}
    for part in text.split(";"):
        if "=" not in part:
            continue
        key, _, val = part.partition("=")
        tags[key.strip()] = "".join(val.split())
    return tags
