"""CX insights for the API: the batch's published documents, filtered per request.

Documents are immutable per version, so each replica keeps the parsed ones it served last
(`DocumentCache`, keyed by version and name) and re-reads the live pointer at most every
`refresh_seconds`: a request is a filter over rows already in memory, no round trip.
Nothing published yet is not an error: the answer is empty and carries a hint to run the
job. Bad parameters raise `InvalidInput` with the `pointer` of the query field (422).
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections import OrderedDict
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

import orjson
from redis.exceptions import RedisError

from api.problems import Invalid, Unavailable
from api.state import ServingState
from insights.build import document_name
from insights.followup import SentimentScorer
from insights.scores import DIMENSIONS, PERIODS
from insights.stats import METRICS
from store.insights import InsightsReader
from store.segments import SegmentReader

HINT = "nothing published yet: run `touchpoint insights --data DIR` (or `touchpoint run`)"
CACHE_DOCUMENTS = 64
T = TypeVar("T")


class PeriodIndex:
    """A score table's rows sorted by period start, for windows by bisection, each row also
    JSON-encoded once: an answer splices them in instead of serialising them again."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.original = rows
        self.encoded_original = [orjson.dumps(r) for r in rows]
        order = sorted(range(len(rows)), key=lambda i: str(rows[i].get("period", "")))
        self.rows = [rows[i] for i in order]
        self.encoded = [self.encoded_original[i] for i in order]
        self.periods = [str(r.get("period", ""))[:10] for r in self.rows]

    def window(self, start: date | None, end: date | None) -> slice:
        first = bisect.bisect_left(self.periods, start.isoformat()) if start else 0
        last = bisect.bisect_right(self.periods, end.isoformat()) if end else len(self.rows)
        return slice(first, last)


@dataclass(frozen=True)
class RowsAnswer:
    """A JSON object whose `rows` are already encoded."""

    head: dict[str, Any]
    rows: list[bytes]

    def body(self) -> bytes:
        return orjson.dumps(self.head)[:-1] + b',"rows":[' + b",".join(self.rows) + b"]}"


class DocumentCache:
    """The parsed documents of recent versions, least recently used dropped first."""

    def __init__(self, size: int = CACHE_DOCUMENTS, live_seconds: float | None = None) -> None:
        self.size = size
        self.live_seconds = live_seconds  # None: the settings' `refresh_seconds`
        self._docs: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._indexes: dict[tuple[str, str], PeriodIndex] = {}
        self._built: dict[str, str | None] = {}
        self._models: dict[str, Any] = {}
        self._live: str | None = None
        self._checked = -float("inf")

    async def live_version(self, reader: InsightsReader, seconds: float) -> str | None:
        """The live version, re-read at most every `seconds` (like the serving version:
        a new one is seen within the polling period, and a request costs no round trip)."""
        now = time.monotonic()
        if now - self._checked >= seconds:
            self._live, self._checked = await redis_call(reader.live_version()), now
        return self._live

    def indexed(self, version: str, name: str, doc: Any) -> PeriodIndex:
        key = (version, name)
        if key not in self._indexes:
            if len(self._indexes) >= self.size:
                self._indexes.clear()
            self._indexes[key] = PeriodIndex(_rows(doc))
        return self._indexes[key]

    async def built_at(self, reader: InsightsReader, version: str) -> str | None:
        if version not in self._built:
            meta = await redis_call(reader.meta(version)) or {}
            self._built = {version: meta.get("built_at")}
        return self._built[version]

    async def get(self, reader: InsightsReader, version: str, name: str) -> Any | None:
        key = (version, name)
        if key in self._docs:
            self._docs.move_to_end(key)
            return self._docs[key]
        raw = await redis_call(reader.document(version, name))
        doc = orjson.loads(raw) if raw is not None else None
        self._docs[key] = doc
        while len(self._docs) > self.size:
            self._docs.popitem(last=False)
        return doc

    async def model(self, reader: InsightsReader, version: str) -> Any | None:
        """The live version's sentiment model, loaded once per version (None: none trained)."""
        if version not in self._models:
            from insights.sentiment import SentimentModel  # scikit-learn: only when asked

            raw = await redis_call(reader.sentiment_model(version))
            loaded = None
            if raw is not None:
                loaded = await asyncio.to_thread(SentimentModel.from_bytes, raw)
            self._models = {version: loaded}  # one version at a time: models are megabytes
        return self._models[version]


CACHE = DocumentCache()


async def redis_call(call: Awaitable[T]) -> T:
    """Await a read; Redis out of reach is `Unavailable` (503), not a 500."""
    try:
        return await call
    except (RedisError, OSError) as exc:
        raise Unavailable(f"insights could not be read from Redis: {exc}") from None


def reader_of(state: ServingState) -> InsightsReader:
    if state.client is None:
        raise Unavailable("Redis is not connected")
    return InsightsReader(state.client, state.keys)


async def live(state: ServingState) -> tuple[InsightsReader, str | None]:
    reader = reader_of(state)
    every = CACHE.live_seconds
    return reader, await CACHE.live_version(
        reader, state.settings.refresh_seconds if every is None else every
    )


def check_metric(name: str) -> str:
    if name not in METRICS:
        raise Invalid(f"unknown metric {name!r}; one of {', '.join(METRICS)}", pointer="metric")
    return name


def parse_by(text: str) -> tuple[str, ...]:
    by = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [b for b in by if b not in DIMENSIONS]
    if unknown or len(by) > 2 or len(set(by)) < len(by):
        raise Invalid(f"by must be at most two distinct names of {', '.join(DIMENSIONS)}, "
                      f"comma-separated; got {text!r}", pointer="by")  # fmt: skip
    return by


def check_period(period: str | None) -> str | None:
    if period in (None, "", "none"):
        return None
    if period not in PERIODS:
        raise Invalid(f"unknown period {period!r}; one of none, {', '.join(PERIODS)}",
                      pointer="period")  # fmt: skip
    return period


def check_dates(start: date | None, end: date | None) -> None:
    if start is not None and end is not None and start > end:
        raise Invalid(f"from ({start}) is after to ({end})", pointer="from")


def empty(**fields: Any) -> dict[str, Any]:
    return {"version": None, **fields, "hint": HINT}


async def scores(
    state: ServingState,
    *,
    metric: str,
    by: str,
    period: str | None,
    start: date | None,
    end: date | None,
    segment: str | None,
) -> RowsAnswer:
    """One score table: every cell with n, value, interval, insufficiency and its flags."""
    check_metric(metric)
    columns = parse_by(by)
    every = check_period(period)
    check_dates(start, end)
    reader, version = await live(state)
    if segment is not None:
        await check_segment(state, segment)
        if "segment" not in columns:
            columns = (*columns, "segment")
    shown = {"metric": metric, "by": list(columns), "period": every or "none"}
    if version is None:
        return RowsAnswer(empty(**shown), [])
    doc = await CACHE.get(reader, version, document_name(metric, columns, every))
    if doc is None:
        raise Invalid(f"scores by {', '.join(columns) or 'nothing'} and period "
                      f"{every or 'none'} are not computed by the batch "
                      f"(two-way: stage with segment)",
                      pointer="segment" if segment is not None else "by")  # fmt: skip
    table = CACHE.indexed(version, document_name(metric, columns, every), doc)
    if every is not None and (start is not None or end is not None):
        part = table.window(start, end)
        rows, encoded = table.rows[part], table.encoded[part]
    else:
        rows, encoded = table.original, table.encoded_original
    if segment is not None:
        encoded = [e for r, e in zip(rows, encoded, strict=True) if r.get("segment") == segment]
    built_at = await CACHE.built_at(reader, version)
    return RowsAnswer({"version": version, "built_at": built_at, **shown}, encoded)


async def check_segment(state: ServingState, segment: str) -> None:
    """A segment filter must name a published segment (422 on `segment` otherwise)."""
    assert state.client is not None
    segments = SegmentReader(state.client, state.keys)
    current = await redis_call(segments.live_version())
    catalogue = await redis_call(segments.catalogue(current)) if current else None
    names = {str(row.get("name")) for row in catalogue or []}
    if segment not in names:
        raise Invalid(f"unknown segment {segment!r}: not in the published segments "
                      "(GET /v1/segments)", pointer="segment")  # fmt: skip


async def document(state: ServingState, name: str, **shown: Any) -> dict[str, Any]:
    """A whole document as published (`drivers/<metric>`, `themes`, `summary`...)."""
    reader, version = await live(state)
    if version is None:
        return empty(**shown, data=None)
    doc = await CACHE.get(reader, version, name)
    out = {"version": version, "built_at": await CACHE.built_at(reader, version), **shown,
           "data": doc}  # fmt: skip
    if doc is None:
        out["hint"] = f"the live insights version has no {name!r} (see its summary notes)"
    return out


async def themes(
    state: ServingState, *, touchpoint: str | None, stage: str | None
) -> dict[str, Any]:
    """The ranked themes; with a touchpoint or stage, those its comments mention."""
    out = await document(state, "themes", touchpoint=touchpoint, stage=stage)
    data = out.pop("data")
    listed = _rows(data) if data is not None else []
    for field, wanted in (("touchpoints", touchpoint), ("stages", stage)):
        if wanted is not None:
            listed = [t for t in listed if _mentions(t.get(field), wanted)]
    return {**out, "themes": listed}


async def score_texts(state: ServingState, texts: Sequence[str]) -> dict[str, Any]:
    """Sentiment in [-1, 1] per text, by the live version's model."""
    reader, version = await live(state)
    if version is None:
        return empty(scores=[])
    model = await CACHE.model(reader, version)
    if model is None:
        return {"version": version, "scores": [],
                "hint": "the live insights version has no sentiment model: too few scored "
                        "comments when it was built"}  # fmt: skip
    values = await asyncio.to_thread(model.score, list(texts))
    return {"version": version, "scores": [round(float(v), 4) for v in values]}


async def live_sentiment_model(state: ServingState) -> SentimentScorer | None:
    """The live version's sentiment model, cached in-process per version (None: nothing
    published, or that version trained none)."""
    reader, version = await live(state)
    if version is None:
        return None
    model: SentimentScorer | None = await CACHE.model(reader, version)
    return model


def _rows(doc: Any) -> list[dict[str, Any]]:
    if isinstance(doc, dict):
        doc = doc.get("rows", doc.get("themes", []))
    return [r for r in doc if isinstance(r, dict)] if isinstance(doc, list) else []


def _mentions(values: Any, wanted: str) -> bool:
    if isinstance(values, dict):
        return bool(values.get(wanted))
    return isinstance(values, list) and wanted in values
