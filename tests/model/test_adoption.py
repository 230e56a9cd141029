"""mailfleet.model.adoption: the ``adopted:`` block, every field's error."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mailfleet.model.adoption import Adoption, is_dmarc, is_spf
from tests.model.data import CF_ZONE, problem_lines, way2
from tests.model.test_tenant import DELETE

WHERE = "tenants/acme.yaml"
SPF = "v=spf1 include:_spf.google.com ~all"
DMARC = "v=DMARC1; p=none; rua=mailto:d@acme.no"

BASE: dict[str, Any] = {
    **way2(dns=f"cloudflare:{CF_ZONE}"),
    "adopted": {
        "dns": {
            "taken_at": "2026-11-29T20:00:00Z",
            "source": "nameserver 127.0.0.1:53 + cloudflare api",
            "records": [
                {
                    "name": "acme.no",
                    "type": "TXT",
                    "values": [SPF, "google-site-verification=x"],
                    "ids": ["a", "b"],
                },
                {"name": "_dmarc.acme.no", "type": "TXT", "values": [DMARC], "ids": ["c"]},
            ],
        },
        "mailgun": {
            "taken_at": "2026-11-29T20:00:00Z",
            "region": "eu",
            "domains": ["acme.no"],
            "routes": {"support@acme.mail.example.eu": "5f0c"},
            "credentials": ["crm"],
        },
        "release": False,
    },
}

# (path, value, field in the problem line, message fragment)
CASES: list[tuple[str, Any, str, str]] = [
    ("adopted", "yes", "adopted", "valid dictionary"),
    ("adopted.colour", 1, "adopted.colour", "unknown field"),
    ("adopted.release", "no", "adopted.release", "valid boolean"),
    ("adopted.dns", [], "adopted.dns", "valid dictionary"),
    ("adopted.dns.taken_at", "yesterday", "adopted.dns.taken_at", "not an ISO 8601 time"),
    ("adopted.dns.source", DELETE, "adopted.dns.source", "required field is missing"),
    ("adopted.dns.records", {}, "adopted.dns.records", "valid list"),
    ("adopted.dns.records.0.name", "bad..name", "adopted.dns.records.0.name", "invalid label"),
    ("adopted.dns.records.0.type", "A", "adopted.dns.records.0.type", "'TXT', 'CNAME' or 'MX'"),
    ("adopted.dns.records.0.values", [], "adopted.dns.records.0.values", "at least 1 item"),
    ("adopted.dns.records.0.ids", ["a"], "adopted.dns.records.0", "1 ids for 2 values"),
    ("adopted.dns.records.0.ttl", 300.0, "adopted.dns.records.0.ttl", "valid integer"),
    ("adopted.dns.records.0.values", [SPF, SPF], "adopted.dns.records.0", "listed twice"),
    (
        "adopted.dns.records.0.values",
        [SPF, "v=spf1 include:mailgun.org ~all"],
        "adopted.dns",
        "2 SPF records",
    ),
    ("adopted.mailgun", "x", "adopted.mailgun", "valid dictionary"),
    ("adopted.mailgun.taken_at", DELETE, "adopted.mailgun.taken_at", "required field is missing"),
    ("adopted.mailgun.region", "ap", "adopted.mailgun.region", "'eu' or 'us'"),
    ("adopted.mailgun.domains", [], "adopted.mailgun.domains", "at least 1 item"),
    ("adopted.mailgun.routes", ["x"], "adopted.mailgun.routes", "valid dictionary"),
    ("adopted.mailgun.credentials", "crm", "adopted.mailgun.credentials", "valid list"),
]


def mutate(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``base`` with ``a.0.b`` set to ``value`` (or removed with DELETE)."""
    data = copy.deepcopy(base)
    *parents, last = path.split(".")
    node: Any = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return data


def test_the_base_document_is_valid() -> None:
    assert problem_lines(BASE, WHERE) == []


@pytest.mark.parametrize(("path", "value", "field", "message"), CASES, ids=[c[0] for c in CASES])
def test_error_names_file_and_field(path: str, value: Any, field: str, message: str) -> None:
    lines = problem_lines(mutate(copy.deepcopy(BASE), path, value), WHERE)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{WHERE}: {field}: "), lines[0]
    assert message in lines[0], lines[0]


def test_every_field_of_the_block_has_an_error_case() -> None:
    def fields(model: Any, prefix: str) -> set[str]:
        out = set()
        for name, info in model.model_fields.items():
            out.add(prefix + name)
            for candidate in (info.annotation, *getattr(info.annotation, "__args__", ())):
                inner = getattr(candidate, "__args__", (candidate,))
                for c in (candidate, *inner):
                    if isinstance(c, type) and hasattr(c, "model_fields"):
                        sub = prefix + name + (".0." if "list" in str(info.annotation) else ".")
                        out |= fields(c, sub)
        return out

    covered = {c[0] for c in CASES}
    assert sorted(fields(Adoption, "adopted.") - covered) == []


@pytest.mark.parametrize(
    ("value", "spf", "dmarc"),
    [
        ("v=spf1 -all", True, False),
        ("v=spf1", True, False),
        ("V=SPF1 include:x ~all", True, False),
        ("v=spf10 -all", False, False),
        ("google-site-verification=v=spf1", False, False),
        ("v=DMARC1; p=none", False, True),
        ("v = DMARC1 ; p=reject", False, True),
        ("v=DMARC2; p=none", False, False),
    ],
)
def test_kinds_of_values(value: str, spf: bool, dmarc: bool) -> None:
    assert is_spf(value) is spf
    assert is_dmarc(value) is dmarc
