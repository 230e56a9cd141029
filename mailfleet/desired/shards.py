"""Shards: a region served by one or more stacks, and which of them serves a tenant.

A region has one or more stacks (``Pulumi.eu-1.yaml``, ``Pulumi.eu-2.yaml``, each with
``mailfleet:region: eu``). A tenant's stack is written into its tenant file (``stack:``) when it
is added; ``propose`` suggests it by rendezvous (highest-random-weight) hashing on the slug,
skipping shards at their cap (``mailfleet:shardCap``). Nothing here ever re-places a tenant
silently: ``home`` reads the file's choice, and only ``rebalance`` (run by ``mailfleet shard
rebalance``) proposes moves, as few as possible.

A tenant without ``stack:`` is served by its region's stack while the region has exactly one
(single-stack projects keep working unchanged). During a move between regions, the stack of
the other region is the one named by ``stack:`` when it is of that region, else that region's
only stack, else the rendezvous choice among its shards (docs/sharding.md).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mailfleet.model.stack import StackConfig
from mailfleet.model.tenant import Tenant


def score(slug: str, stack: str) -> int:
    """The rendezvous weight of ``slug`` on ``stack``: stable across runs and machines."""
    digest = hashlib.blake2b(f"{stack}\0{slug}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def ranked(slug: str, stacks: Sequence[str]) -> list[str]:
    """``stacks`` in the tenant's order of preference (highest weight first)."""
    return sorted(stacks, key=lambda s: (-score(slug, s), s))


def home(tenant: Tenant, region: str, stacks: Sequence[str]) -> str | None:
    """The stack among ``stacks`` (the stacks of ``region``) that serves ``tenant`` there.

    None when the tenant's own region has several stacks and its file names none of them: a
    problem ``Project.load`` reports, never a silent choice.
    """
    if not stacks:
        return None
    placed = tenant.placed_stack
    if placed is not None and placed in stacks:
        return placed
    if len(stacks) == 1:
        return stacks[0]
    if region != tenant.region:
        return ranked(tenant.slug, stacks)[0]
    return None


def propose(slug: str, stacks: Sequence[StackConfig], counts: Mapping[str, int]) -> str | None:
    """The stack a new tenant goes to: its highest-weight shard below its cap (None: all full)."""
    caps = {s.name: s.shard_cap for s in stacks}
    for name in ranked(slug, list(caps)):
        cap = caps[name]
        if cap is None or counts.get(name, 0) < cap:
            return name
    return None


@dataclass(frozen=True, slots=True)
class Move:
    slug: str
    source: str
    target: str


def targets(stacks: Sequence[StackConfig], total: int) -> dict[str, int] | None:
    """How many tenants each shard holds when balanced: an even share, within each cap
    (water-filling from the smallest cap up). None when the caps hold fewer than ``total``."""
    order = sorted(stacks, key=lambda s: (s.shard_cap is None, s.shard_cap or 0, s.name))
    left = total
    out: dict[str, int] = {}
    for i, s in enumerate(order):
        share = math.ceil(left / (len(order) - i)) if left > 0 else 0
        take = share if s.shard_cap is None else min(s.shard_cap, share)
        out[s.name] = take
        left -= take
    return None if left > 0 else out


def rebalance(placement: Mapping[str, str], stacks: Sequence[StackConfig]) -> list[Move] | None:
    """The fewest moves that bring the shards of one region to their balanced share.

    ``placement`` maps each slug of the region to its stack. Only shards above their share
    give tenants away, exactly their excess, so no plan with fewer moves reaches the balance.
    A leaving tenant is the one the shard's weight holds least (relative to its best other
    shard), and it goes to its highest-weight shard with room. None: the caps hold too few.
    """
    names = [s.name for s in stacks]
    want = targets(stacks, len(placement))
    if want is None:
        return None
    members: dict[str, list[str]] = {n: [] for n in names}
    for slug, stack in placement.items():
        members.setdefault(stack, []).append(slug)
    room = {n: want[n] - len(members[n]) for n in names}
    leaving: list[tuple[str, str]] = []
    for name, slugs in sorted(members.items()):
        excess = len(slugs) - want.get(name, 0)
        if excess <= 0:
            continue
        # Tenants that prefer another shard most leave first; ties by slug.
        slugs = sorted(slugs, key=lambda s: (score(s, name), s))
        leaving.extend((s, name) for s in slugs[:excess])
    moves = []
    for slug, source in sorted(leaving):
        for target in ranked(slug, names):
            if target != source and room[target] > 0:
                room[target] -= 1
                moves.append(Move(slug, source, target))
                break
    return moves
