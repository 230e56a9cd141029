"""The fake Mailgun's IP endpoints: the account's IPs, IP pools and each domain's IPs.

- ``GET /v3/ips`` (``dedicated=true``: dedicated ones only) -> ``{"items": [...], "total_count": n}``;
- ``GET /v3/domains/{d}/ips`` -> the domain's IPs, same shape;
- ``POST /v3/domains/{d}/ips`` form ``ip=`` (an IP of the account, else 400) or ``pool_id=``
  (a pool of the account, else 400; the domain then sends from the pool's IPs) ->
  ``{"message": "success"}``;
- ``DELETE /v3/domains/{d}/ips/{ip}`` -> ``{"message": "success"}`` (404 when not assigned);
  ``DELETE /v3/domains/{d}/ips/ip_pool`` unlinks the pool. While a pool is linked, assigning or
  removing single IPs is refused (400), as Mailgun documents ("it's impossible to alter domain
  IPs if a DIPP is linked to the domain").

A domain that was never given IPs sends from the region's shared IPs (``seed_shared_ips``),
which its ``GET .../ips`` lists. Seeding: ``seed_ip(region, ip, dedicated=True)``,
``seed_pool(region, pool_id, ips)``, ``seed_shared_ips(region, ips)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class IpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class IpState:
    account: dict[str, dict[str, bool]] = field(default_factory=dict)  # region -> ip -> dedicated
    shared: dict[str, list[str]] = field(default_factory=dict)  # region -> shared IPs
    pools: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # region -> pool id -> ips
    assigned: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (region, domain) -> ips
    linked_pool: dict[tuple[str, str], str] = field(default_factory=dict)

    def seed_ip(self, region: str, ip: str, dedicated: bool = True) -> None:
        self.account.setdefault(region, {})[ip] = dedicated

    def seed_shared(self, region: str, ips: list[str]) -> None:
        self.shared[region] = list(ips)
        for ip in ips:
            self.account.setdefault(region, {}).setdefault(ip, False)

    def seed_pool(self, region: str, pool_id: str, ips: list[str]) -> None:
        for ip in ips:
            self.seed_ip(region, ip, True)
        self.pools.setdefault(region, {})[pool_id] = list(ips)

    def domain_ips(self, region: str, domain: str) -> list[str]:
        pool = self.linked_pool.get((region, domain))
        if pool is not None:
            return list(self.pools.get(region, {}).get(pool, []))
        own = self.assigned.get((region, domain))
        return list(own) if own else list(self.shared.get(region, []))

    def handle(
        self,
        region: str,
        method: str,
        domain: str | None,
        rest: list[str],
        query: dict[str, list[str]],
        form: dict[str, list[str]],
    ) -> dict[str, Any]:
        if domain is None:
            if method != "GET" or rest:
                raise IpError(404, "Not found")
            dedicated_only = (query.get("dedicated") or [""])[0] == "true"
            ips = sorted(ip for ip, ded in self.account.get(region, {}).items() if ded or not dedicated_only)
            return {"items": ips, "total_count": len(ips)}
        if method == "GET" and not rest:
            ips = self.domain_ips(region, domain)
            return {"items": ips, "total_count": len(ips)}
        if method == "POST" and not rest:
            ip = (form.get("ip") or [""])[0]
            pool = (form.get("pool_id") or [""])[0]
            if pool:
                if pool not in self.pools.get(region, {}):
                    raise IpError(400, f"pool {pool!r} not found")
                self.linked_pool[(region, domain)] = pool
                return {"message": "success"}
            if ip not in self.account.get(region, {}):
                raise IpError(400, f"IP {ip!r} does not belong to this account")
            if (region, domain) in self.linked_pool:
                # Mailgun: "it's impossible to alter domain IPs if a DIPP is linked to the domain"
                raise IpError(400, "domain IPs cannot be altered while an IP pool is linked to the domain")
            own = self.assigned.setdefault((region, domain), [])
            if ip not in own:
                own.append(ip)
            return {"message": "success"}
        if method == "DELETE" and len(rest) == 1 and rest[0] == "ip_pool":
            if self.linked_pool.pop((region, domain), None) is None:
                raise IpError(404, "no IP pool is linked to the domain")
            return {"message": "success"}
        if method == "DELETE" and len(rest) == 1:
            if (region, domain) in self.linked_pool:
                raise IpError(400, "domain IPs cannot be altered while an IP pool is linked to the domain")
            own = self.assigned.get((region, domain), [])
            if rest[0] not in own:
                raise IpError(404, "IP not assigned to the domain")
            own.remove(rest[0])
            return {"message": "success"}
        raise IpError(404, "Not found")
