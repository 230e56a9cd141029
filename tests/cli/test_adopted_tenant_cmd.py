"""`tenant remove` and `records` for a tenant that adopted existing records: give them back."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.conftest import run_cli, tree_bytes

R53 = "Z0CUSTOMERZONE1"
GOOGLE_SPF = "v=spf1 include:_spf.google.com ~all"
VERIFY = "google-site-verification=abc123"
DMARC = "v=DMARC1; p=none; rua=mailto:dmarc@shop.no"
MERGED = "v=spf1 include:_spf.google.com include:mailgun.org ~all"


def _write(project: Path, dns: str) -> Path:
    path = project / "tenants" / "shop.yaml"
    path.write_text(
        "# hand-written comment kept\n"
        "slug: shop\nname: Shop AS\nregion: eu\nmailboxes: [post]\n"
        f"sender_domain:\n  name: shop.no\n  dns: {dns}\n"
        "adopted:\n"
        "  dns:\n"
        "    taken_at: '2026-11-29T20:00:00Z'\n"
        "    source: nameserver 127.0.0.1:53\n"
        "    records:\n"
        f"    - {{name: shop.no, type: TXT, values: ['{GOOGLE_SPF}', '{VERIFY}']}}\n"
        f"    - {{name: _dmarc.shop.no, type: TXT, values: ['{DMARC}']}}\n"
    )
    return path


def test_remove_gives_back_what_was_adopted_in_two_steps(project_dir: Path) -> None:
    path = _write(project_dir, f"route53:{R53}")
    before = tree_bytes(project_dir / "tenants")

    shown = run_cli("tenant", "remove", "shop", cwd=project_dir)
    assert shown.returncode == 1
    assert "not removed: run again with --yes to mark it for release" in shown.stderr
    assert "restores for tenant shop" in shown.stdout
    assert f"shop.no TXT (route53 zone of shop.no {R53}) -> {GOOGLE_SPF} | {VERIFY}" in shown.stdout
    assert "mailfleet._domainkey.shop.no TXT" in shown.stdout.split("restores")[0]  # created: deleted
    assert tree_bytes(project_dir / "tenants") == before

    first = run_cli("tenant", "remove", "shop", "--yes", cwd=project_dir)
    assert first.returncode == 0, first.stderr
    assert path.exists()
    text = path.read_text()
    assert text.startswith("# hand-written comment kept\n")
    assert yaml.safe_load(text)["adopted"]["release"] is True
    # The stack now declares only the adopted records, at their original values.
    plan = json.loads(run_cli("plan", "--stack", "eu", "--format", "json", cwd=project_dir).stdout)
    (shop,) = [t for t in plan["stacks"][0]["tenants"] if t["slug"] == "shop"]
    assert shop["mailgun_domains"] == [] and shop["routes"] == []
    assert {(r["name"], tuple(r["values"])) for r in shop["dns_records"]} == {
        ("shop.no", (GOOGLE_SPF, VERIFY)),
        ("_dmarc.shop.no", (DMARC,)),
    }

    second = run_cli("tenant", "remove", "shop", "--yes", cwd=project_dir)
    assert second.returncode == 0, second.stderr
    assert "releases, without deleting," in second.stdout
    assert "without deleting them (retain_on_delete)" in second.stdout
    assert not path.exists()


def test_a_tenant_with_nothing_adopted_is_removed_at_once(project_dir: Path) -> None:
    result = run_cli("tenant", "remove", "acme", "--yes", cwd=project_dir)
    assert result.returncode == 0, result.stderr
    assert not (project_dir / "tenants" / "acme.yaml").exists()
    assert "restores" not in result.stdout and "releases" not in result.stdout


def test_records_tells_a_manual_customer_to_replace_not_add(project_dir: Path) -> None:
    _write(project_dir, "manual")
    table = run_cli("records", "shop", cwd=project_dir)
    assert table.returncode == 0, table.stderr
    spf_line = next(line for line in table.stdout.splitlines() if line.startswith("shop.no"))
    assert MERGED in spf_line
    # Only the SPF record is replaced: the verification TXT beside it stays.
    assert f"REPLACE the existing record ({GOOGLE_SPF}) with this one" in spf_line
    doc = json.loads(run_cli("records", "shop", "--format", "json", cwd=project_dir).stdout)
    spf = next(r for r in doc["records"] if r["purpose"] == "spf")
    assert spf["value"] == MERGED and spf["replaces"] == [GOOGLE_SPF]
    dmarc = next(r for r in doc["records"] if r["purpose"] == "dmarc")
    assert dmarc["value"].startswith("v=DMARC1; p=none; rua=mailto:dmarc@shop.no,")
    bind = run_cli("records", "shop", "--format", "bind", cwd=project_dir).stdout
    assert f'; spf: replaces the existing shop.no TXT record(s):\n;   was: "{GOOGLE_SPF}"' in bind


def test_remove_of_a_manual_customer_prints_the_records_to_publish_again(project_dir: Path) -> None:
    _write(project_dir, "manual")
    shown = run_cli("tenant", "remove", "shop", cwd=project_dir)
    assert shown.returncode == 1
    lines = shown.stdout.splitlines()
    at = lines.index("Manual DNS: ask the customer to publish again what they had:")
    assert lines[at + 1 : at + 3] == [f"  shop.no TXT {GOOGLE_SPF}", f"  _dmarc.shop.no TXT {DMARC}"]
