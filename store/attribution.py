"""Attribution: what a recommendation served, and which conversions came back carrying its id.

The serving side records what each answer served (`store.answers`: `tp:r:{REC}:served`
holds `customer` and `items`, a JSON list); the event intake calls `attribute` for each
conversion carrying a `recommendation_id`. Both keys of a recommendation share its hash
tag, so the attribution script runs on one shard.
Counters in `tp:r:{REC}:conversions`: `<type>` (every conversion with this id),
`<type>:served` (the converted item was among those served to that customer),
`item:<item_id>:<type>` (per served item), `value` / `value:served` (summed event value),
`other_customer` (the id came back from a different customer).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from contracts.schema import CONVERSION_TYPES
from store.daily import CONVERTED, day_of, queue_counts
from store.keys import Keys

# What a recommendation served is kept a week by default (the API's
# TOUCHPOINT_ATTRIBUTION_DAYS): every answer writes one (~360 bytes by MEMORY USAGE), and a
# conversion later than that is no longer credited to the recommendation by its id.
DEFAULT_TTL = 7 * 24 * 3600

# KEYS[1] = served hash, KEYS[2] = conversions hash;
# ARGV = customer_id, item_id, type, value, ttl. Returns 1 when the item had been served.
_ATTRIBUTE = """
local served = redis.call('HMGET', KEYS[1], 'customer', 'items')
local hit = 0
if served[1] and served[1] ~= ARGV[1] then
  redis.call('HINCRBY', KEYS[2], 'other_customer', 1)
elseif served[2] then
  for _, id in ipairs(cjson.decode(served[2])) do
    if id == ARGV[2] then hit = 1 break end
  end
end
redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
local value = tonumber(ARGV[4])
if value ~= 0 then redis.call('HINCRBYFLOAT', KEYS[2], 'value', ARGV[4]) end
if hit == 1 then
  redis.call('HINCRBY', KEYS[2], ARGV[3] .. ':served', 1)
  redis.call('HINCRBY', KEYS[2], 'item:' .. ARGV[2] .. ':' .. ARGV[3], 1)
  if value ~= 0 then redis.call('HINCRBYFLOAT', KEYS[2], 'value:served', ARGV[4]) end
end
redis.call('EXPIRE', KEYS[2], ARGV[5])
return hit
"""


def attribute(
    pipe: Any, event: Mapping[str, Any], *, keys: Keys | None = None, ttl: int = DEFAULT_TTL
) -> bool:
    """Queue the attribution of one event on `pipe`; False (nothing queued) when the event
    is not a conversion or carries no recommendation id."""
    rec_id = event.get("recommendation_id") or ""
    if not rec_id or event.get("type") not in CONVERSION_TYPES:
        return False
    keys = keys or Keys()
    pipe.eval(
        _ATTRIBUTE,
        2,
        keys.recommendation(rec_id, "served"),
        keys.recommendation(rec_id, "conversions"),
        event["customer_id"],
        event["item_id"],
        event["type"],
        repr(float(event.get("value") or 0.0)),
        ttl,
    )
    queue_counts(pipe, keys, CONVERTED, {day_of(time.time()): {str(event["type"]): 1}})
    return True
