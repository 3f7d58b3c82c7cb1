"""Turn ranked candidates into the items a customer may see: eligibility, policy, top k.

Pure Python and numpy over the published item table, so it runs on the request path.
Sources (personal recs, fresh fold-in, segment/channel/global popular lists) are tried in
priority order; each source's scores are scaled to its best item times the source weight,
so scores are comparable, then boosts, diversity and pins shape the final list.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from contracts.schema import LOYALTY_TIERS

TIER_RANK = {name: i for i, name in enumerate(LOYALTY_TIERS)}
Source = tuple[str, NDArray[np.integer], NDArray[np.floating]]
# A source's item scores map to weight × (FLOOR + (1 - FLOOR) × score / best score), so each
# personal item outranks every popular one, the segment's list leads the generic ones, and a
# boost can still lift an item over its neighbours. "value" lists (offers by expected value)
# are already comparable and keep their raw scores.
SOURCE_WEIGHT = {"personal": 1.0, "fresh": 1.0, "similar": 1.0, "segment": 0.6, "channel": 0.55}
DEFAULT_WEIGHT = 0.5  # kind:<kind> lists
GLOBAL_WEIGHT = 0.45
FLOOR = 0.75
RAW = frozenset({"value"})
CHUNK = 64  # candidates converted to Python at a time


@dataclass(frozen=True)
class Eligibility:
    """Which items may be shown in one answer (the item-level rules)."""

    kind: str | None = "product"
    channel: str | None = None
    category: str | None = None
    now_iso: str | None = None
    exclude: frozenset[int] = field(default_factory=frozenset)
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


@dataclass(frozen=True)
class Policy:
    """List-level rules: what is blocked (caps, exclusions, budgets), boosts, diversity, pins."""

    blocked: Collection[int] = frozenset()  # item indices caps, exclusions or budgets rule out
    boost: Callable[[dict[str, Any]], float] | None = None
    max_per_category: int | None = None
    pins: Sequence[tuple[int, int]] = ()  # (item index, 1-based position)


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ is several times slower
class Pick:
    index: int
    score: float
    source: str


def select(
    items: Sequence[dict[str, Any]],
    sources: Iterable[Source],
    rule: Eligibility,
    k: int,
    policy: Policy | None = None,
    *,
    pool: int | None = None,
    available: NDArray[np.bool_] | None = None,
    eligible: NDArray[np.bool_] | None = None,
) -> list[Pick]:
    """The best `k` eligible, distinct, unblocked items across ranked sources.

    Each source contributes up to `pool` eligible candidates; later sources (popular lists)
    are read only while the pool is short, so an answer is never empty while items exist.
    `available` (optional, per item) rules items out before the per-item checks; `eligible`
    (optional, per item) is `is_eligible(item, rule)` precomputed for every item (see
    `api.services.catalogue.Catalogue.eligible`): then only eligible candidates are visited.
    """
    policy = policy or Policy()
    pool = pool or max(4 * k, k + 20)
    candidates: list[Pick] = []
    seen: set[int] = set(rule.exclude)
    n_items = len(items)
    for name, indices, scores in sources:
        if len(candidates) >= pool:
            break
        weight = _weight(name)
        top = float(scores.max()) if len(scores) else 0.0
        taken = 0
        for index, score in _walk(indices, scores, n_items, available, eligible):
            if index in seen:
                continue
            seen.add(index)
            if eligible is None and not is_eligible(items[index], rule):
                continue
            if index in policy.blocked:
                continue
            if name in RAW:
                value = score
            else:
                value = weight * (FLOOR + (1 - FLOOR) * (score / top if top > 0 else 0.0))
            candidates.append(Pick(index, value, name))
            taken += 1
            if taken >= pool:
                break
    if policy.boost is not None:
        candidates = [
            Pick(p.index, p.score * policy.boost(items[p.index]), p.source) for p in candidates
        ]
    candidates.sort(key=lambda p: -p.score)
    chosen = _diversify(items, candidates, k, policy.max_per_category)
    return _pin(items, chosen, policy, rule, k)


def _walk(
    indices: NDArray[np.integer],
    scores: NDArray[np.floating],
    n_items: int,
    available: NDArray[np.bool_] | None,
    eligible: NDArray[np.bool_] | None,
) -> Iterator[tuple[int, float]]:
    """A source's (index, score) pairs in order, in range and allowed by the masks; masks are
    applied to the whole source at once, Python only sees what passes, in small chunks (a
    catalogue-wide last-resort source is never converted whole)."""
    idx = np.asarray(indices)
    if len(idx) and (int(idx.min()) < 0 or int(idx.max()) >= n_items):
        keep = (idx >= 0) & (idx < n_items)
        idx, scores = idx[keep], np.asarray(scores)[keep]
    ok: NDArray[np.bool_] | None = None
    for mask in (available, eligible):
        if mask is not None:
            ok = mask[idx] if ok is None else ok & mask[idx]
    hits = np.arange(len(idx)) if ok is None else np.flatnonzero(ok)
    for start in range(0, len(hits), CHUNK):
        chunk = hits[start : start + CHUNK]
        yield from zip(idx[chunk].tolist(), np.asarray(scores)[chunk].tolist(), strict=True)


def _weight(source: str) -> float:
    if source == "global":
        return GLOBAL_WEIGHT
    return SOURCE_WEIGHT.get(source.split(":", 1)[0], DEFAULT_WEIGHT)


def _diversify(
    items: Sequence[dict[str, Any]], ranked: list[Pick], k: int, per_category: int | None
) -> list[Pick]:
    """Greedy: at most `per_category` per category; relaxed only when the list would be short."""
    if per_category is None:
        return ranked[:k]
    chosen: list[Pick] = []
    skipped: list[Pick] = []
    counts: dict[str, int] = {}
    for pick in ranked:
        category = items[pick.index].get("category") or ""
        if counts.get(category, 0) >= per_category:
            skipped.append(pick)
            continue
        counts[category] = counts.get(category, 0) + 1
        chosen.append(pick)
        if len(chosen) == k:
            return chosen
    return chosen + skipped[: k - len(chosen)]  # every slot filled beats strict diversity


def _pin(
    items: Sequence[dict[str, Any]], chosen: list[Pick], policy: Policy, rule: Eligibility, k: int
) -> list[Pick]:
    out = list(chosen)
    for index, position in sorted(policy.pins, key=lambda p: p[1]):
        if index in rule.exclude or index >= len(items):
            continue
        if not is_eligible(items[index], rule) or index in policy.blocked:
            continue
        top = out[0].score if out else 1.0
        out = [p for p in out if p.index != index]
        out.insert(min(position - 1, len(out)), Pick(index, top, "pinned"))
    return out[:k]
