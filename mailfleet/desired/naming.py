"""The Pulumi names of what a stack declares: one place, read by the components and migrate.

Every tenant is one ``TenantMail`` component named after its slug; every resource of the
tenant is its child, named ``<slug>-<kind>-...`` so that names never collide across tenants.
Code that looks for a tenant's resources in a stack's state selects them by their parent
component's URN (``is_tenant_child``), never by a name prefix: ``acme-dns-`` is also the
prefix of a tenant called ``acme-dns-x``.
"""

from __future__ import annotations

from mailfleet.desired.state import DnsRecord, MailgunDomain, MailgunRoute, MailgunWebhook

COMPONENT_TYPE = "mailfleet:index:TenantMail"
CREDENTIAL_LOGIN = "crm"  # the CRM's Mailgun SMTP login on a tenant's sending domain

# Pulumi type tokens of the children that migrate moves or looks for.
TYPE_MAILGUN_DOMAIN = "mailgun:index/domain:Domain"
TYPE_ROUTE53_RECORD = "aws:route53/record:Record"
TYPE_CLOUDFLARE_RECORD = "cloudflare:index/dnsRecord:DnsRecord"
DNS_TYPES = frozenset({TYPE_ROUTE53_RECORD, TYPE_CLOUDFLARE_RECORD})


def component(slug: str) -> str:
    return slug


def domain(d: MailgunDomain) -> str:
    return f"{d.tenant}-domain-{d.name}"


def route(r: MailgunRoute) -> str:
    return f"{r.tenant}-route-{r.address}"


def webhook(w: MailgunWebhook) -> str:
    return f"{w.tenant}-webhook-{w.domain}-{w.kind}"


def credential(slug: str, domain_name: str) -> str:
    return f"{slug}-credential-{domain_name}"


def credential_parameter(slug: str, domain_name: str) -> str:
    return f"{slug}-credential-param-{domain_name}"


def dns_record(r: DnsRecord, label: str | None = None) -> str:
    """One RRset (Route53), or with ``label`` one value of a multi-value RRset (Cloudflare)."""
    base = f"{r.tenant}-dns-{r.name}-{r.type}"
    return base if label is None else f"{base}-{label}"


def outbound(slug: str) -> str:
    return f"{slug}-outbound"


def smtp_password(slug: str) -> str:
    return f"{slug}-smtp-password"


def is_tenant_child(parent_urn: str, slug: str) -> bool:
    """Whether a resource whose parent is ``parent_urn`` belongs to tenant ``slug``: the parent
    is the tenant's component (``urn:pulumi:STACK::PROJECT::[PARENT-TYPES$]TYPE::NAME``)."""
    qualified, sep, name = parent_urn.rpartition("::")
    type_ = qualified.rpartition("::")[2].rpartition("$")[2]
    return bool(sep) and name == component(slug) and type_ == COMPONENT_TYPE
