"""Turn ranked candidates into the items a customer may see: eligibility, exclusions, top k.

Pure Python and numpy over the published item table, so it runs on the request path.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Eligibility:
    """Which items may be shown in one answer."""

    kind: str | None = "product"
    channel: str | None = None
    category: str | None = None
    now_iso: str | None = None
    exclude: frozenset[int] = field(default_factory=frozenset)


def is_eligible(item: dict[str, Any], rule: Eligibility) -> bool:
    if rule.kind is not None and item.get("kind") != rule.kind:
        return False
    if rule.category is not None and item.get("category") != rule.category:
        return False
    if not item.get("in_stock", True):
        return False
    channels = item.get("channels") or []
    if rule.channel is not None and channels and rule.channel not in channels:
        return False
    if rule.now_iso is not None:
        start, end = item.get("active_from"), item.get("active_to")
        if start and rule.now_iso < start:
            return False
        if end and rule.now_iso > end:
            return False
    return True


def select(
    items: Sequence[dict[str, Any]],
    sources: Iterable[tuple[str, NDArray[np.integer], NDArray[np.floating]]],
    rule: Eligibility,
    k: int,
) -> list[tuple[int, float, str]]:
    """The first `k` eligible, distinct items across ranked sources, tried in order.

    Returns `(item index, score, source name)`; later sources (popular lists) fill what the
    earlier (personal) ones could not, so an answer is never empty while items exist.
    """
    chosen: list[tuple[int, float, str]] = []
    seen: set[int] = set(rule.exclude)
    for name, indices, scores in sources:
        for index, score in zip(indices.tolist(), scores.tolist(), strict=True):
            if index in seen or index >= len(items):
                continue
            seen.add(index)
            if is_eligible(items[index], rule):
                chosen.append((index, float(score), name))
                if len(chosen) == k:
                    return chosen
    return chosen
