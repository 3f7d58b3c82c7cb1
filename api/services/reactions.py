"""The rules' reactions to how the customer feels (`recsys.reactions`) on a served list:
favoured items (service recovery, a referral reward) become candidates ahead of every other
source and are boosted and explained by the reaction; suppressed items (promotions on push
and email) are blocked on that channel. Item sets are worked out once per serving version.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from api.services.session import Session
from recsys.ranking import Pick, Policy, Source
from recsys.reactions import Reaction, explain

_REACTED: dict[tuple[int, Reaction, str, str | None], NDArray[np.int64]] = {}


def _reacted(session: Session, reaction: Reaction, what: str, channel: str | None) -> Any:
    """Item indices `reaction` favours (`what="favours"`) or suppresses on `channel`, once
    per serving version (the item table is the version's)."""
    shared = session.shared
    assert shared is not None
    key = (id(shared.items), reaction, what, channel)
    found = _REACTED.get(key)
    if found is None:
        if len(_REACTED) > 256:
            _REACTED.clear()
        if what == "favours":
            hits = [i for i, item in enumerate(shared.items) if reaction.favours(item)]
        else:
            hits = [i for i, item in enumerate(shared.items) if reaction.suppresses(item, channel)]
        found = _REACTED[key] = np.asarray(hits, np.int64)
    return found


def react(
    session: Session,
    reacting: list[Reaction],
    kind: str,
    channel: str | None,
    sources: list[Source],
    policy: Policy,
) -> tuple[list[Source], Policy]:
    """The customer's reactions: their favoured items become candidates ahead of every other
    source and are boosted; their suppressed items are blocked on this channel."""
    assert session.shared is not None
    items = session.shared.items
    blocked = set(policy.blocked)
    favoured: list[int] = []
    for reaction in reacting:
        if reaction.suppress_tags or reaction.suppress_kinds:
            blocked.update(_reacted(session, reaction, "suppresses", channel).tolist())
        favoured += [i for i in _reacted(session, reaction, "favours", None).tolist()
                     if items[i].get("kind") == kind]  # fmt: skip
    if favoured:
        first = np.asarray(list(dict.fromkeys(favoured)), np.int64)
        sources = [("reaction", first, np.ones(len(first), np.float32)), *sources]
    base = policy.boost

    def boost(item: dict[str, Any]) -> float:
        factor = base(item) if base is not None else 1.0
        for reaction in reacting:
            if reaction.favours(item):
                factor *= reaction.boost_factor
        return factor

    return sources, policy._replace(blocked=blocked, boost=boost)


def explain_reactions(
    session: Session, reacting: list[Reaction], picks: list[Pick], shown: list[dict[str, Any]]
) -> None:
    """An item a reaction favours is explained by that reaction ("we're sorry about…")."""
    assert session.shared is not None
    items = session.shared.items
    for pick, item in zip(picks, shown, strict=True):
        for reaction in reacting:
            reason = explain(reaction, session.feeling)
            if reason is not None and reaction.favours(items[pick.index]):
                item["reason"] = reason
                break
