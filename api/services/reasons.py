"""A short, human-readable reason per item, from where it came and the customer's history.

"because you bought Espresso Machine" (an anchor in the customer's history whose similar
items, or failing that whose category, include the item), "popular with Champions" (the
customer's segment list), "new in Electronics" (recently launched), "popular on email"…
The anchors of published recommendations come worked out by the batch (`recsys.explain`,
the same rule); `anchor_of` applies the rule here when live events lead the anchors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from api.services.session import Session
from recsys.ranking import Pick

PERSONAL = frozenset({"personal", "fresh", "value"})
Similar = tuple[list[tuple[int, str]], list[frozenset[int]]]  # anchors and their similar items


def _similar(session: Session) -> Similar:
    """The anchors with published similar items, best first, and those items as sets (made
    once per session, on first use)."""
    found: Similar | None = session.explained.get("similar")
    if found is None:
        shared, cat = session.shared, session.cat
        assert shared is not None and cat is not None
        found = [], []
        if shared.similar is not None:
            similar = shared.similar[0]
            pairs = [pair for pair in session.anchors if pair[0] < len(similar)]
            found = pairs, cat.similar_sets(similar, [anchor for anchor, _ in pairs])
        session.explained["similar"] = found
    return found


def _by_category(session: Session) -> dict[str, tuple[int, str]]:
    """The first anchor of each category (made once per session, when first needed)."""
    found: dict[str, tuple[int, str]] | None = session.explained.get("categories")
    if found is None:
        assert session.shared is not None
        items = session.shared.items
        found = session.explained["categories"] = {}
        for pair in session.anchors:
            category = items[pair[0]].get("category")
            if category:
                found.setdefault(category, pair)
    return found


def anchor_of(session: Session, index: int) -> tuple[int, str] | None:
    """The history item that best explains `index`, with its verb: the first anchor (most
    recent or strongest) listing it among its similar items, else the first anchor in its
    category; never the item itself. Set membership over the version's cached similar-item
    sets: with ~20 anchors and ~10 items, a numpy broadcast measured 53 us a list, this 23."""
    if not session.anchors:
        return None
    pairs, sets = _similar(session)
    hit = None
    for pair, neighbours in zip(pairs, sets, strict=True):
        if index in neighbours:
            hit = pair
            break
    else:
        assert session.shared is not None
        category = session.shared.items[index].get("category")
        hit = _by_category(session).get(category) if category else None
    return None if hit is None or hit[0] == index else hit


def _published(session: Session) -> tuple[list[int], bytes] | None:
    """The published recs and each one's anchor position as the batch worked it out
    (`recsys.explain`), or None when live events put other anchors first or the version
    published none. (A list searched per pick: picks come off the top of the recs.)"""
    if not session.published_anchors:
        return None
    found: tuple[list[int], bytes] | None = session.explained.get("published")
    if found is None:
        recs, why = session.ctx.recs[0], session.ctx.why
        if len(why) != len(recs):
            return None
        found = session.explained["published"] = (recs.tolist(), why)
    return found


def reasons_for(session: Session, picks: Sequence[Pick]) -> list[str]:
    """One reason per pick: a personal pick's anchor as published, else worked out here."""
    shared, cat = session.shared, session.cat
    assert shared is not None and cat is not None
    items = shared.items
    out = []
    for pick in picks:
        source, item = pick.source, items[pick.index]
        if source in PERSONAL and item.get("kind") != "reward":
            published = _published(session) if source == "personal" else None
            if published is not None and pick.index in published[0]:
                place = published[1][published[0].index(pick.index)]  # NO_ANCHOR: 255
                found = session.anchors[place] if place < len(session.anchors) else None
            else:
                found = anchor_of(session, pick.index)
            if found is not None:
                out.append(f"because you {found[1]} {items[found[0]].get('title')}")
                continue
        out.append(_plain_reason(session, pick, item, cat.new[pick.index]))
    return out


def _plain_reason(session: Session, pick: Pick, item: dict[str, Any], new: bool) -> str:
    """The reason of an item no anchor explains: from its source, kind and freshness."""
    source = pick.source
    category = item.get("category") or "our range"
    if source == "pinned":
        return "featured"
    if source == "similar":
        return "similar to what you are looking at"
    if item.get("kind") == "reward":
        return f"yours for {item.get('points_cost', 0)} points"
    if source in PERSONAL:
        if source == "fresh":
            return "based on what you just looked at"
        if source == "value" and session.segment:
            return f"popular with {session.segment}"
        if new:
            return f"new in {category}"
        return f"picked for you in {category}"
    if new:
        return f"new in {category}"
    if source.startswith("segment:"):  # the customer's segment's list (of this kind or all)
        return f"popular with {session.segment}"
    if source.startswith("catalogue:"):
        return f"from our {category} range"
    if source.startswith("channel:"):
        return f"popular on {source.split(':', 1)[1]}"
    return f"popular in {category}"
