"""Live consent: one hash per customer, its recent changes, and the consent stream.

- `Keys.consent(cid)`: hash purpose -> `1`/`0` (only the purposes the customer set live) and
  `at` (the time of the latest change). Not versioned: a publish never touches it. The serving
  path reads it inside the customer's read script (`store.profile`), so it holds from the very
  next request on every replica, at no extra round trip.
- `Keys.consent_log(cid)`: the latest `LOG_CAP` changes, newest first (JSON), for
  `GET /v1/customers/{id}/consent`.
- the `consent` stream: every change, drained by `touchpoint ingest` to `DATA/consent/`, where
  the batch reads each customer's latest consent (`contracts.people`).
The hash and the log change in one script (one slot); the stream append follows (another
slot, so not in the same script on a cluster). A failed append is reported to the caller, who
retries: the state is the same after a retry, the data directory gets the change once.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
import redis.asyncio as aioredis

from contracts.schema import CONSENT_PURPOSES
from store.events import Record, append
from store.keys import Keys

CONSENT = "consent"  # the stream's name (and the data directory's table)
LOG_CAP = 100  # changes kept per customer in Redis; the data directory keeps them all

# KEYS = the consent hash, its log; ARGV = the log entry, the change time, the field, value
# pairs, the log's cap. One script: the state and its history never disagree.
_WRITE = """
redis.call('HSET', KEYS[1], 'at', ARGV[2], unpack(ARGV, 3, #ARGV - 1))
redis.call('LPUSH', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[#ARGV]) - 1)
return 1
"""


def decode_consent(raw: Mapping[bytes, bytes]) -> dict[str, bool]:
    """The consent hash as purpose -> given (purposes never set live are absent)."""
    out: dict[str, bool] = {}
    for name, value in raw.items():
        purpose = name.decode()
        if purpose in CONSENT_PURPOSES:
            out[purpose] = value == b"1"
    return out


def change_entry(customer_id: str, given: Mapping[str, bool], *, who: str) -> dict[str, Any]:
    """One change as the stream and the log hold it (the consent table's columns)."""
    entry: dict[str, Any] = {
        "change_id": uuid.uuid4().hex,
        "customer_id": customer_id,
        "changed_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "who": who,
    }
    for purpose in CONSENT_PURPOSES:
        entry[purpose] = "" if purpose not in given else ("true" if given[purpose] else "false")
    return entry


async def write_consent(
    client: aioredis.Redis, keys: Keys, customer_id: str, entry: Mapping[str, Any]
) -> None:
    """Apply a change (`change_entry`) live, then append it to the consent stream."""
    pairs: list[str] = []
    for purpose in CONSENT_PURPOSES:
        if entry[purpose]:
            pairs += [purpose, "1" if entry[purpose] == "true" else "0"]
    await client.eval(  # type: ignore[misc]
        _WRITE, 2, keys.consent(customer_id), keys.consent_log(customer_id),
        orjson.dumps(dict(entry)), entry["changed_at"], *pairs, LOG_CAP,
    )  # fmt: skip
    await append(client, keys, CONSENT, [Record(entry["change_id"], dict(entry))])


async def read_consent(
    client: aioredis.Redis, keys: Keys, customer_id: str
) -> tuple[dict[str, bool], str | None, list[dict[str, Any]]]:
    """(the purposes set live, the time of the latest change, the latest changes newest
    first), in one round trip."""
    pipe = client.pipeline(transaction=False)
    pipe.hgetall(keys.consent(customer_id))
    pipe.lrange(keys.consent_log(customer_id), 0, LOG_CAP - 1)
    raw, log = await pipe.execute()
    at = raw.get(b"at")
    return decode_consent(raw), at.decode() if at else None, [orjson.loads(e) for e in log]
