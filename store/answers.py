"""What answers leave behind in Redis: impression counts (caps) and what each one served
(attribution), for any number of answers in ONE script call.

Per answer, the script counts every shown item (`i:<item_id>` +1) and the items per channel
and kind (`c:<channel>:<kind>`) in each impression window the rules use (layout and TTLs in
`store.counters`), and stores what the recommendation id served (`store.attribution`): the
customer and the item ids, as the JSON list attribution reads.

Why one call for many answers: the API writes after every answer, and as separate commands
(a script for the counts, HSET and EXPIRE for what was served) those writes cost the serving
process more than the reads. Measured with `bench/api_load.py` (100k customers, one worker,
2 cores): dropping the writes altogether lifted GET recommendations from ~3,300 to ~4,200
req/s. The API's writer (`api.services.impressions`) gathers the answers of one event-loop
turn and sends them as one call: a short tuple per answer on the request path, one packed
command and one reply per turn, and one script start in Redis.

Cluster: one call names the keys of many customers and recommendations, which one Redis
server takes as it comes. On Redis Cluster the answers would have to go in one call per
slot (each answer's window keys share the customer's hash tag; its served key has the
recommendation's): not built, as the API's hot connection speaks to one server.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import orjson

from store.attribution import DEFAULT_TTL
from store.counters import DAY, window_key
from store.keys import Keys


class Answer(NamedTuple):
    """One answer's writes: who saw what, on which channel, under which id, when."""

    customer_id: str
    channel: str
    shown: Sequence[tuple[str, str]]  # (item_id, kind), in the order shown
    rec_id: str
    now: float  # picks the impression windows' buckets
    windows: Iterable[int]  # the window lengths (days) the rules count impressions in


# KEYS: per answer, its window hashes then its served hash. ARGV[1]: the served TTL; then
# per answer four: customer id, the shown ids as a JSON array (stored as is for attribution),
# the (field, increment) pairs of channel × kind as a JSON array, the windows' TTLs as one.
SCRIPT = """
local key = 0
for a = 2, #ARGV, 4 do
  local items = cjson.decode(ARGV[a + 1])
  local kinds = cjson.decode(ARGV[a + 2])
  for _, ttl in ipairs(cjson.decode(ARGV[a + 3])) do
    key = key + 1
    for _, id in ipairs(items) do redis.call('HINCRBY', KEYS[key], 'i:' .. id, 1) end
    for i = 1, #kinds, 2 do redis.call('HINCRBY', KEYS[key], kinds[i], kinds[i + 1]) end
    redis.call('EXPIRE', KEYS[key], ttl)
  end
  key = key + 1
  redis.call('HSET', KEYS[key], 'customer', ARGV[a], 'items', ARGV[a + 1])
  redis.call('EXPIRE', KEYS[key], ARGV[1])
end
"""

_TTLS: dict[tuple[int, ...], bytes] = {}  # window lengths -> their TTLs as the script's JSON


def record_answers(
    pipe: Any, keys: Keys, answers: Iterable[Answer], *, served_ttl: int = DEFAULT_TTL
) -> None:
    """Queue one script call on `pipe` (a redis-py pipeline, or `store.resp.CommandBuffer`)
    writing every answer's impression counts and what it served; nothing for no answer.
    An answer that showed nothing is skipped: it counts nothing and serves nothing."""
    script_keys: list[str] = []
    args: list[Any] = [served_ttl]
    for answer in answers:
        if not answer.shown:
            continue
        days = tuple(sorted(set(answer.windows)))
        ttls = _TTLS.get(days)
        if ttls is None:
            ttls = _TTLS[days] = orjson.dumps([(d + 1) * DAY for d in days])
        items: list[str] = []
        per_kind: dict[str, int] = {}
        for item_id, kind in answer.shown:
            items.append(item_id)
            per_kind[kind] = per_kind.get(kind, 0) + 1
        prefix = f"c:{answer.channel}:"
        kinds = [part for kind, n in per_kind.items() for part in (prefix + kind, n)]
        script_keys += [window_key(keys, answer.customer_id, d, answer.now) for d in days]
        script_keys.append(keys.recommendation(answer.rec_id, "served"))
        args += [answer.customer_id, orjson.dumps(items), orjson.dumps(kinds), ttls]
    if script_keys:
        pipe.eval(SCRIPT, len(script_keys), *script_keys, *args)
