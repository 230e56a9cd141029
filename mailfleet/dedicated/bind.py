"""``mailfleet bind-ips``: bind every Mailgun domain of a tenant to its dedicated IPs.

pulumi-mailgun has no argument for a domain's IPs, so mailfleet does it through the API:
``GET /v3/domains/{d}/ips`` tells what the domain sends from; a missing IP is assigned with
``POST /v3/domains/{d}/ips`` (``ip=``), or the whole pool with ``pool_id=`` when the files name
a pool; an IP the files do not name is unassigned (``DELETE /v3/domains/{d}/ips/{ip}``) only
with ``yes`` (it changes where live mail leaves from). ``dry_run`` asks and changes nothing.

Per domain the outcome is ``in-sync``, ``bound`` (changes made), ``drift`` (differs and was
not, or could not be, changed) or ``error``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mailfleet.desired.state import StackState, TenantState
from mailfleet.mailgun import ips as mg_ips
from mailfleet.mailgun.errors import MailgunError

if TYPE_CHECKING:
    from mailfleet.mailgun.client import MailgunClient

log = logging.getLogger(__name__)

FORMAT = "mailfleet-bind-ips/1"
IN_SYNC, BOUND, DRIFT, ERROR = "in-sync", "bound", "drift", "error"


@dataclass
class DomainBinding:
    tenant: str
    domain: str
    region: str
    expected: list[str]
    pool: str | None
    found: list[str] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)  # what was (or would be) done
    status: str = IN_SYNC
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "domain": self.domain,
            "region": self.region,
            "expected": self.expected,
            "pool": self.pool,
            "found": self.found,
            "actions": self.actions,
            "status": self.status,
            "message": self.message,
        }


@dataclass
class BindResult:
    bindings: list[DomainBinding]
    dry_run: bool
    skipped: list[str]  # tenants without dedicated IPs

    @property
    def exit_code(self) -> int:
        return 1 if any(b.status in (DRIFT, ERROR) for b in self.bindings) else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "dry_run": self.dry_run,
            "summary": {
                s: sum(1 for b in self.bindings if b.status == s) for s in (IN_SYNC, BOUND, DRIFT, ERROR)
            }
            | {"skipped_tenants": len(self.skipped), "exit_code": self.exit_code},
            "domains": [b.to_dict() for b in self.bindings],
            "skipped": self.skipped,
        }


def compare(expected: list[str], found: list[str]) -> tuple[list[str], list[str]]:
    """(missing, extra) IPs of a domain."""
    return [ip for ip in expected if ip not in found], [ip for ip in found if ip not in expected]


def bind(
    pairs: list[tuple[StackState, TenantState]],
    clients: dict[str, MailgunClient],
    *,
    dry_run: bool = False,
    yes: bool = False,
) -> BindResult:
    bindings: list[DomainBinding] = []
    skipped: list[str] = []
    for _stack, tenant in pairs:
        ips = tenant.sending_ips
        if ips is None:
            skipped.append(tenant.slug)
            continue
        for dom in tenant.domains:
            b = DomainBinding(tenant.slug, dom.name, dom.region, list(ips.ips), ips.pool)
            bindings.append(b)
            client = clients[dom.region]
            try:
                b.found = mg_ips.domain_ips(client, dom.name)
                missing, extra = compare(b.expected, b.found)
                if not missing and not extra:
                    continue
                if ips.pool is not None and missing:
                    b.actions.append(f"link pool {ips.pool}")
                    if not dry_run:
                        mg_ips.assign_pool(client, dom.name, ips.pool)
                else:
                    for ip in missing:
                        b.actions.append(f"assign {ip}")
                        if not dry_run:
                            mg_ips.assign_ip(client, dom.name, ip)
                for ip in extra if ips.pool is None else []:
                    if yes:
                        b.actions.append(f"unassign {ip}")
                        if not dry_run:
                            mg_ips.unassign_ip(client, dom.name, ip)
                    else:
                        b.actions.append(f"would unassign {ip} (needs --yes)")
                if dry_run:
                    b.status = DRIFT
                    b.message = "dry run: nothing changed"
                    continue
                b.found = mg_ips.domain_ips(client, dom.name)
                missing, extra = compare(b.expected, b.found)
                if missing or extra:
                    b.status = DRIFT
                    b.message = f"still sends from {', '.join(b.found) or 'nothing'}" + (
                        " (unassigning needs --yes)" if extra and not yes else ""
                    )
                else:
                    b.status = BOUND
            except MailgunError as exc:
                b.status = ERROR
                b.message = str(exc)
                log.warning("bind-ips failed domain=%s error=%s", dom.name, exc)
    return BindResult(bindings, dry_run, skipped)
