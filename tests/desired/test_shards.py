"""Shard placement: rendezvous hashing with a cap, and the fewest moves that balance a region."""

from __future__ import annotations

import itertools
from typing import Any

from mailfleet.desired.shards import propose, ranked, rebalance, score, targets
from mailfleet.model.stack import StackConfig

BASE: dict[str, Any] = {
    "region": "eu",
    "aws_region": "eu-central-1",
    "platform_domain": "mail.example.eu",
    "hosted_zone_id": "Z04EXAMPLEEU0001",
    "inbound_url": "https://crm.example.eu/in",
    "webhook_url": "https://crm.example.eu/ev",
    "egress_ips": ["192.0.2.10"],
    "dmarc_rua": "mailto:d@mail.example.eu",
}


def shards(*spec: tuple[str, int | None]) -> list[StackConfig]:
    return [StackConfig.model_validate({**BASE, "name": n, "shard_cap": c}) for n, c in spec]


SLUGS = [f"t{i:05d}" for i in range(3000)]


def test_score_is_stable_and_spreads_evenly() -> None:
    assert score("acme", "eu-1") == score("acme", "eu-1")
    assert score("acme", "eu-1") != score("acme", "eu-2")
    names = ["eu-1", "eu-2", "eu-3"]
    firsts = [ranked(s, names)[0] for s in SLUGS]
    counts = {n: firsts.count(n) for n in names}
    assert all(900 <= c <= 1100 for c in counts.values()), counts


def test_adding_a_shard_changes_the_proposal_only_for_those_it_takes() -> None:
    three = shards(("eu-1", None), ("eu-2", None), ("eu-3", None))
    four = [*three, *shards(("eu-4", None))]
    before = {s: propose(s, three, {}) for s in SLUGS}
    after = {s: propose(s, four, {}) for s in SLUGS}
    changed = [s for s in SLUGS if before[s] != after[s]]
    assert all(after[s] == "eu-4" for s in changed)  # nobody moves between the old shards
    assert 600 <= len(changed) <= 900  # about a quarter


def test_propose_skips_full_shards() -> None:
    stacks = shards(("eu-1", 2), ("eu-2", None))
    slug = next(s for s in SLUGS if ranked(s, ["eu-1", "eu-2"])[0] == "eu-1")
    assert propose(slug, stacks, {"eu-1": 1}) == "eu-1"
    assert propose(slug, stacks, {"eu-1": 2}) == "eu-2"
    assert propose(slug, shards(("eu-1", 2), ("eu-2", 1)), {"eu-1": 2, "eu-2": 1}) is None


def test_targets_water_fill_within_caps() -> None:
    assert targets(shards(("a", None), ("b", None)), 5) == {"a": 3, "b": 2}
    assert targets(shards(("a", 1), ("b", None), ("c", None)), 9) == {"a": 1, "b": 4, "c": 4}
    assert targets(shards(("a", 1), ("b", 2)), 4) is None


def test_rebalance_after_adding_a_shard_moves_exactly_the_excess() -> None:
    stacks = shards(("eu-1", None), ("eu-2", None), ("eu-3", None))
    placement = {s: ("eu-1" if i % 2 else "eu-2") for i, s in enumerate(SLUGS[:300])}
    moves = rebalance(placement, stacks)
    assert moves is not None
    assert len(moves) == 100  # 150 + 150 -> 100 each: 50 leave each old shard
    assert {m.target for m in moves} == {"eu-3"}
    assert sum(1 for m in moves if m.source == "eu-1") == 50
    after = dict(placement)
    for m in moves:
        after[m.slug] = m.target
    assert sorted(list(after.values()).count(n) for n in ("eu-1", "eu-2", "eu-3")) == [100, 100, 100]
    # Balanced already: nothing to do; the plan is deterministic.
    assert rebalance(after, stacks) == []
    assert rebalance(placement, stacks) == moves


def test_rebalance_is_minimal_by_brute_force() -> None:
    """On small cases, no assignment reaching the balanced counts takes fewer moves."""
    stacks = shards(("a", 3), ("b", None), ("c", None))
    names = ["a", "b", "c"]
    slugs = SLUGS[:7]
    for combo in itertools.islice(itertools.product(names, repeat=7), 0, None, 97):
        placement = dict(zip(slugs, combo, strict=True))
        moves = rebalance(placement, stacks)
        assert moves is not None
        want = targets(stacks, 7)
        assert want is not None
        have = {n: combo.count(n) for n in names}
        assert len(moves) == sum(max(0, have[n] - want[n]) for n in names)
        after = dict(placement)
        for m in moves:
            assert after[m.slug] == m.source
            after[m.slug] = m.target
        assert {n: list(after.values()).count(n) for n in names} == want


def test_rebalance_over_caps_and_a_removed_shard() -> None:
    assert rebalance({"x": "a", "y": "a"}, shards(("a", 1))) is None
    moves = rebalance({"x": "gone", "y": "a"}, shards(("a", None), ("b", None)))
    assert moves is not None and [(m.slug, m.source) for m in moves] == [("x", "gone")]
