"""API-key authentication and per-route-group scopes.

Routers are included with `dependencies=[require_scope("segments:read")]` (see `api/app.py`).
A key is sent as `Authorization: Bearer <key>` or `X-API-Key: <key>`.

Keys are required once any key was created (revoking it does not reopen the API), always
when `TOUCHPOINT_AUTH_REQUIRED=true` and in production; with no key ever created the API
runs open and says so at start-up.

Key records are cached in-process and re-read every `auth_cache_seconds` (default 30 s), so
a request costs no Redis round trip in steady state; a revocation therefore takes effect
within that time. An unknown key id triggers an early re-read (at most once a second), so a
freshly created key works at once. If Redis is unreachable the last records stay in force;
if they were never read, production refuses every key-protected request (503) while
development runs open.

The presented key's SHA-256 is compared with the stored one in constant time
(`hmac.compare_digest`), and an unknown id is compared against a dummy hash all the same, so
the time of a refusal does not tell an unknown id from a wrong secret. Expired keys are
refused like revoked ones. Failed authentications are counted per client address and rate
limits taken after a key passed (`api.services.limits`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from redis.exceptions import RedisError

from api.deps import parts_of
from api.problems import Forbidden, Unauthorized, Unavailable
from api.services.limits import client_address
from api.settings import ApiSettings
from api.state import ServingState
from contracts.requests import SCOPES
from store.apikeys import ApiKey, hash_key, key_id, load_keys

log = logging.getLogger("touchpoint.api")

FORCED_RELOAD_GAP = 1.0  # seconds between re-reads triggered by unknown key ids
RETRY_GAP = 1.0  # seconds between attempts while Redis is unreachable
_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <key>`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="`X-API-Key: <key>`")
_NO_SUCH_KEY = ApiKey("", "", (), hash_key("tp_00000000_no-such-key-ever-matches"), "")


class KeyCache:
    """The API keys as last read from Redis, shared by all requests of one process."""

    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self.records: dict[str, ApiKey] | None = None
        self.loaded_at = float("-inf")
        self.attempted_at = float("-inf")
        self.forced_at = float("-inf")
        self._lock = asyncio.Lock()

    async def get(self, state: ServingState, *, force: bool = False) -> dict[str, ApiKey] | None:
        now = time.monotonic()
        due = (
            now - self.loaded_at >= self.settings.auth_cache_seconds
            and now - self.attempted_at >= RETRY_GAP
        )
        if force and now - self.forced_at >= FORCED_RELOAD_GAP:
            self.forced_at = now
            due = True
        if due:
            async with self._lock:  # one reload at a time; the others reuse its result
                if self.attempted_at < now:
                    await self._reload(state)
        return self.records

    async def _reload(self, state: ServingState) -> None:
        self.attempted_at = time.monotonic()
        try:
            if state.client is None:
                raise RedisError("not connected")
            self.records = await load_keys(state.client, state.keys)
            self.loaded_at = time.monotonic()
        except (RedisError, OSError) as exc:
            log.warning("cannot read API keys, keeping the last ones: %s", exc)

    def required(self, records: dict[str, ApiKey] | None) -> bool | None:
        """Whether a key is needed; None when unknown (records never read)."""
        settings = self.settings
        if settings.auth_required is not None:
            return settings.auth_required
        if settings.environment == "production":
            return True
        if records is None:
            return None
        # Revoked keys count: revoking the last key must not reopen the API.
        return bool(records)


async def on_startup(app: FastAPI) -> None:
    """Read the keys once and warn when the API is open to anyone."""
    parts = parts_of(app)
    cache = parts.api_keys
    records = await cache.get(parts.serving)
    required = cache.required(records)
    if required is False:
        log.warning(
            "no API key configured: the API is open to anyone "
            "(create one with `touchpoint keys create`, or set TOUCHPOINT_AUTH_REQUIRED=true)"
        )
    elif required is None:
        log.warning("API keys could not be read at start-up; running open until they are")
    elif not records:
        log.error("API keys are required but none exists: protected routes answer 401")


def presented_key(bearer: HTTPAuthorizationCredentials | None, header: str | None) -> str | None:
    if bearer is not None and bearer.credentials:
        return bearer.credentials
    return header or None


def key_from_headers(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The key of raw ASGI headers, as the `Security` schemes above read it (for routes
    served without dependency injection, see `api.fastpath`)."""
    bearer = header = None
    for name, value in headers:
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                bearer = credentials.strip()
        elif name == b"x-api-key":
            header = value.decode("latin-1")
    return bearer or header or None


async def verify(
    app: Any, key: str | None, scope: str, *, address: str = "unknown", count_failures: bool = True
) -> str | None:
    """Check `key` for `scope`: the key id, or None when the API runs open; raises 401/403
    (and 503 in production when keys cannot be read); 429 when `address` made too many
    failed attempts. `count_failures=False` checks without counting a failure (the fast
    path, which hands a refused request to the declared route, where it is counted)."""
    parts = parts_of(app)
    cache, state = parts.api_keys, parts.serving
    records = await cache.get(state)
    required = cache.required(records)
    if required is None:
        if cache.settings.environment == "production":
            raise Unavailable("API keys cannot be verified right now")
        required = False
    if not required:
        return None
    parts.limits.check_blocked(address)
    try:
        return await _check(cache, state, records, key, scope)
    except Unauthorized:
        if count_failures:
            await parts.limits.failed(state, address)
        raise


async def _check(
    cache: KeyCache, state: ServingState, records: dict[str, ApiKey] | None, key: str | None,
    scope: str,
) -> str:  # fmt: skip
    if key is None:
        raise Unauthorized("an API key is required (Authorization: Bearer … or X-API-Key)")
    kid = key_id(key)
    if kid is None:
        raise Unauthorized("malformed API key")
    record = (records or {}).get(kid)
    if record is None:
        record = ((await cache.get(state, force=True)) or {}).get(kid)
    if not (record or _NO_SUCH_KEY).matches(key) or record is None:
        raise Unauthorized("unknown or invalid API key")
    if record.revoked_at is not None:
        raise Unauthorized(f"API key {kid} was revoked")
    if record.expired():
        raise Unauthorized(f"API key {kid} expired at {record.expires_at}")
    if not record.allows(scope):
        raise Forbidden(f"API key {kid} lacks the {scope!r} scope", scope=scope)
    return kid


def require_scope(scope: str) -> Any:
    """A dependency refusing requests without a valid key holding `scope` (or `admin`)."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    async def check(
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
        header: Annotated[str | None, Security(_header)],
    ) -> None:
        address = client_address(request.scope)
        kid = await verify(request.app, presented_key(bearer, header), scope, address=address)
        if kid is not None:
            request.state.api_key_id = kid
        parts = parts_of(request.app)
        await parts.limits.admit(parts.serving, scope, kid, address)

    return Depends(check)


def actor(request: Request) -> str:
    """Who made `request`, for the audit trail: the id of the key it passed with, or
    `anonymous` when the API runs open."""
    return str(getattr(request.state, "api_key_id", None) or "anonymous")


def scoped(scope: str | None) -> list[Any]:
    """`include_router(..., dependencies=scoped("segments:read"))`; None = open route group."""
    return [] if scope is None else [require_scope(scope)]
