"""Writes after the answer, on the hot connection.

Each answer's background task queues its commands (impression counts, what the
recommendation served) and waits until they are written (so a client that got its answer
and asks again sees its counts). The hot connection (`store.resp`) sends everything queued
in one event-loop turn in one write, so under load one write carries many answers' writes.

Scripts (the impression counts) go out as EVALSHA; after a NOSCRIPT (Redis restarted or its
scripts flushed) the flush loads them and re-sends only the commands that failed, so nothing
is counted twice.
"""

from __future__ import annotations

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

    async def add(self, queue: Queue) -> None:
        """Send one answer's writes; returns once they are written (or dropped on error)."""
        buffer = CommandBuffer()
        queue(buffer)
        try:
            replies = await self._send(buffer)
        except (RedisError, OSError) as exc:  # fire and forget: the answer is out
            log.debug("an answer's writes lost: %s", exc)
            return
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
