"""Frequency caps and budgets: impression and redemption counters in Redis, shared by channels.

Impressions are counted in fixed windows of D days (`bucket = epoch_day // D`), per customer
and window in two keys that together hold the counts:
- the answer log `Keys.customer(cid, "freq:<D>d:<bucket>:log")`: a list, one record per
  answer not yet folded in (`log_record`: the shown item ids, the channel counts);
- the folded counts `Keys.customer(cid, "freq:<D>d:<bucket>")`: a hash of those fields.
Fields: `i:<item_id>` (that item shown, any channel) and `c:<channel>:<kind>` (items of that
kind shown on that channel). A window's count of a field is the hash's value plus every
logged record's increments; the read script (`store.profile`) adds them up in Redis.

Why a log: an answer's writes are then one RPUSH per window, where counting in the hash
cost one HINCRBY per shown item (ten for a ten-item list). Measured with `bench/api_load.py`
(100k customers, wrk -c32), Redis CPU per GET fell from 66-73 to 51-53 us and the API served
6-11% more GETs, as it no longer waited on Redis as often. Once a log holds `FOLD` records
the write that reaches that length folds them into the hash (one HINCRBY per field, as
before) and deletes the log, so a read never adds up more than `FOLD` - 1 records.

Both keys expire at least one day after their window ends (`time_to_live`, set when the
key is created), so nothing is ever cleaned up by hand. Fixed windows are the classic
trade-off: cheap to count and to read, at the price of a reset at the window boundary.

Answers write their impressions with what they served, many answers in one script call
(`store.answers`).

Redemptions (for offer budgets) live in one global hash, `Keys.global_("redeemed")`,
`item_id -> count`, incremented by whoever records `redeem` events.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from store.keys import Keys

DAY = 86400
FOLD = 8  # records a window's log holds before the write that reaches it folds them in


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


def log_record(items: bytes, channel_kinds: bytes) -> bytes:
    """One answer's log record: `[[item ids], [field, count, ...]]`, from the shown ids and
    the `c:<channel>:<kind>` counts, each already a JSON array (the ids are the very bytes
    attribution stores). Read in Redis by `ADD_RECORD`."""
    return b"[" + items + b"," + channel_kinds + b"]"


# Lua: add one log record's counts to `counts` (field -> count), for the scripts that fold
# a log into its hash (`store.answers`) and that read a window (`store.profile`).
ADD_RECORD = """
local function add_record(counts, record)
  local shown = cjson.decode(record)
  for _, id in ipairs(shown[1]) do
    local name = 'i:' .. id
    counts[name] = (counts[name] or 0) + 1
  end
  local kinds = shown[2]
  for i = 1, #kinds, 2 do counts[kinds[i]] = (counts[kinds[i]] or 0) + kinds[i + 1] end
end
"""


def log_key(window: str) -> str:
    """The answer log beside the window hash `window` (same hash tag: same slot)."""
    return window + ":log"


def time_to_live(days: int) -> int:
    """A window key's TTL, set when it is created: a window ends at most `days` days after
    anything is counted in it, so this keeps it at least one day after its end."""
    return (days + 1) * DAY


def decode_window_fields(
    days: int, names: Sequence[bytes], values: Sequence[bytes | int]
) -> WindowCounts:
    """A window's field names and counts (in the same order; counts as bytes or int)."""
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


def decode_redeemed(raw: Mapping[bytes, bytes] | None) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in (raw or {}).items()}
