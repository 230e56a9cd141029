"""The PR comment: one per stack that changes (the diff and the real preview together), risky
rows flagged with a reason, unchanged and not-shown counts, the raw preview folded in."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from mailfleet.diff import preview
from tests.diff.conftest import Repo, rows_of
from tests.diff.test_workflows import HERE, WORKFLOWS, comment, node

FIXTURES = Path(__file__).parent / "fixtures"


def by_name(doc: dict[str, Any], stack: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["name"], r["type"]): r for r in rows_of(doc, stack)}


def test_deleted_route_and_tracking_cname_are_risky_not_destructive(repo: Repo) -> None:
    repo.edit("nordlys", "mailboxes: [post, booking]", "mailboxes: [post]")
    repo.edit("nordlys", "tracking: true", "tracking: false")
    doc = repo.diff_json("--base", "HEAD", "--stack", "eu")
    rows = by_name(doc, "eu")
    route = next(r for (name, _t), r in rows.items() if name.startswith("booking@"))
    assert route["op"] == "delete" and route["risky"] and not route["destructive"]
    assert route["risks"] == [
        f"route deleted: mail to {route['name']} is no longer received (Mailgun rejects it)"
    ]
    cname = rows[("email.nordlys-reiser.no", "CNAME")]
    assert cname["op"] == "delete" and cname["risky"] and not cname["destructive"]
    assert "links in mail already sent" in cname["risks"][0]
    assert doc["stacks"][0]["summary"]["risky"] == sum(1 for r in rows.values() if r["risky"]) >= 3
    # Risky is not destructive: the gate lets it through, the comment flags it.
    gate = repo.diff("--base", "HEAD", "--stack", "eu", "--fail-on", "destructive", "--format", "json")
    assert gate.returncode == 0, gate.stderr
    md = repo.diff("--base", "HEAD", "--stack", "eu", "--format", "markdown").stdout.replace("<wbr>", "")
    line = next(x for x in md.splitlines() if f"**{route['name'].replace('_', chr(92) + '_')}**" in x)
    assert line.startswith("| ⚠️ Delete | ") and "is no longer received" in line
    assert ", Risky=" in md


def test_manual_dns_changes_tell_that_the_customer_republishes(repo: Repo) -> None:
    repo.edit("harbor", "spf_includes: [amazonses.com]", "spf_includes: [amazonses.com, spf.example.net]")
    rows = by_name(repo.diff_json("--base", "HEAD", "--stack", "us"), "us")
    spf = rows[("harborlogistics.com", "TXT")]
    assert spf["op"] == "update" and not spf["destructive"]
    assert spf["risks"] == [
        "manual DNS: the customer must change this record in their zone (harborlogistics.com) themselves "
        "(`mailfleet records harbor`)"
    ]
    # A Route53 or Cloudflare record the stack publishes itself is not risky.
    repo.edit("redwood", "spf_includes: [spf.protection.outlook.com]", "spf_includes: [spf.example.net]")
    rows = by_name(repo.diff_json("--base", "HEAD", "--stack", "us"), "us")
    assert rows[("redwood-outdoors.com", "TXT")]["risks"] == []


def test_a_stack_without_changes_gets_no_comment_and_its_old_one_goes(repo: Repo, tmp_path: Path) -> None:
    repo.edit("bluebird", "mailboxes: [", "mailboxes: [extra, ")
    out = tmp_path / "c"
    proc = repo.diff("--base", "HEAD", "--format", "markdown", "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((out / "comments.json").read_text())
    assert [(m["stack"], m["part"], m["parts"], m["file"]) for m in manifest] == [
        ("us", 1, 1, "mailfleet-diff-us-1.md"),
        ("eu", 0, 0, None),
    ]
    assert sorted(p.name for p in out.glob("*.md")) == ["mailfleet-diff-us-1.md"]
    printed = repo.diff("--base", "HEAD", "--format", "markdown").stdout
    assert "stack=eu" not in printed and printed.startswith("<!-- mailfleet-diff:stack=us part=1/1 -->")

    # The bot deletes the EU comment an earlier push left, and posts the US one.
    state = tmp_path / "state.json"
    old_eu = "<!-- mailfleet-diff:stack=eu part=1/1 -->\nan earlier EU change"
    state.write_text(json.dumps({"issue_number": 7, "comments": [comment(11, old_eu)]}))
    run = subprocess.run(
        [
            node(),
            str(HERE / "pr_comment_driver.cjs"),
            str(WORKFLOWS / "pr-comment.cjs"),
            str(state),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    writes = [c for c in result["calls"] if c["op"] != "info"]
    assert [(c["op"], c.get("comment_id")) for c in writes] == [("create", None), ("delete", 11)]
    assert writes[0]["body"] == (out / "mailfleet-diff-us-1.md").read_text()


def test_preview_joins_the_diff_in_one_comment_per_stack(repo: Repo, tmp_path: Path) -> None:
    repo.edit("redwood", "selector: rw1", "selector: rw2")
    log = tmp_path / "preview.txt"
    log.write_text(
        "\x1b[1mPreviewing update (us):\x1b[0m\n ~ a ```fenced``` word\nResources:\n    2 unchanged\n"
    )
    args = ["--base", "HEAD", "--stack", "us", "--preview", str(FIXTURES / "preview_changes.json")]
    md = repo.diff(*args, "--preview-log", str(log), "--format", "markdown")
    assert md.returncode == 0, md.stderr
    body = md.stdout
    assert body.count("<!-- mailfleet-") == 1
    diff_part, preview_part = body.split("#### pulumi preview")
    assert (
        "**Summary:** Creates=2, Updates=0, Replaces=2, Deletes=2, Destructive=4 · Unchanged: " in diff_part
    )
    # Pulumi's own counts add up: 2 deletes shown + 1 not shown = its 3 deletes.
    assert "Deletes=2" in preview_part and "Unchanged: 2 resources" in preview_part
    assert "1 resource(s) not shown (neither DNS records nor Mailgun): `aws:ssm/parameter:Parameter` ×1" in (
        preview_part
    )
    details = preview_part[preview_part.index("<details>") :]
    assert details.startswith("<details><summary>pulumi preview output</summary>\n\n````text\n")
    assert "\x1b" not in details and "Previewing update (us):" in details and details.endswith("</details>\n")

    doc = json.loads(repo.diff(*args, "--format", "json").stdout)
    (us,) = doc["stacks"]
    assert us["preview"]["summary"]["delete"] == 2 and us["preview"]["not_shown"] == {
        "aws:ssm/parameter:Parameter": 1
    }
    assert us["preview"]["unchanged"] == 2
    gate = repo.diff(*args, "--fail-on", "destructive", "--format", "json")
    assert gate.returncode == 1


def test_preview_option_problems(repo: Repo, tmp_path: Path) -> None:
    repo.edit("bluebird", "mailboxes: [", "mailboxes: [extra, ")
    log = tmp_path / "log.txt"
    log.write_text("x")
    alone = repo.diff("--base", "HEAD", "--preview-log", str(log))
    assert alone.returncode == 2 and alone.stderr.strip() == "--preview-log: only with --preview"
    other = repo.diff("--base", "HEAD", "--stack", "us", "--preview", str(FIXTURES / "preview_create.json"))
    assert other.returncode == 2
    assert "previews stack 'eu', not one of: us" in other.stderr
    missing = repo.diff("--base", "HEAD", "--preview", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and missing.stderr.startswith("--preview: cannot read ")
    assert "Traceback" not in other.stderr + missing.stderr + alone.stderr


def test_route53_txt_chunks_are_joined() -> None:
    long = "v=DKIM1; k=rsa; p=" + "A" * 300
    chunked = long[:255] + '" "' + long[255:]  # what pulumi-aws is given (it adds the outer quotes)
    urn = "urn:pulumi:eu::mailfleet::aws:route53/record:Record::acme-dns-k._domainkey.acme.example.eu-TXT"
    doc = {
        "steps": [
            {
                "op": "create",
                "urn": urn,
                "newState": {
                    "type": "aws:route53/record:Record",
                    "inputs": {
                        "name": "k._domainkey.acme.example.eu",
                        "type": "TXT",
                        "zoneId": "Z1",
                        "ttl": 300,
                        "records": [chunked],
                    },
                },
            }
        ]
    }
    (row,) = preview.changes(doc).rows
    assert row.new == [long]
    # A short value without chunks is left as it is.
    doc["steps"][0]["newState"]["inputs"]["records"] = ['he said "hi"']
    assert preview.changes(doc).rows[0].new == ['he said "hi"']


def test_long_values_get_break_opportunities_and_stay_copyable(repo: Repo) -> None:
    key = "p=" + "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" * 6
    repo.edit("acme", "mailboxes: [", "mailboxes: [extra, ")
    md = repo.diff("--base", "HEAD", "--stack", "eu", "--format", "markdown").stdout
    assert md
    from mailfleet.diff.outputs import _cell

    cell = _cell(key, wbr=True)
    assert "<wbr>" in cell and cell.replace("<wbr>", "") == key
    assert max(len(p) for p in cell.split("<wbr>")) <= 24
    assert re.fullmatch(r"[A-Za-z0-9=+/]+", cell.replace("<wbr>", ""))
