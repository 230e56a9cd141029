"""Dedicated Mailgun IPs: the SPF lists ip4/ip6 terms instead of include:mailgun.org.

Expected records are written out from RFC 7208 (ip4/ip6 mechanisms cost no DNS lookup,
§4.6.4), not computed with the code under test.
"""

from __future__ import annotations

from typing import Any

import pytest

from mailfleet.desired.build import build_tenant
from mailfleet.desired.rules import tenant_problems
from mailfleet.model.stack import StackConfig
from mailfleet.records import spf
from tests.desired.test_adopt import adopted
from tests.model.data import R53_ZONE, tenant, way2

IPS = {"ips": ["203.0.113.7", "2001:db8::25"]}


def spf_values(data: dict[str, Any], stack: StackConfig) -> dict[str, tuple[str, ...]]:
    state = build_tenant(tenant(data), stack)
    return {r.name: r.values for r in state.records if r.purpose == "spf"}


def test_tenant_ips_replace_mailgun_include_everywhere(eu_stack: StackConfig) -> None:
    data = way2(includes=["sendgrid.net"])
    data["mailgun_ips"] = IPS
    values = spf_values(data, eu_stack)
    assert values["acme.no"] == ("v=spf1 ip4:203.0.113.7 ip6:2001:db8::25 include:sendgrid.net ~all",)
    platform = next(v for n, v in values.items() if n != "acme.no")
    assert platform == ("v=spf1 ip4:203.0.113.7 ip6:2001:db8::25 ~all",)
    state = build_tenant(tenant(data), eu_stack)
    assert state.sending_ips is not None and state.sending_ips.source == "tenant"
    assert state.as_dict()["sending_ips"] == {
        "ips": ["203.0.113.7", "2001:db8::25"],
        "pool": None,
        "source": "tenant",
    }


def test_stack_ips_apply_unless_the_tenant_names_its_own(eu_stack: StackConfig) -> None:
    from mailfleet.model.ips import MailgunIps

    stack = eu_stack.model_copy(update={"mailgun_ips": MailgunIps(ips=["198.51.100.77"], pool="pool_1")})
    values = spf_values(way2(), stack)
    assert values["acme.no"] == ("v=spf1 ip4:198.51.100.77 ~all",)
    own = way2()
    own["mailgun_ips"] = {"ips": ["203.0.113.7"]}
    assert spf_values(own, stack)["acme.no"] == ("v=spf1 ip4:203.0.113.7 ~all",)
    state = build_tenant(tenant(way2()), stack)
    assert state.sending_ips is not None and (state.sending_ips.pool, state.sending_ips.source) == (
        "pool_1",
        "stack",
    )
    # without dedicated IPs nothing changes
    assert spf_values(way2(), eu_stack)["acme.no"] == ("v=spf1 include:mailgun.org ~all",)
    assert "sending_ips" not in build_tenant(tenant(way2()), eu_stack).as_dict()


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        (
            "v=spf1 include:mailgun.org include:_spf.google.com -all",
            "v=spf1 include:_spf.google.com ip4:203.0.113.7 ip6:2001:db8::25 -all",
        ),
        (
            "v=spf1 mx ?include:MAILGUN.ORG ~all",
            "v=spf1 mx ip4:203.0.113.7 ip6:2001:db8::25 ~all",
        ),
        (
            "v=spf1 ip4:203.0.113.7 include:_spf.google.com ~all",
            "v=spf1 ip4:203.0.113.7 include:_spf.google.com ip6:2001:db8::25 ~all",
        ),
    ],
)
def test_adopted_record_keeps_the_customers_part_and_loses_mailgun_include(
    eu_stack: StackConfig, existing: str, expected: str
) -> None:
    data = way2(dns=f"route53:{R53_ZONE}")
    data["mailgun_ips"] = IPS
    data["adopted"] = adopted({"name": "acme.no", "type": "TXT", "values": [existing]})
    values = spf_values(data, eu_stack)["acme.no"]
    assert values == (expected,)
    assert "mailgun.org" not in values[0].lower()
    assert tenant_problems(tenant(data), "acme.yaml", [eu_stack]) == []


def test_lookups_counted_as_before() -> None:
    # mailgun.org costs 5 lookups; ip terms cost none (RFC 7208 §4.6.4)
    assert spf.merge("mailgun.org", ["_spf.google.com", "sendgrid.net"]).lookups == 5 + 4 + 1
    over = ["_spf.google.com", "spf.protection.outlook.com"]  # 5 + 4 + 2 = 11 with Mailgun's include
    with pytest.raises(spf.SpfTooManyLookups):
        spf.merge("mailgun.org", over)
    dedicated = spf.merge("mailgun.org", over, ip_terms=("ip4:203.0.113.7",))
    assert dedicated.lookups == 6
    assert (
        dedicated.value
        == "v=spf1 ip4:203.0.113.7 include:_spf.google.com include:spf.protection.outlook.com ~all"
    )
    assert spf.record_lookups(dedicated.value) == 6
