"""Fixtures for the model tests: the example region stacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailfleet.model.load import load_stack
from mailfleet.model.stack import StackConfig

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def eu_stack() -> StackConfig:
    return load_stack(REPO, "eu")


@pytest.fixture(scope="session")
def us_stack() -> StackConfig:
    return load_stack(REPO, "us")


@pytest.fixture(scope="session")
def stacks(eu_stack: StackConfig, us_stack: StackConfig) -> dict[str, StackConfig]:
    return {"eu": eu_stack, "us": us_stack}
