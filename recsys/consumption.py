"""What "the customer already has it" means: the one definition every path applies.

An item is *consumed* by a customer when an event of a consuming type names it: by default
a `purchase`, a `redeem` or a `rate` (a film rated is a film seen), and for content also a
`view` (an article read). Consumed items never come back in an answer unless they are
*repeatable* (a grocery staple may be bought again), by item kind or category. The event
types are declared once, in the business rules' `default.yaml` (`consumption:`); whether a
placement excludes consumed items at all (`exclusions.consumed`) and what is repeatable may
be overridden per channel or placement (a "buy again" slot).

The batch publishes each customer's consumed items and leaves the non-repeatable ones out
of the published recommendations; the API adds live events of the same types; offline
evaluation and `touchpoint recommend` apply the same definition (`recsys.served`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.matrix import IdMap

CONSUMING_EVENTS = frozenset({"purchase", "redeem", "rate"})
CONSUMING_BY_KIND: Mapping[str, frozenset[str]] = {"content": frozenset({"view"})}


@dataclass(frozen=True)
class Consumption:
    """Which event types consume an item (all kinds, plus more per kind), and which items
    may be consumed again."""

    events: frozenset[str] = CONSUMING_EVENTS
    by_kind: Mapping[str, frozenset[str]] = field(default_factory=lambda: CONSUMING_BY_KIND)
    repeatable_kinds: frozenset[str] = frozenset()
    repeatable_categories: frozenset[str] = frozenset()

    def consumes(self, event_type: str, kind: str | None) -> bool:
        """Whether an event of `event_type` on an item of `kind` means the customer has it."""
        return event_type in self.events or event_type in self.by_kind.get(kind or "", ())

    def repeatable(self, item: Mapping[str, Any]) -> bool:
        """Whether the customer may be offered `item` again after consuming it."""
        return (
            item.get("kind") in self.repeatable_kinds
            or (item.get("category") or "") in self.repeatable_categories
        )

    @property
    def any_repeatable(self) -> bool:
        return bool(self.repeatable_kinds or self.repeatable_categories)

    def repeatable_mask(self, items: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """One bool per item of a published item table: may be consumed again."""
        if not self.any_repeatable:
            return np.zeros(len(items), bool)
        return np.fromiter((self.repeatable(it) for it in items), bool, len(items))

    def describe(self) -> str:
        """One line for summaries, e.g. `purchase, rate, redeem; content also view`."""
        text = ", ".join(sorted(self.events))
        extra = [f"{k} also {', '.join(sorted(v))}" for k, v in sorted(self.by_kind.items()) if v]
        return "; ".join([text, *extra])


def consumed_matrix(
    events: pd.DataFrame,
    consumption: Consumption,
    *,
    customers: IdMap,
    items: IdMap,
    item_kinds: np.ndarray,
) -> sp.csr_matrix:
    """Customers × items, 1 where the customer consumed the item (events outside the maps
    are ignored). `item_kinds`: the kind of each item of `items`, in its order."""
    types = events["type"].astype(str).to_numpy()
    rows = customers.lookup(events["customer_id"].to_numpy())
    cols = items.lookup(events["item_id"].to_numpy())
    known = (rows >= 0) & (cols >= 0)
    kinds = np.asarray(item_kinds, dtype=object)[np.where(cols >= 0, cols, 0)]
    hit = np.isin(types, list(consumption.events))
    for kind, extra in consumption.by_kind.items():
        hit |= (kinds == kind) & np.isin(types, list(extra))
    keep = known & hit
    shape = (len(customers), len(items))
    m = sp.csr_matrix((np.ones(int(keep.sum()), np.float32), (rows[keep], cols[keep])), shape)
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def blocking(consumed: sp.csr_matrix, repeatable: np.ndarray) -> sp.csr_matrix:
    """The consumed pairs that block a recommendation: repeatable items left out."""
    if not repeatable.any():
        return consumed
    keep = sp.diags((~repeatable).astype(np.float32))
    out = sp.csr_matrix(consumed @ keep)
    out.eliminate_zeros()
    return out
