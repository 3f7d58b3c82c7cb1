"""The post-answer writer on the hot connection, against a real redis-server."""

from __future__ import annotations

import asyncio

from api.app import create_app
from api.services.impressions import ImpressionWriter, writer_for
from api.settings import ApiSettings
from store.answers import PER_CALL, Answer
from store.keys import Keys
from store.profile import read_context
from store.resp import RespConnection
from tests.api.personal_factories import bundle, catalogue, publish
from tests.attribution import read_attribution
from tests.windows import read_windows

KEYS = Keys("tp")
NOW = 1_700_000_000.0


def answer(customer_id: str, rec_id: str) -> Answer:
    return Answer(customer_id, "web", [("p1", "product"), ("o1", "offer")], rec_id, NOW, [7, 1])


def counts(redis_url, customer_id: str, days: int) -> dict[str, int]:
    """The window's counts by field name (`i:<item>`, `c:<channel>:<kind>`), as read back."""
    window = read_windows(redis_url, KEYS, customer_id, [days], NOW)[days]
    fields = {f"i:{item_id}": n for item_id, n in window.items.items()}
    fields.update({f"c:{ch}:{kind}": n for (ch, kind), n in window.channel_kinds.items()})
    return fields


def script_calls(redis_client) -> int:
    return redis_client.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)


def test_answers_of_one_loop_turn_go_out_as_one_call(redis_client, redis_url):
    async def main():
        writer = ImpressionWriter(RespConnection(redis_url), KEYS)
        writer.add(answer("c0", "r0"))
        await writer.flushed()  # loads the script
        redis_client.config_resetstat()
        for i in range(1, 21):
            writer.add(answer(f"c{i}", f"r{i}"))
        await writer.flushed()
        calls = script_calls(redis_client)
        writer.conn.close()
        return calls

    assert asyncio.run(main()) == 1
    for i in range(21):
        assert counts(redis_url, f"c{i}", 7)["i:p1"] == 1
        assert read_attribution(redis_client, f"r{i}")["customer_id"] == f"c{i}"


def test_the_writer_loads_the_script_and_sends_again_after_a_flush(redis_client, redis_url):
    async def main():
        writer = ImpressionWriter(RespConnection(redis_url), KEYS)
        redis_client.script_flush()
        writer.add(answer("c1", "r1"))  # the script was never loaded
        await writer.flushed()
        redis_client.script_flush()  # as after a restart
        for i in (1, 2, 3):
            writer.add(answer(f"c{i}", f"r{i}"))
        await writer.flushed()
        writer.conn.close()

    asyncio.run(main())
    for customer_id, shows in (("c1", 2), ("c2", 1), ("c3", 1)):  # none twice
        for days in (1, 7):
            assert counts(redis_url, customer_id, days) == {
                "i:p1": shows, "i:o1": shows, "c:web:product": shows, "c:web:offer": shows
            }  # fmt: skip
    assert read_attribution(redis_client, "r3")["items"] == ["p1", "o1"]


def test_every_call_of_a_large_turn_is_sent_again_after_a_flush_and_counted_once(
    redis_client, redis_url
):
    async def main():
        writer = ImpressionWriter(RespConnection(redis_url), KEYS)
        redis_client.script_flush()  # as after a restart: every call of the turn meets it
        for i in range(PER_CALL + 44):  # two calls
            writer.add(answer(f"c{i}", f"r{i}"))
        await writer.flushed()
        writer.conn.close()

    asyncio.run(main())
    for i in (0, PER_CALL - 1, PER_CALL, PER_CALL + 43):
        assert counts(redis_url, f"c{i}", 7) == {
            "i:p1": 1, "i:o1": 1, "c:web:product": 1, "c:web:offer": 1
        }  # fmt: skip


def test_answers_that_showed_nothing_write_nothing_and_return(redis_client, redis_url):
    async def main():
        writer = ImpressionWriter(RespConnection(redis_url), KEYS)
        empty = Answer("c1", "web", [], "r1", NOW, [7])
        writer.add(empty)
        writer.add(empty)
        await asyncio.wait_for(writer.flushed(), 5)
        writer.conn.close()

    asyncio.run(main())
    assert redis_client.keys("*") == []


def test_an_answers_writes_reach_redis_before_a_read_of_a_later_turn(redis_client, redis_url):
    """A client's next request reaches the API in a later loop turn than its answer (whose
    writes were handed over as it was made): its read must see the counts."""

    async def main():
        conn = RespConnection(redis_url)
        writer = ImpressionWriter(conn, KEYS)
        await conn.execute("PING")
        writer.add(answer("c1", "r1"))  # the answer hands its writes over
        await asyncio.sleep(0)  # a later turn: the next request's read
        seen = (await read_context(conn, KEYS, "v", "c1", windows=[7], now=NOW)).windows[7]
        conn.close()
        return seen

    assert asyncio.run(main()).item("p1") == 1


def test_a_cancelled_wait_for_the_writes_loses_none_of_them(redis_client, redis_url):
    async def main():
        writer = ImpressionWriter(RespConnection(redis_url), KEYS)
        writer.add(answer("c1", "r1"))
        writer.add(answer("c2", "r2"))
        waiting = asyncio.ensure_future(writer.flushed())
        await asyncio.sleep(0)
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        await writer.flushed()
        writer.conn.close()
        return waiting.cancelled()

    assert asyncio.run(main())
    assert counts(redis_url, "c1", 7)["i:p1"] == 1
    assert counts(redis_url, "c2", 7)["i:p1"] == 1


def test_nothing_queued_is_nothing_to_wait_for(redis_url):
    async def main():
        writer = ImpressionWriter(RespConnection(redis_url), KEYS)
        await asyncio.wait_for(writer.flushed(), 1)
        writer.conn.close()

    asyncio.run(main())


def test_writes_to_a_redis_that_is_gone_are_dropped_and_later_ones_written(
    redis_server, redis_client, redis_url
):
    async def main():
        writer = ImpressionWriter(RespConnection(redis_url, timeout=0.5), KEYS)
        await writer.conn.execute("PING")
        redis_server.stop()
        try:
            writer.add(answer("c1", "r1"))
            await writer.flushed()  # returns, raising nothing: the answer is out
        finally:
            redis_server.start()
        writer.add(answer("c2", "r2"))
        await writer.flushed()  # reconnects
        writer.conn.close()

    asyncio.run(main())
    assert counts(redis_url, "c2", 7)["i:p1"] == 1


def test_the_app_writes_what_its_answers_queued_before_it_shuts_down(
    redis_client, redis_url, store_config
):
    """Answers queue their writes and nothing waits for them: stopping the app waits for
    them before closing its Redis connection, so the last answers are counted too."""
    publish(redis_client, store_config, bundle(catalogue()))
    app = create_app(ApiSettings(data_dir=store_config.data_dir, redis_url=redis_url))

    async def main():
        async with app.router.lifespan_context(app):
            writer_for(app.parts.serving).add(answer("c1", "r1"))  # then at once: shut down

    asyncio.run(main())
    assert counts(redis_url, "c1", 7)["i:p1"] == 1
    assert read_attribution(redis_client, "r1")["items"] == ["p1", "o1"]
