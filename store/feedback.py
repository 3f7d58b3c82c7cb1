"""Each customer's latest survey answer per survey (NPS, CSAT, CES), for the profile.

Key: `Keys.customer(customer_id, "feedback")`, a hash: `<survey>` → JSON of the latest
response, `<survey>:ts` → its timestamp; and `Keys.customer(customer_id, "feedback-tp")`, the
same per touchpoint (any survey). A late-arriving older response never overwrites a newer
one: the comparison and the write are one script (timestamps are fixed-width UTC ISO
strings, so text order is time order).
"""

from __future__ import annotations

from typing import Any

import orjson

from store.keys import Keys

LATEST_TTL = 400 * 24 * 3600  # a year of silence (plus slack) and the answer is stale

# KEYS = hashes (the per-survey one, and the per-touchpoint one when the answer names a
# touchpoint; same customer, same slot); ARGV = timestamp, JSON, ttl, then the field per
# hash (survey, touchpoint). Returns 1 when it became the latest of its survey.
_SET_IF_NEWER = """
local result = 0
for i = 1, #KEYS do
  local name = ARGV[3 + i]
  local current = redis.call('HGET', KEYS[i], name .. ':ts')
  if (not current) or current <= ARGV[1] then
    redis.call('HSET', KEYS[i], name, ARGV[2], name .. ':ts', ARGV[1])
    if i == 1 then result = 1 end
  end
  redis.call('EXPIRE', KEYS[i], ARGV[3])
end
return result
"""


def feedback_key(keys: Keys, customer_id: str) -> str:
    return keys.customer(customer_id, "feedback")


def record_latest(
    pipe: Any, keys: Keys, response: dict[str, Any], *, ttl: int = LATEST_TTL
) -> None:
    """Queue on a (sync or async) pipeline: keep `response` if it is the customer's newest
    answer to its survey, and (when it names a touchpoint) their newest at that touchpoint.
    `response` has customer_id, survey, score and an ISO timestamp; one script call."""
    customer_id = response["customer_id"]
    hashes, names = [feedback_key(keys, customer_id)], [response["survey"]]
    if response.get("touchpoint"):
        hashes.append(touchpoint_feedback_key(keys, customer_id))
        names.append(response["touchpoint"])
    pipe.eval(
        _SET_IF_NEWER, len(hashes), *hashes, response["timestamp"], orjson.dumps(response), ttl,
        *names,
    )  # fmt: skip


def decode(raw: dict[bytes, bytes] | None) -> dict[str, dict[str, Any]]:
    """HGETALL reply → `{survey: {score, timestamp, response_id, ...}}`."""
    out: dict[str, dict[str, Any]] = {}
    for name, value in (raw or {}).items():
        survey = name.decode()
        if not survey.endswith(":ts"):
            out[survey] = orjson.loads(value)
    return out


def touchpoint_feedback_key(keys: Keys, customer_id: str) -> str:
    """The customer's latest answer per touchpoint (any survey): `<touchpoint>` → JSON."""
    return keys.customer(customer_id, "feedback-tp")
