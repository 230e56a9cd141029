"""DKIM with overlap for a region move: the target region's key, made and kept by mailfleet.

Mailgun never exports a private key, so a moved domain cannot keep its DKIM key, and a key
Mailgun generates in the target region is only known once the target domain exists, i.e.
after the point of no return. So before the point of no return mailfleet generates the
target's key itself (RSA 2048, ``cryptography``), publishes its public half under a NEW
selector (the target stack declares that record from ``prepare.dkim`` on, while the source
stack still publishes the old selector: both are live, the overlap), and once the target
domain exists imports the private half into the target region (``POST /v1/dkim/keys`` with
the PEM) and activates it there, so the first message the target region signs verifies.

The private key is a secret. It is written only encrypted, under
``tenants/.migrations/<slug>/dkim/<domain>.json`` (AES-256-GCM, key derived with scrypt from
the operator's passphrase: ``MAILFLEET_MIGRATE_KEY_PASSPHRASE``, else
``PULUMI_CONFIG_PASSPHRASE``, the passphrase of the stacks' secrets); the file is written
before the journal names the key, so a run killed after generating it reuses it on resume
(the journal's public key is checked against the file's). It is decrypted only in memory,
to be sent in the body of the import request; it never appears in the journal, a tenant
file, logs, output or an exception.

The order of the Mailgun calls (Mailgun's "Domain Keys" API):

1. ``GET /v4/domains/{d}/keys``: what the target domain holds (a resumed run may have
   imported already);
2. ``POST /v1/dkim/keys`` (``signing_domain``, ``selector``, ``pem``) unless the selector is
   there: the key is added, inactive;
3. ``PUT /v4/domains/{d}/keys/{selector}/activate``: Mailgun activates a key only while its
   DNS record is valid, which it has been since ``prepare.dkim``;
4. ``PUT /v4/domains/{d}/keys/{other}/deactivate`` for every other active key (the one Mailgun
   generated when the domain was created: its selector's record still holds the source
   region's key, so it could never verify).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from mailfleet import fsutil
from mailfleet.errors import InvalidData, Problem
from mailfleet.mailgun.client import MailgunClient
from mailfleet.migrate.journal import migrations_dir

log = logging.getLogger("mailfleet.migrate.dkim")

KEY_BITS = 2048
KEY_FORMAT = "mailfleet-dkim-key/1"
PASSPHRASE_VARS = ("MAILFLEET_MIGRATE_KEY_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_REGION_SUFFIXES = ("-eu", "-us")


def passphrase_from_env(environ: Mapping[str, str]) -> str | None:
    """The passphrase the migration's private keys are encrypted with (None: none set)."""
    for name in PASSPHRASE_VARS:
        value = environ.get(name)
        if value:
            return value
    return None


def next_selector(current: str, region: str) -> str:
    """The selector of the target region's key: the current one with the region as suffix
    (``mailfleet`` -> ``mailfleet-eu``; moving back, ``mailfleet-eu`` -> ``mailfleet-us``),
    so it always differs from the selector the source publishes."""
    base = current
    for suffix in _REGION_SUFFIXES:
        if base.endswith(suffix) and len(base) > len(suffix):
            base = base[: -len(suffix)]
            break
    return f"{base[: 63 - len(region) - 1]}-{region}"


def key_path(tenants_dir: Path, slug: str, domain: str) -> Path:
    return migrations_dir(tenants_dir) / slug / "dkim" / f"{domain}.json"


@dataclass(frozen=True)
class SealedKey:
    """A private key as stored: the public half in clear, the PEM encrypted."""

    domain: str
    selector: str
    public_key: str  # base64 DER SubjectPublicKeyInfo, what the DNS record publishes

    def aad(self) -> bytes:
        return f"{KEY_FORMAT}|{self.domain}|{self.selector}|{self.public_key}".encode()


def public_key_of(private: rsa.RSAPrivateKey) -> str:
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def _kek(passphrase: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, **_SCRYPT).derive(passphrase.encode())


def seal(domain: str, selector: str, private: rsa.RSAPrivateKey, passphrase: str) -> bytes:
    """The key file's bytes: the PKCS #1 PEM encrypted with AES-256-GCM under the passphrase."""
    sealed = SealedKey(domain, selector, public_key_of(private))
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,  # PKCS #1, as Mailgun's import takes it
        serialization.NoEncryption(),
    )
    salt, nonce = os.urandom(16), os.urandom(12)
    ciphertext = AESGCM(_kek(passphrase, salt)).encrypt(nonce, pem, sealed.aad())
    doc = {
        "format": KEY_FORMAT,
        "domain": domain,
        "selector": selector,
        "bits": private.key_size,
        "public_key": sealed.public_key,
        "kdf": {"name": "scrypt", **_SCRYPT, "salt": base64.b64encode(salt).decode()},
        "cipher": "AES-256-GCM",
        "nonce": base64.b64encode(nonce).decode(),
        "ciphertext": base64.b64encode(ciphertext).decode(),
    }
    return json.dumps(doc, indent=2, sort_keys=True).encode() + b"\n"


def _read(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        raise InvalidData(problems=[Problem(str(path), "", "unreadable DKIM key file")]) from None
    if not isinstance(doc, dict) or doc.get("format") != KEY_FORMAT:
        raise InvalidData(problems=[Problem(str(path), "format", f"is not {KEY_FORMAT}")])
    return doc


def stored_public_key(path: Path) -> str | None:
    """The public half of a stored key (None when there is no file); needs no passphrase."""
    if not path.exists():
        return None
    return str(_read(path)["public_key"])


def unseal(path: Path, passphrase: str) -> str:
    """The PEM of a stored key, decrypted in memory. A wrong passphrase or a changed file is
    one line naming the file (never the key)."""
    doc = _read(path)
    try:
        sealed = SealedKey(str(doc["domain"]), str(doc["selector"]), str(doc["public_key"]))
        salt = base64.b64decode(doc["kdf"]["salt"])
        nonce = base64.b64decode(doc["nonce"])
        ciphertext = base64.b64decode(doc["ciphertext"])
        pem = AESGCM(_kek(passphrase, salt)).decrypt(nonce, ciphertext, sealed.aad())
    except (KeyError, TypeError, ValueError, InvalidTag):
        raise InvalidData(
            problems=[
                Problem(
                    str(path),
                    "",
                    "cannot decrypt the DKIM key: wrong passphrase "
                    f"({' or '.join(PASSPHRASE_VARS)}) or a changed file",
                )
            ]
        ) from None
    return pem.decode()


def ensure_key(tenants_dir: Path, slug: str, domain: str, selector: str, passphrase: str) -> str:
    """The public key of ``domain``'s target key: the stored one, or a new one written first
    (atomically, under the tenants lock). Idempotent: a resumed run gets the same key."""
    path = key_path(tenants_dir, slug, domain)
    with fsutil.locked(tenants_dir):
        if path.exists():
            doc = _read(path)
            if doc.get("selector") != selector or doc.get("domain") != domain:
                raise InvalidData(
                    problems=[Problem(str(path), "selector", f"is {doc.get('selector')!r}, not {selector!r}")]
                )
            return str(doc["public_key"])
        private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        path.parent.mkdir(parents=True, exist_ok=True)
        fsutil.atomic_write(path, seal(domain, selector, private, passphrase))
        public = public_key_of(private)
    log.info(
        "dkim key generated slug=%s domain=%s selector=%s fingerprint=%s",
        slug,
        domain,
        selector,
        hashlib.sha256(public.encode()).hexdigest()[:16],
    )
    return public


def remove_keys(tenants_dir: Path, slug: str) -> None:
    """Drop the stored keys (abort before the point of no return: the target never got them)."""
    folder = migrations_dir(tenants_dir) / slug / "dkim"
    with fsutil.locked(tenants_dir):
        for path in sorted(folder.glob("*.json")) if folder.exists() else []:
            fsutil.atomic_remove(path)


def install(client: MailgunClient, domain: str, selector: str, pem_of: Any) -> list[str]:
    """Import and activate ``selector``'s key on ``domain`` in ``client``'s region, in the
    documented order, then deactivate every other active key. Idempotent; ``pem_of()`` is
    called only when the key is not there yet. Returns the Mailgun calls that changed
    something (for the log and the tests)."""
    done: list[str] = []
    keys = {str(k.get("selector")): k for k in client.list_domain_keys(domain)}
    if selector not in keys:
        client.import_domain_key(domain, selector, pem_of())
        done.append("import")
        keys[selector] = {"selector": selector, "active": False}
    if not keys[selector].get("active"):
        client.activate_domain_key(domain, selector)
        done.append("activate")
    for other, key in keys.items():
        if other != selector and key.get("active"):
            client.deactivate_domain_key(domain, other)
            done.append(f"deactivate {other}")
    log.info("dkim key installed domain=%s selector=%s calls=%s", domain, selector, ",".join(done) or "none")
    return done
