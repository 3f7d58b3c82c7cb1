"""Each customer's live recent events: a capped, expiring Redis list of packed records.

Written by `POST /v1/events` (and anything else that learns of an interaction), read by every
personalised request in the same pipeline as the customer's published recs/profile/history,
so a purchase disappears from the very next answer and fresh clicks can be folded in.

Key: `Keys.customer(customer_id, "recent")` (hash-tagged with the customer). Newest first.
Record: `<IBB` = uint32 epoch seconds, event type code, channel code; then the item id as
UTF-8. Codes are positions in `contracts.schema.EVENT_TYPES` / `CHANNELS`; seven bytes plus
the id instead of a JSON object, and decoding is one `struct.unpack_from`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from contracts.errors import InvalidInput
from contracts.schema import CHANNELS, EVENT_TYPES
from store.keys import Keys

RECENT_CAP = 100  # events kept per customer; older ones are the batch history's job
RECENT_TTL_SECONDS = 30 * 24 * 3600  # a customer silent for a month has no "recent" events
_HEAD = struct.Struct("<IBB")
_TYPE_CODE = {name: i for i, name in enumerate(EVENT_TYPES)}
_CHANNEL_CODE = {name: i for i, name in enumerate(CHANNELS)}


class RecentEventError(InvalidInput):
    """An event cannot be recorded: unknown type or channel, bad timestamp or item id."""


@dataclass(frozen=True, slots=True)
class RecentEvent:
    """One interaction as the request path needs it."""

    item_id: str
    type: str
    timestamp: int  # epoch seconds, UTC
    channel: str = "web"


def pack_event(event: RecentEvent) -> bytes:
    try:
        head = _HEAD.pack(
            int(event.timestamp), _TYPE_CODE[event.type], _CHANNEL_CODE[event.channel]
        )
    except KeyError as exc:
        raise RecentEventError(f"unknown event type or channel: {exc.args[0]!r}") from exc
    except struct.error as exc:
        raise RecentEventError(f"timestamp out of range: {event.timestamp!r}") from exc
    if not event.item_id:
        raise RecentEventError("item_id must not be empty")
    return head + event.item_id.encode()


def unpack_event(raw: bytes) -> RecentEvent:
    ts, type_code, channel_code = _HEAD.unpack_from(raw)
    return RecentEvent(
        item_id=raw[_HEAD.size :].decode(),
        type=EVENT_TYPES[type_code],
        timestamp=ts,
        channel=CHANNELS[channel_code],
    )


def recent_key(keys: Keys, customer_id: str) -> str:
    return keys.customer(customer_id, "recent")


def append_events(
    pipe: Any,
    keys: Keys,
    customer_id: str,
    events: Iterable[RecentEvent],
    *,
    cap: int = RECENT_CAP,
    ttl: int = RECENT_TTL_SECONDS,
) -> int:
    """Queue the events on a (sync or async) pipeline: LPUSH oldest→newest, LTRIM, EXPIRE.

    Nothing is sent here; the caller executes the pipeline (batching many customers into
    one round trip). Returns how many events were queued.
    """
    packed = [pack_event(e) for e in sorted(events, key=lambda e: e.timestamp)]
    if not packed:
        return 0
    key = recent_key(keys, customer_id)
    pipe.lpush(key, *packed)  # each pushed to the head, so the newest ends first
    pipe.ltrim(key, 0, cap - 1)
    pipe.expire(key, ttl)
    return len(packed)


def decode(raw: Sequence[bytes] | None) -> list[RecentEvent]:
    """The pipeline's LRANGE answer as events, newest first; unreadable records are skipped."""
    out: list[RecentEvent] = []
    for record in raw or ():
        try:
            out.append(unpack_event(record))
        except (struct.error, IndexError, UnicodeDecodeError):
            continue  # a record from a future format: ignore rather than fail the request
    return out
