"""What answers leave in Redis (impression counts, what each served), many in one call."""

from __future__ import annotations

import asyncio
import random

import orjson
import pytest

from store.answers import PER_CALL, Answer, record_answers
from store.counters import DAY, FOLD, log_key, window_key
from store.keys import Keys
from store.resp import CommandBuffer, RespConnection
from tests.attribution import read_attribution
from tests.windows import read_windows

KEYS = Keys("tp")
NOW = 1_700_000_000.0


def write(redis_client, redis_url, answers, via="redis-py pipeline", **kwargs):
    """Queue the answers on a redis-py pipeline or on the API's command buffer, and send."""
    if via == "redis-py pipeline":
        pipe = redis_client.pipeline(transaction=False)
        record_answers(pipe, KEYS, answers, **kwargs)
        assert len(pipe.command_stack) == -(-len(answers) // PER_CALL)
        pipe.execute()
        return
    buffer = CommandBuffer()
    record_answers(buffer, KEYS, answers, **kwargs)
    calls = -(-sum(1 for a in answers if a.shown) // PER_CALL)  # PER_CALL answers a call
    assert [c[0] for c in buffer.commands] == ["EVALSHA"] * calls

    async def main():
        conn = RespConnection(redis_url)
        loads = [("SCRIPT", "LOAD", text) for text in buffer.scripts.values()]
        replies = await conn.execute_many(loads + buffer.commands)
        conn.close()
        return replies

    assert not [r for r in asyncio.run(main()) if isinstance(r, Exception)]


def window(redis_url, customer_id, days, now=NOW):
    """The window's counts as `{field: count}`, with the field names Redis holds."""
    counts = read_windows(redis_url, KEYS, customer_id, [days], now)[days]
    fields = {f"i:{item_id}": n for item_id, n in counts.items.items()}
    fields.update({f"c:{ch}:{kind}": n for (ch, kind), n in counts.channel_kinds.items()})
    return fields


@pytest.mark.parametrize("via", ["redis-py pipeline", "command buffer"])
def test_one_call_counts_every_answer_in_every_window(redis_client, redis_url, via):
    """Random answers (customers, channels, repeated items, id-like text) in one call give
    the counts of every shown item and (channel, kind), counted here, in every window."""
    rng = random.Random(5)
    customers, channels = ["c1", "c:2", "c{3}"], ["web", "email"]
    items = [("p1", "product"), ("o1", "offer"), ("p:2", "product"), ("r1", "reward")]
    answers, expected = [], {}
    for n in range(40):
        customer, channel = rng.choice(customers), rng.choice(channels)
        shown = [rng.choice(items) for _ in range(rng.randint(1, 5))]
        answers.append(Answer(customer, channel, shown, f"r{n}", NOW, (7, 1, 30, 7)))
        fields = expected.setdefault(customer, {})
        for item_id, kind in shown:
            for name in (f"i:{item_id}", f"c:{channel}:{kind}"):
                fields[name] = fields.get(name, 0) + 1
    write(redis_client, redis_url, answers, via)
    window_keys = set()
    for customer, fields in expected.items():
        for days in (1, 7, 30):
            assert window(redis_url, customer, days) == fields
            key = window_key(KEYS, customer, days, NOW)
            assert key == f"tp:c:{{{customer}}}:freq:{days}d:{int(NOW // DAY) // days}"
            window_keys |= {key.encode(), log_key(key).encode()}
            for held in (key, log_key(key)):  # each, if it exists, expires a day after
                ttl = redis_client.ttl(held)
                assert ttl == -2 or (days + 1) * DAY - 60 < ttl <= (days + 1) * DAY
    assert set(redis_client.keys("tp:c:*")) <= window_keys


def test_each_answer_records_what_it_served_for_attribution(redis_client, redis_url):
    answers = [
        Answer("c1", "web", [("p1", "product"), ("o1", "offer")], "r_a", NOW, (7,)),
        Answer("c2", "app", [("p9", "product")], "r_b", NOW, ()),  # no window: served only
    ]
    write(redis_client, redis_url, answers, "command buffer", served_ttl=3600)
    assert read_attribution(redis_client, "r_a")["items"] == ["p1", "o1"]
    assert read_attribution(redis_client, "r_a")["customer_id"] == "c1"
    served = redis_client.hgetall(KEYS.recommendation("r_b", "served"))
    assert served == {b"customer": b"c2", b"items": orjson.dumps(["p9"])}
    assert 3540 < redis_client.ttl(KEYS.recommendation("r_b", "served")) <= 3600
    assert window(redis_url, "c2", 7) == {}
    assert window(redis_url, "c1", 7) == {
        "i:p1": 1, "i:o1": 1, "c:web:product": 1, "c:web:offer": 1
    }  # fmt: skip


def test_item_ids_reach_their_fields_byte_for_byte(redis_client, redis_url):
    """The ids travel as JSON (the served list and each window's record): quotes,
    backslashes, non-ASCII and digits-only ids must still be counted under `i:<id>` exactly
    as the readers spell it, logged and once folded, and be served as the same strings."""
    ids = ['say "hi"', "back\\slash", "café-ü", "007", "a b", "[1]", "x/y"]
    shown = [(i, "product") for i in ids]
    write(redis_client, redis_url, [Answer("c1", "web", shown, "r1", NOW, (7,))])
    assert window(redis_url, "c1", 7) == {**{f"i:{i}": 1 for i in ids}, "c:web:product": 7}
    assert read_attribution(redis_client, "r1")["items"] == ids
    more = [Answer("c1", "web", shown, f"r{n}", NOW, (7,)) for n in range(2, FOLD + 1)]
    write(redis_client, redis_url, more)
    assert not redis_client.exists(log_key(window_key(KEYS, "c1", 7, NOW)))  # folded
    assert window(redis_url, "c1", 7) == {
        **{f"i:{i}": FOLD for i in ids},
        "c:web:product": 7 * FOLD,
    }


def test_a_turn_of_thousands_of_answers_goes_as_calls_of_at_most_per_call_answers(
    redis_client, redis_url
):
    """A script blocks Redis while it runs: 3,000 answers go as 12 calls (256 a call), and
    every answer is counted and served, whichever call carried it."""
    shown = [(f"p{i}", "product") for i in range(10)]
    answers = [Answer(f"c{n % 500}", "web", shown, f"r{n}", NOW, (7,)) for n in range(3000)]
    buffer = CommandBuffer()
    record_answers(buffer, KEYS, answers)
    assert PER_CALL == 256 and len(buffer.commands) == 12
    write(redis_client, redis_url, answers, "command buffer")
    for customer in ("c0", "c255", "c256", "c499"):
        fields = window(redis_url, customer, 7)
        assert fields["i:p0"] == fields["i:p9"] == 6 and fields["c:web:product"] == 60
    for n in (0, 255, 256, 2999):
        assert read_attribution(redis_client, f"r{n}")["customer_id"] == f"c{n % 500}"


def test_nothing_shown_or_no_answer_queues_nothing():
    buffer = CommandBuffer()
    record_answers(buffer, KEYS, [])
    record_answers(buffer, KEYS, [Answer("c1", "web", [], "r1", NOW, (7,))])
    assert buffer.commands == []


def test_answers_on_either_side_of_midnight_count_in_their_own_windows(redis_client, redis_url):
    midnight = (NOW // DAY + 1) * DAY
    answers = [
        Answer("c1", "web", [("x", "product")], "r1", midnight - 1, (1,)),
        Answer("c1", "web", [("x", "product")], "r2", midnight, (1,)),
    ]
    write(redis_client, redis_url, answers, "command buffer")
    assert window(redis_url, "c1", 1, midnight - 1)["i:x"] == 1
    assert window(redis_url, "c1", 1, midnight)["i:x"] == 1
