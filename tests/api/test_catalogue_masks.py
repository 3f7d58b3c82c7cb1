"""The per-version eligibility masks agree with `recsys.ranking.is_eligible`, item by item."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime

import numpy as np
import pytest

from api.services.catalogue import _build
from recsys.ranking import Eligibility, is_eligible
from recsys.value_ranking import offers_by_value, rewards_by_affinity, scaled
from store.serving import SharedServing
from tests.api.personal_factories import catalogue, item

NOW = time.time()
PAST, FUTURE = "2020-01-01T00:00:00+00:00", "2099-01-01T00:00:00+00:00"


def items() -> list[dict]:
    out = catalogue()
    out += [
        item("e1", channels=["email"]),
        item("e2", channels=["web", "app"], category="Home"),
        item("t1", target_segments=["Loyal", "New"], min_tier="silver"),
        item("t2", "offer", target_segments=["New"]),
        item("x1", active_from=FUTURE),
        item("x2", active_to=PAST),
        item("x3", active_from=PAST, active_to=FUTURE, in_stock=False),
        item("nc", category=None),
    ]
    return out


RULES = [
    Eligibility(kind=kind, channel=channel, category=category, now_iso=now_iso,
                in_stock=stock, segments=segments, tier=tier)
    for kind, channel, category, now_iso, stock, segments, tier in itertools.product(
        ("product", "offer", None), (None, "web", "email"), (None, "Home", "Nowhere"),
        (None, datetime.fromtimestamp(NOW, UTC).isoformat()), (True, False),
        (None, frozenset(), frozenset({"New"})), (None, "none", "gold"),
    )
]  # fmt: skip


@pytest.fixture(scope="module")
def cat_and_items():
    table = items()
    return _build(SharedServing("v1", table, {}, {})), table


@pytest.mark.parametrize("rule", RULES[::7])  # a spread of the combinations, kept fast
def test_mask_equals_is_eligible_for_every_item(cat_and_items, rule):
    cat, table = cat_and_items
    now = cat.available(NOW, in_stock=rule.in_stock, active_window=rule.now_iso is not None)
    assert cat.allowed(rule, now).tolist() == [is_eligible(it, rule) for it in table]


def test_masks_are_cached_per_outcome_and_availability_per_second(cat_and_items):
    cat, _ = cat_and_items
    rule = Eligibility(kind="product", channel="web", segments=frozenset({"Loyal", "Old"}))
    assert cat.eligible(rule) is cat.eligible(rule)
    # other segments meeting the same target groups share the mask; others don't
    assert cat.eligible(rule._replace(segments=frozenset({"Loyal"}))) is cat.eligible(rule)
    assert cat.eligible(rule._replace(segments=frozenset({"New"}))) is not cat.eligible(rule)
    available = cat.available(NOW, in_stock=True, active_window=True)
    assert cat.available(NOW, in_stock=True, active_window=True) is available
    later = cat.available(NOW + 1, in_stock=True, active_window=True)
    assert later is not available
    # what ranking reads (eligible now) is kept while the availability mask is
    assert cat.allowed(rule, available) is cat.allowed(rule, available)
    assert cat.allowed(rule, later) is not cat.allowed(rule, available)


def test_diversity_codes_group_items_as_ranking_does():
    table = [*items(), item("blank", category="")]
    cat = _build(SharedServing("v", table, {}, {}))
    groups: dict[str, set[int]] = {}
    for index, it in enumerate(table):
        groups.setdefault(it.get("category") or "", set()).add(int(cat.diversity_codes[index]))
    assert all(len(codes) == 1 for codes in groups.values())  # one code per category…
    assert len({next(iter(codes)) for codes in groups.values()}) == len(groups)  # …each its own


def test_live_arrays_and_scaled_lists_follow_the_availability_mask(cat_and_items):
    cat, table = cat_and_items
    offers = cat.kinds["offer"].indices
    signal = (offers[::-1].astype(np.uint32), np.arange(len(offers), dtype=np.float32))
    for available in (cat.available(NOW, in_stock=True, active_window=True),
                      np.ones(len(table), np.bool_), np.zeros(len(table), np.bool_)):  # fmt: skip
        live = cat.live("offer", available)
        assert live.indices.tolist() == [i for i in offers.tolist() if available[i]]
        expected = scaled(signal, live.indices)
        assert np.array_equal(cat.scaled_list("kind:offer", signal, "offer", available), expected)
        assert cat.live("offer", available) is live  # kept while the mask is the same object


def test_a_ranking_from_the_lists_alone_is_the_ranking_with_no_personal_signal(cat_and_items):
    """The cached ranking for a customer whose own list names none of the kind's items is
    exactly `offers_by_value` (offers) or `rewards_by_affinity` (rewards) with a zero
    personal part, per kind, set of lists and availability, and read-only."""
    cat, table = cat_and_items
    rng = np.random.default_rng(3)

    def by_value(a, parts):
        return offers_by_value(a.indices, a.margins, a.categories, parts)

    def by_affinity(a, parts):
        return rewards_by_affinity(a.indices, a.costs, a.categories, parts)

    for kind, rank in (("offer", by_value), ("reward", by_affinity)):
        items = cat.kinds[kind].indices
        segment = (items[::2].astype(np.uint32), rng.random(len(items[::2])).astype(np.float32))
        overall = (items[::-1].astype(np.uint32), np.arange(len(items), dtype=np.float32))
        for available in (cat.available(NOW, in_stock=True, active_window=True),
                          np.ones(len(table), np.bool_)):  # fmt: skip
            live = cat.live(kind, available)
            for lists in ([("segment:A", segment), (f"kind:{kind}", overall)],
                          [("segment:None", None), (f"kind:{kind}", overall)]):  # fmt: skip
                parts = [np.zeros(len(live.indices))]
                parts += [scaled(ranked, live.indices) for _, ranked in lists]
                expected = rank(live, parts)
                ranked = cat.by_lists(kind, lists, available, rank)
                assert [a.tolist() for a in ranked] == [a.tolist() for a in expected]
                assert cat.by_lists(kind, lists, available, rank) is ranked  # kept
                with pytest.raises(ValueError):  # shared by every request: read-only
                    ranked[-1][0] = 1.0
