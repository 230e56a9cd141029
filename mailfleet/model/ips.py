"""Mailgun dedicated IPs, named in the files so that ``plan`` stays offline.

``mailgun_ips`` in a tenant file, or ``mailfleet:mailgunIps`` in a stack file (for every tenant
of the stack without its own):

    mailgun_ips:
      ips: [203.0.113.7, 203.0.113.8]   # the addresses the domains send from
      pool: 6f1c2a9d0b7e46c3a8d25e6f     # optional: a Mailgun IP pool holding exactly these

With them, the SPF records list ``ip4:``/``ip6:`` terms for these addresses instead of
``include:mailgun.org`` (which authorises every Mailgun customer), and ``mailfleet bind-ips``
binds each Mailgun domain of the tenant to the addresses (or the pool) through the API,
since pulumi-mailgun has no argument for it.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

POOL_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def ip_address(value: str) -> str:
    """An IP address, written as Python writes it (``2001:db8::1``, not ``2001:DB8:0::1``)."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address") from None
    if str(address) != value:
        raise ValueError(f"{value!r} must be written as {str(address)!r}")
    return value


def unique(values: list[str]) -> list[str]:
    """A list validator: ``values`` unchanged, or an error naming the first one listed twice."""
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{value!r} is listed twice")
        seen.add(value)
    return values


def _pool(value: str) -> str:
    if not POOL_ID.match(value):
        raise ValueError(f"{value!r} is not a Mailgun IP pool id (letters, digits, '-' and '_')")
    return value


IpAddress = Annotated[str, AfterValidator(ip_address)]


class MailgunIps(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    ips: Annotated[list[IpAddress], Field(min_length=1, max_length=20), AfterValidator(unique)]
    pool: Annotated[str, AfterValidator(_pool)] | None = None

    def spf_terms(self) -> tuple[str, ...]:
        return tuple(f"ip{ipaddress.ip_address(ip).version}:{ip}" for ip in self.ips)
