"""`mailfleet diff`: adopted items show as imports, never as creates, in every format."""

from __future__ import annotations

import json

from tests.diff.conftest import Repo

ACME = "acme.mail.example.eu"
ADOPTED = f"""adopted:
  mailgun:
    taken_at: '2026-01-02T03:04:05+00:00'
    region: eu
    domains: [{ACME}]
    routes:
      support@{ACME}: 5f0c{{n}}
"""
TENANT_KINDS = ("delivered", "permanent_fail", "temporary_fail", "complained", "unsubscribed")


def adopt_acme(repo: Repo, n: int = 1) -> None:
    path = repo.tenant("acme")
    text = path.read_text().split("adopted:")[0]
    path.write_text(text + ADOPTED.replace("{n}", str(n)))


def rows_of(doc: dict, stack: str = "eu") -> list[dict]:
    return next(s for s in doc["stacks"] if s["stack"] == stack)["rows"]


def test_an_existing_tenant_gaining_adoption_shows_imports(repo: Repo) -> None:
    adopt_acme(repo)
    doc = repo.diff_json("--base", "HEAD", "--stack", "eu")
    rows = rows_of(doc)
    got = {(r["op"], r["key"], r["import_id"]) for r in rows}
    assert got == {
        ("import", f"domain:{ACME}", f"eu:{ACME}"),
        ("import", f"route:support@{ACME}", "eu:5f0c1"),
        *{("import", f"webhook:{ACME}:{k}", f"eu:{ACME}:{k}") for k in TENANT_KINDS},
    }
    assert not any(r["destructive"] for r in rows)
    route = next(r for r in rows if r["kind"] == "route")
    assert route["new"] == ["import eu:5f0c1"] and route["old"] == []  # nothing else changed
    summary = doc["stacks"][0]["summary"]
    assert summary["import"] == 7 and summary["create"] == 0 and doc["destructive"] is False


def test_a_new_adopted_tenant_imports_mailgun_items_and_creates_the_rest(repo: Repo) -> None:
    repo.tenant("zed").write_text(
        "slug: zed\nname: Zed\nregion: eu\nmailboxes: [info]\ndmarc: {policy: none}\n"
        "adopted:\n  mailgun:\n    taken_at: '2026-01-02T03:04:05+00:00'\n    region: eu\n"
        "    domains: [zed.mail.example.eu]\n    routes: {info@zed.mail.example.eu: abc}\n"
    )
    rows = rows_of(repo.diff_json("--base", "HEAD", "--stack", "eu"))
    ops = {r["kind"]: set() for r in rows}
    for r in rows:
        ops[r["kind"]].add(r["op"])
    assert ops["mailgun domain"] == {"import"} and ops["route"] == {"import"} and ops["webhook"] == {"import"}
    assert ops["dns"] == {"create"} and ops["outbound"] == {"create"}
    domain = next(r for r in rows if r["kind"] == "mailgun domain")
    assert domain["new"][-1] == "import eu:zed.mail.example.eu"
    assert domain["new"][0].startswith("platform domain, dkim mailfleet/2048")
    # creates before imports inside a tenant
    order = [r["op"] for r in rows]
    assert order.index("import") > max(i for i, op in enumerate(order) if op == "create")


def test_a_changed_import_id_is_an_import_again(repo: Repo) -> None:
    adopt_acme(repo, 1)
    repo.commit("adopted")
    adopt_acme(repo, 2)  # the route was recreated in Mailgun: a new id
    rows = rows_of(repo.diff_json("--base", "HEAD", "--stack", "eu"))
    assert [(r["op"], r["key"], r["import_id"]) for r in rows] == [
        ("import", f"route:support@{ACME}", "eu:5f0c2")
    ]


def test_unchanged_adoption_gives_no_row_and_no_import_count(repo: Repo) -> None:
    adopt_acme(repo)
    repo.commit("adopted")
    doc = repo.diff_json("--base", "HEAD", "--stack", "eu")
    assert rows_of(doc) == []
    assert "import" not in doc["stacks"][0]["summary"]


def test_table_and_markdown_show_the_import_rows(repo: Repo) -> None:
    adopt_acme(repo)
    table = repo.diff("--base", "HEAD", "--stack", "eu")
    assert table.returncode == 0, table.stderr
    assert "Summary: Creates=0, Imports=7, Updates=0, Replaces=0, Deletes=0, Destructive=0" in table.stdout
    assert "Import" in table.stdout and "import eu:5f0c1" in table.stdout
    md = repo.diff("--base", "HEAD", "--stack", "eu", "--format", "markdown")
    assert "**Summary:** Creates=0, Imports=7, Updates=0" in md.stdout
    # (<wbr> marks where a browser may wrap a long name; the text is the same.)
    route_line = next(
        line for line in md.stdout.replace("<wbr>", "").splitlines() if f"support@{ACME}" in line
    )
    assert route_line.startswith("| Import | **") and " · acme |" in route_line
    assert "import eu:5f0c1" in route_line
    doc = json.loads(repo.diff("--base", "HEAD", "--stack", "eu", "--format", "json").stdout)
    assert all(r["op"] == "import" for r in rows_of(doc))
