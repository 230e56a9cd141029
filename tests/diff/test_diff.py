"""``mailfleet diff`` between real git revisions: exact rows for each kind of change."""

from __future__ import annotations

import json

from tests.conftest import run_cli
from tests.diff.conftest import Repo, plan_items, rows_of

MX_EU = ["10 mxa.eu.mailgun.org", "10 mxb.eu.mailgun.org"]
WEBHOOKS = ("delivered", "permanent_fail", "temporary_fail", "complained", "unsubscribed")


def ops(rows: list[dict]) -> set[tuple[str, str]]:
    return {(r["op"], r["key"]) for r in rows}


def by_key(rows: list[dict]) -> dict[str, dict]:
    keys = [r["key"] for r in rows]
    assert len(keys) == len(set(keys)), "a key appears twice in one stack"
    return {r["key"]: r for r in rows}


def destructive_first(rows: list[dict]) -> None:
    flags = [r["destructive"] for r in rows]
    assert flags == sorted(flags, reverse=True), "destructive rows must come first"


def test_add_tenant_gives_exactly_its_creates(repo: Repo) -> None:
    repo.tenant("zephyr").write_text("slug: zephyr\nname: Zephyr AS\nregion: eu\nmailboxes: [help]\n")
    repo.commit("add zephyr")
    doc = repo.diff_json("--base", "HEAD~1", "--head", "HEAD")
    eu, us = rows_of(doc, "eu"), rows_of(doc, "us")
    assert us == []
    d = "zephyr.mail.example.eu"
    expected = {
        ("create", f"domain:{d}"),
        ("create", f"route:help@{d}"),
        *{("create", f"webhook:{d}:{k}") for k in WEBHOOKS},
        ("create", f"dns:{d}:MX"),
        ("create", f"dns:{d}:TXT"),
        ("create", f"dns:mailfleet._domainkey.{d}:TXT"),
        ("create", f"dns:_dmarc.{d}:TXT"),
        ("create", "outbound:/mailfleet/zephyr/outbound"),
    }
    assert ops(eu) == expected
    rows = by_key(eu)
    assert rows[f"dns:{d}:MX"]["new"] == MX_EU
    assert rows[f"dns:{d}:MX"]["old"] == []
    assert rows[f"dns:{d}:TXT"]["new"] == ["v=spf1 include:mailgun.org ~all"]
    assert rows[f"dns:mailfleet._domainkey.{d}:TXT"]["new"] == ["(DKIM key from Mailgun)"]
    assert all(r["group"] == "zephyr" and not r["destructive"] for r in eu)
    assert doc["stacks"][0]["summary"] == {
        "create": 12,
        "update": 0,
        "replace": 0,
        "delete": 0,
        "destructive": 0,
    }
    assert doc["destructive"] is False


def test_dmarc_policy_change_updates_both_dmarc_records(repo: Repo) -> None:
    before = plan_items(repo.plan(), "eu", "nordlys")
    repo.edit("nordlys", "policy: reject", "policy: quarantine")
    after = plan_items(repo.plan(), "eu", "nordlys")
    repo.commit("nordlys dmarc quarantine")
    doc = repo.diff_json("--base", "HEAD~1", "--head", "HEAD")
    assert rows_of(doc, "us") == []
    eu = rows_of(doc, "eu")
    keys = ["dns:_dmarc.nordlys.mail.example.eu:TXT", "dns:_dmarc.nordlys-reiser.no:TXT"]
    assert ops(eu) == {("update", k) for k in keys}
    for row in eu:
        old, new = before[row["key"]]["values"], after[row["key"]]["values"]
        assert "p=reject" in old[0] and "p=quarantine" in new[0]
        assert row["old"] == old and row["new"] == new
        assert row["fields"] == ["value"]
        assert row["destructive"] is False and row["reasons"] == []
        assert row["ttl"] == {"old": 3600, "new": 3600}
    summary = doc["stacks"][0]["summary"]
    assert (summary["update"], summary["create"], summary["delete"]) == (2, 0, 0)


def test_dkim_selector_change_replaces_the_domains_and_names_the_field(repo: Repo) -> None:
    repo.edit("redwood", "selector: rw1", "selector: rw2")
    repo.commit("redwood new selector")
    proc = repo.diff("--base", "HEAD~1", "--head", "HEAD", "--format", "json")
    assert proc.returncode == 0
    doc = json.loads(proc.stdout)
    assert rows_of(doc, "eu") == []
    us = rows_of(doc, "us")
    domains = ["redwood.mail.example.com", "redwood-outdoors.com"]
    assert ops(us) == {
        *{("replace", f"domain:{d}") for d in domains},
        *{("delete", f"dns:rw1._domainkey.{d}:TXT") for d in domains},
        *{("create", f"dns:rw2._domainkey.{d}:TXT") for d in domains},
    }
    destructive_first(us)
    rows = by_key(us)
    for d in domains:
        rep = rows[f"domain:{d}"]
        assert rep["destructive"] and rep["fields"] == ["dkim_selector"]
        assert rep["old"] == ["dkim_selector=rw1"] and rep["new"] == ["dkim_selector=rw2"]
        assert len(rep["reasons"]) == 1 and "dkim_selector rw1 → rw2 forces" in rep["reasons"][0]
        gone = rows[f"dns:rw1._domainkey.{d}:TXT"]
        assert gone["destructive"] and "DKIM selector changed rw1 → rw2" in gone["reasons"][0]
        assert not rows[f"dns:rw2._domainkey.{d}:TXT"]["destructive"]
    assert doc["destructive"] is True
    assert doc["stacks"][1]["summary"]["destructive"] == 4


def test_move_to_eu_deletes_in_us_and_creates_in_eu(repo: Repo) -> None:
    us_before = plan_items(repo.plan(), "us", "harbor")
    repo.edit("harbor", "region: us", "region: eu")
    eu_after = plan_items(repo.plan(), "eu", "harbor")
    repo.commit("harbor moves to the EU")
    doc = repo.diff_json("--base", "HEAD~1", "--head", "HEAD", "--stack", "all")
    us, eu = rows_of(doc, "us"), rows_of(doc, "eu")
    assert us_before and eu_after
    assert ops(us) == {("delete", k) for k in us_before}
    assert ops(eu) == {("create", k) for k in eu_after}
    assert not any(r["destructive"] for r in eu)
    destructive = {r["key"] for r in us if r["destructive"]}
    assert destructive == {
        "domain:harbor.mail.example.com",
        "domain:harborlogistics.com",
        "dns:harbor.mail.example.com:MX",
        "dns:mailfleet._domainkey.harbor.mail.example.com:TXT",
        "dns:mailfleet._domainkey.harborlogistics.com:TXT",
    }
    destructive_first(us)
    rows = by_key(us)
    sender = rows["domain:harborlogistics.com"]["reasons"][0]
    assert "moves to stack eu" in sender and "domain names are global" in sender
    assert "moves to stack eu" in rows["domain:harbor.mail.example.com"]["reasons"][0]
    # Each deleted row shows the old value; each created row the new one.
    for key, row in rows.items():
        assert row["new"] == [] and row["old"], key
    # Only the US stack: the same US rows, nothing of the EU.
    only_us = repo.diff_json("--base", "HEAD~1", "--head", "HEAD", "--stack", "us")
    assert [s["stack"] for s in only_us["stacks"]] == ["us"]
    assert rows_of(only_us, "us") == us


def test_remove_tenant_deletes_everything_it_had(repo: Repo) -> None:
    before = plan_items(repo.plan(), "eu", "acme")
    repo.tenant("acme").unlink()
    repo.commit("acme leaves")
    doc = repo.diff_json("--base", "HEAD~1", "--head", "HEAD")
    eu = rows_of(doc, "eu")
    assert ops(eu) == {("delete", k) for k in before}
    assert {r["key"] for r in eu if r["destructive"]} == {
        "domain:acme.mail.example.eu",
        "dns:acme.mail.example.eu:MX",
        "dns:mailfleet._domainkey.acme.mail.example.eu:TXT",
    }
    rows = by_key(eu)
    assert "deleted in eu" in rows["domain:acme.mail.example.eu"]["reasons"][0]
    assert rows["dns:acme.mail.example.eu:MX"]["old"] == MX_EU
    assert rows_of(doc, "us") == []


def test_working_tree_is_the_default_head(repo: Repo) -> None:
    repo.edit("acme", "mailboxes: [support, sales]", "mailboxes: [support, sales, billing]")
    doc = repo.diff_json("--base", "HEAD")
    assert doc["head"] == {"rev": "WORKTREE", "commit": None}
    assert ops(rows_of(doc, "eu")) == {("create", "route:billing@acme.mail.example.eu")}
    # The committed head does not have the change yet.
    committed = repo.diff_json("--base", "HEAD", "--head", "HEAD")
    assert all(s["rows"] == [] for s in committed["stacks"])
    table = repo.diff("--base", "HEAD")
    assert table.returncode == 0
    assert "billing@acme.mail.example.eu" in table.stdout
    assert "Creates=1, Updates=0, Replaces=0, Deletes=0, Destructive=0" in table.stdout


def test_update_shows_only_changed_fields_side_by_side(repo: Repo) -> None:
    repo.edit("nordlys", "tracking: true", "tracking: false")
    repo.commit("nordlys tracking off")
    eu = by_key(rows_of(repo.diff_json("--base", "HEAD~1", "--head", "HEAD"), "eu"))
    dom = eu["domain:nordlys-reiser.no"]
    assert dom["op"] == "update" and not dom["destructive"]
    assert dom["fields"] == ["open_tracking", "click_tracking"]
    assert dom["old"] == ["open_tracking=true", "click_tracking=true"]
    assert dom["new"] == ["open_tracking=false", "click_tracking=false"]
    assert eu["dns:email.nordlys-reiser.no:CNAME"]["op"] == "delete"
    assert eu["webhook:nordlys-reiser.no:opened"]["op"] == "delete"


def test_fail_on_destructive_exit_codes(repo: Repo) -> None:
    repo.edit("nordlys", "policy: reject", "policy: none")
    safe = repo.commit("safe")
    repo.edit("redwood", "selector: rw1", "selector: rw2")
    risky = repo.commit("risky")
    ok = repo.diff("--base", f"{safe}~1", "--head", safe, "--fail-on", "destructive")
    assert ok.returncode == 0, ok.stderr
    bad = repo.diff("--base", safe, "--head", risky, "--fail-on", "destructive", "--format", "json")
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["destructive"] is True  # the report is still printed
    assert bad.stderr == ""
    without = repo.diff("--base", safe, "--head", risky)
    assert without.returncode == 0


def test_invalid_tenant_at_a_revision_lists_rev_path_field(repo: Repo) -> None:
    repo.edit("acme", "region: eu", "region: eu\ndmarc: {policy: maybe}")
    repo.tenant("broken").write_text("slug: [\n")
    repo.commit("bad")
    proc = repo.diff("--base", "HEAD~1", "--head", "HEAD")
    assert proc.returncode == 1
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert any(line.startswith("HEAD:tenants/acme.yaml: dmarc.policy: ") for line in lines), lines
    assert any(line.startswith("HEAD:tenants/broken.yaml: line ") for line in lines), lines
    assert not any(line.startswith("HEAD~1:") for line in lines)
    assert "Traceback" not in proc.stderr
    # Reversed, the problems belong to the base revision.
    rev = repo.diff("--base", "HEAD", "--head", "HEAD~1")
    assert rev.returncode == 1
    assert any(line.startswith("HEAD:tenants/acme.yaml: dmarc.policy: ") for line in rev.stderr.splitlines())


def test_bad_revision_is_a_usage_error(repo: Repo) -> None:
    for args, flag in (
        (("--base", "no-such-rev"), "--base"),
        (("--base", "HEAD", "--head", "nope~3"), "--head"),
        (("--base", "--all"), "--base"),
    ):
        proc = repo.diff(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith(f"{flag}: "), proc.stderr
        assert proc.stdout == ""


def test_outside_git_is_a_usage_error(project_dir, cli) -> None:
    proc = cli("diff", "--base", "HEAD", cwd=project_dir)
    assert proc.returncode == 2
    assert "not inside a git repository" in proc.stderr and proc.stderr.count("\n") == 1


def test_stack_file_change_touches_every_tenant_of_that_stack(repo: Repo) -> None:
    stack = repo.root / "Pulumi.us.yaml"
    stack.write_text(stack.read_text().replace("recordTtl: 3600", "recordTtl: 300"))
    repo.commit("us ttl 300")
    doc = repo.diff_json("--base", "HEAD~1", "--head", "HEAD")
    assert rows_of(doc, "eu") == []
    us = rows_of(doc, "us")
    assert us and all(r["kind"] == "dns" and r["op"] == "update" for r in us)
    assert all(r["ttl"] == {"old": 3600, "new": 300} and r["fields"] == ["ttl"] for r in us)
    plan = repo.plan()
    us_plan = next(s for s in plan["stacks"] if s["stack"] == "us")
    records = {f"dns:{r['name']}:{r['type']}" for t in us_plan["tenants"] for r in t["dns_records"]}
    assert {r["key"] for r in us} == records


def test_stack_aws_region_change_moves_every_outbound_parameter(repo: Repo) -> None:
    stack = repo.root / "Pulumi.eu.yaml"
    stack.write_text(stack.read_text().replace("aws:region: eu-central-1", "aws:region: eu-west-1"))
    repo.commit("eu parameters to eu-west-1")
    eu = rows_of(repo.diff_json("--base", "HEAD~1", "--head", "HEAD"), "eu")
    plan = repo.plan()
    slugs = {t["slug"] for s in plan["stacks"] if s["stack"] == "eu" for t in s["tenants"]}
    assert {r["key"] for r in eu} == {f"outbound:/mailfleet/{slug}/outbound" for slug in slugs}
    for r in eu:
        assert (r["op"], r["fields"], r["where"]) == ("update", ["aws_region"], "ssm eu-west-1")
        assert (r["old"], r["new"]) == (["aws_region=eu-central-1"], ["aws_region=eu-west-1"])


def test_no_stack_files_at_either_revision_is_an_error(repo: Repo) -> None:
    sub = repo.root / "docs"
    sub.mkdir()
    proc = run_cli("diff", "--base", "HEAD", "--format", "json", cwd=sub)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "no stack files (Pulumi.<stack>.yaml) at HEAD" in proc.stderr
