"""`mailfleet plan` as a real process: formats, stacks, errors, secrets, and no Pulumi import."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, run_cli

STACK_KEYS = ["stack", "region", "aws_region", "platform_domain", "hosted_zone_id", "tenants"]
TENANT_KEYS = [
    "slug",
    "name",
    "region",
    "mailgun_domains",
    "routes",
    "webhooks",
    "dns_records",
    "outbound",
    "forwarding_addresses",
]
DOMAIN_KEYS = [
    "name",
    "region",
    "role",
    "dkim_selector",
    "dkim_key_size",
    "spam_action",
    "wildcard",
    "force_dkim_authority",
    "open_tracking",
    "click_tracking",
    "web_scheme",
]
ROUTE_KEYS = ["address", "region", "priority", "expression", "actions", "description"]
WEBHOOK_KEYS = ["domain", "region", "kind", "urls"]
RECORD_KEYS = ["purpose", "provider", "zone", "zone_id", "name", "type", "ttl", "values", "from_mailgun"]
OUTBOUND_KEYS = ["parameter", "aws_region", "value", "egress_ips_to_allow", "secret_parameter"]


def plan(project_dir: Path, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return run_cli("plan", *args, cwd=project_dir, **kw)


def plan_json(project_dir: Path, stack: str = "all") -> dict[str, Any]:
    result = plan(project_dir, "--stack", stack, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


def expected_tenants(project_dir: Path) -> dict[str, str]:
    """slug -> region, read straight from the tenant files."""
    import yaml

    out = {}
    for path in sorted((project_dir / "tenants").glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        out[data["slug"]] = data["region"]
    return out


def test_json_shape(project_dir: Path) -> None:
    doc = plan_json(project_dir)
    assert list(doc) == ["format", "stacks"]
    assert doc["format"] == "mailfleet-plan/1"
    assert [s["stack"] for s in doc["stacks"]] == ["eu", "us"]
    for stack in doc["stacks"]:
        assert list(stack) == STACK_KEYS
        for t in stack["tenants"]:
            assert list(t) == TENANT_KEYS
            assert t["region"] == stack["region"]
            assert t["mailgun_domains"] and t["routes"] and t["webhooks"] and t["dns_records"]
            for d in t["mailgun_domains"]:
                assert list(d) == DOMAIN_KEYS
                assert d["region"] == stack["region"]
                assert d["role"] in ("platform", "sender")
                assert d["dkim_key_size"] in (1024, 2048)
            for r in t["routes"]:
                assert list(r) == ROUTE_KEYS
                assert r["expression"].startswith('match_recipient("^') and r["expression"].endswith('$")')
                assert r["actions"][-1] == "stop()"
                assert r["actions"][0].startswith('forward("https://')
            for w in t["webhooks"]:
                assert list(w) == WEBHOOK_KEYS
                assert isinstance(w["urls"], list) and w["urls"]
            for rec in t["dns_records"]:
                assert list(rec) == RECORD_KEYS
                assert rec["provider"] in ("route53", "cloudflare", "manual")
                assert rec["type"] in ("MX", "TXT", "CNAME")
                assert isinstance(rec["ttl"], int)
                # Unknown until Mailgun creates the domain: the DKIM value, and only it.
                assert rec["from_mailgun"] == (rec["values"] == []) == (rec["purpose"] == "dkim")
                if rec["zone"] == "ours":
                    assert rec["provider"] == "route53" and rec["zone_id"] == stack["hosted_zone_id"]
            o = t["outbound"]
            assert list(o) == OUTBOUND_KEYS
            assert list(o["value"]) == ["tenant", "region", "sending_domain", "service", "marketing"]
            assert t["forwarding_addresses"] == [r["address"] for r in t["routes"]]


def test_json_of_a_platform_tenant_is_what_the_docs_say(project_dir: Path) -> None:
    """The whole plan entry of ``acme`` (tenants/acme.yaml, Pulumi.eu.yaml), written out from
    docs/plan.md, not computed by the model it checks."""
    doc = plan_json(project_dir)
    (eu,) = [s for s in doc["stacks"] if s["stack"] == "eu"]
    assert {k: v for k, v in eu.items() if k != "tenants"} == {
        "stack": "eu",
        "region": "eu",
        "aws_region": "eu-central-1",
        "platform_domain": "mail.example.eu",
        "hosted_zone_id": "Z04EXAMPLEEU0001",
    }
    (acme,) = [t for t in eu["tenants"] if t["slug"] == "acme"]
    domain = "acme.mail.example.eu"
    events = "https://crm.example.eu/mailgun/events/acme"
    ours = {"provider": "route53", "zone": "ours", "zone_id": "Z04EXAMPLEEU0001", "ttl": 3600}
    assert acme == {
        "slug": "acme",
        "name": "Acme Support AS",
        "region": "eu",
        "mailgun_domains": [
            {
                "name": domain,
                "region": "eu",
                "role": "platform",
                "dkim_selector": "mailfleet",
                "dkim_key_size": 2048,
                "spam_action": "disabled",
                "wildcard": False,
                "force_dkim_authority": True,
                "open_tracking": False,
                "click_tracking": False,
                "web_scheme": "https",
            }
        ],
        "routes": [
            {
                "address": f"{box}@{domain}",
                "region": "eu",
                "priority": 10,
                "expression": f'match_recipient("^{box}@acme\\.mail\\.example\\.eu$")',
                "actions": ['forward("https://crm.example.eu/mailgun/inbound/acme")', "stop()"],
                "description": f"mailfleet acme: {box}@{domain}",
            }
            for box in ("support", "sales")
        ],
        "webhooks": [
            {"domain": domain, "region": "eu", "kind": kind, "urls": [events]}
            for kind in ("delivered", "permanent_fail", "temporary_fail", "complained", "unsubscribed")
        ],
        "dns_records": [
            {
                "purpose": "mx",
                **ours,
                "name": domain,
                "type": "MX",
                "values": ["10 mxa.eu.mailgun.org", "10 mxb.eu.mailgun.org"],
                "from_mailgun": False,
            },
            {
                "purpose": "spf",
                **ours,
                "name": domain,
                "type": "TXT",
                "values": ["v=spf1 include:mailgun.org ~all"],
                "from_mailgun": False,
            },
            {
                "purpose": "dkim",
                **ours,
                "name": f"mailfleet._domainkey.{domain}",
                "type": "TXT",
                "values": [],
                "from_mailgun": True,
            },
            {
                "purpose": "dmarc",
                **ours,
                "name": f"_dmarc.{domain}",
                "type": "TXT",
                "values": ["v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@mail.example.eu"],
                "from_mailgun": False,
            },
        ],
        "outbound": {
            "parameter": "/mailfleet/acme/outbound",
            "aws_region": "eu-central-1",
            "value": {
                "tenant": "acme",
                "region": "eu",
                "sending_domain": domain,
                "service": {"via": "mailgun"},
                "marketing": {"via": "mailgun"},
            },
            "egress_ips_to_allow": [],
            "secret_parameter": None,
        },
        "forwarding_addresses": [f"support@{domain}", f"sales@{domain}"],
    }


def test_json_lists_every_tenant_in_its_stack(project_dir: Path) -> None:
    expected = expected_tenants(project_dir)
    doc = plan_json(project_dir)
    got = {t["slug"]: s["stack"] for s in doc["stacks"] for t in s["tenants"]}
    assert got == expected


@pytest.mark.parametrize("stack", ["eu", "us"])
def test_json_one_stack(project_dir: Path, stack: str) -> None:
    doc = plan_json(project_dir, stack)
    assert [s["stack"] for s in doc["stacks"]] == [stack]
    slugs = [t["slug"] for t in doc["stacks"][0]["tenants"]]
    assert slugs == sorted(s for s, r in expected_tenants(project_dir).items() if r == stack)


def test_json_example_tenant_values(project_dir: Path) -> None:
    doc = plan_json(project_dir, "eu")
    (nordlys,) = [t for t in doc["stacks"][0]["tenants"] if t["slug"] == "nordlys"]
    records = {(r["name"], r["type"]): r for r in nordlys["dns_records"]}
    spf = records[("nordlys-reiser.no", "TXT")]
    assert spf["values"] == ["v=spf1 include:mailgun.org include:_spf.google.com include:sendgrid.net ~all"]
    assert (spf["provider"], spf["zone_id"]) == ("cloudflare", "4f1c2a9d0b7e46c3a8d25e6f9b0c1d2e")
    assert records[("email.nordlys-reiser.no", "CNAME")]["values"] == ["eu.mailgun.org"]
    assert records[("nl2024._domainkey.nordlys-reiser.no", "TXT")]["from_mailgun"] is True
    assert records[("nordlys.mail.example.eu", "MX")]["values"] == [
        "10 mxa.eu.mailgun.org",
        "10 mxb.eu.mailgun.org",
    ]


def _cells(line: str) -> list[str]:
    """Split a Markdown table row on unescaped pipes."""
    assert line.startswith("| ") and line.endswith(" |"), line
    cells = re.split(r"(?<!\\)\|", line[1:-1])
    # Cells are Markdown-escaped (\| \_ \\ ...): unescape to compare with the values.
    return [re.sub(r"\\(.)", r"\1", c.strip()) for c in cells]


def test_markdown(project_dir: Path) -> None:
    result = plan(project_dir, "--format", "markdown")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    doc = plan_json(project_dir)
    assert "## Stack `eu` (eu, eu-central-1)" in text
    assert "## Stack `us` (us, us-east-1)" in text
    header = "| Kind | Where | Name | Type | TTL | Value |"
    for stack in doc["stacks"]:
        for t in stack["tenants"]:
            block = text.split(f"### {t['slug']}: {t['name']}\n\n", 1)[1].split("\n\n", 1)[0]
            rows = block.splitlines()
            assert rows[0] == header
            assert rows[1] == "|---|---|---|---|---|---|"
            cells = [_cells(r) for r in rows[2:]]
            assert all(len(c) == 6 for c in cells)
            dns = [c for c in cells if c[0] == "dns"]
            assert [(c[2], c[3], c[4]) for c in dns] == [
                (r["name"], r["type"], str(r["ttl"])) for r in t["dns_records"]
            ]
            for c, r in zip(dns, t["dns_records"], strict=True):
                shown = (
                    "(from Mailgun once the domain exists)" if r["from_mailgun"] else " | ".join(r["values"])
                )
                assert c[5] == shown
            assert [c[2] for c in cells if c[0] == "route"] == [r["address"] for r in t["routes"]]
            # The expression survives Markdown: its backslashes are escaped, not eaten.
            expressions = [c[5].split(" -> ")[0] for c in cells if c[0] == "route"]
            assert expressions == [r["expression"] for r in t["routes"]]
            assert [c[2] for c in cells if c[0] == "mailgun domain"] == [
                d["name"] for d in t["mailgun_domains"]
            ]
            assert [c[2] for c in cells if c[0] == "outbound"] == [t["outbound"]["parameter"]]
        n = stack["tenants"]
        summary = (
            f"Stack {stack['stack']}: {len(n)} tenants, {sum(len(t['mailgun_domains']) for t in n)} Mailgun domains, "
            f"{sum(len(t['routes']) for t in n)} routes, {sum(len(t['webhooks']) for t in n)} webhooks, "
            f"{sum(len(t['dns_records']) for t in n)} DNS records"
        )
        assert summary in text


def test_markdown_escapes_what_markdown_would_act_on(project_dir: Path) -> None:
    path = project_dir / "tenants" / "acme.yaml"
    name = "Acme *Bold* | <b>_x_</b> [l](u) `c`"
    path.write_text(path.read_text().replace("name: Acme Support AS", f"name: '{name}'"))
    result = plan(project_dir, "-f", "markdown", "-s", "eu")
    assert result.returncode == 0, result.stderr
    escaped = r"Acme \*Bold\* \| \<b>\_x\_\</b> \[l\](u) \`c\`"
    assert f"### acme: {escaped}\n" in result.stdout
    # A DNS name with underscores and a route expression with backslashes, as written.
    assert r"| mailfleet.\_domainkey.acme.mail.example.eu |" in result.stdout
    assert r'match\_recipient("^support@acme\\.mail\\.example\\.eu$")' in result.stdout


def test_markdown_without_tenants(project_dir: Path) -> None:
    for path in (project_dir / "tenants").glob("*.yaml"):
        path.unlink()
    result = plan(project_dir, "-f", "markdown", "-s", "us")
    assert result.returncode == 0, result.stderr
    assert "No tenants." in result.stdout
    assert "Stack us: 0 tenants, 0 Mailgun domains, 0 routes, 0 webhooks, 0 DNS records" in result.stdout


def test_table_lists_every_tenant_and_record(project_dir: Path) -> None:
    result = plan(project_dir)  # the default: --stack all --format table
    assert result.returncode == 0, result.stderr
    text = result.stdout
    doc = plan_json(project_dir)
    assert "stack eu (eu, eu-central-1)" in text and "stack us (us, us-east-1)" in text
    for stack in doc["stacks"]:
        for t in stack["tenants"]:
            assert f"{t['slug']}: {t['name']}" in text
            for rec in t["dns_records"]:
                line = next(
                    x for x in text.splitlines() if f" {rec['name']} " in x and f" {rec['type']} " in x
                )
                assert str(rec["ttl"]) in line
                if rec["from_mailgun"]:
                    assert "(from Mailgun once the domain exists)" in line
                elif len(rec["values"][0]) < 40:
                    assert rec["values"][0] in line
            for route in t["routes"]:
                assert route["address"] in text
            assert t["outbound"]["parameter"] in text


def test_table_shows_tenant_text_literally(project_dir: Path) -> None:
    # Rich would parse "[/b]" as a closing tag (and raise) and "[red]" as a style.
    path = project_dir / "tenants" / "acme.yaml"
    path.write_text(path.read_text().replace("name: Acme Support AS", "name: 'Acme [/b] [red]x[/red]'"))
    result = plan(project_dir, "-s", "eu")
    assert result.returncode == 0, result.stderr
    assert "acme: Acme [/b] [red]x[/red]" in result.stdout
    assert "\x1b[" not in result.stdout  # and no styling leaks into piped output


def test_invalid_tenant_exits_1_with_one_line_per_problem(project_dir: Path) -> None:
    tenants = project_dir / "tenants"
    (tenants / "acme.yaml").write_text(
        "slug: acme\nname: Acme\nregion: ap\nmailboxes: [Support]\ndkim:\n  bits: 4096\n"
    )
    (tenants / "zzz.yaml").write_text("slug: zzz\nslug: zzz\n")
    before = {p: p.read_bytes() for p in project_dir.rglob("*") if p.is_file()}
    for fmt in ("table", "markdown", "json"):
        result = plan(project_dir, "--format", fmt)
        assert result.returncode == 1
        assert result.stdout == ""
        assert "Traceback" not in result.stderr
        lines = result.stderr.splitlines()
        acme = str(Path("tenants") / "acme.yaml")
        assert sorted(lines) == sorted(
            [
                f"{acme}: region: Input should be 'eu' or 'us'",
                f"{acme}: mailboxes.0: mailbox 'Support' must be lowercase",
                f"{acme}: dkim.bits: Input should be 1024 or 2048",
                f"{Path('tenants') / 'zzz.yaml'}: line 2: duplicate key 'slug' (line 2)",
            ]
        )
    assert {p: p.read_bytes() for p in project_dir.rglob("*") if p.is_file()} == before


def test_spf_over_the_limit_names_the_numbers(project_dir: Path) -> None:
    path = project_dir / "tenants" / "nordlys.yaml"
    path.write_text(
        path.read_text().replace(
            "[_spf.google.com, sendgrid.net]", "[_spf.google.com, spf.protection.outlook.com]"
        )
    )
    result = plan(project_dir, "-f", "json")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{Path('tenants') / 'nordlys.yaml'}: sender_domain.spf_includes: SPF needs 11 DNS lookups, over the limit "
        "of 10 (RFC 7208 §4.6.4; mailgun.org=5, _spf.google.com=4, spf.protection.outlook.com=2)"
    ]


def test_conflict_exits_1(project_dir: Path) -> None:
    (project_dir / "tenants" / "copycat.yaml").write_text(
        "slug: copycat\nname: Copycat\nregion: eu\nmailboxes: [x]\nsender_domain:\n  name: fjordbank.no\n"
    )
    result = plan(project_dir, "-f", "json")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"{Path('tenants') / 'fjordbank.yaml'}: sender_domain.name: domain fjordbank.no is already declared by "
        f"tenant 'copycat' ({Path('tenants') / 'copycat.yaml'})"
    ]


@pytest.mark.parametrize("args", [("--stack", "ap"), ("--stack", "EU"), ("--format", "yaml"), ("--colour",)])
def test_bad_flags_exit_2(project_dir: Path, args: tuple[str, ...]) -> None:
    result = plan(project_dir, *args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert args[0] in result.stderr


def test_global_directory_options(project_dir: Path, tmp_path: Path) -> None:
    result = run_cli(
        "--stacks-dir",
        str(project_dir),
        "--tenants-dir",
        str(project_dir / "tenants"),
        "plan",
        "-f",
        "json",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["stacks"]) == 2
    via_env = run_cli("plan", "-f", "json", cwd=tmp_path, env={"MAILFLEET_ROOT": str(project_dir)})
    assert via_env.returncode == 0, via_env.stderr
    assert json.loads(via_env.stdout) == json.loads(result.stdout)


def test_help() -> None:
    result = run_cli("plan", "--help")
    assert result.returncode == 0
    for word in ("--stack", "--format", "eu", "us", "all", "table", "markdown", "json"):
        assert word in result.stdout


CANARIES = {
    "MAILGUN_API_KEY": "key-canary-mailgun-4f1c2a9d0b7e",
    "CLOUDFLARE_API_TOKEN": "cf-canary-token-9a8b7c6d5e4f",
    "AWS_ACCESS_KEY_ID": "AKIACANARY0000000000",
    "AWS_SECRET_ACCESS_KEY": "aws-canary-secret-0b7e46c3a8d25e6f",
    "PULUMI_CONFIG_PASSPHRASE": "pulumi-canary-passphrase",
    "MAILFLEET_SMTP_PASSWORD": "smtp-canary-password",
}
SECURE_CANARY = "v1:CANARYSECUREVALUEqj8a2b=="


@pytest.mark.parametrize("fmt", ["table", "markdown", "json"])
def test_plan_never_prints_secrets(project_dir: Path, fmt: str) -> None:
    # Secrets as the stack file holds them (Pulumi secure values) and as the environment does.
    eu = project_dir / "Pulumi.eu.yaml"
    eu.write_text(
        eu.read_text()
        + f"  mailgun:apiKey:\n    secure: {SECURE_CANARY}\n"
        + f"  cloudflare:apiToken:\n    secure: {SECURE_CANARY}\n"
        + f"  mailfleet:smtpPasswords:\n    secure: {SECURE_CANARY}\n"
    )
    for verbose in ((), ("-vv",)):
        result = run_cli(*verbose, "plan", "--format", fmt, cwd=project_dir, env=CANARIES)
        assert result.returncode == 0, result.stderr
        assert "acme" in result.stdout  # the plan did run
        for canary in [*CANARIES.values(), SECURE_CANARY, "CANARYSECURE"]:
            assert canary not in result.stdout
            assert canary not in result.stderr


def test_plan_error_output_never_prints_secrets(project_dir: Path) -> None:
    eu = project_dir / "Pulumi.eu.yaml"
    eu.write_text(
        eu.read_text().replace(
            "mailfleet:platformDomain: mail.example.eu",
            f"mailfleet:platformDomain:\n    secure: {SECURE_CANARY}",
        )
    )
    result = run_cli("plan", "-f", "json", cwd=project_dir, env=CANARIES)
    assert result.returncode == 1
    assert "config.mailfleet:platformDomain: must not be a secret" in result.stderr
    for canary in [*CANARIES.values(), SECURE_CANARY]:
        assert canary not in result.stdout + result.stderr


@pytest.mark.parametrize("fmt", ["table", "markdown", "json"])
def test_plan_never_imports_pulumi(project_dir: Path, fmt: str) -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mailfleet", "plan", "--format", fmt],
        cwd=project_dir,
        env={**CANARIES, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    imported = [
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    ]
    assert "mailfleet.project" in imported  # the trace is real
    assert [
        m
        for m in imported
        if m.split(".")[0] in ("pulumi", "pulumi_aws", "pulumi_cloudflare", "pulumi_mailgun", "components")
    ] == []


def test_plan_never_imports_pulumi_in_process(project_dir: Path, tmp_path: Path) -> None:
    report = tmp_path / "modules.json"
    script = (
        "import atexit, json, sys\n"
        f"atexit.register(lambda: open({str(report)!r}, 'w').write(json.dumps(sorted(sys.modules))))\n"
        "sys.argv = ['mailfleet', 'plan', '--format', 'json']\n"
        "from mailfleet.cli.app import main\n"
        "main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=project_dir,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    modules = json.loads(report.read_text())
    assert "mailfleet.plan.outputs" in modules and "mailfleet.desired.build" in modules
    assert [m for m in modules if m == "pulumi" or m.startswith(("pulumi.", "pulumi_", "components"))] == []


@pytest.mark.parametrize("fmt", ["table", "markdown", "json"])
def test_unwritable_stdout_is_one_line_not_a_traceback(project_dir: Path, fmt: str) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "mailfleet", "plan", "--format", fmt],
            cwd=project_dir,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "COLUMNS": "200"},
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert result.returncode == 1
    assert result.stderr.splitlines() == ["cannot write the plan to stdout: No space left on device"]


def test_reader_going_away_is_quiet(tmp_path: Path) -> None:
    # Enough tenants that the JSON is far bigger than a pipe buffer.
    sys.path.insert(0, str(REPO / "bench"))
    try:
        from gen import generate
    finally:
        sys.path.remove(str(REPO / "bench"))
    generate(tmp_path / "tenants", 300)
    for name in ("Pulumi.eu.yaml", "Pulumi.us.yaml"):
        (tmp_path / name).write_bytes((REPO / name).read_bytes())
    proc = subprocess.Popen(
        [sys.executable, "-m", "mailfleet", "plan", "--format", "json"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(20).startswith(b'{\n  "format"')
    proc.stdout.close()  # like `mailfleet plan -f json | head -c 20`
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) != 0
    assert "Traceback" not in stderr
