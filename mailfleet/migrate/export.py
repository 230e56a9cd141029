"""Reading what the source region holds for a tenant, through the Mailgun API.

The export is what would be lost with the source domain: every route on the tenant's domains
(one naming a tenant's address, and any other whose expression names one of its domains:
catch-alls such as ``match_recipient(".*@domain")`` in any quoting or escaping, headers matched
on the domain; hand-made ones included), every webhook of its domains, the suppression lists
(bounces, unsubscribes, complaints: Mailgun keeps them per domain and per region, and forgetting
them means mailing people who unsubscribed), the SMTP logins (never passwords: Mailgun does not
return them, so every login but the ``crm`` one mailfleet re-creates is listed for the operator
to re-issue: ``logins_to_reissue``), every template with every version's content
(``templates``, re-created by ``restore_templates``) and the domains' DNS records as Mailgun
reported them.

Routes are account-wide per region, so a batch lists them once (``RouteIndex``) and every
tenant of the batch takes its own from that list.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from mailfleet.desired.naming import CREDENTIAL_LOGIN
from mailfleet.desired.state import TenantState
from mailfleet.mailgun.client import SUPPRESSION_KINDS, MailgunClient
from mailfleet.mailgun.errors import MailgunError

log = logging.getLogger("mailfleet.migrate.export")

EXPORT_FORMAT = "mailfleet-migration-export/1"
LATE_EXPORT_FORMAT = "mailfleet-migration-late-export/1"


@dataclass
class RouteIndex:
    """Every route of one region, listed once."""

    routes: list[dict[str, Any]]

    @classmethod
    def fetch(cls, client: MailgunClient) -> RouteIndex:
        return cls(client.list_routes())

    def for_addresses(self, addresses: list[str]) -> list[dict[str, Any]]:
        """Routes whose expression names one of ``addresses`` (anchored or not)."""
        return self.for_tenant(addresses, [])

    def for_tenant(self, addresses: list[str], domains: list[str]) -> list[dict[str, Any]]:
        """Routes on the tenant's mail: an expression naming one of ``addresses``, or naming
        one of ``domains`` as a whole domain (``names_domain``), in Mailgun's order."""
        out = []
        for route in self.routes:
            raw = str(route.get("expression", ""))
            expression = raw.replace("\\", "")
            if any(address in expression for address in addresses) or any(
                names_domain(raw, d) for d in domains
            ):
                out.append(route)
        return out


def names_domain(expression: str, domain: str) -> bool:
    """Whether a route ``expression`` is about mail for ``domain`` itself (not a subdomain, not a
    longer name): ``match_recipient(".*@d")``, ``match_recipient('^.*@d\\.tld$')``,
    ``match_header("to", ".*@d")``, ... Regex escapes are undone first; the domain must be
    preceded by something that is not part of a host name and not followed by more of one."""
    text = expression.replace("\\", "").lower()
    name = re.escape(domain.lower().rstrip("."))
    return re.search(rf"(?<![a-z0-9.-]){name}(?![a-z0-9-]|\.[a-z0-9])", text) is not None


def export_tenant(
    client: MailgunClient, source: TenantState, routes: RouteIndex, exported_at: str
) -> dict[str, Any]:
    """The export document of one tenant (``source``: what the source stack declares for it)."""
    domains: dict[str, Any] = {}
    webhooks: dict[str, dict[str, list[str]]] = {}
    suppressions: dict[str, dict[str, list[dict[str, Any]]]] = {}
    credentials: dict[str, list[str]] = {}
    templates: dict[str, list[dict[str, Any]]] = {}
    for d in source.domains:
        body = client.get_domain(d.name)
        domains[d.name] = {
            "state": (body.get("domain") or {}).get("state"),
            "sending_dns_records": body.get("sending_dns_records", []),
            "receiving_dns_records": body.get("receiving_dns_records", []),
        }
        webhooks[d.name] = client.list_webhooks(d.name)
        suppressions[d.name] = {
            kind: list(client.iter_suppressions(d.name, kind)) for kind in SUPPRESSION_KINDS
        }
        credentials[d.name] = sorted(str(c.get("login", "")) for c in client.list_credentials(d.name))
        templates[d.name] = export_templates(client, d.name)
    tenant_routes = [
        {k: r.get(k) for k in ("id", "priority", "description", "expression", "actions")}
        for r in routes.for_tenant(source.forwarding_addresses, [d.name for d in source.domains])
    ]
    recreated = f"{CREDENTIAL_LOGIN}@{source.credential_domain}" if source.credential_domain else None
    reissue = sorted(
        login for logins in credentials.values() for login in logins if login and login != recreated
    )
    log.info(
        "export slug=%s domains=%d routes=%d suppressions=%d",
        source.slug,
        len(domains),
        len(tenant_routes),
        sum(len(v) for kinds in suppressions.values() for v in kinds.values()),
    )
    return {
        "format": EXPORT_FORMAT,
        "tenant": source.slug,
        "region": source.region,
        "exported_at": exported_at,
        "domains": domains,
        "routes": tenant_routes,
        "webhooks": webhooks,
        "suppressions": suppressions,
        "credentials": credentials,
        # Passwords cannot be read: only the `crm` login is re-created (with mailfleet's password);
        # every other login must be re-issued by the operator in the target region.
        "logins_to_reissue": reissue,
        "templates": templates,
    }


def export_templates(client: MailgunClient, domain: str) -> list[dict[str, Any]]:
    """Every template of ``domain`` with every version's content (Mailgun's Templates API:
    the list, each template's versions, each version by tag), in Mailgun's order."""
    out = []
    for meta in client.iter_templates(domain):
        name = str(meta.get("name", ""))
        versions = []
        for v in client.list_template_versions(domain, name):
            full = client.get_template_version(domain, name, str(v.get("tag", "")))
            versions.append(
                {
                    "tag": str(full.get("tag", v.get("tag", ""))),
                    "template": str(full.get("template", "")),
                    "engine": str(full.get("engine") or v.get("engine") or ""),
                    "comment": str(full.get("comment") or v.get("comment") or ""),
                    "active": bool(full.get("active", v.get("active", False))),
                }
            )
        out.append({"name": name, "description": str(meta.get("description") or ""), "versions": versions})
    return out


def restore_templates(client: MailgunClient, data: dict[str, Any]) -> int:
    """Re-create the exported templates in ``client``'s region: a template absent there is
    created (metadata), then each of its versions the target lacks, in the source's order,
    the source's active one with ``active=yes``. Idempotent (a resumed step adds only what is
    missing); returns the versions created."""
    created = 0
    for domain, items in (data.get("templates") or {}).items():
        if not items:
            continue
        present = {str(t.get("name")) for t in client.iter_templates(domain)}
        for t in items:
            name = str(t["name"])
            if name in present:
                have = {str(v.get("tag")) for v in client.list_template_versions(domain, name)}
            else:
                client.create_template(domain, name, str(t.get("description") or ""))
                have = set()
            for v in t.get("versions") or []:
                if v["tag"] in have:
                    continue
                client.create_template_version(
                    domain,
                    name,
                    v["tag"],
                    v["template"],
                    engine=v.get("engine") or "",
                    comment=v.get("comment") or "",
                    active=bool(v.get("active")),
                )
                created += 1
    return created


def suppression_entries(entries: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """Export entries reduced to the fields Mailgun's JSON import takes for ``kind``."""
    keep = {
        "bounces": ("address", "code", "error", "created_at"),
        "unsubscribes": ("address", "tags", "created_at"),
        "complaints": ("address", "created_at"),
    }[kind]
    return [{k: e[k] for k in keep if k in e and e[k] not in (None, "")} for e in entries]


def late_suppressions(client: MailgunClient, first: dict[str, Any], exported_at: str) -> dict[str, Any]:
    """The second suppression export (at the point of no return): per domain of the first
    export ``first``, the entries of each list whose address it did not hold. A domain already
    gone from the source region (404) has nothing more to give: it is listed in ``gone``."""
    suppressions: dict[str, dict[str, list[dict[str, Any]]]] = {}
    gone: list[str] = []
    for domain, kinds in (first.get("suppressions") or {}).items():
        try:
            current = {kind: list(client.iter_suppressions(domain, kind)) for kind in SUPPRESSION_KINDS}
        except MailgunError as exc:
            if exc.status != 404:
                raise
            gone.append(domain)
            continue
        known = {
            kind: {str(e.get("address", "")).lower() for e in kinds.get(kind, [])}
            for kind in SUPPRESSION_KINDS
        }
        suppressions[domain] = {
            kind: [e for e in entries if str(e.get("address", "")).lower() not in known[kind]]
            for kind, entries in current.items()
        }
    log.info(
        "late export slug=%s added=%d gone=%d",
        first.get("tenant"),
        sum(len(v) for kinds in suppressions.values() for v in kinds.values()),
        len(gone),
    )
    return {
        "format": LATE_EXPORT_FORMAT,
        "tenant": first.get("tenant"),
        "region": first.get("region"),
        "exported_at": exported_at,
        "suppressions": suppressions,
        "gone": gone,
    }
