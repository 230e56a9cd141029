"""Adopt, publish what mailfleet declares, and evaluate SPF and DMARC for real.

The customers' zones (``conftest``, written by hand) are served by Knot. After adopting, the
records the desired state declares are published the way the first ``pulumi up`` (Route53,
Cloudflare) or the customer (manual DNS) would, in a second Knot, and pyspf (through
dnspython pointed at that Knot) evaluates SPF end to end through the include trees: the
customer's own sender still passes, Mailgun passes, a stranger does not.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from mailfleet.desired.build import build_tenant
from mailfleet.manager import Manager
from mailfleet.records.dmarc import tags
from tests.adopt.conftest import (
    CF_ZONE_ID,
    CUSTOMERS,
    GOOGLE_IP,
    GOOGLE_SPF,
    GOOGLE_VERIFY,
    MAILGUN_IP,
    MICROSOFT_IP,
    MICROSOFT_SPF,
    MS_VERIFY,
    R53_ZONE_ID,
    STACK_RUA,
    STRANGER_IP,
    World,
    after_first_up,
    cloudflare_after_up,
    spf_result,
    txt_at,
    zones,
)
from tests.check.knot import KnotServer

pytestmark = pytest.mark.knot  # every test here reads a real Knot server

ADOPTED_AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
LATER = datetime(2026, 12, 8, 9, 30, tzinfo=UTC)
SLUGS = {"gsuite": "gsuite.no", "office": "office.no", "flare": "flare.no"}


def _dmarc(name: str, ns: str) -> dict[str, str]:
    values = [v for v in txt_at(name, ns) if v.startswith("v=DMARC1")]
    assert len(values) == 1, values
    return dict(tags(values[0]))


def test_adopted_then_published_every_sender_passes_and_strangers_do_not(
    world: World, cloudflare, tmp_path: Path
) -> None:
    fake, _ids = cloudflare
    api = Manager(world.tenants, world.project)
    for slug in SLUGS:
        assert api.adopt_dns(slug, world.ns, clock=lambda: ADOPTED_AT).status == "written"

    # Before mailfleet publishes anything, Mailgun is not authorised anywhere.
    for domain in SLUGS.values():
        assert spf_result(MAILGUN_IP, domain, world.ns) in ("softfail", "fail")
    assert spf_result(GOOGLE_IP, "gsuite.no", world.ns) == "pass"

    states = {slug: api.records(slug).state for slug in SLUGS}
    published = {
        domain: after_first_up(CUSTOMERS[domain], states[slug].customer_records)
        for slug, domain in SLUGS.items()
    }
    cloudflare_after_up(fake, states["flare"].customer_records)

    with KnotServer(tmp_path / "knot-after-up", zones(published)) as knot:
        ns = knot.nameserver
        cases = [
            ("gsuite.no", GOOGLE_IP, "softfail"),
            ("office.no", MICROSOFT_IP, "fail"),
            ("flare.no", GOOGLE_IP, "softfail"),
        ]
        for domain, own_sender, stranger in cases:
            assert spf_result(own_sender, domain, ns) == "pass", domain
            assert spf_result(MAILGUN_IP, domain, ns) == "pass", domain
            assert spf_result(STRANGER_IP, domain, ns) == stranger, domain
            assert sum(v.lower().startswith("v=spf1") for v in txt_at(domain, ns)) == 1, domain

        # The customers' policies stay; both report addresses are there.
        gsuite = _dmarc("_dmarc.gsuite.no", ns)
        assert gsuite["p"] == "none"
        assert set(gsuite["rua"].split(",")) == {"mailto:dmarc@gsuite.no", STACK_RUA}
        office = _dmarc("_dmarc.office.no", ns)
        assert office["p"] == "reject" and office["fo"] == "1"
        assert set(office["rua"].split(",")) == {"mailto:reports@office.no", STACK_RUA}
        flare = _dmarc("_dmarc.flare.no", ns)
        assert flare["p"] == "none"
        assert set(flare["rua"].split(",")) == {"mailto:postmaster@flare.no", STACK_RUA}

        # Site verifications survive: Route53's RRset carries it, Cloudflare and the customer
        # leave it alone.
        assert GOOGLE_VERIFY in txt_at("gsuite.no", ns)
        assert MS_VERIFY in txt_at("office.no", ns)
        assert GOOGLE_VERIFY in txt_at("flare.no", ns)

        # Adopting again after `pulumi up`: what mailfleet published is recognised as
        # mailfleet's, not recorded as the customer's; nothing drifted, nothing written.
        for slug in SLUGS:
            before = (world.tenants / f"{slug}.yaml").read_bytes()
            again = api.adopt_dns(slug, ns, clock=lambda: LATER)
            assert again.status == "unchanged" and again.drift == (), (slug, again.drift)
            assert (world.tenants / f"{slug}.yaml").read_bytes() == before

    # The snapshot kept the originals, which is what a release restores.
    gsuite_tenant, _ = api.tenant("gsuite")
    assert gsuite_tenant.adopted is not None and gsuite_tenant.adopted.dns is not None
    apex = gsuite_tenant.adopted.dns.find("gsuite.no", "TXT")
    assert apex is not None and apex.values == [GOOGLE_SPF, GOOGLE_VERIFY]
    office_tenant, _ = api.tenant("office")
    assert office_tenant.adopted is not None and office_tenant.adopted.dns is not None
    assert office_tenant.adopted.dns.find("office.no", "TXT").values == [MICROSOFT_SPF, MS_VERIFY]  # type: ignore[union-attr]


def test_route53_apex_rrset_is_imported_whole_and_carries_the_verification(world: World) -> None:
    api = Manager(world.tenants, world.project)
    api.adopt_dns("gsuite", world.ns, clock=lambda: ADOPTED_AT)
    records = {(r.name, r.type): r for r in api.records("gsuite").state.customer_records}
    apex = records[("gsuite.no", "TXT")]
    assert apex.values == ("v=spf1 include:_spf.google.com include:mailgun.org ~all", GOOGLE_VERIFY)
    assert apex.adopted is not None
    assert apex.adopted.import_id == f"{R53_ZONE_ID}_gsuite.no_TXT"
    tracking = records[("email.gsuite.no", "CNAME")]
    assert tracking.values == ("eu.mailgun.org",)
    assert tracking.adopted is not None
    assert tracking.adopted.original == ("links.newsletter-tool.example",)
    # Nothing was at the DKIM name: a new record, nothing imported.
    assert records[("mailfleet._domainkey.gsuite.no", "TXT")].adopted is None


def test_a_policy_the_tenant_names_replaces_the_customers(world: World) -> None:
    api = Manager(world.tenants, world.project)
    api.adopt_dns("office", world.ns, clock=lambda: ADOPTED_AT)
    tenant, _ = api.tenant("office")
    stack = api.stack_for_region("eu")

    def dmarc_of(t) -> dict[str, str]:  # type: ignore[no-untyped-def]
        record = next(r for r in build_tenant(t, stack).customer_records if r.purpose == "dmarc")
        return dict(tags(record.values[0]))

    kept = dmarc_of(tenant)
    assert kept["p"] == "reject"
    named = dmarc_of(tenant.model_copy(update={"dmarc": tenant.dmarc.model_copy(update={"policy": "none"})}))
    assert named["p"] == "none"
    assert set(named["rua"].split(",")) == {"mailto:reports@office.no", STACK_RUA}


def test_cloudflare_ids_land_in_the_snapshot_and_become_import_ids(world: World, cloudflare) -> None:
    _fake, ids = cloudflare
    api = Manager(world.tenants, world.project)
    result = api.adopt_dns("flare", world.ns, clock=lambda: ADOPTED_AT)
    assert result.snapshot.source == f"nameserver {world.ns} + cloudflare api"
    apex = result.snapshot.find("flare.no", "TXT")
    assert apex is not None
    assert dict(zip(apex.values, apex.ids, strict=True)) == {
        GOOGLE_SPF: ids["spf"],
        GOOGLE_VERIFY: ids["verify"],
    }
    dmarc = result.snapshot.find("_dmarc.flare.no", "TXT")
    assert dmarc is not None and dmarc.ids == [ids["dmarc"]]
    # Written, and the desired state built from the file imports exactly those records.
    records = {r.purpose: r for r in api.records("flare").state.customer_records}
    assert records["spf"].adopted is not None and records["dmarc"].adopted is not None
    assert records["spf"].adopted.import_id == f"{CF_ZONE_ID}/{ids['spf']}"
    assert records["dmarc"].adopted.import_id == f"{CF_ZONE_ID}/{ids['dmarc']}"
    # The verification record stays the customer's: not in the program at all.
    assert records["spf"].values == ("v=spf1 include:_spf.google.com include:mailgun.org ~all",)
