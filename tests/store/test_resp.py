"""The hot-path RESP connection and the one-script customer read, against a real redis-server."""

from __future__ import annotations

import asyncio
import os
import signal

import numpy as np
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from store import counters, recent
from store.answers import Answer, record_answers
from store.codec import pack_ranked
from store.feedback import record_latest
from store.keys import Keys
from store.profile import read_context
from store.resp import CommandBuffer, RespConnection, pack
from tests.windows import read_windows

KEYS = Keys("tp")


def run(coro):
    return asyncio.run(coro)


def test_pack_is_resp_bulk_strings():
    assert pack([("SET", "k", 12)]) == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n12\r\n"
    assert (
        pack([("GET", "\u00e9", b"\x00")]) == b"*3\r\n$3\r\nGET\r\n$2\r\n\xc3\xa9\r\n$1\r\n\x00\r\n"
    )
    assert (
        pack([("PING",), ("ECHO", 1.5)]) == b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$3\r\n1.5\r\n"
    )
    assert pack([]) == b""


def test_pipelined_commands_from_concurrent_callers_get_their_own_replies(redis_url):
    async def main():
        conn = RespConnection(redis_url)
        await conn.execute_many([("SET", f"k{i}", f"v{i}") for i in range(50)])
        answers = await asyncio.gather(*(conn.execute("GET", f"k{i}") for i in range(50)))
        mixed = await conn.execute_many([("GET", "k1"), ("HGET", "k1", "x"), ("GET", "none")])
        conn.close()
        return answers, mixed

    answers, mixed = run(main())
    assert answers == [f"v{i}".encode() for i in range(50)]
    assert mixed[0] == b"v1" and isinstance(mixed[1], ResponseError) and mixed[2] is None


def test_commands_issued_in_one_event_loop_turn_go_out_in_one_write(redis_url):
    async def main():
        conn = RespConnection(redis_url)
        await conn.execute("PING")
        transport = conn._protocol.transport
        writes = []
        real = transport.write
        transport.write = lambda data: (writes.append(data), real(data))[1]
        answers = await asyncio.gather(*(conn.execute("ECHO", f"m{i}") for i in range(40)))
        later = await conn.execute("ECHO", "again")
        conn.close()
        return writes, answers, later

    writes, answers, later = run(main())
    assert answers == [f"m{i}".encode() for i in range(40)] and later == b"again"
    assert len(writes) == 2  # the 40 concurrent commands in one write, the last in another


def test_submitted_commands_are_queued_before_anything_issued_after_them(redis_url):
    """`submit` queues at once (no await): a command issued later, in this turn or the
    next, reaches Redis after it; the future holds the replies."""

    async def main():
        conn = RespConnection(redis_url)
        await conn.execute("DEL", "n")
        sent = conn.submit([("SET", "n", "1"), ("INCR", "n")])
        later = await conn.execute("GET", "n")
        return await sent, later, await conn.submit([]), conn.close()

    sent, later, empty, _ = run(main())
    assert sent == [b"OK", 2] and later == b"2" and empty == []


def test_an_argument_that_cannot_be_sent_raises_and_the_connection_stays_in_step(redis_url):
    async def main():
        conn = RespConnection(redis_url, timeout=1.0)
        with pytest.raises(TypeError):
            await conn.execute_many([("SET", "a", "1"), ("SET", "b", True)])  # bool: ambiguous
        replies = await conn.execute_many([("SET", "a", "2"), ("GET", "a")])
        conn.close()
        return replies

    assert run(main()) == [b"OK", b"2"]


def test_error_reply_raises_from_execute(redis_url):
    async def main():
        conn = RespConnection(redis_url)
        try:
            await conn.execute("NOSUCHCOMMAND")
        finally:
            conn.close()

    with pytest.raises(ResponseError):
        run(main())


def test_reconnects_after_the_server_restarts(redis_server, redis_url):
    async def main():
        conn = RespConnection(redis_url, timeout=1.0)
        await conn.execute("SET", "a", "1")
        redis_server.stop()
        with pytest.raises(RedisConnectionError):
            await conn.execute("GET", "a")
        redis_server.start()
        value = await conn.execute("SET", "a", "2"), await conn.execute("GET", "a")
        conn.close()
        return value

    assert run(main()) == (b"OK", b"2")


def test_a_stalled_server_fails_the_overdue_replies_and_the_next_call_reconnects(
    redis_server, redis_url
):
    async def main():
        conn = RespConnection(redis_url, timeout=0.5)
        await conn.execute("SET", "a", "1")
        os.kill(redis_server.process.pid, signal.SIGSTOP)
        try:
            with pytest.raises(RedisTimeoutError):
                await asyncio.wait_for(conn.execute("GET", "a"), 10)
        finally:
            os.kill(redis_server.process.pid, signal.SIGCONT)
        value = await conn.execute("GET", "a")
        conn.close()
        return value

    assert run(main()) == b"1"


def test_a_late_loss_of_an_old_connection_leaves_the_new_ones_replies_alone(redis_url):
    """The watchdog gives up on a connection at once; the loop reports its loss later. By
    then a new connection may have commands in flight: they keep their own replies."""

    async def main():
        conn = RespConnection(redis_url)
        await conn.execute("SET", "k", "v")
        old = conn._protocol
        conn._lost(old, RedisConnectionError("overdue"))  # as the watchdog does
        assert await conn.execute("PING") == b"PONG"  # a new connection
        pending = conn.submit([("GET", "k")])
        old.connection_lost(None)  # the old connection's loss, reported late
        old.transport.close()
        assert await asyncio.wait_for(pending, 5) == [b"v"]
        assert await conn.execute("GET", "k") == b"v"  # still in step
        conn.close()

    run(main())


def test_command_buffer_queues_what_the_store_writers_queue(redis_client, redis_url):
    buffer = CommandBuffer()
    shown = [("p1", "product"), ("o1", "offer")]
    record_answers(buffer, KEYS, [Answer("c1", "web", shown, "r1", 86400 * 100, [7])])
    counters.record_redemptions(buffer, KEYS, ["o1"])
    ((sha, script),) = buffer.scripts.items()
    redis_client.script_flush()  # not loaded yet, whatever ran before
    assert buffer.commands[0][:2] == ("EVALSHA", sha)  # the script's text is not sent

    async def main():
        conn = RespConnection(redis_url)
        missing = await conn.execute_many(buffer.commands[:1])
        await conn.execute("SCRIPT", "LOAD", script)
        replies = await conn.execute_many(buffer.commands)
        conn.close()
        return missing, replies

    missing, replies = run(main())
    assert isinstance(missing[0], NoScriptError)
    assert not [r for r in replies if isinstance(r, Exception)]
    window = read_windows(redis_url, KEYS, "c1", [7], 86400 * 100)[7]
    assert window.items == {"p1": 1, "o1": 1}
    assert window.channel_kinds == {("web", "product"): 1, ("web", "offer"): 1}
    assert redis_client.hget(counters.redeemed_key(KEYS), "o1") == b"1"


def test_one_script_reads_everything_and_survives_a_script_flush(redis_client, redis_url):
    def key(name):
        return KEYS.customer_data("serving", "v1", "c1", name)

    redis_client.set(key("recs"), pack_ranked(np.array([3, 1]), np.array([0.9, 0.5])))
    redis_client.set(key("profile"), b'{"loyalty_tier": "gold"}')
    redis_client.set(key("consumed"), pack_ranked(np.array([7]), np.array([1.0])))
    redis_client.set(key("why"), bytes([4, 255]))
    pipe = redis_client.pipeline()
    recent.append_events(pipe, KEYS, "c1", [recent.RecentEvent("p9", "click", 1_700_000_000)])
    record_answers(pipe, KEYS, [Answer("c1", "web", [("p1", "product")], "r1", 1.7e9, [7])])
    counters.record_redemptions(pipe, KEYS, ["o1", "o1"])
    record_latest(pipe, KEYS, {"customer_id": "c1", "survey": "nps", "score": 4,
                               "timestamp": "2026-01-01T00:00:00Z"})  # fmt: skip
    pipe.execute()
    redis_client.script_flush()

    async def main():
        conn = RespConnection(redis_url)
        ctx = await read_context(conn, KEYS, "v1", "c1", windows=[7], budgets=True,
                                 with_feedback=True, now=1_700_000_000)  # fmt: skip
        unknown = await read_context(conn, KEYS, "v1", "nobody", windows=[7, 30])
        conn.close()
        return ctx, unknown

    ctx, unknown = run(main())
    assert ctx.recs[0].tolist() == [3, 1] and ctx.profile == {"loyalty_tier": "gold"}
    assert ctx.consumed.tolist() == [7] and len(ctx.history[0]) == 0
    assert ctx.why == bytes([4, 255]) and unknown.why == b""
    assert [e.item_id for e in ctx.recent] == ["p9"]
    assert ctx.windows[7].item("p1") == 1 and ctx.windows[7].channel_kind("web", "product") == 1
    assert ctx.redeemed == {"o1": 2} and ctx.feedback["nps"]["score"] == 4
    assert not unknown.known and unknown.recent == [] and unknown.windows[30].items == {}


def test_window_counts_below_the_least_cap_stay_in_redis(redis_client, redis_url):
    now = 1_700_000_000
    pipe = redis_client.pipeline()
    for shown in (["p1", "p2", "p3"], ["p1", "p2"], ["p1"]):  # p1 three times, p2 twice, p3 once
        shown_as = [(i, "offer") for i in shown]
        record_answers(pipe, KEYS, [Answer("c1", "email", shown_as, "r", now, [7])])
    record_latest(pipe, KEYS, {"customer_id": "c1", "survey": "nps", "score": 9,
                               "timestamp": "2026-01-01T00:00:00Z"})  # fmt: skip
    pipe.execute()

    async def main():
        conn = RespConnection(redis_url)
        out = []
        for least in (1, 2, 3, 4):
            out.append(await read_context(conn, KEYS, "v1", "c1", windows=[7], least_shown=least,
                                          with_feedback=True, now=now))  # fmt: skip
        conn.close()
        return out

    for least, ctx in zip((1, 2, 3, 4), run(main()), strict=True):
        expected = {i: n for i, n in {"p1": 3, "p2": 2, "p3": 1}.items() if n >= least}
        assert ctx.windows[7].items == expected
        assert ctx.windows[7].channel_kind("email", "offer") == 6  # channel counts: always all
        assert ctx.feedback["nps"]["score"] == 9  # the feedback hash is never filtered


def test_a_tcp_url_with_a_database_selects_it(redis_client):
    """`redis://host:port/db`: the suite's server listens on a socket; open a TCP port too."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    redis_client.config_set("port", port)
    try:

        async def main():
            conn = RespConnection(f"redis://127.0.0.1:{port}/3")
            await conn.execute("SET", "where", "db3")
            conn.close()

        run(main())
        assert redis_client.get("where") is None  # not db 0
        assert redis_client.execute_command("SELECT", 3) and redis_client.get("where") == b"db3"
    finally:
        redis_client.execute_command("SELECT", 0)
        redis_client.config_set("port", 0)


def test_unsupported_scheme_is_a_clear_connection_error():
    async def main():
        await RespConnection("memcached://localhost").execute("PING")

    with pytest.raises(RedisConnectionError, match="unsupported Redis URL scheme"):
        run(main())


def test_a_version_published_before_consumed_existed_still_excludes_its_bought_items(
    redis_client, redis_url
):
    def key(customer, name):
        return KEYS.customer_data("serving", "old", customer, name)

    redis_client.set(key("c1", "bought"), pack_ranked(np.array([5, 9]), np.ones(2)))
    redis_client.set(key("c2", "bought"), pack_ranked(np.array([5]), np.ones(1)))
    redis_client.set(key("c2", "consumed"), pack_ranked(np.array([8]), np.ones(1)))

    async def main():
        conn = RespConnection(redis_url)
        old = await read_context(conn, KEYS, "old", "c1", windows=[7], now=1_700_000_000)
        new = await read_context(conn, KEYS, "old", "c2", windows=[7], now=1_700_000_000)
        conn.close()
        return old, new

    old, new = run(main())
    assert old.consumed.tolist() == [5, 9]
    assert new.consumed.tolist() == [8]  # the new key wins where both exist
    assert old.windows[7].items == {}  # the windows still read right after the extra key
