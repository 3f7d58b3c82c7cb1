"""Segments page: the live catalogue with sizes, size history (sparklines), entries and exits
of the last run (the segment store the `/v1/segments` routes read), and the RFM grid and
lifecycle funnel of the last segmentation (`api.services.batch_facts`)."""

from __future__ import annotations

import asyncio
from typing import Any

from api.deps import AppParts
from api.services import batch_facts
from api.ui.views import Parts
from store.segments import SegmentReader

HISTORY_SHOWN = 30  # runs in a sparkline


def shade(value: float, top: float) -> float:
    """A heatmap cell's opacity in [0.05, 1]: its share of the largest cell."""
    return 0.05 if top <= 0 else round(0.05 + 0.95 * value / top, 3)


def heatmap(counts: list[list[int]], revenue: list[list[float]]) -> list[list[dict[str, Any]]]:
    top = max((n for row in counts for n in row), default=0)
    return [
        [{"customers": n, "revenue": revenue[r][f], "shade": shade(n, top)}
         for f, n in enumerate(row)]
        for r, row in enumerate(counts)
    ]  # fmt: skip


def funnel(stages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    top = max((s["customers"] for s in stages), default=0) or 1
    return [{**s, "width": round(100 * s["customers"] / top, 1)} for s in stages]


async def _catalogue(reader: SegmentReader) -> dict[str, Any]:
    version = await reader.live_version()
    if version is None:
        return {"version": None, "rows": [], "meta": None}
    meta, catalogue, history = await asyncio.gather(
        reader.meta(version), reader.catalogue(version), reader.size_history()
    )
    deltas = await asyncio.gather(*(reader.delta(version, r["name"]) for r in catalogue or []))
    runs = list(reversed(history[:HISTORY_SHOWN]))  # oldest first
    rows = []
    for row, delta in zip(catalogue or [], deltas, strict=True):
        sizes = [run["sizes"].get(row["name"]) for run in runs]
        rows.append({
            **row,
            "entered": len(delta[0]) if delta else None,
            "exited": len(delta[1]) if delta else None,
            "spark": {"x": list(range(len(sizes))), "series": {"size": sizes}}
            if len(sizes) > 1 else None,
        })  # fmt: skip
    return {"version": version, "rows": rows, "meta": meta}


async def segments_page(parts: AppParts) -> dict[str, Any]:
    state, found = parts.serving, Parts()
    live: dict[str, Any] | None = None
    if state.client is not None:
        live = await found.get("segments", _catalogue(SegmentReader(state.client, state.keys)))
    facts = await batch_facts.segment_facts(parts.settings.data_dir)
    families: dict[str, list[dict[str, Any]]] = {}
    for row in (live or {}).get("rows", []):
        families.setdefault(row.get("family") or "other", []).append(row)
    return {
        "problems": found.problems,
        "version": (live or {}).get("version"),
        "meta": (live or {}).get("meta"),
        "families": families,
        "rfm": heatmap(facts["rfm_counts"], facts["rfm_revenue"]) if facts else None,
        "funnel": funnel(facts["lifecycle"]) if facts else None,
    }
