"""Impression windows as the API reads them: through the read script (`store.profile`)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from store.counters import WindowCounts
from store.keys import Keys
from store.profile import read_context
from store.resp import RespConnection


def read_windows(
    redis_url: str,
    keys: Keys,
    customer_id: str,
    windows: Iterable[int],
    now: float,
    *,
    least_shown: int = 1,
) -> dict[int, WindowCounts]:
    async def main() -> dict[int, WindowCounts]:
        conn = RespConnection(redis_url)
        try:
            ctx = await read_context(
                conn, keys, "v", customer_id, windows=windows, least_shown=least_shown, now=now
            )
        finally:
            conn.close()
        return ctx.windows

    return asyncio.run(main())
