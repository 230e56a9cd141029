"""``mailfleet.http.retry``: the waits a 429 asks for, backoff with jitter and a cap, giving up."""

from __future__ import annotations

import email.utils
import time

import pytest

from mailfleet.http.retry import (
    RETRY_STATUSES,
    backoff,
    give_up,
    rate_limit_reset_seconds,
    ratelimit_reset_seconds,
    retry_after_seconds,
)

NOW = 1_700_000_000.0


class Clock:
    """A fixed clock that counts its calls."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return self.now


def test_backoff_doubles_from_base_and_spreads_over_the_upper_half() -> None:
    assert [backoff(a, 0.5, 30.0, lambda: 0.0) for a in range(4)] == [0.25, 0.5, 1.0, 2.0]
    assert [backoff(a, 0.5, 30.0, lambda: 1.0) for a in range(4)] == [0.5, 1.0, 2.0, 4.0]
    assert [backoff(a, 0.5, 30.0, lambda: 0.5) for a in range(3)] == [0.375, 0.75, 1.5]


def test_backoff_is_capped_and_calls_jitter_once() -> None:
    calls: list[int] = []

    def jitter() -> float:
        calls.append(1)
        return 1.0

    assert backoff(20, 0.5, 30.0, jitter) == 30.0
    assert backoff(20, 0.5, 30.0, lambda: 0.0) == 15.0
    assert calls == [1]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("7", 7.0), (" 2.5 ", 2.5), ("0", 0.0), ("-3", 0.0)],
)
def test_retry_after_in_seconds(value: str, expected: float) -> None:
    clock = Clock()
    assert retry_after_seconds(value, clock) == expected
    assert clock.calls == 0  # the clock is read only for a date


def test_retry_after_as_an_http_date() -> None:
    clock = Clock()
    in_90s = email.utils.formatdate(NOW + 90, usegmt=True)
    assert retry_after_seconds(in_90s, clock) == 90.0
    assert clock.calls == 1
    assert retry_after_seconds(email.utils.formatdate(NOW - 90, usegmt=True), clock) == 0.0


def test_retry_after_date_without_zone_is_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    # "-0000" parses to a naive datetime: RFC 5322 says UTC, not the machine's local time.
    naive = email.utils.formatdate(NOW + 30).rsplit(" ", 1)[0] + " -0000"
    monkeypatch.setenv("TZ", "JST-9")  # POSIX form: no tz database needed
    time.tzset()
    try:
        assert retry_after_seconds(naive, Clock()) == 30.0
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize("value", [None, "", "   ", "soon", "Wed, 99 Foo 2015 07:28:00 GMT"])
def test_retry_after_that_does_not_parse_is_none(value: str | None) -> None:
    assert retry_after_seconds(value, Clock()) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30", 30.0),  # seconds from now
        (" 12 ", 12.0),
        (str(int(NOW + 45)), 45.0),  # epoch seconds
        (str(int((NOW + 20) * 1000)), 20.0),  # epoch milliseconds
        (str(int(NOW - 5)), 0.0),  # in the past
        ("-4", 0.0),
    ],
)
def test_x_ratelimit_reset(value: str, expected: float) -> None:
    assert rate_limit_reset_seconds(value, Clock()) == pytest.approx(expected)


@pytest.mark.parametrize("value", [None, "", "never"])
def test_x_ratelimit_reset_that_does_not_parse_is_none(value: str | None) -> None:
    assert rate_limit_reset_seconds(value, Clock()) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('"default";r=0;t=30', 30.0),
        ("t=5.5", 5.5),
        ("r=0, t=7", 7.0),
        ("limit=1200 t=9", 9.0),
        ("xt=9", None),  # not the t= parameter
        ("t=soon", None),
        ("", None),
        (None, None),
    ],
)
def test_ratelimit_t_parameter(value: str | None, expected: float | None) -> None:
    assert ratelimit_reset_seconds(value) == expected


def test_only_timeouts_and_refused_connections_are_retried_until_max_retries() -> None:
    assert give_up("timeout", 0, 2) is None
    assert give_up("connection failed", 1, 2) is None
    assert give_up("timeout", 2, 2) == "timeout after 3 attempts"
    assert give_up("connection failed", 0, 0) == "connection failed after 1 attempts"
    assert give_up("TooManyRedirects", 0, 5) == "TooManyRedirects"


def test_retry_statuses() -> None:
    assert frozenset({429, 500, 502, 503, 504}) == RETRY_STATUSES
