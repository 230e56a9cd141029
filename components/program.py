"""The Pulumi program of one region stack, callable with any ``StackState``.

``__main__.py`` loads the checkout's tenants and calls ``declare_stack``; tests, the
benchmark and ``migrate`` call it under mocks with a state of their own.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pulumi

from components.providers import RegionProviders, create_providers
from components.secrets import StackSecrets
from components.tenant_mail import TenantMail
from mailfleet.desired.state import StackState
from mailfleet.errors import InvalidData, Problem
from mailfleet.model.stack import StackConfig

log = logging.getLogger("components.program")


def _check(config: StackConfig, state: StackState) -> None:
    if state.region != config.region or state.aws_region != config.aws_region:
        raise InvalidData(
            problems=[
                Problem(
                    f"stack {config.name}",
                    "region",
                    f"state is for {state.region}/{state.aws_region}, stack is {config.region}/{config.aws_region}",
                )
            ]
        )


def declare_stack(
    config: StackConfig,
    state: StackState,
    *,
    secrets: StackSecrets | None = None,
    providers: RegionProviders | None = None,
    export: bool = True,
    lookup_regions: Mapping[str, str] | None = None,
) -> dict[str, TenantMail]:
    """Declare one ``TenantMail`` per tenant of ``state``; returns them by slug.

    With ``export`` (the default), the stack exports ``stack_region``, ``stack_aws_region``
    (slugs have no ``_``, so they never collide with a tenant) and, per
    tenant, an output named after its slug holding ``manual_records``,
    ``forwarding_addresses`` and ``outbound``. ``lookup_regions`` (slug -> region) says where
    to read a Mailgun domain whose records this stack declares without declaring the domain
    (during a region move); by default the stack's region.
    """
    _check(config, state)
    secrets = secrets or StackSecrets()
    if providers is None:
        with_cloudflare = any(r.provider == "cloudflare" for t in state.tenants for r in t.records)
        providers = create_providers(config, secrets, with_cloudflare=with_cloudflare)
    log.info("declare stack=%s region=%s tenants=%d", state.stack, state.region, len(state.tenants))
    lookup = lookup_regions or {}
    tenants: dict[str, TenantMail] = {}
    for t in state.tenants:  # a plain loop: the SDK walks the call stack of every resource
        tenants[t.slug] = TenantMail(t, providers, secrets, lookup_region=lookup.get(t.slug))
    if export:
        for name, value in stack_exports(state, tenants).items():
            pulumi.export(name, value)
    return tenants


def stack_exports(state: StackState, tenants: dict[str, TenantMail]) -> dict[str, Any]:
    """The stack outputs: the stack's region facts and one entry per tenant slug."""
    out: dict[str, Any] = {"stack_region": state.region, "stack_aws_region": state.aws_region}
    for slug, component in tenants.items():
        out[slug] = component.outputs
    return out
