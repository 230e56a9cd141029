"""Render a PR comment as GitHub would show it, in a real browser, and measure whether it fits.

Markdown -> HTML by cmarkgfm (bindings to GitHub's own fork of cmark, the renderer of comments,
with raw HTML such as <details>, <br> and <wbr> kept, as GitHub's sanitizer keeps them), styled
by GitHub's markdown CSS (the npm package github-markdown-css, in .tools/ by `make tools`), in
a box of GitHub's comment width, laid out by headless Chromium (Debian's `chromium`). A script
in the page writes what overflows into the DOM that `--dump-dom` prints.

    python -m tests.diff.render COMMENT.md [PNG]   # prints the measurements; PNG: a screenshot
    python -m tests.diff.render --example PNG      # the example comment of docs/diff.md
"""

from __future__ import annotations

import html as html_lib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import cmarkgfm
from cmarkgfm.cmark import Options

REPO = Path(__file__).resolve().parents[2]
CSS = REPO / ".tools" / "node_modules" / "github-markdown-css" / "github-markdown-light.css"
COMMENT_WIDTH = 900  # px: GitHub's comment box on a pull request's conversation tab

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><style>{css}
body {{ margin: 0; background: #fff; }}
.markdown-body {{ box-sizing: border-box; width: {width}px; padding: 16px; border: 1px solid #d0d7de; }}
</style></head>
<body><article class="markdown-body" id="comment">{html}</article>
<pre id="result" style="display:none"></pre>
<script>
const box = document.getElementById("comment");
const tables = [...box.querySelectorAll("table")].map((t) => ({{
  width: t.clientWidth, scroll: t.scrollWidth, rows: t.rows.length,
}}));
const out = {{
  box: box.clientWidth, boxScroll: box.scrollWidth, height: box.scrollHeight, tables,
  details: box.querySelectorAll("details").length,
  text: box.innerText,
}};
document.getElementById("result").textContent = "RESULT" + JSON.stringify(out) + "END";
</script></body></html>
"""


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def to_html(markdown: str) -> str:
    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)


def render(markdown: str, screenshot: Path | None = None, width: int = COMMENT_WIDTH) -> dict[str, Any]:
    """The layout of ``markdown`` as a GitHub comment: the box, every table's visible and
    scroll width, and the page height; with ``screenshot``, a PNG of the comment."""
    browser = chromium()
    if browser is None:
        raise RuntimeError("Chromium is not installed (apt-get install chromium)")
    if not CSS.is_file():
        raise RuntimeError(f"GitHub's markdown CSS is not installed at {CSS} (make tools)")
    page = PAGE.format(css=CSS.read_text(), width=width, html=to_html(markdown))
    with tempfile.TemporaryDirectory(prefix="mailfleet-render-") as tmp:
        html = Path(tmp) / "comment.html"
        html.write_text(page)
        base = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            f"--user-data-dir={tmp}/profile",
            "--virtual-time-budget=3000",
        ]
        proc = subprocess.run(
            [*base, "--dump-dom", html.as_uri()], capture_output=True, text=True, timeout=120, check=False
        )
        m = re.search(r"RESULT(.*?)END", proc.stdout)
        if m is None:
            raise RuntimeError(f"chromium printed no measurement: {proc.stderr[-2000:]}")
        result: dict[str, Any] = json.loads(html_lib.unescape(m.group(1)))
        if screenshot is not None:
            height = int(result["height"]) + 40
            shot = subprocess.run(
                [*base, f"--screenshot={screenshot}", f"--window-size={width + 32},{height}", html.as_uri()],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            if shot.returncode != 0 or not screenshot.is_file():
                raise RuntimeError(f"chromium made no screenshot: {shot.stderr[-2000:]}")
    return result


def overflowing(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The tables wider than what the comment box shows (GitHub would add a scroll bar)."""
    return [t for t in result["tables"] if t["scroll"] > t["width"] + 1]


EXAMPLE_LOG = """Previewing update (us):
 ~  mailgun:index/domain:Domain redwood-domain-redwood.mail.example.com replace [diff: ~dkimSelector]
 -  mailgun:index/domain:Domain harbor-domain-harborlogistics.com delete
 ~  cloudflare:index/dnsRecord:DnsRecord redwood-dns-_dmarc.redwood-outdoors.com-TXT update [diff: ~content,ttl]
Resources:
    ~ 3 to update
    - 3 to delete
    +-2 to replace
    8 changes. 2 unchanged
"""


def example_comment() -> str:
    """The comment of an example change: the example project with two edits, against the
    committed files, and the preview fixture of stack us with its human output."""
    import os
    import shutil as sh

    with tempfile.TemporaryDirectory(prefix="mailfleet-example-") as tmp:
        root = Path(tmp)
        for name in ("Pulumi.yaml", "Pulumi.eu.yaml", "Pulumi.us.yaml"):
            sh.copy(REPO / name, root / name)
        sh.copytree(REPO / "tenants", root / "tenants")
        env = {**os.environ, "GIT_AUTHOR_NAME": "x", "GIT_AUTHOR_EMAIL": "x@example.com",
               "GIT_COMMITTER_NAME": "x", "GIT_COMMITTER_EMAIL": "x@example.com"}  # fmt: skip
        for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "base"]):
            subprocess.run(["git", *args], cwd=root, env=env, check=True)
        redwood = root / "tenants" / "redwood.yaml"
        redwood.write_text(redwood.read_text().replace("selector: rw1", "selector: rw2"))
        harbor = root / "tenants" / "harbor.yaml"
        harbor.write_text(harbor.read_text().replace("[amazonses.com]", "[amazonses.com, spf.example.net]"))
        log = root / "preview.txt"
        log.write_text(EXAMPLE_LOG)
        proc = subprocess.run(
            [sys.executable, "-m", "mailfleet", "diff", "--base", "HEAD", "--stack", "us", "--format",
             "markdown", "--preview", str(REPO / "tests/diff/fixtures/preview_changes.json"),
             "--preview-log", str(log)],
            cwd=root, env={**env, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, check=True,
        )  # fmt: skip
        return proc.stdout


if __name__ == "__main__":
    md = example_comment() if sys.argv[1] == "--example" else Path(sys.argv[1]).read_text()
    png = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    print(json.dumps({k: v for k, v in render(md, png).items() if k != "text"}, indent=2))
