"""The ``verify`` step's DNS check: ``mailfleet check`` on one tenant in its target stack.

``DnsChecker`` plugs the check area's ``CheckRunner`` into the engine's ``Checker`` interface:
it builds what the target stack declares for the tenant, resolves every record through the
configured nameserver and returns one line per record that is not ``ok`` (missing, wrong,
timeout, error). The expected DKIM key comes from Mailgun (the target region's domain) when
Mailgun clients are given.
"""

from __future__ import annotations

import asyncio
import logging

from mailfleet.check import result as res
from mailfleet.check.mailgun_state import MailgunState
from mailfleet.check.runner import CheckOptions, CheckRunner
from mailfleet.desired.build import build_stack
from mailfleet.dns.resolver import Nameserver, Resolver
from mailfleet.mailgun.client import MailgunClient
from mailfleet.model.stack import StackConfig
from mailfleet.model.tenant import Tenant

log = logging.getLogger("mailfleet.migrate.checker")


class DnsChecker:
    def __init__(
        self,
        nameserver: str | None = None,
        *,
        clients: dict[str, MailgunClient] | None = None,
        timeout: float = 2.0,
        retries: int = 2,
    ) -> None:
        self.nameserver = nameserver
        self.clients = clients
        self.timeout = timeout
        self.retries = retries

    def __call__(self, tenant: Tenant, stack: StackConfig) -> list[str]:
        return asyncio.run(self._check(tenant, stack))

    async def _check(self, tenant: Tenant, stack: StackConfig) -> list[str]:
        state = build_stack(stack, [tenant])
        if not state.tenants:
            return [f"the {stack.name} stack declares nothing for {tenant.slug} yet"]
        options = CheckOptions()
        if self.clients:
            options.mailgun = MailgunState(self.clients)
        server = Nameserver.parse(self.nameserver) if self.nameserver else None
        async with Resolver(server, timeout=self.timeout, retries=self.retries) as resolver:
            result = await CheckRunner(resolver, options).run([(state, state.tenants[0])])
        problems = [
            f"{r.name} {r.type}: {r.status}{': ' + r.message if r.message else ''}"
            for t in result.tenants
            for r in t.all_results
            if r.status != res.OK
        ]
        log.info("check slug=%s stack=%s problems=%d", tenant.slug, stack.name, len(problems))
        return problems
