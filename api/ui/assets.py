"""Static files under content-hashed names (`uPlot.iife.min.3f2a9c1b.js`), served from memory.

A page names each file by its hash, so a browser may cache it for a year: a changed file
gets a new name. The files are read once, on first use; nothing is fetched at run time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

STATIC_DIR = Path(__file__).with_name("static")
MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css", ".txt": "text/plain"}
IMMUTABLE = "public, max-age=31536000, immutable"


@dataclass(frozen=True, slots=True)
class Asset:
    name: str  # the file's own name
    hashed: str  # the name pages use
    body: bytes
    media_type: str


def hashed_name(name: str, body: bytes) -> str:
    """`name` with the first 10 hex digits of its SHA-256 before the last suffix."""
    digest = hashlib.sha256(body).hexdigest()[:10]
    stem, dot, suffix = name.rpartition(".")
    return f"{stem}.{digest}.{suffix}" if dot else f"{name}.{digest}"


@cache
def manifest() -> dict[str, Asset]:
    """Every static file by its hashed name (read once per process)."""
    found: dict[str, Asset] = {}
    for path in sorted(STATIC_DIR.iterdir()):
        if not path.is_file():
            continue
        body = path.read_bytes()
        media = MEDIA_TYPES.get(path.suffix, "application/octet-stream")
        asset = Asset(path.name, hashed_name(path.name, body), body, media)
        found[asset.hashed] = asset
    return found


@cache
def url_names() -> dict[str, str]:
    """Own name → hashed name, for templates (`asset('dashboard.css')`)."""
    return {a.name: a.hashed for a in manifest().values()}


def asset_url(name: str) -> str:
    return f"/ui/static/{url_names()[name]}"
