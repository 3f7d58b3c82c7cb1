"""The `serving` artifact: everything the API serves, published by the batch as one version.

Shared data (loaded into each API replica once per version):
- `items` — the item table (JSON list; the list position is the item index used everywhere)
- `popular` — named ranked lists (`global`, `channel:web`, `kind:offer`, `segment:Champions`…)
- `factors` — item factors and model metadata for real-time fold-in (optional)
- `similar` — top similar items per item (optional)
Per customer (one pipeline per request): `recs` (ranked), `profile` (JSON), `hist` (ranked
item indices with interaction weights, for fold-in; strongest first), `consumed` (item
indices the customer already has, `recsys.consumption`, so every answer can leave them out),
`why` (optional: one byte per rec, the position in `hist` of the item its reason names, 255
for none; see `recsys.explain`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import orjson
from numpy.typing import NDArray

from store.codec import pack_array, pack_ranked, unpack_array, unpack_ranked
from store.versions import ArtifactReader, Release

ARTIFACT = "serving"
Ranked = tuple[NDArray[np.integer], NDArray[np.floating]]


class Recs(NamedTuple):
    """A customer's published recommendations, with their reasons' anchors when known."""

    indices: NDArray[np.integer]
    scores: NDArray[np.floating]
    why: bytes = b""  # per rec, its anchor's position in the published history (255: none)


@dataclass
class ServingBundle:
    """What one batch publishes for serving; plain Python and numpy, no pandas."""

    items: list[dict[str, Any]]
    popular: dict[str, Ranked]
    customer_recs: Iterable[tuple[str, Ranked | Recs]] = ()
    customer_profiles: Iterable[tuple[str, dict[str, Any]]] = ()
    customer_history: Iterable[tuple[str, Ranked]] = ()  # published strongest first
    customer_consumed: Iterable[tuple[str, Ranked]] = ()
    item_factors: NDArray[np.floating] | None = None
    model: dict[str, Any] = field(default_factory=dict)
    similar: Ranked | None = None  # (n_items × k indices, -1 padded; n_items × k scores)


def write_serving(release: Release, bundle: ServingBundle) -> None:
    """Write a bundle under `release`; see `store.versions.Versions.publish`."""
    write_shared(release, bundle)
    write_customers(release, bundle)


def write_shared(release: Release, bundle: ServingBundle) -> None:
    """The version's shared keys: item table, popular lists, model meta, factors, similar."""
    release.set(release.key("items"), orjson.dumps(bundle.items))
    release.hset(
        release.key("popular"),
        {name: pack_ranked(idx, sc) for name, (idx, sc) in bundle.popular.items()},
    )
    release.set(release.key("model"), orjson.dumps(bundle.model))
    if bundle.item_factors is not None:
        release.set(release.key("factors"), pack_array(bundle.item_factors.astype(np.float32)))
    if bundle.similar is not None:
        idx, scores = bundle.similar
        release.set(release.key("similar_idx"), pack_array(idx.astype(np.int32)))
        release.set(release.key("similar_score"), pack_array(scores.astype(np.float32)))


def write_customers(release: Release, bundle: ServingBundle) -> None:
    """The per-customer keys of the bundle's customers (all of them, or one slice: Spark
    executors write their partition's customers with this, `jobs.spark_publish`)."""
    for customer_id, ranked in bundle.customer_recs:
        recs = Recs(*ranked)
        packed = pack_ranked(recs.indices, recs.scores)
        release.set(release.customer_key(customer_id, "recs"), packed)
        if recs.why:
            release.set(release.customer_key(customer_id, "why"), recs.why)
    for customer_id, profile in bundle.customer_profiles:
        release.set(release.customer_key(customer_id, "profile"), orjson.dumps(profile))
    for customer_id, (idx, weights) in bundle.customer_history:
        # strongest first (stable): the serving path reads its anchors off the front
        order = np.argsort(-np.asarray(weights), kind="stable")
        strongest = np.asarray(idx)[order], np.asarray(weights)[order]
        release.set(release.customer_key(customer_id, "hist"), pack_ranked(*strongest))
    for customer_id, (idx, counts) in bundle.customer_consumed:
        release.set(release.customer_key(customer_id, "consumed"), pack_ranked(idx, counts))


@dataclass
class SharedServing:
    """One version's shared data, held in each API process."""

    version: str
    items: list[dict[str, Any]]
    popular: dict[str, Ranked]
    model: dict[str, Any]
    item_factors: NDArray[np.float32] | None = None
    similar: Ranked | None = None
    index_of: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index_of = {item["item_id"]: i for i, item in enumerate(self.items)}


@dataclass
class CustomerServing:
    """One customer's data for one request."""

    recs: Ranked
    profile: dict[str, Any] | None
    history: Ranked


class ServingReader(ArtifactReader):
    """Async reads for the API: shared data once per version, one pipeline per customer."""

    ARTIFACT = ARTIFACT

    async def history(self) -> list[dict[str, Any]]:
        """Metadata of the serving versions publishing still keeps, newest first (the async
        twin of `store.versions.Versions.history`; off the request path)."""
        names = await self.client.lrange(self.keys.versions(ARTIFACT), 0, -1)
        if not names:
            return []
        texts = [n.decode() if isinstance(n, bytes) else n for n in names]
        metas = await self.client.mget([self.keys.meta(ARTIFACT, v) for v in texts])
        return [orjson.loads(m) for m in metas if m]

    async def load_shared(self, version: str) -> SharedServing:
        def key(name: str) -> str:
            return self.keys.data(ARTIFACT, version, name)

        pipe = self.client.pipeline(transaction=False)
        for name in ("items", "model", "factors", "similar_idx", "similar_score"):
            pipe.get(key(name))
        pipe.hgetall(key("popular"))
        items, model, factors, sim_idx, sim_score, popular = await pipe.execute()
        if items is None:
            raise LookupError(f"serving version {version} has no item table (expired?)")
        similar = None
        if sim_idx is not None and sim_score is not None:
            similar = (unpack_array(sim_idx), unpack_array(sim_score))
        return SharedServing(
            version=version,
            items=orjson.loads(items),
            popular={k.decode(): unpack_ranked(v) for k, v in popular.items()},
            model=orjson.loads(model) if model else {},
            item_factors=unpack_array(factors) if factors is not None else None,  # type: ignore[arg-type]
            similar=similar,  # type: ignore[arg-type]
        )

    async def customer(self, version: str, customer_id: str) -> CustomerServing:
        pipe = self.client.pipeline(transaction=False)
        for name in ("recs", "profile", "hist"):
            pipe.get(self.keys.customer_data(ARTIFACT, version, customer_id, name))
        recs, profile, hist = await pipe.execute()
        return CustomerServing(
            recs=unpack_ranked(recs),
            profile=orjson.loads(profile) if profile else None,
            history=unpack_ranked(hist),
        )
