"""Fill one list (a slot) of products, content, offers or rewards for a session under rules.

Products and content: fresh (live events) → personal → segment → channel → kind → global;
`popular_only` (an A/B variant with the popularity strategy) starts at segment; a customer
without personalisation consent gets the channel's popular lists (no segment, no history).
Offers: one list by expected value (propensity × margin). Rewards: affordable ones by
affinity, plus the best one just out of reach as a nudge. Every list then goes through the
same eligibility, exclusions, caps, budgets, boosts, diversity and pins (`recsys.ranking`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from api.services.catalogue import Catalogue, KindArrays, Ranking
from api.services.reactions import explain_reactions, react
from api.services.reasons import reasons_for
from api.services.session import Session
from recsys.business_rules import Rules
from recsys.ranking import Eligibility, Pick, Policy, Source, is_eligible, select
from recsys.reactions import active
from recsys.served import segment_list, shaping, sources_for
from recsys.value_ranking import (
    ByAffinity,
    Ranked,
    by_points,
    offers_by_value,
    rewards_by_affinity,
    scaled,
)

NOT_PERSONAL = "popular right now (not personalised: no personalisation consent)"
NUDGE_REACH = 0.5  # a nudge is at most this share of the balance (or 500 points) away


@dataclass
class Slot:
    items: list[dict[str, Any]] = field(default_factory=list)
    picks: list[Pick] = field(default_factory=list)
    strategy: str = "none"
    nudge: dict[str, Any] | None = None
    nudges: list[tuple[int, int]] = field(default_factory=list)  # (reward index, points needed)
    capped: bool = False
    suppressed: str | None = None


def fill(
    session: Session,
    *,
    kind: str,
    k: int,
    channel: str | None,
    rules: Rules,
    category: str | None = None,
    exclude: frozenset[str] = frozenset(),
    context_item: int | None = None,
    popular_only: bool = False,
) -> Slot:
    shared = session.shared
    if shared is None or session.cat is None:
        return Slot()
    if rules.needs_consent(channel) and not session.consent.get(str(channel), False):
        return Slot(suppressed=f"no marketing consent for {channel}")
    popular_only = popular_only or not session.personal
    k = _remaining(session, rules, channel, kind, k)
    if k <= 0:
        return Slot(capped=True)
    rule = Eligibility(
        kind=kind,
        channel=channel,
        category=category,
        now_iso=session.now_iso if rules.active_window else None,
        exclude=frozenset(session.taken | _ids(session, exclude)),
        in_stock=rules.in_stock,
        segments=session.segments if rules.target_segments else None,
        tier=session.tier if rules.min_tier else None,
    )
    slot = Slot()
    available = session.cat.available(
        session.now, in_stock=rules.in_stock, active_window=rules.active_window
    )
    sources = _sources(session, kind, channel, context_item, slot, available, popular_only)
    reacting = active(rules.reactions, session.feeling, session.now) if rules.reactions else []
    policy = _policy(session, rules)
    if reacting:
        sources, policy = react(session, reacting, kind, channel, sources, policy)
    slot.picks = select(shared.items, sources, rule, k, policy,
                        eligible=session.cat.allowed(rule, available),
                        categories=session.cat.diversity_codes)  # fmt: skip
    session.taken.update(p.index for p in slot.picks)
    slot.items = render(session, slot.picks)
    if reacting:
        explain_reactions(session, reacting, slot.picks, slot.items)
    slot.strategy = _strategy(slot.picks, session.degraded)
    for index, points in slot.nudges:
        item = shared.items[index]
        if index not in session.taken and is_eligible(item, rule):
            (slot.nudge,) = render(session, [Pick(index, 0.0, "nudge")])
            slot.nudge["points_needed"] = points
            slot.nudge["reason"] = f"only {points} more points for {item.get('title')}"
            break
    return slot


def _ids(session: Session, ids: frozenset[str]) -> set[int]:
    assert session.shared is not None
    return {session.shared.index_of[i] for i in ids if i in session.shared.index_of}


def _remaining(session: Session, rules: Rules, channel: str | None, kind: str, k: int) -> int:
    """k, lowered to what the customer × channel cap for this kind still allows."""
    cap = rules.channel_caps.get(kind) or rules.channel_caps.get("any")
    if cap is None or channel is None:
        return k
    window = session.ctx.windows.get(cap.days)
    if window is None:
        return k
    if kind in rules.channel_caps:
        used = window.channel_kind(channel, kind)
    else:
        used = sum(n for (ch, _), n in window.channel_kinds.items() if ch == channel)
    return min(k, cap.max - used)


def _policy(session: Session, rules: Rules) -> Policy:
    assert session.shared is not None and session.cat is not None
    ctx, cat = session.ctx, session.cat
    index_of = session.shared.index_of
    # Everything these rules block for this customer, as one set of item indices built from
    # the few items that have counts (shown, redeemed), so ranking asks one `in` per candidate.
    blocked: set[int] = set()
    if rules.exclude_consumed:
        blocked |= _consumed(session, rules, cat)
    if rules.exclude_dismissed:
        blocked |= session.dismissed
    limits: dict[int, int] = {}  # window length -> fewest showings that block an item
    for cap in (rules.exclude_shown, rules.item_cap):
        if cap is not None:
            limits[cap.days] = min(cap.max, limits.get(cap.days, cap.max))
    for days, limit in limits.items():
        window = ctx.windows.get(days)
        if window is not None:
            found = (index_of.get(i) for i, shown in window.items.items() if shown >= limit)
            blocked.update(index for index in found if index is not None)
    blocked |= cat.no_budget
    for item_id, redeemed in ctx.redeemed.items():
        index = index_of.get(item_id)
        budget = cat.budgets.get(index) if index is not None else None
        if budget is not None and redeemed >= budget:
            blocked.add(index)  # type: ignore[arg-type]

    boost, pins = shaping(rules, index_of)
    return Policy(blocked, boost, rules.max_per_category, pins)


def _consumed(session: Session, rules: Rules, cat: Catalogue) -> set[int]:
    """What the customer already has and may not have again under these rules."""
    if not rules.consumption.any_repeatable:
        return session.consumed
    repeatable = cat.repeatable(rules.consumption)
    return {i for i in session.consumed if not repeatable[i]}


def _sources(
    session: Session,
    kind: str,
    channel: str | None,
    context_item: int | None,
    slot: Slot,
    available: NDArray[np.bool_],
    popular_only: bool = False,
) -> list[Source]:
    shared, cat, ctx = session.shared, session.cat, session.ctx
    personal = None if popular_only else ctx.recs
    assert shared is not None and cat is not None
    popular = shared.popular
    seg_name, seg = segment_list(popular, session.segment, kind)
    if kind in ("offer", "reward") and kind in cat.kinds:
        lists = [(seg_name, seg), (f"kind:{kind}", popular.get(f"kind:{kind}"))]
        if kind == "offer":
            return [("value", *_ranked(cat, kind, lists, available, personal, _by_value))]
        by_affinity = _ranked(cat, kind, lists, available, personal, _by_affinity)
        affordable, needed = by_points(by_affinity, session.points)
        reach = max(500, int(session.points * NUDGE_REACH))
        slot.nudges = [
            (index, int(points))
            for index, points in zip(needed[0].tolist(), needed[1].tolist(), strict=True)
            if points <= reach
        ]
        return [("value", *affordable)]
    if popular_only:
        context_item = None  # similar items come from the model too
    similar = None
    if context_item is not None and shared.similar is not None:
        sim_idx, sim_score = shared.similar
        if context_item < len(sim_idx):
            row = np.asarray(sim_idx[context_item])
            keep = row >= 0
            similar = row[keep], np.asarray(sim_score[context_item])[keep]
    everything = (cat.kinds[kind].indices, cat.no_scores[kind]) if kind in cat.kinds else None
    return sources_for(popular, kind=kind, channel=channel, segment=session.segment,
                       personal=personal, fresh=session.fresh, similar=similar,
                       catalogue=everything)  # fmt: skip


def _ranked(
    cat: Catalogue,
    kind: str,
    lists: list[tuple[str, Ranked | None]],
    available: NDArray[np.bool_],
    personal: Ranked | None,
    rank: Callable[[KindArrays, list[NDArray[np.float64]]], Ranking],
) -> Ranking:
    """`rank` of the kind's available items from the customer's own list (`personal`) and
    the published `lists`; when the customer's list names none of them, from the lists
    alone, which is the same for every such customer of the segment: cached."""
    arrays = cat.live(kind, available)  # the offers/rewards that can be served now
    named = personal is not None and cat.kind_masks[kind].take(personal[0], mode="clip").any()
    mine = scaled(personal, arrays.indices) if named else None  # (clip: at worst a false yes)
    if mine is None or not mine.any():
        return cat.by_lists(kind, lists, available, rank)
    parts = [mine, *(cat.scaled_list(name, ranked, kind, available) for name, ranked in lists)]
    return rank(arrays, parts)


def _by_value(offers: KindArrays, parts: list[NDArray[np.float64]]) -> Ranked:
    return offers_by_value(offers.indices, offers.margins, offers.categories, parts)


def _by_affinity(rewards: KindArrays, parts: list[NDArray[np.float64]]) -> ByAffinity:
    return rewards_by_affinity(rewards.indices, rewards.costs, rewards.categories, parts)


FAMILIES = {"fresh": "realtime", "personal": "personal", "value": "value", "similar": "similar",
            "pinned": "pinned", "segment": "segment", "catalogue": "catalogue",
            "reaction": "reaction"}  # fmt: skip


def _strategy(picks: list[Pick], degraded: bool) -> str:
    """The families of the picks' sources, in order ("personal+segment"); other popular
    lists (channel, kind, global) are "popular"."""
    if degraded:
        return "degraded_popular"
    sources = dict.fromkeys(p.source for p in picks)
    families = dict.fromkeys(FAMILIES.get(s.split(":", 1)[0], "popular") for s in sources)
    return "+".join(families) or "none"


def render(session: Session, picks: list[Pick]) -> list[dict[str, Any]]:
    """The answer's items: each item's display fields, its score and its reason."""
    assert session.cat is not None
    display = session.cat.display
    out = []
    reasons = reasons_for(session, picks) if session.personal else [NOT_PERSONAL] * len(picks)
    for pick, reason in zip(picks, reasons, strict=True):
        item = display[pick.index].copy()
        item["score"] = rounded(pick.score)
        item["reason"] = reason
        out.append(item)
    return out


def rounded(score: float) -> float:
    """`score` to 6 decimal places, as answers show it (`round(score, 6)` goes through a
    decimal string: 5x slower, and ten of them a request)."""
    return math.floor(score * 1e6 + 0.5) / 1e6
