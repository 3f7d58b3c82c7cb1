"""API keys: created and revoked by the CLI, checked by the API; only hashes are stored.

A key reads `tp_<id>_<secret>`: the 8-hex-digit id is public (it names the key in lists and
logs); the secret is 256 random bits shown once at creation. Redis keeps, per id, the name,
scopes, creation/revocation/expiry times and the SHA-256 of the whole key — a plain fast hash
is enough because the secret is random, not a password. Revoked keys stay listed (audit).
Hash `Keys.global_("apikeys")`: id → JSON record.

Rotation (`rotate_key`) creates a key with the same name and scopes and lets the old one
expire after an overlap window, so clients can switch without a moment of refusals.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace

import orjson
import redis
import redis.asyncio as aioredis

from contracts.errors import InvalidInput
from contracts.requests import SCOPE_ADMIN, SCOPES
from store.keys import Keys

_KEY = re.compile(r"^tp_([0-9a-f]{8})_([A-Za-z0-9_-]{20,})$")


class ApiKeyError(InvalidInput):
    """A key cannot be created or revoked: bad name or scope, unknown id."""


@dataclass(frozen=True)
class ApiKey:
    """What Redis holds about one key (never the secret)."""

    id: str
    name: str
    scopes: tuple[str, ...]
    hash: str
    created_at: str
    revoked_at: str | None = None
    expires_at: str | None = None  # refused from then on (`_now()`'s format, UTC)
    replaced_by: str | None = None  # the id of the key it was rotated to

    @property
    def active(self) -> bool:
        """Neither revoked nor expired."""
        return self.revoked_at is None and not self.expired()

    def expired(self, now: str | None = None) -> bool:
        # The texts are fixed-width ISO 8601 in UTC, so they compare as times.
        return self.expires_at is not None and self.expires_at <= (now or _now())

    def allows(self, scope: str) -> bool:
        return self.active and (scope in self.scopes or SCOPE_ADMIN in self.scopes)

    def matches(self, presented: str) -> bool:
        return hmac.compare_digest(self.hash, hash_key(presented))

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: bytes | str) -> ApiKey:
        data = orjson.loads(raw)
        data["scopes"] = tuple(data["scopes"])
        return cls(**data)


def hash_key(presented: str) -> str:
    return hashlib.sha256(presented.encode()).hexdigest()


def key_id(presented: str) -> str | None:
    """The public id of a presented key, or None when it is not shaped like one of ours."""
    match = _KEY.match(presented)
    return match.group(1) if match else None


def check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(s.strip() for s in scopes if s.strip()))
    unknown = [s for s in chosen if s not in SCOPES]
    if unknown:
        raise ApiKeyError(f"unknown scope {unknown[0]!r}; choose from {', '.join(SCOPES)}")
    if not chosen:
        raise ApiKeyError(f"give at least one scope: {', '.join(SCOPES)}")
    return chosen


def _now(offset: float = 0.0) -> str:
    """Now (plus `offset` seconds) as the records write times: to the second, UTC."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + offset))


def create_key(
    client: redis.Redis,
    keys: Keys,
    *,
    name: str,
    scopes: Iterable[str],
    expires_in: float | None = None,
) -> tuple[ApiKey, str]:
    """A new key: returns its record and the full secret key (shown once, never stored).
    `expires_in` seconds: refused from then on (None: until revoked)."""
    name = name.strip()
    if not 1 <= len(name) <= 64:
        raise ApiKeyError("name must be 1-64 characters")
    if expires_in is not None and expires_in <= 0:
        raise ApiKeyError("expires_in must be positive")
    chosen = check_scopes(scopes)
    expires_at = _now(expires_in) if expires_in is not None else None
    while True:
        kid = secrets.token_hex(4)
        secret = f"tp_{kid}_{secrets.token_urlsafe(32)}"
        record = ApiKey(kid, name, chosen, hash_key(secret), _now(), expires_at=expires_at)
        if client.hsetnx(keys.global_("apikeys"), kid, record.to_json()):
            return record, secret


def rotate_key(
    client: redis.Redis, keys: Keys, kid: str, *, overlap: float, expires_in: float | None = None
) -> tuple[ApiKey, ApiKey, str]:
    """Replace key `kid` by a new one with its name and scopes: (the old record, now expiring
    `overlap` seconds from now or sooner if it already did, the new record, its secret)."""
    if overlap < 0:
        raise ApiKeyError("the overlap cannot be negative")
    old = _record(client, keys, kid)
    if not old.active:
        raise ApiKeyError(f"API key {kid} is revoked or expired: create a new one instead")
    new, secret = create_key(client, keys, name=old.name, scopes=old.scopes, expires_in=expires_in)
    ends = _now(overlap)
    old = replace(old, expires_at=min(ends, old.expires_at or ends), replaced_by=new.id)
    client.hset(keys.global_("apikeys"), kid, old.to_json())
    return old, new, secret


def _record(client: redis.Redis, keys: Keys, kid: str) -> ApiKey:
    raw = client.hget(keys.global_("apikeys"), kid)
    if raw is None:
        raise ApiKeyError(f"no API key with id {kid!r}")
    return ApiKey.from_json(raw)  # type: ignore[arg-type]


def revoke_key(client: redis.Redis, keys: Keys, kid: str) -> ApiKey:
    """Mark a key revoked (kept for the audit trail); revoking twice keeps the first time."""
    record = _record(client, keys, kid)
    if record.revoked_at is None:
        record = replace(record, revoked_at=_now())
        client.hset(keys.global_("apikeys"), kid, record.to_json())
    return record


def list_keys(client: redis.Redis, keys: Keys) -> list[ApiKey]:
    raw = client.hgetall(keys.global_("apikeys"))
    return sorted(decode_all(raw).values(), key=lambda k: k.created_at)  # type: ignore[arg-type]


async def load_keys(client: aioredis.Redis, keys: Keys) -> dict[str, ApiKey]:
    """Every key record, for the API's in-process cache (one HGETALL)."""
    raw = await client.hgetall(keys.global_("apikeys"))  # type: ignore[misc]
    return decode_all(raw)  # type: ignore[arg-type]


def decode_all(raw: Mapping[bytes, bytes]) -> dict[str, ApiKey]:
    return {k.decode(): ApiKey.from_json(v) for k, v in raw.items()}
