"""The desired state of a region stack: what every tenant needs, as plain data.

The single source of truth: the Pulumi components, ``plan``, ``diff``, ``records`` and
``check`` all read ``StackState``. Nothing here imports Pulumi.
"""

from mailfleet.desired.build import build_stack, build_tenant, conflicts
from mailfleet.desired.state import (
    DnsRecord,
    MailgunDomain,
    MailgunRoute,
    MailgunWebhook,
    OutboundSetting,
    StackState,
    TenantState,
)

__all__ = [
    "DnsRecord",
    "MailgunDomain",
    "MailgunRoute",
    "MailgunWebhook",
    "OutboundSetting",
    "StackState",
    "TenantState",
    "build_stack",
    "build_tenant",
    "conflicts",
]
