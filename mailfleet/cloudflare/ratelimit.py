"""A client-side request budget: at most ``limit`` requests in any ``window``-second window.

Cloudflare's global API limit is 1200 requests per five minutes per user (per user or account
token), counted across the dashboard, API keys and tokens alike; past it, every call is
answered 429 for the next five minutes (developers.cloudflare.com/fundamentals/api/reference/
limits). Pacing ourselves avoids most 429s; the client still honours a 429's ``Retry-After``
when one comes (other tools may spend the same budget).

Why not ``mailfleet.mailgun.ratelimit.RateLimiter``: its window is fixed at 60 seconds
(Mailgun's), and ``mailfleet.mailgun`` is an independent sibling of this package in the
utilities layer (``pyproject.toml``), so importing it here would break the layer contract.
The clock and sleep are injectable so tests run without waiting.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

CLOUDFLARE_LIMIT = 1200
CLOUDFLARE_WINDOW_SECONDS = 300.0
log = logging.getLogger(__name__)


class WindowLimiter:
    """Sliding-window limiter shared by every thread using one client."""

    def __init__(
        self,
        limit: int = CLOUDFLARE_LIMIT,
        window: float = CLOUDFLARE_WINDOW_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if limit < 1:
            raise ValueError(f"requests per window must be >= 1, got {limit}")
        if window <= 0:
            raise ValueError(f"the window must be > 0 seconds, got {window}")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()
        self.waited = 0.0

    def acquire(self) -> None:
        """Block until one more request fits in the window, then count it."""
        while True:
            with self._lock:
                now = self._clock()
                while self._sent and now - self._sent[0] >= self.window:
                    self._sent.popleft()
                if len(self._sent) < self.limit:
                    self._sent.append(now)
                    return
                wait = self.window - (now - self._sent[0])
            log.debug("cloudflare rate-limit wait=%.3f limit=%d window=%.0f", wait, self.limit, self.window)
            self.waited += wait
            self._sleep(max(wait, 0.0))
