"""A client-side request budget: at most ``per_minute`` requests in any 60-second window.

Mailgun allows about 300 requests per minute on domain and webhook endpoints (the default
of ``mailfleet migrate --rate``, docs/migrate.md).
Pacing ourselves avoids most 429s; the client still honours a 429's headers when one comes.
The clock and sleep are injectable so tests run without waiting.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator

WINDOW_SECONDS = 60.0
log = logging.getLogger(__name__)

# Requests made while this is true go before the others when the budget is short: a region
# move marks the calls of a tenant whose inbound mail is waiting (the wait for the source
# domain's 404 and the target's create), so a batch's exports never lengthen anyone's gap.
URGENT: contextvars.ContextVar[bool] = contextvars.ContextVar("mailfleet_ratelimit_urgent", default=False)


@contextlib.contextmanager
def urgent(on: bool = True) -> Iterator[None]:
    """Mark this thread's (context's) requests as urgent while the block runs."""
    token = URGENT.set(on)
    try:
        yield
    finally:
        URGENT.reset(token)


class RateLimiter:
    """Sliding-window limiter shared by every thread using one client."""

    def __init__(
        self,
        per_minute: int = 300,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_minute < 1:
            raise ValueError(f"requests per minute must be >= 1, got {per_minute}")
        self.per_minute = per_minute
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()
        self._urgent_waiting = 0

    def acquire(self) -> None:
        """Block until one more request fits in the window, then count it. An ``urgent``
        request waiting makes the others wait: a free slot goes to it first."""
        is_urgent = URGENT.get()
        counted = False
        try:
            while True:
                with self._lock:
                    now = self._clock()
                    while self._sent and now - self._sent[0] >= WINDOW_SECONDS:
                        self._sent.popleft()
                    free = len(self._sent) < self.per_minute
                    if free and (is_urgent or self._urgent_waiting == 0):
                        self._sent.append(now)
                        return
                    if is_urgent and not counted:
                        self._urgent_waiting += 1
                        counted = True
                    # Full: until the oldest leaves the window. Free but yielding to an urgent
                    # request: about one slot's time.
                    wait = (
                        WINDOW_SECONDS - (now - self._sent[0])
                        if not free
                        else WINDOW_SECONDS / self.per_minute
                    )
                log.debug("rate-limit wait=%.3f per_minute=%d urgent=%s", wait, self.per_minute, is_urgent)
                self._sleep(max(wait, 0.0))
        finally:
            if counted:
                with self._lock:
                    self._urgent_waiting -= 1
