"""A client-side request budget: at most ``per_minute`` requests in any 60-second window.

Mailgun allows about 300 requests per minute on domain and webhook endpoints (the default
of ``mailfleet migrate --rate``, docs/migrate.md).
Pacing ourselves avoids most 429s; the client still honours a 429's headers when one comes.
The clock and sleep are injectable so tests run without waiting.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

WINDOW_SECONDS = 60.0
log = logging.getLogger(__name__)


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

    def acquire(self) -> None:
        """Block until one more request fits in the window, then count it."""
        while True:
            with self._lock:
                now = self._clock()
                while self._sent and now - self._sent[0] >= WINDOW_SECONDS:
                    self._sent.popleft()
                if len(self._sent) < self.per_minute:
                    self._sent.append(now)
                    return
                wait = WINDOW_SECONDS - (now - self._sent[0])
            log.debug("rate-limit wait=%.3f per_minute=%d", wait, self.per_minute)
            self._sleep(max(wait, 0.0))
