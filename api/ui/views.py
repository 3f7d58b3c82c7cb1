"""What the overview, models and operations pages show, gathered through the services the
JSON API uses (`api.services.*`) and the stores. Each part is fetched on its own: when Redis
is down the parts that need it are missing and the page says why (`Parts.problems`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from redis.exceptions import RedisError

from api.deps import AppParts
from api.services import batch_facts, model_admin
from api.services.experiment_admin import definitions
from api.services.experiment_serving import runtime_for
from contracts.errors import TouchpointError
from contracts.schema import CONVERSION_TYPES, EVENT_TYPES
from store import audit, daily
from store.events import GROUP, STREAMS
from store.segments import ARTIFACT as SEGMENTS
from store.segments import SegmentReader

log = logging.getLogger("touchpoint.ui")
T = TypeVar("T")
REDIS_DOWN = "Redis is unreachable: parts of this page are missing until it is back."


@dataclass
class Parts:
    """Collects the problems met while gathering a page."""

    problems: list[str] = field(default_factory=list)

    async def get(self, what: str, step: Awaitable[T]) -> T | None:
        try:
            return await step
        except (RedisError, OSError) as exc:
            self._note(f"{what}: {REDIS_DOWN}", exc)
        except TouchpointError as exc:
            self._note(f"{what}: {exc}", exc)
        return None

    def _note(self, message: str, exc: Exception) -> None:
        log.warning("dashboard: %s (%s)", message, exc)
        if message not in self.problems:
            self.problems.append(message)


def request_counts(app_parts: AppParts) -> list[dict[str, Any]]:
    """Requests and latency by route since this process started (the Prometheus
    instruments the API keeps), busiest first."""
    totals: dict[str, dict[str, Any]] = {}
    for metric in app_parts.metrics.registry.collect():
        if metric.name == "touchpoint_requests":
            for s in metric.samples:
                if s.name.endswith("_total") and not s.labels["route"].startswith("/ui"):
                    route = s.labels["route"]
                    row = totals.setdefault(route, {"route": route, "requests": 0, "errors": 0})
                    row["requests"] += int(s.value)
                    if s.labels["status"].startswith("5"):
                        row["errors"] += int(s.value)
        if metric.name == "touchpoint_request_seconds":
            buckets: dict[str, list[tuple[float, float]]] = {}
            for s in metric.samples:
                if s.name.endswith("_bucket"):
                    buckets.setdefault(s.labels["route"], []).append((float(s.labels["le"]),
                                                                      s.value))  # fmt: skip
            for route, pairs in buckets.items():
                if route in totals:
                    totals[route]["p95_ms"] = _quantile(pairs, 0.95)
    return sorted(totals.values(), key=lambda r: -r["requests"])


def _quantile(pairs: list[tuple[float, float]], q: float) -> float | None:
    """The upper bound of the bucket holding quantile `q` (cumulative bucket counts)."""
    pairs.sort()
    total = pairs[-1][1] if pairs else 0
    if not total:
        return None
    for bound, count in pairs:
        if count >= q * total:
            return None if bound == float("inf") else bound * 1000
    return None


SERVED_DAYS = 30  # the answers plot
RATE_DAYS = 7  # click-through and conversion over the last week


async def served_daily(client: Any, keys: Any, now: float) -> dict[str, Any]:
    """Answers served per day and channel (plot) and, over the last `RATE_DAYS`, answers,
    attributed clicks and purchases and their rates per answer."""
    days = daily.last_days(SERVED_DAYS, now)
    served = await daily.read_days(client, keys, daily.SERVED, days)
    converted = await daily.read_days(client, keys, daily.CONVERTED, days[-RATE_DAYS:])
    channels = sorted({c for day in served for c in day})
    plot = None
    if channels:
        x = [int(datetime.fromisoformat(d).replace(tzinfo=UTC).timestamp()) for d in days]
        plot = {"x": x, "series": {c: [day.get(c, 0) for day in served] for c in channels}}
    answers = sum(sum(day.values()) for day in served[-RATE_DAYS:])
    kinds = [t for t in EVENT_TYPES if t in CONVERSION_TYPES]  # the funnel's order
    by_type = {t: sum(day.get(t, 0) for day in converted) for t in kinds}
    by_channel = {c: sum(day.get(c, 0) for day in served[-RATE_DAYS:]) for c in channels}
    return {
        "plot": plot,
        "answers": answers,
        "by_channel": by_channel,
        "conversions": [
            {"type": t, "count": n, "rate": n / answers if answers else None}
            for t, n in by_type.items()
        ],
        "days": RATE_DAYS,
    }


async def overview(parts: AppParts) -> dict[str, Any]:
    state, found = parts.serving, Parts()
    shared = state.shared
    versions = await found.get("published versions", model_admin.serving_versions(state)) or []
    live = next((v for v in versions if v.get("live")), None)
    models = await model_admin.registry_models(parts.settings.data_dir)
    active = next((m for m in models if m["active"]), None)
    events = await batch_facts.events_per_day(parts.settings.data_dir)
    segs = await batch_facts.segment_facts(parts.settings.data_dir)
    segments_meta = None
    if state.client is not None:
        reader = SegmentReader(state.client, state.keys)
        seg_live = await found.get("segments", reader.live_version())
        if seg_live:
            segments_meta = await found.get("segments", reader.meta(seg_live))
    defs = await found.get("experiments", definitions(runtime_for(state), force=False)) or {}
    served = None
    if state.client is not None:
        served = await found.get("answers served",
                                 served_daily(state.client, state.keys, time.time()))  # fmt: skip
    from api.ui.cx_view import nps_today  # the CX view builds on this module's `Parts`

    nps = await found.get("NPS", nps_today(parts)) if state.client is not None else None
    plot = None
    if events and events["days"]:
        plot = {"x": events["days"], "series": events["series"]}
    return {
        "problems": found.problems,
        "redis_ok": state.redis_ok,
        "items": len(shared.items) if shared else None,
        "customers": segs["customers"] if segs else None,
        "events_total": events["total"] if events else None,
        "serving": live or ({"version": shared.version} if shared else None),
        "model": shared.model if shared else None,
        "active_model": active,
        "segments": segments_meta,
        "running_experiments": sum(1 for e in defs.values() if e.status == "running"),
        "experiments": len(defs),
        "events_plot": plot,
        "served": served,
        "requests": request_counts(parts)[:8],
        "nps": nps,
    }


async def models_page(parts: AppParts) -> dict[str, Any]:
    found = Parts()
    versions = await found.get("published versions",
                               model_admin.serving_versions(parts.serving)) or []  # fmt: skip
    registry = await model_admin.registry_models(parts.settings.data_dir)
    by_model = {str(v.get("model_version")): v for v in versions if v.get("model_version")}
    for row in registry:
        kept = by_model.get(str(row["version"]))
        row["serving_version"] = kept.get("version") if kept else None
        row["serving_live"] = bool(kept and kept.get("live"))
    return {
        "problems": found.problems,
        "registry": registry,
        "versions": versions,
        "rollback_to": model_admin.previous_version(versions),
        "metric_names": model_admin.SHOWN_METRICS,
    }


async def _backlog(client: Any, key: str, now: float) -> dict[str, Any]:
    """Entries waiting for `touchpoint ingest` and how old the oldest of them is (its
    stream id is its arrival time): the ingest lag."""
    length = int(await client.xlen(key))
    pending = lag = None
    start = "-"  # the oldest entry not yet acknowledged
    try:
        for group in await client.xinfo_groups(key):
            name = group["name"].decode() if isinstance(group["name"], bytes) else group["name"]
            if name == GROUP:
                pending, lag = int(group["pending"]), group.get("lag")
                last = group.get("last-delivered-id")
                if not pending and last:
                    start = "(" + (last.decode() if isinstance(last, bytes) else str(last))
    except RedisError:  # no stream yet
        pass
    waiting = length if pending is None else pending + int(lag or 0)
    oldest = await client.xrange(key, min=start, max="+", count=1) if waiting else []
    age = None
    if oldest:
        raw_id = oldest[0][0].decode() if isinstance(oldest[0][0], bytes) else oldest[0][0]
        age = max(0.0, now - int(raw_id.split("-")[0]) / 1000)
    return {"length": length, "pending": pending, "waiting": waiting, "oldest_seconds": age}


async def operations(parts: AppParts) -> dict[str, Any]:
    state, found = parts.serving, Parts()
    client = state.client
    memory: dict[str, Any] | None = None
    streams: list[dict[str, Any]] = []
    seg_versions: list[dict[str, Any]] = []
    actions: list[dict[str, Any]] = []
    if client is not None:
        info = await found.get("Redis", client.info("memory"))
        if info:
            memory = {
                k: info.get(k)
                for k in (
                    "used_memory_human",
                    "used_memory_peak_human",
                    "maxmemory_human",
                    "mem_fragmentation_ratio",
                )
            }
        server = await found.get("Redis", client.info("server"))
        if memory is not None and server:
            memory["redis_version"] = server.get("redis_version")
        for stream in STREAMS:
            backlog = await found.get(
                "ingest backlog", _backlog(client, state.keys.stream(stream), time.time())
            )
            if backlog is not None:
                streams.append({"stream": stream, **backlog})
        seg_versions = await found.get("segments", _segment_versions(client, state)) or []
        actions = await found.get("action log", audit.latest_async(client, state.keys, 30)) or []
    versions = await found.get("published versions", model_admin.serving_versions(state)) or []
    return {
        "problems": found.problems,
        "redis_ok": state.redis_ok,
        "memory": memory,
        "streams": streams,
        "serving_versions": versions,
        "segment_versions": seg_versions,
        "requests": request_counts(parts),
        "actions": actions,
        "rules_error": parts.rules.last_error,
    }


async def _segment_versions(client: Any, state: Any) -> list[dict[str, Any]]:
    names = await client.lrange(state.keys.versions(SEGMENTS), 0, -1)
    if not names:
        return []
    metas = await client.mget([state.keys.meta(SEGMENTS, n.decode()) for n in names])
    return [orjson.loads(m) for m in metas if m]
