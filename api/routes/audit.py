"""The audit trail over HTTP (scope `admin`): `GET /v1/audit?since=&after=&limit=`.

Entries oldest first from `since` (ISO 8601; a time without zone is UTC), at most `limit`;
`next` is the `after` of the following page (null on the last one). The trail in Redis keeps
the latest entries (`store.audit.MAXLEN`); older ones are in `DATA/audit/` after an ingest.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from redis.exceptions import RedisError
from starlette.responses import Response

from api.deps import StateDep
from api.problems import Unavailable
from api.responses import OrjsonResponse
from api.services import audit
from contracts.requests import PAGE_MAX

router = APIRouter(prefix="/v1/audit", tags=["audit"])
AUDIT_PAGE = 100  # entries per page unless `limit` says otherwise


@router.get("")
async def list_audit(
    state: StateDep,
    since: Annotated[datetime | None, Query(description="ISO 8601; UTC when no zone")] = None,
    after: Annotated[
        str | None, Query(pattern=r"^\d{1,19}-\d{1,19}$", description="`next` of a page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = AUDIT_PAGE,
) -> Response:
    """Who changed what, when, and the outcome."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    try:
        found = await audit.entries(state, since=since, after=after, limit=limit)
    except (RedisError, OSError):
        raise Unavailable("the audit trail cannot be read right now") from None
    following = found[-1]["id"] if len(found) == limit else None
    return OrjsonResponse({"entries": found, "next": following})
