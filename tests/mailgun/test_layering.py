"""``mailfleet.mailgun`` is a ground-floor package: stdlib, third-party, itself, ``mailfleet.errors``."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

from mailfleet.mailgun.client import MailgunClient
from mailfleet.mailgun.hosts import API_BASES

PACKAGE = Path(__file__).resolve().parents[2] / "mailfleet" / "mailgun"
ALLOWED = ("mailfleet.mailgun", "mailfleet.http", "mailfleet.errors")


def imported_modules(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: use absolute imports"
            base = node.module or ""
            names.append(base)
            names.extend(f"{base}.{alias.name}" for alias in node.names if base == "mailfleet")
    return names


def test_imports_only_itself_and_mailfleet_errors() -> None:
    files = sorted(PACKAGE.glob("*.py"))
    assert files
    for path in files:
        for name in imported_modules(path):
            if name == "mailfleet" or name.startswith("mailfleet."):
                assert name.startswith(ALLOWED), f"{path.name} imports {name}"


def test_importing_it_loads_nothing_else_of_mailfleet() -> None:
    code = (
        "import json, sys, mailfleet.mailgun.client; "  # the client imports every other module
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('mailfleet'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parents[1]
    ).stdout
    loaded = json.loads(out)
    assert [m for m in loaded if m != "mailfleet" and not m.startswith(ALLOWED)] == []


def test_api_bases_are_mailguns_and_the_client_default() -> None:
    assert API_BASES == {"us": "https://api.mailgun.net", "eu": "https://api.eu.mailgun.net"}
    for region, base in API_BASES.items():
        assert MailgunClient(region, "key-layering-test").base_url == base
