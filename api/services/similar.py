"""Items like one item: the published neighbours, then popular items of its category and kind.

The ranking behind `GET /v1/items/{item_id}/similar`, from the live version's shared data
in memory (no Redis round trip).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from api.problems import NotFound, Unavailable
from api.services.catalogue import catalogue
from api.services.recommend import new_recommendation_id
from api.services.slots import rounded
from api.state import ServingState
from recsys.ranking import Eligibility, Pick, Source, select


def similar_items(
    state: ServingState, *, item_id: str, k: int, channel: str | None
) -> dict[str, Any]:
    """Similar items of the same kind; same-category popular items fill a short list."""
    shared = state.shared
    if shared is None:
        raise Unavailable("no serving version has been published yet")
    index = shared.index_of.get(item_id)
    if index is None:
        raise NotFound(f"unknown item {item_id!r}")
    item = shared.items[index]
    sources: list[Source] = []
    strategy = "popular_in_category"
    if shared.similar is not None and index < len(shared.similar[0]):
        row = np.asarray(shared.similar[0][index])
        keep = row >= 0
        if keep.any():
            sources.append(("similar", row[keep], np.asarray(shared.similar[1][index])[keep]))
            strategy = "similar"
    kind = item.get("kind", "product")
    popular = [(n, *shared.popular[n]) for n in (f"kind:{kind}", "global") if n in shared.popular]
    now = datetime.now(UTC).isoformat()
    picks: list[Pick] = []
    # similar first, then popular in the same category, then popular of the same kind
    steps = ((sources, None), (popular, item.get("category") or None), (popular, None))
    for pool, category in steps:
        if len(picks) >= k:
            break
        taken = frozenset({index, *(p.index for p in picks)})
        rule = Eligibility(
            kind=kind, channel=channel, category=category, now_iso=now, exclude=taken
        )
        picks += select(shared.items, pool, rule, k - len(picks))
    items = []
    display = catalogue(shared).display
    for p in picks:
        other = shared.items[p.index]
        out = display[p.index].copy()
        out["score"] = rounded(p.score)
        if p.source == "similar":
            out["reason"] = f"similar to {item.get('title')}"
        else:
            out["reason"] = f"popular in {other.get('category') or 'our range'}"
        items.append(out)
    return {
        "item_id": item_id,
        "recommendation_id": new_recommendation_id(),
        "model_version": shared.version,
        "strategy": strategy,
        "degraded": not state.redis_ok,
        "items": items,
    }
