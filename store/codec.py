"""Compact binary values: ranked item lists as packed (uint32 index, float32 score) pairs.

Indices point into the published item table of the same version, so a 100-item list is
800 bytes instead of kilobytes of JSON ids.
"""

from __future__ import annotations

import io

import numpy as np
from numpy.typing import NDArray

RANKED = np.dtype([("index", "<u4"), ("score", "<f4")])


def pack_ranked(indices: NDArray[np.integer], scores: NDArray[np.floating]) -> bytes:
    out = np.empty(len(indices), dtype=RANKED)
    out["index"] = indices
    out["score"] = scores
    return out.tobytes()


def unpack_ranked(raw: bytes | None) -> tuple[NDArray[np.uint32], NDArray[np.float32]]:
    if not raw:
        return np.empty(0, np.uint32), np.empty(0, np.float32)
    arr = np.frombuffer(raw, dtype=RANKED)
    return arr["index"], arr["score"]


def pack_array(array: NDArray[np.generic]) -> bytes:
    """A numpy array as `.npy` bytes (shape and dtype included, no pickle)."""
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def unpack_array(raw: bytes) -> NDArray[np.generic]:
    return np.load(io.BytesIO(raw), allow_pickle=False)
