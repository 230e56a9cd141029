"""The journal: the migration block in the tenant file, the export next to it, the run lock."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mailfleet.errors import InvalidData
from mailfleet.migrate.journal import Journal, MigrationBusy, TenantRunLock, split_block, with_block
from mailfleet.model.load import load_tenants
from mailfleet.model.migration import Migration
from tests.conftest import REPO, tree_bytes

BLOCK = {
    "from": "us",
    "to": "eu",
    "started_at": "2026-11-24T01:00:00+00:00",
    "platform_domain": "bluebird.mail.example.com",
    "platform_zone_id": "Z04EXAMPLEUS0001",
    "original_ttl": 3600,
}


@pytest.fixture
def tenants(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "tenants", tmp_path / "tenants")
    return tmp_path / "tenants"


def test_block_is_appended_and_removed_leaving_every_other_byte(tenants: Path) -> None:
    path = tenants / "bluebird.yaml"
    original = path.read_bytes()
    journal = Journal(tenants, "bluebird")
    m = Migration.model_validate(BLOCK)
    journal.write(m)
    text = path.read_text()
    assert text.startswith(original.decode())
    assert "migration:\n  from: us\n  to: eu\n" in text
    assert journal.migration == m
    journal.start_step("prepare.lower-ttl", 1_800_000_000)
    again = journal.migration
    assert again is not None and again.started("prepare.lower-ttl") and not again.is_done("prepare.lower-ttl")
    journal.write(None)
    assert path.read_bytes() == original


def test_region_line_changes_only_with_a_done_block() -> None:
    text = "# c\nslug: x\nname: X\nregion: us # home\nmailboxes: [a]\n"
    _, block, _ = split_block(text)
    assert block is None
    m = Migration.model_validate(BLOCK)
    new = with_block(text, m, region="eu")
    assert new.startswith("# c\nslug: x\nname: X\nregion: eu\nmailboxes: [a]\n")
    before, block, after = split_block(new)
    assert before.endswith("mailboxes: [a]\n") and block and block.startswith("# Written by") and after == ""


def files(root: Path) -> dict[str, bytes]:
    """Every file but the directory lock (an empty file the lock protocol creates)."""
    return {k: v for k, v in tree_bytes(root).items() if k != ".mailfleet.lock"}


def test_an_invalid_block_is_refused_and_nothing_is_written(tenants: Path) -> None:
    before = files(tenants)
    journal = Journal(tenants, "bluebird")
    bad = Migration.model_construct(**{**BLOCK, "from_region": "us", "steps": {}, "state": "done"})
    with pytest.raises(InvalidData) as exc:
        journal.write(bad)
    assert any("finalize" in line for line in exc.value.lines())
    assert files(tenants) == before
    # A running move keeps the source region in the file: writing region eu is refused too.
    with pytest.raises(InvalidData) as exc2:
        journal.write(Migration.model_validate(BLOCK), region="eu")
    assert any("region must be 'us'" in line for line in exc2.value.lines())
    assert files(tenants) == before


def test_hand_edited_block_problems_name_file_and_field(tenants: Path) -> None:
    path = tenants / "bluebird.yaml"
    path.write_text(
        path.read_text() + "migration:\n  from: us\n  to: eu\n  steps: {prepare.nap: {started_at: x}}\n"
    )
    loaded = load_tenants(tenants)
    fields = {p.field for p in loaded.problems}
    assert str(path) in {p.where for p in loaded.problems}
    assert "migration.started_at" in fields and "migration.steps.prepare.nap.started_at" in fields


def test_export_is_checked_against_its_digest_and_ignored_by_loaders(tenants: Path) -> None:
    journal = Journal(tenants, "bluebird")
    entry = journal.write_export(
        {"routes": [{"id": "1"}], "webhooks": {"d": {"delivered": ["u"]}}, "suppressions": {}}
    )
    assert (entry.routes, entry.webhooks, entry.suppressions) == (1, 1, 0)
    assert journal.read_export(entry)["routes"] == [{"id": "1"}]
    assert sorted(load_tenants(tenants).tenants) == sorted(p.stem for p in tenants.glob("*.yaml"))
    (tenants / entry.path).write_text('{"routes": []}\n')
    with pytest.raises(InvalidData) as exc:
        journal.read_export(entry)
    assert "changed since it was written" in exc.value.lines()[0]


def test_second_run_on_a_tenant_refuses_while_another_process_holds_it(tenants: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys,time; sys.path.insert(0, sys.argv[1]);"
            "from mailfleet.migrate.journal import TenantRunLock;"
            "l = TenantRunLock(sys.argv[2], 'bluebird'); l.acquire(); print('held', flush=True); time.sleep(60)",
            str(REPO),
            str(tenants),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(MigrationBusy) as exc:
            TenantRunLock(tenants, "bluebird").acquire()
        assert "another mailfleet migrate is running on this tenant" in exc.value.lines()[0]
    finally:
        holder.kill()
        holder.wait()
    # The kernel dropped the dead holder's lock: the tenant can be resumed at once.
    start = time.monotonic()
    with TenantRunLock(tenants, "bluebird"):
        pass
    assert time.monotonic() - start < 5
