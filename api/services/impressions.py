"""Impression counting after the answer, coalesced: one pipeline for many concurrent requests.

Each answer's background task adds its counts and waits for the flush that contains them
(so a client that got its answer and asks again sees its counts). A single flusher drains
everything queued so far into one pipeline, then loops while more arrived during the write:
under load one Redis round trip counts the impressions of many requests, instead of one
round trip per request competing with the reads that answer customers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger("touchpoint.api")
Queue = Callable[[Any], None]  # queues its commands on the pipeline it is given


class ImpressionWriter:
    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self._pending: list[Queue] = []
        self._task: asyncio.Task[None] | None = None

    async def add(self, queue: Queue) -> None:
        """Queue one answer's counts; returns once they are written (or dropped on error)."""
        self._pending.append(queue)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush())
        await asyncio.shield(self._task)

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            pipe = self.client.pipeline(transaction=False)
            for queue in batch:
                queue(pipe)
            try:
                await pipe.execute()
            except (RedisError, OSError) as exc:  # fire and forget: the answers are out
                log.debug("%d answers' impressions not counted: %s", len(batch), exc)


def writer_for(state: Any) -> ImpressionWriter | None:
    """The writer bound to the state's current Redis client (created on first use)."""
    client = getattr(state, "client", None)
    if client is None:
        return None
    writer: ImpressionWriter | None = getattr(state, "_impressions", None)
    if writer is None or writer.client is not client:
        writer = ImpressionWriter(client)
        state._impressions = writer
    return writer
