"""Which case counts as open with a due time, read from the `case` of a case event.

The fields read (documented in `store.case_events`): `case_id`, `queue`, `status` (`open`,
`contacted`, `resolved`, `closed_no_action`) and `due_at` (epoch seconds or ISO 8601; naive
means UTC). A case still `open` or `contacted` past its `due_at` is overdue.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

OPEN_STATUSES = frozenset({"open", "contacted"})


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
