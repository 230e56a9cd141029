"""Checking many tenants at once: every record of every tenant, concurrently, one resolver.

``CheckRunner.run`` takes (stack, tenant) pairs from the desired-state model and returns a
``RunResult``. Each record the model says must exist (our zone and the customer's zone) is
looked up and judged by the module of its purpose (``mx``, ``spf``, ``dkim``, ``dmarc``,
``tracking``); Mailgun's view of each domain is fetched alongside when a ``MailgunState``
is given. All tenants run concurrently; the resolver bounds the queries in flight and
shares its cache, so names many tenants have in common (Mailgun's SPF tree, report
authorisations) are asked once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mailfleet.check import dkim, dmarc, mx, spf, tracking
from mailfleet.check import result as res
from mailfleet.desired.state import DnsRecord, StackState, TenantState
from mailfleet.dns.resolver import NXDOMAIN, Resolver
from mailfleet.model.region import REGIONS
from mailfleet.records import dmarc as dmarc_records

if TYPE_CHECKING:
    from mailfleet.check.mailgun_state import MailgunState

log = logging.getLogger(__name__)


# The DNS question each record purpose starts with.
PRIMARY_TYPES = {
    "mx": "MX",
    "spf": "TXT",
    "dkim": "TXT",
    "dmarc": "TXT",
    "dmarc-auth": "TXT",
    "tracking": "CNAME",
}


@dataclass
class CheckOptions:
    dkim_keys: dict[str, str] = field(default_factory=dict)  # record name or domain -> base64 key
    dkim_keys_source: str = "the expected keys"  # where dkim_keys came from, as output shows it
    mailgun: MailgunState | None = None


def ips_fix_by(stack: StackState, slug: str, row: res.RecordResult, expected: list[str]) -> str:
    """Who fixes a ``mailgun-ips`` row: ``mailfleet bind-ips SLUG`` for drift (with ``--yes``
    when Mailgun binds IPs the files do not name: only then does bind-ips unassign them),
    ``pulumi up -s STACK`` when the domain is not in Mailgun at all; "" otherwise."""
    if row.status == res.MISSING:
        return f"pulumi up -s {stack.stack}"
    if row.status != res.WRONG:
        return ""
    extra = set(row.found) - set(expected)
    return f"mailfleet bind-ips {slug}" + (" --yes" if extra else "")


def fix_by(stack: StackState, rec: DnsRecord) -> str:
    """Who fixes ``rec``: Pulumi for the zones it manages, else the customer."""
    if rec.provider in ("route53", "cloudflare"):
        return f"pulumi up -s {stack.stack}"
    return f"the customer ({rec.zone} DNS)"


class CheckRunner:
    def __init__(
        self,
        resolver: Resolver,
        options: CheckOptions | None = None,
        progress: Callable[[TenantState, res.TenantResult], None] | None = None,
    ) -> None:
        self.resolver = resolver
        self.options = options or CheckOptions()
        self.progress = progress
        self.evaluator = spf.SpfEvaluator(resolver)

    async def run(self, targets: list[tuple[StackState, TenantState]]) -> res.RunResult:
        results = await asyncio.gather(*(self.check_tenant(stack, tenant) for stack, tenant in targets))
        return res.RunResult(
            tenants=list(results),
            nameserver=str(self.resolver.nameserver),
            queries=self.resolver.stats.queries,
            mailgun_checked=self.options.mailgun is not None,
        )

    async def check_tenant(self, stack: StackState, tenant: TenantState) -> res.TenantResult:
        mailgun = self.options.mailgun
        views = (
            [asyncio.ensure_future(mailgun.view(d)) for d in tenant.domains] if mailgun is not None else []
        )
        # Ask every record's own question at once (timeouts overlap), then judge the records
        # one by one: cheaper than a task per record, and their answers are on the way.
        for rec in tenant.records:
            self.resolver.ensure(rec.name, PRIMARY_TYPES.get(rec.purpose, rec.type))
        records = [await self.check_record(stack, tenant, rec) for rec in tenant.records]
        out = res.TenantResult(tenant.slug, stack.stack, tenant.region, records)
        if mailgun is not None:
            # Here, not at the top: mailgun_state loads requests (about 25 ms), which a check
            # without MAILGUN_API_KEY never uses (it is loaded already when ``mailgun`` is set).
            from mailfleet.check.mailgun_state import record_result

            for view in await asyncio.gather(*views):
                row = record_result(tenant.slug, view, mailgun.trigger_verify)
                if row.status == res.MISSING:
                    row.fix_by = f"pulumi up -s {stack.stack}"
                elif row.status == res.WRONG:
                    row.fix_by = "fix the DNS records above, then check --trigger-verify"
                out.mailgun.append(row)
            if tenant.sending_ips is not None:
                # pulumi-mailgun cannot bind IPs: report drift from what the files name.
                expected = list(tenant.sending_ips.ips)
                rows = await asyncio.gather(
                    *(mailgun.ips_result(tenant.slug, d, expected) for d in tenant.domains)
                )
                for row in rows:
                    row.fix_by = ips_fix_by(stack, tenant.slug, row, expected)
                out.mailgun.extend(rows)
        log.debug("tenant checked slug=%s status=%s", tenant.slug, out.status)
        if self.progress is not None:
            self.progress(tenant, out)
        return out

    async def _expected_dkim(self, tenant: TenantState, rec: DnsRecord) -> tuple[str | None, str]:
        keys = self.options.dkim_keys
        for key in (rec.name.lower(), (rec.mailgun_domain or "").lower()):
            if key and key in keys:
                return dkim.expected_key_of(keys[key]), self.options.dkim_keys_source
        mailgun = self.options.mailgun
        if mailgun is not None:
            domain = next((d for d in tenant.domains if d.name == rec.mailgun_domain), None)
            if domain is not None:
                view = await mailgun.view(domain)
                key = view.dkim_keys.get(rec.name.lower())
                if key:
                    return key, f"Mailgun ({domain.region.upper()} region)"
        return None, ""

    async def check_record(self, stack: StackState, tenant: TenantState, rec: DnsRecord) -> res.RecordResult:
        zone = "ours" if rec.ours else rec.zone
        out = res.RecordResult(tenant.slug, rec.purpose, zone, rec.name, rec.type, res.ERROR)
        region = tenant.region
        purpose = rec.purpose
        try:
            if purpose == "mx":
                await mx.check(out, await self.resolver.mx(rec.name), rec.values, region, self.resolver)
            elif purpose == "spf":
                await spf.check(
                    out,
                    await self.resolver.txt(rec.name),
                    rec.values[0] if rec.values else None,
                    REGIONS[region].spf_include,
                    self.evaluator,
                    rec.name,
                    tenant.sending_ips.ips if tenant.sending_ips is not None else (),
                )
            elif purpose == "dkim":
                lookup_task = asyncio.ensure_future(self.resolver.txt(rec.name))
                expected_key, source = await self._expected_dkim(tenant, rec)
                bits = next((d.dkim_key_size for d in tenant.domains if d.name == rec.mailgun_domain), 2048)
                dkim.check(
                    out,
                    await lookup_task,
                    expected_key=expected_key,
                    expected_source=source,
                    expected_bits=bits,
                )
            elif purpose == "dmarc":
                domain = rec.name[len("_dmarc.") :]
                await dmarc.check(
                    out,
                    await self.resolver.txt(rec.name),
                    rec.values[0] if rec.values else None,
                    self.resolver,
                    domain,
                )
            elif purpose == "dmarc-auth":
                dmarc.check_authorisation(
                    out,
                    await self.resolver.txt(rec.name),
                    rec.values[0] if rec.values else dmarc_records.AUTHORISATION_VALUE,
                )
            elif purpose == "tracking":
                tracking.check(out, await self.resolver.cname(rec.name), rec.values[0], region)
            else:
                await self._generic(out, rec)
        except Exception as exc:  # one broken record must not sink the run
            log.exception("check failed tenant=%s name=%s", tenant.slug, rec.name)
            out.status = res.ERROR
            out.message = f"internal error while checking: {type(exc).__name__}: {exc}"
        await self._advise(out, stack, rec)
        return out

    async def _advise(self, out: res.RecordResult, stack: StackState, rec: DnsRecord) -> None:
        """What a person needs to act: who fixes it, the TTL for the snippet, whether the name
        does not exist at all, and which found values to delete."""
        out.ttl = rec.ttl
        out.fix_by = fix_by(stack, rec)
        if out.status == res.MISSING:
            # the record's own question is cached: this asks nothing new
            lookup = await self.resolver.lookup(rec.name, PRIMARY_TYPES.get(rec.purpose, rec.type))
            out.nxdomain = lookup.status == NXDOMAIN
        if rec.purpose == "spf" and len(out.found) > 1 and rec.values:
            ours = spf.normalise(rec.values[0])
            if any(spf.normalise(v) == ours for v in out.found):
                out.delete = [v for v in out.found if spf.normalise(v) != ours]

    async def _generic(self, out: res.RecordResult, rec: DnsRecord) -> None:
        """A record type without its own rules: the values must be exactly the model's."""
        lookup = await self.resolver.lookup(rec.name, rec.type)
        out.expected = list(rec.values)
        if out.undecided_by(lookup):
            return
        if lookup.missing:
            out.status = res.MISSING
            out.message = lookup.describe()
            return
        found = [v if isinstance(v, str) else " ".join(str(x) for x in v) for v in lookup.values]
        out.found = found
        out.status = res.OK if sorted(found) == sorted(rec.values) else res.WRONG
