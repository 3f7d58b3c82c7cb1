"""The `insights` artifact: the batch's JSON documents and the sentiment model, published as
one version (atomic switch; a failed publish leaves the previous version live), and read
by the API.

Per version (data keys, see `store.keys`):
- `doc:NAME` — one JSON document as `insights.build` made it (`scores/nps/touchpoint/week`,
  `journey`, `drivers/nps`, `themes`, `summary`, `journey_map`, ...)
- `index` — JSON list of the document names
- `sentiment_model` — the model's bytes (npz + JSON, `insights.sentiment`), when trained
No pandas here: documents arrive JSON-ready and leave as bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
import redis

from store.config import StoreConfig
from store.keys import Keys
from store.versions import ArtifactReader, Release, Versions

ARTIFACT = "insights"
INDEX = "index"
MODEL = "sentiment_model"
JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def doc_key(name: str) -> str:
    return f"doc:{name}"


def encode(document: Any) -> bytes:
    """JSON bytes; numpy values as numbers, NaN as null, anything else by its text."""
    return orjson.dumps(document, option=JSON_OPTIONS, default=str)


def publish_insights(
    client: redis.Redis,
    config: StoreConfig,
    documents: Mapping[str, Any],
    *,
    sentiment_model: bytes | None = None,
    meta: dict[str, Any] | None = None,
) -> str:
    """Publish the documents (and model) as a new version and make it live; returns it.
    Everything is encoded before the first write, so a document that cannot be encoded
    fails the publish with nothing written."""
    encoded = {name: encode(doc) for name, doc in documents.items()}

    def write(release: Release) -> None:
        for name, body in encoded.items():
            release.set(release.key(doc_key(name)), body)
        release.set(release.key(INDEX), orjson.dumps(sorted(encoded)))
        if sentiment_model is not None:
            release.set(release.key(MODEL), sentiment_model)

    info = {
        **(meta or {}),
        "documents": len(encoded),
        "bytes": sum(len(b) for b in encoded.values()),
        "sentiment_model": sentiment_model is not None,
    }
    return Versions(client, config).publish(ARTIFACT, write, meta=info)


def live_sentiment_model(
    client: redis.Redis, config: StoreConfig
) -> tuple[str | None, bytes | None]:
    """(live version, its sentiment model's bytes) for the CLI; (None, None) when nothing
    is published."""
    keys = Keys(config.namespace)
    version = Versions(client, config).live(ARTIFACT)
    if version is None:
        return None, None
    return version, _bytes(client.get(keys.data(ARTIFACT, version, MODEL)))  # type: ignore[arg-type]


class InsightsReader(ArtifactReader):
    """Async reads for the API; every read names its version (versions never change)."""

    ARTIFACT = ARTIFACT

    async def document(self, version: str, name: str) -> bytes | None:
        """The raw JSON of one document; None when this version has no such document."""
        return _bytes(await self.client.get(self.keys.data(ARTIFACT, version, doc_key(name))))

    async def names(self, version: str) -> list[str]:
        raw = await self.client.get(self.keys.data(ARTIFACT, version, INDEX))
        return [str(n) for n in orjson.loads(raw)] if raw else []

    async def sentiment_model(self, version: str) -> bytes | None:
        return _bytes(await self.client.get(self.keys.data(ARTIFACT, version, MODEL)))


def _bytes(raw: bytes | str | None) -> bytes | None:
    return raw.encode() if isinstance(raw, str) else raw
