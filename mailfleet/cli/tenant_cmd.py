"""``mailfleet tenant add|list|show|remove``: tenant files from the command line.

Exit codes: 0 done; 1 invalid or conflicting data (a duplicate slug, a domain another tenant
already uses, a broken tenant file, a tenant in the middle of a migration, a refused removal
without ``--yes``); 2 a wrong command line, including a flag value the tenant schema rejects.
Writes are atomic and serialised by the tenants directory's lock (``mailfleet.fsutil``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from mailfleet.cli import dns_options
from mailfleet.cli.common import (
    RegionOption,
    TableJson,
    err,
    format_table,
    manager,
    out,
    print_json,
)
from mailfleet.cli.flags import flag_of
from mailfleet.desired.state import TenantState
from mailfleet.errors import InvalidData, Problem
from mailfleet.model.stack import StackConfig
from mailfleet.project.tenantfile import as_data, dump_yaml
from mailfleet.project.tenants import Added

tenant_app = typer.Typer(
    help="Add, adopt, list, show and remove tenants (the files in the tenants directory).",
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Via(StrEnum):
    mailgun = "mailgun"
    smtp = "smtp"


class DmarcPolicy(StrEnum):
    none = "none"
    quarantine = "quarantine"
    reject = "reject"


class SpfAll(StrEnum):
    soft = "~all"
    hard = "-all"


class ShowFormat(StrEnum):
    yaml = "yaml"
    json = "json"


# `tenant add` option -> the tenant field it sets, and the option it needs set too (if any).
FIELD_OF_OPTION: dict[str, tuple[str, str | None]] = {
    "name": ("name", None),
    "region": ("region", None),
    "stack": ("stack", None),
    "mailbox": ("mailboxes", None),
    "sender_domain": ("sender_domain.name", None),
    "dns": ("sender_domain.dns", "sender_domain"),
    "spf_include": ("sender_domain.spf_includes", "sender_domain"),
    "spf_all": ("sender_domain.spf_all", "sender_domain"),
    "dmarc_policy": ("dmarc.policy", None),
    "dmarc_rua": ("dmarc.rua", None),
    "dmarc_ruf": ("dmarc.ruf", None),
    "dkim_selector": ("dkim.selector", None),
    "dkim_bits": ("dkim.bits", None),
    "tracking": ("tracking", None),
    "outbound_service": ("outbound.service", None),
    "outbound_marketing": ("outbound.marketing", None),
    "smtp_host": ("outbound.smtp.host", None),
    "smtp_port": ("outbound.smtp.port", "smtp_host"),
}


def tenant_data_from_flags(slug: str, **options: Any) -> tuple[dict[str, Any], list[Problem]]:
    """The tenant mapping the options describe (unset options take the schema default), and the
    problems with option combinations (an option that only applies with another one), by field."""
    usage: list[Problem] = []
    data: dict[str, Any] = {"slug": slug, "name": slug}
    if not options.get("mailbox"):
        usage.append(Problem("", "mailboxes", "at least one --mailbox is required (e.g. --mailbox support)"))
    for option, (field, needs) in FIELD_OF_OPTION.items():
        value = options.get(option)
        if value is None or value == []:
            continue
        if needs is not None and options.get(needs) is None:
            usage.append(Problem("", field, f"only applies with {flag_of(FIELD_OF_OPTION[needs][0])}"))
            continue
        *parents, leaf = field.split(".")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = list(value) if isinstance(value, list | tuple) else value
    return data, usage


def describe_new_tenant(added: Added) -> list[str]:
    """What the operator tells the customer, and the next command."""
    tenant, state, stack = added.tenant, added.state, added.stack
    lines = [f"Platform addresses: {', '.join(state.forwarding_addresses)}"]
    view = added.customer_records
    if view.domain is not None:
        lines.append("")
        who = "the customer publishes" if view.provider == "manual" else f"{view.managed_by} writes"
        lines.append(f"DNS records for {view.domain} ({who} them):")
        lines.extend(format_table(("NAME", "TYPE", "TTL", "VALUE", "NOTE"), view.rows(), indent="  "))
        for dest, name in view.third_party:
            lines.append(f'  {dest} must authorise DMARC reports: {name} TXT "v=DMARC1"')
        lines.append(
            f"  Inbound mail stays on the customer's server; it forwards to {state.forwarding_addresses[0]}"
        )
    if tenant.uses_smtp and state.outbound is not None and tenant.outbound.smtp is not None:
        smtp = tenant.outbound.smtp
        lines.append("")
        lines.append(
            f"IP addresses to allow on {smtp.host}:{smtp.port} (our egress in region {stack.region}): "
            + ", ".join(state.outbound.egress_ips)
        )
    lines.append("")
    lines.append(f"Next: pulumi preview -s {stack.name}")
    return lines


def added_json(added: Added) -> dict[str, Any]:
    """The ``tenant add --format json`` document (same facts as the text output)."""
    tenant, state, stack, path, written = added.tenant, added.state, added.stack, added.path, added.written
    view = added.customer_records
    smtp = tenant.outbound.smtp if tenant.uses_smtp else None
    return {
        "format": "mailfleet-tenant-add/1",
        "file": str(path),
        "written": written,
        "stack": stack.name,
        "tenant": as_data(tenant, full=True),
        "platform_addresses": list(state.forwarding_addresses),
        "records": view.as_json() if view.domain is not None else None,
        "allow_ips": (
            {"smtp_host": smtp.host, "smtp_port": smtp.port, "ips": list(state.outbound.egress_ips)}
            if smtp is not None and state.outbound is not None
            else None
        ),
        "next": f"pulumi preview -s {stack.name}",
    }


@tenant_app.command("add")
def add(
    ctx: typer.Context,
    slug: Annotated[
        str, typer.Argument(metavar="SLUG", help="Tenant id: lowercase a-z, 0-9 and '-', 1-40 characters.")
    ],
    region: Annotated[RegionOption, typer.Option("--region", "-r", help="Region of the tenant.")],
    stack: Annotated[
        str | None,
        typer.Option(
            "--stack",
            metavar="NAME",
            help="The region's stack to put the tenant on (default: the rendezvous proposal, "
            "below each shard's cap; docs/sharding.md).",
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", metavar="TEXT", help="Display name (default: the slug).")
    ] = None,
    mailbox: Annotated[
        list[str] | None,
        typer.Option(
            "--mailbox",
            "-m",
            metavar="NAME",
            help="Mailbox on the platform domain; repeat for more (required).",
        ),
    ] = None,
    sender_domain: Annotated[
        str | None,
        typer.Option("--sender-domain", metavar="DOMAIN", help="The customer's own sending domain (way 2)."),
    ] = None,
    dns: Annotated[
        str | None,
        typer.Option(
            "--dns",
            metavar="HOST",
            help="Where the sender domain's DNS is: cloudflare:ZONE|route53:ZONE|manual.",
        ),
    ] = None,
    spf_include: Annotated[
        list[str] | None,
        typer.Option(
            "--spf-include", metavar="DOMAIN", help="Another sender in the domain's SPF record; repeatable."
        ),
    ] = None,
    spf_all: Annotated[SpfAll | None, typer.Option("--spf-all", help="SPF 'all' term.")] = None,
    dmarc_policy: Annotated[
        DmarcPolicy | None, typer.Option("--dmarc-policy", help="DMARC p= (default quarantine).")
    ] = None,
    dmarc_rua: Annotated[
        list[str] | None,
        typer.Option("--dmarc-rua", metavar="URI", help="DMARC aggregate report mailto: URI; repeatable."),
    ] = None,
    dmarc_ruf: Annotated[
        list[str] | None,
        typer.Option("--dmarc-ruf", metavar="URI", help="DMARC failure report mailto: URI; repeatable."),
    ] = None,
    dkim_selector: Annotated[
        str | None,
        typer.Option(
            "--dkim-selector", metavar="LABEL", help="DKIM selector, one label (default mailfleet)."
        ),
    ] = None,
    dkim_bits: Annotated[
        int | None,
        typer.Option("--dkim-bits", metavar="BITS", help="DKIM key size: 1024 or 2048 (default 2048)."),
    ] = None,
    tracking: Annotated[
        bool | None,
        typer.Option("--tracking/--no-tracking", help="Open/click tracking (default off)."),
    ] = None,
    outbound_service: Annotated[
        Via | None, typer.Option("--outbound-service", help="How Service mail leaves (default mailgun).")
    ] = None,
    outbound_marketing: Annotated[
        Via | None,
        typer.Option("--outbound-marketing", help="How Marketing mail leaves (default mailgun)."),
    ] = None,
    smtp_host: Annotated[
        str | None,
        typer.Option("--smtp-host", metavar="HOST", help="The customer's SMTP server (with smtp outbound)."),
    ] = None,
    smtp_port: Annotated[
        int | None, typer.Option("--smtp-port", metavar="PORT", help="Its port, 1-65535 (default 587).")
    ] = None,
    adopt: Annotated[
        bool,
        typer.Option(
            "--adopt",
            help="Adopt what the sender domain's zone already holds (SPF, DMARC, ...): see `tenant adopt`.",
        ),
    ] = False,
    nameserver: Annotated[
        str | None,
        typer.Option(
            "--nameserver",
            metavar="IP[:PORT]",
            help="With --adopt: ask this DNS server (default: the system's).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and show the file and records; write nothing.")
    ] = False,
    fmt: Annotated[
        TableJson,
        typer.Option(
            "--format", "-f", help="table (for people), or json for scripts (mailfleet-tenant-add/1)."
        ),
    ] = TableJson.table,
) -> None:
    """Add a tenant: validate everything, write tenants/SLUG.yaml atomically, print what to do next.

    Checks the flags against the tenant schema, then against every other tenant (slug and
    every domain unique across both regions). Prints the DNS records the customer publishes
    (own domain), the IPs to allow (own SMTP) and the next command. With --adopt, first reads
    what the sender domain's zone already holds and writes it as the file's adopted.dns
    (`tenant adopt`). Exit 1 if the tenant exists or conflicts with another or a DNS lookup
    fails, 2 for a wrong flag.
    """
    api = manager(ctx)
    data, usage = tenant_data_from_flags(
        slug,
        name=name,
        region=region,
        stack=stack,
        mailbox=mailbox,
        sender_domain=sender_domain,
        dns=dns,
        spf_include=spf_include,
        spf_all=spf_all.value if spf_all else None,
        dmarc_policy=dmarc_policy.value if dmarc_policy else None,
        dmarc_rua=dmarc_rua,
        dmarc_ruf=dmarc_ruf,
        dkim_selector=dkim_selector,
        dkim_bits=dkim_bits,
        tracking=tracking,
        outbound_service=outbound_service.value if outbound_service else None,
        outbound_marketing=outbound_marketing.value if outbound_marketing else None,
        smtp_host=smtp_host,
        smtp_port=smtp_port,
    )
    if nameserver is not None and not adopt:
        usage.append(Problem("", "nameserver", "only applies with --adopt"))
    tenant = api.new_tenant(data, usage)
    adopted = None
    if adopt:
        added, adopted = api.add_adopted_tenant(tenant, nameserver, dry_run=dry_run)
    else:
        added = api.add_tenant(tenant, dry_run=dry_run)
    if fmt is TableJson.json:
        doc = added_json(added)
        if adopted is not None:
            from mailfleet.adopt.report import as_json as adopt_json  # asyncio, requests: only here

            doc["adopt"] = adopt_json(adopted)
        print_json(doc)
    else:
        if adopted is not None:
            from mailfleet.adopt.report import text_lines as adopt_lines

            out("\n".join(adopt_lines(adopted, format_table, status_line=False)))
        if dry_run:
            out(f"# dry run: {added.path} would contain:")
            out(added.content.decode("utf-8"))
        else:
            out(
                f"Created {added.path} (tenant {slug}, region {added.tenant.region}, stack {added.stack.name})."
            )
        out("\n".join(describe_new_tenant(added)))
    if dry_run:
        err("dry run: nothing written")


@tenant_app.command("adopt")
def adopt_(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(metavar="SLUG", help="Tenant slug.")],
    nameserver: dns_options.Nameserver = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Read and compare; write nothing.")] = False,
    yes: Annotated[
        bool,
        typer.Option("--yes", help="Write even when live values differ from the stored snapshot (drift)."),
    ] = False,
    timeout: dns_options.Timeout = 2.0,
    retries: dns_options.Retries = 2,
    fmt: Annotated[
        TableJson,
        typer.Option("--format", "-f", help="table (for people), or json for scripts (mailfleet-adopt/1)."),
    ] = TableJson.table,
) -> None:
    """Adopt what the customer's zone already holds: snapshot it into tenants/SLUG.yaml (adopted.dns).

    Reads the live RRsets at every name and type mailfleet declares in the sender domain's
    zone (TXT at the apex, at _dmarc. and at the DKIM name; the tracking CNAME) from
    --nameserver or the system resolver, and for a Cloudflare zone the id of each record from
    Cloudflare's API (CLOUDFLARE_API_TOKEN). Prints what was found, what mailfleet will
    publish instead (the customer's SPF and DMARC with Mailgun's part merged in) and, for
    manual DNS, what the customer replaces. When live values differ from the stored snapshot,
    prints the drift and writes only with --yes. Exit 1 for drift without --yes, a failed
    lookup (timeout, unreachable nameserver; nothing written) or a zone that cannot be
    adopted as it is (two SPF records); 2 for a wrong flag.
    """
    from mailfleet.adopt.report import as_json, text_lines  # asyncio, requests: only here
    from mailfleet.adopt.run import DRIFT, DRY_RUN

    result = manager(ctx).adopt_dns(
        slug, nameserver, dry_run=dry_run, accept_drift=yes, timeout=timeout, retries=retries
    )
    if fmt is TableJson.json:
        print_json(as_json(result))
    else:
        out("\n".join(text_lines(result, format_table)))
    if result.status == DRIFT:
        assert result.previous is not None
        raise InvalidData(
            problems=[
                Problem(
                    str(result.path),
                    "adopted.dns",
                    f"not written: live values differ from the snapshot of {result.previous.taken_at} "
                    "(drift above); run again with --yes to replace it",
                )
            ]
        )
    if result.status == DRY_RUN:
        err("dry run: nothing written")


@tenant_app.command("list")
def list_(
    ctx: typer.Context,
    region: Annotated[
        RegionOption | None, typer.Option("--region", "-r", help="Only tenants of this region.")
    ] = None,
    fmt: Annotated[TableJson, typer.Option("--format", "-f", help="Output format.")] = TableJson.table,
) -> None:
    """List tenants (slug, region, name, sender domain, DNS host, outbound, migration phase).

    Broken tenant files are reported on stderr, one line per problem, and make the exit code 1
    after the valid tenants are listed.
    """
    items, problems = manager(ctx).tenants(region)
    if fmt is TableJson.json:
        print_json({"format": "mailfleet-tenants/1", "tenants": items})
    else:
        rows = [
            (
                i["slug"],
                i["region"],
                i["sender_domain"] or "-",
                i["dns"] or "-",
                f"{i['outbound']['service']}/{i['outbound']['marketing']}",
                i["migration"] or "-",
                i["name"],
            )
            for i in items
        ]
        header = ("SLUG", "REGION", "SENDER DOMAIN", "DNS", "OUTBOUND", "MIGRATION", "NAME")
        out("\n".join(format_table(header, rows)))
    if problems:
        raise InvalidData(problems=problems)


@tenant_app.command("show")
def show(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(metavar="SLUG", help="Tenant slug.")],
    fmt: Annotated[ShowFormat, typer.Option("--format", "-f", help="Output format.")] = ShowFormat.yaml,
) -> None:
    """Show one tenant with every default filled in (YAML, or JSON: {"format": "mailfleet-tenant/1", "file", "tenant"})."""
    tenant, path = manager(ctx).tenant(slug)
    data = as_data(tenant, full=True)
    if fmt is ShowFormat.json:
        print_json({"format": "mailfleet-tenant/1", "file": str(path), "tenant": data})
    else:
        out(dump_yaml(data))


def deletion_lines(state: TenantState, stack: StackConfig, verb: str = "deletes") -> list[str]:
    """What the next ``pulumi up`` deletes (or, with ``verb``, restores or releases)."""
    rows: list[tuple[str, ...]] = []
    for d in state.domains:
        rows.append(("Mailgun domain", f"{d.name} (region {d.region}, {d.role})"))
    for r in state.routes:
        rows.append(("Mailgun route", f"{r.address} (region {r.region})"))
    for w in state.webhooks:
        rows.append(("Mailgun webhook", f"{w.domain} {w.kind}"))
    manual = []
    for rec in state.records:
        if rec.provider == "manual":
            manual.append(rec)
            continue
        zone = "our zone" if rec.ours else f"{rec.provider} zone of {rec.zone}"
        value = f" -> {' | '.join(rec.values)}" if verb == "restores" else ""
        rows.append(("DNS record", f"{rec.name} {rec.type} ({zone} {rec.zone_id}){value}"))
    if state.credential_domain is not None:
        rows.append(
            ("SMTP credential", f"Mailgun SMTP login on {state.credential_domain} (and its SSM password)")
        )
    if state.outbound is not None:
        o = state.outbound
        rows.append(("SSM parameter", f"{o.parameter} ({o.aws_region})"))
        if o.secret_parameter:
            rows.append(("SSM parameter", f"{o.secret_parameter} ({o.aws_region}, secret)"))
    if not rows and not manual:
        return []
    lines = [f"The next `pulumi up -s {stack.name}` {verb} for tenant {state.slug}:"]
    lines.extend(format_table(("KIND", "WHAT"), rows, indent="  ")[1:])
    if manual and verb == "restores":
        lines.append("Manual DNS: ask the customer to publish again what they had:")
        lines.extend(f"  {rec.name} {rec.type} {' | '.join(rec.values)}" for rec in manual)
    elif manual and verb == "deletes":
        lines.append("Not deleted by Pulumi (manual DNS): ask the customer to remove")
        lines.extend(f"  {rec.name} {rec.type}" for rec in manual)
    if verb == "deletes" and state.domains:
        lines.append(
            "Mailgun domains are protected resources: `pulumi up` refuses to delete them until they "
            f"are unprotected (`pulumi state unprotect -s {stack.name} <urn>`)."
        )
    return lines


NEXT_STEP = {
    "delete": "Removed {path}. Next: pulumi preview -s {stack}, then pulumi up -s {stack}",
    "restore": (
        "Marked {path} for release (adopted.release: true). Next: pulumi up -s {stack} restores what "
        "the tenant had before mailfleet and deletes what mailfleet created; then run "
        "`mailfleet tenant remove {slug} --yes` again to release the adopted records"
    ),
    "release": (
        "Removed {path}. Next: pulumi up -s {stack} releases the adopted records from Pulumi's state "
        "without deleting them (retain_on_delete): they stay the customer's"
    ),
}


@tenant_app.command("remove")
def remove(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(metavar="SLUG", help="Tenant slug.")],
    yes: Annotated[bool, typer.Option("--yes", help="Really remove (or, when adopted, release) it.")] = False,
) -> None:
    """Remove tenants/SLUG.yaml; the next `pulumi up` deletes the tenant's Mailgun and DNS setup.

    Without --yes, lists what the next `pulumi up` will delete (Mailgun domains, routes,
    webhooks, DNS records, the outbound parameter) and exits 1. A tenant that adopted existing
    records (`adopted:`) is given back in two steps: the first remove marks it for release, so
    the next `pulumi up` restores the adopted records to their original values and deletes
    only what mailfleet created; the second remove deletes the file, and the `pulumi up` after
    it lets Pulumi forget the adopted records without deleting them. A tenant in the middle of
    a migration (a `migration:` block whose phase is not "done") is never removed.
    """
    api = manager(ctx)
    target = api.removal(slug)
    lines = [
        *deletion_lines(target.deleted, target.stack),
        *deletion_lines(target.restored, target.stack, "restores"),
        *deletion_lines(target.released, target.stack, "releases, without deleting,"),
    ]
    out("\n".join(lines))
    if not yes:
        what = "mark it for release" if target.stage == "restore" else "remove it"
        raise InvalidData(
            problems=[Problem(str(target.path), "", f"not removed: run again with --yes to {what}")]
        )
    api.remove_tenant(target)
    out(NEXT_STEP[target.stage].format(path=target.path, stack=target.stack.name, slug=slug))


app = tenant_app
