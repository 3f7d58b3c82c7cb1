"""Rules page: the business rules in force per channel and placement (resolved as answers
resolve them, `RuleBook.resolve`), the files they come from, and whether the last reload of
the rules directory was refused (`api.services.business_rules_watch`)."""

from __future__ import annotations

from typing import Any

import yaml

from api.deps import AppParts
from contracts.schema import CHANNELS
from recsys.business_rules import Cap, Rules

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


def rules_page(parts: AppParts) -> dict[str, Any]:
    watcher = parts.rules
    book = watcher.current()
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
    return {
        "problems": [],
        "directory": str(watcher.directory),
        "last_error": watcher.last_error,
        "rows": rows,
        "files": files,
    }
