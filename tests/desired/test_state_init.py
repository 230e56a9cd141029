"""The desired-state items' fast ``__init__`` is the dataclass's own, only cheaper."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from typing import Any

import pytest

from mailfleet.desired import state

FAST = [
    cls
    for cls in vars(state).values()
    if isinstance(cls, type) and dataclasses.is_dataclass(cls) and hasattr(cls, "__dataclass_init__")
]


def test_every_frozen_item_has_it() -> None:
    frozen = {
        cls
        for cls in vars(state).values()
        if isinstance(cls, type) and dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
    }
    assert frozen == set(FAST)
    assert {c.__name__ for c in FAST} >= {"DnsRecord", "MailgunDomain", "MailgunWebhook", "MailgunRoute"}


def _sample(cls: type, distinct: int) -> dict[str, Any]:
    """A value for every field without a default (each distinct, so a mixed-up slot shows)."""
    return {
        f.name: f"{f.name}-{distinct}" for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING
    }


@pytest.mark.parametrize("cls", FAST, ids=lambda c: c.__name__)
def test_same_signature_values_and_behaviour(cls: type) -> None:
    original = cls.__dataclass_init__  # type: ignore[attr-defined]
    assert inspect.signature(cls.__init__).parameters.keys() == inspect.signature(original).parameters.keys()
    for name, param in inspect.signature(original).parameters.items():
        assert inspect.signature(cls.__init__).parameters[name].default == param.default

    args = _sample(cls, 1)
    fast = cls(**args)
    slow = object.__new__(cls)
    original(slow, **args)
    assert fast == slow and hash(fast) == hash(slow)
    for f in dataclasses.fields(cls):
        assert getattr(fast, f.name) == getattr(slow, f.name)
        assert getattr(fast, f.name) == args.get(f.name, f.default)  # defaults applied
    assert cls(*args.values()) == fast  # positional, in field order

    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(fast, dataclasses.fields(cls)[0].name, "changed")
    first = dataclasses.fields(cls)[0].name
    changed = dataclasses.replace(fast, **{first: "other"})
    assert getattr(changed, first) == "other" and changed != fast
    assert pickle.loads(pickle.dumps(fast)) == fast
    with pytest.raises(TypeError):
        cls()  # required fields stay required
    with pytest.raises(TypeError):
        cls(**args, nosuchfield=1)
