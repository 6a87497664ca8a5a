"""Per-integration rate limit: an in-process token bucket.

Each server process keeps its own buckets, so with N processes an integration may get up to
N times its limit; the limit protects the system from a runaway sender, it is not a quota.
The bucket holds `per_minute` tokens (a burst of one minute's worth) and refills continuously.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class TokenBuckets:
    def __init__(self, *, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._state: dict[int, tuple[float, float]] = {}

    def take(self, key: int, *, per_minute: int, cost: int = 1) -> int:
        """Take `cost` tokens; return 0 if allowed, else the seconds to wait (Retry-After)."""
        if per_minute <= 0:
            return 0
        now = self._now()
        capacity = float(per_minute)
        rate = per_minute / 60.0
        tokens, last = self._state.get(key, (capacity, now))
        tokens = min(capacity, tokens + (now - last) * rate)
        if tokens >= cost:
            self._state[key] = (tokens - cost, now)
            return 0
        self._state[key] = (tokens, now)
        missing = min(float(cost), capacity) - tokens
        return max(1, math.ceil(missing / rate))
