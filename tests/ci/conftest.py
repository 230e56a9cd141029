"""The CI tests use the diff tests' real git repository fixture."""

from tests.diff.conftest import repo

__all__ = ["repo"]
