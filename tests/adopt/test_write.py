"""Writing the ``adopted:`` block: only that block changes, validated, or nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailfleet.adopt import write
from mailfleet.errors import InvalidData
from mailfleet.fsutil import LOCK_NAME
from mailfleet.model.adoption import Adoption, DnsAdoption
from mailfleet.model.load import load_stack, load_tenant_file
from mailfleet.project.tenantfile import replace_block
from tests.conftest import REPO

TEXT = """# Hand-written header: kept.
slug: acme
name: Acme AS
region: eu
mailboxes: [post]  # our only mailbox
sender_domain: {name: acme.no, dns: manual}
dmarc: {policy: quarantine}
adopted:
  dns:
    taken_at: '2026-01-01T00:00:00Z'

    source: old
# trailing comment: kept
tracking: false
"""
NEW_BLOCK = "adopted:\n  dns: {taken_at: '2026-12-01T09:30:00Z', source: new}\n"


def test_replace_block_changes_only_that_block() -> None:
    out = replace_block(TEXT, "adopted", NEW_BLOCK)
    assert out == TEXT.replace(
        "adopted:\n  dns:\n    taken_at: '2026-01-01T00:00:00Z'\n\n    source: old\n", NEW_BLOCK
    )


def test_replace_block_appends_a_missing_block_and_removes_an_empty_one() -> None:
    bare = "slug: acme\nname: A"  # no final newline
    assert replace_block(bare, "adopted", NEW_BLOCK) == bare + "\n" + NEW_BLOCK
    assert replace_block(TEXT, "adopted", "").count("adopted") == 0
    assert replace_block(bare, "adopted", "") == bare
    # A key that only starts the same way is another key.
    assert replace_block("adopted_x: 1\n", "adopted", NEW_BLOCK) == "adopted_x: 1\n" + NEW_BLOCK


def _adoption(source: str = "nameserver 127.0.0.1:53") -> Adoption:
    dns = DnsAdoption.model_validate(
        {
            "taken_at": "2026-12-01T09:30:00Z",
            "source": source,
            "records": [
                {"name": "acme.no", "type": "TXT", "values": ["v=spf1 include:_spf.google.com ~all"]}
            ],
        }
    )
    return Adoption(dns=dns)


def _file(tmp_path: Path) -> Path:
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    path = tenants / "acme.yaml"
    path.write_text(
        TEXT.replace("adopted:\n  dns:\n    taken_at: '2026-01-01T00:00:00Z'\n\n    source: old\n", "")
    )
    return path


def test_write_keeps_every_other_byte_and_the_file_loads(tmp_path: Path) -> None:
    path = _file(tmp_path)
    before = path.read_text()
    stack = load_stack(REPO, "eu")
    write.write(path.parent, path, "acme", _adoption(), None, stack)
    after = path.read_text()
    assert after.startswith(before)
    tenant, problems = load_tenant_file(path)
    assert problems == [] and tenant is not None and tenant.adopted == _adoption()


def test_a_block_changed_meanwhile_is_not_overwritten(tmp_path: Path) -> None:
    path = _file(tmp_path)
    stack = load_stack(REPO, "eu")
    write.write(path.parent, path, "acme", _adoption("first"), None, stack)
    written = path.read_bytes()
    # A second adopt compared with "nothing stored" while the first one wrote its block.
    with pytest.raises(InvalidData) as caught:
        write.write(path.parent, path, "acme", _adoption("second"), None, stack)
    assert "changed while the zone was read" in str(caught.value)
    assert path.read_bytes() == written


def test_a_block_that_would_break_the_file_is_not_written(tmp_path: Path) -> None:
    path = _file(tmp_path)
    path.write_text(path.read_text().replace("slug: acme", "slug: acme\nunknown_key: 1"))
    before = path.read_bytes()
    with pytest.raises(InvalidData):
        write.write(path.parent, path, "acme", _adoption(), None, load_stack(REPO, "eu"))
    assert path.read_bytes() == before
    assert not (path.parent / LOCK_NAME).exists()  # refused before the lock was taken
