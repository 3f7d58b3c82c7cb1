"""Abuse limits: rate limits per API key and per client address, and failed authentications.

Rate limits (`TOUCHPOINT_KEY_RATE_LIMITS`, `TOUCHPOINT_ADDRESS_RATE_LIMITS`) are token
buckets in Redis (`store.ratelimit`), so every replica takes from the same buckets. They are
configured per scope; `*` is one bucket for every scope without a limit of its own. A
request that passes its key check takes one token from its key's bucket and one from its
address' (each only when configured), in one round trip on the hot-path connection; the
fast path sends it in the same write as its read (`submit`, then `settle`). A bucket found
empty is remembered in process until its `Retry-After`, and requests for it meanwhile are
refused without asking Redis (it cannot have refilled sooner: only time adds tokens), so a
flood is turned away cheaply. None is configured by default: then a request costs nothing.

Failed authentications (`TOUCHPOINT_AUTH_FAILURE_LIMIT`, on by default: 20, then one every
5 s) take from the address' failure bucket; an empty bucket answers 429 instead of 401, and
this replica then refuses that address, good key or not, until the bucket would have a
token again (in process: no Redis read on the happy path). Other replicas refuse it at
its first failure there.

When Redis cannot be reached the limits are not enforced (the API is serving degraded
answers then) and a warning is logged at most once a minute.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from redis.exceptions import RedisError

from api.problems import TooManyRequests
from api.services.hot import connection
from api.settings import ANY_SCOPE, ApiSettings, RateLimit
from api.state import ServingState
from store.keys import Keys
from store.ratelimit import Bucket, Verdict, take, take_commands, verdicts
from store.resp import Command

log = logging.getLogger("touchpoint.api")
ADDRESS_MAX = 64  # characters of an address kept in a key
BLOCKED_MAX = 10_000  # addresses remembered as blocked, per process
WARN_EVERY = 60.0
AUTH = "auth"  # the failure bucket's scope name


def client_address(scope: Any) -> str:
    """The client's address as the server saw it (behind a proxy: uvicorn's
    `--forwarded-allow-ips` makes it the forwarded one); `unknown` when there is none."""
    client = scope.get("client")
    host = str(client[0]) if client else "unknown"
    return host.replace("{", "").replace("}", "")[:ADDRESS_MAX] or "unknown"


class Pending:
    """Token requests sent but not yet read (see `Limiter.submit`)."""

    __slots__ = ("buckets", "replies")

    def __init__(self, buckets: list[Bucket], replies: asyncio.Future[list[Any]]) -> None:
        self.buckets = buckets
        self.replies = replies


class Limiter:
    """The limits of one API process (settings, and the addresses it refuses for a while)."""

    def __init__(self, settings: ApiSettings) -> None:
        self.keys = Keys(settings.namespace)
        self.key_limits = settings.key_rate_limits
        self.address_limits = settings.address_rate_limits
        self.failure_limit = settings.auth_failure_limit
        self.blocked: dict[str, float] = {}  # address → monotonic time it is refused until
        self.empty: dict[str, float] = {}  # bucket key → monotonic time it stays empty until
        # (scope, key id, address) → its buckets and their script calls, built once
        self._calls: dict[tuple[str, str | None, str], tuple[list[Bucket], list[Command]]] = {}
        self._warned_at = float("-inf")

    def buckets(self, scope: str, key_id: str | None, address: str) -> list[Bucket]:
        """The buckets a request for `scope` takes from (none when no limit applies)."""
        out = []
        if key_id is not None and self.key_limits:
            found = _limit(self.key_limits, scope)
            if found is not None:
                name, limit = found
                out.append(Bucket(self.keys.rate_bucket(f"k:{key_id}", name), limit.rate,
                                  limit.burst))  # fmt: skip
        if self.address_limits:
            found = _limit(self.address_limits, scope)
            if found is not None:
                name, limit = found
                out.append(Bucket(self.keys.rate_bucket(f"a:{address}", name), limit.rate,
                                  limit.burst))  # fmt: skip
        return out

    def submit(
        self, state: ServingState, scope: str, key_id: str | None, address: str
    ) -> Pending | None:
        """Send the token requests of one request without waiting (None: nothing to take)."""
        if not (self.key_limits or self.address_limits) or not state.redis_ok:
            return None
        calls = self._calls.get((scope, key_id, address))
        if calls is None:
            if len(self._calls) >= BLOCKED_MAX:
                self._calls.clear()
            buckets = self.buckets(scope, key_id, address)
            calls = self._calls[scope, key_id, address] = (buckets, take_commands(buckets))
        buckets, commands = calls
        conn = connection(state)
        if not buckets or conn is None:
            return None
        if self.empty:
            _refuse_until(self.empty, [b.key for b in buckets])
        return Pending(buckets, conn.submit(commands))

    async def settle(self, state: ServingState, pending: Pending | None) -> None:
        """Raise `TooManyRequests` when a bucket of `pending` was empty."""
        if pending is None:
            return
        conn = connection(state)
        try:
            replies = await pending.replies
            assert conn is not None
            found = await verdicts(conn, pending.buckets, replies)
        except (RedisError, OSError) as exc:
            self._warn(exc)
            return
        refused = [(b, v) for b, v in zip(pending.buckets, found, strict=True) if not v.taken]
        if refused:
            now = time.monotonic()
            for bucket, verdict in refused:
                _remember(self.empty, bucket.key, now + verdict.retry_after_ms / 1000)
            wait = max(v.retry_after for _, v in refused)
            raise TooManyRequests(f"rate limit reached; retry in {wait} s", retry_after=wait)

    async def admit(
        self, state: ServingState, scope: str, key_id: str | None, address: str
    ) -> None:
        """Take the request's tokens (one round trip) or raise `TooManyRequests`."""
        await self.settle(state, self.submit(state, scope, key_id, address))

    def check_blocked(self, address: str) -> None:
        """Raise `TooManyRequests` while this process refuses `address`."""
        until = self.blocked.get(address)
        if until is None:
            return
        left = until - time.monotonic()
        if left <= 0:
            del self.blocked[address]
            return
        wait = max(1, int(left + 0.999))
        raise TooManyRequests(
            f"too many failed authentications from this address; retry in {wait} s",
            retry_after=wait,
        )

    async def failed(self, state: ServingState, address: str) -> None:
        """Count a failed authentication of `address`; raise `TooManyRequests` (instead of
        the caller's 401) when its failure bucket is empty."""
        limit = self.failure_limit
        conn = connection(state)
        if limit is None or conn is None or not state.redis_ok:
            return
        bucket = Bucket(self.keys.rate_bucket(f"f:{address}", AUTH), limit.rate, limit.burst)
        try:
            (verdict,) = await take(conn, [bucket])
        except (RedisError, OSError) as exc:
            self._warn(exc)
            return
        if not verdict.taken:
            self._block(address, verdict)
            self.check_blocked(address)

    def _block(self, address: str, verdict: Verdict) -> None:
        _remember(self.blocked, address, time.monotonic() + verdict.retry_after_ms / 1000)

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY:
            self._warned_at = now
            log.warning("rate limits not enforced, Redis unavailable: %s", exc)


def _remember(until: dict[str, float], name: str, when: float) -> None:
    """`until[name] = when`, keeping at most `BLOCKED_MAX` names (the expired go first)."""
    if len(until) >= BLOCKED_MAX:
        now = time.monotonic()
        for stale in [n for n, t in until.items() if t <= now]:
            del until[stale]
        if len(until) >= BLOCKED_MAX:
            until.clear()
    until[name] = when


def _refuse_until(until: dict[str, float], names: list[str]) -> None:
    """Raise `TooManyRequests` when one of `names` is known to be empty still."""
    now = time.monotonic()
    waits = [until[n] - now for n in names if until.get(n, 0.0) > now]
    if waits:
        wait = max(1, int(max(waits) + 0.999))
        raise TooManyRequests(f"rate limit reached; retry in {wait} s", retry_after=wait)


def _limit(limits: dict[str, RateLimit], scope: str) -> tuple[str, RateLimit] | None:
    """(the bucket's name, the limit) for `scope`: its own, else the `*` one."""
    limit = limits.get(scope)
    if limit is not None:
        return scope, limit
    limit = limits.get(ANY_SCOPE)
    return (ANY_SCOPE, limit) if limit is not None else None
