"""`serve` answers many customers in bulk (`recsys.served_bulk.walk`) and the rest one by one;
either way every row must be what `recsys.ranking.select` answers that customer alone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp

import recsys.served as served
from recsys.business_rules import Boost, Pin, Rules
from recsys.consumption import Consumption
from recsys.ranking import Policy, select
from recsys.served import Storefront, serve, shaping, sources_for, top_segment

SEGMENTS = ["champions", "loyal", "at_risk", "new", "vip"]
TIERS = ["none", "silver", "gold"]


def per_row(
    front: Storefront,
    recs: tuple[np.ndarray, np.ndarray],
    consumed: sp.csr_matrix,
    k: int,
    segments: Sequence[Sequence[str]],
    tiers: Sequence[str],
    consents: Sequence[Mapping[str, bool]],
) -> tuple[np.ndarray, np.ndarray]:
    """The contract: `select` once per customer (`serve` as it was before the bulk path)."""
    rules = front.rules
    boost, pins = shaping(rules, front.index_of)
    rec_idx, rec_scores = recs
    n = rec_idx.shape[0]
    out_idx = np.full((n, k), -1, np.int64)
    out_scores = np.zeros((n, k), np.float32)
    for r in range(n):
        if rules.needs_consent(front.channel) and not consents[r].get(str(front.channel)):
            continue
        rule = front.eligibility(segments[r], tiers[r])
        has = consumed.indices[consumed.indptr[r] : consumed.indptr[r + 1]]
        blocked = set(has[~front.repeatable[has]].tolist()) if rules.exclude_consumed else set()
        keep = rec_idx[r] >= 0
        personal = (rec_idx[r][keep], rec_scores[r][keep]) if keep.any() else None
        sources = sources_for(front.popular, kind=front.kind, channel=front.channel,
                              segment=top_segment(front.popular, segments[r]),
                              personal=personal, catalogue=front.catalogue)  # fmt: skip
        policy = Policy(blocked, boost, rules.max_per_category, pins)
        picks = select(front.items, sources, rule, k, policy, eligible=front.eligible(rule),
                       categories=front.categories)  # fmt: skip
        out_idx[r, : len(picks)] = [p.index for p in picks]
        out_scores[r, : len(picks)] = [p.score for p in picks]
    return out_idx, out_scores


def catalogue(
    rng: np.random.Generator, n_items: int, n_categories: int, skew: float | None
) -> list[dict]:
    """Items of every shape eligibility reads; `skew`: the share of the first category."""
    categories = [f"c{c}" for c in range(n_categories)] + ["", None]
    weights = (
        np.ones(len(categories)) if skew is None else np.r_[skew * 20, np.ones(len(categories) - 1)]
    )
    return [
        {
            "item_id": f"i{i}",
            "kind": "product" if rng.random() < 0.9 else "content",
            "category": categories[rng.choice(len(categories), p=weights / weights.sum())],
            "in_stock": bool(rng.random() < 0.93),
            "channels": ["web", "email"] if rng.random() < 0.9 else ["app"],
            "target_segments": list(rng.choice(SEGMENTS, 2, replace=False))
            if rng.random() < 0.08 else [],
            "min_tier": TIERS[rng.integers(3)] if rng.random() < 0.06 else None,
            "active_to": "2000-01-01T00:00:00+00:00" if rng.random() < 0.02 else None,
            "tags": ["new"] if rng.random() < 0.1 else [],
        }
        for i in range(n_items)
    ]  # fmt: skip


def published_lists(rng: np.random.Generator, n: int, n_items: int) -> tuple[np.ndarray, ...]:
    """Top-100 lists as the batch publishes them, with every shape `walk` must refuse mixed
    in: empty, short, negative scores (later sources could reach the walk), a rise, a hole
    before the padding, an item twice, NaN, an index off the table."""
    idx = np.full((n, 100), -1, np.int64)
    scores = np.full((n, 100), -np.inf, np.float32)
    for r in range(n):
        length = [0, 5, 30, 100][rng.choice(4, p=[0.04, 0.08, 0.18, 0.7])]
        idx[r, :length] = rng.choice(n_items, length, replace=False)
        low, high = [(0.0, 1.0), (-3.0, 1.0), (-2.0, -0.1)][rng.choice(3, p=[0.87, 0.1, 0.03])]
        values = np.sort(rng.uniform(low, high, length))[::-1]
        if rng.random() < 0.05:  # ties
            values = np.round(values, 1)
        scores[r, :length] = values
        odd = rng.random()
        if length > 20 and odd < 0.03:
            scores[r, 7] = scores[r, 0] + 1  # not best first
        elif length > 20 and odd < 0.06:
            idx[r, 4] = -1  # an item the catalogue no longer has
        elif length > 20 and odd < 0.09:
            idx[r, 9] = idx[r, 2]
        elif length > 20 and odd < 0.1:
            scores[r, 3] = np.nan
        elif length > 20 and odd < 0.11:
            idx[r, 6] = n_items + 3
    return idx, scores


# (k, max_per_category, channel, rules beyond the defaults, rows of 600 answered in bulk as
# measured; the rest went through `select` one by one, each case comparing both paths)
CASES = [
    (1, None, None, {}, 529),
    (5, 1, None, {}, 494),
    (10, 2, "web", {}, 473),
    (10, 4, None, {}, 494),
    (10, None, "email", {}, 352),  # consent needed: refused rows are empty, never walked
    (3, 2, "web", {"pins": (Pin("i5", 2), Pin("i9", 1))}, 517),  # pinned after the walk
    (10, 3, None, {"repeatable": True}, 481),
    (20, 2, None, {"exclude_consumed": False}, 418),
    (30, None, "web", {}, 372),
    (3, 1, None, {"skew": 0.9}, 487),  # one category holds most items
    (5, 1, None, {"n_categories": 2}, 424),  # 3 codes: the pool fills short of k, `_relaxed`
    (10, 2, "web", {"n_categories": 3}, 356),  # 4 codes x 2 < 10: relaxed where the pool fills
    (16, 4, "web", {"n_categories": 2}, 0),  # 3 codes x 4 < 16, pool 64: never fills, per row
    (65, 2, None, {}, 0),  # beyond WALK: every row per row
    (8, 2, "web", {"boosts": (Boost(1.3, tag="new"),)}, 0),  # boosts: every row per row
]


@pytest.mark.parametrize(("k", "cap", "channel", "extra", "in_bulk"), CASES)
def test_bulk_rows_equal_select_per_row(k, cap, channel, extra, in_bulk, monkeypatch) -> None:
    rng = np.random.default_rng(1000 + k * 10 + (cap or 0))
    n, n_items = 600, 400
    items = catalogue(rng, n_items, extra.pop("n_categories", 12), extra.pop("skew", None))
    popular = {
        name: (rng.permutation(n_items)[:150].astype(np.uint32),
               np.sort(rng.uniform(0.0, 5.0, 150)).astype(np.float32)[::-1])
        for name in ("global", "kind:product", "channel:web", "segment:loyal", "segment:vip")
    }  # fmt: skip
    consumption = Consumption(repeatable_categories=frozenset({"c1"}))
    rules = Rules(max_per_category=cap, consumption=consumption if extra.pop("repeatable", 0)
                  else Consumption())  # fmt: skip
    rules = replace(rules, **extra)
    front = Storefront(items, popular, rules, "product", channel, "2025-06-01T00:00:00+00:00")
    recs = published_lists(rng, n, n_items)
    consumed = sp.random(n, n_items, density=0.03, format="csr", random_state=rng)
    consumed = sp.csr_matrix(sp.diags((rng.random(n) < 0.7).astype(float)) @ consumed)  # some
    # customers have nothing: with nothing personal either, a group of them shares one answer
    segments = [list(rng.choice(SEGMENTS, rng.integers(0, 3), replace=False)) for _ in range(n)]
    tiers = [TIERS[t] for t in rng.integers(0, 3, n)]
    consents = [{"email": bool(rng.random() < 0.7)} for _ in range(n)]
    walked: list[int] = []
    real_walk = served.walk

    def counting(*args, **kwargs):
        done, idx, scores = real_walk(*args, **kwargs)
        walked.append(int(done.sum()))
        return done, idx, scores

    monkeypatch.setattr(served, "walk", counting)
    got = serve(front, recs, consumed, k, segments=segments, tiers=tiers, consents=consents)
    want = per_row(front, recs, consumed, k, segments, tiers, consents)
    bulk = sum(walked)
    print(f"k={k} cap={cap} {channel}: {bulk} of {n} rows in bulk, {n - bulk} per row")
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    if in_bulk:  # both paths compared
        assert in_bulk <= bulk < n
    else:  # a case the bulk path must leave to `select`
        assert bulk == 0


def test_a_block_of_one_row_and_no_rows_still_answer() -> None:
    items = [{"item_id": f"i{i}", "kind": "product", "category": f"c{i % 3}"} for i in range(9)]
    popular = (np.arange(9, dtype=np.uint32), np.arange(9, 0, -1).astype(np.float32))
    front = Storefront(items, {"global": popular}, Rules())
    recs = (np.array([[4, 2, 7, -1]]), np.array([[3.0, 2.0, 1.0, -np.inf]], np.float32))
    got, scores = serve(front, recs, sp.csr_matrix((1, 9)), 2)
    assert got.tolist() == [[4, 2]] and scores[0, 0] == 1.0
    none, _ = serve(front, (recs[0][:0], recs[1][:0]), sp.csr_matrix((0, 9)), 2)
    assert none.shape == (0, 2)


def test_the_walk_stops_where_the_pool_fills_as_select_does(monkeypatch) -> None:
    """k=2, one per category, pool 22: a second category at candidate 22 is chosen; at
    candidate 23 the pool is full first and `select` relaxes diversity (two of the first);
    the bulk walk answers both."""
    items = [{"item_id": f"i{i}", "kind": "product", "category": "A" if i < 50 else "B"}
             for i in range(60)]  # fmt: skip
    front = Storefront(items, {}, Rules(max_per_category=1))
    first = list(range(21))
    rows = [[*first, 50, *range(21, 40)], [*first, 21, 50, *range(22, 40)]]
    recs = (np.array(rows), np.tile(np.linspace(2.0, 1.0, 41, dtype=np.float32), (2, 1)))
    walked: list[int] = []
    real_walk = served.walk
    monkeypatch.setattr(served, "walk", lambda *a, **kw: walked.append(0) or real_walk(*a, **kw))
    got, _ = serve(front, recs, sp.csr_matrix((2, 60)), 2)
    assert got.tolist() == [[0, 50], [0, 1]]
    done, _, _ = real_walk(*recs, 2, masks=np.ones((1, 60), bool), group=np.zeros(2, np.intp),
                           blocked=None, categories=np.array(front.categories), cap=1,
                           weight=1.0, reach=np.zeros(2))  # fmt: skip
    assert done.tolist() == [True, True] and walked  # the second as `_relaxed` answers it


def test_customers_with_nothing_share_their_groups_answer_only() -> None:
    """Nothing published and nothing had: one answer per (segments, tier), which must still
    be each customer's own (the segment's list, targets and tier read per group)."""
    rng = np.random.default_rng(7)
    n, n_items = 300, 200
    items = catalogue(rng, n_items, 6, None)
    popular = {name: (rng.permutation(n_items)[:80].astype(np.uint32),
                      np.sort(rng.uniform(0.0, 5.0, 80)).astype(np.float32)[::-1])
               for name in ("global", "segment:loyal", "segment:vip", "segment:new")}  # fmt: skip
    front = Storefront(items, popular, Rules(max_per_category=2), "product", None, "2025-06-01")
    recs = (np.full((n, 100), -1, np.int64), np.zeros((n, 100), np.float32))
    consumed = sp.random(n, n_items, density=0.02, format="csr", random_state=rng)
    consumed = sp.csr_matrix(sp.diags((rng.random(n) < 0.5).astype(float)) @ consumed)
    segments = [list(rng.choice(SEGMENTS, rng.integers(0, 3), replace=False)) for _ in range(n)]
    tiers = [TIERS[t] for t in rng.integers(0, 3, n)]
    got = serve(front, recs, consumed, 6, segments=segments, tiers=tiers)
    want = per_row(front, recs, consumed, 6, segments, tiers, [{}] * n)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert len({tuple(row) for row in got[0].tolist()}) > 5  # the groups' answers differ
