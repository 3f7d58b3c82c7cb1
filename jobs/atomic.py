"""Replacing a file in the data directory durably and atomically: a reader sees the old
file or the complete new one, never half (temporary file, fsync, `os.replace`, fsync of the
directory so the rename itself survives a power cut). Used by `touchpoint ingest` for its
partitions and by `touchpoint erase` for the files it rewrites."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def replace_file(path: Path, data: bytes) -> None:
    """Write `data` to `path`, atomically and durably."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
