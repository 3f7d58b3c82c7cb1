"""Rules page: the business rules in force per channel and placement (resolved as answers
resolve them, `RuleBook.resolve`), the files they come from, whether the last reload of
the rules directory was refused (`api.services.business_rules_watch`), and how much of each
offer's redemption budget is used."""

from __future__ import annotations

from typing import Any

import yaml

from api.deps import AppParts
from api.ui.views import Parts
from contracts.schema import CHANNELS
from recsys.business_rules import Cap, RuleBook, Rules
from store.counters import decode_redeemed, redeemed_key

ELIGIBILITY = ("in_stock", "active_window", "target_segments", "min_tier", "consent")


def _cap(cap: Cap | None) -> str:
    return "–" if cap is None else f"{cap.max} in {cap.days} d"


def summary(where: str, rules: Rules) -> dict[str, Any]:
    eligibility = {name: getattr(rules, name) for name in ELIGIBILITY}
    return {
        "where": where,
        "source": rules.source,
        "eligibility": [k for k, on in eligibility.items() if on],
        "off": [k for k, on in eligibility.items() if not on],
        "exclude_consumed": rules.exclude_consumed,
        "exclude_dismissed": rules.exclude_dismissed,
        "exclude_shown": _cap(rules.exclude_shown),
        "item_cap": _cap(rules.item_cap),
        "channel_caps": {kind: _cap(cap) for kind, cap in rules.channel_caps.items()},
        "max_per_category": rules.max_per_category,
        "boosts": [{k: v for k, v in vars(b).items() if v is not None} for b in rules.boosts],
        "pins": [{"item_id": p.item_id, "position": p.position} for p in rules.pins],
    }


async def budgets(parts: AppParts) -> list[dict[str, Any]]:
    """Offers with a redemption budget in the live item table: redeemed so far and what is
    left (the counts serving reads, `store.counters`)."""
    state = parts.serving
    offers = [i for i in (state.shared.items if state.shared else [])
              if i.get("kind") == "offer" and (i.get("budget") or -1) >= 0]  # fmt: skip
    if not offers or state.client is None:
        return []
    raw: Any = await state.client.hgetall(redeemed_key(state.keys))
    redeemed = decode_redeemed(raw)
    rows = []
    for offer in offers:
        used, budget = redeemed.get(offer["item_id"], 0), int(offer["budget"])
        rows.append({"item_id": offer["item_id"], "title": offer.get("title"), "used": used,
                     "budget": budget, "left": max(0, budget - used),
                     "share": min(1.0, used / budget) if budget else 1.0})  # fmt: skip
    return sorted(rows, key=lambda r: -r["share"])


_described: dict[int, tuple[RuleBook, dict[str, Any]]] = {}


def describe(book: RuleBook) -> dict[str, Any]:
    """Resolved rules per channel and placement and the files' text: once per rule book
    (a reload makes a new book)."""
    found = _described.get(id(book))
    if found is not None and found[0] is book:
        return found[1]
    placements = sorted(s for s in book.files if "." in s)
    rows = [summary("every channel (default)", book.resolve(None))]
    rows += [summary(channel, book.resolve(channel)) for channel in CHANNELS]
    for stem in placements:
        channel, _, placement = stem.partition(".")
        rows.append(summary(f"{channel} · {placement}", book.resolve(channel, placement)))
    files = [{"name": f"{stem}.yaml", "text": yaml.safe_dump(data, sort_keys=False)}
             for stem, data in sorted(book.files.items())]  # fmt: skip
    files += [{"name": f"profiles/{name}.yaml", "text": yaml.safe_dump(data, sort_keys=False)}
              for name, data in sorted(book.profiles.items())]  # fmt: skip
    _described.clear()  # only the book in force is kept
    _described[id(book)] = (book, {"rows": rows, "files": files})
    return _described[id(book)][1]


async def rules_page(parts: AppParts) -> dict[str, Any]:
    found = Parts()
    offer_budgets = await found.get("offer budgets", budgets(parts)) or []
    watcher = parts.rules
    book = watcher.current()  # first: a due reload sets `last_error`
    return {
        "problems": found.problems,
        "budgets": offer_budgets,
        "directory": str(watcher.directory),
        "last_error": watcher.last_error,
        **describe(book),
    }
