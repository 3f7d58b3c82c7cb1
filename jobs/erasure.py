"""Erasing customers everywhere: Redis (`store.erase`), then the data directory
(`jobs.erase_files`), then the tombstones on disk (`contracts.tombstones`).

`erase` is `touchpoint erase`; `apply_tombstones` brings the data directory up to the
tombstones in Redis (erasures made through `DELETE /v1/customers/{id}`, which has no data
directory of its own to rewrite) and runs at the start of every `touchpoint ingest`.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import redis

from contracts.tombstones import (
    COLUMNS,
    KEY_FILE,
    TOMBSTONES_FILE,
    configured_key,
    file_key,
    id_hash,
    read_tombstones,
)
from jobs.atomic import replace_file
from jobs.erase_files import FilesErased, Matcher, erase_files, id_matcher
from store.erase import Erased, erase_customers, erasure_key, tombstones
from store.keys import Keys


@dataclass
class Erasure:
    redis: Erased
    files: FilesErased
    redis_seconds: float = 0.0
    files_seconds: float = 0.0


def shared_key(client: redis.Redis, keys: Keys, data_dir: Path) -> bytes:
    """The erasure key, the same in Redis and in the data directory (unless configured)."""
    key = erasure_key(client, keys, candidate=file_key(data_dir))
    if configured_key() is None and file_key(data_dir) is None:
        data_dir.mkdir(parents=True, exist_ok=True)
        path = data_dir / KEY_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
            handle.flush()
            os.fsync(handle.fileno())
    return key


def record_tombstones(data_dir: Path, stones: dict[str, str]) -> None:
    """Merge `stones` (hash → erased_at) into `DATA/tombstones.csv`, atomically."""
    path = data_dir / TOMBSTONES_FILE
    known = pd.read_csv(path, dtype=str, keep_default_na=False) if path.is_file() else None
    fresh = pd.DataFrame(sorted(stones.items()), columns=list(COLUMNS))
    merged = fresh if known is None else pd.concat([known, fresh], ignore_index=True)
    merged = merged.drop_duplicates("id_hash", keep="first")
    buffer = io.StringIO()
    merged.to_csv(buffer, index=False)
    replace_file(path, buffer.getvalue().encode())


def erase(client: redis.Redis, keys: Keys, data_dir: Path, ids: Collection[str]) -> Erasure:
    """Everything about `ids`, from Redis and from `data_dir`; then the tombstones."""
    started = time.perf_counter()
    shared_key(client, keys, data_dir)
    in_redis = erase_customers(client, keys, ids)
    middle = time.perf_counter()
    files = erase_files(data_dir, id_matcher(ids))
    erased_at = tombstones(client, keys)
    record_tombstones(data_dir, {h: erased_at[h] for h in in_redis.tombstones})
    return Erasure(in_redis, files, middle - started, time.perf_counter() - middle)


def apply_tombstones(client: redis.Redis, keys: Keys, data_dir: Path) -> FilesErased | None:
    """Rewrite the data directory for the tombstones in Redis it has not seen yet; None
    when there were none."""
    stones = tombstones(client, keys)
    pending = set(stones) - read_tombstones(data_dir)
    if not pending:
        return None
    key = shared_key(client, keys, data_dir)
    files = erase_files(data_dir, hash_matcher(key, pending))
    record_tombstones(data_dir, {h: stones[h] for h in pending})
    return files


def hash_matcher(key: bytes, hashes: Collection[str]) -> Matcher:
    wanted = frozenset(hashes)
    return Matcher(test=lambda value: id_hash(key, value) in wanted)


def erased_test(client: redis.Redis, keys: Keys, data_dir: Path) -> Callable[[str], bool] | None:
    """Whether a customer id is tombstoned (each id hashed once); None when none is."""
    hashes = frozenset(tombstones(client, keys)) | read_tombstones(data_dir)
    if not hashes:
        return None
    key = shared_key(client, keys, data_dir)
    seen: dict[str, bool] = {}

    def erased(customer_id: str) -> bool:
        hit = seen.get(customer_id)
        if hit is None:
            hit = seen[customer_id] = id_hash(key, customer_id) in hashes
        return hit

    return erased
