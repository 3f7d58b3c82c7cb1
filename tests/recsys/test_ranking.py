"""Ranking under rules: eligibility, blocked items, boosts, diversity, pins, value rules."""

from __future__ import annotations

import numpy as np

from recsys.ranking import Eligibility, Policy, is_eligible, select
from recsys.rules_value import offers_by_value, propensity, rewards_by_affinity


def items(n: int = 12):
    return [
        {"item_id": f"i{i}", "kind": "product", "category": "A" if i < 6 else "B",
         "tags": ["new"] if i == 11 else [], "in_stock": True}
        for i in range(n)
    ]  # fmt: skip


def src(name, indices, scores=None):
    sc = scores if scores is not None else np.linspace(1, 0.5, len(indices))
    return (name, np.array(indices, np.uint32), np.array(sc, np.float32))


def idx(picks):
    return [p.index for p in picks]


def test_personal_items_lead_and_popular_fills_the_rest():
    picks = select(items(), [src("personal", [4, 2]), src("global", list(range(12)))],
                   Eligibility(), 5)  # fmt: skip
    assert idx(picks) == [4, 2, 0, 1, 3]
    assert [p.source for p in picks] == ["personal", "personal", "global", "global", "global"]


def test_segment_list_outranks_generic_popular_lists():
    picks = select(items(), [src("global", [0, 1]), src("segment:Champions", [7, 8])],
                   Eligibility(), 4, pool=10)  # fmt: skip
    assert idx(picks) == [7, 8, 0, 1]


def test_blocked_items_are_skipped_and_the_list_still_fills():
    picks = select(items(), [src("personal", [0, 1, 2]), src("global", list(range(12)))],
                   Eligibility(), 4, Policy(blocked={1, 3}))  # fmt: skip
    assert idx(picks) == [0, 2, 4, 5]


def test_boost_lifts_a_matching_item():
    policy = Policy(boost=lambda item: 2.0 if "new" in item["tags"] else 1.0)
    picks = select(items(), [src("global", list(range(12)))], Eligibility(), 3, policy)
    assert idx(picks)[0] == 11


def test_diversity_caps_a_category_and_relaxes_only_to_fill():
    policy = Policy(max_per_category=2)
    picks = select(items(), [src("personal", [0, 1, 2, 3, 6])], Eligibility(), 3, policy)
    assert idx(picks) == [0, 1, 6]
    picks = select(items(), [src("personal", [0, 1, 2, 3])], Eligibility(), 3, policy)
    assert idx(picks) == [0, 1, 2]  # only A is available: filled anyway


def test_pins_take_their_position_only_if_eligible():
    catalogue = items()
    catalogue[9]["in_stock"] = False
    policy = Policy(pins=[(10, 1), (9, 2)])
    picks = select(catalogue, [src("personal", [0, 1, 2])], Eligibility(), 3, policy)
    assert idx(picks) == [10, 0, 1] and picks[0].source == "pinned"


def test_eligibility_tier_segments_channel_window():
    item = {"kind": "offer", "min_tier": "gold", "target_segments": ["VIP"], "channels": ["app"],
            "active_from": "2030-01-01T00:00:00+00:00"}  # fmt: skip
    ok = Eligibility(kind="offer", tier="gold", segments=frozenset({"VIP"}), channel="app")
    assert is_eligible(item, ok)
    assert not is_eligible(item, Eligibility(kind="offer", tier="silver"))
    assert not is_eligible(item, Eligibility(kind="offer", segments=frozenset({"Lost"})))
    assert not is_eligible(item, Eligibility(kind="offer", channel="email"))
    assert not is_eligible(item, Eligibility(kind="offer", now_iso="2026-01-01T00:00:00+00:00"))


def test_offer_value_recovers_the_best_offer_from_noisy_signals():
    """Simulation: 50 offers with a true propensity; signals are noisy views of it."""
    rng = np.random.default_rng(3)
    offers = np.arange(50, dtype=np.int64)
    truth = rng.uniform(0.01, 0.2, 50)
    margins = rng.uniform(1, 30, 50)
    signal = (offers.astype(np.uint32), (truth * rng.uniform(0.9, 1.1, 50)).astype(np.float32))
    chosen, _ = offers_by_value(offers, margins, np.zeros(50, np.int64), 50, [None, None, signal])
    true_best = np.argsort(-(truth * margins))[:5]
    assert len(set(chosen[:5].tolist()) & set(true_best.tolist())) >= 4


def test_cold_offers_get_half_their_category_mean():
    signal = (np.array([0, 1], np.uint32), np.array([1.0, 0.5], np.float32))
    p = propensity(np.arange(4), 4, [signal], np.array([0, 0, 0, 1]), weights=[1.0])
    assert np.allclose(p, [1.0, 0.5, 0.375, 0.5 * 0.75])


def test_rewards_split_by_points_and_rank_by_affinity():
    signal = (np.array([2, 0, 1, 3], np.uint32), np.array([4, 3, 2, 1], np.float32))
    (ok, _), (far, needed) = rewards_by_affinity(
        np.arange(4),
        np.array([100, 300, 50, 900]),
        np.zeros(4, np.int64),
        4,
        [None, None, signal],
        200,
    )
    assert ok.tolist() == [2, 0] and far.tolist() == [1, 3] and needed.tolist() == [100, 700]
