"""The ``migration:`` block's model: timestamps, step bookkeeping and what each stack declares at
each step of a move from us to eu (docs/migrate.md), with literal expectations."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mailfleet.model import migration as m

T = "2026-11-29T10:00:00+00:00"


def block(steps: dict[str, bool], **kw) -> m.Migration:
    """A us -> eu move whose ``steps`` are started (False) or done (True)."""
    return m.Migration.model_validate(
        {
            "from": "us",
            "to": "eu",
            "started_at": T,
            "platform_domain": "mail.example.com",
            "platform_zone_id": "Z04EXAMPLEUS0001",
            "original_ttl": 3600,
            "steps": {s: {"started_at": T, **({"done_at": T} if done else {})} for s, done in steps.items()},
            **kw,
        }
    )


def test_timestamps() -> None:
    assert m.now_iso(0) == "1970-01-01T00:00:00+00:00"
    assert m.now_iso(1.75) == "1970-01-01T00:00:01+00:00"  # to the second
    assert m.now_iso().endswith("+00:00")
    assert m.epoch("1970-01-01T00:01:00+00:00") == 60.0
    assert m.epoch("1970-01-01T01:00:00+01:00") == 0.0
    with pytest.raises(ValidationError, match="needs a time zone"):
        block({}, started_at="2026-11-29T10:00:00")
    with pytest.raises(ValidationError, match="is not an ISO 8601 timestamp"):
        block({}, started_at="yesterday")


def test_steps_started_done_next_and_phase() -> None:
    fresh = block({})
    assert (fresh.next_step, fresh.phase) == ("prepare.lower-ttl", "prepare")
    assert not fresh.started("prepare.lower-ttl") and not fresh.is_done("prepare.lower-ttl")
    running = block(
        {"prepare.lower-ttl": True, "prepare.dkim": True, "prepare.wait-ttl": True, "export": False}
    )
    assert running.started("export") and not running.is_done("export")
    assert (running.next_step, running.phase) == ("export", "export")
    every = block(dict.fromkeys(m.STEP_NAMES, True), state="done")
    assert (every.next_step, every.phase) == (None, "done")
    with pytest.raises(ValidationError, match="state is done but step 'finalize' is not"):
        block({"prepare.lower-ttl": True}, state="done")
    with pytest.raises(ValidationError, match="unknown step 'teleport'"):
        block({"teleport": True})
    with pytest.raises(ValidationError, match="from and to must be different regions"):
        block({}, to="us")


def _decl(mig: m.Migration | None, region: str) -> tuple[bool, bool, bool, int | None] | None:
    d = m.declaration(mig, region, "us")
    return None if d is None else (d.domains, d.routes, d.records, d.lowered_ttl)


def _upto(step: str, *, started_only: bool = False) -> dict[str, bool]:
    names = m.STEP_NAMES[: m.STEP_NAMES.index(step) + 1]
    return {n: not (started_only and n == step) for n in names}


@pytest.mark.parametrize(
    ("steps", "us", "eu"),
    [
        ({}, (True, True, True, None), None),
        (_upto("prepare.lower-ttl", started_only=True), (True, True, True, 60), None),
        (_upto("export"), (True, True, True, 60), None),
        # the point of no return: the source domains and records go, its routes stay; the target
        # holds the records from now on (docs/migrate.md), before it declares domains and routes
        (
            _upto("cutover.release-source-domain", started_only=True),
            (False, True, False, 60),
            (False, False, True, 60),
        ),
        (_upto("cutover.create-target", started_only=True), (False, True, False, 60), (True, True, True, 60)),
        (_upto("cutover.release-source-routes", started_only=True), None, (True, True, True, 60)),
        (_upto("verify"), None, (True, True, True, 60)),
        # finalize started: the TTLs go back
        (_upto("finalize", started_only=True), None, (True, True, True, None)),
    ],
)
def test_what_each_stack_declares_during_a_move(steps: dict[str, bool], us, eu) -> None:
    mig = block(steps)
    assert (_decl(mig, "us"), _decl(mig, "eu")) == (us, eu)


def test_without_a_move_and_after_it() -> None:
    assert _decl(None, "us") == (True, True, True, None)
    assert _decl(None, "eu") is None
    done = block(dict.fromkeys(m.STEP_NAMES, True), state="done")
    assert m.declaration(done, "eu", "eu") == m.FULL
    assert m.declaration(done, "us", "eu") is None
    assert m.Declaration(True, True, True, None) == m.FULL
    odd = block({})
    assert odd.declaration("ap", "us") is None  # a region that is neither end of the move
