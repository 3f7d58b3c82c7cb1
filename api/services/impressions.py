"""Writes after the answer (impression counts, what the recommendation served), gathered.

Each answer hands its `store.answers.Answer` to the writer as it is made, and nothing waits
for it. The answers handed over during one event-loop turn go out as one script call
(`store.answers.record_answers`; one per 256 answers in a burst), queued on the hot
connection at the start of the next turn: after the turn's responses are written, and
before any request of a later turn reads, so a client asking again right after its answer
is counted first (Redis answers one connection in order). Under load one call carries the
writes of many answers.

Why nothing waits: a task per answer awaiting its write cost ~2.8% of a GET's instructions
(callgrind, `bench/api_callgrind.sh`: 973k -> 946k) and bought the client nothing, as its
response was out already. `flushed()` waits for what is queued (the app's shutdown does,
before closing the connection).

After a NOSCRIPT (Redis restarted or its scripts flushed) the writer loads the script and
sends the calls that met it again; on any other failure the answers' writes are lost
(logged): the answers are out already, and a cap counted short is the lesser harm.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from redis.exceptions import NoScriptError, RedisError

from api.services.hot import connection
from api.state import ServingState
from store.answers import Answer, record_answers
from store.attribution import DEFAULT_TTL
from store.daily import queue_served
from store.keys import Keys
from store.resp import Command, CommandBuffer, RespConnection
from store.resp_cluster import ClusterRespConnection

log = logging.getLogger("touchpoint.api")
FLUSH_SECONDS = 5.0  # the longest a shutdown waits for the last answers' writes


class ImpressionWriter:
    def __init__(self, conn: RespConnection, keys: Keys, *, served_ttl: int = DEFAULT_TTL) -> None:
        self.conn = conn
        self.keys = keys
        self.served_ttl = served_ttl  # seconds what each answer served is kept (attribution)
        self._pending: list[Answer] = []
        self._written: asyncio.Future[None] | None = None  # when the pending ones are written
        self._unwritten: set[asyncio.Future[None]] = set()  # queued or sent, not yet answered
        self._retries: set[asyncio.Task[None]] = set()

    def add(self, answer: Answer) -> None:
        """Queue one answer's impressions and what it served, sent with the other answers
        of this event-loop turn at the start of the next one."""
        if self._written is None:
            loop = asyncio.get_running_loop()
            self._written = written = loop.create_future()
            self._unwritten.add(written)
            written.add_done_callback(self._unwritten.discard)
            loop.call_soon(self._flush)
        self._pending.append(answer)

    async def flushed(self, seconds: float = FLUSH_SECONDS) -> None:
        """Wait until everything queued so far is written (or lost, see the module); at most
        `seconds`, so a reply that never comes cannot hold a shutdown forever."""
        if self._unwritten:
            _, late = await asyncio.wait(list(self._unwritten), timeout=seconds)
            if late:
                log.warning("%d answer write batches unconfirmed after %.0f s at shutdown",
                            len(late), seconds)  # fmt: skip

    def _flush(self) -> None:
        answers, self._pending = self._pending, []
        written, self._written = self._written, None
        assert written is not None
        buffer = CommandBuffer()
        record_answers(buffer, self.keys, answers, served_ttl=self.served_ttl,
                       per_slot=isinstance(self.conn, ClusterRespConnection))  # fmt: skip
        if buffer.commands:  # and the dashboard's answers per day and channel
            queue_served(buffer, self.keys, answers)
        if not buffer.commands:  # nothing shown by any of them: nothing to write
            written.set_result(None)
            return
        try:
            sent = self.conn.submit(buffer.commands)
        except TypeError as exc:  # an argument Redis cannot take: a bug, say so
            log.warning("%d answers' writes lost: %s", len(answers), exc)
            written.set_result(None)
            return
        sent.add_done_callback(lambda done: self._check(done, buffer, written))

    def _check(
        self, sent: asyncio.Future[list[Any]], buffer: CommandBuffer, written: asyncio.Future[None]
    ) -> None:
        if sent.cancelled():  # the connection was closed under it
            written.set_result(None)
            return
        error = sent.exception()
        if error is not None:  # Redis gone: the readiness probe and the reads report it
            log.debug("post-answer writes lost: %s", error)
            written.set_result(None)
            return
        replies = sent.result()
        unloaded = [
            c for c, r in zip(buffer.commands, replies, strict=True) if isinstance(r, NoScriptError)
        ]
        failed = [
            r for r in replies if isinstance(r, Exception) and not isinstance(r, NoScriptError)
        ]
        if failed:
            log.warning("post-answer writes failed: %s", failed[0])
        if unloaded:  # those calls wrote nothing: load the script, send them again
            retry = asyncio.ensure_future(self._send_again(buffer.scripts, unloaded, written))
            self._retries.add(retry)  # held until done: the loop keeps only weak references
            retry.add_done_callback(self._retries.discard)
            return
        written.set_result(None)

    async def _send_again(
        self, scripts: dict[str, str], commands: list[Command], written: asyncio.Future[None]
    ) -> None:
        """After a NOSCRIPT: load the script, send the calls that met it again."""
        loads = [("SCRIPT", "LOAD", text) for text in scripts.values()]
        try:
            replies = await self.conn.execute_many(loads + commands)
        except (RedisError, OSError) as exc:
            log.debug("post-answer writes lost: %s", exc)
        else:
            failed = [r for r in replies if isinstance(r, Exception)]
            if failed:
                log.warning("post-answer writes failed: %s", failed[0])
        written.set_result(None)


async def flushed(state: ServingState) -> None:
    """Wait for the writes the state's writer has queued (at shutdown, before the hot
    connection closes)."""
    if state.impressions is not None:
        await state.impressions.flushed()


def writer_for(state: ServingState) -> ImpressionWriter | None:
    """The writer bound to the state's hot connection (created on first use)."""
    conn = connection(state)
    if conn is None:
        return None
    writer = state.impressions
    if writer is None or writer.conn is not conn:
        writer = ImpressionWriter(conn, state.keys, served_ttl=state.settings.attribution_seconds)
        state.impressions = writer
    return writer
