"""The product-recommendation service: personal candidates first, popular lists behind them."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import numpy as np
from redis.exceptions import RedisError

from api.state import ServingState
from recsys.ranking import Eligibility, select
from store.serving import CustomerServing, SharedServing

DISPLAY_FIELDS = ("title", "category", "price")
EMPTY = (np.empty(0, np.uint32), np.empty(0, np.float32))


def new_recommendation_id() -> str:
    return "r_" + secrets.token_hex(8)


def _reason(source: str, item: dict[str, Any]) -> str:
    if source == "personal":
        return f"picked for you in {item.get('category') or 'our range'}"
    if source.startswith("channel:"):
        return f"popular on {source.split(':', 1)[1]}"
    return "popular right now"


def render_item(item: dict[str, Any], score: float, reason: str) -> dict[str, Any]:
    out = {"item_id": item["item_id"], "kind": item.get("kind", "product"), "score": score}
    for name in DISPLAY_FIELDS:
        out[name] = item.get(name)
    out["reason"] = reason
    return out


async def recommend_products(
    state: ServingState,
    *,
    customer_id: str,
    channel: str | None,
    k: int,
    category: str | None = None,
    exclude: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    shared = state.shared
    customer: CustomerServing | None = None
    degraded = not state.redis_ok
    if shared is not None and state.reader is not None and not degraded:
        try:
            customer = await state.reader.customer(shared.version, customer_id)
        except (RedisError, OSError) as exc:
            state.mark_unavailable(exc)
            degraded = True
    items: list[dict[str, Any]] = []
    strategy = "none"
    if shared is not None:
        chosen = _choose(shared, customer, channel, k, category, exclude)
        strategy = chosen[0][2] if chosen else "none"
        if customer is not None and len(customer.recs[0]) and strategy != "personal":
            strategy = "personal+popular"
        items = [
            render_item(shared.items[i], round(score, 6), _reason(src, shared.items[i]))
            for i, score, src in chosen
        ]
    return {
        "customer_id": customer_id,
        "recommendation_id": new_recommendation_id(),
        "model_version": shared.version if shared else None,
        "strategy": "popular" if strategy.startswith(("channel:", "global")) else strategy,
        "degraded": degraded,
        "items": items,
    }


def _choose(
    shared: SharedServing,
    customer: CustomerServing | None,
    channel: str | None,
    k: int,
    category: str | None,
    exclude: frozenset[str],
) -> list[tuple[int, float, str]]:
    rule = Eligibility(
        kind="product",
        channel=channel,
        category=category,
        now_iso=datetime.now(UTC).isoformat(),
        exclude=frozenset(shared.index_of[i] for i in exclude if i in shared.index_of),
    )
    personal = customer.recs if customer is not None else EMPTY
    sources = [("personal", *personal)]
    if channel is not None:
        sources.append((f"channel:{channel}", *shared.popular.get(f"channel:{channel}", EMPTY)))
    sources.append(("global", *shared.popular.get("global", EMPTY)))
    return select(shared.items, sources, rule, k)
