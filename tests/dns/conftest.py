"""The resolver is tested against the same real Knot world as ``check``."""

from tests.check.conftest import dns_world  # noqa: F401  (a pytest fixture, used by name)
