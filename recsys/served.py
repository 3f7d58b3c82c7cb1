"""What a customer is served, as one path for the batch, offline evaluation and the API.

The batch publishes each customer's top `TOP_N` from the model with what the customer
already has left out (`published`, `recsys.consumption`); at answer time the published list
is the first of several ranked sources (`sources_for`: fresh, personal, the customer's
segment, channel, kind and global popular lists, then the catalogue), and `recsys.ranking.
select` applies eligibility, exclusions, boosts, diversity and pins. The API does that per
request (`api.services.slots`); `serve` does the same for many customers at once, so
`touchpoint recommend` and the validation metrics that choose a model see exactly what the
API would answer a customer with no live events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from recsys.business_rules import Rules
from recsys.consumption import blocking
from recsys.eligibility import TIER_RANK, Eligibility, is_eligible
from recsys.models.base import Recommender
from recsys.ranking import Pick, Policy, Source, _pin, _weight, select
from recsys.served_bulk import Groups, blocked_pairs, put, row_set, walk

TOP_N = 100  # published candidates per customer; rules filter them at answer time
Ranked = tuple[NDArray[np.integer], NDArray[np.floating]]
SEGMENT_FIELDS = ("rfm_segment", "lifecycle_stage", "nps_group")  # most specific first


def published(
    model: Recommender,
    history: sp.csr_matrix,
    blocked: sp.csr_matrix | None,
    *,
    user_indices: np.ndarray,
    user_features: sp.csr_matrix | None = None,
    n: int = TOP_N,
) -> tuple[np.ndarray, np.ndarray]:
    """The model's top `n` per customer (model item indices, -1 padded) with the `blocked`
    pairs (what each customer already has and may not have again) left out. Only those:
    a viewed item may still be recommended."""
    return model.recommend(
        history, n, user_indices=user_indices, user_features=user_features,
        exclude_seen=False, exclude=blocked,
    )  # fmt: skip


def published_block(
    consumed: sp.csr_matrix, rules: Rules, items: Sequence[Mapping[str, Any]]
) -> sp.csr_matrix | None:
    """What a published list leaves out under `rules` (the default channel's, as the batch
    publishes one list for every channel): consumed pairs of items that are not repeatable;
    None when the rules exclude nothing. `items`: the matrix's columns' records, in order."""
    if not rules.exclude_consumed:
        return None
    return blocking(consumed, rules.consumption.repeatable_mask(items))


def customer_segments(profile: Mapping[str, Any]) -> list[str]:
    """A customer's segment names, most specific first (RFM, lifecycle, feedback group,
    then the marketer's rule segments), as the published profile holds them."""
    named = [profile[k] for k in SEGMENT_FIELDS if profile.get(k)]
    return [str(n) for n in (*named, *(profile.get("segments") or []))]


def top_segment(popular: Mapping[str, Ranked], segments: Sequence[str]) -> str | None:
    """The customer's most specific segment with a published popular list."""
    return next((n for n in segments if f"segment:{n}" in popular), None)


def segment_list(
    popular: Mapping[str, Ranked], segment: str | None, kind: str
) -> tuple[str, Ranked | None]:
    """The `segment`'s popular list of `kind` where the batch publishes one (content and
    offers, too rare to survive a cut across kinds), else its list across kinds."""
    for name in (f"segment:{segment}:kind:{kind}", f"segment:{segment}"):
        if segment and name in popular:
            return name, popular[name]
    return f"segment:{segment}", None


def sources_for(
    popular: Mapping[str, Ranked],
    *,
    kind: str,
    channel: str | None,
    segment: str | None,
    personal: Ranked | None,
    fresh: Ranked | None = None,
    similar: Ranked | None = None,
    catalogue: Ranked | None = None,
) -> list[Source]:
    """Products' and content's ranked sources, in the order ranking reads them."""
    sources: list[Source] = []
    if similar is not None:
        sources.append(("similar", *similar))
    if personal is not None:
        if fresh is not None:
            sources.append(("fresh", *fresh))
        sources.append(("personal", *personal))
    seg_name, seg = segment_list(popular, segment, kind)
    if seg is not None:
        sources.append((seg_name, *seg))
    for name in (f"channel:{channel}" if channel else None, f"kind:{kind}", "global"):
        if name is not None and name in popular:
            sources.append((name, *popular[name]))
    if catalogue is not None:  # last resort, never an empty list: the kind's items in order
        sources.append((f"catalogue:{kind}", *catalogue))
    return sources


def shaping(
    rules: Rules, index_of: Mapping[str, int]
) -> tuple[Callable[[dict[str, Any]], float] | None, list[tuple[int, int]]]:
    """The rules' boosts (one function of an item, None without boosts) and pins (item
    index, 1-based position) over an item table."""
    boosts = rules.boosts

    def boost(item: dict[str, Any]) -> float:
        factor = 1.0
        for b in boosts:
            if b.matches(item):
                factor *= b.factor
        return factor

    pins = [(index_of[p.item_id], p.position) for p in rules.pins if p.item_id in index_of]
    return (boost if boosts else None), pins


def diversity_codes(items: Sequence[Mapping[str, Any]]) -> list[int]:
    """Per item a code of its category (a missing one and "" alike), as diversity counts."""
    codes: dict[str, int] = {}
    return [codes.setdefault(it.get("category") or "", len(codes)) for it in items]


@dataclass
class Storefront:
    """What answers are made of, offline: the published item table and popular lists, and the
    rules of one channel (or placement). `now_iso` fixes the active-window check."""

    items: list[dict[str, Any]]
    popular: dict[str, Ranked]
    rules: Rules
    kind: str = "product"
    channel: str | None = None
    now_iso: str | None = None
    index_of: dict[str, int] = field(init=False)
    categories: list[int] = field(init=False)
    repeatable: NDArray[np.bool_] = field(init=False)
    _masks: dict[tuple[Any, ...], NDArray[np.bool_]] = field(init=False, default_factory=dict)
    _open: NDArray[np.bool_] | None = field(init=False, default=None)
    _targets: dict[frozenset[str], list[int]] = field(init=False, default_factory=dict)
    _tiers: dict[int, int] = field(init=False, default_factory=dict)  # item -> tier it needs

    def __post_init__(self) -> None:
        self.index_of = {str(it["item_id"]): i for i, it in enumerate(self.items)}
        self.categories = diversity_codes(self.items)
        self.repeatable = self.rules.consumption.repeatable_mask(self.items)
        in_kind = [i for i, it in enumerate(self.items) if it.get("kind") == self.kind]
        self.catalogue: Ranked = (np.array(in_kind, np.int64), np.zeros(len(in_kind), np.float32))

    def eligibility(self, segments: Sequence[str], tier: str) -> Eligibility:
        rules = self.rules
        return Eligibility(
            kind=self.kind, channel=self.channel,
            now_iso=self.now_iso if rules.active_window else None, in_stock=rules.in_stock,
            segments=frozenset(segments) if rules.target_segments else None,
            tier=tier if rules.min_tier else None,
        )  # fmt: skip

    def eligible(self, rule: Eligibility) -> NDArray[np.bool_]:
        """`is_eligible` for every item, cached per outcome: the customer's segments count
        only as which items' target groups they meet, the tier as a rank, so the few masks
        there are serve every customer (as the API's `Catalogue.eligible` does)."""
        if self._open is None:  # everything but targets and tier: the same for everyone
            open_rule = rule._replace(segments=None, tier=None)
            self._open = np.fromiter(
                (is_eligible(it, open_rule) for it in self.items), bool, len(self.items)
            )
            groups: dict[frozenset[str], list[int]] = {}
            for i, it in enumerate(self.items):
                if it.get("target_segments"):
                    groups.setdefault(frozenset(it["target_segments"]), []).append(i)
            self._targets = groups
            self._tiers = {
                i: TIER_RANK.get(it.get("min_tier") or "none", 0)
                for i, it in enumerate(self.items)
                if (it.get("min_tier") or "none") != "none"
            }
        met = (
            None
            if rule.segments is None
            else tuple(not rule.segments.isdisjoint(t) for t in self._targets)
        )
        rank = None if rule.tier is None else TIER_RANK.get(rule.tier, 0)
        key = (met, rank)
        mask = self._masks.get(key)
        if mask is None:
            mask = self._open.copy()
            if met is not None:
                for indices, reached in zip(self._targets.values(), met, strict=True):
                    if not reached:
                        mask[indices] = False
            if rank is not None:
                for i, needed in self._tiers.items():
                    if rank < needed:
                        mask[i] = False
            self._masks[key] = mask
        return mask


def serve(
    front: Storefront,
    recs: tuple[np.ndarray, np.ndarray],
    consumed: sp.csr_matrix,
    k: int,
    *,
    segments: Sequence[Sequence[str]] | None = None,
    tiers: Sequence[str] | None = None,
    consents: Sequence[Mapping[str, bool]] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Each customer's answer of `k` items (item indices, -1 padded; scores) from their
    published `recs` (rows of item indices, -1 padded, and scores) and what they have
    (`consumed`, customers × items), under the storefront's rules. `segments`, `tiers` and
    `consents` (marketing consent per channel) are each customer's, as their profile holds
    them; an email, push or SMS answer to a customer without consent is empty.

    Every answer is `recsys.ranking.select`'s for that customer: the rows whose personal list
    decides it the way `select`'s best-first walk would are answered in bulk
    (`recsys.served_bulk.walk`), the others one by one through `select`."""
    items, rules = front.items, front.rules
    boost, pins = shaping(rules, front.index_of)
    rec_idx, rec_scores = recs
    n = rec_idx.shape[0]
    out_idx = np.full((n, k), -1, np.int64)
    out_scores = np.zeros((n, k), np.float32)
    if not n:
        return out_idx, out_scores
    consumed = sp.csr_matrix(consumed)
    blocked = blocked_pairs(consumed, front.repeatable) if rules.exclude_consumed else None
    people = Groups(
        front.eligibility, front.eligible, n, segments, tiers,
        segment_of=lambda names: top_segment(front.popular, names),
        after=lambda segment: sources_for(front.popular, kind=front.kind, channel=front.channel,
                                          segment=segment, personal=None,
                                          catalogue=front.catalogue),
    )  # fmt: skip
    open_rows = np.ones(n, bool)
    if rules.needs_consent(front.channel):
        channel = str(front.channel)
        open_rows[:] = [
            consents is not None and c.get(channel, False) for c in consents or [{}] * n
        ]
    answered = np.zeros(n, bool)
    if boost is None and k > 0 and open_rows.any():
        rows = np.flatnonzero(open_rows)
        done, idx, scaled = walk(
            rec_idx[rows], rec_scores[rows], k, masks=people.masks, group=people.mask_of[rows],
            blocked=None if blocked is None else blocked[rows],
            categories=np.asarray(front.categories, np.int64),
            cap=rules.max_per_category, weight=_weight("personal"),
            reach=people.reach[people.group[rows]],
        )  # fmt: skip
        answered[rows[done]] = True
        out_idx[rows[done]] = idx[done]
        out_scores[rows[done]] = scaled[done]
        scaled_of = dict(zip(rows[done].tolist(), scaled[done].tolist(), strict=True))
        for r in rows[done].tolist() if pins else ():  # pins after the walk, as `select` does
            policy = Policy(row_set(blocked, r), None, rules.max_per_category, pins)
            picked = out_idx[r].tolist()
            walked = [Pick(i, v, "personal") for i, v in zip(picked, scaled_of[r], strict=True)]
            put(out_idx, out_scores, r, _pin(items, walked, policy, people.rule(r), k))

    def answer(r: int) -> list[Pick]:  # `select` for row r
        keep = rec_idx[r] >= 0
        personal = (rec_idx[r][keep], rec_scores[r][keep]) if keep.any() else None
        sources = sources_for(front.popular, kind=front.kind, channel=front.channel,
                              segment=people.segment[people.group[r]], personal=personal,
                              catalogue=front.catalogue)  # fmt: skip
        policy = Policy(row_set(blocked, r), boost, rules.max_per_category, pins)
        return select(items, sources, people.rule(r), k, policy, eligible=people.mask(r),
                      categories=front.categories)  # fmt: skip

    rest = np.flatnonzero(open_rows & ~answered)
    alike = ~(rec_idx[rest] >= 0).any(axis=1)  # nothing personal and nothing blocked: the
    if blocked is not None:  # answer is the group's (segments, tier), worked out once
        alike &= np.diff(blocked.indptr)[rest] == 0
    shared, groups = rest[alike], people.group[rest[alike]]
    order = np.argsort(groups, kind="stable")
    for rows in np.split(shared[order], np.flatnonzero(np.diff(groups[order])) + 1):
        if not len(rows):
            continue
        put(out_idx, out_scores, rows, answer(int(rows[0])))
    for r in rest[~alike].tolist():
        put(out_idx, out_scores, r, answer(r))
    return out_idx, out_scores
