"""Fixtures for the Pulumi program tests: stack configs, secrets, and running under mocks."""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path
from typing import Any

import pytest

from components.mocked import RecordingMonitor, run_program
from components.program import declare_stack
from mailfleet.desired.state import StackState
from mailfleet.model.load import load_stack
from mailfleet.model.stack import StackConfig

REPO = Path(__file__).resolve().parents[2]

# Secret values: distinctive strings so a leak is easy to find in any captured input/output.
MAILGUN_KEY = "key-mg-SECRET-4f2a9c"
CLOUDFLARE_TOKEN = "cf-token-SECRET-77ab1e"
SEED = "seed-SECRET-b3c1d0"
SMTP_PASSWORDS = {
    "alpine": "alpine-smtp-SECRET-1",
    "berlinbikes": "berlinbikes-smtp-SECRET-2",
    "harbor": "harbor-smtp-SECRET-3",
    "smtp-eu": "smtp-eu-SECRET-4",
    "smtp-us": "smtp-us-SECRET-5",
}
SECRET_CONFIG: dict[str, Any] = {
    "mailgun:apiKey": MAILGUN_KEY,
    "cloudflare:apiToken": CLOUDFLARE_TOKEN,
    "mailfleet:credentialSeed": SEED,
    "mailfleet:smtpPasswords": SMTP_PASSWORDS,
}

TYPES = {
    "domain": "mailgun:index/domain:Domain",
    "route": "mailgun:index/route:Route",
    "webhook": "mailgun:index/webhook:Webhook",
    "credential": "mailgun:index/domainCredential:DomainCredential",
    "r53": "aws:route53/record:Record",
    "cf": "cloudflare:index/dnsRecord:DnsRecord",
    "ssm": "aws:ssm/parameter:Parameter",
    "tenant": "mailfleet:index:TenantMail",
    "p_mailgun": "pulumi:providers:mailgun",
    "p_aws": "pulumi:providers:aws",
    "p_cf": "pulumi:providers:cloudflare",
}


def expected_password(domain: str) -> str:
    """What the credential password must be: HMAC-SHA256(seed, domain), hex, 32 chars."""
    return hmac.new(SEED.encode(), domain.encode(), hashlib.sha256).hexdigest()[:32]


def all_secret_values() -> list[str]:
    values = [MAILGUN_KEY, CLOUDFLARE_TOKEN, SEED, *SMTP_PASSWORDS.values()]
    return values


_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def parse_quoted(text: str) -> list[str]:
    """The character-strings of a presentation-format TXT value (``"a" "b"``), unescaped."""
    rest = _QUOTED.sub("", text).strip()
    assert rest == "", f"unquoted text in TXT value: {text!r}"
    return [re.sub(r"\\(.)", r"\1", m) for m in _QUOTED.findall(text)]


@pytest.fixture(scope="session")
def stack_configs() -> dict[str, StackConfig]:
    return {name: load_stack(REPO, name) for name in ("eu", "us")}


def run_state(
    config: StackConfig,
    state: StackState,
    *,
    secrets: dict[str, Any] | None = None,
    **kw: Any,
) -> RecordingMonitor:
    cfg = SECRET_CONFIG if secrets is None else secrets
    return run_program(
        lambda: declare_stack(config, state, **kw),
        stack=config.name,
        config=cfg,
        secret_keys=list(cfg),
    )
