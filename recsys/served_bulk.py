"""`recsys.served.serve`'s common case for a block of customers at once, in numpy.

`recsys.ranking.select` answers most customers with `_best_first`: their personal list (listed
best first, no boosts) walked over its first `WALK` positions, skipping what their eligibility
mask rules out and what they already have, keeping at most `max_per_category` per category
(the greedy of `_diversify`), until k are chosen. `walk` does that for many rows with array
operations and answers only the rows it can show `select` answers the same way:

- the personal list (its -1 entries left out, as `serve` reads it) holds item indices of the
  table, finite scores never rising, and no item twice in the walked positions;
- k are chosen within the first `WALK` positions while the candidates read stay within the
  pool (`max(4k, k + 20)`), and the last chosen item's scaled score is at least `reach`, the
  best a later source (segment, channel, kind, global or catalogue list) could give an item,
  so none of them could place one in the answer;
- or the pool fills within those positions short of k: then `select` answers what diversity
  chose and then the best it skipped, of those candidates (`_relaxed`).

Every other row is left to the caller (`serve` runs `select` on it). Scores are scaled as
`_scaled` does, in float64 like Python's floats, so the values are the same to the bit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from recsys.ranking import FLOOR, RAW, WALK, Eligibility, Pick, Source, _weight

Walked = tuple[NDArray[np.bool_], NDArray[np.int64], NDArray[np.float64]]


def walk(
    rec_idx: NDArray[np.integer],
    rec_scores: NDArray[np.floating],
    k: int,
    *,
    masks: NDArray[np.bool_],
    group: NDArray[np.intp],
    blocked: sp.csr_matrix | None,
    categories: NDArray[np.integer],
    cap: int | None,
    weight: float,
    reach: NDArray[np.float64],
) -> Walked:
    """(answered, items, scores): which rows the walk answers, and for those rows their k
    item indices and scaled scores (float64, as `select`'s picks hold them; other rows'
    entries are meaningless). `masks[group[r]]` is row r's eligibility per item; `blocked`
    (rows x items) what row r may not be shown; `categories` a code per item; `weight` the
    personal source's weight; `reach` per row the best scaled score a source after it could
    give an item (`reach`)."""
    n, width = rec_idx.shape
    n_items = masks.shape[1]
    answered = np.zeros(n, bool)
    items = np.full((n, k), -1, np.int64)
    scores = np.zeros((n, k), np.float64)
    if not n or not width or not 0 < k <= WALK or not n_items:
        return answered, items, scores
    listed = rec_idx >= 0
    values = np.asarray(rec_scores, np.float64)
    holes = np.flatnonzero((~listed[:, :-1] & listed[:, 1:]).any(axis=1))
    if len(holes):  # -1 before the padding (an item gone from the catalogue): `serve` reads
        order = np.argsort(~listed[holes], axis=1, kind="stable")  # the list without it
        rec_idx, values = rec_idx.copy(), values.copy()
        rec_idx[holes] = np.take_along_axis(rec_idx[holes], order, axis=1)
        values[holes] = np.take_along_axis(values[holes], order, axis=1)
        listed = rec_idx >= 0
    finite = np.isfinite(values)
    usable = (
        listed[:, 0]
        & ~(listed & (rec_idx >= n_items)).any(axis=1)  # an index off the table: not ours
        & (finite | ~listed).all(axis=1)
        & ((values[:, 1:] <= values[:, :-1]) | ~listed[:, 1:]).all(axis=1)  # never rising
    )
    top = np.where(listed, values, -np.inf).max(axis=1)  # the list's best score
    rows = np.flatnonzero(usable)
    # most rows are decided within a few positions: walk those first, the rest to WALK
    for span in dict.fromkeys((min(width, WALK, 2 * k + 8), min(width, WALK))):
        if not len(rows):
            break
        done, picked, scaled = _walk_span(
            rec_idx[rows, :span], values[rows, :span], top[rows], k, rows, masks, group[rows],
            blocked, categories, cap, weight, reach[rows],
        )  # fmt: skip
        answered[rows[done]] = True
        items[rows[done]] = picked
        scores[rows[done]] = scaled
        rows = rows[~done]
    return answered, items, scores


def _walk_span(
    idx: NDArray[np.integer],
    values: NDArray[np.float64],
    top: NDArray[np.float64],
    k: int,
    rows: NDArray[np.intp],
    masks: NDArray[np.bool_],
    group: NDArray[np.intp],
    blocked: sp.csr_matrix | None,
    categories: NDArray[np.integer],
    cap: int | None,
    weight: float,
    reach: NDArray[np.float64],
) -> tuple[NDArray[np.bool_], NDArray[np.int64], NDArray[np.float64]]:
    """The walk over the first `idx.shape[1]` positions of `rows` (row r's eligibility:
    `masks[group[r]]`): which rows it decides, their items and scaled scores."""
    n, span = idx.shape
    at_col = np.arange(span)
    listed = idx >= 0
    safe = np.where(listed, idx, 0)
    # the same item twice among the walked positions: `select` skips the repeat; not here
    marked = np.sort(np.where(listed, idx, -1 - at_col), axis=1)
    unique = ~(marked[:, 1:] == marked[:, :-1]).any(axis=1)
    candidate = listed & masks[group[:, None], safe]
    if blocked is not None and blocked.nnz:
        candidate &= ~_has(blocked, rows, safe)
    if cap is None:
        chosen = candidate
    else:
        chosen = candidate & (_rank_in_category(categories[safe], candidate) < cap)
    pool = max(4 * k, k + 20)  # `select`'s pool
    read = np.cumsum(candidate, axis=1)  # candidates read so far
    chosen_so_far = np.cumsum(chosen, axis=1)
    at = np.argmax(chosen_so_far >= k, axis=1)  # where the k-th is chosen
    everyone = np.arange(n)
    in_time = (chosen_so_far[:, -1] >= k) & (read[everyone, at] <= pool)
    last = _scale(values[everyone, at], top, weight)
    walked = unique & in_time & (last >= reach)
    # the pool filled short of k: `_relaxed`, what diversity chose, then the best it skipped
    relaxed = unique & ~in_time & (read[:, -1] >= pool)
    in_pool = candidate & (read <= pool)
    rank = np.where(chosen & in_pool, at_col, np.where(in_pool, span + at_col, 2 * span))
    rank[walked] = np.where(chosen[walked] & (chosen_so_far[walked] <= k), at_col, 2 * span)
    done = walked | relaxed
    position = np.argsort(rank[done], axis=1)[:, :k]
    picked = np.take_along_axis(idx[done], position, axis=1).astype(np.int64)
    scaled = _scale(np.take_along_axis(values[done], position, axis=1), top[done, None], weight)
    return done, picked, scaled


def _scale(
    score: NDArray[np.float64], top: NDArray[np.float64], weight: float
) -> NDArray[np.float64]:
    """`recsys.ranking._scaled` elementwise (the same float64 operations in the same order)."""
    positive = top > 0
    ratio = np.where(positive, score / np.where(positive, top, 1.0), 0.0)
    return weight * (FLOOR + (1 - FLOOR) * ratio)


def _has(matrix: sp.csr_matrix, rows: NDArray[np.intp], cols: NDArray[np.integer]) -> NDArray:
    """Whether `matrix[rows[r], cols[r, j]]` is stored, for every (r, j)."""
    n_cols = matrix.shape[1]
    stored_rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    keys = np.sort(stored_rows * n_cols + matrix.indices)
    wanted = rows[:, None].astype(np.int64) * n_cols + cols
    at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return keys[at] == wanted


def _rank_in_category(codes: NDArray[np.integer], counted: NDArray[np.bool_]) -> NDArray:
    """Per position, how many counted positions before it in its row share its code (for the
    counted ones; uncounted ones are ranked among themselves, apart)."""
    n, span = codes.shape
    bound = int(codes.max(initial=0)) + 2
    group = np.arange(n)[:, None] * bound + np.where(counted, codes, bound - 1)
    key = (group * span + np.arange(span)).ravel()
    order = np.argsort(key)
    grouped = group.ravel()[order]
    starts = np.r_[True, grouped[1:] != grouped[:-1]]
    first = np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order)) - first
    return rank.reshape(n, span)


def reach(later: list[Source]) -> float:
    """The best scaled score one of the `later` sources could give an item (what `_best_first`
    compares the walk's last item with); -inf without any."""
    values = (float(np.max(v)) if n in RAW and len(v) else _weight(n) for n, _, v in later)
    return max(values, default=-np.inf)


def blocked_pairs(consumed: sp.csr_matrix, repeatable: NDArray[np.bool_]) -> sp.csr_matrix:
    """The `consumed` pairs whose item is not repeatable (what `select` may not show)."""
    keep = ~repeatable[consumed.indices]
    rows = np.repeat(np.arange(consumed.shape[0]), np.diff(consumed.indptr))[keep]
    ones = np.ones(len(rows), np.float32)
    return sp.csr_matrix((ones, (rows, consumed.indices[keep])), shape=consumed.shape)


def row_set(blocked: sp.csr_matrix | None, r: int) -> set[int]:
    """Row `r`'s stored columns (nothing without a matrix)."""
    if blocked is None:
        return set()
    return set(blocked.indices[blocked.indptr[r] : blocked.indptr[r + 1]].tolist())


def put(
    out_idx: NDArray[np.int64], out_scores: NDArray[np.float32], r: int | NDArray[np.intp],
    picks: list[Pick],
) -> None:  # fmt: skip
    """Row `r` (or each of rows `r`) of the answers: `picks`, then padding."""
    out_idx[r] = -1
    out_idx[r, : len(picks)] = [p.index for p in picks]
    out_scores[r] = 0.0
    out_scores[r, : len(picks)] = [p.score for p in picks]


class Groups:
    """The customers' eligibility, worked out once per distinct (segments, tier): the rule
    (`eligibility`), its mask (`eligible`; equal masks stacked once in `masks`), the segment
    whose popular list is read (`segment_of`), and `reach`, the best scaled score a source
    after the personal list (`after` a segment) could give an item."""

    def __init__(
        self,
        eligibility: Callable[[Sequence[str], str], Eligibility],
        eligible: Callable[[Eligibility], NDArray[np.bool_]],
        n: int,
        segments: Sequence[Sequence[str]] | None,
        tiers: Sequence[str] | None,
        *,
        segment_of: Callable[[Sequence[str]], str | None],
        after: Callable[[str | None], list[Source]],
    ) -> None:
        mine = [tuple(s) for s in segments] if segments is not None else [()] * n
        index: dict[tuple[tuple[str, ...], str], int] = {}
        keys = zip(mine, tiers if tiers is not None else ["none"] * n, strict=True)
        self.group = np.fromiter((index.setdefault(key, len(index)) for key in keys), np.intp, n)
        self.rules = [eligibility(names, tier) for names, tier in index]
        self.eligible = [eligible(rule) for rule in self.rules]
        distinct: dict[int, int] = {}
        of_group = [distinct.setdefault(id(m), len(distinct)) for m in self.eligible]
        self.masks = np.stack(list({id(m): m for m in self.eligible}.values()))
        self.mask_of = np.asarray(of_group, np.intp)[self.group]
        self.segment = [segment_of(names) for names, _ in index]
        self.reach = np.array([reach(after(segment)) for segment in self.segment], np.float64)

    def rule(self, r: int) -> Eligibility:
        return self.rules[self.group[r]]

    def mask(self, r: int) -> NDArray[np.bool_]:
        return self.eligible[self.group[r]]
