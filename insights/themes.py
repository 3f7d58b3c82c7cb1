"""Themes of the comments: what customers write about, and what detractors write about more.

Terms (`insights.text.terms`: Latin words, Hangul words without their particle) are weighted
by tf-idf; non-negative matrix factorisation splits them into `n_themes` themes, each named
by its top terms. A comment belongs to every theme whose weight is at least half of its
strongest one (so a comment about late delivery AND a rude driver is in both). Themes are
ranked by lift: how much more often detractor-like answers mention the theme than
promoter-like ones (`insights.scale.BANDS`), with a 95% interval for the ratio of two
proportions (Katz log method); and each carries its trend: share in the last
`recent_days` against the share before, with a 95% Wald interval for the difference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd
from sklearn.decomposition import NMF

from insights.scale import NEGATIVE, POSITIVE, band
from insights.text import clean, normalize, term_matrix

MIN_COMMENTS: Final = 20  # fewer non-empty comments: no themes
FIT_SAMPLE: Final = 20_000  # comments the factorisation is fitted on (all are then weighed)
MAX_TERMS: Final = 20_000
TOP_TERMS: Final = 10
N_EXAMPLES: Final = 3
EXAMPLE_CHARS: Final = 280
RELATIVE_MIN: Final = 0.5  # a comment's theme weight vs its strongest theme's
ABSOLUTE_MIN: Final = 0.2  # ... and vs the median strongest weight of all comments
Z95: Final = 1.959963984540054
ASSIGNMENT_COLUMNS: Final = ("response_id", "theme", "weight")


@dataclass
class Themes:
    """The result of `find_themes`: `themes` one dict per theme in rank order (see
    `documents`), `assignments` one row per (comment, theme)."""

    themes: list[dict[str, Any]]
    assignments: pd.DataFrame
    n_comments: int = 0
    notes: list[str] = field(default_factory=list)

    def documents(self) -> list[dict[str, Any]]:
        """JSON-ready list, best-ranked theme first: theme (id), name, terms, examples,
        n, share (%), detractor_rate / promoter_rate (%), lift, lift_low, lift_high, trend
        {recent_share, earlier_share, change, low, high, direction}, touchpoints and stages
        ({name: count}), rank (by lift) and trend_rank (by change, most risen first)."""
        return [dict(theme) for theme in self.themes]


def _empty(n_comments: int, note: str) -> Themes:
    dtypes = (str, np.int64, np.float64)
    assignments = pd.DataFrame(
        {c: pd.Series(dtype=t) for c, t in zip(ASSIGNMENT_COLUMNS, dtypes, strict=True)}
    )
    return Themes(themes=[], assignments=assignments, n_comments=n_comments, notes=[note])


def _num(value: float, digits: int = 4) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def lift_interval(hits_a: int, n_a: int, hits_b: int, n_b: int) -> tuple[float, float, float]:
    """Ratio of proportions (a / b) with its 95% interval on the log scale; 0.5 is added to
    every count when one is zero. NaN when either group is empty."""
    if n_a == 0 or n_b == 0:
        return math.nan, math.nan, math.nan
    if 0 in (hits_a, hits_b, n_a - hits_a, n_b - hits_b):
        hits_a, n_a, hits_b, n_b = hits_a + 0.5, n_a + 1, hits_b + 0.5, n_b + 1  # type: ignore[assignment]
    ratio = (hits_a / n_a) / (hits_b / n_b)
    se = math.sqrt(1 / hits_a - 1 / n_a + 1 / hits_b - 1 / n_b)
    return ratio, ratio * math.exp(-Z95 * se), ratio * math.exp(Z95 * se)


def _trend(hit: np.ndarray, recent: np.ndarray) -> dict[str, Any]:
    n_recent, n_earlier = int(recent.sum()), int((~recent).sum())
    if n_recent == 0 or n_earlier == 0:
        return {
            "recent_share": None,
            "earlier_share": None,
            "change": None,
            "low": None,
            "high": None,
            "direction": "unknown",
        }
    p1, p0 = hit[recent].mean(), hit[~recent].mean()
    se = math.sqrt(p1 * (1 - p1) / n_recent + p0 * (1 - p0) / n_earlier)
    change, low, high = p1 - p0, p1 - p0 - Z95 * se, p1 - p0 + Z95 * se
    direction = "rising" if low > 0 else "falling" if high < 0 else "steady"
    return {
        "recent_share": _num(100 * p1),
        "earlier_share": _num(100 * p0),
        "change": _num(100 * change),
        "low": _num(100 * low),
        "high": _num(100 * high),
        "direction": direction,
    }


def _column(frame: pd.DataFrame, name: str, rows: np.ndarray) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(rows), "", dtype=object)
    return frame[name].astype(object).fillna("").astype(str).to_numpy()[rows]


def _counts(values: np.ndarray, limit: int = 50) -> dict[str, int]:
    named = pd.Series(values)
    counts = named[named != ""].value_counts().head(limit)
    return {str(k): int(v) for k, v in counts.items()}


def _rank_key(theme: dict[str, Any]) -> tuple[bool, float, int]:
    """Highest lift first (themes without a lift last), then the most mentioned."""
    lift = theme["lift"]
    return lift is None, -float(lift or 0.0), -int(theme["n"])


def _fit(texts: list[str], n_themes: int, seed: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Theme weights per comment (n x k), term weights per theme (k x terms), the terms."""
    rng = np.random.default_rng(seed)
    sample = (
        rng.choice(len(texts), FIT_SAMPLE, replace=False)
        if len(texts) > FIT_SAMPLE
        else np.arange(len(texts))
    )
    matrix, vocabulary = term_matrix(texts, max_terms=MAX_TERMS)
    matrix = matrix.astype(np.float64)  # float32 rounding made NMF's error sqrt(negative)
    fitted = matrix[np.sort(sample)]
    k = min(n_themes, len(vocabulary), fitted.shape[0])
    nmf = NMF(n_components=k, init="nndsvda", random_state=seed, max_iter=400)
    nmf.fit(fitted)
    weights = nmf.transform(matrix)
    return np.asarray(weights), np.asarray(nmf.components_), vocabulary


def find_themes(
    comments: pd.DataFrame, *, n_themes: int = 8, seed: int = 0, recent_days: int = 28
) -> Themes:
    """Themes of `comments` (response_id, comment, survey, score, timestamp, touchpoint,
    stage; only response_id and comment are required). Empty or too few comments give no
    themes and a note, never an error."""
    if "comment" not in comments.columns or "response_id" not in comments.columns:
        return _empty(0, "no comment or response_id column")
    texts_all = [normalize(t) for t in comments["comment"].to_numpy()]
    rows = np.flatnonzero([bool(t) for t in texts_all])
    texts = [texts_all[i] for i in rows]
    if len(texts) < MIN_COMMENTS:
        return _empty(len(texts), f"{len(texts)} comments: themes need {MIN_COMMENTS}")
    try:
        weights, components, vocabulary = _fit(texts, n_themes, seed)
    except ValueError as exc:  # no term occurs in two comments: nothing to group
        return _empty(len(texts), f"no themes: {exc}")
    strongest = weights.max(axis=1)
    floor = (
        ABSOLUTE_MIN * float(np.median(strongest[strongest > 0])) if (strongest > 0).any() else 0.0
    )
    member = (weights >= RELATIVE_MIN * strongest[:, None]) & (weights > floor) & (weights > 0)

    ids = comments["response_id"].astype(str).to_numpy()[rows]
    originals = comments["comment"].to_numpy()[rows]
    if {"survey", "score"} <= set(comments.columns):
        bands = band(comments["survey"].to_numpy()[rows], comments["score"].to_numpy()[rows])
    else:
        bands = np.zeros(len(rows), np.int8)
    neg, pos = bands == NEGATIVE, bands == POSITIVE
    if "timestamp" in comments.columns:
        stamps = pd.to_datetime(comments["timestamp"], utc=True, errors="coerce").iloc[rows]
        latest = stamps.max()  # NaT-skipping; NaT when no comment has a time
        recent = (stamps > latest - pd.Timedelta(days=recent_days)).to_numpy(bool)
    else:
        recent = np.zeros(len(rows), bool)
    touchpoints, stages = _column(comments, "touchpoint", rows), _column(comments, "stage", rows)

    themes: list[dict[str, Any]] = []
    for k in range(weights.shape[1]):
        hit = member[:, k]
        top = [
            vocabulary[j] for j in np.argsort(-components[k])[:TOP_TERMS] if components[k, j] > 0
        ]
        examples: list[str] = []
        for i in np.argsort(-np.where(hit, weights[:, k], -1.0), kind="stable"):
            if not hit[i] or len(examples) == N_EXAMPLES:
                break
            text = clean(originals[i])[:EXAMPLE_CHARS]
            if text not in examples:
                examples.append(text)
        lift, low, high = lift_interval(
            int((hit & neg).sum()), int(neg.sum()), int((hit & pos).sum()), int(pos.sum())
        )
        themes.append(
            {
                "theme": k,
                "name": " · ".join(top[:3]),
                "terms": top,
                "examples": examples,
                "n": int(hit.sum()),
                "share": _num(100 * hit.mean()),
                "detractor_rate": _num(100 * (hit & neg).sum() / neg.sum()) if neg.any() else None,
                "promoter_rate": _num(100 * (hit & pos).sum() / pos.sum()) if pos.any() else None,
                "lift": _num(lift),
                "lift_low": _num(low),
                "lift_high": _num(high),
                "trend": _trend(hit, recent),
                "touchpoints": _counts(touchpoints[hit]),
                "stages": _counts(stages[hit]),
            }
        )
    themes.sort(key=_rank_key)
    for rank, theme in enumerate(themes, start=1):
        theme["rank"] = rank
    rising = sorted(themes, key=lambda t: -float(t["trend"]["change"] or 0.0))
    for rank, theme in enumerate(rising, start=1):
        theme["trend_rank"] = rank  # 1 = grew most in the recent window
    which, theme_of = np.nonzero(member)
    assignments = pd.DataFrame(
        {
            "response_id": ids[which],
            "theme": theme_of.astype(np.int64),
            "weight": weights[which, theme_of].astype(np.float64),
        }
    )
    return Themes(themes=themes, assignments=assignments, n_comments=len(texts))
