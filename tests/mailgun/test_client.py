"""MailgunClient against the local fake: retries, typed errors, paging, secrets kept out."""

from __future__ import annotations

import logging
import time

import pytest

from mailfleet.mailgun.client import MailgunClient
from mailfleet.mailgun.errors import AlreadyExists, MailgunError, NotFound, Unauthorized
from mailfleet.mailgun.ratelimit import RateLimiter
from mailfleet.model.region import REGIONS


def test_default_base_url_is_the_regions_api_host(fake):
    assert MailgunClient("eu", "k").base_url == "https://api.eu.mailgun.net"
    assert MailgunClient("us", "k").base_url == "https://api.mailgun.net"
    assert MailgunClient("eu", "k").base_url == REGIONS["eu"].api_base


def test_create_get_verify_domain(fake, client_for):
    eu = client_for("eu")
    created = eu.create_domain("acme.example.no", "mailfleet", 2048)
    assert created["domain"]["name"] == "acme.example.no"
    got = eu.get_domain("acme.example.no")
    assert got["domain"]["state"] == "unverified"
    dkim = [r for r in got["sending_dns_records"] if "_domainkey" in r["name"]]
    assert dkim[0]["name"] == "mailfleet._domainkey.acme.example.no"
    assert dkim[0]["value"].startswith("k=rsa; p=MII")
    assert eu.verify_domain("acme.example.no")["domain"]["state"] == "unverified"
    fake.set_dns_valid("acme.example.no")
    assert eu.verify_domain("acme.example.no")["domain"]["state"] == "active"
    assert fake.count("PUT", "/v4/domains/acme.example.no/verify", "eu") == 2


def test_domain_names_are_unique_across_regions(fake, client_for):
    client_for("us").create_domain("shared.example.com")
    with pytest.raises(AlreadyExists) as info:
        client_for("eu").create_domain("shared.example.com")
    assert info.value.status == 400
    assert "already exists" in str(info.value)
    # ...and the domain is not visible from the other region
    with pytest.raises(NotFound):
        client_for("eu").get_domain("shared.example.com")


def test_delete_is_eventually_consistent(client_for):
    from tests.fakes.mailgun_server import FakeMailgun

    now = [1000.0]
    with FakeMailgun(delete_delay=30, clock=lambda: now[0]) as slow:
        us = MailgunClient("us", slow.api_key, base_url=slow.base_url("us"))
        eu = MailgunClient("eu", slow.api_key, base_url=slow.base_url("eu"))
        us.create_domain("move.example.com")
        us.delete_domain("move.example.com")
        assert us.domain_exists("move.example.com")  # still answers 200
        with pytest.raises(AlreadyExists):
            eu.create_domain("move.example.com")
        now[0] += 31
        assert not us.domain_exists("move.example.com")
        eu.create_domain("move.example.com")
        assert eu.get_domain("move.example.com")["domain"]["name"] == "move.example.com"


def test_not_found_maps_to_typed_error(client_for):
    with pytest.raises(NotFound) as info:
        client_for("eu").get_domain("nope.example.no")
    assert info.value.status == 404
    assert "/v4/domains/nope.example.no" in str(info.value)


def test_retry_after_header_is_honoured(fake, client_for, sleeps):
    fake.seed_domain("a.example.no", "eu")
    fake.rate_limit(2, retry_after=7, path="^/v4/domains/a.example.no$")
    client = client_for("eu")
    assert client.get_domain("a.example.no")["domain"]["name"] == "a.example.no"
    assert sleeps == [7.0, 7.0]
    assert fake.count("GET", "/v4/domains/a.example.no") == 3


@pytest.mark.parametrize("unit", ["s", "ms"])
def test_ratelimit_reset_header_epoch_seconds_and_millis(fake, client_for, sleeps, unit):
    fake.seed_domain("b.example.no", "eu")
    fake.rate_limit(1, reset_in=20, reset_unit=unit)
    client_for("eu").get_domain("b.example.no")
    assert len(sleeps) == 1
    assert 15 <= sleeps[0] <= 21  # the time until the reset, not the raw epoch value


def test_retry_after_as_http_date(fake, client_for, sleeps):
    import email.utils

    fake.seed_domain("c.example.no", "eu")
    fake.inject(429, headers={"Retry-After": email.utils.formatdate(time.time() + 12, usegmt=True)})
    client_for("eu").get_domain("c.example.no")
    assert 9 <= sleeps[0] <= 13


def test_backoff_on_5xx_grows_exponentially(fake, client_for, sleeps):
    fake.seed_domain("d.example.no", "eu")
    fake.inject(503, count=3)
    client = client_for("eu", backoff_base=1.0)
    client.get_domain("d.example.no")
    # jitter fixed at 0.5: ceiling * 0.75 for ceilings 1, 2, 4
    assert sleeps == [0.75, 1.5, 3.0]
    assert client.retries == 3


def test_gives_up_after_max_retries(fake, client_for, sleeps):
    fake.seed_domain("e.example.no", "eu")
    fake.inject(500, count=10)
    with pytest.raises(MailgunError) as info:
        client_for("eu", max_retries=2).get_domain("e.example.no")
    assert info.value.status == 500
    assert len(sleeps) == 2
    assert fake.count("GET", "/v4/domains/e.example.no") == 3


def test_429_without_headers_falls_back_to_backoff(fake, client_for, sleeps):
    fake.seed_domain("f.example.no", "eu")
    fake.inject(429, count=1)
    client_for("eu", backoff_base=2.0).get_domain("f.example.no")
    assert sleeps == [1.5]


def test_connection_refused_is_retried_then_reported(sleeps):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = MailgunClient(
        "eu", "key-secret-xyz", base_url=f"http://127.0.0.1:{port}", sleep=sleeps, max_retries=2, timeout=2
    )
    with pytest.raises(MailgunError) as info:
        client.get_domain("x.example.no")
    assert info.value.status is None
    assert "connection failed after 3 attempts" in str(info.value)
    assert len(sleeps) == 2


def test_api_key_never_in_errors_logs_or_repr(fake, client_for, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "key-very-secret-1234567890"
    bad = client_for("eu", api_key=secret)
    with pytest.raises(Unauthorized) as info:
        bad.get_domain("x.example.no")
    assert info.value.status == 401
    real = fake.api_key  # a correct key the server echoes back in an error body
    fake.inject(500, count=10, body={"message": f"boom, your key was {real}"})
    with pytest.raises(MailgunError) as info2:
        client_for("eu", max_retries=1).get_domain("x.example.no")
    assert "***" in str(info2.value)
    for text in (str(info.value), str(info2.value), repr(bad), caplog.text):
        assert secret not in text
        assert real not in text


def test_routes_are_per_region_and_paginated(fake, client_for):
    eu, us = client_for("eu"), client_for("us")
    ids = [
        eu.create_route(f'match_recipient("^a{i}@x\\.example\\.eu$")', ["stop()"], 10, f"r{i}")["id"]
        for i in range(7)
    ]
    us.create_route('match_recipient("^b@y\\.example\\.com$")', ['forward("https://h/x")', "stop()"])
    routes = eu.list_routes(page_size=3)
    assert [r["id"] for r in routes] == ids
    assert fake.count("GET", "/v3/routes", "eu") == 3  # 3 + 3 + 1
    assert len(us.list_routes()) == 1
    assert us.list_routes()[0]["actions"] == ['forward("https://h/x")', "stop()"]
    eu.delete_route(ids[0])
    assert len(eu.list_routes()) == 6
    with pytest.raises(NotFound):
        eu.delete_route(ids[0])


def test_webhooks_credentials_are_region_bound(fake, client_for):
    eu = client_for("eu")
    eu.create_domain("w.example.no")
    eu.create_webhook("w.example.no", "delivered", ["https://crm.example.eu/hook/w"])
    assert eu.list_webhooks("w.example.no") == {"delivered": ["https://crm.example.eu/hook/w"]}
    with pytest.raises(AlreadyExists):
        eu.create_webhook("w.example.no", "delivered", ["https://crm.example.eu/hook/w"])
    with pytest.raises(NotFound):
        client_for("us").list_webhooks("w.example.no")
    eu.create_credential("w.example.no", "crm", "s3cret-pass")
    logins = [c["login"] for c in eu.list_credentials("w.example.no")]
    assert logins == ["crm@w.example.no"]
    with pytest.raises(AlreadyExists):
        eu.create_credential("w.example.no", "crm", "other-pass")


def test_suppressions_import_and_paging(fake, client_for):
    eu = client_for("eu")
    eu.create_domain("s.example.no")
    entries = [{"address": f"user{i}@example.org", "code": "550", "error": "no such user"} for i in range(25)]
    assert eu.import_suppressions("s.example.no", "bounces", entries) == 25
    got = list(eu.iter_suppressions("s.example.no", "bounces", page_size=10))
    assert [b["address"] for b in got] == [e["address"] for e in entries]
    # pages of 10, 10, 5 and the empty page that ends the walk
    assert fake.count("GET", "/v3/s.example.no/bounces") == 4
    eu.import_suppressions("s.example.no", "unsubscribes", [{"address": "u@example.org", "tags": ["*"]}])
    assert next(eu.iter_suppressions("s.example.no", "unsubscribes"))["tags"] == ["*"]
    assert list(eu.iter_suppressions("s.example.no", "complaints")) == []


def test_client_side_rate_limiter_paces_requests():
    now = [0.0]
    waits: list[float] = []

    def sleep(s: float) -> None:
        waits.append(s)
        now[0] += s

    limiter = RateLimiter(3, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        limiter.acquire()
    assert waits == []
    now[0] = 10.0
    limiter.acquire()  # 4th request inside the window waits until the first leaves it
    assert waits == [50.0]
    with pytest.raises(ValueError):
        RateLimiter(0)


def test_rate_limiter_is_applied_by_client(fake, client_for, sleeps):
    fake.seed_domain("g.example.no", "eu")
    now = [0.0]

    def sleep(s: float) -> None:
        sleeps.append(s)
        now[0] += s

    client = client_for("eu", requests_per_minute=2, sleep=sleep, clock=lambda: now[0])
    for _ in range(3):
        client.get_domain("g.example.no")
    assert sleeps == [60.0]
