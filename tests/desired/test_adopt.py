"""mailfleet.desired.adopt: the desired state owns only Mailgun's part of what already exists.

Expected values are written out here from the customer's records and RFC 7208/7489, not
computed with the code under test.
"""

from __future__ import annotations

from typing import Any

import pytest

from mailfleet.desired.build import build_tenant
from mailfleet.desired.rules import tenant_problems
from mailfleet.model.stack import StackConfig
from tests.model.data import CF_ZONE, R53_ZONE, tenant, way2

GOOGLE_SPF = "v=spf1 include:_spf.google.com ~all"
VERIFY = "google-site-verification=abc123"
DMARC_NONE = "v=DMARC1; p=none; rua=mailto:dmarc@acme.no; fo=1"
TAKEN = "2026-11-29T20:00:00Z"


def adopted(
    *records: dict[str, Any], mailgun: dict[str, Any] | None = None, release: bool = False
) -> dict[str, Any]:
    block: dict[str, Any] = {"dns": {"taken_at": TAKEN, "source": "test", "records": list(records)}}
    if mailgun is not None:
        block["mailgun"] = mailgun
    if release:
        block["release"] = True
    return block


def _records(data: dict[str, Any], stack: StackConfig) -> dict[str, Any]:
    state = build_tenant(tenant(data), stack)
    return {(r.name, r.type): r for r in state.records}


def test_route53_apex_rrset_carries_the_other_values_and_merges_spf(eu_stack: StackConfig) -> None:
    data = way2(dns=f"route53:{R53_ZONE}", includes=["sendgrid.net"])
    data["adopted"] = adopted({"name": "acme.no", "type": "TXT", "values": [GOOGLE_SPF, VERIFY]})
    spf = _records(data, eu_stack)[("acme.no", "TXT")]
    assert spf.values == (
        "v=spf1 include:_spf.google.com include:mailgun.org include:sendgrid.net ~all",
        VERIFY,
    )
    assert spf.adopted is not None
    assert spf.adopted.import_id == f"{R53_ZONE}_acme.no_TXT"
    assert spf.adopted.original == (GOOGLE_SPF, VERIFY)


def test_cloudflare_imports_only_the_spf_record_by_its_id(eu_stack: StackConfig) -> None:
    data = way2(dns=f"cloudflare:{CF_ZONE}")
    data["adopted"] = adopted(
        {"name": "acme.no", "type": "TXT", "values": [VERIFY, GOOGLE_SPF], "ids": ["id-verify", "id-spf"]},
        {"name": "_dmarc.acme.no", "type": "TXT", "values": [DMARC_NONE], "ids": ["id-dmarc"]},
    )
    records = _records(data, eu_stack)
    spf = records[("acme.no", "TXT")]
    assert spf.values == ("v=spf1 include:_spf.google.com include:mailgun.org ~all",)  # never a 2nd v=spf1
    assert spf.adopted is not None and spf.adopted.import_id == f"{CF_ZONE}/id-spf"
    assert spf.adopted.original == (GOOGLE_SPF,)
    dmarc = records[("_dmarc.acme.no", "TXT")]
    assert dmarc.adopted is not None and dmarc.adopted.import_id == f"{CF_ZONE}/id-dmarc"


def test_cloudflare_without_an_spf_record_creates_ours_beside_the_others(eu_stack: StackConfig) -> None:
    data = way2(dns=f"cloudflare:{CF_ZONE}")
    data["adopted"] = adopted({"name": "acme.no", "type": "TXT", "values": [VERIFY], "ids": ["id-verify"]})
    spf = _records(data, eu_stack)[("acme.no", "TXT")]
    assert spf.values == ("v=spf1 include:mailgun.org ~all",)
    assert spf.adopted is None  # a new record; the verification record stays the customer's


def test_dmarc_keeps_the_customers_policy_and_report_addresses(eu_stack: StackConfig) -> None:
    data = way2(dns=f"route53:{R53_ZONE}")
    data["adopted"] = adopted({"name": "_dmarc.acme.no", "type": "TXT", "values": [DMARC_NONE]})
    dmarc = _records(data, eu_stack)[("_dmarc.acme.no", "TXT")]
    assert dmarc.values == (f"v=DMARC1; p=none; rua=mailto:dmarc@acme.no,{eu_stack.dmarc_rua}; fo=1",)


def test_a_policy_named_in_the_tenant_file_wins(eu_stack: StackConfig) -> None:
    data = way2(dns=f"route53:{R53_ZONE}")
    data["dmarc"] = {"policy": "reject"}
    data["adopted"] = adopted({"name": "_dmarc.acme.no", "type": "TXT", "values": [DMARC_NONE]})
    dmarc = _records(data, eu_stack)[("_dmarc.acme.no", "TXT")]
    assert dmarc.values[0].startswith("v=DMARC1; p=reject; rua=mailto:dmarc@acme.no,")


def test_no_adopted_dmarc_record_means_the_default_policy(eu_stack: StackConfig) -> None:
    dmarc = _records(way2(dns=f"route53:{R53_ZONE}"), eu_stack)[("_dmarc.acme.no", "TXT")]
    assert dmarc.values == (f"v=DMARC1; p=quarantine; rua={eu_stack.dmarc_rua}",)
    assert dmarc.adopted is None


def test_manual_dns_keeps_what_to_restore_and_imports_nothing(eu_stack: StackConfig) -> None:
    data = way2()  # manual DNS
    data["adopted"] = adopted({"name": "acme.no", "type": "TXT", "values": [GOOGLE_SPF, VERIFY]})
    spf = _records(data, eu_stack)[("acme.no", "TXT")]
    assert spf.values == ("v=spf1 include:_spf.google.com include:mailgun.org ~all",)
    assert spf.adopted is not None and spf.adopted.import_id is None
    assert spf.adopted.original == (GOOGLE_SPF,)


def test_release_declares_only_what_was_adopted_at_its_original_values(eu_stack: StackConfig) -> None:
    data = way2(dns=f"route53:{R53_ZONE}", tracking=True)
    data["adopted"] = adopted(
        {"name": "acme.no", "type": "TXT", "values": [GOOGLE_SPF, VERIFY]},
        {"name": "_dmarc.acme.no", "type": "TXT", "values": [DMARC_NONE]},
        release=True,
    )
    state = build_tenant(tenant(data), eu_stack)
    assert {(r.name, r.type): r.values for r in state.records} == {
        ("acme.no", "TXT"): (GOOGLE_SPF, VERIFY),
        ("_dmarc.acme.no", "TXT"): (DMARC_NONE,),
    }
    assert state.domains == [] and state.routes == [] and state.webhooks == [] and state.outbound is None


def test_mailgun_items_get_the_providers_import_ids(eu_stack: StackConfig) -> None:
    data = way2(dns=f"route53:{R53_ZONE}")
    data["adopted"] = {
        "mailgun": {
            "taken_at": TAKEN,
            "region": "eu",
            "domains": ["acme.no", "acme.mail.example.eu"],
            "routes": {"support@acme.mail.example.eu": "r-1"},
            "credentials": ["crm"],
        }
    }
    state = build_tenant(tenant(data), eu_stack)
    assert {d.name: d.adopted.import_id for d in state.domains if d.adopted} == {
        "acme.no": "eu:acme.no",
        "acme.mail.example.eu": "eu:acme.mail.example.eu",
    }
    assert [(r.address, r.adopted.import_id if r.adopted else None) for r in state.routes] == [
        ("support@acme.mail.example.eu", "eu:r-1")
    ]
    assert {w.adopted.import_id for w in state.webhooks if w.adopted} >= {
        "eu:acme.no:delivered",
        "eu:acme.mail.example.eu:permanent_fail",
    }
    assert state.credential_adopted is not None
    assert state.credential_adopted.import_id == "eu:crm@acme.no"


def test_an_adopted_item_of_another_region_is_not_imported(eu_stack: StackConfig) -> None:
    data = way2(dns=f"route53:{R53_ZONE}")
    data["adopted"] = {"mailgun": {"taken_at": TAKEN, "region": "us", "domains": ["acme.no"]}}
    state = build_tenant(tenant(data), eu_stack)
    assert all(d.adopted is None for d in state.domains)


@pytest.mark.parametrize(
    ("customer", "problem"),
    [
        (
            "v=spf1 include:_spf.google.com include:spf.protection.outlook.com a mx ~all",
            "SPF needs 13 DNS lookups",
        ),
        ("v=spf1 a mx ~all", None),
    ],
)
def test_lookups_are_counted_over_the_merged_record(
    eu_stack: StackConfig, customer: str, problem: str | None
) -> None:
    data = way2(dns=f"route53:{R53_ZONE}")
    data["adopted"] = adopted({"name": "acme.no", "type": "TXT", "values": [customer]})
    lines = [str(p) for p in tenant_problems(tenant(data), "tenants/acme.yaml")]
    if problem is None:
        assert lines == []
    else:
        assert len(lines) == 1 and lines[0].startswith(
            "tenants/acme.yaml: adopted.dns: merged with the customer's"
        )
        assert problem in lines[0]
