"""Grouping what one Mailgun region holds into tenants, by mailfleet's own convention.

Three steps, with API reads in between (``run``):

1. ``group``: each route forwarding to ``<inboundUrl>/<slug>`` and matching one recipient goes
   to tenant ``<slug>``; each domain goes to the one tenant its webhooks
   (``<webhookUrl>/<slug>``), its name (``<slug>.<platformDomain>``) or an existing tenant
   file (its platform or sender domain) name. Two different tenants for one domain, or none,
   and the domain is listed, not assigned.
2. ``select``: per tenant, the platform domain, at most one sender domain and the mailboxes
   (routes to ``<box>@<platform domain>``). An existing tenant file wins over what Mailgun
   suggests: its sender domain, its mailboxes; anything else found for it is listed. A new
   tenant needs its platform domain and at least one mailbox, and gets a sender domain only
   when exactly one other domain is its.
3. ``finish`` (with each tenant domain's settings and the sending domain's SMTP logins): the
   DKIM selector and key size (``dkim``), tracking (both ``opened`` and ``clicked`` webhooks
   point at the tenant), the tenant as it will be written, and the differences between what
   Mailgun holds and what the stack will declare for the adopted items (the import leaves
   Pulumi with an update, a replacement, or an import that fails).

Nothing is guessed silently: every item that does not fit is an ``Unmatched`` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mailfleet.desired.build import build_tenant, platform_domain_of
from mailfleet.desired.rules import tenant_problems
from mailfleet.desired.state import TRACKING_WEBHOOK_KINDS
from mailfleet.fleet_import.convention import RouteRead, platform_slug, read_route, webhook_slugs
from mailfleet.fleet_import.dkim import DkimFound, DkimUnreadable, dkim_of
from mailfleet.fleet_import.read import Gone
from mailfleet.model import names
from mailfleet.model.adoption import Adoption, MailgunAdoption
from mailfleet.model.stack import StackConfig
from mailfleet.model.tenant import Tenant
from mailfleet.project.tenants import with_written_policy

# What pulumi-mailgun does after importing a domain whose field differs from the declaration.
DOMAIN_FIELD_EFFECT = {"spam_action": "replace", "wildcard": "replace", "web_scheme": "update"}


@dataclass(frozen=True, slots=True)
class Unmatched:
    """An item of the region that fits no tenant (or not the one it points at), and why."""

    kind: str  # domain | route
    name: str  # the domain, or the route's address (its expression when it has none)
    reason: str
    id: str = ""  # the route id
    tenant: str = ""  # the tenant it points at, if any

    def as_dict(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "name": self.name,
            "id": self.id,
            "tenant": self.tenant,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Difference:
    """An adopted item whose Mailgun value differs from what the stack declares."""

    tenant: str
    kind: str  # mailgun domain | route | webhook
    name: str
    field: str
    found: str
    declared: str
    effect: str  # update | replace | missing | dkim

    def as_dict(self) -> dict[str, str]:
        return {
            "tenant": self.tenant,
            "kind": self.kind,
            "name": self.name,
            "field": self.field,
            "found": self.found,
            "declared": self.declared,
            "effect": self.effect,
        }


@dataclass
class Candidate:
    """A tenant as Mailgun shows it, before its domains' settings are read."""

    slug: str
    existing: Tenant | None
    platform_expected: str
    platform: str | None = None
    senders: list[str] = field(default_factory=list)
    routes: list[RouteRead] = field(default_factory=list)
    sender: str | None = None  # chosen in ``select``
    mailboxes: dict[str, RouteRead] = field(default_factory=dict)  # box -> its route

    @property
    def domains(self) -> list[str]:
        return [d for d in (self.platform, self.sender) if d is not None]

    @property
    def sending_domain(self) -> str | None:
        """The domain the CRM's SMTP login lives on (``TenantState.credential_domain``)."""
        if self.existing is not None:
            sender = self.existing.sender_domain
            name = sender.name if sender is not None else self.platform_expected
            return name if name in self.domains else None
        return self.sender or self.platform


@dataclass
class Outcome:
    """One tenant to write: new, or an existing file whose ``adopted.mailgun`` changes."""

    slug: str
    tenant: Tenant
    existing: Tenant | None
    path: Path
    adoption: MailgunAdoption
    platform: str | None
    sender: str | None
    mailboxes: list[str]
    dkim: DkimFound | None

    @property
    def unchanged(self) -> bool:
        """True when the file already records the same adoption (only ``taken_at`` differs)."""
        if self.existing is None or self.existing.adopted is None or self.existing.adopted.mailgun is None:
            return False
        old = self.existing.adopted.mailgun
        return old.model_copy(update={"taken_at": self.adoption.taken_at}) == self.adoption


class Matcher:
    """The grouping of one region (see the module docstring)."""

    def __init__(
        self, stack: StackConfig, existing: dict[str, Tenant], paths: dict[str, Path], tenants_dir: Path
    ):
        self.stack = stack
        self.region = stack.region
        self.existing = existing
        self.paths = paths
        self.tenants_dir = tenants_dir
        self.unmatched: list[Unmatched] = []
        self.differences: list[Difference] = []
        self.candidates: dict[str, Candidate] = {}
        self.hooks: dict[str, dict[str, list[str]]] = {}
        self.routes: dict[str, RouteRead] = {}
        self.tenant_of: dict[str, str] = {}  # domain -> slug
        self.stale: list[str] = []  # existing tenants with adopted.mailgun and nothing found now
        # Domains an existing tenant file names (platform and sender), by name.
        self._file_owner: dict[str, str] = {}
        for slug, t in existing.items():
            if t.region != self.region:
                continue
            self._file_owner[platform_domain_of(t, stack)] = slug
            if t.sender_domain is not None:
                self._file_owner.setdefault(t.sender_domain.name, slug)

    # -- 1. group ---------------------------------------------------------------------------

    def group(
        self,
        domains: list[str],
        hooks: dict[str, dict[str, list[str]] | Gone],
        routes: list[dict[str, Any]],
    ) -> None:
        for raw in routes:
            route = read_route(raw, self.stack.inbound_url)
            self.routes[route.id] = route
            if route.slug is None or route.address is None:
                self.unmatched.append(
                    Unmatched("route", route.label(), route.reason, route.id, route.slug or "")
                )
                continue
            self._candidate(route.slug).routes.append(route)
        for name in domains:
            found = hooks.get(name)
            if isinstance(found, Gone) or found is None:
                self.unmatched.append(Unmatched("domain", name, "deleted while it was being read (404)"))
                continue
            self.hooks[name] = found
            by_hooks = webhook_slugs(found, self.stack.webhook_url)
            by_name = platform_slug(name, self.stack.platform_domain)
            by_file = self._file_owner.get(name)
            owners = sorted(by_hooks | {s for s in (by_name, by_file) if s is not None})
            if not owners:
                self.unmatched.append(
                    Unmatched(
                        "domain",
                        name,
                        f"no tenant: no webhook points at {self.stack.webhook_url}/<slug>, the name is not "
                        f"<slug>.{self.stack.platform_domain} and no tenant file names it",
                    )
                )
                continue
            if len(owners) > 1:
                why = []
                if by_hooks:
                    why.append(f"webhooks point at {', '.join(sorted(by_hooks))}")
                if by_name:
                    why.append(f"the name is {by_name}'s platform domain")
                if by_file:
                    why.append(f"tenants/{by_file}.yaml names it")
                self.unmatched.append(
                    Unmatched(
                        "domain", name, f"claimed by several tenants ({', '.join(owners)}): {'; '.join(why)}"
                    )
                )
                continue
            slug = owners[0]
            cand = self._candidate(slug)
            if name == cand.platform_expected:
                cand.platform = name
            else:
                cand.senders.append(name)

    def _candidate(self, slug: str) -> Candidate:
        cand = self.candidates.get(slug)
        if cand is None:
            existing = self.existing.get(slug)
            if existing is not None and existing.region != self.region:
                existing = None  # a file of the other region: refused in ``select``
            if existing is not None:
                expected = platform_domain_of(existing, self.stack)
            else:
                expected = f"{slug}.{self.stack.platform_domain}"
            cand = self.candidates[slug] = Candidate(slug, existing, expected)
        return cand

    # -- 2. select --------------------------------------------------------------------------

    def select(self) -> list[Candidate]:
        """The tenants to read settings for; everything else of theirs is listed."""
        accepted = []
        for slug in sorted(self.candidates):
            cand = self.candidates[slug]
            why = self._refusal(cand)
            if why is not None:
                self._reject(cand, why)
                continue
            self._choose_sender(cand)
            self._choose_mailboxes(cand)
            if cand.existing is None and cand.platform is None:
                self._reject(
                    cand, f"its platform domain {cand.platform_expected} is not in Mailgun {self.region}"
                )
                continue
            if cand.existing is None and not cand.mailboxes:
                self._reject(
                    cand,
                    f"no route forwards one address @{cand.platform_expected} to "
                    f"{self.stack.inbound_url}/{slug}: a tenant needs at least one mailbox",
                )
                continue
            if not cand.domains:
                self._reject(
                    cand, f"none of its domains ({cand.platform_expected}) is in Mailgun {self.region}"
                )
                continue
            accepted.append(cand)
            for d in cand.domains:
                self.tenant_of[d] = slug
        return accepted

    def _refusal(self, cand: Candidate) -> str | None:
        try:
            names.slug(cand.slug)
        except ValueError as exc:
            return f"not a mailfleet tenant slug: {exc}"
        t = cand.existing
        if t is None:
            other = self.existing.get(cand.slug)
            if other is not None:  # a file of another region
                return f"tenants/{cand.slug}.yaml says region {other.region!r}, this is Mailgun {self.region}"
            if (self.tenants_dir / f"{cand.slug}.yaml").exists():
                return f"tenants/{cand.slug}.yaml exists but does not load (mailfleet validate)"
            return None
        if t.migration is not None:
            return f"tenant is being migrated (tenants/{cand.slug}.yaml has a migration block): import after the move"
        return None

    def _reject(self, cand: Candidate, why: str) -> None:
        reason = f"tenant {cand.slug}: {why}"
        for d in [*([cand.platform] if cand.platform else []), *cand.senders]:
            self.unmatched.append(Unmatched("domain", d, reason, tenant=cand.slug))
        for r in cand.routes:
            self.unmatched.append(Unmatched("route", r.label(), reason, r.id, cand.slug))

    def _choose_sender(self, cand: Candidate) -> None:
        t = cand.existing
        if t is not None:
            own = t.sender_domain.name if t.sender_domain is not None else None
            for d in cand.senders:
                if d == own:
                    cand.sender = d
                elif own is None:
                    self.unmatched.append(
                        Unmatched(
                            "domain",
                            d,
                            f"tenant {cand.slug}'s webhooks, but tenants/{cand.slug}.yaml names no sender "
                            "domain: add sender_domain and import again",
                            tenant=cand.slug,
                        )
                    )
                else:
                    self.unmatched.append(
                        Unmatched(
                            "domain",
                            d,
                            f"tenant {cand.slug}'s webhooks, but tenants/{cand.slug}.yaml names {own} as its "
                            "sender domain (a tenant has one)",
                            tenant=cand.slug,
                        )
                    )
            return
        if len(cand.senders) == 1:
            cand.sender = cand.senders[0]
        elif cand.senders:
            listed = ", ".join(sorted(cand.senders))
            for d in cand.senders:
                self.unmatched.append(
                    Unmatched(
                        "domain",
                        d,
                        f"tenant {cand.slug} has {len(cand.senders)} sender domains ({listed}); mailfleet "
                        "declares one: name it in the tenant file's sender_domain and import again",
                        tenant=cand.slug,
                    )
                )

    def _choose_mailboxes(self, cand: Candidate) -> None:
        by_address: dict[str, list[RouteRead]] = {}
        for r in cand.routes:
            assert r.address is not None
            by_address.setdefault(r.address, []).append(r)
        own = set(cand.existing.mailboxes) if cand.existing is not None else None
        for address, routes in sorted(by_address.items()):
            box, _, domain = address.partition("@")
            why = ""
            if domain != cand.platform_expected:
                why = f"{address} is not on tenant {cand.slug}'s platform domain {cand.platform_expected}"
            elif len(routes) > 1:
                ids = ", ".join(r.id for r in routes)
                why = f"{len(routes)} routes match {address} ({ids}); mailfleet declares one"
            elif own is not None and box not in own:
                why = f"mailbox {box!r} is not in tenants/{cand.slug}.yaml: add it and import again"
            else:
                try:
                    names.local_part(box)
                except ValueError as exc:
                    why = str(exc)
            if why:
                for r in routes:
                    self.unmatched.append(Unmatched("route", address, why, r.id, cand.slug))
                continue
            cand.mailboxes[box] = routes[0]

    # -- 3. finish --------------------------------------------------------------------------

    def finish(
        self,
        accepted: list[Candidate],
        settings: dict[str, dict[str, Any] | Gone],
        logins: dict[str, list[str] | Gone],
        taken_at: str,
    ) -> list[Outcome]:
        outcomes = []
        for cand in accepted:
            gone = [d for d in cand.domains if isinstance(settings.get(d), Gone) or d not in settings]
            for d in gone:
                self.unmatched.append(
                    Unmatched("domain", d, "deleted while it was being read (404)", tenant=cand.slug)
                )
            if cand.platform in gone:
                cand.platform = None
            if cand.sender in gone:
                cand.sender = None
            outcome = self._outcome(cand, settings, logins, taken_at)
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes

    def _outcome(
        self,
        cand: Candidate,
        settings: dict[str, dict[str, Any] | Gone],
        logins: dict[str, list[str] | Gone],
        taken_at: str,
    ) -> Outcome | None:
        bodies = {d: b for d in cand.domains if isinstance(b := settings.get(d), dict)}
        dkim: dict[str, DkimFound] = {}
        unreadable: dict[str, str] = {}
        for d, body in bodies.items():
            try:
                dkim[d] = dkim_of(d, body)
            except DkimUnreadable as exc:
                unreadable[d] = str(exc)
        if not cand.domains:
            self._reject(cand, f"none of its domains is in Mailgun {self.region} any more")
            return None
        sending = cand.sending_domain
        found_logins = logins.get(sending) if sending is not None else None
        local_parts = (
            sorted({x.split("@", 1)[0] for x in found_logins if x.endswith("@" + sending)})
            if isinstance(found_logins, list) and sending is not None
            else []
        )
        adoption = MailgunAdoption(
            taken_at=taken_at,
            region=self.region,
            domains=sorted(cand.domains),
            routes={f"{box}@{cand.platform_expected}": r.id for box, r in sorted(cand.mailboxes.items())},
            credentials=local_parts,
        )
        path = self.paths.get(cand.slug, self.tenants_dir / f"{cand.slug}.yaml")
        if cand.existing is not None:
            old = cand.existing.adopted
            merged = Adoption(
                dns=old.dns if old is not None else None,
                mailgun=adoption,
                release=old.release if old is not None else False,
            )
            tenant = cand.existing.model_copy(update={"adopted": merged})
            chosen = DkimFound(cand.existing.dkim.selector, cand.existing.dkim.bits)
        else:
            primary = next((d for d in (cand.platform, cand.sender) if d in dkim), None)
            if primary is None:
                why = "; ".join(f"{d}: {m}" for d, m in unreadable.items()) or "no domain settings"
                self._reject(cand, f"its DKIM selector and key size cannot be read ({why})")
                return None
            chosen = dkim[primary]
            built = self._new_tenant(cand, chosen, adoption, path)
            if isinstance(built, str):
                self._reject(cand, built)
                return None
            tenant = built
        for d, message in unreadable.items():
            self.differences.append(
                Difference(
                    cand.slug,
                    "mailgun domain",
                    d,
                    "dkim",
                    message,
                    f"{chosen.selector}/{chosen.bits}",
                    "dkim",
                )
            )
        self._differences(cand, tenant, bodies, dkim)
        return Outcome(
            cand.slug,
            tenant,
            cand.existing,
            path,
            adoption,
            cand.platform,
            cand.sender,
            sorted(cand.mailboxes),
            chosen,
        )

    def _new_tenant(
        self, cand: Candidate, dkim: DkimFound, adoption: MailgunAdoption, path: Path
    ) -> Tenant | str:
        """The tenant file of a new tenant, or why it cannot be written."""
        platform_hooks = self.hooks.get(cand.platform or "", {})
        url = f"{self.stack.webhook_url}/{cand.slug}"
        tracking = all(url in platform_hooks.get(k, []) for k in TRACKING_WEBHOOK_KINDS)
        data: dict[str, Any] = {
            "slug": cand.slug,
            "name": cand.slug,
            "region": self.region,
            "mailboxes": sorted(cand.mailboxes),
            "dkim": {"selector": dkim.selector, "bits": dkim.bits},
            "tracking": tracking,
            "adopted": {"mailgun": adoption.model_dump(mode="python")},
        }
        if cand.sender is not None:
            data["sender_domain"] = {"name": cand.sender, "dns": "manual"}
        try:
            tenant = Tenant.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first["loc"])
            return f"cannot be a tenant file: {where}: {first['msg']}"
        problems = tenant_problems(tenant, str(path), [self.stack])
        if problems:
            return f"cannot be a tenant file: {problems[0].field}: {problems[0].message}"
        return with_written_policy(tenant)

    def _differences(
        self,
        cand: Candidate,
        tenant: Tenant,
        bodies: dict[str, dict[str, Any]],
        dkim: dict[str, DkimFound],
    ) -> None:
        """What the stack will declare for the adopted items against what Mailgun holds."""
        state = build_tenant(tenant, self.stack)
        slug = cand.slug
        out = self.differences
        for d in state.domains:
            if d.adopted is None or d.name not in bodies:
                continue
            settings = bodies[d.name].get("domain") or {}
            for name, effect in DOMAIN_FIELD_EFFECT.items():
                if name in settings and settings[name] != getattr(d, name):
                    out.append(
                        Difference(
                            slug,
                            "mailgun domain",
                            d.name,
                            name,
                            _text(settings[name]),
                            _text(getattr(d, name)),
                            effect,
                        )
                    )
            found = dkim.get(d.name)
            if found is not None and (found.selector, found.bits) != (d.dkim_selector, d.dkim_key_size):
                out.append(
                    Difference(
                        slug,
                        "mailgun domain",
                        d.name,
                        "dkim",
                        f"{found.selector}/{found.bits}",
                        f"{d.dkim_selector}/{d.dkim_key_size}",
                        "dkim",
                    )
                )
        for r in state.routes:
            if r.adopted is None:
                continue
            box = r.address.split("@", 1)[0]
            seen = cand.mailboxes.get(box)
            if seen is None:
                continue
            for name, found_value, declared in (
                ("expression", seen.expression, r.expression),
                ("actions", ", ".join(seen.actions), ", ".join(r.actions)),
                ("priority", str(seen.priority), str(r.priority)),
                ("description", seen.description, r.description),
            ):
                if found_value != declared:
                    out.append(Difference(slug, "route", r.address, name, found_value, declared, "update"))
        for w in state.webhooks:
            if w.adopted is None:
                continue
            urls = self.hooks.get(w.domain, {}).get(w.kind)
            if urls is None:
                out.append(
                    Difference(slug, "webhook", w.domain, w.kind, "(none)", ", ".join(w.urls), "missing")
                )
            elif sorted(urls) != sorted(w.urls):
                out.append(
                    Difference(
                        slug, "webhook", w.domain, w.kind, ", ".join(urls), ", ".join(w.urls), "update"
                    )
                )


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)
