"""Reasons: the anchor lookup agrees with a direct scan of the anchors' similar items."""

from __future__ import annotations

import numpy as np
import pytest

from api.services.catalogue import _build
from api.services.reasons import anchor_of, reasons_for
from api.services.session import Session
from api.services.slots import rounded
from recsys.ranking import Pick
from store.profile import CustomerContext
from store.serving import SharedServing
from tests.api.personal_factories import item

N, WIDTH = 60, 6


def reference(
    shared: SharedServing, anchors: list[tuple[int, str]], index: int
) -> tuple[int, str] | None:
    """The rule, spelled out: the first anchor whose similar row lists the item, else the
    first anchor of the item's category; never the item itself."""
    found = None
    for pair in anchors:
        if pair[0] < len(shared.similar[0]) and index in shared.similar[0][pair[0]].tolist():
            found = pair
            break
    if found is None:
        category = shared.items[index].get("category")
        found = next(
            (p for p in anchors if category and shared.items[p[0]].get("category") == category),
            None,
        )
    return None if found is None or found[0] == index else found


@pytest.mark.parametrize("seed", range(5))
def test_anchor_matches_a_direct_scan(seed):
    rng = np.random.default_rng(seed)
    items = [item(f"p{i}", category=f"C{i % 7}" if i % 11 else None) for i in range(N)]
    similar_idx = rng.integers(-1, N, size=(N - 5, WIDTH)).astype(np.int32)  # last 5: no row
    shared = SharedServing("v", items, {}, {}, similar=(similar_idx, np.ones_like(similar_idx)))
    picks = rng.choice(N, 12, replace=False).tolist()
    anchors = [(int(a), rng.choice(["bought", "viewed", "liked"]))
               for a in rng.choice(N, 8, replace=False)]  # fmt: skip
    session = Session(shared, _build(shared), CustomerContext("c"), False, 0.0, "")
    session.anchors = anchors
    for index in picks:
        found = reference(shared, anchors, index)
        assert anchor_of(session, index) == found
        (reason,) = reasons_for(session, [Pick(index, 1.0, "personal")])
        if found is not None:
            assert reason == f"because you {found[1]} {items[found[0]]['title']}"
        else:
            assert not reason.startswith("because")


def test_scores_are_rounded_as_round_to_six_places_would():
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.random(20_000), rng.random(2_000) * 1e4, [0.0, 1.0]])
    for value in values.tolist():
        assert rounded(value) == round(value, 6)
    # an exact tie may go either way (round() goes to even), still six places at most
    assert rounded(0.5e-6) in (0.0, 1e-6)
