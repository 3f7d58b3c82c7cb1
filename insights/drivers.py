"""Key drivers of NPS: one row per customer, Johnson's relative weights with bootstrap
intervals, the importance × performance view, and mix/rate decomposition of a change.

Relative weights (Johnson 2000) split R² of a linear model among correlated predictors:
the predictors are replaced by their closest orthogonal set Z = X R^(-1/2) (correlation
scale), the target regressed on Z, and each Z's share carried back to the X's by the
squared loadings. The weights sum to R² and are reported as shares of it. A driver is
significant when its weight beats that of a pure-noise predictor in 97.5% of bootstrap
replicates (Tonidandel, LeBreton & Johnson 2009).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import numpy as np
import pandas as pd

from contracts.errors import InvalidInput
from contracts.schema import LOYALTY_TIERS
from insights.scale import satisfaction
from insights.stats import metric as metric_named

SATISFACTION: Final = "satisfaction:"  # feature prefix: mean 0–1 CSAT/CES at a touchpoint
SEGMENT: Final = "segment:"
# segments computed from the feedback itself would explain NPS by NPS
LEAKY_SEGMENTS: Final = ("nps-", "csat-", "ces-")
RECENT_DAYS: Final = 90
MAX_SEGMENT_FLAGS: Final = 20
BLOCKS: Final = 1_000


def driver_frame(
    responses: pd.DataFrame,
    customers: pd.DataFrame,
    *,
    events: pd.DataFrame | None = None,
    memberships: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per customer with an NPS answer: `nps` (their latest, 0–10) and the features
    the inputs hold — `satisfaction:<touchpoint>` (mean CSAT/CES there, scaled to 0–1; NaN
    when they never rated it), `tier` (0 = none … 4 = platinum), `segment:<name>` flags,
    `recent_purchases` and `dismissed_recommendations` (last 90 days of events, log1p)."""
    survey = responses["survey"].astype(str).to_numpy(dtype=object)
    rows = np.flatnonzero(survey == "nps")
    stamps = pd.to_datetime(responses["timestamp"], utc=True).to_numpy("datetime64[ns]")
    codes, ids = pd.factorize(responses["customer_id"])
    order = rows[np.lexsort((stamps[rows], codes[rows]))]
    latest = order[np.r_[codes[order][1:] != codes[order][:-1], True]] if len(order) else order
    index = pd.Index(np.asarray(ids, dtype=object)[codes[latest]], name="customer_id")
    score = responses["score"].to_numpy(np.float64)
    columns: dict[str, np.ndarray] = {"nps": score[latest]}
    at = np.full(len(ids), -1)
    at[codes[latest]] = np.arange(len(latest))
    columns.update(_satisfaction(responses, at[codes], len(index)))
    if "loyalty_tier" in customers.columns:
        people = customers.drop_duplicates("customer_id")
        rank = {t: float(i) for i, t in enumerate(LOYALTY_TIERS)}
        tier = people["loyalty_tier"].astype(object).map(rank).to_numpy(np.float64)
        found = pd.Index(people["customer_id"]).get_indexer(index)
        columns["tier"] = np.where(found >= 0, tier[np.maximum(found, 0)], np.nan)
    if memberships is not None and len(memberships):
        columns.update(_segment_flags(memberships, index))
    if events is not None and len(events):
        columns.update(_recent_events(events, index))
    return pd.DataFrame(columns, index=index).reset_index()


def _satisfaction(responses: pd.DataFrame, at: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Mean 0–1 CSAT/CES per (customer position `at`, touchpoint); NaN where never rated."""
    touchpoint = responses["touchpoint"].astype("string").fillna("").to_numpy(dtype=object)
    scaled = satisfaction(responses["survey"], responses["score"])
    rated = responses["survey"].astype(str).isin(["csat", "ces"]).to_numpy(bool)
    keep = np.flatnonzero(rated & (at >= 0) & (touchpoint != "") & np.isfinite(scaled))
    tp_codes, names = pd.factorize(touchpoint[keep], sort=True)
    cell = at[keep] * len(names) + tp_codes
    counts = np.bincount(cell, minlength=n * len(names)).reshape(n, len(names))
    sums = np.bincount(cell, weights=scaled[keep], minlength=n * len(names)).reshape(counts.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / counts, np.nan)
    return {SATISFACTION + str(name): means[:, k] for k, name in enumerate(names)}


def _segment_flags(memberships: pd.DataFrame, index: pd.Index) -> dict[str, np.ndarray]:
    pairs = memberships[["customer_id", "segment"]].dropna().drop_duplicates()
    segment = pairs["segment"].astype(str).to_numpy(dtype=object)
    at = index.get_indexer(pd.Index(pairs["customer_id"]))
    keep = (at >= 0) & ~pd.Series(segment).str.startswith(LEAKY_SEGMENTS).to_numpy(bool)
    seg_codes, names = pd.factorize(segment[keep], sort=True)
    share = np.bincount(seg_codes, minlength=len(names)) / max(len(index), 1)
    usable = np.flatnonzero((share >= 0.01) & (share <= 0.99))
    # the most balanced flags carry the most information; a few dozen at most stay readable
    chosen = usable[np.argsort(np.abs(share[usable] - 0.5), kind="stable")][:MAX_SEGMENT_FLAGS]
    flags = {}
    for code in sorted(chosen, key=lambda c: str(names[c])):
        column = np.zeros(len(index))
        column[at[keep][seg_codes == code]] = 1.0
        flags[SEGMENT + str(names[code])] = column
    return flags


def _recent_events(events: pd.DataFrame, index: pd.Index) -> dict[str, np.ndarray]:
    stamps = pd.to_datetime(events["timestamp"], utc=True).to_numpy("datetime64[ns]")
    recent = stamps >= stamps.max() - np.timedelta64(RECENT_DAYS, "D")
    types = events["type"].astype(str).to_numpy(dtype=object)
    at = index.get_indexer(pd.Index(events["customer_id"]))
    out = {}
    for name, kind in (("recent_purchases", "purchase"), ("dismissed_recommendations", "dismiss")):
        rows = recent & (types == kind) & (at >= 0)
        out[name] = np.log1p(np.bincount(at[rows], minlength=len(index)).astype(np.float64))
    return out


def relative_weights(corr: np.ndarray) -> np.ndarray:
    """Johnson's raw relative weights from the correlation matrix of [X..., y] (y last);
    they sum to the model's R²."""
    rxx, rxy = corr[:-1, :-1], corr[:-1, -1]
    values, vectors = np.linalg.eigh(rxx)
    values = np.clip(values, 0.0, None)
    loadings = vectors @ np.diag(np.sqrt(values)) @ vectors.T  # corr(X, Z)
    beta = np.linalg.pinv(loadings, rcond=1e-10) @ rxy  # y on the orthogonal Z
    return (loadings**2) @ (beta**2)  # type: ignore[no-any-return]


def _correlation(cross: np.ndarray) -> np.ndarray:
    """Correlation matrix from Σ z zᵀ of rows z = [1, x...] (the first entry counts rows)."""
    n = cross[0, 0]
    mean = cross[0, 1:] / n
    cov = cross[1:, 1:] / n - np.outer(mean, mean)
    sd = np.sqrt(np.clip(np.diag(cov), 1e-300, None))
    return cov / np.outer(sd, sd)  # type: ignore[no-any-return]


def key_drivers(
    frame: pd.DataFrame, *, target: str = "nps", n_boot: int = 200, seed: int = 0
) -> pd.DataFrame:
    """Relative weight (share of R²) of every feature in `frame` with its bootstrap 95%
    interval and significance against a noise predictor, strongest first; `attrs` hold
    `r2` and `n`. Missing feature values are filled with the feature's mean."""
    if target not in frame.columns:
        raise InvalidInput(f"driver frame has no target column {target!r}", field="target")
    x = frame.drop(columns=[c for c in (target, "customer_id") if c in frame.columns])
    x = x.apply(pd.to_numeric, errors="coerce").astype(np.float64)
    x = x.fillna(x.mean())
    x = x.loc[:, x.std(ddof=0).fillna(0.0) > 1e-12]
    y = frame[target].to_numpy(np.float64)
    if len(frame) < 10 or x.shape[1] == 0 or np.std(y) == 0:
        return _empty(len(frame))
    rng = np.random.default_rng(seed)
    # rows z = [1, x..., noise, y]: per-block cross products make a bootstrap replicate a
    # weighted sum of blocks (each row its own block up to BLOCKS rows)
    rows = np.column_stack([np.ones(len(y)), x.to_numpy(), rng.standard_normal(len(y)), y])
    blocks = np.array_split(rng.permutation(len(y)), min(len(y), BLOCKS))
    cross = np.stack([rows[b].T @ rows[b] for b in blocks])
    no_noise = np.r_[0 : rows.shape[1] - 2, rows.shape[1] - 1]
    full = cross.sum(0)
    raw = relative_weights(_correlation(full[np.ix_(no_noise, no_noise)]))
    r2 = float(raw.sum())
    boot_share, beats_noise = [], []
    for _ in range(n_boot):
        counts = rng.multinomial(len(cross), np.full(len(cross), 1 / len(cross)))
        sample = np.tensordot(counts, cross, axes=1)
        weights = relative_weights(_correlation(sample[np.ix_(no_noise, no_noise)]))
        boot_share.append(weights / weights.sum())
        with_noise = relative_weights(_correlation(sample))
        beats_noise.append(with_noise[:-1] - with_noise[-1])
    low, high = np.percentile(np.array(boot_share), [2.5, 97.5], axis=0)
    lower_margin = np.percentile(np.array(beats_noise), 2.5, axis=0)
    signs = np.sign(_correlation(full[np.ix_(no_noise, no_noise)])[:-1, -1])
    out = pd.DataFrame(
        {"feature": list(x.columns), "kind": [_kind(c) for c in x.columns],
         "weight": raw / r2, "low": low, "high": high, "raw_weight": raw,
         "direction": signs.astype(int), "significant": lower_margin > 0}
    ).sort_values("weight", ascending=False, kind="stable")  # fmt: skip
    out = out.reset_index(drop=True)
    out.attrs.update(r2=r2, n=len(frame))
    return out


def _kind(feature: str) -> str:
    if feature.startswith(SATISFACTION):
        return "touchpoint"
    return "segment" if feature.startswith(SEGMENT) else "customer"


def _empty(n: int) -> pd.DataFrame:
    columns = ["feature", "kind", "weight", "low", "high", "raw_weight", "direction",
               "significant"]  # fmt: skip
    out = pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    out.attrs.update(r2=float("nan"), n=n)
    return out


def importance_performance(
    drivers: pd.DataFrame, performance: Mapping[str, float] | pd.Series
) -> pd.DataFrame:
    """Importance (driver weight) against performance (e.g. mean 0–1 satisfaction) for the
    features with both; each split at its mean. "fix first" = important and scoring low."""
    perf = pd.Series(performance, dtype=np.float64).rename("performance")
    table = drivers[["feature", "weight", "significant"]].join(perf, on="feature", how="inner")
    table = table.dropna(subset=["weight", "performance"]).reset_index(drop=True)
    important = table["weight"] >= table["weight"].mean()
    performing = table["performance"] >= table["performance"].mean()
    table["quadrant"] = np.select(
        [important & ~performing, important & performing, ~important & ~performing],
        ["fix first", "keep up", "low priority"],
        "possible overkill",
    )
    order = {"fix first": 0, "keep up": 1, "low priority": 2, "possible overkill": 3}
    rank = table["quadrant"].map(order)
    return (
        table.assign(_rank=rank)
        .sort_values(["_rank", "weight"], ascending=[True, False])[
            ["feature", "weight", "significant", "performance", "quadrant"]
        ]
        .reset_index(drop=True)
    )


def decompose_change(
    responses: pd.DataFrame,
    *,
    metric: str,
    by: str,
    before: tuple[object, object],
    after: tuple[object, object],
) -> pd.DataFrame:
    """Split the change of `metric` between two windows [start, end) into mix (who answered:
    each group's share of responses) and rate (how they felt: each group's score), per
    group of `by`. Symmetric: rate_g = Δm_g · mean(w_g), mix_g = Δw_g · mean(m_g), so the
    parts sum exactly to the overall change. A group seen in one window only changes mix.
    `by` is a column of `responses` (one group per answer); overlapping groups such as
    segments would count an answer twice and break the sum, so they are refused."""
    m = metric_named(metric)
    if by not in responses.columns:
        raise InvalidInput(f"responses have no column {by!r} to decompose by", field="by")
    rows = responses[responses["survey"] == m.survey]
    stamps = pd.to_datetime(rows["timestamp"], utc=True)
    sides = []
    for start, end in (before, after):
        inside = rows[(stamps >= pd.Timestamp(start)) & (stamps < pd.Timestamp(end))]  # type: ignore[arg-type]
        values = pd.Series(m.values(inside["score"].to_numpy()) * m.factor, index=inside.index)
        grouped = values.groupby(inside[by].astype(str)).agg(["size", "mean"])
        grouped["share"] = grouped["size"] / max(len(inside), 1)
        sides.append(grouped)
    table = sides[0].add_suffix("_before").join(sides[1].add_suffix("_after"), how="outer")
    table[["size_before", "size_after", "share_before", "share_after"]] = table[
        ["size_before", "size_after", "share_before", "share_after"]
    ].fillna(0.0)
    table["mean_before"] = table["mean_before"].fillna(table["mean_after"])
    table["mean_after"] = table["mean_after"].fillna(table["mean_before"])
    rate = (
        (table["mean_after"] - table["mean_before"])
        * (table["share_before"] + table["share_after"])
        / 2
    )
    mix = (
        (table["share_after"] - table["share_before"])
        * (table["mean_before"] + table["mean_after"])
        / 2
    )
    return pd.DataFrame(
        {by: table.index.astype(str), "n_before": table["size_before"].astype(np.int64),
         "n_after": table["size_after"].astype(np.int64),
         "value_before": table["mean_before"], "value_after": table["mean_after"],
         "mix": mix, "rate": rate, "total": mix + rate}
    ).reset_index(drop=True)  # fmt: skip
