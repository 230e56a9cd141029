"""What each region stack declares for a moving tenant, step by step (the model, no Pulumi)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailfleet.desired.build import build_stack
from mailfleet.model.load import load_stack, load_tenants
from mailfleet.model.migration import STEP_NAMES, Migration
from mailfleet.model.tenant import Tenant
from tests.conftest import REPO

STACKS = {n: load_stack(REPO, n) for n in ("eu", "us")}
HARBOR = load_tenants(REPO / "tenants").tenants["harbor"]


def at(step: str | None, *, done: bool = False) -> Tenant:
    """harbor with every step before ``step`` done and ``step`` started."""
    steps = {}
    for name in STEP_NAMES:
        if name == step:
            steps[name] = {"started_at": "2026-01-01T00:00:00+00:00"}
            break
        steps[name] = {"started_at": "2026-01-01T00:00:00+00:00", "done_at": "2026-01-01T00:00:00+00:00"}
    block = {
        "from": "us",
        "to": "eu",
        "started_at": "2026-01-01T00:00:00+00:00",
        "platform_domain": "harbor.mail.example.com",
        "platform_zone_id": "Z04EXAMPLEUS0001",
        "original_ttl": 3600,
        "steps": steps,
        "state": "done" if done else "running",
    }
    data = HARBOR.model_dump(mode="json", by_alias=True, exclude_none=True)
    data.update(migration=block, region="eu" if done else "us")
    return Tenant.model_validate(data)


def declared(tenant: Tenant, stack: str) -> dict[str, object]:
    state = build_stack(STACKS[stack], [tenant]).tenant("harbor")
    if state is None:
        return {}
    return {
        "domains": sorted(f"{d.name}/{d.region}" for d in state.domains),
        "routes": len(state.routes),
        "webhooks": len(state.webhooks),
        "outbound": state.outbound.aws_region if state.outbound else None,
        "records": {(r.name, r.type): r.ttl for r in state.records},
    }


DOMAINS_US = ["harbor.mail.example.com/us", "harborlogistics.com/us"]
DOMAINS_EU = ["harbor.mail.example.com/eu", "harborlogistics.com/eu"]


@pytest.mark.parametrize(
    ("step", "us_domains", "us_routes", "us_records", "eu_domains", "eu_records", "lowered"),
    [
        ("prepare.lower-ttl", DOMAINS_US, 2, True, None, False, True),
        ("export", DOMAINS_US, 2, True, None, False, True),
        # From the point of no return the target stack owns the records: it declares them held
        # (as they are) until it creates the domains, so no up of it deletes them meanwhile.
        ("cutover.release-source-domain", [], 2, False, [], True, True),
        ("cutover.wait-source-gone", [], 2, False, [], True, True),
        ("cutover.create-target", [], 2, False, DOMAINS_EU, True, True),
        ("cutover.release-source-routes", None, 0, False, DOMAINS_EU, True, True),
        ("verify", None, 0, False, DOMAINS_EU, True, True),
        ("finalize", None, 0, False, DOMAINS_EU, True, False),
    ],
)
def test_each_step_decides_what_each_stack_declares(
    step: str,
    us_domains: list[str] | None,
    us_routes: int,
    us_records: bool,
    eu_domains: list[str] | None,
    eu_records: bool,
    lowered: bool,
) -> None:
    tenant = at(step)
    us, eu = declared(tenant, "us"), declared(tenant, "eu")
    if us_domains is None:
        assert us == {}
    else:
        assert us["domains"] == us_domains
        assert us["routes"] == us_routes
        assert bool(us["records"]) is us_records
        assert (us["outbound"] == "us-east-1") is bool(us_domains)
    if eu_domains is None:
        assert eu == {}
    elif eu_domains == []:  # the hold: records only
        assert (eu["routes"], eu["webhooks"], eu["outbound"]) == (0, 0, None) and eu["records"]
    else:
        assert eu["domains"] == eu_domains and eu["routes"] == 2 and eu["outbound"] == "eu-central-1"
    assert bool(eu.get("records")) is eu_records
    ttls = us["records"] if us_records else eu["records"]
    # SPF keeps its TTL (same value in both regions); records that change get 60 s.
    assert ttls[("harbor.mail.example.com", "TXT")] == 3600  # type: ignore[index]
    assert ttls[("harbor.mail.example.com", "MX")] == (60 if lowered else 3600)  # type: ignore[index]


@pytest.mark.parametrize("step", STEP_NAMES)
def test_records_are_retained_by_the_source_and_held_by_the_target_while_the_move_runs(step: str) -> None:
    """Retained: a stack that stops declaring them forgets them, the DNS records stay. Held: the
    target declares them as they are (import when absent, values ignored) until create-target."""
    tenant = at(step)
    index = STEP_NAMES.index
    for stack, want in (
        ("us", "retained" if index(step) < index("cutover.release-source-domain") else None),
        (
            "eu",
            "held"
            if index("cutover.release-source-domain") <= index(step) < index("cutover.create-target")
            else None,
        ),
    ):
        state = build_stack(STACKS[stack], [tenant]).tenant("harbor")
        records = state.records if state is not None else []
        assert {r.moving for r in records} <= {want}, (step, stack)
    done = build_stack(STACKS["eu"], [at(None, done=True)]).tenant("harbor")
    assert done is not None and {r.moving for r in done.records} == {None}


def test_record_ownership_moves_whole_and_no_record_is_declared_twice() -> None:
    for step in STEP_NAMES:
        tenant = at(step)
        us, eu = declared(tenant, "us"), declared(tenant, "eu")
        both = set(us.get("records", {})) & set(eu.get("records", {}))  # type: ignore[arg-type]
        assert both == set(), step
        domains = set(us.get("domains", [])) | set(eu.get("domains", []))  # type: ignore[arg-type]
        assert len({d.split("/")[0] for d in domains}) == len(domains), step  # never in two regions


def test_done_tenant_keeps_its_platform_domain_in_the_eu_stack() -> None:
    tenant = at(None, done=True)
    assert declared(tenant, "us") == {}
    eu = build_stack(STACKS["eu"], [tenant]).tenant("harbor")
    assert eu is not None
    assert eu.forwarding_addresses == ["dispatch@harbor.mail.example.com", "claims@harbor.mail.example.com"]
    mx = next(r for r in eu.records if r.type == "MX")
    assert mx.zone_id == "Z04EXAMPLEUS0001" and mx.values == (
        "10 mxa.eu.mailgun.org",
        "10 mxb.eu.mailgun.org",
    )
    assert all(r.ttl == 3600 for r in eu.records)


def test_migration_block_must_agree_with_the_region() -> None:
    data = at("export").model_dump(mode="json", by_alias=True, exclude_none=True)
    data["region"] = "eu"
    with pytest.raises(ValueError, match="region must be 'us'"):
        Tenant.model_validate(data)
    with pytest.raises(ValueError, match="different regions"):
        Migration.model_validate({**data["migration"], "to": "us"})


def test_no_migration_means_byte_identical_plan(tmp_path: Path) -> None:
    tenants = load_tenants(REPO / "tenants").tenants
    for name, cfg in STACKS.items():
        state = build_stack(cfg, tenants)
        assert {t.slug for t in state.tenants} == {s for s, t in tenants.items() if t.region == name}
