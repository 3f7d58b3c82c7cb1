"""Writes after the answer, coalesced: one write for many concurrent requests.

Each answer's background task queues its commands (impression counts, what the
recommendation served) and waits for the flush that contains them (so a client that got its
answer and asks again sees its counts). A single flusher sends everything queued so far in
one write on the hot connection (`store.resp`), then loops while more arrived meanwhile:
under load one round trip carries the writes of many requests.

Scripts (the impression counts) go out as EVALSHA; after a NOSCRIPT (Redis restarted or its
scripts flushed) the flush loads them and re-sends only the commands that failed, so nothing
is counted twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from redis.exceptions import NoScriptError, RedisError

from api.services.hot import connection
from store.resp import CommandBuffer, RespConnection

log = logging.getLogger("touchpoint.api")
Queue = Callable[[CommandBuffer], None]  # queues its commands on the buffer it is given


class ImpressionWriter:
    def __init__(self, conn: RespConnection) -> None:
        self.conn = conn
        self._pending: list[Queue] = []
        self._task: asyncio.Task[None] | None = None

    async def add(self, queue: Queue) -> None:
        """Queue one answer's writes; returns once they are written (or dropped on error)."""
        self._pending.append(queue)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush())
        await asyncio.shield(self._task)

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            buffer = CommandBuffer()
            for queue in batch:
                queue(buffer)
            try:
                replies = await self._send(buffer)
            except (RedisError, OSError) as exc:  # fire and forget: the answers are out
                log.debug("%d answers' writes lost: %s", len(batch), exc)
                continue
            failed = [r for r in replies if isinstance(r, Exception)]
            if failed:
                log.warning("%d post-answer writes failed, e.g. %s", len(failed), failed[0])

    async def _send(self, buffer: CommandBuffer) -> list[Any]:
        replies = await self.conn.execute_many(buffer.commands)
        again = [
            c for c, r in zip(buffer.commands, replies, strict=True) if isinstance(r, NoScriptError)
        ]
        if not again:
            return replies
        loads = [("SCRIPT", "LOAD", text) for text in buffer.scripts.values()]
        replies = [r for r in replies if not isinstance(r, NoScriptError)]
        return replies + await self.conn.execute_many(loads + again)


def writer_for(state: Any) -> ImpressionWriter | None:
    """The writer bound to the state's hot connection (created on first use)."""
    conn = connection(state)
    if conn is None:
        return None
    writer: ImpressionWriter | None = getattr(state, "_impressions", None)
    if writer is None or writer.conn is not conn:
        writer = ImpressionWriter(conn)
        state._impressions = writer
    return writer
