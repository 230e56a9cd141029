"""The stack's secrets, read once from Pulumi config and handed out as Pulumi secrets.

Contract: every value this module returns is a secret ``pulumi.Output``; plain values never
leave it. A missing secret fails the program with one line naming the config key (and the
tenant, for SMTP passwords), never the value.

Keys (all set with ``pulumi config set --secret``):

- ``mailgun:apiKey``: the Mailgun API key (also what the explicit Mailgun provider uses);
- ``cloudflare:apiToken``: needed only when a tenant's DNS is on Cloudflare;
- ``mailfleet:credentialSeed``: the seed the Mailgun SMTP credential passwords derive from;
- ``mailfleet:smtpPasswords``: a map slug -> password of the tenants that send through
  their own SMTP server (``pulumi config set --secret --path 'mailfleet:smtpPasswords.<slug>' ...``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

import pulumi

log = logging.getLogger("components.secrets")

MAILGUN_API_KEY = ("mailgun", "apiKey")
CLOUDFLARE_API_TOKEN = ("cloudflare", "apiToken")
CREDENTIAL_SEED = ("mailfleet", "credentialSeed")
SMTP_PASSWORDS = ("mailfleet", "smtpPasswords")

# Mailgun accepts SMTP credential passwords of 5 to 32 characters.
CREDENTIAL_PASSWORD_LENGTH = 32


def _require(namespace: str, key: str, why: str) -> pulumi.Output[str]:
    value = pulumi.Config(namespace).get_secret(key)
    if value is None:
        raise pulumi.RunError(
            f"missing secret config {namespace}:{key} ({why}); "
            f"set it with: pulumi config set --secret {namespace}:{key} <value>"
        )
    return value


def derive_password(seed: str, domain: str) -> str:
    """HMAC-SHA256(seed, domain), hex, cut to Mailgun's 32-character maximum (128 bits).

    Deterministic, so the password does not change between runs (no diff churn), and
    different for every domain, so one leaked password opens one domain only.
    """
    digest = hmac.new(seed.encode(), domain.encode(), hashlib.sha256).hexdigest()
    return digest[:CREDENTIAL_PASSWORD_LENGTH]


class StackSecrets:
    """Lazy access to the stack's secret config; each key is read at most once."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] = {}

    def _once(self, name: str, factory: Any) -> Any:
        if name not in self._cache:
            self._cache[name] = factory()
        return self._cache[name]

    def mailgun_api_key(self) -> pulumi.Output[str]:
        return self._once("mailgun", lambda: _require(*MAILGUN_API_KEY, "the Mailgun API key"))

    def cloudflare_api_token(self) -> pulumi.Output[str]:
        return self._once(
            "cloudflare",
            lambda: _require(*CLOUDFLARE_API_TOKEN, "a tenant's DNS is on Cloudflare"),
        )

    def credential_seed(self) -> pulumi.Output[str]:
        return self._once(
            "seed", lambda: _require(*CREDENTIAL_SEED, "seed of the Mailgun SMTP credential passwords")
        )

    def credential_password(self, domain: str) -> pulumi.Output[str]:
        """The Mailgun SMTP password of ``domain``, derived inside ``apply`` so it stays secret."""
        return pulumi.Output.secret(self.credential_seed().apply(lambda seed: derive_password(seed, domain)))

    def _smtp_passwords(self) -> dict[str, Any]:
        def read() -> dict[str, Any]:
            namespace, key = SMTP_PASSWORDS
            # Read as a plain object only to check which slugs are present; every value is
            # wrapped in Output.secret before it leaves this module.
            raw = pulumi.Config(namespace).get_object(key)
            if raw is None:
                return {}
            if not isinstance(raw, dict):
                raise pulumi.RunError(
                    f"secret config {namespace}:{key} must be a map of tenant slug to password"
                )
            return raw

        return self._once("smtp", read)

    def smtp_password(self, slug: str) -> pulumi.Output[str]:
        """The password of tenant ``slug``'s own SMTP server, as a secret."""
        namespace, key = SMTP_PASSWORDS
        value = self._smtp_passwords().get(slug)
        if not isinstance(value, str) or not value:
            raise pulumi.RunError(
                f"missing secret config {namespace}:{key}.{slug} (tenant {slug!r} sends through its own "
                f"SMTP server); set it with: pulumi config set --secret --path '{namespace}:{key}.{slug}' <password>"
            )
        return pulumi.Output.secret(value)
