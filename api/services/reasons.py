"""A short, human-readable reason per item, from where it came and the customer's history.

"because you bought Espresso Machine" (an anchor in the customer's history whose similar
items, or failing that whose category, include the item), "popular with Champions" (the
customer's segment list), "new in Electronics" (recently launched), "popular on email"…
"""

from __future__ import annotations

from typing import Any

from api.services.session import Session
from recsys.ranking import Pick

PERSONAL = frozenset({"personal", "fresh", "value"})


def _explained(session: Session) -> dict[Any, tuple[int, str]]:
    """Similar-item index -> its anchor, and ("category", name) -> anchor; best anchor wins."""
    if session.explained is None:
        shared = session.shared
        assert shared is not None
        table: dict[Any, tuple[int, str]] = {}
        sim_idx = shared.similar[0] if shared.similar is not None else None
        for anchor, verb in session.anchors:
            if sim_idx is not None and anchor < len(sim_idx):
                for neighbour in sim_idx[anchor].tolist():
                    table.setdefault(neighbour, (anchor, verb))
        for anchor, verb in session.anchors:
            category = shared.items[anchor].get("category")
            if category:
                table.setdefault(("category", category), (anchor, verb))
        session.explained = table
    return session.explained


def _anchor(session: Session, index: int, item: dict[str, Any]) -> str | None:
    """The history item that best explains `index`: similar first, then same category."""
    assert session.shared is not None
    table = _explained(session)
    found = table.get(index) or table.get(("category", item.get("category")))
    if found is None or found[0] == index:
        return None
    anchor, verb = found
    return f"because you {verb} {session.shared.items[anchor].get('title')}"


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
    if source.startswith("channel:"):
        return f"popular on {source.split(':', 1)[1]}"
    return f"popular in {category}"
