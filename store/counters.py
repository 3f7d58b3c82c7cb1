"""Frequency caps and budgets: impression and redemption counters in Redis, shared by channels.

Impressions are counted in fixed windows of D days: one hash per customer and window,
`Keys.customer(cid, "freq:<D>d:<bucket>")` with `bucket = epoch_day // D`, fields
`i:<item_id>` (that item shown, any channel) and `c:<channel>:<kind>` (items of that kind
shown on that channel). The hash expires one day after its window ends, so nothing is ever
cleaned up by hand. Fixed windows are the classic trade-off: one HINCRBY per field and one
HGETALL per window to read, at the price of a reset at the window boundary.

One answer's impressions are ONE command: a small Lua script does the HINCRBYs and EXPIREs of
every window (its keys all carry the customer's hash tag, so it is Cluster-safe). As separate
commands they are ~13 for 10 items, each packed, parsed and awaited by the API after every
answer: measured, the script halves the API's CPU for the post-answer writes (~90 → ~45 us an
answer) for a little more of Redis' (~30 → ~35 us).

Redemptions (for offer budgets) live in one global hash, `Keys.global_("redeemed")`,
`item_id -> count`, incremented by whoever records `redeem` events.

Reads are queued on the request's pipeline (no extra round trip); writes are queued on a
separate pipeline sent after the answer (fire and forget). The script goes out with `eval`: a
redis-py pipeline sends it as EVAL (off the hot path), the hot path's `store.resp.CommandBuffer`
as EVALSHA, re-loading it after a NOSCRIPT.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from store.keys import Keys

DAY = 86400

# KEYS = the window hashes; ARGV = each key's TTL, then the item ids shown as a JSON array
# (each shown once: field `i:<id>` +1), then (field, increment) pairs. The ids go as one
# argument rather than one field name each: ten fewer arguments for the API to build and
# pack an answer, for a JSON decode here (the script costs Redis ~14 us a call for ten
# items, INFO commandstats).
_RECORD = """
local n = #KEYS
local items = cjson.decode(ARGV[n + 1])
for k = 1, n do
  for _, id in ipairs(items) do redis.call('HINCRBY', KEYS[k], 'i:' .. id, 1) end
  for i = n + 2, #ARGV, 2 do redis.call('HINCRBY', KEYS[k], ARGV[i], ARGV[i + 1]) end
  redis.call('EXPIRE', KEYS[k], ARGV[k])
end
"""


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
    queued = sorted(set(windows))
    items: list[str] = []
    per_kind: dict[str, int] = {}
    for item_id, kind in shown:
        items.append(item_id)
        per_kind[kind] = per_kind.get(kind, 0) + 1
    if not items or not queued:
        return
    kinds = [part for kind, count in per_kind.items() for part in (f"c:{channel}:{kind}", count)]
    window_keys = [window_key(keys, customer_id, days, now) for days in queued]
    ttls = [(days + 1) * DAY for days in queued]
    pipe.eval(_RECORD, len(queued), *window_keys, *ttls, orjson.dumps(items), *kinds)


def record_redemptions(pipe: Any, keys: Keys, item_ids: Iterable[str]) -> None:
    """Queue one redemption per item id (call this for every accepted `redeem` event)."""
    for item_id in item_ids:
        pipe.hincrby(redeemed_key(keys), item_id, 1)


def queue_read_redeemed(pipe: Any, keys: Keys) -> None:
    pipe.hgetall(redeemed_key(keys))


def decode_redeemed(raw: Mapping[bytes, bytes] | None) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in (raw or {}).items()}
