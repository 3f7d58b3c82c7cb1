"""Follow-up cases for service teams (scope `cases:write`, reading included, or `admin`).

- `GET /v1/cases?status=&queue=&touchpoint=&priority=&order=newest|urgent&cursor=&limit=`
  — a page and `next_cursor` (stable: pass it back unchanged with the same order)
- `GET /v1/cases/report` — time to first contact and to resolution per queue, share within
  SLA, next NPS of resolved vs unresolved cases (observational)
- `GET /v1/cases/{case_id}` — the case with its notes; `ETag` is its version
- `PATCH /v1/cases/{case_id}` — status / assignee / note; `If-Match` required (412 when
  stale, 428 when missing), 409 for a transition the life cycle forbids
Every case says whether it is `overdue` (open or contacted past `due_at`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from starlette.responses import Response

from api.deps import StateDep
from api.responses import OrjsonResponse
from api.services import case_report
from api.services.cases import change_case, get_case, list_page
from contracts.requests import COMMENT_MAX, FILTER_MAX, ID_MAX, ID_PATTERN, TOUCHPOINT_MAX
from insights.followup import STATUSES

router = APIRouter(prefix="/v1/cases", tags=["cases"])
CaseId = Annotated[str, Path(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN)]
Status = Literal[STATUSES]  # type: ignore[valid-type]
LIST_MAX = 200


class CaseChange(BaseModel):
    """What an agent changes: at least one of status, assignee, note."""

    model_config = ConfigDict(extra="forbid")

    status: Status | None = Field(
        default=None, description="open → contacted → resolved | closed_no_action"
    )
    assignee: Annotated[str, StringConstraints(max_length=ID_MAX)] | None = None
    note: Annotated[str, StringConstraints(min_length=1, max_length=COMMENT_MAX)] | None = None

    @model_validator(mode="after")
    def _something(self) -> CaseChange:
        if self.status is None and self.assignee is None and self.note is None:
            raise ValueError("send at least one of status, assignee, note")
        return self


def _with_etag(case: dict[str, Any]) -> Response:
    return OrjsonResponse(case, headers={"ETag": f'"{case["version"]}"'})


@router.get("")
async def list_cases(
    state: StateDep,
    status: Status | None = None,
    queue: Annotated[str | None, Query(max_length=FILTER_MAX)] = None,
    touchpoint: Annotated[str | None, Query(max_length=TOUCHPOINT_MAX)] = None,
    priority: Annotated[str | None, Query(max_length=FILTER_MAX)] = None,
    order: Literal["newest", "urgent"] = "newest",
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
    limit: Annotated[int, Query(ge=1, le=LIST_MAX)] = 50,
) -> Response:
    """Cases matching every filter given, newest or most urgent first, a page at a time."""
    filters = {"status": status, "queue": queue, "touchpoint": touchpoint, "priority": priority}
    page = await list_page(state, order=order, filters=filters, cursor=cursor, limit=limit)
    return OrjsonResponse(page)


@router.get("/report")
async def report(state: StateDep) -> Response:
    """Did closing the loop help? Timing per queue and next NPS, resolved vs not."""
    return OrjsonResponse(await case_report.report(state))


@router.get("/{case_id}")
async def show_case(state: StateDep, case_id: CaseId) -> Response:
    """One case with its notes; its version is the `ETag` to send back in `If-Match`."""
    return _with_etag(await get_case(state, case_id))


@router.patch("/{case_id}")
async def patch_case(
    state: StateDep,
    case_id: CaseId,
    change: CaseChange,
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Change status, assignee and/or add a note, if the case is still at `If-Match`."""
    case = await change_case(
        state, case_id, if_match=if_match, status=change.status,
        assignee=change.assignee, note=change.note,
    )  # fmt: skip
    return _with_etag(case)
