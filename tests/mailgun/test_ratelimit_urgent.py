"""The rate limiter's urgent lane: a request of a tenant in its inbound gap goes first."""

from __future__ import annotations

import threading
import time

from mailfleet.mailgun.ratelimit import URGENT, RateLimiter, urgent

SPEED = 60.0  # limiter seconds per real second: a 60 s window lasts 1 s


def test_an_urgent_request_gets_the_next_free_slot_before_earlier_waiters() -> None:
    limiter = RateLimiter(10, clock=lambda: time.monotonic() * SPEED, sleep=lambda s: time.sleep(s / SPEED))
    for _ in range(10):
        limiter.acquire()  # the window is full for about a second
    order: list[str] = []
    lock = threading.Lock()

    def take(name: str, is_urgent: bool) -> None:
        with urgent(is_urgent):
            limiter.acquire()
        with lock:
            order.append(name)

    normal = [threading.Thread(target=take, args=(f"normal-{i}", False)) for i in range(3)]
    for t in normal:
        t.start()
    time.sleep(0.2)  # the normal requests are waiting before the urgent one arrives
    late = threading.Thread(target=take, args=("urgent", True))
    late.start()
    for t in [*normal, late]:
        t.join(10)
    assert order[0] == "urgent", order
    assert sorted(order[1:]) == ["normal-0", "normal-1", "normal-2"]
    assert URGENT.get() is False  # the mark never leaks out of its block


def test_without_urgent_requests_the_budget_is_unchanged() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(3, clock=lambda: now[0], sleep=sleep)
    for _ in range(4):
        limiter.acquire()
    assert slept == [60.0]  # the fourth waits for the first to leave the window
