"""``MailgunLookup``: did a create an interrupted ``pulumi up`` left pending go through?

A ``pulumi up`` killed between a provider's create call and the checkpoint that records it
leaves ``pending_operations`` entries of type ``creating`` (docs/migrate.md, "Interrupted stack
runs"). Pulumi cannot tell whether the thing exists: the operator is to look in the provider
and either import it (``pulumi refresh --import-pending-creates URN ID``) or clear it
(``--clear-pending-creates``, after which the next ``up`` creates it). Clearing one that did go
through creates it a second time: a Mailgun domain, webhook or SMTP login answers 400 "already
exists" and wedges every later ``up`` of the stack; a route, which has no unique name, is a
silent duplicate that handles the tenant's mail twice.

``MailgunLookup`` is that look, done through ``mailfleet.mailgun``'s client for the region the
pending resource names (pulumi-mailgun's ``region`` input, ``us`` when absent). It is the
``find_created`` of ``AutomationRunner`` (``mailfleet.migrate.pulumi_runner``): given the
``resource`` of a pending create (``type``, ``urn``, ``inputs``, as ``pulumi stack export``
prints it), the provider ID to import, in the forms pulumi-mailgun's import takes and
``mailfleet.desired.adopt`` writes, or ``None`` when Mailgun has no such thing:

| resource | looked up by | import ID |
|---|---|---|
| ``mailgun:index/domain:Domain`` | ``GET /v4/domains/{name}`` | ``region:name`` |
| ``mailgun:index/route:Route`` | ``GET /v3/routes`` (every page): same expression and actions | ``region:route-id`` |
| ``mailgun:index/webhook:Webhook`` | ``GET /v3/domains/{domain}/webhooks/{kind}`` | ``region:domain:kind`` |
| ``mailgun:index/domainCredential:DomainCredential`` | ``GET /v3/domains/{domain}/credentials``: the login | ``region:login@domain`` |

Any other type, or a pending input the lookup needs that the checkpoint holds encrypted (a
secret), answers ``None``: Pulumi then clears it, the documented default. A Mailgun error other
than 404 propagates (``MailgunError``): recovery stops rather than guess, and nothing is cleared.
``AutomationRunner.recover`` imports one ID once: a second pending create that finds the same
route (two declared routes with one expression and the same actions) is cleared and created again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from mailfleet.mailgun.client import MailgunClient
from mailfleet.mailgun.errors import MailgunError

log = logging.getLogger("mailfleet.migrate.recovery")

DOMAIN = "mailgun:index/domain:Domain"
ROUTE = "mailgun:index/route:Route"
WEBHOOK = "mailgun:index/webhook:Webhook"
CREDENTIAL = "mailgun:index/domainCredential:DomainCredential"
LOOKED_UP = (DOMAIN, ROUTE, WEBHOOK, CREDENTIAL)
_SECRET_SIG = "4dabf18193072939515e22adb298388d"  # Pulumi's marker of a secret value


def _plain(value: Any) -> Any:
    """``value`` as the checkpoint holds it; ``None`` when it is an (encrypted) secret."""
    if isinstance(value, dict) and _SECRET_SIG in value:
        return None
    return value


def full_login(login: str, domain: str) -> str:
    """Mailgun's form of an SMTP login: ``login@domain``."""
    return login if "@" in login else f"{login}@{domain}"


class MailgunLookup:
    """``find_created`` for ``AutomationRunner``: the import ID of a pending Mailgun create
    that went through, else ``None`` (module docstring).

    ``mailgun(region)`` gives the region's client (the run's, so the lookups share its request
    budget).
    """

    def __init__(self, mailgun: Callable[[str], MailgunClient]) -> None:
        self._mailgun = mailgun

    def __call__(self, resource: dict[str, Any]) -> str | None:
        type_ = str(resource.get("type", ""))
        if type_ not in LOOKED_UP:
            return None
        inputs = {k: _plain(v) for k, v in (resource.get("inputs") or {}).items()}
        region = str(inputs.get("region") or "us")
        try:
            found = self._find(type_, region, inputs)
        except MailgunError as exc:
            if exc.status == 404:
                found = None
            else:
                raise
        log.info("pending create urn=%s found=%s", resource.get("urn", "?"), found or "no")
        return found

    def _find(self, type_: str, region: str, inputs: dict[str, Any]) -> str | None:
        client = self._mailgun(region)
        if type_ == DOMAIN:
            name = inputs.get("name")
            if not name:
                return None
            client.get_domain(str(name))  # 404 -> NotFound -> None
            return f"{region}:{name}"
        if type_ == ROUTE:
            expression, actions = inputs.get("expression"), inputs.get("actions")
            if not expression or actions is None:
                return None
            for route in client.list_routes():
                if route.get("expression") == expression and list(route.get("actions") or []) == list(
                    actions
                ):
                    return f"{region}:{route['id']}"
            return None
        domain = inputs.get("domain")
        if not domain:
            return None
        if type_ == WEBHOOK:
            kind = inputs.get("kind")
            if not kind:
                return None
            client.get_webhook(str(domain), str(kind))  # 404 -> NotFound -> None
            return f"{region}:{domain}:{kind}"
        login = inputs.get("login")
        if not login:
            return None
        wanted = full_login(str(login), str(domain))
        return f"{region}:{wanted}" if wanted in client.list_credential_logins(str(domain)) else None
