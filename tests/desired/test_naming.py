"""mailfleet.desired.naming: a tenant's resources are its component's children, by URN."""

from __future__ import annotations

import pytest

from mailfleet.desired.naming import COMPONENT_TYPE, is_tenant_child
from mailfleet.migrate.runner import StackResource, tenant_resources

STACK = "urn:pulumi:us::mailfleet::"
ROUTE53 = "aws:route53/record:Record"


def _child(slug: str, name: str, parent_types: str = "pulumi:pulumi:Stack$") -> StackResource:
    parent = f"{STACK}{parent_types}{COMPONENT_TYPE}::{slug}"
    return StackResource(
        urn=f"{STACK}{COMPONENT_TYPE}${ROUTE53}::{name}", type=ROUTE53, name=name, parent=parent
    )


def test_a_tenant_whose_slug_extends_another_is_not_selected() -> None:
    """`acme-dns-` is also the name prefix of every record of a tenant called `acme-dns-x`."""
    acme = _child("acme", "acme-dns-acme.no-TXT")
    other = _child("acme-dns-x", "acme-dns-x-dns-x.no-TXT")
    found = tenant_resources([acme, other], "acme", frozenset({ROUTE53}))
    assert found == [acme]
    assert tenant_resources([acme, other], "acme-dns-x", frozenset({ROUTE53})) == [other]


@pytest.mark.parametrize(
    ("parent", "slug", "expected"),
    [
        (f"{STACK}pulumi:pulumi:Stack${COMPONENT_TYPE}::acme", "acme", True),
        (f"{STACK}{COMPONENT_TYPE}::acme", "acme", True),
        (f"{STACK}pulumi:pulumi:Stack${COMPONENT_TYPE}::acme-2", "acme", False),
        (f"{STACK}pulumi:pulumi:Stack::acme", "acme", False),  # moved: parent is the stack root
        (f"{STACK}pulumi:pulumi:Stack$other:index:Thing::acme", "acme", False),
        ("", "acme", False),
    ],
)
def test_is_tenant_child(parent: str, slug: str, expected: bool) -> None:
    assert is_tenant_child(parent, slug) is expected
