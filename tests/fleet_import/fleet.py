"""A Mailgun fleet that existed before mailfleet, seeded into the fake, and what was seeded.

``seed_fleet`` writes, for ``tenants`` tenants, what the CRM's old tooling created following
the convention mailfleet uses too (docs/import.md): the platform domain
``<slug>.<platformDomain>``, for most tenants a sender domain, each with its own DKIM selector
and key size, webhooks to ``<webhookUrl>/<slug>``, one route per mailbox forwarding to
``<inboundUrl>/<slug>``, and the CRM's SMTP login ``crm`` on the sending domain. And some
things that do not follow it: a foreign domain, a catch-all route, a route to another URL, a
second sender domain for one tenant, a tenant with a differing route priority and spam action.

The expected values are written here from the convention's definition (the strings a human
would type into Mailgun), never computed with mailfleet's own builders, so the import is
checked against the seed and not against itself. The bench (bench/bench_import.py) seeds its
1,000 domains with the same function in the fake's own process.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

TENANT_KINDS = ("delivered", "permanent_fail", "temporary_fail", "complained", "unsubscribed")
TRACKING = ("opened", "clicked")
BOXES = ("support", "sales", "info", "billing", "help", "kundeservice")
SELECTORS = ("mailo", "k1", "pic", "s2024", "mg")


@dataclass
class SeededTenant:
    slug: str
    platform: str
    sender: str | None
    selector: str
    bits: int
    mailboxes: list[str]
    tracking: bool
    routes: dict[str, str] = field(default_factory=dict)  # address -> route id
    crm: bool = True  # the CRM's login exists on the sending domain

    @property
    def domains(self) -> list[str]:
        return [self.platform, *([self.sender] if self.sender else [])]

    @property
    def sending(self) -> str:
        return self.sender or self.platform


@dataclass
class SeededFleet:
    region: str
    tenants: dict[str, SeededTenant] = field(default_factory=dict)
    foreign: list[str] = field(default_factory=list)  # domains of no tenant
    catch_all: str = ""  # route id
    elsewhere: str = ""  # route id of a route forwarding to another URL
    second_senders: tuple[str, list[str]] = ("", [])  # (tenant, its sender domains)
    odd_priority: tuple[str, str] = ("", "")  # (tenant, address) of a route with priority 0
    odd_spam: tuple[str, str] = ("", "")  # (tenant, domain) with spam_action "tag"

    @property
    def domain_count(self) -> int:
        n = sum(len(t.domains) for t in self.tenants.values())
        return n + len(self.foreign) + len(self.second_senders[1])


def _expression(address: str) -> str:
    """``match_recipient("^<address, regex-escaped>$")`` as a person writes it."""
    return 'match_recipient("^' + re.escape(address) + '$")'


def seed_tenant(
    fake: Any,
    region: str,
    settings: dict[str, str],
    slug: str,
    *,
    sender: str | None,
    selector: str,
    bits: int,
    mailboxes: list[str],
    tracking: bool,
    crm: bool = True,
    priority: int = 10,
    spam_action: str = "disabled",
) -> SeededTenant:
    """One tenant's Mailgun items, as the old tooling created them."""
    platform = f"{slug}.{settings['platformDomain']}"
    hook = f"{settings['webhookUrl']}/{slug}"
    t = SeededTenant(slug, platform, sender, selector, bits, list(mailboxes), tracking, crm=crm)
    for name in t.domains:
        fake.seed_domain(
            name,
            region,
            dkim_selector=selector,
            dkim_key_size=bits,
            spam_action=spam_action,
            web_scheme="https",
        )
        kinds = TENANT_KINDS + (TRACKING if tracking else ())
        fake.seed_webhooks(region, name, {k: [hook] for k in kinds})
    for box in mailboxes:
        address = f"{box}@{platform}"
        route = fake.seed_route(
            region,
            _expression(address),
            [f'forward("{settings["inboundUrl"]}/{slug}")', "stop()"],
            priority=priority,
            description=f"mailfleet {slug}: {address}",
        )
        t.routes[address] = route["id"]
    if crm:
        fake.seed_credential(region, t.sending, "crm")
    fake.seed_credential(region, platform, "postmaster")
    return t


def seed_fleet(fake: Any, region: str, settings: dict[str, str], tenants: int = 30) -> SeededFleet:
    """``tenants`` tenants (about two thirds with a sender domain) plus the odd items."""
    fleet = SeededFleet(region)
    for i in range(tenants):
        slug = f"shop{i:03d}"
        sender = f"{slug}-store.example" if i % 3 else None
        boxes = [BOXES[(i + k) % len(BOXES)] for k in range(1 + i % 3)]
        fleet.tenants[slug] = seed_tenant(
            fake,
            region,
            settings,
            slug,
            sender=sender,
            selector=SELECTORS[i % len(SELECTORS)],
            bits=1024 if i % 2 else 2048,
            mailboxes=boxes,
            tracking=i % 4 == 0,
            crm=i % 5 != 4,
            priority=0 if i == 7 else 10,
            spam_action="tag" if i == 8 else "disabled",
        )
    fleet.odd_priority = ("shop007", next(iter(fleet.tenants["shop007"].routes)))
    fleet.odd_spam = ("shop008", fleet.tenants["shop008"].platform)

    # A domain of nobody: webhooks to another system.
    fake.seed_domain("legacy-newsletter.example.org", region)
    fake.seed_webhooks(
        region, "legacy-newsletter.example.org", {"delivered": ["https://hooks.other.example/x"]}
    )
    fake.seed_domain("orphan.example", region)
    fleet.foreign = ["legacy-newsletter.example.org", "orphan.example"]

    # A catch-all for one tenant, and a route of a tenant's address forwarding elsewhere.
    t1 = fleet.tenants["shop001"]
    fleet.catch_all = fake.seed_route(
        region,
        f'match_recipient(".*@{t1.platform}")',
        [f'forward("{settings["inboundUrl"]}/{t1.slug}")'],
        priority=50,
    )["id"]
    t2 = fleet.tenants["shop002"]
    fleet.elsewhere = fake.seed_route(
        region,
        _expression(f"helpdesk@{t2.platform}"),
        ['forward("https://helpdesk.example.com/inbound")', "stop()"],
    )["id"]

    # A tenant with two sender domains (the old tooling allowed it; mailfleet declares one).
    slug = f"shop{tenants:03d}"
    two = [f"{slug}-a.example", f"{slug}-b.example"]
    t = seed_tenant(
        fake,
        region,
        settings,
        slug,
        sender=None,
        selector="mailo",
        bits=2048,
        mailboxes=["info"],
        tracking=False,
    )
    fleet.tenants[slug] = t
    for name in two:
        fake.seed_domain(name, region, dkim_selector="mailo", dkim_key_size=2048)
        fake.seed_webhooks(region, name, {k: [f"{settings['webhookUrl']}/{slug}"] for k in TENANT_KINDS})
    fleet.second_senders = (slug, two)
    return fleet
