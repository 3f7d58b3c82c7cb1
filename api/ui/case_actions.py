"""The case form (POST, with the session's CSRF token): change a case's status as
`PATCH /v1/cases/{id}` does (`api.services.cases.change_case`), with the version the page
showed as `If-Match` — a case changed meanwhile is refused with a message, not overwritten.
Every change is logged with who made it (`api.ui.session.record_action`)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from api.deps import parts_of
from api.problems import PreconditionFailed
from api.services.cases import change_case
from api.ui.session import current_viewer, notice_mark, read_form, record_action, secret_of
from contracts.errors import TouchpointError
from contracts.requests import COMMENT_MAX
from insights.followup import STATUSES

router = APIRouter(prefix="/ui", include_in_schema=False)


def back_to(path: str | None) -> str:
    """The cases page the form came from (its filters and page); never another site."""
    if path and path.startswith("/ui/cases") and "\\" not in path and "//" not in path:
        return path
    return "/ui/cases"


async def _back(request: Request, path: str, message: str, *, refused: bool = True) -> Response:
    """303 to the cases page with the signed notice; a refusal is shown as a warning."""
    mark = notice_mark(await secret_of(request), message)
    glue = "&" if "?" in path else "?"
    level = "&level=warn" if refused else ""
    return RedirectResponse(f"{path}{glue}notice={quote(message)}&mark={mark}{level}",
                            status_code=303)  # fmt: skip


@router.post("/cases/{case_id}/status")
async def case_status(request: Request, case_id: str) -> Response:
    viewer = await current_viewer(request)
    form = await read_form(request, viewer)
    back = back_to(form.get("back"))
    status, version = form.get("status", ""), form.get("version", "").strip()
    note = form.get("note", "").strip()[:COMMENT_MAX] or None
    if status not in STATUSES:
        return await _back(request, back, f"{case_id} not changed: unknown status {status!r}")
    if not version.isdigit():
        return await _back(request, back, f"{case_id} not changed: the form named no version")
    try:
        case = await change_case(
            parts_of(request.app).serving, case_id, if_match=f'"{version}"', status=status,
            assignee=None, note=note,
        )  # fmt: skip
    except PreconditionFailed:
        message = (f"{case_id} was not changed: someone changed it after this page was shown. "
                   "The list below shows it as it is now; check it and try again.")  # fmt: skip
        return await _back(request, back, message)
    except TouchpointError as exc:
        return await _back(request, back, f"{case_id} not changed: {exc}")
    await record_action(request, viewer, "case status", case_id,
                        f"-> {status} (version {version} -> {case['version']})")  # fmt: skip
    return await _back(request, back, f"{case_id} is now {status}", refused=False)
