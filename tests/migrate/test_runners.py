"""mailfleet.migrate.runners: a MAILFLEET_STACK_RUNNER that is not a runner is one usage line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mailfleet.errors import UsageError
from mailfleet.migrate.runners import load_runner
from tests.conftest import run_cli

PLUGIN = """
class Half:
    def up(self, stack): ...
    def resources(self, stack): ...

class Whole(Half):
    def unprotect(self, stack, urns): ...
    def state_move(self, src, dst, urns): ...

not_callable = 42

def half(**kw): return Half()
def whole(**kw): return Whole()
def broken(**kw): raise RuntimeError("no backend configured")
"""


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "fake_runner_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "fake_runner_plugin"
    sys.modules.pop("fake_runner_plugin", None)


@pytest.mark.parametrize(
    ("attr", "why"),
    [
        ("half", "the object it returns (Half) has no unprotect, state_move"),
        ("not_callable", "not_callable is not callable"),
        ("broken", "its factory failed: RuntimeError: no backend configured"),
        ("missing", "cannot load it"),
    ],
)
def test_not_a_runner(plugin: str, tmp_path: Path, attr: str, why: str) -> None:
    with pytest.raises(UsageError) as exc:
        load_runner(f"{plugin}:{attr}", tmp_path, tmp_path)
    (line,) = exc.value.lines()
    assert line.startswith(f"MAILFLEET_STACK_RUNNER: '{plugin}:{attr}' is not a stack runner: ")
    assert why in line


def test_a_runner_loads(plugin: str, tmp_path: Path) -> None:
    runner = load_runner(f"{plugin}:whole", tmp_path, tmp_path)
    assert type(runner).__name__ == "Whole"


def test_not_a_runner_through_the_cli(project_dir: Path, plugin: str, tmp_path: Path) -> None:
    env = {
        "MAILFLEET_STACK_RUNNER": f"{plugin}:half",
        "MAILGUN_API_KEY": "key-not-used",
        "PYTHONPATH": f"{tmp_path}:{Path(__file__).resolve().parents[2]}",
    }
    before = (project_dir / "tenants" / "acme.yaml").read_bytes()
    result = run_cli("migrate", "acme", "--to", "us", "--yes", cwd=project_dir, env=env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"MAILFLEET_STACK_RUNNER: '{plugin}:half' is not a stack runner: the object it returns (Half) "
        "has no unprotect, state_move"
    ]
    assert (project_dir / "tenants" / "acme.yaml").read_bytes() == before
