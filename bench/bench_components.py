"""The components' overhead: the real Pulumi program vs the same resources registered flat.

Both sides run under the same ``pulumi.runtime`` mocks (``components.mocked``, recording
off), for 500 generated tenants split over the ``eu`` and ``us`` stacks:

- measured: the program as ``pulumi up`` runs it after loading the tenant files: build each
  stack's desired state (the model) and ``declare_stack`` (providers, one ``TenantMail``
  component per tenant, exports);
- floor: a loop creating the same pulumi_mailgun / pulumi_aws / pulumi_cloudflare resources
  directly (same names, inputs, providers and options, the DKIM value picked from the
  domain's record set the same way), no component, no model; its inputs are precomputed
  outside the timing.

Target: measured/floor <= 1.25. ``python bench/run.py components``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

import pulumi  # noqa: E402
import pulumi_aws as aws  # noqa: E402
import pulumi_cloudflare as cloudflare  # noqa: E402
import pulumi_mailgun as mailgun  # noqa: E402
from common import Result  # noqa: E402
from gen import generate  # noqa: E402

from components.mocked import run_program  # noqa: E402
from components.program import declare_stack  # noqa: E402
from components.tenant_mail import credential_parameter  # noqa: E402
from mailfleet.desired.build import build_stack  # noqa: E402
from mailfleet.model.load import load_stack, load_tenants  # noqa: E402
from mailfleet.records import txt  # noqa: E402

TENANTS = int(os.environ.get("BENCH_COMPONENTS_TENANTS", "500"))
REPEAT = int(os.environ.get("BENCH_COMPONENTS_REPEAT", "2"))
TARGET = 1.25
SECRETS: dict[str, Any] = {
    "mailgun:apiKey": "bench-key",
    "cloudflare:apiToken": "bench-token",
    "mailfleet:credentialSeed": "bench-seed",
}


def _flat_specs(state: Any) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(kind, name, kwargs, options) of every resource, computed before timing."""
    specs: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = []
    for t in state.tenants:
        slug = t.slug
        for d in t.domains:
            specs.append(
                (
                    "domain",
                    f"{slug}-domain-{d.name}",
                    dict(
                        name=d.name,
                        region=d.region,
                        dkim_selector=d.dkim_selector,
                        dkim_key_size=d.dkim_key_size,
                        spam_action=d.spam_action,
                        wildcard=d.wildcard,
                        force_dkim_authority=d.force_dkim_authority,
                        open_tracking=d.open_tracking,
                        click_tracking=d.click_tracking,
                        web_scheme=d.web_scheme,
                    ),
                    {"protect": True, "delete_before_replace": True},
                )
            )
        for r in t.routes:
            specs.append(
                (
                    "route",
                    f"{slug}-route-{r.address}",
                    dict(
                        priority=r.priority,
                        description=r.description,
                        expression=r.expression,
                        actions=list(r.actions),
                        region=r.region,
                    ),
                    {},
                )
            )
        for w in t.webhooks:
            specs.append(
                (
                    "webhook",
                    f"{slug}-webhook-{w.domain}-{w.kind}",
                    dict(domain=w.domain, kind=w.kind, urls=list(w.urls), region=w.region),
                    {"depends_on_domain": f"{slug}-domain-{w.domain}"},
                )
            )
        out = t.outbound
        if out is not None and "mailgun" in (out.service.via, out.marketing.via):
            name = out.sending_domain
            specs.append(
                (
                    "credential",
                    f"{slug}-credential-{name}",
                    dict(domain=name, login="crm", region=t.region),
                    {"depends_on_domain": f"{slug}-domain-{name}", "seed_for": name},
                )
            )
            specs.append(
                (
                    "ssm",
                    f"{slug}-credential-param-{name}",
                    dict(
                        name=credential_parameter(slug, name),
                        type="SecureString",
                        description=f"mailfleet {slug}: Mailgun SMTP password of crm@{name}",
                    ),
                    {"depends_on_credential": f"{slug}-credential-{name}", "seed_for": name},
                )
            )
        for rec in t.records:
            base = f"{slug}-dns-{rec.name}-{rec.type}"
            dkim = f"{slug}-domain-{rec.mailgun_domain}" if rec.from_mailgun else None
            if rec.provider == "route53":
                values = [txt.render(v, "route53") if rec.type == "TXT" else v for v in rec.values]
                specs.append(
                    (
                        "r53",
                        base,
                        dict(zone_id=rec.zone_id, name=rec.name, type=rec.type, ttl=rec.ttl, records=values),
                        {"dkim_from": dkim, "render": "route53"},
                    )
                )
            elif rec.provider == "cloudflare":
                values = list(rec.values) or [None]
                for i, v in enumerate(values):
                    name = base if len(values) == 1 else f"{base}-{v.split()[-1] if rec.type == 'MX' else i}"
                    kw: dict[str, Any] = dict(zone_id=rec.zone_id, name=rec.name, type=rec.type, ttl=rec.ttl)
                    if rec.type == "TXT":
                        kw["content"] = txt.render(v, "cloudflare") if v is not None else None
                    elif rec.type == "MX":
                        prio, host = v.split()
                        kw.update(priority=float(prio), content=host)
                    else:
                        kw.update(content=v, proxied=False)
                    specs.append(("cf", name, kw, {"dkim_from": dkim, "render": "cloudflare"}))
        if out is not None:
            specs.append(
                (
                    "ssm",
                    f"{slug}-outbound",
                    dict(
                        name=out.parameter,
                        type="String",
                        insecure_value=json.dumps(out.value, sort_keys=True, separators=(",", ":")),
                        description=f"mailfleet {slug}: how the CRM sends this tenant's mail",
                    ),
                    {},
                )
            )
            if out.secret_parameter is not None:
                specs.append(
                    (
                        "ssm",
                        f"{slug}-smtp-password",
                        dict(
                            name=out.secret_parameter,
                            type="SecureString",
                            description=f"mailfleet {slug}: password of the tenant's own SMTP server",
                        ),
                        {"smtp_of": slug},
                    )
                )
    return specs


def _flat_program(
    config: Any, specs: list[tuple[str, str, dict[str, Any], dict[str, Any]]]
) -> Callable[[], None]:
    def program() -> None:
        cfg = pulumi.Config("mailfleet")
        seed = cfg.require_secret("credentialSeed")
        smtp = cfg.get_object("smtpPasswords") or {}
        mg = mailgun.Provider(
            f"mailgun-{config.region}", api_key=pulumi.Config("mailgun").require_secret("apiKey")
        )
        aw = aws.Provider(f"aws-{config.aws_region}", region=config.aws_region)
        cf = None
        if any(kind == "cf" for kind, *_ in specs):
            cf = cloudflare.Provider(
                "cloudflare", api_token=pulumi.Config("cloudflare").require_secret("apiToken")
            )
        made: dict[str, Any] = {}

        def password(domain: str) -> Any:
            return pulumi.Output.secret(
                seed.apply(lambda s: hmac.new(s.encode(), domain.encode(), hashlib.sha256).hexdigest()[:32])
            )

        def dkim(domain_res: Any, name: str, render: str) -> Any:
            return domain_res.sending_records_sets.apply(
                lambda sets: txt.render(
                    next(s.value for s in sets if s.name == name and s.record_type == "TXT"), render
                )
            )

        for kind, name, kw, extra in specs:
            if kind == "domain":
                made[name] = mailgun.Domain(
                    name,
                    **kw,
                    opts=pulumi.ResourceOptions(provider=mg, protect=True, delete_before_replace=True),
                )
            elif kind == "route":
                mailgun.Route(name, **kw, opts=pulumi.ResourceOptions(provider=mg))
            elif kind == "webhook":
                mailgun.Webhook(
                    name,
                    **kw,
                    opts=pulumi.ResourceOptions(provider=mg, depends_on=[made[extra["depends_on_domain"]]]),
                )
            elif kind == "credential":
                made[name] = mailgun.DomainCredential(
                    name,
                    **kw,
                    password=password(extra["seed_for"]),
                    opts=pulumi.ResourceOptions(provider=mg, depends_on=[made[extra["depends_on_domain"]]]),
                )
            elif kind == "ssm":
                deps = [made[extra["depends_on_credential"]]] if "depends_on_credential" in extra else None
                value: dict[str, Any] = {}
                if "seed_for" in extra:
                    value["value"] = password(extra["seed_for"])
                elif "smtp_of" in extra:
                    value["value"] = pulumi.Output.secret(smtp[extra["smtp_of"]])
                aws.ssm.Parameter(
                    name, **kw, **value, opts=pulumi.ResourceOptions(provider=aw, depends_on=deps)
                )
            elif kind == "r53":
                if extra["dkim_from"]:
                    kw = {**kw, "records": [dkim(made[extra["dkim_from"]], kw["name"], "route53")]}
                aws.route53.Record(name, **kw, opts=pulumi.ResourceOptions(provider=aw))
            elif kind == "cf":
                if extra["dkim_from"]:
                    kw = {**kw, "content": dkim(made[extra["dkim_from"]], kw["name"], "cloudflare")}
                cloudflare.DnsRecord(name, **kw, opts=pulumi.ResourceOptions(provider=cf))

    return program


def run() -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp), TENANTS)
        loaded = load_tenants(Path(tmp))
    loaded.raise_for_problems()
    tenants = loaded.tenants
    stacks = [load_stack(REPO, name) for name in ("eu", "us")]
    smtp = {slug: f"pw-{slug}" for slug, t in tenants.items() if t.uses_smtp}
    secrets = {**SECRETS, "mailfleet:smtpPasswords": smtp}
    flat_specs = {s.name: _flat_specs(build_stack(s, tenants)) for s in stacks}
    resources = sum(len(v) for v in flat_specs.values())

    def real() -> int:
        count = 0
        for s in stacks:
            monitor = run_program(
                lambda s=s: declare_stack(s, build_stack(s, tenants)),
                stack=s.name,
                config=secrets,
                secret_keys=list(secrets),
                record=False,
            )
            count += len(monitor.resources)
        return count

    def flat() -> int:
        count = 0
        for s in stacks:
            monitor = run_program(
                _flat_program(s, flat_specs[s.name]),
                stack=s.name,
                config=secrets,
                secret_keys=list(secrets),
                record=False,
            )
            count += len(monitor.resources)
        return count

    real_times: list[float] = []
    flat_times: list[float] = []
    real_cpu: list[float] = []
    flat_cpu: list[float] = []
    counts: dict[str, int] = {}
    for _ in range(REPEAT):  # interleaved: both sides see the same machine noise
        for label, fn, times, cpu in (
            ("flat", flat, flat_times, flat_cpu),
            ("real", real, real_times, real_cpu),
        ):
            start, start_cpu = time.perf_counter(), time.process_time()
            counts[label] = fn()
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    return [
        Result(
            name=f"pulumi program under mocks, {TENANTS} tenants (eu+us)",
            measured=min(real_times),
            baseline=min(flat_times),
            baseline_name="same resources registered flat",
            target=TARGET,
            notes={
                "resources": resources,
                "registered_real": counts["real"],
                "registered_flat": counts["flat"],
                "cpu_ratio": f"{min(real_cpu) / min(flat_cpu):.2f}",
            },
        )
    ]


if __name__ == "__main__":
    for r in run():
        print(r.line())
