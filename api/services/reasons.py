"""A short, human-readable reason per item, from where it came and the customer's history.

"because you bought Espresso Machine" (an anchor in the customer's history whose similar
items, or failing that whose category, include the item), "popular with Champions" (the
customer's segment list), "new in Electronics" (recently launched), "popular on email"…
"""

from __future__ import annotations

from typing import Any

import numpy as np

from api.services.session import Session
from recsys.ranking import Pick

PERSONAL = frozenset({"personal", "fresh", "value"})


def _lookups(session: Session) -> tuple[dict[int, tuple[int, str]], dict[str, tuple[int, str]]]:
    """Once per session: for each similar item of an anchor, its first anchor; for each
    category, its first anchor (anchors are ordered most recent / strongest first)."""
    found = session.explained.get("anchors")
    if found is not None:
        return found  # type: ignore[no-any-return]
    shared = session.shared
    assert shared is not None
    by_similar: dict[int, tuple[int, str]] = {}
    if shared.similar is not None and session.anchors:
        pairs = [pair for pair in session.anchors if pair[0] < len(shared.similar[0])]
        if pairs:
            rows = np.asarray(shared.similar[0])[[a for a, _ in pairs]]
            neighbours, first = np.unique(rows.ravel(), return_index=True)
            width = rows.shape[1] if rows.ndim == 2 else 1
            by_similar = {
                int(n): pairs[int(f) // width]
                for n, f in zip(neighbours.tolist(), first.tolist(), strict=True)
            }
    by_category: dict[str, tuple[int, str]] = {}
    for pair in session.anchors:
        category = shared.items[pair[0]].get("category")
        if category:
            by_category.setdefault(category, pair)
    session.explained["anchors"] = found = (by_similar, by_category)
    return found


def _anchor(session: Session, index: int, item: dict[str, Any]) -> str | None:
    """The history item that best explains `index`: the first anchor (most recent or
    strongest) listing it among its similar items, else the first in its category."""
    shared = session.shared
    assert shared is not None
    if not session.anchors:
        return None
    by_similar, by_category = _lookups(session)
    found = by_similar.get(index)
    if found is None:
        category = item.get("category")
        found = by_category.get(category) if category else None
    if found is None or found[0] == index:
        return None
    return f"because you {found[1]} {shared.items[found[0]].get('title')}"


def reason_for(session: Session, pick: Pick, item: dict[str, Any]) -> str:
    source = pick.source
    category = item.get("category") or "our range"
    kind = item.get("kind")
    cat = session.cat
    if source == "pinned":
        return "featured"
    if source == "similar":
        return "similar to what you are looking at"
    if kind == "reward":
        return f"yours for {item.get('points_cost', 0)} points"
    if source in PERSONAL:
        found = _anchor(session, pick.index, item)
        if found:
            return found
        if source == "fresh":
            return "based on what you just looked at"
        if source == "value" and session.segment:
            return f"popular with {session.segment}"
        if cat is not None and cat.is_new(item):
            return f"new in {category}"
        return f"picked for you in {category}"
    if cat is not None and cat.is_new(item):
        return f"new in {category}"
    if source.startswith("segment:"):
        return f"popular with {source.split(':', 1)[1]}"
    if source.startswith("catalogue:"):
        return f"from our {category} range"
    if source.startswith("channel:"):
        return f"popular on {source.split(':', 1)[1]}"
    return f"popular in {category}"
