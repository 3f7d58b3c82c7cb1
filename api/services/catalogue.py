"""Per-version arrays derived once from the published item table (not per request).

Offers, rewards and content as index arrays with their margins, costs and category codes,
`YᵀY` for fold-in, and which items count as new — all computed the first time a version is
served and cached beside it, so the request path only indexes numpy arrays.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

from store.serving import SharedServing

NEW_DAYS = 30


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
    new_since_iso: str
    yty: NDArray[np.float64] | None
    factors64: NDArray[np.float64] | None  # fold-in solves in float64; convert once, not per call
    budgets: dict[int, int]  # item index -> redemption budget (offers with one)
    in_stock: NDArray[np.bool_]
    active_from: NDArray[np.float64]  # epoch seconds, -inf when open
    active_to: NDArray[np.float64]  # epoch seconds, +inf when open

    def available(self, now: float, *, in_stock: bool, active_window: bool) -> NDArray[np.bool_]:
        """Items the time- and stock-rules allow now (one vectorised pass, no per-item Python);
        ranking then skips the rest before the per-item checks."""
        mask = self.in_stock.copy() if in_stock else np.ones(self.size, np.bool_)
        if active_window:
            mask &= (self.active_from <= now) & (now <= self.active_to)
        return mask

    def is_new(self, item: dict[str, Any]) -> bool:
        start = item.get("active_from")
        return "new" in (item.get("tags") or ()) or bool(start and start >= self.new_since_iso)


_CACHE: dict[str, Catalogue] = {}


def catalogue(shared: SharedServing) -> Catalogue:
    """The derived arrays of `shared`'s version (cached; the two newest versions are kept)."""
    found = _CACHE.get(shared.version)
    if found is None:
        found = _build(shared)
        if len(_CACHE) >= 2:
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
        shared.version, len(shared.items), kinds, since, yty, factors, budgets, stock, starts, ends
    )


def _epoch(iso: Any, default: float) -> float:
    if not iso:
        return default
    try:
        stamp = datetime.fromisoformat(str(iso))
    except ValueError:
        return default
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()
