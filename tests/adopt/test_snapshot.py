"""mailfleet.adopt.snapshot: the block made from what was found, and drift (no DNS here).

Expected values are written out from the customer's records, not computed with the code
under test.
"""

from __future__ import annotations

from typing import Any

from mailfleet.adopt.live import LiveRRset
from mailfleet.adopt.snapshot import Published, drift, published_by, refusals, same, snapshot
from mailfleet.desired.build import build_tenant
from mailfleet.model.adoption import DnsAdoption
from mailfleet.model.stack import StackConfig
from tests.model.data import CF_ZONE, R53_ZONE, tenant, way2

SPF = "v=spf1 include:_spf.google.com ~all"
SPF2 = "v=spf1 include:_spf.google.com include:sendgrid.net ~all"
MERGED = "v=spf1 include:_spf.google.com include:mailgun.org ~all"
VERIFY = "google-site-verification=abc"
VERIFY2 = "facebook-domain-verification=xyz"
DMARC = "v=DMARC1; p=none; rua=mailto:d@acme.no"
DMARC_MERGED = "v=DMARC1; p=none; rua=mailto:d@acme.no,mailto:dmarc-reports@mail.example.eu"
TAKEN = "2026-12-01T09:30:00Z"


def rr(name: str, values: tuple[str, ...], ids: tuple[str, ...] = (), type_: str = "TXT") -> LiveRRset:
    return LiveRRset(name, type_, ("spf",), "ok" if values else "nxdomain", values, ids)


def block(*records: dict[str, Any]) -> DnsAdoption:
    return DnsAdoption.model_validate({"taken_at": TAKEN, "source": "test", "records": list(records)})


def test_values_in_a_stable_order_with_their_ids_and_nothing_for_empty_names() -> None:
    snap = snapshot([rr("acme.no", (VERIFY, SPF), ("id-v", "id-s")), rr("_dmarc.acme.no", ())], "src", TAKEN)
    assert snap.model_dump(mode="json", exclude_none=True) == {
        "taken_at": TAKEN,
        "source": "src",
        "records": [{"name": "acme.no", "type": "TXT", "values": [SPF, VERIFY], "ids": ["id-s", "id-v"]}],
    }


def test_two_spf_or_two_dmarc_records_are_refused() -> None:
    problems = refusals(
        [rr("acme.no", (SPF, SPF2, VERIFY)), rr("_dmarc.acme.no", (DMARC, "v=DMARC1; p=reject"))]
    )
    assert [p.where for p in problems] == ["acme.no TXT", "_dmarc.acme.no TXT"]
    assert (
        problems[0].message.startswith("2 SPF records") and "delete all but one first" in problems[0].message
    )
    assert (
        problems[1].message.startswith("2 DMARC records")
        and "delete all but one first" in problems[1].message
    )
    assert refusals([rr("acme.no", (SPF, VERIFY))]) == []


def test_drift_names_changed_added_and_removed_values() -> None:
    before = block(
        {"name": "acme.no", "type": "TXT", "values": [SPF, VERIFY]},
        {"name": "email.acme.no", "type": "CNAME", "values": ["old.example"]},
        {"name": "_dmarc.acme.no", "type": "TXT", "values": [DMARC]},
    )
    after = block(
        {"name": "acme.no", "type": "TXT", "values": [SPF2, VERIFY2]},
        {"name": "email.acme.no", "type": "CNAME", "values": ["new.example"]},
        {"name": "_dmarc.acme.no", "type": "TXT", "values": [DMARC]},
    )
    assert [d.as_dict() for d in drift(before, after)] == [
        {
            "name": "acme.no",
            "type": "TXT",
            "added": [VERIFY2],
            "removed": [VERIFY],
            "changed": [{"from": SPF, "to": SPF2}],
        },
        {
            "name": "email.acme.no",
            "type": "CNAME",
            "added": [],
            "removed": [],
            "changed": [{"from": "old.example", "to": "new.example"}],
        },
    ]
    gone = block({"name": "acme.no", "type": "TXT", "values": [SPF, VERIFY]})
    assert [d.as_dict()["removed"] for d in drift(before, gone)] == [["old.example"], [DMARC]]
    assert drift(None, after) == []


def test_same_ignores_the_time_and_source_but_not_ids() -> None:
    a = block({"name": "acme.no", "type": "TXT", "values": [SPF], "ids": ["1"]})
    b = DnsAdoption.model_validate({**a.model_dump(), "taken_at": "2027-01-01T00:00:00Z", "source": "other"})
    c = block({"name": "acme.no", "type": "TXT", "values": [SPF], "ids": ["2"]})
    assert same(a, b) and not same(a, c) and not same(None, a)


def _published(data: dict[str, Any], stack: StackConfig) -> dict[tuple[str, str], Published]:
    return published_by(build_tenant(tenant(data), stack).customer_records)


def test_after_pulumi_up_route53_values_map_back_to_the_originals(eu_stack: StackConfig) -> None:
    previous = {
        "taken_at": TAKEN,
        "source": "t",
        "records": [
            {"name": "acme.no", "type": "TXT", "values": [SPF, VERIFY]},
            {"name": "_dmarc.acme.no", "type": "TXT", "values": [DMARC]},
        ],
    }
    data = way2(dns=f"route53:{R53_ZONE}", adopted={"dns": previous})
    prev = DnsAdoption.model_validate(previous)
    published = _published(data, eu_stack)
    live = [
        rr("acme.no", (MERGED, VERIFY)),
        rr("_dmarc.acme.no", (DMARC_MERGED,)),
        rr("mailfleet._domainkey.acme.no", ("v=DKIM1; k=rsa; p=MAILGUNKEY",)),
    ]
    assert same(prev, snapshot(live, "s", TAKEN, prev, published))
    # A value the customer added after the first `pulumi up` is the only drift.
    live[0] = rr("acme.no", (MERGED, VERIFY, VERIFY2))
    new = snapshot(live, "s", TAKEN, prev, published)
    assert [(d.name, d.added, d.removed, d.changed) for d in drift(prev, new)] == [
        ("acme.no", (VERIFY2,), (), ())
    ]


def test_after_pulumi_up_cloudflare_keeps_the_record_ids(eu_stack: StackConfig) -> None:
    previous = {
        "taken_at": TAKEN,
        "source": "t",
        "records": [{"name": "acme.no", "type": "TXT", "values": [SPF, VERIFY], "ids": ["cf-spf", "cf-v"]}],
    }
    data = way2(dns=f"cloudflare:{CF_ZONE}", adopted={"dns": previous})
    prev = DnsAdoption.model_validate(previous)
    live = [rr("acme.no", (MERGED, VERIFY), ("cf-spf", "cf-v"))]
    new = snapshot(live, "s", TAKEN, prev, _published(data, eu_stack))
    assert same(prev, new)
    # Without the stored snapshot (a first adoption) the live values are taken as they are.
    first = snapshot(live, "s", TAKEN)
    assert first.records[0].values == [MERGED, VERIFY]
