"""Running a check: every tenant concurrently through one resolver, in one event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from mailfleet.check.result import RunResult
from mailfleet.check.runner import CheckOptions, CheckRunner
from mailfleet.desired.state import StackState, TenantState
from mailfleet.dns.resolver import Nameserver, Resolver


def check_tenants(
    pairs: list[tuple[StackState, TenantState]],
    server: Nameserver | None,
    *,
    timeout: float,
    retries: int,
    concurrency: int,
    options: CheckOptions,
    on_tenant: Callable[[], None] | None = None,
) -> RunResult:
    """Check ``pairs``; ``on_tenant()`` is called as each tenant's verdict is in (progress)."""

    async def main() -> RunResult:
        async with Resolver(server, timeout=timeout, retries=retries, concurrency=concurrency) as resolver:
            callback = None if on_tenant is None else (lambda _tenant, _result: on_tenant())
            return await CheckRunner(resolver, options, callback).run(pairs)

    return asyncio.run(main())
