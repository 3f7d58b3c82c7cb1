"""Recording a survey ask is compare-and-set: of two replicas that read the same state and
both decided to ask, exactly one records it, however they interleave."""

from __future__ import annotations

import asyncio

from store.keys import Keys
from store.resp import RespConnection
from store.surveys import read_survey_state, record_ask

KEYS = Keys()


def test_of_two_concurrent_asks_exactly_one_is_recorded(redis_url: str) -> None:
    async def go() -> tuple[list[bool], dict[str, float], str]:
        a, b = RespConnection(redis_url), RespConnection(redis_url)
        try:
            seen_a = await read_survey_state(a, KEYS, None, "c1")
            seen_b = await read_survey_state(b, KEYS, None, "c1")
            done = await asyncio.gather(
                record_ask(
                    a,
                    KEYS,
                    "c1",
                    token=seen_a.token,
                    survey="nps",
                    now=100.0,
                    decision={"survey": "nps"},
                    ttl=3600,
                ),
                record_ask(
                    b,
                    KEYS,
                    "c1",
                    token=seen_b.token,
                    survey="ces",
                    now=101.0,
                    decision={"survey": "ces"},
                    ttl=3600,
                ),
            )
            after = await read_survey_state(a, KEYS, None, "c1")
            return list(done), after.asked, after.token
        finally:
            a.close()
            b.close()

    done, asked, token = asyncio.run(go())
    assert sorted(done) == [False, True]
    winner = "nps" if done[0] else "ces"
    assert list(asked) == [winner] and token == repr(asked[winner])
