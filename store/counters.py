"""Frequency caps and budgets: impression and redemption counters in Redis, shared by channels.

Impressions are counted in fixed windows of D days: one hash per customer and window,
`Keys.customer(cid, "freq:<D>d:<bucket>")` with `bucket = epoch_day // D`, fields
`i:<item_id>` (that item shown, any channel) and `c:<channel>:<kind>` (items of that kind
shown on that channel). The hash expires one day after its window ends, so nothing is ever
cleaned up by hand. Fixed windows are the classic trade-off: one HINCRBY per field and one
HGETALL per window to read, at the price of a reset at the window boundary.

Redemptions (for offer budgets) live in one global hash, `Keys.global_("redeemed")`,
`item_id -> count`, incremented by whoever records `redeem` events.

Reads are queued on the request's pipeline (no extra round trip); writes are queued on a
separate pipeline sent after the answer (fire and forget).
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
    items: dict[str, int] = {}
    channel_kinds: dict[tuple[str, str], int] = {}
    for name, value in (raw or {}).items():
        text = name.decode()
        if text.startswith("i:"):
            items[text[2:]] = int(value)
        elif text.startswith("c:"):
            channel, _, kind = text[2:].partition(":")
            channel_kinds[(channel, kind)] = int(value)
    return WindowCounts(days, items, channel_kinds)


def record_impressions(
    pipe: Any,
    keys: Keys,
    customer_id: str,
    *,
    channel: str,
    shown: Iterable[tuple[str, str]],
    windows: Iterable[int],
    now: float | None = None,
) -> None:
    """Queue counts of `shown` `(item_id, kind)` pairs on `channel` in every window length."""
    shown = list(shown)
    if not shown:
        return
    per_kind: dict[str, int] = {}
    for _, kind in shown:
        per_kind[kind] = per_kind.get(kind, 0) + 1
    for days in sorted(set(windows)):
        key = window_key(keys, customer_id, days, now)
        for item_id, _ in shown:
            pipe.hincrby(key, f"i:{item_id}", 1)
        for kind, n in per_kind.items():
            pipe.hincrby(key, f"c:{channel}:{kind}", n)
        pipe.expire(key, (days + 1) * DAY)


def record_redemptions(pipe: Any, keys: Keys, item_ids: Iterable[str]) -> None:
    """Queue one redemption per item id (call this for every accepted `redeem` event)."""
    for item_id in item_ids:
        pipe.hincrby(redeemed_key(keys), item_id, 1)


def queue_read_redeemed(pipe: Any, keys: Keys) -> None:
    pipe.hgetall(redeemed_key(keys))


def decode_redeemed(raw: Mapping[bytes, bytes] | None) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in (raw or {}).items()}
