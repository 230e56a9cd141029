"""The program under mocks, for a tenant that adopted what existed: import ids, merged values,
``retain_on_delete`` and the fields the provider cannot read back."""

from __future__ import annotations

from typing import Any

from mailfleet.desired.build import build_stack
from mailfleet.model.stack import StackConfig
from mailfleet.model.tenant import Tenant
from tests.components.conftest import TYPES, parse_quoted, run_state
from tests.model.data import CF_ZONE, R53_ZONE, way2

GOOGLE_SPF = "v=spf1 include:_spf.google.com ~all"
VERIFY = "google-site-verification=abc123"
DMARC_REJECT = "v=DMARC1; p=reject; rua=mailto:dmarc@acme.no"
TAKEN = "2026-11-29T20:00:00Z"


def _tenant(host: str, **adopted: Any) -> Tenant:
    data = way2(dns=host)
    data["adopted"] = adopted
    return Tenant.model_validate(data)


def _joined(value: str) -> str:
    """A TXT value as the provider is sent it, joined (quoted chunks, or one plain string)."""
    return "".join(parse_quoted(value)) if value.startswith('"') else value


def _mailgun() -> dict[str, Any]:
    return {
        "taken_at": TAKEN,
        "region": "eu",
        "domains": ["acme.no", "acme.mail.example.eu"],
        "routes": {"support@acme.mail.example.eu": "5f0c"},
        "credentials": ["crm"],
    }


def _dns(*records: dict[str, Any]) -> dict[str, Any]:
    return {"taken_at": TAKEN, "source": "test", "records": list(records)}


def test_route53_records_are_imported_merged_and_retained(stack_configs: dict[str, StackConfig]) -> None:
    config = stack_configs["eu"]
    tenant = _tenant(
        f"route53:{R53_ZONE}",
        dns=_dns(
            {"name": "acme.no", "type": "TXT", "values": [GOOGLE_SPF, VERIFY]},
            {"name": "_dmarc.acme.no", "type": "TXT", "values": [DMARC_REJECT]},
        ),
    )
    monitor = run_state(config, build_stack(config, [tenant]))
    regs = monitor.by_name()
    apex = regs["acme-dns-acme.no-TXT"]
    assert apex.import_id == f"{R53_ZONE}_acme.no_TXT"
    assert apex.retain_on_delete is True
    joined = [_joined(v) for v in apex.plain("records")]
    assert joined == ["v=spf1 include:_spf.google.com include:mailgun.org ~all", VERIFY]
    dmarc = regs["acme-dns-_dmarc.acme.no-TXT"]
    assert dmarc.import_id == f"{R53_ZONE}__dmarc.acme.no_TXT" and dmarc.retain_on_delete is True
    assert _joined(dmarc.plain("records")[0]).startswith("v=DMARC1; p=reject; rua=mailto:dmarc@acme.no,")
    # What was not there before is created, and Pulumi may delete it again.
    dkim = regs["acme-dns-mailfleet._domainkey.acme.no-TXT"]
    assert dkim.import_id == "" and dkim.retain_on_delete is False


def test_cloudflare_imports_the_spf_record_by_id(stack_configs: dict[str, StackConfig]) -> None:
    config = stack_configs["eu"]
    tenant = _tenant(
        f"cloudflare:{CF_ZONE}",
        dns=_dns({"name": "acme.no", "type": "TXT", "values": [VERIFY, GOOGLE_SPF], "ids": ["v1", "s1"]}),
    )
    monitor = run_state(config, build_stack(config, [tenant]))
    spf = monitor.by_name()["acme-dns-acme.no-TXT"]
    assert spf.import_id == f"{CF_ZONE}/s1" and spf.retain_on_delete is True
    assert _joined(spf.plain("content")) == "v=spf1 include:_spf.google.com include:mailgun.org ~all"
    # The verification record is the customer's: not in the program at all.
    contents = [_joined(r.plain("content")) for r in monitor.of_type(TYPES["cf"]) if r.plain("type") == "TXT"]
    assert VERIFY not in contents


def test_mailgun_resources_are_imported_with_what_read_cannot_see_ignored(
    stack_configs: dict[str, StackConfig],
) -> None:
    config = stack_configs["eu"]
    monitor = run_state(config, build_stack(config, [_tenant(f"route53:{R53_ZONE}", mailgun=_mailgun())]))
    domains = {r.plain("name"): r for r in monitor.of_type(TYPES["domain"])}
    for name in ("acme.no", "acme.mail.example.eu"):
        d = domains[name]
        assert d.import_id == f"eu:{name}"
        assert d.retain_on_delete is True and d.protect is True
        assert set(d.ignore_changes) == {"dkimSelector", "dkimKeySize", "forceDkimAuthority"}
    routes = monitor.of_type(TYPES["route"])
    by_expr = {r.plain("expression"): r for r in routes}
    adopted_route = next(r for e, r in by_expr.items() if "support@acme" in e)
    assert adopted_route.import_id == "eu:5f0c" and adopted_route.retain_on_delete
    hooks = monitor.of_type(TYPES["webhook"])
    assert {h.import_id for h in hooks} == {f"eu:{h.plain('domain')}:{h.plain('kind')}" for h in hooks}
    (cred,) = monitor.of_type(TYPES["credential"])
    assert cred.import_id == "eu:crm@acme.no" and cred.retain_on_delete
    assert "password" in cred.ignore_changes
    # Its password is not ours to publish: no SSM parameter holds one.
    ssm_names = [r.plain("name") for r in monitor.of_type(TYPES["ssm"])]
    assert not any("credential" in str(n) for n in ssm_names), ssm_names


def test_a_tenant_with_nothing_adopted_imports_and_retains_nothing(
    stack_configs: dict[str, StackConfig],
) -> None:
    config = stack_configs["eu"]
    tenant = Tenant.model_validate(way2(dns=f"route53:{R53_ZONE}"))
    monitor = run_state(config, build_stack(config, [tenant]))
    custom = [r for r in monitor.registrations if r.custom and not r.type.startswith("pulumi:providers:")]
    assert custom and all(r.import_id == "" and not r.retain_on_delete for r in custom)
