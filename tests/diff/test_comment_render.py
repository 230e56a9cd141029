"""The PR comment laid out by a real browser (headless Chromium, GitHub's renderer and markdown
CSS, GitHub's ~900 px comment box): no table wider than the box, the raw preview folded.
tests/diff/render.py does the rendering; `make comment-screenshot` keeps docs/pr-comment.png."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailfleet.diff import outputs
from mailfleet.diff.change import Change, StackChanges
from mailfleet.diff.outputs import Report, Section
from tests.diff import render
from tests.diff.conftest import Repo

FIXTURES = Path(__file__).parent / "fixtures"
DKIM_2048 = "v=DKIM1; k=rsa; p=" + ("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo" * 6)


@pytest.fixture(autouse=True)
def browser() -> None:
    if render.chromium() is None:
        pytest.fail("Chromium is needed to render the PR comment: apt-get install chromium (.ci/run does)")
    if not render.CSS.is_file():
        pytest.fail(f"GitHub's markdown CSS is missing at {render.CSS}: run `make tools`")


def worst_case() -> Report:
    """Rows with the longest values a comment carries: a 2048-bit DKIM key, long names, a
    Cloudflare zone id, long URLs, long reasons."""
    rows = []
    long_domain = "mail-notifications.a-very-long-customer-subdomain.example-company.co.uk"
    dkim = Change(
        "eu",
        "longname",
        "create",
        "dns",
        "k",
        f"mailfleet2024._domainkey.{long_domain}",
        "TXT",
        "cloudflare 4f1c2a9d0b7e46c3a8d25e6f9b0c1d2e",
    )
    dkim.new, dkim.ttl_new = [DKIM_2048], 3600
    rows.append(dkim)
    upd = Change(
        "eu", "longname", "update", "webhook", "w", f"{long_domain} permanent_fail", "webhook", "mailgun eu"
    )
    upd.old = ["urls=https://crm.example.eu/mailgun/events/longname-customer-with-a-long-slug"]
    upd.new = ["urls=https://crm.example.eu/mailgun/events-v2/longname-customer-with-a-long-slug"]
    rows.append(upd)
    rep = Change(
        "eu", "longname", "replace", "mailgun domain", "d", long_domain, "Mailgun domain", "mailgun eu"
    )
    rep.old, rep.new = ["dkim_selector=mailfleet2024"], ["dkim_selector=mailfleet2025"]
    rep.reasons = [
        "dkim_selector mailfleet2024 → mailfleet2025 forces pulumi-mailgun to replace the domain (delete, "
        "then create): its DKIM key, SMTP credentials, suppressions and stored messages are lost"
    ]
    rows.append(rep)
    changes = StackChanges("eu", "eu", rows)
    changes.unchanged = 1234
    changes.sort()
    return Report(
        "mailfleet-diff", "mailfleet diff", "Desired state at `origin/main` → the working tree.", [changes]
    )


def test_the_real_comment_fits_the_comment_box(repo: Repo, tmp_path: Path) -> None:
    repo.edit("redwood", "selector: rw1", "selector: rw2")
    repo.edit("harbor", "spf_includes: [amazonses.com]", "spf_includes: [amazonses.com, spf.example.net]")
    log = tmp_path / "preview.txt"
    log.write_text("Previewing update (us):\n" + "  ~ mailgun:index/domain:Domain redwood update\n" * 40)
    proc = repo.diff(
        "--base", "HEAD", "--stack", "us", "--format", "markdown",
        "--preview", str(FIXTURES / "preview_changes.json"), "--preview-log", str(log),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = render.render(proc.stdout)
    assert len(result["tables"]) == 2  # the diff's and the preview's
    assert all(t["rows"] > 2 for t in result["tables"])
    assert render.overflowing(result) == []
    assert result["boxScroll"] <= result["box"]
    assert result["details"] == 1  # the raw preview, folded


def test_the_longest_values_wrap_inside_the_box() -> None:
    report = worst_case()
    (comment,) = outputs.comments(report)
    result = render.render(comment.body)
    assert render.overflowing(result) == [], result
    # The key stays whole for whoever copies it: only <wbr> break opportunities were added.
    assert DKIM_2048 in result["text"]


def test_the_measure_sees_an_overflow(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without break opportunities the 2048-bit key cannot wrap: the browser reports the table
    # wider than the box, so the test above is not passing by construction.
    monkeypatch.setattr(outputs, "_breakable", lambda text: text)
    (comment,) = outputs.comments(worst_case())
    result = render.render(comment.body)
    assert render.overflowing(result), result


def test_a_preview_section_and_its_raw_output_render(tmp_path: Path) -> None:
    report = worst_case()
    preview = StackChanges("eu", None, [], group_label="Resource")
    preview.unchanged, preview.not_shown = 7, {"aws:ssm/parameter:Parameter": 2}
    report.previews["eu"] = Section("pulumi preview", "source", preview, "```\nraw ``` output\n" * 3)
    (comment,) = outputs.comments(report)
    result = render.render(comment.body)
    assert result["details"] == 1 and len(result["tables"]) == 1
    assert render.overflowing(result) == []
