"""What answers leave behind in Redis: impression counts (caps) and what each one served
(attribution), for many answers in one script call (`PER_CALL` at most).

Per answer, the script appends one record to the log of each impression window the rules
use: every shown item (`i:<item_id>` +1) and the items per channel and kind
(`c:<channel>:<kind>` +n), folding a full log into the window's hash (layout, folding and
expiry in `store.counters`). It also stores what the recommendation id served
(`store.attribution`): the customer and the item ids, as the JSON list attribution reads.

Why one call for many answers: the API writes after every answer, and as separate commands
(a script for the counts, HSET and EXPIRE for what was served) those writes cost the serving
process more than the reads. Measured with `bench/api_load.py` (100k customers, one worker,
2 cores): dropping the writes altogether lifted GET recommendations from ~3,300 to ~4,200
req/s. The API's writer (`api.services.impressions`) gathers the answers of one event-loop
turn and sends them as one call (or one per `PER_CALL` answers, so a burst never blocks
Redis for long): a short tuple per answer on the request path, one packed write per turn,
and one script start in Redis per call.

Cluster: one call names the keys of many customers and recommendations, which one Redis
server takes as it comes. On Redis Cluster (`per_slot=True`) each answer goes as calls of
one slot each: its window keys (the customer's hash tag) in one call without a served key,
and its served key (the recommendation's tag) in one call without windows; the same script.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import orjson

from store.attribution import DEFAULT_TTL
from store.counters import ADD_RECORD, FOLD, log_key, log_record, time_to_live, window_key
from store.keys import Keys

# Answers per script call: a script blocks Redis while it runs (~6-12 us an answer), so a
# burst of thousands of answers goes as several calls other clients' commands can pass.
PER_CALL = 256


class Answer(NamedTuple):
    """One answer's writes: who saw what, on which channel, under which id, when."""

    customer_id: str
    channel: str
    shown: Sequence[tuple[str, str]]  # (item_id, kind), in the order shown
    rec_id: str
    now: float  # picks the impression windows' buckets
    windows: Iterable[int]  # the window lengths (days) the rules count impressions in


# KEYS: per answer, (hash, log) per window, then its served hash. ARGV[1]: the served TTL,
# ARGV[2]: `FOLD`; then per answer: customer id, the shown ids as a JSON array (stored as is
# for attribution), its log record (`store.counters.log_record`), how many windows (n),
# then the n windows' TTLs.
SCRIPT = (
    ADD_RECORD
    + """
local served_ttl, fold = ARGV[1], tonumber(ARGV[2])
local key, a = 0, 3
while a <= #ARGV do
  local n = tonumber(ARGV[a + 3])
  for w = 1, n do
    local hash, log, ttl = KEYS[key + 1], KEYS[key + 2], ARGV[a + 3 + w]
    key = key + 2
    local length = redis.call('RPUSH', log, ARGV[a + 2])
    if length == 1 then redis.call('EXPIRE', log, ttl) end
    if length >= fold then
      local counts = {}
      for _, record in ipairs(redis.call('LRANGE', log, 0, -1)) do add_record(counts, record) end
      for name, count in pairs(counts) do redis.call('HINCRBY', hash, name, count) end
      redis.call('EXPIRE', hash, ttl)
      redis.call('DEL', log)
    end
  end
  key = key + 1
  if KEYS[key] then  -- absent from a call of `per_slot` windows
    redis.call('HSET', KEYS[key], 'customer', ARGV[a], 'items', ARGV[a + 1])
    redis.call('EXPIRE', KEYS[key], served_ttl)
  end
  a = a + 4 + n
end
"""
)


def record_answers(
    pipe: Any,
    keys: Keys,
    answers: Iterable[Answer],
    *,
    served_ttl: int = DEFAULT_TTL,
    per_slot: bool = False,
) -> None:
    """Queue script calls on `pipe` (a redis-py pipeline, or `store.resp.CommandBuffer`)
    writing every answer's impression counts and what it served, `PER_CALL` answers a call;
    nothing for no answer. An answer that showed nothing is skipped: it counts nothing and
    serves nothing. `per_slot`: every call names keys of one hash slot (Redis Cluster)."""
    shown = [answer for answer in answers if answer.shown]
    if per_slot:
        for answer in shown:
            _record_slots(pipe, keys, answer, served_ttl)
        return
    for start in range(0, len(shown), PER_CALL):
        _record_call(pipe, keys, shown[start : start + PER_CALL], served_ttl)


def _record_call(pipe: Any, keys: Keys, answers: list[Answer], served_ttl: int) -> None:
    script_keys: list[str] = []
    args: list[Any] = [served_ttl, FOLD]
    for answer in answers:
        for d in sorted(set(answer.windows)):
            window = window_key(keys, answer.customer_id, d, answer.now)
            script_keys += (window, log_key(window))
        script_keys.append(keys.recommendation(answer.rec_id, "served"))
        args += _answer_args(answer)
    pipe.eval(SCRIPT, len(script_keys), *script_keys, *args)


def _answer_args(answer: Answer) -> list[Any]:
    """One answer's ARGV: customer id, shown ids, log record, how many windows, their TTLs."""
    items: list[str] = []
    per_kind: dict[str, int] = {}
    for item_id, kind in answer.shown:
        items.append(item_id)
        per_kind[kind] = per_kind.get(kind, 0) + 1
    prefix = f"c:{answer.channel}:"
    ids = orjson.dumps(items)
    kinds = orjson.dumps([part for kind, n in per_kind.items() for part in (prefix + kind, n)])
    days = sorted(set(answer.windows))
    return [answer.customer_id, ids, log_record(ids, kinds), len(days),
            *[time_to_live(d) for d in days]]  # fmt: skip


def _record_slots(pipe: Any, keys: Keys, answer: Answer, served_ttl: int) -> None:
    """One answer as two single-slot calls: its windows (no served key), then what it served
    (no window)."""
    days = sorted(set(answer.windows))
    if days:
        script_keys: list[str] = []
        for d in days:
            window = window_key(keys, answer.customer_id, d, answer.now)
            script_keys += (window, log_key(window))
        args = _answer_args(answer)
        pipe.eval(SCRIPT, len(script_keys), *script_keys, served_ttl, FOLD, *args)
    served = [keys.recommendation(answer.rec_id, "served")]
    args = _answer_args(answer._replace(windows=()))
    pipe.eval(SCRIPT, 1, *served, served_ttl, FOLD, *args)
