"""What happens to follow-up cases, as a stream the webhook worker delivers from.

The case store appends an entry here, in the same pipeline as the change it describes
(`case.opened`, `case.joined`, `case.updated`, `case.resolved`, `case.overdue`); the webhook
worker reads the stream through its own consumer group and delivers each entry to the URLs
configured for its queue and kind, at least once. Every entry carries an `event_id`: the
idempotency key a receiver uses to drop a repeated delivery.

The `case` of every entry carries at least `case_id` and `queue`; the webhook worker also
reads `status` (`open`, `contacted`, `resolved`, `closed_no_action`) and `due_at` (epoch
seconds or ISO 8601 UTC): it keeps its own index of open cases from the stream and appends
`case.overdue` once for a case still open or contacted past its `due_at` (`webhooks.timing`),
so the case store's key layout is not part of this interface.

Keys (see `store.keys`): the stream `tp:{cases}:s:case-events:stream`; each customer's open cases
`tp:c:{CUSTOMER}:cases`, a hash touchpoint → case id (one open case per customer and
touchpoint), which the survey decision and the business rules read.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

from store.keys import Keys

CASE_EVENTS = "case-events"
KINDS = ("case.opened", "case.joined", "case.updated", "case.resolved", "case.overdue")
MAXLEN = 1_000_000  # approximate trim; the worker acknowledges long before this


def open_cases_key(keys: Keys, customer_id: str) -> str:
    """The customer's open cases: a hash touchpoint → case id."""
    return keys.customer(customer_id, "cases")


def case_event(kind: str, case: dict[str, Any], *, at: float | None = None) -> dict[str, Any]:
    """The entry for `kind` about `case` (a JSON-ready dict with at least `case_id`, `queue`)."""
    if kind not in KINDS:
        raise ValueError(f"unknown case event {kind!r}; known: {', '.join(KINDS)}")
    return {
        "event_id": uuid.uuid4().hex,
        "kind": kind,
        "at": time.time() if at is None else at,
        "queue": case.get("queue", ""),
        "case": case,
    }


def queue_case_event(pipe: Any, keys: Keys, kind: str, case: dict[str, Any]) -> dict[str, Any]:
    """Queue on a (sync or async) pipeline the append of one case event; returns the entry."""
    entry = case_event(kind, case)
    pipe.xadd(keys.stream(CASE_EVENTS), {"d": orjson.dumps(entry)}, maxlen=MAXLEN, approximate=True)
    return entry


def decode_case_event(raw: dict[bytes, bytes]) -> dict[str, Any]:
    """A stream entry's fields → the entry dict written by `queue_case_event`."""
    return dict(orjson.loads(raw[b"d"]))
