"""Each customer's latest survey answer per survey (NPS, CSAT, CES), for the profile.

Key: `Keys.customer(customer_id, "feedback")`, a hash: `<survey>` → JSON of the latest
response, `<survey>:ts` → its timestamp. A late-arriving older response never overwrites a
newer one: the comparison and the write are one script (timestamps are fixed-width UTC
ISO strings, so text order is time order).
"""

from __future__ import annotations

from typing import Any

import orjson

from store.keys import Keys

LATEST_TTL = 400 * 24 * 3600  # a year of silence (plus slack) and the answer is stale

# KEYS[1] = hash; ARGV = survey, timestamp, JSON, ttl. Returns 1 when it became the latest.
_SET_IF_NEWER = """
local current = redis.call('HGET', KEYS[1], ARGV[1] .. ':ts')
local newer = 0
if (not current) or current <= ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3], ARGV[1] .. ':ts', ARGV[2])
  newer = 1
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
return newer
"""


def feedback_key(keys: Keys, customer_id: str) -> str:
    return keys.customer(customer_id, "feedback")


def record_latest(
    pipe: Any, keys: Keys, response: dict[str, Any], *, ttl: int = LATEST_TTL
) -> None:
    """Queue on a (sync or async) pipeline: keep `response` if it is the customer's newest
    answer to its survey. `response` has customer_id, survey, score and an ISO timestamp."""
    pipe.eval(
        _SET_IF_NEWER,
        1,
        feedback_key(keys, response["customer_id"]),
        response["survey"],
        response["timestamp"],
        orjson.dumps(response),
        ttl,
    )


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


def record_latest_by_touchpoint(
    pipe: Any, keys: Keys, response: dict[str, Any], *, ttl: int = LATEST_TTL
) -> None:
    """Queue: keep `response` if it is the customer's newest at its touchpoint (read back
    with `decode`); answers without a touchpoint are not kept here."""
    touchpoint = response.get("touchpoint")
    if not touchpoint:
        return
    pipe.eval(
        _SET_IF_NEWER,
        1,
        touchpoint_feedback_key(keys, response["customer_id"]),
        touchpoint,
        response["timestamp"],
        orjson.dumps(response),
        ttl,
    )
