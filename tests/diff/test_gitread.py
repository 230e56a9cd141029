"""Reading revisions through git: one ``git cat-file --batch`` for every blob, exact bytes."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

from mailfleet.diff import gitread
from tests.diff.conftest import Repo, rows_of


def git_shim(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A ``git`` first on PATH that logs each invocation, then runs the real git."""
    real = shutil.which("git")
    assert real is not None
    bindir = tmp_path / "shim"
    bindir.mkdir()
    log = tmp_path / "git.log"
    shim = bindir / "git"
    shim.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec "{real}" "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    return {"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}, log


def test_two_revisions_of_many_tenants_read_with_one_cat_file(repo: Repo, tmp_path: Path) -> None:
    for i in range(300):
        repo.tenant(f"gen{i:03d}").write_text(
            f"slug: gen{i:03d}\nname: Gen {i}\nregion: us\nmailboxes: [help]\n"
        )
    a = repo.commit("300 tenants")
    for i in range(0, 300, 30):
        repo.edit(f"gen{i:03d}", "mailboxes: [help]", "mailboxes: [help, sales]")
    b = repo.commit("10 changed")
    env, log = git_shim(tmp_path)
    proc = repo.diff("--base", a, "--head", b, "--format", "json", env=env)
    assert proc.returncode == 0, proc.stderr
    us = rows_of(json.loads(proc.stdout), "us")
    assert {(r["op"], r["key"]) for r in us} == {
        ("create", f"route:sales@gen{i:03d}.mail.example.com") for i in range(0, 300, 30)
    }
    calls = log.read_text().splitlines()
    assert sum(1 for c in calls if c.split()[2:3] == ["cat-file"]) == 1, calls
    # rev-parse toplevel, 2 x rev-parse, 2 x 2 ls-tree, 1 cat-file: never one call per file.
    assert len(calls) <= 8, calls


def test_cat_blobs_returns_exact_bytes(repo: Repo) -> None:
    payloads = {
        "empty": b"",
        "newlines": b"\n\n\nslug: x\n\n",
        "binary": bytes(range(256)) * 3,
        "no-final-newline": b"slug: y",
    }
    oids = {}
    for name, data in payloads.items():
        path = repo.root / f"{name}.bin"
        path.write_bytes(data)
        oids[name] = repo.git("hash-object", "-w", str(path))
    blobs = gitread.cat_blobs(repo.root, list(oids.values()))
    assert {name: blobs[oid] for name, oid in oids.items()} == payloads


def test_empty_tenant_file_at_a_revision(repo: Repo) -> None:
    repo.tenant("acme").write_text("")
    repo.commit("acme emptied")
    proc = repo.diff("--base", "HEAD~1", "--head", "HEAD")
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == ["HEAD:tenants/acme.yaml: file is empty"]


def test_revision_without_a_tenants_directory(repo: Repo) -> None:
    saved = {p.name: p.read_bytes() for p in (repo.root / "tenants").iterdir()}
    shutil.rmtree(repo.root / "tenants")
    bare = repo.commit("no tenants yet")
    (repo.root / "tenants").mkdir()
    for name, data in saved.items():
        (repo.root / "tenants" / name).write_bytes(data)
    full = repo.commit("tenants back")
    grown = json.loads(repo.diff("--base", bare, "--head", full, "--format", "json").stdout)
    shrunk = json.loads(repo.diff("--base", full, "--head", bare, "--format", "json").stdout)
    for stack in ("eu", "us"):
        created = {(r["group"], r["key"]) for r in rows_of(grown, stack)}
        deleted = {(r["group"], r["key"]) for r in rows_of(shrunk, stack)}
        assert created and created == deleted
        assert {r["op"] for r in rows_of(grown, stack)} == {"create"}
        assert {r["op"] for r in rows_of(shrunk, stack)} == {"delete"}
    groups = {r["group"] for stack in ("eu", "us") for r in rows_of(grown, stack)}
    assert groups == {n[: -len(".yaml")] for n in saved}
