"""``mailfleet.http`` sits below the utilities: stdlib, third-party, itself, ``mailfleet.errors``."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "mailfleet" / "http"
ALLOWED = ("mailfleet.http", "mailfleet.errors")


def test_imports_only_itself_and_mailfleet_errors() -> None:
    files = sorted(PACKAGE.glob("*.py"))
    assert {p.name for p in files} >= {"__init__.py", "retry.py", "redact.py", "transport.py"}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{path.name}: use absolute imports"
                names = [node.module or ""]
            else:
                continue
            for name in names:
                if name == "mailfleet" or name.startswith("mailfleet."):
                    assert name.startswith(ALLOWED), f"{path.name} imports {name}"


def test_retry_and_redact_load_without_requests() -> None:
    code = (
        "import json, sys, mailfleet.http.retry, mailfleet.http.redact; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('mailfleet', 'requests')))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parents[1]
    ).stdout
    assert json.loads(out) == ["mailfleet", "mailfleet.http", "mailfleet.http.redact", "mailfleet.http.retry"]


def test_the_layers_contract_puts_it_between_the_utilities_and_errors() -> None:
    text = (PACKAGE.parents[1] / "pyproject.toml").read_text()
    layers = [line.strip(' ",') for line in text.split("layers = [", 1)[1].split("]", 1)[0].splitlines()]
    layers = [line for line in layers if line]
    assert layers[-2:] == ["mailfleet.http", "mailfleet.errors"]
    assert "mailfleet.mailgun" in layers[-3] and "mailfleet.cloudflare" in layers[-3]
