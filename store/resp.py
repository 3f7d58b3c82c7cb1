"""A minimal pipelined Redis connection for the API's hot path (reads and post-answer writes).

One persistent asyncio connection per process; every concurrent request writes its command(s)
to it at once and awaits its replies in order (Redis answers one connection in order), packed
and parsed by the installed `hiredis` (`pack_command`, `Reader`). It reconnects on the next
call after a failure, and a watchdog closes it when the oldest reply is overdue (so requests
fail fast to the degraded answer). Errors are `redis.exceptions` classes, so callers handle
one family. URLs: `unix://path`, `redis://[user:password@]host:port/db`, `rediss://…` (TLS
with the system's default verification; not exercised by the test suite, which has no TLS
server).

Why not redis-py here: measured with py-spy under `bench/api_load.py` (100k customers, wrk
-c16), redis-py's asyncio client spent ~25-30% of the API's CPU on the request path — pool
checkout, retry wrapper, `asyncio.timeout` rescheduling per read, event dispatch, per-command
argument encoding and response callbacks — for what is one script call and a few writes.
Everything else (publishing, events intake, admin) keeps using redis-py.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import ssl
import time
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import unquote, urlparse

import hiredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

Command = tuple[Any, ...]


def pack(commands: Iterable[Command]) -> bytes:
    """The commands as RESP arrays of bulk strings (str, bytes, int or float arguments; any
    other type raises TypeError), in one buffer. hiredis' C packer: ~3x faster than
    formatting them in Python (an answer's writes: 13 → 4 us, measured with timeit)."""
    return b"".join([hiredis.pack_command(command) for command in commands])


def _error(message: str) -> ResponseError:
    return NoScriptError(message) if message.startswith("NOSCRIPT") else ResponseError(message)


class _Protocol(asyncio.Protocol):
    def __init__(self, owner: RespConnection) -> None:
        self.owner = owner
        self.reader = hiredis.Reader(replyError=_error)
        self.transport: asyncio.Transport | None = None
        self.waiting: deque[_Batch] = deque()  # sent on this connection, replies due

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        waiting = self.waiting
        while True:
            reply = self.reader.gets()
            if reply is False:
                return
            batch = waiting[0]
            batch.replies.append(reply)
            if len(batch.replies) == batch.count:
                waiting.popleft()
                if not batch.future.done():
                    batch.future.set_result(batch.replies)

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner._lost(self, RedisConnectionError(f"Redis connection lost: {exc or 'closed'}"))


class _Batch:
    """The replies one `execute_many` call awaits: one future for the whole batch."""

    __slots__ = ("count", "future", "replies", "sent_at")

    def __init__(self, future: asyncio.Future[list[Any]], count: int, sent_at: float) -> None:
        self.future = future
        self.count = count
        self.replies: list[Any] = []
        self.sent_at = sent_at


class CommandBuffer:
    """Collects commands through the redis-py pipeline methods the store's writers use
    (`eval` for `store.answers`, `hincrby` for redemptions, `hincrby` and `expire` for
    `store.daily`), so they queue onto a
    `RespConnection`.

    `eval` queues an EVALSHA (the script's text is not sent every time) and keeps the text in
    `scripts`, so whoever sends the buffer can `SCRIPT LOAD` it after a NOSCRIPT reply."""

    def __init__(self) -> None:
        self.commands: list[tuple[Any, ...]] = []
        self.scripts: dict[str, str] = {}  # sha1 → text of the scripts queued

    def hincrby(self, key: str, field: str, amount: int = 1) -> None:
        self.commands.append(("HINCRBY", key, field, amount))

    def expire(self, key: str, seconds: int) -> None:
        self.commands.append(("EXPIRE", key, seconds))

    def eval(self, script: str, numkeys: int, *args: Any) -> None:
        sha = script_sha(script)
        self.scripts[sha] = script
        self.commands.append(("EVALSHA", sha, numkeys, *args))


@functools.cache
def script_sha(script: str) -> str:
    """The SHA1 Redis names a script by (computed once per script text)."""
    return hashlib.sha1(script.encode()).hexdigest()


class RespConnection:
    """`await conn.execute_many([("GET", k), ...])` → replies (error replies as exceptions)."""

    def __init__(self, url: str, *, timeout: float = 2.0) -> None:
        self.url = url
        self.timeout = timeout
        self._protocol: _Protocol | None = None
        self._connecting: asyncio.Future[_Protocol] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._outgoing: list[bytes] = []  # packed commands not yet written (see `_write`)

    async def execute(self, *command: Any) -> Any:
        (reply,) = await self.execute_many([command])
        if isinstance(reply, Exception):
            raise reply
        return reply

    async def execute_many(self, commands: Sequence[Command]) -> list[Any]:
        """Send the commands in one write; their replies, in order (errors not raised)."""
        if not commands:
            return []
        if self._protocol is None:
            pack(commands)  # before connecting: a bad argument raises here
            await self._connect()
        return await self.submit(commands)

    def submit(self, commands: Sequence[Command]) -> asyncio.Future[list[Any]]:
        """`execute_many` without awaiting: when connected, the commands are queued before
        this returns (so they reach Redis ahead of anything queued after them), and the
        future resolves to their replies; else it connects first, in a task."""
        loop = asyncio.get_running_loop()
        protocol = self._protocol
        if protocol is None or not commands:
            return asyncio.ensure_future(self.execute_many(commands))
        data = pack(commands)  # before waiting for replies: a bad argument raises here
        batch = _Batch(loop.create_future(), len(commands), time.monotonic())
        protocol.waiting.append(batch)
        self._write(loop, data)
        return batch.future

    def _write(self, loop: asyncio.AbstractEventLoop, data: bytes) -> None:
        """Queue `data`; everything queued during one turn of the event loop goes out in one
        write at its end. Under load many requests reach Redis in the same turn, and each
        write is a system call that wakes redis-server: measured with py-spy under
        `bench/api_load.py`, one write per request was the largest single cost of the path."""
        if not self._outgoing:
            loop.call_soon(self._flush)
        self._outgoing.append(data)

    def _flush(self) -> None:
        data, self._outgoing = b"".join(self._outgoing), []
        protocol = self._protocol
        if protocol is not None and protocol.transport is not None and data:
            protocol.transport.write(data)

    async def _connect(self) -> _Protocol:
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._open())
        try:
            return await asyncio.shield(self._connecting)
        finally:
            if self._connecting is not None and self._connecting.done():
                self._connecting = None

    async def _open(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        parsed = urlparse(self.url)
        factory = lambda: _Protocol(self)  # noqa: E731
        try:
            if parsed.scheme == "unix":
                opening = loop.create_unix_connection(factory, unquote(parsed.path))
            elif parsed.scheme in ("redis", "rediss"):
                port = parsed.port or 6379
                tls = ssl.create_default_context() if parsed.scheme == "rediss" else None
                host = parsed.hostname or "localhost"
                opening = loop.create_connection(factory, host, port, ssl=tls)
            else:
                raise RedisConnectionError(f"unsupported Redis URL scheme in {self.url!r}")
            _, protocol = await asyncio.wait_for(opening, self.timeout)
        except (OSError, TimeoutError) as exc:
            raise RedisConnectionError(f"cannot connect to Redis at {self.url}: {exc}") from exc
        self._protocol = protocol
        setup: list[tuple[str, ...]] = []
        if parsed.password:
            setup.append(("AUTH", unquote(parsed.username or "default"), unquote(parsed.password)))
        db = parsed.path.strip("/") if parsed.scheme != "unix" else ""
        if db and db != "0":
            setup.append(("SELECT", db))
        for reply in await self.execute_many(setup) if setup else ():
            if isinstance(reply, Exception):
                self.close()
                raise RedisConnectionError(f"Redis refused the connection setup: {reply}")
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = asyncio.ensure_future(self._watch())
        return protocol

    def _lost(self, protocol: _Protocol, exc: Exception) -> None:
        if self._protocol is protocol:
            self._protocol = None
            self._outgoing.clear()  # their replies fail below; never send them elsewhere
        while protocol.waiting:  # its own: a newer connection's replies are not affected
            future = protocol.waiting.popleft().future
            if not future.done():
                future.set_exception(exc)

    async def _watch(self) -> None:
        """Close the connection when the oldest outstanding reply is overdue."""
        while self._protocol is not None:
            await asyncio.sleep(min(0.25, self.timeout / 4))
            protocol = self._protocol
            if protocol is None or not protocol.waiting or protocol.transport is None:
                continue
            if time.monotonic() - protocol.waiting[0].sent_at > self.timeout:
                protocol.transport.abort()
                self._lost(protocol, RedisTimeoutError("Redis did not answer in time"))

    def close(self) -> None:
        protocol, self._protocol = self._protocol, None
        if protocol is not None and protocol.transport is not None:
            protocol.transport.close()
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
