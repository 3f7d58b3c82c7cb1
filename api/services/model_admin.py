"""Models for the dashboard: the registry on disk (`DATA/models`), the serving versions
publishing keeps in Redis, and switching which one serves.

A switch is the publish's own atomic pointer switch (`store.versions.Versions.activate`) to
a serving version already written: instant, and what the API serves from its next refresh
(this process refreshes at once). The registry's active pointer follows, so `touchpoint
models list` agrees and a later `touchpoint models rollback` knows the way back.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from redis.exceptions import RedisError

from contracts.errors import NotFound, Unavailable
from recsys.errors import RegistryError
from recsys.registry import Registry
from store.client import sync_client
from store.serving import ARTIFACT
from store.versions import Versions

SHOWN_METRICS = ("ndcg", "recall", "precision", "map", "hit_rate", "coverage", "novelty")
SERVED = "served_"  # the list the product serves (rules, exclusions) beside the raw top-k

_registry_cache: dict[str, tuple[tuple[Any, ...], list[dict[str, Any]]]] = {}
_lock = threading.Lock()


def registry_of(data_dir: Path) -> Registry:
    return Registry(Path(data_dir) / "models")  # where `touchpoint train` saves (jobs.modelops)


def _summary(meta: dict[str, Any]) -> dict[str, Any]:
    metrics = meta.get("metrics") or {}
    validation, popularity = metrics.get("validation") or {}, metrics.get("popularity") or {}

    def pick(source: dict[str, Any], name: str) -> Any:
        return source.get(SERVED + name, source.get(name))

    return {
        "version": meta.get("version"),
        "model": meta.get("model"),
        "label": meta.get("label") or meta.get("model"),
        "created_at": meta.get("created_at"),
        "customers": meta.get("n_customers"),
        "catalogue_items": meta.get("n_items_catalogue", meta.get("n_items")),
        "training_seconds": meta.get("training_seconds"),
        "active": bool(meta.get("active")),
        "metrics": [
            {"name": m, "model": pick(validation, m), "popularity": pick(popularity, m)}
            for m in SHOWN_METRICS
        ],
    }


def _list(data_dir: Path) -> list[dict[str, Any]]:
    registry = registry_of(data_dir)
    root = registry.root
    stamp = tuple(
        (p.name, p.stat().st_mtime_ns)
        for p in (root / "active.json", registry.versions_dir)
        if p.exists()
    )
    with _lock:
        hit = _registry_cache.get(str(root))
        if hit is not None and hit[0] == stamp:
            active = registry.active()
            return [{**row, "active": row["version"] == active} for row in hit[1]]
        try:
            rows = [_summary(meta) for meta in registry.list()]
        except (RegistryError, OSError):
            rows = []
        _registry_cache[str(root)] = (stamp, rows)
        return rows


async def registry_models(data_dir: Path) -> list[dict[str, Any]]:
    """Every saved model, newest first, with served offline metrics beside popularity."""
    rows = await asyncio.to_thread(_list, data_dir)
    return sorted(rows, key=lambda r: str(r["version"]), reverse=True)


def _switch(url: str, config: Any, version: str, data_dir: Path) -> dict[str, Any]:
    client = sync_client(url, timeout=5.0)
    try:
        versions = Versions(client, config)
        meta = versions.meta(ARTIFACT, version)
        if meta is None:
            raise NotFound(f"no serving version {version!r} is kept (expired?)")
        previous = versions.activate(ARTIFACT, version)
    finally:
        client.close()
    model_version = meta.get("model_version")
    registry = registry_of(data_dir)
    if model_version and model_version in registry.versions():
        registry.activate(str(model_version))
    return {"serving_version": version, "previous": previous, "model_version": model_version}


async def activate_serving(state: Any, version: str) -> dict[str, Any]:
    """Make a kept serving version live (and its model the registry's active one)."""
    url = state.endpoint.url
    if url is None:
        raise Unavailable("Redis is not connected")
    try:
        done = await asyncio.to_thread(_switch, url, state.settings, version,
                                       state.settings.data_dir)  # fmt: skip
    except (RedisError, OSError) as exc:
        state.mark_unavailable(exc)
        raise Unavailable(f"the switch could not be made: {exc}") from None
    await state.refresh()
    return done


async def serving_versions(state: Any) -> list[dict[str, Any]]:
    """Serving versions publishing keeps, most recently made live first (the live one
    marked; the next one is where a rollback goes)."""
    if state.reader is None:
        raise Unavailable("Redis is not connected")
    try:
        history = await state.reader.history()
        live = await state.reader.live_version()
    except (RedisError, OSError) as exc:
        state.mark_unavailable(exc)
        raise Unavailable("the published versions cannot be read") from None
    return [{**meta, "live": meta.get("version") == live} for meta in history]


def previous_version(versions: list[dict[str, Any]]) -> str | None:
    """The complete version just before the live one (what a rollback switches to)."""
    live_seen = False
    for meta in versions:
        if meta.get("live"):
            live_seen = True
        elif live_seen and meta.get("status") == "complete":
            return str(meta["version"])
    return None
