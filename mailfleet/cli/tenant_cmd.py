"""``mailfleet tenant add|list|show|remove``: tenant files from the command line.

Exit codes: 0 done; 1 invalid or conflicting data (a duplicate slug, a domain another tenant
already uses, a broken tenant file, a tenant in the middle of a migration, a refused removal
without ``--yes``); 2 a wrong command line, including a flag value the tenant schema rejects.
Writes are atomic and serialised by the tenants directory's lock (``mailfleet.fsutil``).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mailfleet.cli.common import RegionChoice, TableJson, err, out, print_json, settings

if TYPE_CHECKING:
    from mailfleet.desired.state import TenantState
    from mailfleet.errors import Problem
    from mailfleet.model.stack import StackConfig
    from mailfleet.model.tenant import Tenant
    from mailfleet.project import Project

tenant_app = typer.Typer(
    help="Add, list, show and remove tenants (the files in the tenants directory).",
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


class AddFormat(StrEnum):
    text = "text"
    json = "json"


class ShowFormat(StrEnum):
    yaml = "yaml"
    json = "json"


# Schema field path (prefix) -> the `tenant add` flag that sets it; first match wins.
FLAG_OF_FIELD: tuple[tuple[str, str], ...] = (
    ("slug", "SLUG"),
    ("name", "--name"),
    ("region", "--region"),
    ("mailboxes", "--mailbox"),
    ("sender_domain.name", "--sender-domain"),
    ("sender_domain.dns", "--dns"),
    ("sender_domain.spf_includes", "--spf-include"),
    ("sender_domain.spf_all", "--spf-all"),
    ("sender_domain", "--sender-domain"),
    ("dmarc.policy", "--dmarc-policy"),
    ("dmarc.rua", "--dmarc-rua"),
    ("dmarc.ruf", "--dmarc-ruf"),
    ("dkim.selector", "--dkim-selector"),
    ("dkim.bits", "--dkim-bits"),
    ("tracking", "--tracking"),
    ("outbound.smtp.port", "--smtp-port"),
    ("outbound.smtp", "--smtp-host"),
    ("outbound.service", "--outbound-service"),
    ("outbound.marketing", "--outbound-marketing"),
    ("outbound", "--smtp-host"),
)


def flag_of(field_path: str) -> str:
    for prefix, flag in FLAG_OF_FIELD:
        if field_path == prefix or field_path.startswith(prefix + "."):
            return flag
    return field_path or "SLUG"


def slug_path(tenants_dir: Path, slug: str, where: str = "SLUG") -> Path:
    """``tenants_dir/<slug>.yaml`` for a valid slug; a bad slug is a usage error (exit 2)."""
    from mailfleet.errors import Problem, UsageError
    from mailfleet.model import names

    try:
        names.slug(slug)
    except ValueError as exc:
        raise UsageError(problems=[Problem(where, "", str(exc))]) from None
    return tenants_dir / f"{slug}.yaml"


def tenant_data_from_flags(**flags: Any) -> tuple[dict[str, Any], list[Problem]]:
    """The tenant mapping the flags describe (unset options take the schema default), and the
    problems with flag combinations (a flag that only applies with another one)."""
    from mailfleet.errors import Problem

    usage: list[Problem] = []
    data: dict[str, Any] = {
        "slug": flags["slug"],
        "name": flags["name"] if flags["name"] is not None else flags["slug"],
        "region": flags["region"],
    }
    if not flags["mailbox"]:
        usage.append(Problem("--mailbox", "", "at least one --mailbox is required (e.g. --mailbox support)"))
    data["mailboxes"] = list(flags["mailbox"] or [])
    if flags["sender_domain"] is not None:
        sender: dict[str, Any] = {"name": flags["sender_domain"]}
        if flags["dns"] is not None:
            sender["dns"] = flags["dns"]
        if flags["spf_include"]:
            sender["spf_includes"] = list(flags["spf_include"])
        if flags["spf_all"] is not None:
            sender["spf_all"] = flags["spf_all"]
        data["sender_domain"] = sender
    else:
        for flag, key in (("--dns", "dns"), ("--spf-include", "spf_include"), ("--spf-all", "spf_all")):
            if flags[key]:
                usage.append(Problem(flag, "", "only applies with --sender-domain"))
    dmarc: dict[str, Any] = {}
    if flags["dmarc_policy"] is not None:
        dmarc["policy"] = flags["dmarc_policy"]
    if flags["dmarc_rua"]:
        dmarc["rua"] = list(flags["dmarc_rua"])
    if flags["dmarc_ruf"]:
        dmarc["ruf"] = list(flags["dmarc_ruf"])
    if dmarc:
        data["dmarc"] = dmarc
    dkim: dict[str, Any] = {}
    if flags["dkim_selector"] is not None:
        dkim["selector"] = flags["dkim_selector"]
    if flags["dkim_bits"] is not None:
        dkim["bits"] = flags["dkim_bits"]
    if dkim:
        data["dkim"] = dkim
    if flags["tracking"] is not None:
        data["tracking"] = flags["tracking"]
    outbound: dict[str, Any] = {}
    if flags["outbound_service"] is not None:
        outbound["service"] = flags["outbound_service"]
    if flags["outbound_marketing"] is not None:
        outbound["marketing"] = flags["outbound_marketing"]
    if flags["smtp_host"] is not None:
        smtp: dict[str, Any] = {"host": flags["smtp_host"]}
        if flags["smtp_port"] is not None:
            smtp["port"] = flags["smtp_port"]
        outbound["smtp"] = smtp
    elif flags["smtp_port"] is not None:
        usage.append(Problem("--smtp-port", "", "only applies with --smtp-host"))
    if outbound:
        data["outbound"] = outbound
    return data, usage


def validate_flags(data: dict[str, Any], usage: list[Problem] | None = None) -> Tenant:
    """Validate through the tenant schema; each problem names the flag (exit 2), listed
    together with the flag-combination problems in ``usage``."""
    from pydantic import ValidationError

    from mailfleet.errors import Problem, UsageError
    from mailfleet.loader import pydantic_problems
    from mailfleet.model.tenant import Tenant

    problems = list(usage or [])
    try:
        tenant = Tenant.model_validate(data)
    except ValidationError as exc:
        # A flag already reported by a combination check gets no second line from the schema.
        reported = {p.where for p in problems}
        schema = (Problem(flag_of(p.field), "", p.message) for p in pydantic_problems("", exc))
        problems.extend(p for p in schema if p.where not in reported)
    if problems:
        raise UsageError(problems=problems)
    return tenant


def stack_for(project: Project, region: str) -> StackConfig | None:
    for cfg in project.stacks.values():
        if cfg.region == region:
            return cfg
    return None


def stack_for_tenant(stacks_dir: Path, tenant: Tenant, where: Path) -> StackConfig:
    """The stack that declares the tenant's DNS records now (its region's stack; during a
    migration, the stack the records have moved to). Loads only the stack files."""
    from mailfleet.desired.build import stack_declaration
    from mailfleet.errors import InvalidData, Problem
    from mailfleet.loader import load_stack
    from mailfleet.model.stack import discover_stacks

    home: StackConfig | None = None
    for name in discover_stacks(stacks_dir):
        cfg = load_stack(stacks_dir, name)
        decl = stack_declaration(tenant, cfg)
        if decl is not None and decl.records:
            return cfg
        if home is None and cfg.region == tenant.region:
            home = cfg
    if home is None:
        raise InvalidData(
            problems=[
                Problem(
                    str(where), "region", f"no stack file in {stacks_dir} serves region {tenant.region!r}"
                )
            ]
        )
    return home


def conflicts_with_others(tenant: Tenant, project: Project, path: Path) -> list[Problem]:
    """Cross-tenant problems of a new ``tenant``: slug and every domain unique in both regions."""
    from mailfleet.desired.build import build_tenant
    from mailfleet.errors import Problem

    problems: list[Problem] = []
    if tenant.slug in project.tenants or path.exists():
        where = project.paths.get(tenant.slug, path)
        return [Problem(str(where), "", f"tenant {tenant.slug!r} already exists")]
    stack = stack_for(project, tenant.region)
    if stack is None:
        return [Problem("--region", "", f"no stack file serves region {tenant.region!r}")]
    state = build_tenant(tenant, stack)
    domains: dict[str, tuple[str, str]] = {}
    addresses: dict[str, str] = {}
    records: dict[tuple[str | None, str, str], str] = {}
    for st in project.states.values():
        for t in st.tenants:
            for d in t.domains:
                domains.setdefault(d.name, (t.slug, t.region))
            for r in t.routes:
                addresses.setdefault(r.address, t.slug)
            for rec in t.records:
                records.setdefault((rec.zone_id, rec.name, rec.type), t.slug)

    def where_of(slug: str) -> str:
        return str(project.paths.get(slug, f"{slug}.yaml"))

    for d in state.domains:
        if d.name in domains:
            other, region = domains[d.name]
            flag = "--sender-domain" if d.role == "sender" else "SLUG"
            problems.append(
                Problem(
                    flag,
                    "",
                    f"domain {d.name} is already used by tenant {other!r} "
                    f"(region {region}, {where_of(other)})",
                )
            )
    # The same rule as `mailfleet validate` (desired.build.conflicts): platform names are reserved.
    platform_domains = sorted(
        {st.platform_domain for st in project.states.values()} | {stack.platform_domain}
    )
    for d in state.domains:
        inside = [
            p for p in platform_domains if d.role == "sender" and (d.name == p or d.name.endswith("." + p))
        ]
        if inside:
            problems.append(
                Problem(
                    "--sender-domain",
                    "",
                    f"domain {d.name} is inside the platform domain {inside[0]}, "
                    "whose names are reserved for platform addresses",
                )
            )
    for r in state.routes:
        if r.address in addresses:
            other = addresses[r.address]
            problems.append(
                Problem("--mailbox", "", f"address {r.address} is already routed for tenant {other!r}")
            )
    if not problems:
        for rec in state.records:
            other_slug = records.get((rec.zone_id, rec.name, rec.type))
            if other_slug is not None:
                problems.append(
                    Problem(
                        "--sender-domain",
                        "",
                        f"{rec.type} record {rec.name} is already declared by tenant {other_slug!r}",
                    )
                )
    return problems


def check_against_project(tenant: Tenant, path: Path, tenants_dir: Path, stacks_dir: Path) -> Project:
    """Load every other tenant and both stacks; raise ``InvalidData`` on any problem."""
    from mailfleet.errors import InvalidData, Problem
    from mailfleet.project import Project

    if path.exists():
        raise InvalidData(problems=[Problem(str(path), "", f"tenant {tenant.slug!r} already exists")])
    project = Project.load(tenants_dir, stacks_dir, strict=False)
    if project.problems:
        raise InvalidData(
            problems=[
                *project.problems,
                Problem(
                    str(path),
                    "",
                    "not written: the project has the problems above; fix them first (mailfleet validate)",
                ),
            ]
        )
    problems = conflicts_with_others(tenant, project, path)
    if problems:
        raise InvalidData(problems=problems)
    return project


def describe_new_tenant(tenant: Tenant, state: TenantState, stack: StackConfig) -> list[str]:
    """What the operator tells the customer, and the next command."""
    from mailfleet.records.publish import CustomerRecords

    lines = [f"Platform addresses: {', '.join(state.forwarding_addresses)}"]
    view = CustomerRecords.from_state(state, stack.name, tenant.dmarc.rua + tenant.dmarc.ruf)
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


def added_json(
    tenant: Tenant, state: TenantState, stack: StackConfig, path: Path, written: bool
) -> dict[str, Any]:
    """The ``tenant add --format json`` document (same facts as the text output)."""
    from mailfleet.records.publish import CustomerRecords
    from mailfleet.tenantfile import as_data

    view = CustomerRecords.from_state(state, stack.name, tenant.dmarc.rua + tenant.dmarc.ruf)
    smtp = tenant.outbound.smtp if tenant.uses_smtp else None
    return {
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


def format_table(header: tuple[str, ...], rows: list[tuple[str, ...]], indent: str = "") -> list[str]:
    """Plain fixed-width columns (stable for any terminal width); the last column is not padded."""
    all_rows = [header, *rows]
    widths = [max(len(r[i]) for r in all_rows) for i in range(len(header) - 1)]
    lines = []
    for r in all_rows:
        cells = [c.ljust(w) for c, w in zip(r, widths, strict=False)] + [r[-1]]
        lines.append((indent + "  ".join(cells)).rstrip())
    return lines


@tenant_app.command("add")
def add(
    ctx: typer.Context,
    slug: Annotated[
        str, typer.Argument(metavar="SLUG", help="Tenant id: lowercase a-z, 0-9 and '-', 1-40 characters.")
    ],
    region: Annotated[RegionChoice, typer.Option("--region", "-r", help="Region stack of the tenant.")],
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
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and show the file and records; write nothing.")
    ] = False,
    fmt: Annotated[
        AddFormat, typer.Option("--format", "-f", help="text, or json for scripts.")
    ] = AddFormat.text,
) -> None:
    """Add a tenant: validate everything, write tenants/SLUG.yaml atomically, print what to do next.

    Checks the flags against the tenant schema, then against every other tenant (slug and
    every domain unique across both regions). Prints the DNS records the customer publishes
    (own domain), the IPs to allow (own SMTP) and the next command. Exit 1 if the tenant
    exists or conflicts with another, 2 for a wrong flag.
    """
    import logging

    from mailfleet.desired.build import build_tenant
    from mailfleet.fsutil import atomic_write, locked
    from mailfleet.tenantfile import render

    log = logging.getLogger("mailfleet.cli.tenant")
    s = settings(ctx)
    data, usage = tenant_data_from_flags(
        slug=slug,
        name=name,
        region=region.value,
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
    tenant = validate_flags(data, usage)
    _require_dir(s.tenants_dir)
    path = s.tenants_dir / f"{slug}.yaml"
    content = render(tenant)
    # Checked once without the lock (so refused input never creates the lock file), then again
    # under it: the existence check and the write are one critical section.
    project = check_against_project(tenant, path, s.tenants_dir, s.stacks_dir)
    if not dry_run:
        with locked(s.tenants_dir):
            project = check_against_project(tenant, path, s.tenants_dir, s.stacks_dir)
            _os_error_to_problem(atomic_write, path, content)
        log.info("tenant added slug=%s region=%s path=%s", slug, tenant.region, path)
    stack = stack_for(project, tenant.region)
    assert stack is not None
    state = build_tenant(tenant, stack)
    if fmt is AddFormat.json:
        print_json(added_json(tenant, state, stack, path, written=not dry_run))
    elif dry_run:
        out(f"# dry run: {path} would contain:")
        out(content.decode("utf-8"))
    else:
        out(f"Created {path} (tenant {slug}, region {tenant.region}, stack {stack.name}).")
    if fmt is AddFormat.text:
        out("\n".join(describe_new_tenant(tenant, state, stack)))
    if dry_run:
        err("dry run: nothing written")


def _os_error_to_problem(operation: Any, path: Path, *args: Any) -> None:
    """Run a file operation on ``path``; an OS error becomes one problem line (exit 1)."""
    from mailfleet.errors import InvalidData, Problem

    try:
        operation(path, *args)
    except OSError as exc:
        raise InvalidData(problems=[Problem(str(path), "", f"cannot write: {exc.strerror or exc}")]) from None


def _require_dir(tenants_dir: Path) -> None:
    from mailfleet.errors import InvalidData, Problem

    if not tenants_dir.is_dir():
        raise InvalidData(problems=[Problem(str(tenants_dir), "", "tenants directory does not exist")])


def _summary(tenant: Tenant, path: Path) -> dict[str, Any]:
    from mailfleet.tenantfile import migration_phase

    sender = tenant.sender_domain
    return {
        "slug": tenant.slug,
        "name": tenant.name,
        "region": tenant.region,
        "file": str(path),
        "mailboxes": list(tenant.mailboxes),
        "sender_domain": sender.name if sender else None,
        "dns": sender.dns if sender else None,
        "outbound": {"service": tenant.outbound.service, "marketing": tenant.outbound.marketing},
        "tracking": tenant.tracking,
        "migration": migration_phase(tenant.migration),
    }


@tenant_app.command("list")
def list_(
    ctx: typer.Context,
    region: Annotated[
        RegionChoice | None, typer.Option("--region", "-r", help="Only tenants of this region.")
    ] = None,
    fmt: Annotated[TableJson, typer.Option("--format", "-f", help="Output format.")] = TableJson.table,
) -> None:
    """List tenants (slug, region, name, sender domain, DNS host, outbound, migration phase).

    Broken tenant files are reported on stderr, one line per problem, and make the exit code 1
    after the valid tenants are listed.
    """
    from mailfleet.errors import InvalidData
    from mailfleet.loader import load_tenants

    s = settings(ctx)
    loaded = load_tenants(s.tenants_dir)
    items = [
        _summary(t, loaded.paths[slug])
        for slug, t in sorted(loaded.tenants.items())
        if region is None or t.region == region.value
    ]
    if fmt is TableJson.json:
        print_json(items)
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
    if loaded.problems:
        raise InvalidData(problems=loaded.problems)


def _load_one(tenants_dir: Path, slug: str) -> tuple[Tenant, Path]:
    from mailfleet.errors import InvalidData, Problem
    from mailfleet.loader import load_tenant_file

    path = slug_path(tenants_dir, slug)
    if not path.is_file():
        raise InvalidData(problems=[Problem(str(path), "", f"no tenant {slug!r} (file does not exist)")])
    tenant, problems = load_tenant_file(path)
    if problems or tenant is None:
        raise InvalidData(problems=problems)
    return tenant, path


@tenant_app.command("show")
def show(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(metavar="SLUG", help="Tenant slug.")],
    fmt: Annotated[ShowFormat, typer.Option("--format", "-f", help="Output format.")] = ShowFormat.yaml,
) -> None:
    """Show one tenant with every default filled in (YAML, or JSON: {"file": ..., "tenant": {...}})."""
    from mailfleet.tenantfile import as_data, dump_yaml

    s = settings(ctx)
    tenant, path = _load_one(s.tenants_dir, slug)
    data = as_data(tenant, full=True)
    if fmt is ShowFormat.json:
        print_json({"file": str(path), "tenant": data})
    else:
        out(dump_yaml(data))


def deletion_lines(state: TenantState, stack: StackConfig) -> list[str]:
    """What the next ``pulumi up`` deletes for a removed tenant, from the desired state."""
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
        rows.append(("DNS record", f"{rec.name} {rec.type} ({zone} {rec.zone_id})"))
    if state.credential_domain is not None:
        rows.append(
            ("SMTP credential", f"Mailgun SMTP login on {state.credential_domain} (and its SSM password)")
        )
    if state.outbound is not None:
        o = state.outbound
        rows.append(("SSM parameter", f"{o.parameter} ({o.aws_region})"))
        if o.secret_parameter:
            rows.append(("SSM parameter", f"{o.secret_parameter} ({o.aws_region}, secret)"))
    lines = [f"The next `pulumi up -s {stack.name}` deletes for tenant {state.slug}:"]
    lines.extend(format_table(("KIND", "WHAT"), rows, indent="  ")[1:])
    if manual:
        lines.append("Not deleted by Pulumi (manual DNS): ask the customer to remove")
        lines.extend(f"  {rec.name} {rec.type}" for rec in manual)
    lines.append(
        "Mailgun domains are protected resources: `pulumi up` refuses to delete them until they "
        f"are unprotected (`pulumi state unprotect -s {stack.name} <urn>`)."
    )
    return lines


@tenant_app.command("remove")
def remove(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(metavar="SLUG", help="Tenant slug.")],
    yes: Annotated[bool, typer.Option("--yes", help="Really delete the tenant file.")] = False,
) -> None:
    """Remove tenants/SLUG.yaml; the next `pulumi up` deletes the tenant's Mailgun and DNS setup.

    Without --yes, lists what the next `pulumi up` will delete (Mailgun domains, routes,
    webhooks, DNS records, the outbound parameter) and exits 1. A tenant in the middle of a
    migration (a `migration:` block whose phase is not "done") is never removed.
    """
    from mailfleet.desired.build import build_tenant
    from mailfleet.errors import InvalidData, Problem
    from mailfleet.fsutil import atomic_remove, locked

    s = settings(ctx)
    path = slug_path(s.tenants_dir, slug)
    _refuse_migrating(path, slug)
    tenant, path = _load_one(s.tenants_dir, slug)
    stack = stack_for_tenant(s.stacks_dir, tenant, path)
    state = build_tenant(tenant, stack)
    out("\n".join(deletion_lines(state, stack)))
    if not yes:
        raise InvalidData(problems=[Problem(str(path), "", "not removed: run again with --yes to remove it")])
    with locked(s.tenants_dir):
        if not path.exists():
            raise InvalidData(problems=[Problem(str(path), "", f"no tenant {slug!r} (already removed)")])
        _refuse_migrating(path, slug)
        _os_error_to_problem(atomic_remove, path)
    out(f"Removed {path}. Next: pulumi preview -s {stack.name}, then pulumi up -s {stack.name}")


def _refuse_migrating(path: Path, slug: str) -> None:
    """Refuse (exit 1) when the file's raw ``migration`` block marks a migration in progress."""
    from mailfleet.errors import InvalidData, Problem
    from mailfleet.loader import parse_yaml, tenant_from_data
    from mailfleet.tenantfile import migration_in_progress, migration_phase

    try:
        data = parse_yaml(path.read_bytes())
    except Exception:
        return  # not readable as YAML: loading the tenant reports the problem
    if isinstance(data, dict) and migration_in_progress(data.get("migration")):
        tenant, _ = tenant_from_data(str(path), data, None)
        block = tenant.migration if tenant is not None else data.get("migration")
        phase = migration_phase(block) or "unknown"
        raise InvalidData(
            problems=[
                Problem(
                    str(path),
                    "migration",
                    f"tenant {slug!r} is being migrated (phase {phase!r}); "
                    "finish or abort the migration before removing it",
                )
            ]
        )


def register(app: typer.Typer) -> None:
    """Register ``tenant ...``, ``validate`` and ``records`` on the root app."""
    from mailfleet.cli import records_cmd, validate_cmd

    app.add_typer(tenant_app, name="tenant")
    validate_cmd.register(app)
    records_cmd.register(app)
