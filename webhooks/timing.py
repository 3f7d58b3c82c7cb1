"""The worker's two decisions about time: when to try a failed delivery again, and when an
open case is overdue.

Backoff: attempt n (1-based) failed → wait `base · 2^(n-1)`, capped at `max_seconds`, then
shortened by a random share of up to `jitter` of it: with jitter 0.5 the wait is uniform in
[d/2, d]. Jitter spreads the retries of many deliveries that failed together (a receiver
outage), so they do not all come back in the same second when it recovers. After
`max_attempts` the delivery goes to the dead-letter list.

Overdue: read from the `case` of a case event (fields documented in `store.case_events`):
`status` (`open`, `contacted`, `resolved`, `closed_no_action`) and `due_at` (epoch seconds or
ISO 8601; naive means UTC). A case still `open` or `contacted` past its `due_at` is overdue.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

OPEN_STATUSES = frozenset({"open", "contacted"})


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


def due_time(case: dict[str, Any]) -> float | None:
    """Epoch seconds at which the case falls overdue; None when it is not open or has no
    (readable) due time."""
    if case.get("status", "open") not in OPEN_STATUSES:
        return None
    due = case.get("due_at")
    if isinstance(due, int | float) and not isinstance(due, bool):
        return float(due)
    if isinstance(due, str) and due:
        try:
            parsed = datetime.fromisoformat(due.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    return None


def is_overdue(case: dict[str, Any], now: float) -> bool:
    due = due_time(case)
    return due is not None and due <= now
