"""Reasons: the anchor lookup agrees with a direct scan of the anchors' similar items."""

from __future__ import annotations

import numpy as np
import pytest

from api.services.catalogue import _build
from api.services.reasons import anchor_of, reasons_for
from api.services.session import Session
from api.services.slots import rounded
from recsys.explain import NO_ANCHOR, anchor_positions
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


@pytest.mark.parametrize("seed", range(8))
def test_the_batchs_anchor_positions_follow_the_same_rule(seed):
    """`recsys.explain.anchor_positions` (the batch, vectorised) against the rule spelled
    out: rows -1 padded or missing, items without a category, anchors among the recs."""
    rng = np.random.default_rng(seed)
    items = [item(f"p{i}", category=f"C{i % 5}" if i % 4 else None) for i in range(N)]
    similar_idx = rng.integers(-1, N, size=(N - 5, WIDTH)).astype(np.int32)
    shared = SharedServing("v", items, {}, {}, similar=(similar_idx, np.ones_like(similar_idx)))
    codes = {}
    categories = np.array(
        [codes.setdefault(it["category"], len(codes)) if it["category"] else -1 for it in items]
    )
    history = rng.choice(N, 25, replace=False)  # more than ANCHORS: the rest are not named
    recs = np.concatenate([history[:3], rng.choice(N, 30)])  # some recs are anchors too
    anchors = [(int(a), "liked") for a in history[:20]]
    why = anchor_positions(recs, history, similar_idx, categories)
    for index, place in zip(recs.tolist(), why.tolist(), strict=True):
        found = reference(shared, anchors, index)
        assert place == (NO_ANCHOR if found is None else anchors.index(found))


def test_a_personal_pick_takes_its_published_anchor_unless_live_events_lead():
    items = [item(f"p{i}", category="C") for i in range(N)]
    shared = SharedServing("v", items, {}, {})
    recs = np.array([7, 8, 9], np.uint32)
    picks = [Pick(i, 1.0, "personal") for i in (7, 8, 9)]

    def session_with(why: bytes, anchors: list[tuple[int, str]], published: bool) -> Session:
        context = CustomerContext("c", recs=(recs, np.ones(3, np.float32)), why=why)
        session = Session(shared, _build(shared), context, False, 0.0, "")
        session.anchors, session.published_anchors = anchors, published
        return session

    liked = [(3, "liked"), (4, "liked")]
    reasons = reasons_for(session_with(bytes([1, 255, 0]), liked, True), picks)
    assert reasons[0] == "because you liked Title p4"
    assert not reasons[1].startswith("because")
    assert reasons[2] == "because you liked Title p3"
    # worked out here (same category: the first anchor) when the version published none,
    # or anchors that do not fit these recs (wrong length)
    for why in (b"", bytes([1])):
        assert (
            reasons_for(session_with(why, liked, True), picks) == ["because you liked Title p3"] * 3
        )
    # a position past the anchors names nothing rather than failing
    beyond = reasons_for(session_with(bytes([7, 7, 7]), liked, True), picks)
    assert not any(r.startswith("because") for r in beyond)
    # a live view leads the anchors: the published positions no longer apply
    fresh = session_with(bytes([1, 255, 0]), [(5, "viewed"), *liked], False)
    assert reasons_for(fresh, picks) == ["because you viewed Title p5"] * 3


def test_scores_are_rounded_as_round_to_six_places_would():
    rng = np.random.default_rng(3)
    values = np.concatenate([rng.random(20_000), rng.random(2_000) * 1e4, [0.0, 1.0]])
    for value in values.tolist():
        assert rounded(value) == round(value, 6)
    # an exact tie may go either way (round() goes to even), still six places at most
    assert rounded(0.5e-6) in (0.0, 1e-6)


def test_a_repeated_rec_keeps_the_anchor_published_with_its_first_listing():
    items = [item(f"p{i}", category="C") for i in range(N)]
    shared = SharedServing("v", items, {}, {})
    recs = np.array([7, 8, 7], np.uint32)
    context = CustomerContext("c", recs=(recs, np.ones(3, np.float32)), why=bytes([1, 255, 0]))
    session = Session(shared, _build(shared), context, False, 0.0, "")
    session.anchors, session.published_anchors = [(3, "liked"), (4, "liked")], True
    (reason,) = reasons_for(session, [Pick(7, 1.0, "personal")])
    assert reason == "because you liked Title p4"
