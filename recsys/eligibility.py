"""Which items may be shown in one answer: the item-level business rules (kind, category,
stock, channel, active window, target segments, minimum tier), one item at a time. The API
(`api.services.catalogue`) and the batch (`recsys.served`) apply the same rules as masks."""

from __future__ import annotations

from typing import Any, NamedTuple

from contracts.schema import LOYALTY_TIERS

TIER_RANK = {name: i for i, name in enumerate(LOYALTY_TIERS)}


class Eligibility(NamedTuple):  # NamedTuples: made per request, ~5x cheaper than frozen
    """Which items may be shown in one answer (the item-level rules)."""

    kind: str | None = "product"
    channel: str | None = None
    category: str | None = None
    now_iso: str | None = None
    exclude: frozenset[int] = frozenset()
    in_stock: bool = True
    segments: frozenset[str] | None = None  # None = do not check target_segments
    tier: str | None = None  # None = do not check min_tier


def is_eligible(item: dict[str, Any], rule: Eligibility) -> bool:
    if rule.kind is not None and item.get("kind") != rule.kind:
        return False
    if rule.category is not None and item.get("category") != rule.category:
        return False
    if rule.in_stock and not item.get("in_stock", True):
        return False
    channels = item.get("channels") or []
    if rule.channel is not None and channels and rule.channel not in channels:
        return False
    if rule.now_iso is not None:
        start, end = item.get("active_from"), item.get("active_to")
        if start and rule.now_iso < start:
            return False
        if end and rule.now_iso > end:
            return False
    if rule.segments is not None:
        targets = item.get("target_segments") or []
        if targets and rule.segments.isdisjoint(targets):
            return False
    if rule.tier is not None:
        needed = TIER_RANK.get(item.get("min_tier") or "none", 0)
        if TIER_RANK.get(rule.tier, 0) < needed:
            return False
    return True
