"""Personalised answers: one session (one Redis round trip), one or more slots, one id.

Used by every list endpoint and by `POST /v1/personalize`. Impressions are counted, and what
the recommendation id served is recorded for attribution, after the answer has been sent:
each answer queues its writes, and the answers of one event-loop turn share one script call
at the start of the next (`api.services.impressions`), so this adds no round trip before the
response; if Redis is gone by then the counts are lost.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple

from api.prometheus import Metrics
from api.services import slots
from api.services.experiment_serving import (
    After,
    serving_definitions,
    serving_plan,
    tag_experiments,
)
from api.services.impressions import writer_for
from api.services.session import Session, open_session
from api.state import ServingState
from recsys.business_rules import RuleBook, Rules, all_windows, least_item_cap
from store.answers import Answer
from store.serving import SharedServing

log = logging.getLogger("touchpoint.api")


class SlotRequest(NamedTuple):  # a NamedTuple: made per request, ~5x cheaper than frozen
    name: str
    kind: str
    k: int
    category: str | None = None
    exclude: frozenset[str] = frozenset()
    context_item: str | None = None


_WINDOWS: dict[int, tuple[Rules, frozenset[int]]] = {}  # id -> (rules, their windows)
_BOOKS: dict[int, tuple[RuleBook, frozenset[int], int]] = {}  # id -> (book, windows, least)


def _windows(rules: Rules) -> frozenset[int]:
    """`rules.windows`, computed once per resolved rules object (they are cached and frozen)."""
    found = _WINDOWS.get(id(rules))
    if found is None or found[0] is not rules:
        if len(_WINDOWS) > 256:
            _WINDOWS.clear()
        found = _WINDOWS[id(rules)] = (rules, rules.windows)
    return found[1]


def _book(book: RuleBook) -> tuple[frozenset[int], int]:
    """Once per rule book (a reload makes a new book): every window any rules count
    impressions in, and the fewest showings of an item any rule acts on (2**31 when none)."""
    found = _BOOKS.get(id(book))
    if found is None or found[0] is not book:
        if len(_BOOKS) > 16:
            _BOOKS.clear()
        least = least_item_cap(book) or 2**31
        found = _BOOKS[id(book)] = (book, all_windows(book), least)
    return found[1], found[2]


_ID_PREFIX = "r_" + os.urandom(4).hex()  # random per process…
_ID_COUNTER = itertools.count(int.from_bytes(os.urandom(4)))  # …then counted: no syscall


def new_recommendation_id() -> str:
    """`r_` and 16 hex digits, unique per process (a random prefix and a counter); ids name
    what was served for attribution, they grant nothing."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFFFFFF:08x}"


async def answer(
    state: ServingState,
    book: RuleBook,
    *,
    customer_id: str,
    channel: str | None,
    requests: Sequence[SlotRequest],
    metrics: Metrics | None = None,
    placement_from_name: bool = False,
    record: bool = True,
    admit: Callable[[], Awaitable[None]] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]], After | None]:
    """(response head, one dict per slot, the work after the answer: impressions, exposure).
    `record=False` (the dashboard's preview) counts no impression and records nothing served;
    the caller then also leaves the returned exposure task unrun. `admit`: the request's
    rate-limit check, sent before the read and awaited after it (its reply came first), so a
    refused request raises before any ranking or write."""
    # A/B variants are decided in-process; before the read, segment targeting counts as met
    # (`pre` covers the windows a variant's rules profile may need), then with the segments.
    defs = await serving_definitions(state)
    plan = serving_plan(state, defs, customer_id=customer_id, channel=channel, segments=None,
                        profiles=book.profiles)  # fmt: skip
    pre = plan.rules_profile
    rules = _resolve(book, channel, requests, placement_from_name, pre)
    windows = frozenset().union(*(_windows(r) for r in rules))
    counted, least = _book(book)
    budgets = any(r.kind == "offer" for r in requests)
    version = plan.serving_version  # a variant serving an earlier version: its data, one read
    feelings = any(r.reactions for r in rules)  # conditions on feedback and open cases
    session = await open_session(state, customer_id, windows=windows, budgets=budgets,
                                 consumption=book.consumption, least_shown=least,
                                 shared=state.others.get(version) if version else None,
                                 feelings=feelings)  # fmt: skip
    if admit is not None:
        await admit()
    if defs:  # after an identity merge the variants may follow the visitor's id (its `unit`)
        unit = session.ctx.unit or customer_id
        plan = serving_plan(state, defs, customer_id=unit, channel=channel,
                            segments=sorted(session.segments), profiles=book.profiles)  # fmt: skip
        if plan.rules_profile != pre:
            rules = _resolve(book, channel, requests, placement_from_name, plan.rules_profile)
        if plan.serving_version != version:  # segment targeting decided otherwise: re-read
            session = await open_session(state, customer_id, windows=windows, budgets=budgets,
                                         consumption=book.consumption, least_shown=least,
                                         shared=_other(state, plan.serving_version),
                                         feelings=feelings)  # fmt: skip
    out = []
    for request, rule in zip(requests, rules, strict=True):
        context = None
        if request.context_item and session.shared is not None:
            context = session.shared.index_of.get(request.context_item)
        slot = slots.fill(
            session, kind=request.kind, k=request.k, channel=channel, rules=rule,
            category=request.category, exclude=request.exclude, context_item=context,
            popular_only=plan.popular_only,
        )  # fmt: skip
        out.append(_slot_body(request, slot))
        _count_fallbacks(metrics, session, slot)
    rec_id = new_recommendation_id()
    head = {
        "customer_id": customer_id,
        "recommendation_id": rec_id,
        "model_version": session.shared.version if session.shared else None,
        "model": (session.shared.model.get("name") if session.shared else None),
        "degraded": session.degraded,
        "known_customer": session.ctx.known,
    }
    if not session.personal:  # withdrawn personalisation consent: said once, for the answer
        head["personalised"] = False
    exposure = await tag_experiments(
        state, head, customer_id=customer_id, channel=channel, segments=sorted(session.segments),
        served=any(body["items"] for body in out), found=plan.assignments,
    )  # fmt: skip
    if record:
        _record_shown(state, session, channel, out, counted, rec_id)
    return head, out, exposure


def _other(state: ServingState, version: str | None) -> SharedServing | None:
    """The shared data of another serving version the state holds (None: the live one)."""
    return None if version is None else state.others.get(version)


def _resolve(
    book: RuleBook,
    channel: str | None,
    requests: Sequence[SlotRequest],
    placement_from_name: bool,
    profile: str | None,
) -> list[Rules]:
    """Each slot's rules: default → channel → placement, then a variant's rules profile."""
    return [book.resolve(channel, r.name if placement_from_name else None, profile)
            for r in requests]  # fmt: skip


def _slot_body(request: SlotRequest, slot: slots.Slot) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": request.name,
        "kind": request.kind,
        "strategy": slot.strategy,
        "items": slot.items,
    }
    if request.kind == "reward":
        body["nudge"] = slot.nudge
    if slot.capped:
        body["capped"] = True
    if slot.suppressed:
        body["suppressed"] = slot.suppressed
    return body


def _count_fallbacks(metrics: Metrics | None, session: Session, slot: slots.Slot) -> None:
    if metrics is None:
        return
    if session.degraded:
        metrics.fallbacks.labels("degraded").inc()
    elif not session.ctx.known:
        metrics.fallbacks.labels("cold_start").inc()
    if slot.suppressed:
        metrics.fallbacks.labels("suppressed").inc()
    if slot.capped:
        metrics.fallbacks.labels("capped").inc()


def _record_shown(
    state: ServingState,
    session: Session,
    channel: str | None,
    bodies: list[dict[str, Any]],
    windows: frozenset[int],
    rec_id: str,
) -> None:
    """Queue the writes after the answer: impressions (caps) and what `rec_id` served (so
    a conversion carrying the id is attributed), gathered with other answers' writes."""
    shown = [(item["item_id"], item["kind"]) for body in bodies for item in body["items"]]
    writer = writer_for(state)
    if not shown or session.degraded or writer is None:
        return
    answer = Answer(session.ctx.customer_id, channel or "any", shown, rec_id, session.now, windows)
    writer.add(answer)
