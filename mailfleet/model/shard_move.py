"""The ``shard_move:`` block of a tenant file: the journal of a move between two shards.

``mailfleet shard move`` (and ``shard rebalance``) is its only writer. A move between two
stacks of one region is a state move only (``pulumi state move``): nothing changes in Mailgun
or DNS. The block records where the move stands so a killed run resumes:

- written with no step: the move is intended, the tenant's ``stack:`` still serves it;
- ``state-move`` started: from here the target stack declares the tenant (the model follows
  the state, which Pulumi writes destination first), whether or not the move finished;
- ``state-move`` done: the last write sets ``stack:`` to the target and removes the block.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from mailfleet.model import names
from mailfleet.model.migration import StepRecord, Timestamp

SHARD_STEPS: tuple[str, ...] = ("state-move",)
StackName = Annotated[str, AfterValidator(names.stack_name)]


class ShardMove(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)

    from_stack: StackName = Field(alias="from")
    to: StackName
    started_at: Timestamp
    steps: dict[str, StepRecord] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> ShardMove:
        if self.from_stack == self.to:
            raise ValueError("from and to must be different stacks")
        unknown = [s for s in self.steps if s not in SHARD_STEPS]
        if unknown:
            raise ValueError(f"unknown step {unknown[0]!r} (known: {', '.join(SHARD_STEPS)})")
        return self

    def started(self, step: str) -> bool:
        return step in self.steps

    def is_done(self, step: str) -> bool:
        record = self.steps.get(step)
        return record is not None and record.done_at is not None

    @property
    def serving(self) -> str:
        """The stack that declares the tenant at this point of the move."""
        return self.to if self.started("state-move") else self.from_stack
