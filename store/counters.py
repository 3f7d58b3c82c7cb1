"""Frequency caps and budgets: impression and redemption counters in Redis, shared by channels.

Impressions are counted in fixed windows of D days: one hash per customer and window,
`Keys.customer(cid, "freq:<D>d:<bucket>")` with `bucket = epoch_day // D`, fields
`i:<item_id>` (that item shown, any channel) and `c:<channel>:<kind>` (items of that kind
shown on that channel). The hash expires one day after its window ends, so nothing is ever
cleaned up by hand. Fixed windows are the classic trade-off: one HINCRBY per field and one
HGETALL per window to read, at the price of a reset at the window boundary.

Answers write their impressions with what they served, many answers in one script call
(`store.answers`).

Redemptions (for offer budgets) live in one global hash, `Keys.global_("redeemed")`,
`item_id -> count`, incremented by whoever records `redeem` events.

Reads are queued on the request's pipeline (no extra round trip).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from store.keys import Keys

DAY = 86400


@dataclass(frozen=True)
class WindowCounts:
    """What one customer was shown in the current window of `days` days."""

    days: int
    items: dict[str, int] = field(default_factory=dict)
    channel_kinds: dict[tuple[str, str], int] = field(default_factory=dict)

    def item(self, item_id: str) -> int:
        return self.items.get(item_id, 0)

    def channel_kind(self, channel: str, kind: str) -> int:
        return self.channel_kinds.get((channel, kind), 0)


def bucket(days: int, now: float | None = None) -> int:
    return int((time.time() if now is None else now) // DAY) // days


def window_key(keys: Keys, customer_id: str, days: int, now: float | None = None) -> str:
    # per-customer (hash-tagged) so it is read in the same pipeline as the customer's data
    return keys.customer(customer_id, f"freq:{days}d:{bucket(days, now)}")


def redeemed_key(keys: Keys) -> str:
    return keys.global_("redeemed")


def queue_read_windows(
    pipe: Any, keys: Keys, customer_id: str, windows: Iterable[int], now: float | None = None
) -> list[int]:
    """Queue one HGETALL per window length; returns the lengths in queue order."""
    queued = sorted(set(windows))
    for days in queued:
        pipe.hgetall(window_key(keys, customer_id, days, now))
    return queued


def decode_window(days: int, raw: Mapping[bytes, bytes] | None) -> WindowCounts:
    """A window hash (HGETALL's mapping) as counts; see `decode_window_fields`."""
    raw = raw or {}
    return decode_window_fields(days, list(raw), list(raw.values()))


def decode_window_fields(days: int, names: list[bytes], values: list[bytes]) -> WindowCounts:
    """A window hash's field names and values (in the same order) as counts."""
    items = {n[2:].decode(): int(v) for n, v in zip(names, values, strict=True) if n[:2] == b"i:"}
    channel_kinds: dict[tuple[str, str], int] = {}
    for name, value in zip(names, values, strict=True):
        if name[:2] == b"c:":
            channel, _, kind = name[2:].decode().partition(":")
            channel_kinds[(channel, kind)] = int(value)
    return WindowCounts(days, items, channel_kinds)


def record_redemptions(pipe: Any, keys: Keys, item_ids: Iterable[str]) -> None:
    """Queue one redemption per item id (call this for every accepted `redeem` event)."""
    for item_id in item_ids:
        pipe.hincrby(redeemed_key(keys), item_id, 1)


def queue_read_redeemed(pipe: Any, keys: Keys) -> None:
    pipe.hgetall(redeemed_key(keys))


def decode_redeemed(raw: Mapping[bytes, bytes] | None) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in (raw or {}).items()}
