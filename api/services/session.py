"""One personalised request's view of a customer: read once, used by every slot.

`open_session` does the single Redis round trip (published recs/profile/history, live recent
events, frequency-cap windows, redemptions) and derives what the rules need: segments, tier,
points, consent, what the customer already has (`recsys.consumption`) and dismissed items,
and a fresh ranking when the customer has clicked since the last batch. When Redis fails the
session is empty and `degraded`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from redis.exceptions import RedisError

from api.services.catalogue import Catalogue, catalogue
from api.services.hot import connection
from api.state import ServingState
from contracts.errors import InvalidInput
from contracts.schema import EVENT_WEIGHTS
from recsys.consumption import Consumption
from recsys.explain import ANCHORS
from recsys.reactions import Feeling
from recsys.served import customer_segments, top_segment
from recsys.serving import fold_in, top_k
from store.profile import CustomerContext, read_context
from store.serving import Ranked, SharedServing

# Live events folded in, weighted as the batch weighs them; a rating is left out (its weight
# depends on how the model read ratings, `recsys.matrix.RATINGS`).
FRESH_WEIGHTS = {t: w for t, w in EVENT_WEIGHTS.items() if w > 0 and t != "rate"}
FRESH_N = 100


@dataclass
class Session:
    """Everything slots are filled from (shared data may be None before any publish)."""

    shared: SharedServing | None
    cat: Catalogue | None
    ctx: CustomerContext
    degraded: bool
    now: float
    now_iso: str
    segment: str | None = None  # the most specific one with a popular list
    segments: frozenset[str] = frozenset()
    tier: str = "none"
    points: int = 0
    consent: dict[str, bool] = field(default_factory=dict)  # the batch's, overlaid with live
    personal: bool = True  # personalisation consent: False = popular lists only, no profiling
    consumed: set[int] = field(default_factory=set)  # what the customer already has
    dismissed: set[int] = field(default_factory=set)
    anchors: list[tuple[int, str]] = field(default_factory=list)  # (item index, verb), best first
    published_anchors: bool = False  # the anchors are the published history's (no live ones)
    fresh: Ranked | None = None
    taken: set[int] = field(default_factory=set)  # items already placed in this response
    explained: dict[str, Any] = field(default_factory=dict)  # `api.services.reasons`' lookups
    feeling: Feeling = field(default_factory=Feeling)  # latest NPS, open cases (`reactions`)


async def open_session(
    state: ServingState,
    customer_id: str,
    *,
    windows: frozenset[int],
    budgets: bool,
    consumption: Consumption,
    least_shown: int = 1,
    shared: SharedServing | None = None,
    feelings: bool = False,
) -> Session:
    """`shared`: another serving version's data (an A/B variant's), else the live version;
    `consumption`: which live events mean the customer now has an item; `feelings`: read the
    latest answers and open cases too (the rules have `reactions`), in the same round trip."""
    if shared is None:
        shared = state.shared
    now = time.time()
    ctx = CustomerContext(customer_id)
    degraded = not state.redis_ok
    conn = connection(state)
    if shared is not None and conn is not None and not degraded:
        try:
            ctx = await read_context(
                conn, state.keys, shared.version, customer_id,
                windows=windows, least_shown=least_shown, budgets=budgets, now=now,
                with_feedback=feelings, with_cases=feelings,
            )  # fmt: skip
        except (RedisError, OSError) as exc:
            if not state.cluster:  # on a cluster one shard failed: the others still serve
                state.mark_unavailable(exc)
            degraded = True
    session = Session(
        shared=shared,
        cat=catalogue(shared) if shared is not None else None,
        ctx=ctx,
        degraded=degraded,
        now=now,
        now_iso=_iso_second(now),
    )
    if shared is not None:
        _derive(session, shared, consumption)
    return session


_LAST_SECOND: list[Any] = [None, ""]  # (epoch second, its ISO text): one format a second


def _iso_second(now: float) -> str:
    """`now` as ISO 8601 to the second (what the active-window rules compare with)."""
    second = int(now)
    if _LAST_SECOND[0] != second:
        _LAST_SECOND[:] = [second, datetime.fromtimestamp(second, UTC).isoformat()]
    text: str = _LAST_SECOND[1]
    return text


def _derive(session: Session, shared: SharedServing, consumption: Consumption) -> None:
    profile = session.ctx.profile or {}
    names = customer_segments(profile)
    session.segments = frozenset(names)
    session.segment = top_segment(shared.popular, names)
    session.tier = str(profile.get("loyalty_tier") or "none")
    session.points = int(profile.get("points_balance") or 0)
    session.consent = {str(k): bool(v) for k, v in (profile.get("consent") or {}).items()}
    session.consent.update(session.ctx.consent)  # the live value wins over the batch default
    if not session.consent.get("personalisation", True):
        _impersonal(session)
        return
    session.feeling = _feeling(session.ctx, profile)
    index_of = shared.index_of
    had = session.ctx.consumed
    if len(had):  # everything consumed by the batch's data, so it never comes back
        session.consumed.update(had[had < len(shared.items)].tolist())
    recent_anchors: list[tuple[int, str]] = []
    items = shared.items
    for event in session.ctx.recent:  # newest first
        index = index_of.get(event.item_id)
        if index is None:
            continue
        if consumption.consumes(event.type, items[index].get("kind")):
            session.consumed.add(index)
        if event.type in ("purchase", "redeem"):
            recent_anchors.append((index, "bought"))
        elif event.type == "dismiss":
            session.dismissed.add(index)
        elif event.type in FRESH_WEIGHTS:
            recent_anchors.append((index, "viewed"))
    verbs: dict[int, str] = {}  # each anchor once, newest first, then the strongest liked
    for index, verb in recent_anchors:
        verbs.setdefault(index, verb)
    for index in session.ctx.history[0][:ANCHORS].tolist():  # published strongest first
        verbs.setdefault(index, "liked")
    session.anchors = list(verbs.items())
    session.published_anchors = not recent_anchors
    if recent_anchors:  # only viewed or bought items become anchors
        session.fresh = _fresh(session, shared)


def _impersonal(session: Session) -> None:
    """No personalisation consent: nothing of the customer's history or segments shapes the
    answer (popular lists of the channel, `slots.fill`); their published recs are ignored."""
    session.personal = False
    session.segment = None
    session.segments = frozenset()
    session.published_anchors = False


def _feeling(ctx: CustomerContext, profile: dict[str, Any]) -> Feeling:
    """The latest NPS answer posted live (with its time), else the batch's score (no time)."""
    live = ctx.feedback.get("nps")
    score, at = None, None
    if live is not None:
        score = int(live["score"])
        stamp = str(live.get("timestamp") or "")
        if stamp:
            at = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    elif (profile.get("feedback") or {}).get("nps") is not None:
        score = int(profile["feedback"]["nps"])
    return Feeling(score, at, tuple(sorted(ctx.open_cases)))


def _fresh(session: Session, shared: SharedServing) -> Ranked | None:
    """Re-rank with the live events: fold them into the customer's vector when the model
    allows it, else follow the similar items of what was just viewed."""
    weights: dict[int, float] = {}
    hist_idx, hist_w = session.ctx.history
    for index, weight in zip(hist_idx.tolist(), hist_w.tolist(), strict=True):
        weights[index] = weight
    clicked: list[int] = []
    for event in session.ctx.recent:
        index = shared.index_of.get(event.item_id)
        if index is not None and event.type in FRESH_WEIGHTS:
            weights[index] = weights.get(index, 0.0) + float(np.log1p(FRESH_WEIGHTS[event.type]))
            clicked.append(index)
    cat = session.cat
    factors = shared.item_factors
    if (
        factors is not None
        and cat is not None
        and cat.factors64 is not None
        and cat.yty is not None
        and shared.model.get("fold_in", True)
    ):
        reg = float(shared.model.get("regularization", 0.01))
        idx = np.fromiter(weights, np.int64, len(weights))
        w = np.fromiter(weights.values(), np.float64, len(weights))
        try:
            alpha = float(shared.model.get("alpha", 1.0))
            vector = fold_in(cat.factors64, reg, idx, w, alpha=alpha, yty=cat.yty)
            return top_k(vector, factors, FRESH_N, sorted(session.consumed))
        except (InvalidInput, np.linalg.LinAlgError):
            return None
    if shared.similar is not None and clicked:
        sim_idx, sim_score = shared.similar
        rows = [i for i in dict.fromkeys(clicked) if i < len(sim_idx)][:5]
        if rows:
            neighbours = np.asarray(sim_idx[rows]).ravel()
            sc = np.asarray(sim_score[rows]).ravel()
            keep = neighbours >= 0
            order = np.argsort(-sc[keep], kind="stable")
            return neighbours[keep][order].astype(np.uint32), sc[keep][order].astype(np.float32)
    return None
