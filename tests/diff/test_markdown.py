"""Markdown PR comments: marker per stack, split past 60,000 characters, comment files."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.conftest import run_cli
from tests.diff.conftest import Repo, rows_of

MARKER = re.compile(r"^<!-- mailfleet-diff:stack=(\w+) part=(\d+)/(\d+) -->$")
LIMIT = 60_000


def many_tenants(repo: Repo, n: int) -> None:
    for i in range(n):
        slug = f"bulk{i:03d}"
        repo.tenant(slug).write_text(
            f"slug: {slug}\nname: Bulk {i} GmbH\nregion: eu\nmailboxes: [support, sales, billing]\n"
            "sender_domain:\n"
            f"  name: bulk{i}.example.de\n"
            f"  dns: cloudflare:{i:032x}\n"  # a Cloudflare zone holds one domain
            "  spf_includes: [sendgrid.net]\n"
            "tracking: true\n"
        )


def split_comments(text: str) -> list[str]:
    """Comments as printed on stdout: each starts with its marker line."""
    parts = re.split(r"(?m)^(?=<!-- mailfleet-diff:)", text)
    return [p for p in parts if p.strip()]


def table_rows(comment: str) -> list[str]:
    return [
        line for line in comment.splitlines() if line.startswith("| ") and not line.startswith("| Operation")
    ]


def test_small_diff_is_one_comment_per_stack_with_marker_and_summary(repo: Repo) -> None:
    repo.edit("redwood", "selector: rw1", "selector: rw2")
    proc = repo.diff("--base", "HEAD", "--format", "markdown")
    assert proc.returncode == 0, proc.stderr
    comments = split_comments(proc.stdout)
    # No comment at all for eu, which does not change.
    assert [MARKER.match(c.splitlines()[0]).groups() for c in comments] == [("us", "1", "1")]
    (us,) = comments
    assert "| Operation | Record | Change | Why |" in us
    assert "**Summary:** Creates=2, Updates=0, Replaces=2, Deletes=2, Destructive=4" in us
    unchanged = re.search(r"Unchanged: (\d+) existing records and resources", us)
    doc = repo.diff_json("--base", "HEAD", "--stack", "us")
    assert unchanged and int(unchanged.group(1)) == doc["stacks"][0]["unchanged"] > 0
    rows = table_rows(us)
    assert len(rows) == 6
    assert [r.startswith("| ⚠️ **") for r in rows] == [True] * 4 + [False] * 2
    replace = next(r for r in rows if "Replace" in r and "| **redwood-outdoors.com**<br>" in r)
    # Markdown-special characters are escaped, so dkim_selector renders as written.
    assert "| dkim\\_selector=rw1<br>→ dkim\\_selector=rw2 |" in replace


def test_many_tenants_split_into_parts_under_the_limit(repo: Repo, tmp_path: Path) -> None:
    many_tenants(repo, 90)
    repo.commit("90 tenants")
    doc = repo.diff_json("--base", "HEAD~1", "--head", "HEAD", "--stack", "eu")
    expected = len(rows_of(doc, "eu"))
    # 2 domains, 3 routes, 2x7 webhooks, 10 DNS records (5 platform, 4 sender, 1 DMARC report auth), 1 outbound
    assert expected == 90 * 30

    proc = repo.diff("--base", "HEAD~1", "--head", "HEAD", "--stack", "eu", "--format", "markdown")
    assert proc.returncode == 0, proc.stderr
    comments = split_comments(proc.stdout)
    n = len(comments)
    assert n >= 3
    seen = []
    for i, c in enumerate(comments, start=1):
        assert len(c) <= LIMIT
        assert MARKER.match(c.splitlines()[0]).groups() == ("eu", str(i), str(n))
        assert f"— part {i} of {n}" in c
        assert "**Summary:** Creates=2700, Updates=0, Replaces=0, Deletes=0, Destructive=0" in c
        assert "| Operation | Record | Change | Why |" in c
        assert ("_Continued in part" in c) == (i < n)
        seen += table_rows(c)
    # Every row once, in order, none cut in half.
    assert len(seen) == expected
    assert all(r.endswith(" |") and r.count(" | ") == 3 for r in seen)
    assert len("\n".join(comments)) > LIMIT

    out = tmp_path / "comments"
    (out).mkdir()
    (out / "mailfleet-diff-eu-99.md").write_text("stale part from an earlier run")
    wrote = repo.diff(
        "--base",
        "HEAD~1",
        "--head",
        "HEAD",
        "--stack",
        "eu",
        "--format",
        "markdown",
        "--output-dir",
        str(out),
    )
    assert wrote.returncode == 0, wrote.stderr
    assert wrote.stdout == ""
    manifest = json.loads((out / "comments.json").read_text())
    assert [m["part"] for m in manifest] == list(range(1, n + 1))
    assert all(
        m["parts"] == n and m["stack"] == "eu" and m["key"] == "mailfleet-diff:stack=eu" for m in manifest
    )
    for m, c in zip(manifest, comments, strict=True):
        body = (out / m["file"]).read_text()
        assert body == c.rstrip("\n") + "\n" and body.startswith(m["marker"] + "\n")
    assert not (out / "mailfleet-diff-eu-99.md").exists()
    assert sorted(p.name for p in out.glob("*.md")) == sorted(m["file"] for m in manifest)


def test_output_dir_needs_markdown(repo: Repo, tmp_path: Path) -> None:
    proc = repo.diff("--base", "HEAD", "--output-dir", str(tmp_path / "x"))
    assert proc.returncode == 2 and proc.stderr.startswith("--output-dir: ")
    assert not (tmp_path / "x").exists()


SECRET_CIPHERTEXT = "v1:SUPERSECRETCIPHERTEXTabc123=="
ENV_SECRETS = {
    "MAILGUN_API_KEY": "key-mailgun-env-secret-0001",
    "CLOUDFLARE_API_TOKEN": "cf-token-env-secret-0002",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-env-0003",
    "PULUMI_CONFIG_PASSPHRASE": "passphrase-env-0004",
}


def test_secrets_never_in_output(repo: Repo, tmp_path: Path) -> None:
    for name in ("Pulumi.eu.yaml", "Pulumi.us.yaml"):
        path = repo.root / name
        path.write_text(
            path.read_text()
            + f"  mailgun:apiKey:\n    secure: {SECRET_CIPHERTEXT}\n"
            + "  mailfleet:smtpPasswords:\n    secure: v1:SMTPPASSWORDSECRET==\n"
        )
    repo.commit("secrets in stack config")
    repo.edit("harbor", "region: us", "region: eu")
    repo.edit("redwood", "selector: rw1", "selector: rw2")
    (repo.root / "Pulumi.eu.yaml").write_text(
        (repo.root / "Pulumi.eu.yaml").read_text().replace(SECRET_CIPHERTEXT, "v1:ROTATEDSECRET==")
    )
    outputs = []
    for fmt in ("table", "markdown", "json"):
        proc = repo.diff("--base", "HEAD", "--format", fmt, env=ENV_SECRETS)
        assert proc.returncode == 0, proc.stderr
        assert "harborlogistics.com" in proc.stdout
        outputs.append(proc.stdout + proc.stderr)
    verbose = run_cli("-vv", "diff", "--base", "HEAD", "--format", "json", cwd=repo.root, env=ENV_SECRETS)
    outputs.append(verbose.stdout + verbose.stderr)
    assert "mailfleet.diff" in verbose.stderr  # the debug log ran
    text = "\n".join(outputs)
    for secret in [SECRET_CIPHERTEXT, "ROTATEDSECRET", "SMTPPASSWORDSECRET", *ENV_SECRETS.values()]:
        assert secret not in text
