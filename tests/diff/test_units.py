"""compare.py and preview.py in-process (no git, no CLI process), with literal expectations.

The snapshots are the example project and a copy whose tenant files a test edits; the preview
documents are the hand-written digest of test_preview_mx.py and the fixture files. `make
mutate` traces these tests to the functions they reach.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from mailfleet.diff import preview
from mailfleet.diff.compare import compare
from mailfleet.diff.snapshot import Snapshot
from mailfleet.project import Project
from tests.conftest import REPO
from tests.diff.test_preview_mx import digest

FIXTURES = Path(__file__).parent / "fixtures"


def _snapshot(root: Path, edit: Callable[[Path], None] | None = None) -> Snapshot:
    root.mkdir()
    for name in ("Pulumi.yaml", "Pulumi.eu.yaml", "Pulumi.us.yaml"):
        shutil.copy(REPO / name, root / name)
    shutil.copytree(REPO / "tenants", root / "tenants")
    if edit is not None:
        edit(root / "tenants")
    return Snapshot(files=None, states=Project.load(root / "tenants", root).states)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    return _snapshot(tmp_path_factory.mktemp("base") / "p")


def _rows(base: Snapshot, head: Snapshot) -> dict[str, list[tuple[str, str, bool]]]:
    return {sc.stack: [(r.op, r.key, r.destructive) for r in sc.rows] for sc in compare(base, head)}


def test_nothing_changed_is_no_rows(base: Snapshot, tmp_path: Path) -> None:
    assert _rows(base, _snapshot(tmp_path / "p")) == {"eu": [], "us": []}


def test_selector_change_mailbox_and_policy(base: Snapshot, tmp_path: Path) -> None:
    def edit(t: Path) -> None:
        acme = t / "acme.yaml"
        acme.write_text(
            acme.read_text().replace(
                "mailboxes: [support, sales]", "mailboxes: [support, sales, billing]\ndkim: {selector: ac2}"
            )
        )

    (eu,) = [sc for sc in compare(base, _snapshot(tmp_path / "p", edit)) if sc.stack == "eu"]
    rows = {r.key: r for r in eu.rows}
    assert [(r.op, r.key, r.destructive) for r in eu.rows] == [
        ("delete", "dns:mailfleet._domainkey.acme.mail.example.eu:TXT", True),
        ("replace", "domain:acme.mail.example.eu", True),
        ("create", "route:billing@acme.mail.example.eu", False),
        ("create", "dns:ac2._domainkey.acme.mail.example.eu:TXT", False),
    ]
    dom = rows["domain:acme.mail.example.eu"]
    assert (dom.fields, dom.old, dom.new) == (
        ["dkim_selector"],
        ["dkim_selector=mailfleet"],
        ["dkim_selector=ac2"],
    )
    assert dom.reasons == [
        "dkim_selector mailfleet → ac2 forces pulumi-mailgun to replace the domain (delete, then create): "
        "its DKIM key, SMTP credentials, suppressions and stored messages are lost"
    ]
    assert rows["dns:mailfleet._domainkey.acme.mail.example.eu:TXT"].reasons == [
        "DKIM selector changed mailfleet → ac2: mail signed with selector mailfleet fails DKIM verification"
    ]
    assert rows["route:billing@acme.mail.example.eu"].new == [
        'prio 10: match_recipient("^billing@acme\\.mail\\.example\\.eu$") -> '
        'forward("https://crm.example.eu/mailgun/inbound/acme"), stop()'
    ]


def test_a_removed_tenant_deletes_everything_and_flags_mx_and_domains(base: Snapshot, tmp_path: Path) -> None:
    (us,) = [
        sc
        for sc in compare(base, _snapshot(tmp_path / "p", lambda t: (t / "harbor.yaml").unlink()))
        if sc.stack == "us"
    ]
    assert {r.op for r in us.rows} == {"delete"}
    destructive = {r.key: r.reasons for r in us.rows if r.destructive}
    assert destructive == {
        "domain:harbor.mail.example.com": [
            "Mailgun domain deleted in us: its DKIM key, SMTP credentials, suppressions and stored messages are lost"
        ],
        "domain:harborlogistics.com": [
            "Mailgun domain deleted in us: its DKIM key, SMTP credentials, suppressions and stored messages are lost"
        ],
        "dns:harbor.mail.example.com:MX": [
            "MX record deleted: inbound mail for harbor.mail.example.com no longer reaches Mailgun"
        ],
        "dns:mailfleet._domainkey.harbor.mail.example.com:TXT": [
            "DKIM record deleted: mail signed with selector mailfleet fails DKIM verification"
        ],
        "dns:mailfleet._domainkey.harborlogistics.com:TXT": [
            "DKIM record deleted: mail signed with selector mailfleet fails DKIM verification"
        ],
    }
    # destructive rows first
    flags = [r.destructive for r in us.rows]
    assert flags == sorted(flags, reverse=True)
    assert len(us.rows) == 23  # 2 domains, 2 routes, 10 webhooks, 8 DNS records, 1 outbound setting


def test_a_policy_change_is_an_update_with_old_and_new(base: Snapshot, tmp_path: Path) -> None:
    def edit(t: Path) -> None:
        (t / "acme.yaml").write_text((t / "acme.yaml").read_text() + "dmarc: {policy: reject}\n")

    (eu,) = [sc for sc in compare(base, _snapshot(tmp_path / "p", edit)) if sc.stack == "eu"]
    assert [(r.op, r.key, r.old, r.new, r.destructive) for r in eu.rows] == [
        (
            "update",
            "dns:_dmarc.acme.mail.example.eu:TXT",
            ["v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@mail.example.eu"],
            ["v=DMARC1; p=reject; rua=mailto:dmarc-reports@mail.example.eu"],
            False,
        )
    ]


def test_compare_limited_to_one_stack(base: Snapshot, tmp_path: Path) -> None:
    head = _snapshot(tmp_path / "p", lambda t: (t / "harbor.yaml").unlink())
    assert [sc.stack for sc in compare(base, head, ["eu"])] == ["eu"]
    assert compare(base, head, ["eu"])[0].rows == []


# -- preview ------------------------------------------------------------------------------------------


def test_preview_rows_of_a_hand_written_digest() -> None:
    doc = preview.load(json.dumps(digest()), "preview.json")
    changes = preview.changes(doc)
    assert changes.stack == "eu"
    assert [(r.op, r.name, r.type, r.destructive) for r in changes.rows] == [
        ("replace", "quay.mail.example.eu", "MX", True),
        ("replace", "quay.no", "MX", True),
        ("update", "pier.mail.example.eu", "MX", False),
    ]
    pier = changes.rows[2]
    assert (pier.fields, pier.ttl_old, pier.ttl_new) == (["ttl"], 3600, 300)
    quay = changes.rows[0]
    assert (quay.fields, quay.old, quay.new) == (
        ["zoneId"],
        ["zoneId=Z04EXAMPLEEU0001"],
        ["zoneId=Z04EXAMPLEEU0002"],
    )


def test_preview_of_the_fixture_changes() -> None:
    doc = preview.load((FIXTURES / "preview_changes.json").read_text(), "preview_changes.json")
    changes = preview.changes(doc)
    got = {(r.op, r.name): r for r in changes.rows}
    assert ("delete", "harbor.mail.example.com") in got
    assert got[("delete", "harbor.mail.example.com")].reasons == [
        "MX record deleted: inbound mail for harbor.mail.example.com no longer reaches Mailgun"
    ]
    assert got[("replace", "rw2._domainkey.redwood.mail.example.com")].reasons == [
        "DKIM record replaced (name): deleted, then created: mail signed with this selector fails DKIM verification"
    ]
    dom = got[("replace", "redwood.mail.example.com")]
    assert dom.reasons[0].startswith(
        "dkimSelector forces pulumi-mailgun to replace the domain (delete, then create)"
    )
    secrets = json.dumps([r.as_dict() for r in changes.rows])
    assert "hunter2-harbor-smtp" not in secrets and "[secret]" in secrets


@pytest.mark.parametrize(
    ("text", "where"),
    [("[]", "a list"), ('{"steps": 3}', "steps"), ("not json", "JSON")],
)
def test_preview_refuses_what_is_not_a_preview(text: str, where: str) -> None:
    with pytest.raises(Exception) as exc:
        preview.changes(preview.load(text, "p.json"))
    assert where.lower() in str(exc.value).lower()


def test_preview_helpers() -> None:
    assert preview.join_txt('"a" "b"') == "ab"
    assert preview.parse_urn(
        "urn:pulumi:eu::mailfleet::mailfleet:index:TenantMail$aws:route53/record:Record::n"
    ) == (
        "eu",
        "aws:route53/record:Record",
        "n",
    )
    assert preview.redact({"a": "[secret]", "b": ["x", {"c": "y"}]}) == {
        "a": "[secret]",
        "b": ["x", {"c": "y"}],
    }
