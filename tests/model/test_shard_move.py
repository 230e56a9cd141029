"""The ``shard_move:`` block (the journal of a move between two stacks of one region)."""

from __future__ import annotations

from typing import Any

import pytest

from mailfleet.model.load import tenant_from_data

WHERE = "tenants/acme.yaml"
MOVE = {"from": "eu-1", "to": "eu-2", "started_at": "2026-11-29T20:00:00+00:00"}
BASE: dict[str, Any] = {
    "slug": "acme",
    "name": "Acme",
    "region": "eu",
    "mailboxes": ["support"],
    "stack": "eu-1",
}


def lines(data: dict[str, Any]) -> list[str]:
    _, problems = tenant_from_data(WHERE, data, "acme")
    return [str(p) for p in problems]


def test_a_valid_block_and_what_it_means() -> None:
    tenant, problems = tenant_from_data(WHERE, {**BASE, "shard_move": MOVE}, "acme")
    assert problems == [] and tenant is not None and tenant.shard_move is not None
    assert tenant.placed_stack == "eu-1"  # the state move has not started
    started = {**MOVE, "steps": {"state-move": {"started_at": "2026-11-29T20:00:01+00:00"}}}
    tenant, _ = tenant_from_data(WHERE, {**BASE, "shard_move": started}, "acme")
    assert tenant is not None and tenant.placed_stack == "eu-2"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"to": "eu-1"}, "shard_move", "from and to must be different stacks"),
        ({"to": "eu/2"}, "shard_move.to", "A-Z, a-z, 0-9"),
        ({"from": 1}, "shard_move.from", "valid string"),
        ({"started_at": "yesterday"}, "shard_move.started_at", "not an ISO 8601 timestamp"),
        (
            {"steps": {"copy": {"started_at": "2026-11-29T20:00:01+00:00"}}},
            "shard_move",
            "unknown step 'copy'",
        ),
        (
            {"steps": {"state-move": {}}},
            "shard_move.steps.state-move.started_at",
            "required field is missing",
        ),
        ({"extra": 1}, "shard_move.extra", "unknown field"),
    ],
)
def test_block_errors_name_file_and_field(change: dict[str, Any], field: str, message: str) -> None:
    out = lines({**BASE, "shard_move": {**MOVE, **change}})
    assert len(out) == 1, out
    assert out[0].startswith(f"{WHERE}: {field}: ") and message in out[0], out


def test_the_tenant_must_still_name_the_source() -> None:
    out = lines({**BASE, "stack": "eu-2", "shard_move": MOVE})
    assert out == [f"{WHERE}: stack must be 'eu-1' while shard_move is under way (from it)"]
