"""Cases page: the follow-up queue as `GET /v1/cases` lists it (`api.services.cases`), with
its filters, overdue cases marked, a page at a time (the service's cursor), and per case the
status changes its life cycle allows (`insights.followup.TRANSITIONS`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from api.deps import AppParts
from api.services.cases import case_config, list_page
from api.ui.views import Parts
from contracts.errors import TouchpointError
from contracts.requests import FILTER_MAX
from insights.followup import STATUSES, TRANSITIONS
from store.cases import ORDERS

PAGE_SIZE = 25
FILTERS = ("status", "queue", "touchpoint", "priority")
LABELS = {"contacted": "Mark contacted", "resolved": "Resolve",
          "closed_no_action": "Close, no action"}  # fmt: skip


def chosen_filters(query: Mapping[str, str]) -> dict[str, str]:
    """The filters a visitor picked (blank ones dropped, each cut to the API's limit)."""
    return {k: query[k].strip()[:FILTER_MAX] for k in FILTERS if query.get(k, "").strip()}


def next_statuses(status: str) -> list[dict[str, str]]:
    """The changes a case in `status` may take, in life-cycle order."""
    allowed = TRANSITIONS.get(status, frozenset())
    return [{"status": s, "label": LABELS.get(s, s)} for s in STATUSES if s in allowed]


async def cases_page(
    parts: AppParts, *, filters: dict[str, str], order: str, cursor: str | None
) -> dict[str, Any]:
    found = Parts()
    order = order if order in ORDERS else "newest"
    page = await found.get("cases", list_page(parts.serving, order=order, filters=filters,
                                              cursor=cursor, limit=PAGE_SIZE))  # fmt: skip
    try:
        config = case_config(parts.settings.business_rules_dir)
        queues = [q.name for q in config.queues]
        priorities = [name for name, _ in config.priorities]
    except TouchpointError as exc:  # a bad cases.yaml: the queue still lists, free-text filters
        found.problems.append(f"cases.yaml: {exc}")
        queues, priorities = [], []
    cases = [{**c, "next": next_statuses(str(c.get("status")))}
             for c in (page or {}).get("cases", [])]  # fmt: skip
    here = urlencode({**filters, "order": order})
    following = (page or {}).get("next_cursor")
    return {
        "problems": found.problems,
        "cases": cases,
        "filters": filters,
        "order": order,
        "orders": ORDERS,
        "statuses": STATUSES,
        "queues": queues,
        "priorities": priorities,
        "listed": page is not None,
        "back": f"/ui/cases?{here}" + (f"&{urlencode({'cursor': cursor})}" if cursor else ""),
        "next_url": f"/ui/cases?{here}&{urlencode({'cursor': following})}" if following else None,
        "first_url": f"/ui/cases?{here}" if cursor else None,
    }
