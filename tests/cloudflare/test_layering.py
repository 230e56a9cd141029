"""``mailfleet.cloudflare`` is a ground-floor package: stdlib, third-party, itself, ``mailfleet.errors``.

Not ``mailfleet.mailgun`` either: the utilities of ``pyproject.toml``'s layers contract are
independent siblings (``|``), which ``lint-imports`` enforces.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "mailfleet" / "cloudflare"
ALLOWED = ("mailfleet.cloudflare", "mailfleet.http", "mailfleet.errors")


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
    assert {p.name for p in files} >= {"__init__.py", "client.py", "errors.py"}
    for path in files:
        for name in imported_modules(path):
            assert not name.startswith("pulumi"), f"{path.name} imports {name}"
            if name == "mailfleet" or name.startswith("mailfleet."):
                assert name.startswith(ALLOWED), f"{path.name} imports {name}"


def test_importing_it_loads_nothing_else_of_mailfleet() -> None:
    code = (
        "import json, sys, mailfleet.cloudflare.client; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('mailfleet'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parents[1]
    ).stdout
    loaded = json.loads(out)
    assert "mailfleet.cloudflare.client" in loaded
    assert [m for m in loaded if m != "mailfleet" and not m.startswith(ALLOWED)] == []


def test_the_layers_contract_names_it_among_the_utilities() -> None:
    text = (PACKAGE.parents[1] / "pyproject.toml").read_text()
    utilities = next(line for line in text.splitlines() if "mailfleet.loader |" in line)
    assert "mailfleet.cloudflare" in [part.strip(' ",') for part in utilities.split("|")]
