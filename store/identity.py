"""Identity merge: a visitor's live state moved onto the customer they logged in as.

What moves (`apply_merge`, one script on the customer's slot): the visitor's recent events
(`store.recent`, merged by time, newest first, capped), their impression counts in the
current frequency-cap windows (`store.counters`: added to the customer's), and — only when
the customer was never exposed to an A/B experiment and the visitor was — the assignment
unit: from then on the customer's variants are hashed from the visitor's id
(`Keys.assignment_unit`), so a visitor who saw variant B keeps seeing B after logging in.

Idempotent and cluster-safe as read-then-write, each step in one slot:
1. `claim`: SET NX on the visitor's slot names the customer (another customer: refused);
2. `applied`: the customer's mark of this merge, if present, is the stored result (a retry);
3. read the visitor (the serving read script), then `apply_merge`, which writes only when
   it sets the mark, so a crash between steps or a repeated call never counts twice;
4. the merge is appended to the `identities` stream (idempotent by `merge_id`), which
   `touchpoint ingest` drains to `DATA/identities/` for the batch (`contracts.people`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis

from store import counters, recent
from store.events import Record, append
from store.experiment_store import ExperimentKeys
from store.keys import Keys

IDENTITIES = "identities"  # the stream's name (and the data directory's table)

# KEYS = the merge mark, the customer's recent list, assignment unit, last exposures, then
# one frequency-cap window hash per window. ARGV = the result JSON, the visitor id, whether the
# visitor was exposed (1/0), the recent cap and TTL, the number of visitor events, the events
# (packed, `store.recent`), then per window: its TTL, its number of fields, field/count pairs.
# Returns the stored result: this call's when it set the mark, else the earlier call's.
_APPLY = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX') == false then return redis.call('GET', KEYS[1]) end
local cap, ttl, n = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
if n > 0 then
  local all = redis.call('LRANGE', KEYS[2], 0, -1)
  for i = 7, 6 + n do all[#all + 1] = ARGV[i] end
  local stamped = {}
  for i, record in ipairs(all) do stamped[i] = {struct.unpack('<I4', record), i, record} end
  table.sort(stamped, function(a, b)
    if a[1] ~= b[1] then return a[1] > b[1] end
    return a[2] < b[2]
  end)
  redis.call('DEL', KEYS[2])
  for i = 1, math.min(cap, #stamped) do redis.call('RPUSH', KEYS[2], stamped[i][3]) end
  redis.call('EXPIRE', KEYS[2], ttl)
end
if ARGV[3] == '1' and redis.call('EXISTS', KEYS[4]) == 0 and redis.call('EXISTS', KEYS[3]) == 0
then
  redis.call('SET', KEYS[3], ARGV[2])
end
local a = 7 + n
for k = 5, #KEYS do
  local window_ttl, fields = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  for j = a + 2, a + 1 + 2 * fields, 2 do
    redis.call('HINCRBY', KEYS[k], ARGV[j], ARGV[j + 1])
  end
  if fields > 0 and redis.call('TTL', KEYS[k]) == -1 then
    redis.call('EXPIRE', KEYS[k], window_ttl)
  end
  a = a + 2 + 2 * fields
end
return ARGV[1]
"""


def merge_id(anonymous_id: str, customer_id: str) -> str:
    """The same id for the same pair: the stream and the data directory keep a merge once."""
    return hashlib.sha256(f"{anonymous_id}\x1f{customer_id}".encode()).hexdigest()[:32]


async def claim(client: aioredis.Redis, keys: Keys, anonymous_id: str, customer_id: str) -> str:
    """Name `customer_id` as the visitor's customer unless one is named; the one named."""
    key = keys.merged_into(anonymous_id)
    await client.set(key, customer_id, nx=True)
    named = await client.get(key)
    return named.decode() if isinstance(named, bytes) else str(named)


async def applied(
    client: aioredis.Redis, keys: Keys, anonymous_id: str, customer_id: str
) -> dict[str, Any] | None:
    """The stored result of this merge, if it was applied."""
    raw = await client.get(keys.merged_from(customer_id, anonymous_id))
    return orjson.loads(raw) if raw else None


async def apply_merge(
    client: aioredis.Redis,
    keys: Keys,
    *,
    anonymous_id: str,
    customer_id: str,
    result: dict[str, Any],
    events: Sequence[recent.RecentEvent],
    windows: Sequence[counters.WindowCounts],
    visitor_exposed: bool,
    now: float,
) -> dict[str, Any]:
    """Move the visitor's `events` and `windows` onto the customer (see the module); the
    stored result (this one, or an earlier call's when the merge was applied before)."""
    script_keys = [
        keys.merged_from(customer_id, anonymous_id),
        recent.recent_key(keys, customer_id),
        keys.assignment_unit(customer_id),
        ExperimentKeys(keys).last(customer_id),
    ]
    args: list[Any] = [orjson.dumps(result), anonymous_id, int(visitor_exposed),
                       recent.RECENT_CAP, recent.RECENT_TTL_SECONDS, len(events),
                       *(recent.pack_event(e) for e in events)]  # fmt: skip
    for window in windows:
        script_keys.append(counters.window_key(keys, customer_id, window.days, now))
        fields = [(f"i:{item}", n) for item, n in window.items.items()]
        fields += [(f"c:{ch}:{kind}", n) for (ch, kind), n in window.channel_kinds.items()]
        args += [counters.time_to_live(window.days), len(fields)]
        args += [x for pair in fields for x in pair]
    stored = await client.eval(_APPLY, len(script_keys), *script_keys, *args)  # type: ignore[misc]
    found: dict[str, Any] = orjson.loads(stored)
    return found


async def announce(client: aioredis.Redis, keys: Keys, result: dict[str, Any]) -> None:
    """Append the merge to the identities stream (once per pair: idempotent by merge id)."""
    fields = {k: result[k] for k in ("merge_id", "anonymous_id", "customer_id", "merged_at")}
    await append(client, keys, IDENTITIES, [Record(result["merge_id"], fields)])
