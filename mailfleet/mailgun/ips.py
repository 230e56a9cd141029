"""Mailgun's IP endpoints: the account's sending IPs and the IPs (or pool) a domain sends from.

- ``GET /v3/ips`` -> ``{"items": ["192.0.2.1", ...], "total_count": n}`` (``dedicated=true``
  lists the account's dedicated IPs only);
- ``GET /v3/domains/{d}/ips`` -> ``{"items": [...], "total_count": n}``: the IPs assigned to
  the domain;
- ``POST /v3/domains/{d}/ips`` with the form field ``ip`` (or ``pool_id``) assigns one;
- ``DELETE /v3/domains/{d}/ips/{ip}`` unassigns one (``ip_pool`` in place of the IP unlinks
  the pool; single IPs cannot be changed while a pool is linked).

Source: Mailgun API reference, "IPs" and "IP Pools"
(documentation.mailgun.com/docs/mailgun/api-reference/send/mailgun/ips).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from mailfleet.mailgun.client import MailgunClient


def _seg(value: str) -> str:
    return quote(value, safe="")


def _items(body: Any) -> list[str]:
    items = body.get("items") if isinstance(body, dict) else None
    return [str(i) for i in items if isinstance(i, str)] if isinstance(items, list) else []


def account_ips(client: MailgunClient, *, dedicated: bool = False) -> list[str]:
    params = {"dedicated": "true"} if dedicated else None
    return _items(client.request("GET", "/v3/ips", params=params))


def domain_ips(client: MailgunClient, domain: str) -> list[str]:
    return _items(client.request("GET", f"/v3/domains/{_seg(domain)}/ips"))


def assign_ip(client: MailgunClient, domain: str, ip: str) -> None:
    client.request("POST", f"/v3/domains/{_seg(domain)}/ips", data={"ip": ip})


def assign_pool(client: MailgunClient, domain: str, pool_id: str) -> None:
    client.request("POST", f"/v3/domains/{_seg(domain)}/ips", data={"pool_id": pool_id})


def unassign_ip(client: MailgunClient, domain: str, ip: str) -> None:
    client.request("DELETE", f"/v3/domains/{_seg(domain)}/ips/{_seg(ip)}")
