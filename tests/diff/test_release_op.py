"""`mailfleet diff`: what an adopted tenant gives back is a release, never a destructive delete,
and the DKIM fields pulumi-mailgun cannot read back never make an adopted domain a replace."""

from __future__ import annotations

from tests.diff.conftest import Repo
from tests.diff.test_import_op import ACME, adopt_acme, rows_of


def test_removing_an_adopted_tenant_releases_what_it_adopted(repo: Repo) -> None:
    adopt_acme(repo)
    repo.commit("acme adopts its Mailgun domain and route")
    repo.tenant("acme").unlink()
    doc = repo.diff_json("--base", "HEAD", "--stack", "eu")
    rows = rows_of(doc)
    ops = {(r["op"], r["key"]) for r in rows}
    assert ("release", f"domain:{ACME}") in ops and ("release", f"route:support@{ACME}") in ops
    assert ("delete", f"domain:{ACME}") not in ops
    released = next(r for r in rows if r["key"] == f"domain:{ACME}")
    assert released["destructive"] is False
    assert released["old"][-1] == "leaves Pulumi's state; not deleted (retain_on_delete)"
    # What mailfleet created (DNS records, the outbound setting) is still deleted.
    assert {r["op"] for r in rows if r["kind"] in ("dns", "outbound")} == {"delete"}
    summary = doc["stacks"][0]["summary"]
    assert summary["release"] == sum(1 for r in rows if r["op"] == "release")
    text = repo.diff("--base", "HEAD", "--stack", "eu").stdout
    assert "Releases=" in text


def test_an_adopted_domain_selector_change_is_not_a_replace(repo: Repo) -> None:
    adopt_acme(repo)
    repo.commit("acme adopts")
    path = repo.tenant("acme")
    text = path.read_text()
    path.write_text(text.replace("adopted:", "dkim: {selector: other}\nadopted:", 1))
    rows = rows_of(repo.diff_json("--base", "HEAD", "--stack", "eu"))
    domain = next(r for r in rows if r["key"] == f"domain:{ACME}")
    assert domain["op"] == "update" and domain["destructive"] is False


def test_a_selector_change_on_a_created_domain_is_still_a_replace(repo: Repo) -> None:
    path = repo.tenant("acme")
    path.write_text(path.read_text() + "dkim: {selector: other}\n")
    rows = rows_of(repo.diff_json("--base", "HEAD", "--stack", "eu"))
    domain = next(r for r in rows if r["key"] == f"domain:{ACME}")
    assert domain["op"] == "replace" and domain["destructive"] is True


def test_preview_report_reads_imports_and_retained_deletes(tmp_path, cli) -> None:  # type: ignore[no-untyped-def]
    import json

    urn = (
        "urn:pulumi:eu::mailfleet::mailfleet:index:TenantMail$aws:route53/record:Record::shop-dns-shop.no-TXT"
    )
    urn2 = "urn:pulumi:eu::mailfleet::mailfleet:index:TenantMail$aws:route53/record:Record::shop-dns-_dmarc.shop.no-TXT"
    state = {"type": "aws:route53/record:Record", "inputs": {"name": "shop.no", "type": "TXT", "ttl": 3600,
             "zoneId": "Z1", "records": ["v=spf1 include:mailgun.org ~all"]}}  # fmt: skip
    doc = {
        "steps": [
            {"op": "import", "urn": urn, "newState": {**state, "id": "Z1_shop.no_TXT"}},
            {"op": "delete", "urn": urn2, "oldState": {**state, "retainOnDelete": True}},
        ]
    }
    path = tmp_path / "preview.json"
    path.write_text(json.dumps(doc))
    proc = cli("preview-report", str(path), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)["stacks"][0]["rows"]
    by_op = {r["op"]: r for r in rows}
    assert sorted(by_op) == ["import", "release"] and not any(r["destructive"] for r in rows)
    assert by_op["import"]["import_id"] == "Z1_shop.no_TXT"
