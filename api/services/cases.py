"""Follow-up cases: opened as feedback is recorded, listed, read and worked through the API.

Decisions are `insights.followup`'s (threshold, severity, value, priority, queue, due time,
legal transitions); storage is `store.cases`'. Opening costs `POST /v1/feedback` nothing
when no answer crosses a threshold; when one does, one read of the customers' published
profiles (their value), and the open-or-join script rides in the intake's own pipeline.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from redis.exceptions import RedisError

from api.problems import Invalid, NotFound, PreconditionFailed, PreconditionRequired, Unavailable
from api.services.hot import connection
from api.services.insights import live_sentiment_model
from api.services.watched import WatchedFile
from api.state import ServingState
from insights.followup import (
    CLOSED,
    CONTACTED,
    RESOLVED,
    SentimentScorer,
    check_transition,
    comment_sentiments,
    is_overdue,
    needs_sentiment,
    opens_case,
    plan_case,
)
from insights.followup_config import FILE_NAME, CaseConfig, load_case_config
from store import cases as store
from store.serving import ARTIFACT

log = logging.getLogger("touchpoint.api")
_CASE_CONFIGS = WatchedFile(lambda path: load_case_config(path.parent))


def case_config(directory: Path, *, strict: bool = False) -> CaseConfig:
    """`cases.yaml` of the rules directory, re-read when the file changes (one `stat`); a
    bad edit keeps the previous configuration in force (`strict`, start-up: it fails)."""
    return _CASE_CONFIGS.current(directory / FILE_NAME, strict=strict)


async def append_planning_cases(
    state: ServingState,
    append: Awaitable[list[bool]],
    answers: Sequence[Mapping[str, Any]],
    *,
    scorer: SentimentScorer | None = None,
) -> tuple[list[bool], list[dict[str, Any]]]:
    """Await the intake's `append` and, when an answer crosses a threshold, plan its case at
    the same time (the customers' value is read concurrently: no extra round trip after).
    A comment whose score opens no case is scored by the live insights version's sentiment
    model (`scorer`, else the one cached in-process per published version; none: skipped)."""
    config = case_config(state.settings.business_rules_dir)
    if scorer is None and any(needs_sentiment(a, config) for a in answers):
        scorer = await comment_scorer(state)
    if scorer is None and not any(opens_case(a, config) for a in answers):
        return await append, []
    planning = plan_cases(state, answers, scorer=scorer, config=config)
    fresh, planned = await asyncio.gather(append, planning)
    return fresh, planned


async def plan_cases(
    state: ServingState,
    answers: Sequence[Mapping[str, Any]],
    *,
    scorer: SentimentScorer | None = None,
    config: CaseConfig | None = None,
) -> list[dict[str, Any]]:
    """The cases the new `answers` open (or join). `scorer`: a sentiment model for comments
    (`comment_scorer`); without it only scores count."""
    config = config or case_config(state.settings.business_rules_dir)
    sentiments = comment_sentiments(answers, config, scorer)
    opening = [
        (a, s)
        for a, s in zip(answers, sentiments, strict=True)
        if opens_case(a, config, sentiment=s) is not None
    ]
    if not opening:
        return []
    profiles = await _profiles(state, {str(a["customer_id"]) for a, _ in opening})
    now = datetime.now(UTC)
    planned = [
        plan_case(a, profiles.get(str(a["customer_id"])), config, now=now, sentiment=s)
        for a, s in opening
    ]
    return [p for p in planned if p is not None]


async def comment_scorer(state: ServingState) -> SentimentScorer | None:
    """The live insights version's sentiment model: no round trip once loaded (the live
    pointer is re-read at most every `refresh_seconds`, the model once per version). None
    when none is published or it cannot be read: intake then goes on by scores alone."""
    try:
        return await live_sentiment_model(state)
    except (Unavailable, ValueError) as exc:
        log.warning("comments not scored for follow-up cases: %s", exc)
        return None


async def _profiles(state: ServingState, customers: set[str]) -> dict[str, dict[str, Any]]:
    """The published profiles (tier, RFM segment, spend) of `customers`: one round trip."""
    shared, conn = state.shared, connection(state)
    if shared is None or conn is None:
        return {}
    order = sorted(customers)
    # on the hot-path connection (`store.resp`): a fraction of redis-py's CPU per command
    raw = await conn.execute(
        "MGET", *(state.keys.customer_data(ARTIFACT, shared.version, c, "profile") for c in order)
    )
    return {c: orjson.loads(r) for c, r in zip(order, raw, strict=True) if r}


def queue_follow_up(pipe: Any, state: ServingState, planned: Sequence[dict[str, Any]]) -> None:
    """Queue on the intake's pipeline the planned cases (open or join, each with its case
    events)."""
    now_iso = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for case in planned:
        store.queue_open_case(pipe, state.keys, case, now_iso=now_iso, cluster=state.cluster)


def shown(case: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """A case as the API answers it: `overdue` worked out now."""
    case["overdue"] = is_overdue(case, now or datetime.now(UTC))
    return case


def _client(state: ServingState) -> Any:
    if state.client is None:
        raise Unavailable("Redis is not connected")
    return state.client


async def get_case(state: ServingState, case_id: str) -> dict[str, Any]:
    try:
        case = await store.read_case(_client(state), state.keys, case_id)
    except (RedisError, OSError) as exc:
        state.mark_unavailable(exc)
        raise Unavailable("cases are unavailable right now; retry shortly") from None
    if case is None:
        raise NotFound(f"no case {case_id!r}", case_id=case_id)
    return shown(case)


async def list_page(
    state: ServingState,
    *,
    order: str,
    filters: Mapping[str, str | None],
    cursor: str | None,
    limit: int,
) -> dict[str, Any]:
    wanted = {k: v for k, v in filters.items() if v}
    try:
        page = await store.list_cases(
            _client(state), state.keys, order=order, filters=wanted, cursor=cursor, limit=limit
        )
    except ValueError as exc:
        raise Invalid(f"cursor: {exc}", pointer="cursor") from None
    except (RedisError, OSError) as exc:
        state.mark_unavailable(exc)
        raise Unavailable("cases are unavailable right now; retry shortly") from None
    now = datetime.now(UTC)
    return {
        "cases": [shown(c, now) for c in page.cases],
        "next_cursor": page.cursor,
        "order": order,
        "filters": wanted,
    }


def parse_if_match(header: str | None) -> int | None:
    """The version an `If-Match` names (`"3"`, `W/"3"`, `3`); None for `*`."""
    if header is None:
        raise PreconditionRequired("send If-Match with the case's ETag (its version)")
    text = header.strip()
    if text == "*":
        return None
    text = text.removeprefix("W/").strip('"')
    if not text.isdigit():
        raise PreconditionFailed(f"If-Match {header!r} names no version of this case")
    return int(text)


async def change_case(
    state: ServingState,
    case_id: str,
    *,
    if_match: str | None,
    status: str | None,
    assignee: str | None,
    note: str | None,
) -> dict[str, Any]:
    """Apply a status change (legal transitions only: 409), an assignee and/or a note, if the
    case is still at the version `If-Match` names (else 412)."""
    wanted = parse_if_match(if_match)
    case = await get_case(state, case_id)
    if wanted is not None and wanted != case["version"]:
        raise PreconditionFailed(
            f"case {case_id} is at version {case['version']}, not {wanted}; re-read it",
            current_version=case["version"],
        )
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    changes: dict[str, str] = {"updated_at": now}
    if status is not None:
        check_transition(case["status"], status)
        changes["status"] = status
        if status == CONTACTED and not case.get("contacted_at"):
            changes["contacted_at"] = now
        stamp = {RESOLVED: "resolved_at", CLOSED: "closed_at"}.get(status)
        if stamp and status != case["status"]:
            changes[stamp] = now
    if assignee is not None:
        changes["assignee"] = assignee
    kind = "case.resolved" if status == RESOLVED and case["status"] != RESOLVED else "case.updated"
    entry = {"at": now, "note": note, "status": status or case["status"]} if note else None
    try:
        result = await store.update_case(
            _client(state), state.keys, case, version=case["version"], changes=changes,
            note=entry, kind=kind, cluster=state.cluster,
        )  # fmt: skip
    except (RedisError, OSError) as exc:
        state.mark_unavailable(exc)
        raise Unavailable("the case could not be changed; retry") from None
    if result.outcome == "missing":
        raise NotFound(f"no case {case_id!r}", case_id=case_id)
    if result.outcome == "stale":  # changed between our read and our write
        raise PreconditionFailed(
            f"case {case_id} changed meanwhile (now version {result.version}); re-read it",
            current_version=result.version,
        )
    return await get_case(state, case_id)
