"""What a recommendation id served and the conversions credited to it, read back from Redis
for assertions (the product only writes these: `store.answers`, `store.attribution`)."""

from __future__ import annotations

from typing import Any

import orjson
import redis

from store.keys import Keys


def read_attribution(
    client: redis.Redis, rec_id: str, *, keys: Keys | None = None
) -> dict[str, Any]:
    """What `rec_id` served and its conversion counters."""
    keys = keys or Keys()
    pipe = client.pipeline(transaction=False)
    pipe.hgetall(keys.recommendation(rec_id, "served"))
    pipe.hgetall(keys.recommendation(rec_id, "conversions"))
    served, conversions = pipe.execute()
    counters: dict[str, float] = {}
    for raw_key, raw_value in conversions.items():
        name, text = raw_key.decode(), raw_value.decode()
        counters[name] = float(text) if name.startswith("value") else int(text)
    return {
        "customer_id": served[b"customer"].decode() if b"customer" in served else None,
        "items": orjson.loads(served[b"items"]) if b"items" in served else [],
        "conversions": counters,
    }
