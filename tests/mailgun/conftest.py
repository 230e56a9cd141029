"""A running fake Mailgun (both regions) and clients whose sleeps are recorded, not slept."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailfleet.mailgun.client import MailgunClient
from tests.fakes.mailgun_server import FakeMailgun


@pytest.fixture
def fake() -> Iterator[FakeMailgun]:
    with FakeMailgun() as server:
        yield server


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client_for(fake: FakeMailgun, sleeps: Sleeps):
    def make(region: str = "eu", **kw) -> MailgunClient:
        kw.setdefault("sleep", sleeps)
        kw.setdefault("jitter", lambda: 0.5)
        kw.setdefault("api_key", fake.api_key)
        return MailgunClient(region, base_url=fake.base_url(region), **kw)

    return make
