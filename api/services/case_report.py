"""`GET /v1/cases/report`: every case and the customers' latest NPS, through
`insights.case_report` (the same function as `touchpoint cases report`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from redis.exceptions import RedisError

from api.problems import Unavailable
from api.state import ServingState
from insights.case_report import report as build_report
from store.cases import all_cases, latest_nps


async def report(state: ServingState) -> dict[str, Any]:
    if state.client is None:
        raise Unavailable("Redis is not connected")
    try:
        cases = await all_cases(state.client, state.keys)
        customers = sorted({str(c["customer_id"]) for c in cases})
        latest = await latest_nps(state.client, state.keys, customers)
    except (RedisError, OSError) as exc:
        state.mark_unavailable(exc)
        raise Unavailable("cases are unavailable right now; retry shortly") from None
    return build_report(cases, latest, datetime.now(UTC))
