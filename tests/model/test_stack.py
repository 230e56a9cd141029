"""mailfleet.model.stack and the stack half of the loader: Pulumi.<stack>.yaml, field by field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from mailfleet.errors import InvalidData, UsageError
from mailfleet.loader import MAX_NESTING, parse_yaml
from mailfleet.model.load import load_stack, secret_name, stack_from_data
from mailfleet.model.region import REGIONS
from mailfleet.model.stack import CONFIG_KEYS, FIELD_KEYS, StackConfig, discover_stacks

REPO = Path(__file__).resolve().parents[2]
WHERE = "Pulumi.eu.yaml"


class _Delete:
    """Sentinel: remove the key. Its repr is stable, so test ids match across xdist workers."""

    def __repr__(self) -> str:
        return "DELETE"


DELETE = _Delete()


def eu_data() -> dict[str, Any]:
    return parse_yaml((REPO / "Pulumi.eu.yaml").read_bytes())


def with_key(key: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(eu_data())
    if value is DELETE:
        del data["config"][key]
    else:
        data["config"][key] = value
    return data


def lines(data: Any, name: str = "eu") -> list[str]:
    stack, problems = stack_from_data(WHERE, name, data)
    assert (stack is None) == bool(problems) or all("secret" in p.message for p in problems)
    return [str(p) for p in problems]


@pytest.mark.parametrize("name", ["eu", "us"])
def test_example_stacks(name: str) -> None:
    stack = load_stack(REPO, name)
    assert isinstance(stack, StackConfig)
    assert stack.name == name
    assert stack.region == name
    assert stack.facts is REGIONS[name]
    assert stack.aws_region == {"eu": "eu-central-1", "us": "us-east-1"}[name]
    assert stack.record_ttl == 3600
    assert len(stack.egress_ips) >= 1


def test_every_field_has_a_pulumi_key() -> None:
    assert set(CONFIG_KEYS.values()) == set(StackConfig.model_fields) - {"name"}
    assert {v: k for k, v in FIELD_KEYS.items()} == CONFIG_KEYS


def test_record_ttl_defaults_to_3600() -> None:
    stack, problems = stack_from_data(WHERE, "eu", with_key("mailfleet:recordTtl", DELETE))
    assert problems == [] and stack is not None
    assert stack.record_ttl == 3600


def test_other_config_keys_are_ignored() -> None:
    data = with_key("aws:profile", "ops")
    data["config"]["mailfleet:credentialSeed"] = {"secure": "AAABAxyz"}
    stack, problems = stack_from_data(WHERE, "eu", data)
    assert problems == [] and stack is not None


def test_a_misspelt_mailfleet_setting_is_an_error_not_a_silent_default() -> None:
    # A typo in an optional key would otherwise leave the default in force unnoticed.
    out = lines(with_key("mailfleet:recordTTL", 300))
    assert len(out) == 1
    assert out[0].startswith(f"{WHERE}: config.mailfleet:recordTTL: unknown setting (known: ")
    assert "mailfleet:recordTtl" in out[0]


@pytest.mark.parametrize(
    "key, value",
    [
        ("mailfleet:credentialSeed", "plain-text-seed"),
        ("mailfleet:smtpPasswords", {"alpine": "plain-password", "harbor": {"secure": "AAAB"}}),
        ("mailfleet:smtpPasswords", {}),
    ],
)
def test_secret_settings_in_clear_are_refused(key: str, value: Any) -> None:
    out = lines(with_key(key, value))
    assert out == [f"{WHERE}: config.{key}: must be set with `pulumi config set --secret`"]
    assert all("plain-" not in line for line in out)  # the clear value is never echoed


@pytest.mark.parametrize(
    "value", [{"alpine": {"secure": "AAAB"}, "harbor": {"secure": "AAAC"}}, {"secure": "AAAD"}]
)
def test_smtp_passwords_as_a_map_of_secrets_or_one_secret(value: Any) -> None:
    stack, problems = stack_from_data(WHERE, "eu", with_key("mailfleet:smtpPasswords", value))
    assert problems == [] and stack is not None


CASES: list[tuple[str, Any, str, str]] = [
    ("mailfleet:region", DELETE, "config.mailfleet:region", "required field is missing"),
    ("mailfleet:region", "ap", "config.mailfleet:region", "'eu' or 'us'"),
    ("aws:region", DELETE, "config.aws:region", "required field is missing"),
    ("aws:region", "Frankfurt", "config.aws:region", "not an AWS region name"),
    ("aws:region", "us-east-1", "config.aws:region", "outside the stack's region 'eu'"),
    ("aws:region", 1, "config.aws:region", "valid string"),
    ("mailfleet:platformDomain", DELETE, "config.mailfleet:platformDomain", "required field is missing"),
    ("mailfleet:platformDomain", "Mail.Example.eu", "config.mailfleet:platformDomain", "must be lowercase"),
    ("mailfleet:platformDomain", "localhost", "config.mailfleet:platformDomain", "at least two labels"),
    ("mailfleet:hostedZoneId", DELETE, "config.mailfleet:hostedZoneId", "required field is missing"),
    ("mailfleet:hostedZoneId", "zone-1", "config.mailfleet:hostedZoneId", "Route53 hosted zone id"),
    ("mailfleet:inboundUrl", DELETE, "config.mailfleet:inboundUrl", "required field is missing"),
    ("mailfleet:inboundUrl", "http://crm.example.eu/in", "config.mailfleet:inboundUrl", "https:// URL"),
    ("mailfleet:inboundUrl", 'https://crm.example.eu/in")', "config.mailfleet:inboundUrl", "without quotes"),
    ("mailfleet:inboundUrl", "https://crm.example.eu/a,b", "config.mailfleet:inboundUrl", "commas"),
    ("mailfleet:inboundUrl", "https://crm.example.eu/a b", "config.mailfleet:inboundUrl", "spaces"),
    ("mailfleet:inboundUrl", "https://crm.example.eu/a\\b", "config.mailfleet:inboundUrl", "backslashes"),
    ("mailfleet:inboundUrl", "https://crm.example.eu/a\nb", "config.mailfleet:inboundUrl", "https:// URL"),
    ("mailfleet:inboundUrl", "https:///inbound", "config.mailfleet:inboundUrl", "with a host"),
    ("mailfleet:webhookUrl", DELETE, "config.mailfleet:webhookUrl", "required field is missing"),
    ("mailfleet:webhookUrl", "ftp://crm.example.eu", "config.mailfleet:webhookUrl", "https:// URL"),
    ("mailfleet:egressIps", DELETE, "config.mailfleet:egressIps", "required field is missing"),
    ("mailfleet:egressIps", [], "config.mailfleet:egressIps", "at least 1 item"),
    ("mailfleet:egressIps", "192.0.2.10", "config.mailfleet:egressIps", "valid list"),
    (
        "mailfleet:egressIps",
        ["192.0.2.10", "192.0.2.300"],
        "config.mailfleet:egressIps",
        "'192.0.2.300' is not an IP address",
    ),
    ("mailfleet:egressIps", ["192.0.2.10", 7], "config.mailfleet:egressIps.1", "valid string"),
    ("mailfleet:dmarcRua", DELETE, "config.mailfleet:dmarcRua", "required field is missing"),
    ("mailfleet:dmarcRua", "dmarc@mail.example.eu", "config.mailfleet:dmarcRua", "must be a mailto: URI"),
    ("mailfleet:recordTtl", 30, "config.mailfleet:recordTtl", "greater than or equal to 60"),
    ("mailfleet:recordTtl", 86401, "config.mailfleet:recordTtl", "less than or equal to 86400"),
    ("mailfleet:recordTtl", "3600", "config.mailfleet:recordTtl", "valid integer"),
    # Strict typing: 3600.0 is not coerced to 3600.
    (
        "mailfleet:recordTtl",
        3600.0,
        "config.mailfleet:recordTtl",
        "Input should be a valid integer, written without a decimal point (not a float)",
    ),
    ("mailfleet:recordTtl", True, "config.mailfleet:recordTtl", "valid integer"),
    ("mailfleet:shardCap", 0, "config.mailfleet:shardCap", "greater than or equal to 1"),
    ("mailfleet:shardCap", 1000.0, "config.mailfleet:shardCap", "valid integer"),
    ("mailfleet:holdingMx", "not a host", "config.mailfleet:holdingMx", "needs at least two labels"),
    ("mailfleet:holdingMx", 25, "config.mailfleet:holdingMx", "valid string"),
    (
        "mailfleet:reputation",
        {"bounce_warn": 6.0},
        "config.mailfleet:reputation",
        "bounce_warn (6.0) is above bounce_fail (5.0)",
    ),
    ("mailfleet:reputation", {"complaint_fail": 101}, "config.mailfleet:reputation.complaint_fail", "100"),
    (
        "mailfleet:mailgunIps",
        {"ips": ["not-an-ip"]},
        "config.mailfleet:mailgunIps.ips.0",
        "is not an IP address",
    ),
    ("mailfleet:mailgunIps", {"pool": "p1"}, "config.mailfleet:mailgunIps.ips", "required field is missing"),
    (
        "mailfleet:reputation",
        {"min_delivered": "500"},
        "config.mailfleet:reputation.min_delivered",
        "valid integer",
    ),
    (
        "mailfleet:reputation",
        {"bounce_wran": 1.0},
        "config.mailfleet:reputation.bounce_wran",
        "unknown field",
    ),
    (
        "mailfleet:platformDomain",
        "mail.xn--zz.eu",
        "config.mailfleet:platformDomain",
        "not a valid IDNA A-label",
    ),
    (
        "mailfleet:platformDomain",
        "m" * 63 + "." + "n" * 63 + "." + "p" * 7 + ".eu",  # 138 octets
        "config.mailfleet:platformDomain",
        "platform domain is 138 octets; names under it (<selector>._domainkey.<slug>.<platform domain>, "
        "up to 116 octets more) would reach 254 octets, over the 253-octet limit of a domain name "
        "(RFC 1035 §2.3.4): at most 137 octets",
    ),
    ("mailfleet:dmarcRua", "mailto:d@xn--a-ecp.ru", "config.mailfleet:dmarcRua", "not a valid IDNA A-label"),
    (
        "mailfleet:platformDomain",
        {"secure": "v1:abc"},
        "config.mailfleet:platformDomain",
        "must not be a secret",
    ),
]


@pytest.mark.parametrize(
    ("key", "value", "field", "message"), CASES, ids=[f"{c[0]}={c[1]!r}"[:60] for c in CASES]
)
def test_stack_error_names_file_and_key(key: str, value: Any, field: str, message: str) -> None:
    assert lines(eu_data()) == []
    out = lines(with_key(key, value))
    assert any(line.startswith(f"{WHERE}: {field}: ") and message in line for line in out), out


def test_every_stack_key_has_an_error_case() -> None:
    assert {c[0] for c in CASES} == set(CONFIG_KEYS)


def test_a_platform_domain_of_137_octets_is_the_longest() -> None:
    domain = "m" * 63 + "." + "n" * 63 + "." + "p" * 6 + ".eu"
    assert len(domain) == 137
    stack, problems = stack_from_data(WHERE, "eu", with_key("mailfleet:platformDomain", domain))
    assert problems == [] and stack is not None
    # The longest tenant name under it fits exactly.
    assert len(f"{'s' * 63}._domainkey.{'t' * 40}.{domain}") == 253


CANARY = "canary-7f3a9c1e5b"


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("mailgun:apiKey", CANARY, "config.mailgun:apiKey"),
        ("cloudflare:apiToken", CANARY, "config.cloudflare:apiToken"),
        ("aws:secretKey", CANARY, "config.aws:secretKey"),
        ("aws:accessKey", CANARY, "config.aws:accessKey"),
        ("aws:token", CANARY, "config.aws:token"),
        ("cloudflare:apiUserServiceKey", CANARY, "config.cloudflare:apiUserServiceKey"),
        ("vendor:api_key", CANARY, "config.vendor:api_key"),
        ("vendor:PRIVATE-KEY", CANARY, "config.vendor:PRIVATE-KEY"),
        ("vendor:dbPassword", CANARY, "config.vendor:dbPassword"),
        ("vendor:clientSecret", CANARY, "config.vendor:clientSecret"),
        ("mailgun:apiKey", None, "config.mailgun:apiKey"),  # empty is still not encrypted
        ("mailgun:apiKey", 12345, "config.mailgun:apiKey"),
        ("vendor:apiKeys", [{"secure": "AAAB"}, CANARY], "config.vendor:apiKeys"),
        # Structured settings: a secret-named key inside them, with the path to it.
        ("vendor:auth", {"user": "ops", "password": CANARY}, "config.vendor:auth.password"),
        ("vendor:accounts", [{"name": "a", "token": CANARY}], "config.vendor:accounts.0.token"),
    ],
)
def test_provider_secrets_in_clear_are_refused_without_their_value(key: str, value: Any, field: str) -> None:
    out = lines(with_key(key, value))
    hint = (
        "must be set with `pulumi config set --secret --path`"
        if "." in field.split(":", 1)[1]
        else ("must be set with `pulumi config set --secret`")
    )
    assert out == [f"{WHERE}: {field}: {hint}"]
    assert all(CANARY not in line and "12345" not in line for line in out)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("mailgun:apiKey", {"secure": "AAAB"}),
        ("cloudflare:apiToken", {"secure": "AAAB"}),
        ("vendor:apiKeys", {"eu": {"secure": "AAAB"}, "us": {"secure": "AAAC"}}),
        ("vendor:auth", {"user": "ops", "password": {"secure": "AAAB"}}),
        # Names that name a key rather than hold one, and public keys.
        ("aws:keyPair", "ops-keypair"),
        ("aws:kmsKeyId", "alias/mailfleet"),
        ("vendor:keyName", "deploy"),
        ("vendor:publicKey", "ssh-ed25519 AAAA"),
        ("aws:profile", "ops"),
        ("aws:sharedCredentialsFiles", ["~/.aws/credentials"]),
        ("vendor:tree", {"a": {"b": {"c": "d"}}}),
    ],
)
def test_encrypted_secrets_and_non_secret_names_are_accepted(key: str, value: Any) -> None:
    stack, problems = stack_from_data(WHERE, "eu", with_key(key, value))
    assert problems == [] and stack is not None


def test_secret_names() -> None:
    secret = ["mailgun:apiKey", "apikey", "x:API_KEY", "aws:secretKey", "x:sessionToken", "x:passwd", "x:key"]
    secret += ["x:apiKeys", "x:keys"]
    plain = ["aws:keyPair", "aws:kmsKeyId", "x:publicKey", "x:public_keys", "aws:region", "x:keyring"]
    assert [k for k in secret if not secret_name(k)] == []
    assert [k for k in plain if secret_name(k)] == []


def test_shared_and_cyclic_structures_are_walked_once() -> None:
    # YAML aliases share nodes: 2**40 paths through 40 shared levels, and nodes inside themselves.
    node: Any = {"password": {"secure": "AAAB"}}
    for _ in range(40):
        node = [node, node]
    empty_cycle: list[Any] = []
    empty_cycle.append(empty_cycle)
    clear_cycle: list[Any] = ["clear"]
    clear_cycle.append(clear_cycle)
    data = with_key("vendor:wide", node)
    data["config"]["vendor:cycle"] = clear_cycle
    data["config"]["vendor:emptyKey"] = empty_cycle  # nothing in it is in clear
    data["config"]["vendor:cycleKey"] = clear_cycle
    # Two nodes inside each other, the clear value in the second one met.
    a: list[Any] = []
    d: list[Any] = [a]
    a.extend([d, "clear"])
    data["config"]["vendor:first"] = a
    data["config"]["vendor:secondKey"] = d
    assert lines(data) == [
        f"{WHERE}: config.vendor:cycleKey: must be set with `pulumi config set --secret`",
        f"{WHERE}: config.vendor:secondKey: must be set with `pulumi config set --secret`",
    ]


def test_deeply_nested_stack_file_is_one_problem(tmp_path: Path) -> None:
    text = (REPO / "Pulumi.eu.yaml").read_text() + "  vendor:x: " + "[" * 10_000 + "]" * 10_000 + "\n"
    (tmp_path / "Pulumi.eu.yaml").write_text(text)
    with pytest.raises(InvalidData) as exc:
        load_stack(tmp_path, "eu")
    line_no = text.count("\n")
    assert exc.value.lines() == [
        f"{tmp_path / 'Pulumi.eu.yaml'}: line {line_no}: nesting deeper than {MAX_NESTING} levels"
    ]


def test_a_secret_for_a_required_key_also_reports_it_missing() -> None:
    out = lines(with_key("mailfleet:platformDomain", {"secure": "v1:abc"}))
    assert f"{WHERE}: config.mailfleet:platformDomain: must not be a secret" in out
    assert f"{WHERE}: config.mailfleet:platformDomain: required field is missing" in out
    assert all("v1:abc" not in line for line in out)


@pytest.mark.parametrize(
    "data", [None, [], "config", {"config": None}, {"config": ["a"]}, {"encryptionsalt": "x"}]
)
def test_stack_file_needs_a_config_mapping(data: Any) -> None:
    assert lines(data) == [f"{WHERE}: config: stack file needs a 'config:' mapping"]


def test_all_stack_problems_are_listed_together() -> None:
    data = with_key("mailfleet:recordTtl", 1)
    data["config"]["mailfleet:hostedZoneId"] = "nope"
    del data["config"]["mailfleet:dmarcRua"]
    fields = sorted(line.split(": ")[1] for line in lines(data))
    assert fields == [
        "config.mailfleet:dmarcRua",
        "config.mailfleet:hostedZoneId",
        "config.mailfleet:recordTtl",
    ]


def test_load_stack_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidData) as exc:
        load_stack(tmp_path, "eu")
    assert exc.value.lines() == [f"{tmp_path / 'Pulumi.eu.yaml'}: stack file for stack 'eu' does not exist"]


def test_load_stack_yaml_error(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.eu.yaml").write_text("config:\n  aws:region: [eu-central-1\n")
    with pytest.raises(InvalidData) as exc:
        load_stack(tmp_path, "eu")
    (line,) = exc.value.lines()
    assert line.startswith(f"{tmp_path / 'Pulumi.eu.yaml'}: line ")
    assert "YAML syntax error" in line


def test_load_stack_raises_with_every_problem(tmp_path: Path) -> None:
    text = (REPO / "Pulumi.eu.yaml").read_text()
    text = text.replace("mailfleet:recordTtl: 3600", "mailfleet:recordTtl: 5").replace(
        "Z04EXAMPLEEU0001", "bad"
    )
    (tmp_path / "Pulumi.eu.yaml").write_text(text)
    with pytest.raises(InvalidData) as exc:
        load_stack(tmp_path, "eu")
    assert not isinstance(exc.value, UsageError)  # invalid data: exit 1
    assert len(exc.value.problems) == 2


def test_discover_stacks_in_name_order(tmp_path: Path) -> None:
    """Stack names carry no meaning (a stack names its region in its settings)."""
    for name in ("zz", "us", "eu-2", "eu", "a"):
        (tmp_path / f"Pulumi.{name}.yaml").write_text("config: {}\n")
    (tmp_path / "Pulumi.yaml").write_text("name: mailfleet\n")
    assert discover_stacks(tmp_path) == ["a", "eu", "eu-2", "us", "zz"]
    assert discover_stacks(REPO)[:2] == ["eu", "us"]
