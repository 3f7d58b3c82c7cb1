"""Automatic model selection: a small, time-boxed search on a validation split.

Every candidate is trained on the validation split's training part and scored with the same
metric code as offline evaluation, on the list the product would serve when a `Storefront`
is given (`recsys.served`: published top-N, what the customer has left out, the rules), so
the validation figure is what customers get; blends of the best item-item and factor models are
tried too. The winner is refitted on all data and checked before anyone may publish it:
a model that loses to popularity on validation, or has NaN/inf in its arrays, raises
`ModelRejected` with the reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from contracts.errors import InvalidInput
from recsys.errors import ModelRejected, ModelTooLargeError, RecsysError
from recsys.evaluation import SERVED, evaluate
from recsys.models import create_model, model_class
from recsys.models.base import Recommender
from recsys.models.blend import BlendRecommender
from recsys.served import Storefront
from recsys.split import Split

HISTORY_MODELS = ("ease", "item_knn")
FACTOR_MODELS = ("als", "lightfm", "bpr")
BLEND_WEIGHTS = (0.3, 0.6, 1.0)


@dataclass(frozen=True)
class Candidate:
    model: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Trial:
    """One candidate's outcome on the validation split."""

    model: str
    params: dict[str, Any]
    metrics: dict[str, float] = field(default_factory=dict)
    fit_seconds: float = 0.0
    skipped: str = ""


@dataclass
class Selection:
    """The refitted winner, its validation metrics beside popularity's, and every trial."""

    model: Recommender
    name: str
    params: dict[str, Any]
    metric: str
    validation: dict[str, float]
    popularity: dict[str, float]
    trials: list[Trial]
    refit_seconds: float


def describe(model: str, params: dict[str, Any]) -> str:
    """Short human label of a configuration, e.g. `blend(ease lambda_=500 + 0.6*als ...)`."""
    if model == "blend":
        parts = [f"{m['weight']:g}*{describe(m['model'], m['params'])}" for m in params["members"]]
        return "blend(" + " + ".join(parts) + ")"
    shown = {
        k: v for k, v in params.items() if k not in {"random_state", "max_items", "num_threads"}
    }
    return model + (" " + " ".join(f"{k}={v}" for k, v in shown.items()) if shown else "")


def default_candidates(n_items: int, *, has_features: bool = False) -> list[Candidate]:
    """Cheap, usually-strong candidates first, so a short budget still covers the basics."""
    out: list[Candidate] = []
    if n_items <= 15000:
        out += [Candidate("ease", {"lambda_": lam}) for lam in (200.0, 500.0, 100.0, 1000.0)]
    out += [
        Candidate("item_knn", {"similarity": "bm25", "K": 100}),
        Candidate("als", {"factors": 32, "alpha": 5.0, "regularization": 10.0}),
        Candidate("als", {"factors": 16, "alpha": 5.0, "regularization": 10.0}),
        Candidate("als", {"factors": 64, "alpha": 10.0, "regularization": 1.0}),
        Candidate("als", {"factors": 128, "alpha": 1.0, "regularization": 0.05}),
        Candidate("item_knn", {"similarity": "cosine", "K": 100}),
        Candidate("lightfm", {"no_components": 32, "epochs": 20}),
        Candidate("bpr", {"factors": 64, "iterations": 100}),
    ]
    if has_features:  # the hybrid earns its place when there are attributes to learn from
        out.insert(3, out.pop(-2))
    return out


def estimate_seconds(cand: Candidate, x: sp.csr_matrix) -> float:
    """Rough single-thread fit time, from timings on 2 cores (2M interactions, 20k items).

    Only used to skip candidates that cannot finish within what is left of the budget.
    """
    p = {**model_class(cand.model).defaults, **cand.params}
    nnz = float(x.nnz)
    if cand.model == "ease":
        return 1.5e-11 * float(x.shape[1]) ** 3
    if cand.model == "als":
        return 2e-8 * nnz * int(p["iterations"]) * max(int(p["factors"]), 32)
    if cand.model == "bpr":
        return 1.5e-6 * nnz * int(p["iterations"])
    if cand.model == "lightfm":
        return 1.2e-5 * nnz  # one epoch; it stops itself at max_seconds
    if cand.model == "item_knn":
        return 2e-6 * nnz
    return 0.0


def all_finite(model: Recommender) -> bool:
    """True when every float array the model would save is free of NaN and inf."""
    arrays, _ = model._state()
    return all(
        bool(np.isfinite(a).all()) for a in arrays.values() if np.issubdtype(a.dtype, np.floating)
    )


def check_publishable(
    model: Recommender, metrics: dict[str, float], popularity: dict[str, float], metric: str
) -> None:
    """Raise `ModelRejected` unless the model is finite and not worse than popularity."""
    if not all_finite(model):
        raise ModelRejected(f"{model.name} has NaN or inf in its parameters")
    value, base = metrics.get(metric, float("nan")), popularity.get(metric, float("nan"))
    if not np.isfinite(value):
        raise ModelRejected(f"{model.name} has no finite validation {metric}")
    if value < base:
        raise ModelRejected(
            f"{model.name} is worse than popularity on validation: "
            f"{metric} {value:.4f} < {base:.4f}"
        )


def select_model(
    interactions: sp.csr_matrix,
    validation: Split,
    *,
    candidates: list[Candidate] | None = None,
    budget_seconds: float = 240.0,
    metric: str = "ndcg",
    k: int = 10,
    user_features: sp.csr_matrix | None = None,
    item_features: sp.csr_matrix | None = None,
    user_groups: np.ndarray | None = None,
    blend: bool = True,
    max_eval_users: int | None = 5000,
    fallback_to_popularity: bool = False,
    front: Storefront | None = None,
) -> Selection:
    """Search candidates on `validation`, refit the best on `interactions`, check it.

    With `front`, candidates are compared on the served list's `metric` (`served_ndcg`).

    Every trial is scored on the same sample of at most `max_eval_users` validation
    customers, which keeps the search affordable on large data. Popularity is the baseline,
    not a candidate: if no candidate beats it, `ModelRejected` is raised, unless
    `fallback_to_popularity`, which then selects popularity itself.
    """
    if validation.train.shape != interactions.shape:
        raise InvalidInput("validation split and interactions must have the same shape")
    if validation.test.nnz == 0:
        raise InvalidInput("validation split has no test interactions")
    start = time.perf_counter()
    if front is not None:
        metric = SERVED + metric
    fit_kw: dict[str, Any] = {
        "user_features": user_features,
        "item_features": item_features,
        "user_groups": user_groups,
    }
    ev: dict[str, Any] = {
        "k": k, "user_features": user_features, "max_users": max_eval_users, "front": front
    }  # fmt: skip
    cands = candidates or default_candidates(interactions.shape[1], has_features=_has(fit_kw))
    pop_model = create_model("popularity").fit(validation.train, user_groups=user_groups)
    pop = evaluate(pop_model, validation, **ev)
    trials = [Trial("popularity", dict(pop_model.params), pop)]
    fitted: list[tuple[Trial, Recommender]] = [(trials[0], pop_model)]
    for cand in cands:
        left = budget_seconds - (time.perf_counter() - start)
        guess = estimate_seconds(cand, validation.train)
        if guess > left:
            why = f"needs ~{guess:.0f}s, {max(left, 0):.0f}s of the budget left"
            trials.append(Trial(cand.model, cand.params, skipped=why))
            continue
        params = dict(cand.params)
        if cand.model == "lightfm" and params.get("max_seconds") is None:
            params["max_seconds"] = left / 2
        trial = Trial(cand.model, params)
        t0 = time.perf_counter()
        try:
            model = create_model(cand.model, **params).fit(validation.train, **fit_kw)
            trial.params = dict(model.params)  # e.g. the epochs LightFM actually ran
        except ModelTooLargeError as exc:
            trial.skipped = str(exc)
            trials.append(trial)
            continue
        except (RecsysError, ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            # one candidate failing on this data must not stop the search
            trial.skipped = f"failed: {type(exc).__name__}: {exc}"
            trials.append(trial)
            continue
        trial.fit_seconds = time.perf_counter() - t0
        trial.metrics = evaluate(model, validation, **ev)
        trials.append(trial)
        fitted.append((trial, model))
    if blend and time.perf_counter() - start <= budget_seconds:
        trials += _try_blends(fitted, validation, metric, ev)
    scored = [
        t
        for t in trials[0 if fallback_to_popularity else 1 :]
        if t.metrics and np.isfinite(t.metrics.get(metric, np.nan))
    ]
    if not scored:
        raise ModelRejected("no candidate could be trained and evaluated within the budget")
    best = max(scored, key=lambda t: t.metrics[metric])
    t0 = time.perf_counter()
    final = create_model(best.model, **best.params).fit(interactions, **fit_kw)
    refit = time.perf_counter() - t0
    check_publishable(final, best.metrics, pop, metric)
    return Selection(final, best.model, best.params, metric, best.metrics, pop, trials, refit)


def _has(fit_kw: dict[str, Any]) -> bool:
    return fit_kw["user_features"] is not None or fit_kw["item_features"] is not None


def _try_blends(
    fitted: list[tuple[Trial, Recommender]],
    validation: Split,
    metric: str,
    ev: dict[str, Any],
) -> list[Trial]:
    """Blend the best history model with the best factor model at a few weights."""

    def best_of(kinds: tuple[str, ...]) -> tuple[Trial, Recommender] | None:
        pool = [(t, m) for t, m in fitted if t.model in kinds]
        return max(pool, key=lambda tm: tm[0].metrics[metric]) if pool else None

    hist, fact = best_of(HISTORY_MODELS), best_of(FACTOR_MODELS)
    if hist is None or fact is None:
        return []
    out = []
    for w in BLEND_WEIGHTS:
        model = BlendRecommender.of([hist[1], fact[1]], [1.0, w])
        metrics = evaluate(model, validation, **ev)
        out.append(Trial("blend", dict(model.params), metrics))
    return out
