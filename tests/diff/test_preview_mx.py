"""An MX record replaced in a Pulumi preview is destructive: inbound mail stops reaching Mailgun.

The PreviewDigest is written here by hand (pulumi's documented step shape: one replacement is
``create-replacement``, ``replace``, ``delete-replaced`` steps of one URN), not produced by the
code under test; the expected rows are literal.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

BASE = "urn:pulumi:eu::mailfleet::mailfleet:index:TenantMail$"
R53 = "aws:route53/record:Record"
CF = "cloudflare:index/dnsRecord:DnsRecord"


def _state(type_: str, inputs: dict) -> dict:
    return {"type": type_, "custom": True, "inputs": inputs}


def _replacement(urn: str, type_: str, old: dict, new: dict, reasons: list[str]) -> list[dict]:
    common = {"urn": urn, "replaceReasons": reasons}
    return [
        {
            "op": "create-replacement",
            **common,
            "oldState": _state(type_, old),
            "newState": _state(type_, new),
        },
        {"op": "replace", **common, "oldState": _state(type_, old), "newState": _state(type_, new)},
        {"op": "delete-replaced", **common, "oldState": _state(type_, old)},
    ]


ROUTE53_OLD = {
    "name": "quay.mail.example.eu",
    "records": ["10 mxa.eu.mailgun.org", "10 mxb.eu.mailgun.org"],
    "ttl": 3600,
    "type": "MX",
    "zoneId": "Z04EXAMPLEEU0001",
}
ROUTE53_NEW = {**ROUTE53_OLD, "zoneId": "Z04EXAMPLEEU0002"}
CF_OLD = {
    "zoneId": "4f1c2a9d0b7e46c3a8d25e6f9b0c1d2e",
    "name": "quay.no",
    "type": "MX",
    "content": "mxa.eu.mailgun.org",
    "priority": 10,
    "ttl": 3600,
}
CF_NEW = {**CF_OLD, "zoneId": "0a1b2c3d4e5f60718293a4b5c6d7e8f9"}
UPDATED_OLD = {**ROUTE53_OLD, "name": "pier.mail.example.eu"}
UPDATED_NEW = {**UPDATED_OLD, "ttl": 300}


def digest() -> dict:
    steps = [
        *_replacement(
            f"{BASE}{R53}::quay-dns-quay.mail.example.eu-MX", R53, ROUTE53_OLD, ROUTE53_NEW, ["zoneId"]
        ),
        *_replacement(f"{BASE}{CF}::quay-dns-quay.no-MX-mxa", CF, CF_OLD, CF_NEW, ["zoneId"]),
        {
            "op": "update",
            "urn": f"{BASE}{R53}::pier-dns-pier.mail.example.eu-MX",
            "oldState": _state(R53, UPDATED_OLD),
            "newState": _state(R53, UPDATED_NEW),
            "detailedDiff": {"ttl": {"kind": "update", "inputDiff": True}},
        },
    ]
    return {
        "config": {"mailfleet:region": "eu"},
        "steps": steps,
        "changeSummary": {"replace": 2, "update": 1},
    }


@pytest.fixture
def preview_file(tmp_path: Path) -> Path:
    path = tmp_path / "preview.json"
    path.write_text(json.dumps(digest()))
    return path


def test_mx_replace_is_destructive_with_its_reason(cli, preview_file: Path) -> None:
    proc = cli("preview-report", str(preview_file), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    (stack,) = json.loads(proc.stdout)["stacks"]
    rows = {r["name"]: r for r in stack["rows"]}
    assert {n: (r["op"], r["destructive"]) for n, r in rows.items()} == {
        "quay.mail.example.eu": ("replace", True),
        "quay.no": ("replace", True),
        "pier.mail.example.eu": ("update", False),
    }
    assert rows["quay.mail.example.eu"]["reasons"] == [
        "MX record replaced (zoneId): deleted, then created: inbound mail for quay.mail.example.eu "
        "no longer reaches Mailgun"
    ]
    assert rows["quay.no"]["reasons"] == [
        "MX record replaced (zoneId): deleted, then created: inbound mail for quay.no no longer reaches Mailgun"
    ]
    assert rows["pier.mail.example.eu"]["reasons"] == []
    # destructive rows first
    assert [r["destructive"] for r in stack["rows"]] == [True, True, False]


def test_fail_on_destructive_exits_1_for_an_mx_replace(cli, preview_file: Path) -> None:
    proc = cli("preview-report", str(preview_file), "--fail-on", "destructive")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "quay.mail.example.eu" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_without_the_replace_fail_on_destructive_passes(cli, tmp_path: Path) -> None:
    doc = digest()
    doc["steps"] = [s for s in doc["steps"] if s["op"] == "update"]
    path = tmp_path / "update-only.json"
    path.write_text(json.dumps(doc))
    proc = cli("preview-report", str(path), "--fail-on", "destructive")
    assert proc.returncode == 0, proc.stdout + proc.stderr
