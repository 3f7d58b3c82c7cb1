"""Business-rule conditions on how the customer feels: reactions to feedback and open cases.

A rules file may list `reactions`; each applies to a customer whose state meets its `when`
(every condition given):

    reactions:
      - when: {open_case: true, nps: detractor, within_days: 30}
        boost: {tag: recovery, factor: 50}       # service-recovery items first
        suppress: {tags: [promotion], channels: [push, email]}   # no promotions there meanwhile
        reason: "we're sorry about your {touchpoint}"
      - when: {nps: promoter}
        boost: {tag: referral, factor: 20}
        reason: "thanks for recommending us: invite a friend"

- `open_case`: the customer has (true) or has no (false) open follow-up case;
- `nps`: the band of their latest NPS answer (`contracts.schema.NPS_BANDS`);
- `within_days`: that answer is at most N days old (so a suppression lasts N days).
Boosted items are added as candidates ahead of the usual sources and their `reason` is the
reaction's (`{touchpoint}`: the touchpoint of an open case). Pure: state in, decisions out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from contracts.schema import NPS_BANDS

DAY = 86400.0


@dataclass(frozen=True)
class Reaction:
    """One `reactions` entry, validated (`recsys.business_rules_schema`)."""

    open_case: bool | None = None
    nps: str | None = None
    within_days: int | None = None
    boost_factor: float = 1.0
    boost_tag: str | None = None
    boost_category: str | None = None
    boost_kind: str | None = None
    boost_item_id: str | None = None
    suppress_tags: frozenset[str] = frozenset()
    suppress_kinds: frozenset[str] = frozenset()
    suppress_channels: frozenset[str] = frozenset()  # empty: every channel
    reason: str | None = None

    @property
    def boosts(self) -> bool:
        return any(
            v is not None
            for v in (self.boost_tag, self.boost_category, self.boost_kind, self.boost_item_id)
        )

    def favours(self, item: Mapping[str, Any]) -> bool:
        """The item is one this reaction boosts."""
        if not self.boosts:
            return False
        if self.boost_tag is not None and self.boost_tag not in (item.get("tags") or ()):
            return False
        if self.boost_category is not None and item.get("category") != self.boost_category:
            return False
        if self.boost_kind is not None and item.get("kind") != self.boost_kind:
            return False
        return self.boost_item_id is None or item.get("item_id") == self.boost_item_id

    def suppresses(self, item: Mapping[str, Any], channel: str | None) -> bool:
        """The item is held back on `channel` while this reaction applies."""
        if self.suppress_channels and channel not in self.suppress_channels:
            return False
        tags = item.get("tags") or ()
        return item.get("kind") in self.suppress_kinds or any(t in tags for t in self.suppress_tags)


def reaction_from(raw: Mapping[str, Any]) -> Reaction:
    """A validated mapping → `Reaction`."""
    when, boost, suppress = raw.get("when", {}), raw.get("boost", {}), raw.get("suppress", {})
    return Reaction(
        open_case=when.get("open_case"),
        nps=when.get("nps"),
        within_days=when.get("within_days"),
        boost_factor=float(boost.get("factor", 1.0)),
        boost_tag=boost.get("tag"),
        boost_category=boost.get("category"),
        boost_kind=boost.get("kind"),
        boost_item_id=boost.get("item_id"),
        suppress_tags=frozenset(suppress.get("tags", ())),
        suppress_kinds=frozenset(suppress.get("kinds", ())),
        suppress_channels=frozenset(suppress.get("channels", ())),
        reason=raw.get("reason"),
    )


def nps_band(score: int) -> str:
    return next(band for band, (low, high) in NPS_BANDS.items() if low <= score <= high)


@dataclass(frozen=True)
class Feeling:
    """What the reactions read about a customer: latest NPS (and when, epoch seconds; None
    when only the batch's score is known) and the touchpoints of their open cases."""

    nps: int | None = None
    nps_at: float | None = None
    open_cases: tuple[str, ...] = ()


def applies(reaction: Reaction, feeling: Feeling, now: float) -> bool:
    if reaction.open_case is not None and reaction.open_case != bool(feeling.open_cases):
        return False
    if reaction.nps is not None and (feeling.nps is None or nps_band(feeling.nps) != reaction.nps):
        return False
    if reaction.within_days is not None:
        at = feeling.nps_at
        if at is None or now - at > reaction.within_days * DAY:
            return False
    return True


def active(reactions: Sequence[Reaction], feeling: Feeling, now: float) -> list[Reaction]:
    return [r for r in reactions if applies(r, feeling, now)]


def explain(reaction: Reaction, feeling: Feeling) -> str | None:
    """The reaction's reason, `{touchpoint}` filled with the first open case's touchpoint."""
    if reaction.reason is None:
        return None
    touchpoint = feeling.open_cases[0] if feeling.open_cases else "experience"
    return reaction.reason.replace("{touchpoint}", touchpoint.replace("_", " "))
