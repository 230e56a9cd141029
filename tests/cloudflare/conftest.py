"""A running fake Cloudflare API and clients whose sleeps are recorded, not slept."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mailfleet.cloudflare.client import CloudflareClient
from tests.fakes.cloudflare_server import FakeCloudflare, FakeZone


class Sleeps(list[float]):
    """A ``sleep`` that records what it was asked to wait instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def fake() -> Iterator[FakeCloudflare]:
    with FakeCloudflare() as server:
        yield server


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client_for(fake: FakeCloudflare, sleeps: Sleeps) -> Callable[..., CloudflareClient]:
    def make(**kw: Any) -> CloudflareClient:
        kw.setdefault("sleep", sleeps)
        kw.setdefault("jitter", lambda: 0.5)
        return CloudflareClient(kw.pop("token", fake.token), base_url=fake.base_url, **kw)

    return make


@pytest.fixture
def zone(fake: FakeCloudflare) -> FakeZone:
    """A customer's zone: SPF, DMARC, site verifications, a split DKIM key, MX, A, CNAME."""
    return fake.seed_mail_zone("example.com")
