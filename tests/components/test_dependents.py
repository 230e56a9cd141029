"""A Mailgun domain's webhooks and SMTP login take the domain as an input from the Domain
resource, so a delete-before-replace of the domain re-creates them (Pulumi re-creates a
dependent only when it takes an input from the replaced resource; a ``depends_on`` edge alone
does not count, and Mailgun deletes a domain's webhooks and credentials together with it)."""

from __future__ import annotations

from mailfleet.desired.build import build_stack
from mailfleet.model.stack import StackConfig
from mailfleet.model.tenant import Tenant
from tests.components.conftest import TYPES, run_state
from tests.model.data import R53_ZONE, way2


def test_webhooks_and_the_login_take_the_domain_name_as_an_input(
    stack_configs: dict[str, StackConfig],
) -> None:
    config = stack_configs["eu"]
    tenant = Tenant.model_validate(way2(dns=f"route53:{R53_ZONE}"))
    monitor = run_state(config, build_stack(config, [tenant]))
    domain_urn = {r.plain("name"): r.urn for r in monitor.of_type(TYPES["domain"])}
    hooks = monitor.of_type(TYPES["webhook"])
    assert hooks
    for hook in hooks:
        assert hook.property_dependencies.get("domain") == [domain_urn[hook.plain("domain")]], hook.name
    (cred,) = monitor.of_type(TYPES["credential"])
    assert cred.property_dependencies.get("domain") == [domain_urn["acme.no"]]
