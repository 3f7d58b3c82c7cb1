"""The case store's listing against a real Redis: stable cursors through ties (cases opened
in the same millisecond) and through cases leaving the filtered index between pages."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import redis.asyncio as aioredis

from insights.followup import plan_case
from insights.followup_config import CaseConfig
from store.cases import list_cases, queue_open_case, read_case, update_case
from store.keys import Keys

KEYS = Keys()
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def open_cases(redis_client, n: int) -> None:
    pipe = redis_client.pipeline(transaction=False)
    for i in range(n):  # all opened at the same instant: every score ties
        answer = {"customer_id": f"c{i:03d}", "survey": "nps", "score": 2, "touchpoint": "web"}
        case = plan_case(answer, None, CaseConfig(), now=NOW)
        queue_open_case(pipe, KEYS, case, now_iso="2026-12-01T12:00:00Z")
    pipe.execute()


async def walk(url: str, *, change_after_first: bool = False, **filters: str) -> list[str]:
    client = aioredis.Redis.from_url(url)
    seen: list[str] = []
    cursor = None
    try:
        while True:
            page = await list_cases(client, KEYS, filters=filters, cursor=cursor, limit=4)
            seen += [c["customer_id"] for c in page.cases]
            if change_after_first and len(seen) == 4:  # the page's last case is contacted
                case = await read_case(client, KEYS, page.cases[-1]["case_id"])
                assert case is not None
                await update_case(client, KEYS, case, version=case["version"],
                                  changes={"status": "contacted"}, note=None,
                                  kind="case.updated")  # fmt: skip
            cursor = page.cursor
            if cursor is None:
                return seen
    finally:
        await client.aclose()


def test_paging_through_tied_scores_sees_every_case_once(redis_client, redis_url):
    open_cases(redis_client, 23)
    seen = asyncio.run(walk(redis_url))
    assert len(seen) == 23 and len(set(seen)) == 23


def test_paging_survives_the_cursor_case_leaving_the_filtered_index(redis_client, redis_url):
    open_cases(redis_client, 23)
    seen = asyncio.run(walk(redis_url, change_after_first=True, status="open"))
    assert len(seen) == 23 and len(set(seen)) == 23  # the changed case was on page one


def test_urgent_order_with_a_priority_reads_only_that_priority(redis_client, redis_url):
    config = CaseConfig()
    pipe = redis_client.pipeline(transaction=False)
    for i in range(30):  # scores 0, 4, 6: severity 3, 2, 1 × value 1 → p2, p2, p3
        answer = {"customer_id": f"c{i:03d}", "survey": "nps", "score": (0, 4, 6)[i % 3],
                  "touchpoint": ("web", "store")[i % 2]}  # fmt: skip
        queue_open_case(pipe, KEYS, plan_case(answer, None, config, now=NOW), now_iso="x")
    pipe.execute()

    async def listing(**filters: str) -> list[dict]:
        client = aioredis.Redis.from_url(redis_url)
        try:
            page = await list_cases(client, KEYS, order="urgent", filters=filters, limit=50)
            return page.cases
        finally:
            await client.aclose()

    p3 = asyncio.run(listing(priority="p3"))
    assert len(p3) == 10 and {c["score"] for c in p3} == {6}
    p2_web = asyncio.run(listing(priority="p2", touchpoint="web"))
    assert len(p2_web) == 10 and {c["touchpoint"] for c in p2_web} == {"web"}
    assert asyncio.run(listing(priority="p9")) == []
