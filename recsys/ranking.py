"""Turn ranked candidates into the items a customer may see: eligibility, policy, top k.

Pure Python and numpy over the published item table, so it runs on the request path.
Sources (personal recs, fresh fold-in, segment/channel/global popular lists) are tried in
priority order; each source's scores are scaled to its best item times the source weight,
so scores are comparable, then boosts, diversity and pins shape the final list.

Cost: numpy applies the item masks to a whole source at once; Python then sees only about
`pool` candidates per source, as plain lists, and a `Pick` is made only for what is returned.
On the request path one numpy call costs as much as several candidates in Python (3-5 us,
caches cold), so the few per-candidate steps stay in Python rather than in more numpy calls.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from recsys.eligibility import Eligibility, is_eligible

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
WALK = 64  # positions of its first source `_best_first` reads in Python (a pool of 4k: k <= 16)


class Policy(NamedTuple):
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
    categories: Sequence[int] | None = None,
) -> list[Pick]:
    """The best `k` eligible, distinct, unblocked items across ranked sources.

    Each source contributes up to `pool` eligible candidates; later sources (popular lists)
    are read only while the pool is short, so an answer is never empty while items exist.
    `available` (optional, per item) rules items out before the per-item checks; `eligible`
    (optional, per item) is `is_eligible(item, rule)` precomputed for every item (see
    `api.services.catalogue.Catalogue.eligible`): then only eligible candidates are visited.
    `categories` (optional, per item) codes each item's category, equal codes for equal
    `item["category"] or ""` (see `Catalogue.category_codes`): diversity then reads no item.
    """
    policy = policy or Policy()
    pool = pool or max(4 * k, k + 20)
    sources = list(sources)
    if policy.boost is None and eligible is not None and k > 0:
        walked = _best_first(items, sources, rule, k, policy, pool, available, eligible,
                             categories)  # fmt: skip
        if walked is not None:
            return _pin(items, walked, policy, rule, k)
    n_items = len(items)
    blocked = policy.blocked
    seen: set[int] = set(rule.exclude)  # excluded, or already a candidate
    index: list[int] = []  # the candidates, as parallel lists: item, value, source
    value: list[float] = []
    origin: list[str] = []
    for name, indices, scores in sources:
        if len(index) >= pool:
            break
        idx, scores = np.asarray(indices), np.asarray(scores)
        if not len(idx) or not n_items:
            continue
        raw, weight = name in RAW, _weight(name)
        top = 0.0 if raw else float(scores.max())
        hits = _hits(idx, available, eligible)
        taken = 0
        for start in range(0, len(hits), pool):  # a catalogue-wide source is never listed whole
            chunk = hits[start : start + pool]
            for i, score in zip(idx[chunk].tolist(), scores[chunk].tolist(), strict=True):
                if not 0 <= i < n_items or i in seen:
                    continue
                seen.add(i)
                if (eligible is None and not is_eligible(items[i], rule)) or i in blocked:
                    continue
                if not raw:
                    score = _scaled(score, weight, top)
                index.append(i)
                value.append(score)
                origin.append(name)
                taken += 1
                if taken >= pool:
                    break
            if taken >= pool:
                break
    if policy.boost is not None:
        boost = policy.boost
        value = [v * boost(items[i]) for i, v in zip(index, value, strict=True)]
    # Best first; sorted() keeps equal values in candidate order, with reverse=True too.
    ranked = sorted(range(len(value)), key=value.__getitem__, reverse=True)
    if policy.max_per_category is None:
        ranked = ranked[:k]
    else:
        ranked_items = [index[r] for r in ranked]
        keys: Iterable[Hashable] = (
            (items[i].get("category") or "" for i in ranked_items)
            if categories is None
            else [categories[i] for i in ranked_items]
        )
        ranked = [ranked[p] for p in _diversify(keys, k, policy.max_per_category)]
    picks = [Pick(index[r], value[r], origin[r]) for r in ranked]
    return _pin(items, picks, policy, rule, k)


def _best_first(
    items: Sequence[dict[str, Any]],
    sources: list[Source],
    rule: Eligibility,
    k: int,
    policy: Policy,
    pool: int,
    available: NDArray[np.bool_] | None,
    eligible: NDArray[np.bool_],
    categories: Sequence[int] | None,
) -> list[Pick] | None:
    """`select`'s answer read off the first source with candidates, walking it only until k
    are chosen — or None when that cannot be shown equal to the full pool sorted (the caller
    then builds it): the walked scores must never rise, nothing after them in this source may
    score higher, and no later source may reach the last walked value (unless this source
    alone fills the pool: then the full build never reads a later one). The usual request
    (personal recommendations listed best first, no boost) reads ~k candidates, not the pool;
    when diversity skips so many that the source fills the pool short of k, the answer is
    the pool relaxed as `_diversify` would (measured: ~9% of GETs on generated data, each
    ~100 us when the full build answered them).

    Plain Python over the first `WALK` positions (numpy only for the best score of a longer
    source): on the request path each numpy call costs a few microseconds, more than the
    ~15 positions a walk usually reads.
    """
    n_items = len(items)
    if not n_items:
        return None
    allowed = eligible if available is None else available & eligible
    ok = allowed.data  # one bool per item, read per candidate
    seen: set[int] = set(rule.exclude)
    blocked, cap = policy.blocked, policy.max_per_category
    found = _first_candidate(sources, ok, n_items)
    if found is None:
        return None
    position, idx, first = found
    name, scores = sources[position][0], np.asarray(sources[position][2])
    listed = scores[:WALK].tolist()
    raw, weight = name in RAW, _weight(name)
    top = 0.0 if raw else (max(listed) if len(scores) <= WALK else float(scores.max()))
    counts: dict[Hashable, int] = {}
    chosen: list[Pick] = []
    skipped: list[tuple[int, float]] = []  # over their category's cap: (item, raw score)
    last, taken, at = math.inf, 0, first
    for at in range(first, len(idx)):
        i = idx[at]
        if not 0 <= i < n_items or not ok[i] or i in seen:
            continue
        seen.add(i)
        if i in blocked:
            continue
        score = listed[at]
        if taken >= pool:  # the pool is full short of k: the full build reads no further
            return _relaxed(chosen, skipped, k, name, raw, weight, top)
        if score > last:  # not best first
            return None
        last, taken = score, taken + 1
        if cap is not None:
            category = (items[i].get("category") or "") if categories is None else categories[i]
            count = counts.get(category, 0)
            if count >= cap:
                skipped.append((i, score))
                continue
            counts[category] = count + 1
        if not raw:
            score = _scaled(score, weight, top)
        chosen.append(Pick(i, score, name))
        if len(chosen) == k:
            break
    else:
        if taken >= pool:  # the pool filled up just as the listed positions ran out
            return _relaxed(chosen, skipped, k, name, raw, weight, top)
        return None  # the source ran out short of k (or was not read to its end)
    if _rises_after(idx, listed, at, last, ok, n_items) or (
        len(scores) > WALK and float(scores[WALK:].max()) > last
    ):
        return None
    if not raw:  # what the last candidate walked is worth (a later one may only tie it)
        last = _scaled(last, weight, top)
    for later, _, values in sources[position + 1 :]:
        reach = float(np.max(values)) if later in RAW and len(values) else _weight(later)
        if reach > last:  # it could outrank the walk, unless the full pool never reads it
            left = pool - taken
            return chosen if _candidates(idx, at + 1, ok, n_items, seen, blocked, left) else None
    return chosen


def _relaxed(
    chosen: list[Pick], skipped: list[tuple[int, float]], k: int, name: str, raw: bool,
    weight: float, top: float,
) -> list[Pick]:  # fmt: skip
    """The walk's answer when one source filled the pool short of k, as `_diversify` relaxes
    it: what diversity chose, then the best of what it skipped (every slot filled)."""
    for i, score in skipped[: k - len(chosen)]:
        chosen.append(Pick(i, score if raw else _scaled(score, weight, top), name))
    return chosen


def _candidates(
    idx: list[int], start: int, ok: memoryview, n_items: int, seen: set[int],
    blocked: Collection[int], wanted: int,
) -> bool:  # fmt: skip
    """Whether `idx` from `start` holds `wanted` more candidates (in range, allowed, not seen,
    not blocked; each is added to `seen`, so a repeat counts once): then this source alone
    fills the pool, and `select` reads no later one."""
    found = 0
    for i in idx[start:]:
        if found >= wanted:
            break
        if 0 <= i < n_items and ok[i] and i not in seen:
            seen.add(i)
            found += i not in blocked
    return found >= wanted


def _first_candidate(
    sources: list[Source], ok: memoryview, n_items: int
) -> tuple[int, list[int], int] | None:
    """(position of the first source with an item the mask allows, its first `WALK` item
    indices, where that item is), or None: no source has one, or a source longer than `WALK`
    has none there (not read to its end, so the full pool decides)."""
    for position, (_, indices, _) in enumerate(sources):
        idx = np.asarray(indices)[:WALK].tolist()
        first = next((at for at, i in enumerate(idx) if 0 <= i < n_items and ok[i]), None)
        if first is not None:
            return position, idx, first
        if len(indices) > WALK:
            return None
    return None


def _rises_after(
    idx: list[int], scores: list[float], at: int, last: float, ok: memoryview, n_items: int
) -> bool:
    """Whether a candidate the masks allow after position `at` scores above `last`."""
    if at + 1 >= len(scores) or max(scores[at + 1 :]) <= last:
        return False
    return any(
        scores[j] > last and 0 <= idx[j] < n_items and ok[idx[j]]
        for j in range(at + 1, len(scores))
    )


def _hits(
    idx: NDArray[np.integer],
    available: NDArray[np.bool_] | None,
    eligible: NDArray[np.bool_] | None,
) -> NDArray[np.intp]:
    """Positions in a source's `idx` that the masks allow, in order. An index outside the
    table reads its nearest item (clip), so the caller still checks the range."""
    ok: NDArray[np.bool_] | None = None
    for mask in (available, eligible):
        if mask is not None:
            allowed = mask.take(idx, mode="clip")
            ok = allowed if ok is None else ok & allowed
    return np.arange(len(idx)) if ok is None else ok.nonzero()[0]


def _scaled(score: float, weight: float, top: float) -> float:
    """A source's raw score on the common scale (see SOURCE_WEIGHT); `top`: its best score."""
    return weight * (FLOOR + (1 - FLOOR) * (score / top if top > 0 else 0.0))


@functools.lru_cache(maxsize=1024)  # a few names per version, asked for on every request
def _weight(source: str) -> float:
    if source == "global":
        return GLOBAL_WEIGHT
    return SOURCE_WEIGHT.get(source.split(":", 1)[0], DEFAULT_WEIGHT)


def _diversify(categories: Iterable[Hashable], k: int, per_category: int) -> list[int]:
    """Positions to keep in a ranked list, given its items' categories (read only as far as
    needed). Greedy: at most `per_category` per category; relaxed only when the list would be
    short."""
    chosen: list[int] = []
    skipped: list[int] = []
    counts: dict[Hashable, int] = {}
    for position, category in enumerate(categories):
        if counts.get(category, 0) >= per_category:
            skipped.append(position)
            continue
        counts[category] = counts.get(category, 0) + 1
        chosen.append(position)
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
