"""Per-integration rate limit: the in-process state of `domain.alert_rules.take_token`.

Each server process keeps its own buckets, so with N processes an integration may get up to
N times its limit; the limit protects the system from a runaway sender, it is not a quota.
A bucket holds `per_minute` tokens (a burst of one minute's worth) and refills continuously.
"""

from __future__ import annotations

import math

from fireline.clock import Clock
from fireline.domain.alert_rules import BucketState, take_token


class TokenBuckets:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._state: dict[int, BucketState] = {}

    def take(self, key: int, *, per_minute: int, cost: int = 1) -> int:
        """Take `cost` tokens; return 0 if allowed, else the whole seconds to wait (Retry-After).

        A request costing more than the whole burst is charged the burst, so a big batch can
        still pass once the bucket is full. `per_minute` <= 0 turns the limit off.
        """
        if per_minute <= 0:
            return 0
        decision = take_token(
            self._state.get(key),
            now=self._clock.now(),
            rate=per_minute / 60.0,
            burst=per_minute,
            cost=min(max(cost, 1), per_minute),
        )
        self._state[key] = decision.state
        return 0 if decision.allowed else max(1, math.ceil(decision.retry_after_seconds))
