"""When to try a failed delivery again: exponential backoff with jitter, then the dead letter.

Attempt n (1-based) failed → wait `base · 2^(n-1)`, capped at `max_seconds`, then shortened by
a random share of up to `jitter` of it: with jitter 0.5 the wait is uniform in [d/2, d].
Jitter spreads the retries of many deliveries that failed together (a receiver outage), so
they do not all come back in the same second when it recovers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    base_seconds: float = 10.0
    max_seconds: float = 3600.0
    jitter: float = 0.5  # share of the delay that is random, 0..1

    def ceiling(self, attempt: int) -> float:
        """The wait after failed attempt `attempt` before jitter."""
        exponent = min(attempt - 1, 60)  # 2**60 s is past any cap; avoids a huge float
        return float(min(self.max_seconds, self.base_seconds * 2.0**exponent))

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt `attempt` (1-based)."""
        ceiling = self.ceiling(attempt)
        draw = (rng or random).random()
        return ceiling * (1.0 - self.jitter * draw)


def next_step(attempt: int, max_attempts: int) -> str:
    """After failed attempt `attempt`: `retry`, or `dead` once `max_attempts` were tried."""
    return "dead" if attempt >= max_attempts else "retry"
