"""Per-version arrays derived once from the published item table (not per request).

Offers, rewards and content as index arrays with their margins, costs and category codes,
`YᵀY` for fold-in, and which items count as new — all computed the first time a version is
served and cached beside it, so the request path only indexes numpy arrays.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from api.state import MAX_OTHERS
from contracts.schema import CHANNELS
from recsys.consumption import Consumption
from recsys.eligibility import TIER_RANK, Eligibility
from recsys.value_ranking import Ranked, scaled
from store.serving import SharedServing

NEW_DAYS = 30
Ranking = TypeVar("Ranking", bound=tuple[NDArray[Any], ...])  # what `by_lists` caches
MASKS_KEPT = 512
KEPT = 2 + MAX_OTHERS  # catalogues held: live, previous, and the A/B variants' versions


@dataclass(frozen=True)
class KindArrays:
    indices: NDArray[np.int64]
    margins: NDArray[np.float64]
    costs: NDArray[np.int64]
    categories: NDArray[np.int64]


@dataclass(frozen=True)
class Catalogue:
    version: str
    size: int
    kinds: dict[str, KindArrays]
    yty: NDArray[np.float64] | None
    factors64: NDArray[np.float64] | None  # fold-in solves in float64; convert once, not per call
    budgets: dict[int, int]  # item index -> redemption budget (offers with one)
    in_stock: NDArray[np.bool_]
    active_from: NDArray[np.float64]  # epoch seconds, -inf when open
    active_to: NDArray[np.float64]  # epoch seconds, +inf when open

    no_budget: frozenset[int] = frozenset()  # offers whose redemption budget is 0
    kind_masks: dict[str, NDArray[np.bool_]] = field(default_factory=dict)
    category_codes: NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    category_of: dict[str, int] = field(default_factory=dict)
    diversity_codes: list[int] = field(default_factory=list)  # per item, read one at a time
    channel_masks: dict[str, NDArray[np.bool_]] = field(default_factory=dict)
    tier_needed: NDArray[np.int64] = field(default_factory=lambda: np.empty(0, np.int64))
    targeted: dict[frozenset[str], NDArray[np.int64]] = field(default_factory=dict)
    _masks: dict[tuple[Any, ...], NDArray[np.bool_]] = field(default_factory=dict)
    _met: dict[frozenset[str], tuple[bool, ...]] = field(default_factory=dict)
    _derived: dict[tuple[Any, ...], tuple[NDArray[np.bool_], Any]] = field(default_factory=dict)
    display: list[dict[str, Any]] = field(default_factory=list)  # per item: its answer fields
    no_scores: dict[str, NDArray[np.float32]] = field(default_factory=dict)  # kind -> zeros
    new: list[bool] = field(default_factory=list)  # per item: tagged new or launched recently
    neighbours: dict[int, frozenset[int]] = field(default_factory=dict)  # item -> its similar
    _repeatable: dict[int, tuple[Consumption, NDArray[np.bool_]]] = field(default_factory=dict)

    def repeatable(self, consumption: Consumption) -> NDArray[np.bool_]:
        """Per item: may be had again under `consumption` (rules objects are cached, so this
        is made once per rules file version)."""
        found = self._repeatable.get(id(consumption))
        if found is None or found[0] is not consumption:
            mask = consumption.repeatable_mask(self.display)
            found = _keep(self._repeatable, id(consumption), (consumption, mask))
        return found[1]

    def similar_sets(
        self, similar: NDArray[np.integer], anchors: list[int]
    ) -> list[frozenset[int]]:
        """The similar items of each anchor as sets, each made on first use and kept with the
        version (at most one small set per item), so reasons test membership without numpy."""
        kept = self.neighbours
        out = []
        for anchor in anchors:
            found = kept.get(anchor)
            if found is None:
                found = kept[anchor] = frozenset(similar[anchor].tolist())
            out.append(found)
        return out

    def live(self, kind: str, available: NDArray[np.bool_]) -> KindArrays:
        """The kind's arrays restricted to the items `available` allows, cached with it."""
        return self._with_mask(("live", kind), available, lambda: self._live(kind, available))

    def _live(self, kind: str, available: NDArray[np.bool_]) -> KindArrays:
        arrays = self.kinds[kind]
        ok = available[arrays.indices]
        return KindArrays(
            arrays.indices[ok], arrays.margins[ok], arrays.costs[ok], arrays.categories[ok]
        )

    def scaled_list(
        self, name: str, ranked: Ranked | None, kind: str, available: NDArray[np.bool_]
    ) -> NDArray[np.float64]:
        """A published list read onto the kind's available items (`scaled`): the same for
        every customer of the version, so cached with the availability mask."""
        return self._with_mask(
            ("scaled", name, kind), available,
            lambda: scaled(ranked, self.live(kind, available).indices),
        )  # fmt: skip

    def by_lists(
        self,
        kind: str,
        lists: list[tuple[str, Ranked | None]],
        available: NDArray[np.bool_],
        rank: Callable[[KindArrays, list[NDArray[np.float64]]], Ranking],
    ) -> Ranking:
        """`rank(items, parts)` of the kind's available items from the published `lists`
        alone ((name, list) pairs: the segment's, the overall), as for a customer whose own
        list holds none of them (~70% of the benchmark data's customers, for offers). The
        same for every such customer, so cached with the availability mask, read-only."""

        def make() -> Ranking:
            arrays = self.live(kind, available)
            parts = [np.zeros(len(arrays.indices))]
            parts += [self.scaled_list(name, ranked, kind, available) for name, ranked in lists]
            out = rank(arrays, parts)
            for array in out:  # shared by every request: a write would be a bug, make it fail
                array.flags.writeable = False
            return out

        key = ("by lists", kind, *(name for name, _ in lists))
        ranked: Ranking = self._with_mask(key, available, make)
        return ranked

    def _with_mask(
        self, key: tuple[Any, ...], available: NDArray[np.bool_], make: Callable[[], Any]
    ) -> Any:
        """What `make` derives from `available`, kept while that mask is (masks are cached
        per second; holding the mask keeps its id from naming another one)."""
        found = self._derived.get(key)
        if found is None or found[0] is not available:
            found = _keep(self._derived, key, (available, make()))
        return found[1]

    def available(self, now: float, *, in_stock: bool, active_window: bool) -> NDArray[np.bool_]:
        """Items the time- and stock-rules allow now (one vectorised pass, no per-item Python);
        ranking skips the rest before the per-item checks. Cached for the second."""
        key = ("available", in_stock, active_window, int(now))
        mask = self._masks.get(key)
        if mask is None:
            mask = self.in_stock.copy() if in_stock else np.ones(self.size, np.bool_)
            if active_window:
                mask &= (self.active_from <= now) & (now <= self.active_to)
            _keep(self._masks, key, mask)
        return mask

    def allowed(self, rule: Eligibility, available: NDArray[np.bool_]) -> NDArray[np.bool_]:
        """`eligible(rule) & available`: the items ranking may show now, one bool per item
        (cached while `available` is, so a request makes no 20,000-item mask)."""
        key = ("allowed", *self._eligibility_key(rule))
        mask: NDArray[np.bool_] = self._with_mask(
            key, available, lambda: self.eligible(rule) & available
        )
        return mask

    def eligible(self, rule: Eligibility) -> NDArray[np.bool_]:
        """`recsys.ranking.is_eligible` for every item at once but for stock and the active
        window (those change with time: `available`), so ranking reads one bool per candidate.
        Cached per outcome, not per customer: segments count only as which target groups they
        meet, so the few masks there are stay cached however many customers ask."""
        key = self._eligibility_key(rule)
        met = key[3]
        mask = self._masks.get(key)
        if mask is not None:
            return mask
        mask = np.ones(self.size, np.bool_)
        if rule.kind is not None:
            mask &= self.kind_masks.get(rule.kind, np.zeros(self.size, np.bool_))
        if rule.category is not None:
            code = self.category_of.get(rule.category, -1)
            mask &= self.category_codes == code
        if rule.channel is not None:
            mask &= self.channel_masks.get(rule.channel, self.channel_masks["*"])
        if met is not None:
            for indices, reached in zip(self.targeted.values(), met, strict=True):
                if not reached:
                    mask[indices] = False
        if rule.tier is not None:
            mask &= self.tier_needed <= TIER_RANK.get(rule.tier, 0)
        return _keep(self._masks, key, mask)

    def _eligibility_key(self, rule: Eligibility) -> tuple[Any, ...]:
        met = None if rule.segments is None else self._targets_met(rule.segments)
        return (rule.kind, rule.channel, rule.category, met, rule.tier)

    def _targets_met(self, segments: frozenset[str]) -> tuple[bool, ...]:
        """Which of the target groups (`targeted`, in order) the segments meet, cached."""
        met = self._met.get(segments)
        if met is None:
            met = tuple(not segments.isdisjoint(targets) for targets in self.targeted)
            _keep(self._met, segments, met)
        return met


def _keep(cache: dict[Any, Any], key: Any, value: Any) -> Any:
    """Put `value` in one of a catalogue's caches and return it; a full cache starts over
    (what piles up is the masks of past seconds, or many segment mixes)."""
    if len(cache) >= MASKS_KEPT:
        cache.clear()
    cache[key] = value
    return value


_CACHE: dict[str, Catalogue] = {}


def catalogue(shared: SharedServing) -> Catalogue:
    """The derived arrays of `shared`'s version (cached; the newest versions are kept: the
    live one, the previous one during a switch, and those A/B variants serve beside them)."""
    found = _CACHE.get(shared.version)
    if found is None:
        found = _build(shared)
        if len(_CACHE) >= KEPT:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[shared.version] = found
        # The item table is ~20k dicts that live as long as the version: keep the cyclic GC
        # from walking them on every full collection (a multi-millisecond pause per request
        # that happens to trigger it). Objects of an older version stay frozen — a bounded
        # leak of one table per switch, traded for flat tail latency.
        gc.collect()
        gc.freeze()
    return found


def _build(shared: SharedServing) -> Catalogue:
    codes: dict[str, int] = {}
    by_kind: dict[str, list[tuple[int, float, int, int]]] = {}
    budgets: dict[int, int] = {}
    for i, item in enumerate(shared.items):
        code = codes.setdefault(item.get("category") or "", len(codes))
        row = (i, float(item.get("margin") or 0.0), int(item.get("points_cost") or 0), code)
        by_kind.setdefault(item.get("kind", "product"), []).append(row)
        budget = item.get("budget")
        if budget is not None and int(budget) >= 0:
            budgets[i] = int(budget)
    kinds = {}
    for kind, rows in by_kind.items():
        idx, margin, cost, cat = zip(*rows, strict=True)
        kinds[kind] = KindArrays(
            np.array(idx, np.int64),
            np.array(margin, np.float64),
            np.array(cost, np.int64),
            np.array(cat, np.int64),
        )
    yty = factors = None
    if shared.item_factors is not None:
        factors = np.asarray(shared.item_factors, np.float64)
        yty = factors.T @ factors
    since = (datetime.now(UTC) - timedelta(days=NEW_DAYS)).isoformat()
    stock = np.array([bool(it.get("in_stock", True)) for it in shared.items], np.bool_)
    starts = np.array([_epoch(it.get("active_from"), -np.inf) for it in shared.items])
    ends = np.array([_epoch(it.get("active_to"), np.inf) for it in shared.items])
    return Catalogue(
        shared.version, len(shared.items), kinds, yty, factors, budgets, stock, starts, ends,
        frozenset(i for i, b in budgets.items() if b == 0),
        display=[_display(item) for item in shared.items],
        no_scores={kind: np.zeros(len(a.indices), np.float32) for kind, a in kinds.items()},
        new=[_is_new(item, since) for item in shared.items],
        **_eligibility_arrays(shared.items, kinds),
    )  # fmt: skip


DISPLAY = ("title", "category", "price")


def _display(item: dict[str, Any]) -> dict[str, Any]:
    """The fields every answer shows of an item, extracted once per version: a request
    copies this dict and adds `score` and `reason`."""
    out = {"item_id": item["item_id"], "kind": item.get("kind", "product")}
    for name in DISPLAY:
        out[name] = item.get(name)
    if out["kind"] == "reward":
        out["points_cost"] = item.get("points_cost", 0)
    return out


def _is_new(item: dict[str, Any], since_iso: str) -> bool:
    start = item.get("active_from")
    return "new" in (item.get("tags") or ()) or bool(start and start >= since_iso)


def _eligibility_arrays(items: list[dict[str, Any]], kinds: dict[str, KindArrays]) -> Any:
    """What `Catalogue.eligible` combines: per-kind and per-channel masks, category codes,
    the tier each item needs, and the items reserved for segments grouped by their targets."""
    n = len(items)
    kind_masks = {}
    for kind, arrays in kinds.items():
        mask = np.zeros(n, np.bool_)
        mask[arrays.indices] = True
        kind_masks[kind] = mask
    category_of: dict[str, int] = {}
    category_codes = np.array(
        [-2 if it.get("category") is None else category_of.setdefault(it["category"],
         len(category_of)) for it in items],
        np.int64,
    )  # fmt: skip
    open_to_all = np.array([not it.get("channels") for it in items], np.bool_)
    channel_masks = {"*": open_to_all}
    for channel in CHANNELS:
        channel_masks[channel] = open_to_all | np.array(
            [channel in (it.get("channels") or ()) for it in items], np.bool_
        )
    tier_needed = np.array(
        [TIER_RANK.get(it.get("min_tier") or "none", 0) for it in items], np.int64
    )
    groups: dict[frozenset[str], list[int]] = {}
    for i, it in enumerate(items):
        if it.get("target_segments"):
            groups.setdefault(frozenset(it["target_segments"]), []).append(i)
    return {
        "kind_masks": kind_masks,
        "category_codes": category_codes,
        "category_of": category_of,
        # diversity counts a missing category and "" as one (as `recsys.ranking` does)
        "diversity_codes": np.where(
            category_codes == -2, category_of.get("", -2), category_codes
        ).tolist(),
        "channel_masks": channel_masks,
        "tier_needed": tier_needed,
        "targeted": {k: np.array(v, np.int64) for k, v in groups.items()},
    }


def _epoch(iso: Any, default: float) -> float:
    if not iso:
        return default
    try:
        stamp = datetime.fromisoformat(str(iso))
    except ValueError:
        return default
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()
