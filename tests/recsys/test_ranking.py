"""Ranking under rules: eligibility, blocked items, boosts, diversity, pins, value rules."""

from __future__ import annotations

import numpy as np

from recsys import ranking
from recsys.ranking import Eligibility, Pick, Policy, is_eligible, select
from recsys.value_ranking import (
    by_points,
    offers_by_value,
    propensity,
    rewards_by_affinity,
    scaled,
)


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
    parts = [scaled(s, offers) for s in (None, None, signal)]
    chosen, _ = offers_by_value(offers, margins, np.zeros(50, np.int64), parts)
    true_best = np.argsort(-(truth * margins))[:5]
    assert len(set(chosen[:5].tolist()) & set(true_best.tolist())) >= 4


def test_cold_offers_get_half_their_category_mean():
    signal = (np.array([0, 1], np.uint32), np.array([1.0, 0.5], np.float32))
    p = propensity([scaled(signal, np.arange(4))], np.array([0, 0, 0, 1]), weights=[1.0])
    assert np.allclose(p, [1.0, 0.5, 0.375, 0.5 * 0.75])


def test_rewards_split_by_points_and_rank_by_affinity():
    signal = (np.array([2, 0, 1, 3], np.uint32), np.array([4, 3, 2, 1], np.float32))
    ranked = rewards_by_affinity(
        np.arange(4),
        np.array([100, 300, 50, 900]),
        np.zeros(4, np.int64),
        [scaled(s, np.arange(4)) for s in (None, None, signal)],
    )
    (ok, _), (far, needed) = by_points(ranked, 200)
    assert ok.tolist() == [2, 0] and far.tolist() == [1, 3] and needed.tolist() == [100, 700]
    (ok, _), (far, needed) = by_points(ranked, 1000)  # the same ranking, a richer balance
    assert ok.tolist() == [2, 0, 1, 3] and far.tolist() == [] and needed.tolist() == []


def reference(items, sources, rule, k, policy=None, *, pool=None, available=None, eligible=None):
    """The per-candidate Python `select` that the vectorised one replaced, kept as its spec."""
    policy = policy or Policy()
    pool = pool or max(4 * k, k + 20)
    candidates: list[Pick] = []
    seen = set(rule.exclude)
    for name, indices, scores in sources:
        if len(candidates) >= pool:
            break
        weight = ranking._weight(name)
        top = float(np.max(scores)) if len(scores) else 0.0
        taken = 0
        for index, score in zip(np.asarray(indices).tolist(), np.asarray(scores).tolist(),
                                strict=True):  # fmt: skip
            if not 0 <= index < len(items) or index in seen:
                continue
            if available is not None and not available[index]:
                continue
            if eligible is not None and not eligible[index]:
                continue
            seen.add(index)
            if eligible is None and not is_eligible(items[index], rule):
                continue
            if index in policy.blocked:
                continue
            if name not in ranking.RAW:
                ratio = score / top if top > 0 else 0.0
                score = weight * (ranking.FLOOR + (1 - ranking.FLOOR) * ratio)
            candidates.append(Pick(index, score, name))
            taken += 1
            if taken >= pool:
                break
    if policy.boost is not None:
        for p in candidates:
            p.score *= policy.boost(items[p.index])
    candidates.sort(key=lambda p: -p.score)
    chosen, skipped, counts, cap = [], [], {}, policy.max_per_category
    for pick in candidates:
        category = items[pick.index].get("category") or ""
        if cap is not None and counts.get(category, 0) >= cap:
            skipped.append(pick)
            continue
        counts[category] = counts.get(category, 0) + 1
        chosen.append(pick)
        if len(chosen) == k:
            break
    else:
        chosen += skipped[: k - len(chosen)]  # every slot filled beats strict diversity
    out = chosen[:k]
    for index, position in sorted(policy.pins, key=lambda p: p[1]):
        if index in rule.exclude or index >= len(items):
            continue
        if not is_eligible(items[index], rule) or index in policy.blocked:
            continue
        top = out[0].score if out else 1.0
        out = [p for p in out if p.index != index]
        out.insert(min(position - 1, len(out)), Pick(index, top, "pinned"))
    return out[:k]


SOURCES = ["fresh", "personal", "similar", "segment:VIP", "channel:web", "kind:product", "global",
           "catalogue:product", "value"]  # fmt: skip


def boost(item):
    return 1.5 if item["tags"] else 0.7 if item["category"] == "B" else 1.0


def random_case(rng):
    """A catalogue of up to 40 items and sources with repeats, out-of-range indices, ties,
    all-zero and negative ("value") scores; random masks, exclusions, blocks, pins, k, pool."""
    n = int(rng.integers(0, 40))
    catalogue = [
        {"item_id": f"i{i}", "kind": "product" if rng.random() < 0.8 else "content",
         "category": [None, "", "A", "B", "C"][rng.integers(5)],
         "in_stock": bool(rng.random() < 0.9), "tags": ["new"] if rng.random() < 0.2 else []}
        for i in range(n)
    ]  # fmt: skip
    sources = []
    for _ in range(int(rng.integers(0, 6))):
        size = int(rng.integers(0, 2 * n + 3))
        dtype = [np.uint32, np.int64, np.int32][rng.integers(3)]
        indices = rng.integers(0 if dtype == np.uint32 else -3, n + 3, size).astype(dtype)
        name = SOURCES[rng.integers(len(SOURCES))]
        scores = [rng.integers(0, 3, size) / 2, np.zeros(size), rng.normal(0.5, 1, size),
                  rng.random(size)][rng.integers(4)]  # fmt: skip
        if rng.random() < 0.6:  # most published lists come best first
            order = np.argsort(-scores, kind="stable")
            indices, scores = indices[order], scores[order]
        sources.append((name, indices, scores.astype([np.float32, np.float64][rng.integers(2)])))
    span = np.arange(-3, n + 3)
    rule = Eligibility(
        kind=[None, "product"][rng.integers(2)],
        exclude=frozenset(rng.choice(span, int(rng.integers(0, 5))).tolist()),
    )
    pins = [(int(rng.integers(0, n + 2)), int(rng.integers(1, 6))) for _ in range(rng.integers(3))]
    policy = Policy(
        blocked=set(rng.choice(span, int(rng.integers(0, 8))).tolist()),
        boost=[None, boost][rng.integers(2)],
        max_per_category=[None, 0, 1, 2, 3][rng.integers(5)],
        pins=pins,
    )
    options = {}
    if rng.random() < 0.5:
        options["pool"] = int(rng.integers(1, 30))
    if rng.random() < 0.3:
        options["available"] = rng.random(n) < 0.8
    if rng.random() < 0.6:
        options["eligible"] = rng.random(n) < 0.8
    return catalogue, sources, rule, int(rng.integers(0, 13)), policy, options


def test_select_matches_the_per_candidate_reference_on_random_inputs():
    rng = np.random.default_rng(7)
    for case in range(3000):
        catalogue, sources, rule, k, policy, options = random_case(rng)
        expected = reference(catalogue, sources, rule, k, policy, **options)
        codes: dict[str, int] = {}
        categories = [codes.setdefault(item["category"] or "", len(codes)) for item in catalogue]
        for extra in ({}, {"categories": categories}):
            got = select(catalogue, sources, rule, k, policy, **options, **extra)
            assert [(p.index, p.source) for p in got] == [(p.index, p.source) for p in expected]
            scores = [p.score for p in got], [p.score for p in expected]
            assert np.allclose(*scores, rtol=0, atol=1e-9), case


def test_the_walk_of_a_best_first_source_answers_as_the_full_pool_would(monkeypatch):
    """`_best_first` (the early-stopping walk) either declines or agrees with the reference;
    and it does answer a good share of the cases it is meant for, among them a pool filled
    short of k (diversity skipped too many), relaxed as the full build would."""
    rng = np.random.default_rng(11)
    answered = 0
    relaxed = []
    original = ranking._relaxed

    def counted(chosen, skipped, k, *rest):
        relaxed.append(len(skipped) > 0 and len(chosen) < k)
        return original(chosen, skipped, k, *rest)

    monkeypatch.setattr(ranking, "_relaxed", counted)
    for _ in range(3000):
        catalogue, sources, rule, k, policy, options = random_case(rng)
        if "eligible" not in options or policy.boost is not None or k == 0:
            continue
        pool = options.get("pool") or max(4 * k, k + 20)
        masks = options.get("available"), options["eligible"]
        walked = ranking._best_first(catalogue, sources, rule, k, policy, pool, *masks, None)
        if walked is None:
            continue
        answered += 1
        expected = reference(catalogue, sources, rule, k, policy._replace(pins=()), **options)
        assert [(p.index, p.source) for p in walked] == [(p.index, p.source) for p in expected]
        assert np.allclose([p.score for p in walked], [p.score for p in expected], atol=1e-9)
    assert answered >= 30, answered  # (104 with this seed; 45 before the relaxed pool)
    assert sum(relaxed) >= 10, relaxed  # relaxed with skipped items (23 with this seed)


def test_scaled_reads_a_list_onto_a_subset_as_a_dense_array_would():
    """The binary-search lookup agrees with scattering the list over the whole catalogue."""
    rng = np.random.default_rng(4)
    for _ in range(500):
        size = int(rng.integers(1, 60))
        subset = np.sort(rng.choice(size, int(rng.integers(0, size + 1)), replace=False))
        n = int(rng.integers(0, 30))
        ranked = (rng.integers(0, size + 5, n).astype(np.uint32), rng.normal(0.5, 1, n))
        dense = np.zeros(size + 5)
        dense[ranked[0].astype(np.int64)] = np.clip(ranked[1], 0.0, None)
        expected = dense[subset]
        top = expected.max() if len(expected) else 0.0
        expected = expected / top if top > 0 else expected
        assert np.allclose(scaled(ranked, subset.astype(np.int64)), expected)
