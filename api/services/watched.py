"""Configuration files beside the business rules (`cases.yaml`, `surveys.yaml`), re-read
when they change: one `stat` a request, a parse only when the file's mtime or size moved.

A bad edit while the API runs keeps the previous configuration in force (logged); at
start-up (`strict`, or nothing loaded yet) it fails, with the file, line and key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from contracts.errors import InvalidInput

log = logging.getLogger("touchpoint.api")
T = TypeVar("T")
Stamp = tuple[int, int] | None


def stamp_of(path: Path) -> Stamp:
    """(mtime in ns, size) of the file; None when it does not exist."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


class WatchedFile(Generic[T]):
    """The parsed configuration of each path `load` was asked for, kept until it changes."""

    def __init__(self, load: Callable[[Path], T]) -> None:
        self._load = load
        self._loaded: dict[Path, tuple[Stamp, T]] = {}

    def current(self, path: Path, *, strict: bool = False) -> T:
        stamp = stamp_of(path)
        cached = self._loaded.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        try:
            value = self._load(path)
        except InvalidInput as exc:
            if strict or cached is None:
                raise
            log.error("%s not reloaded, the previous configuration stays: %s", path.name, exc)
            return cached[1]
        self._loaded[path] = (stamp, value)
        return value
