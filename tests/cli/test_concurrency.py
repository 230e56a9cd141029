"""Concurrent `tenant add` with real processes, and a reader that must never see a bad file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from mailfleet.model.load import load_tenant_file
from tests.conftest import REPO

READER = r"""
import json, sys
from pathlib import Path
from mailfleet.model.load import load_tenant_file
tenants, stop, ready = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
reads, seen, errors = 0, set(), []
while True:
    last = stop.exists()
    for path in sorted(tenants.glob("*.yaml")):
        tenant, problems = load_tenant_file(path)
        reads += 1
        if problems:
            errors.append([str(p) for p in problems])
        else:
            seen.add(tenant.slug)
    ready.touch()
    if last:
        break
print(json.dumps({"reads": reads, "seen": sorted(seen), "errors": errors}))
"""


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("MAILFLEET_ROOT", None)
    return env


def _spawn(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=cwd,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _start_reader(project_dir: Path) -> tuple[subprocess.Popen[str], Path]:
    stop, ready = project_dir / "stop", project_dir / "ready"
    reader = _spawn(["-c", READER, str(project_dir / "tenants"), str(stop), str(ready)], project_dir)
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert reader.poll() is None, reader.communicate()
        assert time.monotonic() < deadline, "reader never started"
        time.sleep(0.02)
    return reader, stop


def _add(slug: str, i: int) -> list[str]:
    args = [
        "-m",
        "mailfleet",
        "tenant",
        "add",
        slug,
        "--region",
        "eu" if i % 2 else "us",
        "--mailbox",
        "support",
    ]
    if i % 3 == 0:
        args += ["--sender-domain", f"{slug}-{i}.example.org", "--tracking"]
    return args


def test_twenty_distinct_adds_give_twenty_valid_files(project_dir: Path) -> None:
    reader, stop = _start_reader(project_dir)
    slugs = [f"par{i:02d}" for i in range(20)]
    procs = [_spawn(_add(s, i), project_dir) for i, s in enumerate(slugs)]
    results = [(*p.communicate(timeout=300), p.returncode) for p in procs]
    stop.touch()
    report = json.loads(reader.communicate(timeout=120)[0])
    for _out, errs, code in results:
        assert code == 0, errs
        assert "Traceback" not in errs
    for slug in slugs:
        tenant, problems = load_tenant_file(project_dir / "tenants" / f"{slug}.yaml")
        assert problems == [] and tenant is not None and tenant.slug == slug
    assert report["errors"] == []
    assert set(slugs) & set(report["seen"]), "the reader never saw a new file"
    leftovers = [p.name for p in (project_dir / "tenants").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
    # The whole project is still valid (no two adds raced past the uniqueness checks).
    check = subprocess.run(
        [sys.executable, "-m", "mailfleet", "validate"],
        cwd=project_dir,
        env=_env(),
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr
    assert "29 tenants" in check.stdout


def test_twenty_adds_of_one_slug_give_exactly_one_success(project_dir: Path) -> None:
    reader, stop = _start_reader(project_dir)
    procs = [
        _spawn(
            ["-m", "mailfleet", "tenant", "add", "samename", "--region", "eu", "--mailbox", f"box{i}"],
            project_dir,
        )
        for i in range(20)
    ]
    results = [(*p.communicate(timeout=300), p.returncode) for p in procs]
    stop.touch()
    report = json.loads(reader.communicate(timeout=120)[0])
    codes = [code for _, _, code in results]
    assert codes.count(0) == 1, [e for _, e, _ in results]
    assert codes.count(1) == 19
    for _, errs, code in results:
        assert "Traceback" not in errs
        if code == 1:
            assert errs.strip().splitlines() == ["tenants/samename.yaml: tenant 'samename' already exists"]
    winner = next(i for i, (_, _, code) in enumerate(results) if code == 0)
    tenant, problems = load_tenant_file(project_dir / "tenants" / "samename.yaml")
    assert problems == [] and tenant is not None
    assert tenant.mailboxes == [f"box{winner}"]  # the file is the winner's, whole
    assert report["errors"] == []
