"""Fixtures for diff tests: a real git repository holding a copy of the example project."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
}


class Repo:
    """A git repository in a temp dir; ``commit`` records every change of the working tree."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def git(self, *args: str) -> str:
        import os

        proc = subprocess.run(
            ["git", *args],
            cwd=self.root,
            env={**os.environ, **GIT_ENV},
            capture_output=True,
            text=True,
            check=True,
        )
        return proc.stdout.strip()

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    def tenant(self, slug: str) -> Path:
        return self.root / "tenants" / f"{slug}.yaml"

    def edit(self, slug: str, old: str, new: str) -> None:
        path = self.tenant(slug)
        text = path.read_text()
        assert old in text, f"{old!r} not in {path}"
        path.write_text(text.replace(old, new, 1))

    def diff(self, *args: str, env: dict[str, str] | None = None):
        return run_cli("diff", *args, cwd=self.root, env=env)

    def diff_json(self, *args: str) -> dict[str, Any]:
        proc = self.diff(*args, "--format", "json")
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    def plan(self) -> dict[str, Any]:
        """``mailfleet plan --format json`` of the working tree (a real process)."""
        proc = run_cli("plan", "--format", "json", cwd=self.root)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)


@pytest.fixture
def repo(project_dir: Path) -> Repo:
    r = Repo(project_dir)
    r.git("init", "-q", "-b", "main")
    r.commit("base")
    return r


def rows_of(doc: dict[str, Any], stack: str) -> list[dict[str, Any]]:
    for s in doc["stacks"]:
        if s["stack"] == stack:
            return s["rows"]
    raise AssertionError(f"no stack {stack} in {[s['stack'] for s in doc['stacks']]}")


def plan_items(plan: dict[str, Any], stack: str, slug: str) -> dict[str, dict[str, Any]]:
    """The keys a plan declares for one tenant in one stack (the same ``key``s diff uses)."""
    for s in plan["stacks"]:
        if s["stack"] != stack:
            continue
        for t in s["tenants"]:
            if t["slug"] != slug:
                continue
            out: dict[str, dict[str, Any]] = {}
            for d in t["mailgun_domains"]:
                out[f"domain:{d['name']}"] = d
            for r in t["routes"]:
                out[f"route:{r['address']}"] = r
            for w in t["webhooks"]:
                out[f"webhook:{w['domain']}:{w['kind']}"] = w
            for rec in t["dns_records"]:
                out[f"dns:{rec['name']}:{rec['type']}"] = rec
            if t["outbound"]:
                out[f"outbound:{t['outbound']['parameter']}"] = t["outbound"]
            return out
    return {}


@pytest.fixture
def rows() -> Callable[[dict[str, Any], str], list[dict[str, Any]]]:
    return rows_of
