"""The whole program: DNS equals the model for every example tenant, __main__.py, failures."""

from __future__ import annotations

import random
import runpy
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pulumi
import pytest

from components.mocked import MailfleetMocks, RecordingMonitor, fake_dkim_value, run_program, unwrap
from components.program import declare_stack
from components.tenant_mail import pick_record_value
from mailfleet.desired.state import StackState
from mailfleet.errors import InvalidData
from mailfleet.project import Project
from tests.components.conftest import (
    REPO,
    SECRET_CONFIG,
    TYPES,
    all_secret_values,
    parse_quoted,
    run_state,
)

Key = tuple[str, str | None, str, str]  # provider, zone id, name, type


def model_dns(state: StackState) -> dict[Key, tuple[int, list[str]]]:
    """What the model says, with the DKIM value the mocked Mailgun reports for each domain."""
    out: dict[Key, tuple[int, list[str]]] = {}
    for t in state.tenants:
        domains = {d.name: d for d in t.domains}
        for r in t.records:
            values = list(r.values)
            if r.from_mailgun:
                d = domains[r.mailgun_domain or ""]
                values = [fake_dkim_value(d.name, d.dkim_selector, d.dkim_key_size)]
            key = (r.provider, r.zone_id, r.name, r.type)
            assert key not in out, key
            out[key] = (r.ttl, sorted(values))
    return out


def program_dns(monitor: RecordingMonitor, state: StackState) -> dict[Key, tuple[int, list[str]]]:
    """What the program declared: Route53 and Cloudflare resources plus exported manual records."""
    out: dict[Key, tuple[int, list[str]]] = {}
    for r in monitor.of_type(TYPES["r53"]):
        values = r.plain("records")
        if r.plain("type") == "TXT":
            values = [
                "".join(parse_quoted('"' + v + '"')) for v in values
            ]  # pulumi-aws adds the outer quotes
        key = ("route53", r.plain("zoneId"), r.plain("name"), r.plain("type"))
        assert key not in out, key
        out[key] = (int(r.plain("ttl")), sorted(values))
    for r in monitor.of_type(TYPES["cf"]):
        content = r.plain("content")
        if r.plain("type") == "TXT":
            content = "".join(parse_quoted(content))
        elif r.plain("type") == "MX":
            content = f"{int(r.plain('priority'))} {content}"
        key = ("cloudflare", r.plain("zoneId"), r.plain("name"), r.plain("type"))
        ttl, values = out.get(key, (int(r.plain("ttl")), []))
        assert ttl == int(r.plain("ttl")), key
        out[key] = (ttl, sorted([*values, content]))
    for t in state.tenants:
        for m in unwrap(monitor.stack_outputs[t.slug]).get("manual_records", []):
            out[("manual", None, m["name"], m["type"])] = (int(m["ttl"]), sorted(m["values"]))
    return out


@pytest.fixture(scope="module")
def example() -> Project:
    return Project.load(REPO / "tenants", REPO)


@pytest.mark.parametrize("stack", ["eu", "us"])
def test_dns_the_program_declares_is_exactly_the_models(stack: str, example: Project) -> None:
    state = example.states[stack]
    monitor = run_state(example.stacks[stack], state)
    declared = program_dns(monitor, state)
    expected = model_dns(state)
    assert declared == expected
    # Not vacuous: every example tenant has records, and the providers in use are covered.
    assert {t.slug for t in state.tenants} == {t.slug for t in state.tenants if t.records}
    providers = {k[0] for k in declared}
    assert {"route53", "manual", "cloudflare"} <= providers
    # Every DKIM value came through the shuffled record set, none of them first.
    assert sum(1 for k in declared if "._domainkey." in k[2]) == sum(len(t.domains) for t in state.tenants)


def _sets(domain: str) -> list[Any]:
    items = [
        SimpleNamespace(name=domain, record_type="TXT", value="v=spf1 include:mailgun.org ~all"),
        SimpleNamespace(name=f"email.{domain}", record_type="CNAME", value="mailgun.org"),
        SimpleNamespace(name=f"s1._domainkey.{domain}", record_type="TXT", value="k=rsa; p=KEY"),
        SimpleNamespace(name=f"s1._domainkey.{domain}", record_type="CNAME", value="decoy"),
    ]
    random.Random(7).shuffle(items)
    return items


def test_pick_record_value_selects_by_name_and_type_in_any_order() -> None:
    sets = _sets("acme.example")
    for order in (sets, list(reversed(sets))):
        assert pick_record_value(order, "s1._domainkey.acme.example", "TXT", "acme.example") == "k=rsa; p=KEY"
        assert (
            pick_record_value(order, "S1._domainkey.acme.example.", "TXT", "acme.example") == "k=rsa; p=KEY"
        )
        assert pick_record_value(order, "acme.example", "TXT", "acme.example").startswith("v=spf1")
    with pytest.raises(ValueError, match=r"no TXT record named s2\._domainkey\.acme\.example"):
        pick_record_value(sets, "s2._domainkey.acme.example", "TXT", "acme.example")


def test_main_declares_the_checkout(example: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAILFLEET_ROOT", raising=False)
    main = run_program(
        lambda: runpy.run_path(str(REPO / "__main__.py"), run_name="__main__"),
        stack="eu",
        config=SECRET_CONFIG,
        secret_keys=list(SECRET_CONFIG),
    )
    direct = run_state(example.stacks["eu"], example.states["eu"])
    assert {(r.type, r.name) for r in main.registrations} == {(r.type, r.name) for r in direct.registrations}
    assert {t.slug for t in example.states["eu"].tenants} <= set(main.stack_outputs)


class CountingMocks(MailfleetMocks):
    def __init__(self) -> None:
        super().__init__()
        self.created: list[str] = []

    def new_resource(self, args: Any) -> tuple[str, dict[str, Any]]:
        self.created.append(args.name)
        return super().new_resource(args)


def _run_main(
    root: Path, stack: str, config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> CountingMocks:
    monkeypatch.setenv("MAILFLEET_ROOT", str(root))
    mocks = CountingMocks()
    run_program(
        lambda: runpy.run_path(str(REPO / "__main__.py"), run_name="__main__"),
        stack=stack,
        config=config,
        secret_keys=list(config),
        mocks=mocks,
    )
    return mocks


def test_main_fails_with_one_line_on_invalid_tenant_files(
    project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = project_dir / "tenants" / "acme.yaml"
    path.write_text(path.read_text().replace("region: eu", "region: mars"))
    mocks = CountingMocks()
    monkeypatch.setenv("MAILFLEET_ROOT", str(project_dir))
    with pytest.raises(pulumi.RunError) as info:
        run_program(
            lambda: runpy.run_path(str(REPO / "__main__.py"), run_name="__main__"),
            stack="eu",
            config=SECRET_CONFIG,
            secret_keys=list(SECRET_CONFIG),
            mocks=mocks,
        )
    message = str(info.value)
    assert "\n" not in message
    assert f"{path}: region:" in message
    assert mocks.created == []  # nothing declared


def test_missing_smtp_password_names_the_key_and_leaks_nothing(example: Project) -> None:
    secrets = dict(SECRET_CONFIG)
    secrets["mailfleet:smtpPasswords"] = {
        k: v for k, v in SECRET_CONFIG["mailfleet:smtpPasswords"].items() if k != "alpine"
    }
    with pytest.raises(pulumi.RunError) as info:
        run_state(example.stacks["eu"], example.states["eu"], secrets=secrets)
    message = str(info.value)
    assert "mailfleet:smtpPasswords.alpine" in message
    assert not [s for s in all_secret_values() if s in message]


@pytest.mark.parametrize("key", ["mailgun:apiKey", "mailfleet:credentialSeed", "cloudflare:apiToken"])
def test_missing_secret_names_the_key(key: str, example: Project) -> None:
    secrets = {k: v for k, v in SECRET_CONFIG.items() if k != key}
    with pytest.raises(pulumi.RunError, match=key):
        run_state(example.stacks["eu"], example.states["eu"], secrets=secrets)


def test_cloudflare_token_only_needed_when_a_tenant_uses_cloudflare(example: Project) -> None:
    full = example.states["us"]
    state = replace(full, tenants=[t for t in full.tenants if t.slug != "redwood"])
    assert all(r.provider != "cloudflare" for t in state.tenants for r in t.records)
    secrets = {k: v for k, v in SECRET_CONFIG.items() if k != "cloudflare:apiToken"}
    monitor = run_state(example.stacks["us"], state, secrets=secrets)
    assert monitor.of_type(TYPES["p_cf"]) == []
    assert monitor.of_type(TYPES["domain"])


class LookupMocks(MailfleetMocks):
    def __init__(self, existing: dict[str, tuple[str, int]]) -> None:
        super().__init__(existing)
        self.lookups: list[dict[str, Any]] = []

    def call(self, args: Any) -> Any:
        self.lookups.append(dict(args.args))
        return super().call(args)


def test_records_of_a_domain_declared_elsewhere_read_it_from_mailgun(example: Project) -> None:
    """During a move a stack can keep a domain's records without the domain: read its DKIM value."""
    config = example.stacks["us"]
    full = example.states["us"]
    redwood = next(t for t in full.tenants if t.slug == "redwood")
    state = replace(full, tenants=[replace(redwood, domains=[], webhooks=[])])
    existing = {"redwood.mail.example.com": ("rw1", 1024), "redwood-outdoors.com": ("rw1", 1024)}
    mocks = LookupMocks(existing)
    monitor = run_program(
        lambda: declare_stack(config, state, lookup_regions={"redwood": "eu"}),
        stack="us",
        config=SECRET_CONFIG,
        secret_keys=list(SECRET_CONFIG),
        mocks=mocks,
    )
    assert monitor.of_type(TYPES["domain"]) == [] and monitor.of_type(TYPES["credential"]) == []
    assert sorted((c["name"], c["region"]) for c in mocks.lookups) == [
        ("redwood-outdoors.com", "eu"),
        ("redwood.mail.example.com", "eu"),
    ]
    dkim = {r.plain("name"): r for r in monitor.registrations if "._domainkey." in str(r.plain("name"))}
    r53 = dkim["rw1._domainkey.redwood.mail.example.com"]
    assert "".join(parse_quoted('"' + r53.plain("records")[0] + '"')) == fake_dkim_value(
        "redwood.mail.example.com", "rw1", 1024
    )
    cf = dkim["rw1._domainkey.redwood-outdoors.com"]
    assert "".join(parse_quoted(cf.plain("content"))) == fake_dkim_value("redwood-outdoors.com", "rw1", 1024)


def test_declare_stack_refuses_a_state_of_another_region(example: Project) -> None:
    with pytest.raises(InvalidData, match="state is for us/us-east-1, stack is eu/eu-central-1"):
        run_state(example.stacks["eu"], example.states["us"])
