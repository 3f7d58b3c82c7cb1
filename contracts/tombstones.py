"""Tombstones of erased customers, as the data directory holds them, and the one hash of an id.

An erased customer leaves no id behind: a tombstone is `HMAC-SHA256(erasure key, id)` (hex)
and the time of the erasure, in `DATA/tombstones.csv` (columns `id_hash`, `erased_at`) and in
the Redis set `Keys.tombstones()`. Searching anything Touchpoint holds for the id finds
nothing; whoever holds the key can still tell whether a given id was erased, which is what
lets loaders, `touchpoint ingest` and the intake keep them out.

The key: `TOUCHPOINT_ERASURE_KEY` when set (keep it outside the data directory and give the
same value to every host), else one random key made at the first erasure and kept in Redis
and in `DATA/erasure.key` (then anyone holding both the data directory and a candidate id can
test it: set the variable in production). Loaders drop tombstoned customers' rows here, so
every batch (`segment`, `train`, `run`, `recommend`, `insights`) forgets them.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from contracts.errors import DataError

TOMBSTONES_FILE = "tombstones.csv"
KEY_FILE = "erasure.key"
KEY_ENV = "TOUCHPOINT_ERASURE_KEY"
COLUMNS = ("id_hash", "erased_at")
# The fields and columns that name a customer, wherever erasure looks (streams, tables,
# exports, JSON documents, the model registry's `customers` ids): only these, so an item or
# event whose id happens to equal an erased customer's is left alone. `target`: the audit
# trail's (an entry about a customer names them there).
CUSTOMER_FIELDS = frozenset({"customer_id", "customer", "customers", "anonymous_id", "target"})


def id_hash(key: bytes, customer_id: str) -> str:
    """The tombstone of `customer_id` under `key`."""
    return hmac.new(key, customer_id.encode(), hashlib.sha256).hexdigest()


def configured_key() -> bytes | None:
    """`TOUCHPOINT_ERASURE_KEY`, when set."""
    value = os.environ.get(KEY_ENV)
    return value.encode() if value else None


def file_key(data_dir: Path | str) -> bytes | None:
    """The key kept in the data directory by the first erasure (None: none yet)."""
    path = Path(data_dir) / KEY_FILE
    return path.read_bytes().strip() or None if path.is_file() else None


def read_tombstones(data_dir: Path | str) -> set[str]:
    """Every `id_hash` of `DATA/tombstones.csv` (empty when there is none)."""
    path = Path(data_dir) / TOMBSTONES_FILE
    if not path.is_file():
        return set()
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return set(frame["id_hash"]) if "id_hash" in frame else set()


def erased_mask(ids: Iterable[str], key: bytes, hashes: set[str]) -> list[bool]:
    """Per id, whether it is tombstoned (each distinct id hashed once)."""
    seen: dict[str, bool] = {}
    out = []
    for customer_id in ids:
        hit = seen.get(customer_id)
        if hit is None:
            hit = seen[customer_id] = id_hash(key, customer_id) in hashes
        out.append(hit)
    return out


def _mask(ids: Iterable[str], data_dir: Path | str) -> list[bool] | None:
    """Per id, whether the data directory's tombstones name it; None when there are none."""
    hashes = read_tombstones(data_dir)
    if not hashes:
        return None
    key = configured_key() or file_key(data_dir)
    if key is None:
        where = str(Path(data_dir) / TOMBSTONES_FILE)
        raise DataError(where, None, None, f"no erasure key: set {KEY_ENV} or restore {KEY_FILE}")
    return erased_mask(ids, key, hashes)


def drop_erased(frame: pd.DataFrame, data_dir: Path | str) -> pd.DataFrame:
    """`frame` without the rows of tombstoned customers (its `customer_id` column)."""
    if "customer_id" not in frame or frame.empty:
        return frame
    mask = _mask(frame["customer_id"].astype(str), data_dir)
    return frame if mask is None else frame.loc[[not hit for hit in mask]].reset_index(drop=True)


def unerased(ids: list[str], data_dir: Path | str) -> list[str]:
    """`ids` without the tombstoned ones (a campaign list cannot bring them back)."""
    mask = _mask(ids, data_dir)
    return ids if mask is None else [i for i, hit in zip(ids, mask, strict=True) if not hit]
