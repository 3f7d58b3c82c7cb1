"""A synthetic serving version at benchmark size, for when no `touchpoint run` output is at hand.

100k customers (100 ranked candidates, a profile and 30 history items each), 20k items of
every kind, popular lists per kind/channel/segment, 64-dim item factors (fold-in on) and 20
similar items per item; 10% of customers get fresh clicks in their live recent events, so
the fold-in path is part of the load. Ids: `c0`..`c99999`, plus 5% unknown ids (`u…`) for
the cold-start path.
"""

from __future__ import annotations

import time

import numpy as np
import redis

from recsys.explain import anchor_positions
from store.config import StoreConfig
from store.keys import Keys
from store.recent import RecentEvent, append_events
from store.serving import Recs, ServingBundle, write_serving
from store.versions import Versions

N_CUSTOMERS, N_ITEMS, FACTORS, TOP_N = 100_000, 20_000, 64, 100
SEGMENTS = ("Champions", "Loyal", "Potential Loyalists", "New", "At Risk", "Hibernating", "Lost")
CHANNELS = ("web", "app", "email", "push", "store", "call_centre")
TIERS = ("none", "bronze", "silver", "gold", "platinum")


def _items(rng: np.random.Generator) -> list[dict]:
    kinds = rng.choice(
        ["product", "content", "offer", "reward"], N_ITEMS, p=[0.85, 0.05, 0.07, 0.03]
    )
    return [
        {"item_id": f"SKU-{i:06d}", "kind": str(kinds[i]), "title": f"Item {i}",
         "category": f"Category {i % 40}", "price": float(5 + i % 300), "margin": float(1 + i % 40),
         "tags": ["new"] if i % 97 == 0 else [], "channels": [], "active_from": None,
         "active_to": None, "in_stock": bool(i % 31), "target_segments": [],
         "min_tier": "none", "points_cost": int(100 * (1 + i % 30)) if kinds[i] == "reward" else 0,
         "budget": -1}
        for i in range(N_ITEMS)
    ]  # fmt: skip


def _ranked(rng: np.random.Generator, n: int) -> tuple:
    """n distinct items skewed towards the popular (low) indices, with descending scores."""
    idx = np.unique((N_ITEMS * rng.random(2 * n) ** 2.5).astype(np.int64))
    idx = rng.permutation(idx)[:n]
    return idx.astype(np.uint32), np.sort(rng.random(len(idx)).astype(np.float32))[::-1]


def publish_synthetic(url: str, seed: int = 5) -> list[str]:
    """Publish the synthetic version into the Redis at `url`; returns the ids to request."""
    rng = np.random.default_rng(seed)
    items = _items(rng)
    kinds = np.array([it["kind"] for it in items])
    popularity = 1.0 / np.arange(1, N_ITEMS + 1) ** 0.8
    popularity /= popularity.sum()
    order = np.argsort(-popularity).astype(np.uint32)
    scores = popularity[order].astype(np.float32)
    popular = {"global": (order[:500], scores[:500])}
    for kind in ("product", "content", "offer", "reward"):
        keep = kinds[order] == kind
        popular[f"kind:{kind}"] = (order[keep][:500], scores[keep][:500])
    for name in (*(f"channel:{c}" for c in CHANNELS), *(f"segment:{s}" for s in SEGMENTS)):
        popular[name] = _ranked(rng, 500)
    ids = [f"c{n}" for n in range(N_CUSTOMERS)]
    similar = rng.choice(N_ITEMS, (N_ITEMS, 20), p=popularity)
    categories = np.arange(N_ITEMS) % 40  # the items' category codes (see `_items`)

    def history(n: int) -> tuple:  # strongest first, as published; the same for both passes
        return _ranked(np.random.default_rng([seed, n]), 30)

    def recs():  # with each rec's reason anchor, as `touchpoint run` publishes them
        for n, cid in enumerate(ids):
            idx, scores = _ranked(rng, TOP_N)
            why = anchor_positions(idx, history(n)[0], similar, categories)
            yield cid, Recs(idx, scores, why.tobytes())

    def hist():
        for n, cid in enumerate(ids):
            yield cid, history(n)

    def profiles():
        for n, cid in enumerate(ids):
            yield cid, {
                "customer_id": cid, "loyalty_tier": TIERS[n % 5], "points_balance": n % 5000,
                "consent": {"email": n % 2 == 0, "push": n % 3 == 0, "sms": False},
                "rfm_segment": SEGMENTS[n % len(SEGMENTS)], "feedback": {"nps": n % 11},
            }  # fmt: skip

    bundle = ServingBundle(
        items=items,
        popular=popular,
        customer_recs=recs(),
        customer_profiles=profiles(),
        customer_history=hist(),
        item_factors=rng.normal(0, 0.1, (N_ITEMS, FACTORS)).astype(np.float32),
        model={"name": "als", "version": "synthetic", "regularization": 0.01, "fold_in": True},
        similar=(similar, np.sort(rng.random((N_ITEMS, 20)), axis=1)[:, ::-1].astype(np.float32)),
    )
    client = redis.Redis.from_url(url)
    config = StoreConfig(redis_url=url)
    Versions(client, config).publish("serving", lambda r: write_serving(r, bundle))
    pipe = client.pipeline(transaction=False)
    now = int(time.time())
    for n in range(0, N_CUSTOMERS, 10):  # 10% clicked something since the batch
        clicks = (N_ITEMS * rng.random(5) ** 2.5).astype(np.int64)
        events = [
            RecentEvent(items[i]["item_id"], "click", now - j, "web") for j, i in enumerate(clicks)
        ]
        append_events(pipe, Keys(config.namespace), ids[n], events)
        if len(pipe) > 5000:
            pipe.execute()
    pipe.execute()
    client.close()
    unknown = [f"u{n}" for n in range(N_CUSTOMERS // 20)]
    return ids + unknown
