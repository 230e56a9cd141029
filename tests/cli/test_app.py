"""mailfleet.cli.app: the lazy command table."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer

from mailfleet.cli.app import COMMANDS, app


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_help_line_is_the_commands_own_summary(name: str) -> None:
    """`mailfleet --help` lists COMMANDS' lines without importing the commands: keep them equal
    to the first line of each command's own help, or the listing drifts."""
    root = typer.main.get_command(app)
    command = root.get_command(None, name)  # type: ignore[arg-type]
    assert command is not None and command.name == name
    own = (command.help or "").strip().splitlines()[0]
    assert COMMANDS[name][1] == own


def test_help_imports_no_command_module() -> None:
    code = (
        "import sys\n"
        "from mailfleet.cli.app import main\n"
        "sys.argv = ['mailfleet', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "loaded = sorted(m for m in sys.modules if m.endswith('_cmd') or m.startswith(('pydantic', 'dns', 'requests')))\n"
        "print('LOADED', loaded, file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "LOADED []" in proc.stderr, proc.stderr
    for name in COMMANDS:
        assert f"  {name} " in proc.stdout


def test_unknown_command_is_a_usage_error() -> None:
    proc = subprocess.run([sys.executable, "-m", "mailfleet", "frobnicate"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "No such command 'frobnicate'" in proc.stderr
