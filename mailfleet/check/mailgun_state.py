"""Mailgun's own view of each domain: its verification state and the DKIM key it holds.

``GET /v4/domains/{name}`` (or ``PUT .../verify`` with ``trigger_verify``) on the region's
API host, through ``MailgunClient`` (retries on 429/5xx, rate limit) run in worker threads.
One call per domain per run; the DKIM key found here is the expected key for the DKIM
record check.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from mailfleet.check import result as res
from mailfleet.check.dkim import expected_key_of
from mailfleet.desired.state import MailgunDomain
from mailfleet.mailgun.client import MailgunClient
from mailfleet.mailgun.errors import MailgunError

log = logging.getLogger(__name__)


@dataclass
class DomainView:
    name: str
    region: str
    status: str  # ok | missing | wrong | error
    state: str = ""
    message: str = ""
    hint: str = ""
    dkim_keys: dict[str, str] = field(default_factory=dict)  # record name -> base64 key
    invalid: list[str] = field(default_factory=list)


class MailgunState:
    """Fetches ``DomainView``s, at most ``workers`` API calls at a time, once per domain."""

    def __init__(
        self, clients: dict[str, MailgunClient], *, trigger_verify: bool = False, workers: int = 8
    ) -> None:
        self.clients = clients
        self.trigger_verify = trigger_verify
        self.workers = workers
        self._views: dict[str, asyncio.Future[DomainView]] = {}
        self._sem: asyncio.Semaphore | None = None

    async def view(self, domain: MailgunDomain) -> DomainView:
        cached = self._views.get(domain.name)
        if cached is not None:
            return await asyncio.shield(cached)
        future: asyncio.Future[DomainView] = asyncio.get_running_loop().create_future()
        self._views[domain.name] = future
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.workers)
        try:
            async with self._sem:
                view = await asyncio.to_thread(self._fetch, domain.name, domain.region)
        except Exception as exc:  # never leave waiters hanging; the message carries no secret
            view = DomainView(
                domain.name, domain.region, res.ERROR, message=f"Mailgun call failed: {type(exc).__name__}"
            )
        future.set_result(view)
        return view

    async def ips_result(self, tenant: str, domain: MailgunDomain, expected: list[str]) -> res.RecordResult:
        """``mailgun-ips``: the IPs Mailgun binds ``domain`` to against the dedicated IPs the
        files name (``GET /v3/domains/{d}/ips``)."""
        from mailfleet.mailgun.ips import domain_ips

        row = res.RecordResult(
            tenant,
            "mailgun-ips",
            f"mailgun {domain.region}",
            domain.name,
            "IPS",
            res.ERROR,
            expected=expected,
        )
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.workers)
        try:
            async with self._sem:
                found = await asyncio.to_thread(domain_ips, self.clients[domain.region], domain.name)
        except MailgunError as exc:
            row.status = res.MISSING if exc.status == 404 else res.ERROR
            row.message = str(exc)
            return row
        row.found = found
        if sorted(found) == sorted(expected):
            row.status = res.OK
        else:
            row.status = res.WRONG
            row.message = "the domain does not send from the dedicated IPs the files name"
            row.hint = "run `mailfleet bind-ips " + tenant + "` (pulumi-mailgun cannot bind IPs)"
        return row

    def _fetch(self, name: str, region: str) -> DomainView:
        client = self.clients[region]
        try:
            body = client.verify_domain(name) if self.trigger_verify else client.get_domain(name)
        except MailgunError as exc:
            if exc.status == 404:
                view = DomainView(
                    name, region, res.MISSING, message=f"not in Mailgun's {region.upper()} region"
                )
                for other, other_client in self.clients.items():
                    if other == region:
                        continue
                    try:
                        if other_client.domain_exists(name):
                            view.hint = (
                                f"{name} exists in Mailgun's {other.upper()} region (migration not finished?)"
                            )
                    except MailgunError as exc2:
                        log.info("mailgun other-region probe failed domain=%s error=%s", name, exc2)
                return view
            return DomainView(name, region, res.ERROR, message=str(exc))
        domain = body.get("domain") or {}
        state = str(domain.get("state") or "unknown")
        view = DomainView(name, region, res.OK if state == "active" else res.WRONG, state=state)
        for rec in body.get("sending_dns_records") or []:
            rname = str(rec.get("name") or "").rstrip(".").lower()
            if rec.get("record_type") == "TXT" and "._domainkey." in rname:
                key = expected_key_of(str(rec.get("value") or ""))
                if key:
                    view.dkim_keys[rname] = key
        for rec in [*(body.get("sending_dns_records") or []), *(body.get("receiving_dns_records") or [])]:
            if rec.get("valid") not in (None, "valid"):
                view.invalid.append(f"{rec.get('record_type')} {rec.get('name') or name}")
        if view.status != res.OK:
            view.message = f"Mailgun state is {state!r}"
            if view.invalid:
                view.message += f"; Mailgun does not see as valid: {', '.join(view.invalid)}"
        return view


def record_result(tenant: str, view: DomainView, verified: bool) -> res.RecordResult:
    return res.RecordResult(
        tenant=tenant,
        purpose="mailgun-verify" if verified else "mailgun",
        zone=f"mailgun {view.region}",
        name=view.name,
        type="DOMAIN",
        status=view.status,
        expected=["active"],
        found=[view.state] if view.state else [],
        message=view.message,
        hint=view.hint,
    )
