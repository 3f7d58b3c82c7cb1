"""Sentiment of any text, learnt from the scored comments themselves (weak supervision).

A comment answered with a detractor-like score is a negative example, one with a
promoter-like score a positive one (`insights.scale.BANDS`); passives are left out. The
features are hashed (no vocabulary to store; `insights.hashing`): character 2-4-grams,
which read Korean, English and mixed text alike with no dictionary, plus word unigrams
and bigrams (negation: "not good"). A logistic regression on them scores new text in [-1, 1]
(2·P(positive) − 1). The model is its weights and a JSON header, saved as `.npz` and
loaded with `allow_pickle=False`: about 1–3 MB, small enough to keep in Redis.
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from insights.hashing import CHAR_NGRAMS, FEATURES, hashed_columns, hashed_features
from insights.scale import POSITIVE, band
from insights.text import normalize_many

FORMAT: Final = "touchpoint-sentiment/1"
HASH_BITS: Final = 18  # per feature family: 2 x 262,144 weights
MIN_PER_CLASS: Final = 20  # fewer scored comments on either side: no model
MAX_TRAIN: Final = 100_000  # comments sampled for training (the rest adds little, costs time)
C: Final = 4.0  # inverse regularisation of the logistic regression
MAX_ITER: Final = 200
FEW: Final = 8  # texts scored one by one, without building their sparse features


def features(texts: list[str], bits: int = HASH_BITS) -> sp.csr_matrix:
    """Hashed char + word n-grams of normalised texts, each row scaled to unit length."""
    return hashed_features(texts, bits)


@dataclass(frozen=True)
class SentimentModel:
    """Weights over the hashed features; `score` is deterministic and the same after
    `to_bytes` / `from_bytes`."""

    coef: np.ndarray  # float32, 2 * 2**bits
    intercept: float
    meta: dict[str, Any]

    @property
    def bits(self) -> int:
        return int(self.meta["hash_bits"])

    def score(self, texts: Iterable[object]) -> np.ndarray:
        """Sentiment per text in [-1, 1]; 0.0 for empty text (nothing to read)."""
        return self.score_normalised(normalize_many(texts))

    def score_normalised(self, normalised: list[str]) -> np.ndarray:
        """`score` of texts already through `insights.text.normalize`."""
        if not normalised:
            return np.zeros(0)
        if len(normalised) <= FEW:  # a comment at intake: no sparse matrix (half the time)
            margin = np.array([self._margin(t) for t in normalised])
        else:
            weights = features(normalised, self.bits) @ self.coef
            margin = weights.astype(np.float64) + self.intercept
        out = np.tanh(margin / 2.0)  # = 2 * sigmoid(margin) - 1
        out[np.array([not t for t in normalised])] = 0.0
        return np.asarray(out, dtype=np.float64)

    def _margin(self, text: str) -> float:
        """The logit of one normalised text: its features' weights over √(their count)."""
        columns = hashed_columns(text, self.bits)
        if not len(columns):
            return self.intercept
        total = float(self.coef[columns].sum(dtype=np.float64))
        return total / float(np.sqrt(len(columns))) + self.intercept

    def to_bytes(self) -> bytes:
        """The model as `.npz` bytes (weights + JSON header); no pickle."""
        buffer = io.BytesIO()
        header = json.dumps({**self.meta, "intercept": self.intercept}).encode("utf-8")
        np.savez_compressed(buffer, coef=self.coef, meta=np.frombuffer(header, dtype=np.uint8))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> SentimentModel:
        """Load `to_bytes` output; ValueError when it is not a sentiment model of this
        format."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                coef = np.asarray(npz["coef"], dtype=np.float32)
                meta = json.loads(bytes(npz["meta"]).decode("utf-8"))
        except Exception as exc:
            raise ValueError(f"not a sentiment model: {exc}") from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} model")
        if meta.get("features") != FEATURES:
            raise ValueError(f"model hashed {meta.get('features')!r} features, not {FEATURES!r}")
        if coef.shape != (2 * 2 ** int(meta["hash_bits"]),):
            raise ValueError(f"sentiment weights have shape {coef.shape}, header disagrees")
        intercept = float(meta.pop("intercept"))
        return cls(coef=coef, intercept=intercept, meta=meta)


def labelled_comments(
    feedback: pd.DataFrame, *, limit: int | None = None, seed: int = 0
) -> tuple[list[str], np.ndarray]:
    """Normalised non-empty comments with a band, and their labels (1 positive, 0
    negative); at most `limit` of them, drawn at random (seeded) before normalising."""
    if feedback.empty or not {"survey", "score", "comment"} <= set(feedback.columns):
        return [], np.zeros(0, dtype=np.int8)
    bands = band(feedback["survey"].to_numpy(), feedback["score"].to_numpy())
    comments = feedback["comment"]
    written = comments.notna().to_numpy(bool) & (comments.astype(str).str.len() > 0).to_numpy(bool)
    keep = np.flatnonzero((bands != 0) & written)
    if limit is not None and len(keep) > limit:
        keep = np.sort(np.random.default_rng(seed).choice(keep, limit, replace=False))
    texts = normalize_many(comments.to_numpy()[keep])
    has_text = np.array([bool(t) for t in texts], dtype=bool)
    labels = (bands[keep][has_text] == POSITIVE).astype(np.int8)
    return [t for t, ok in zip(texts, has_text, strict=True) if ok], labels


def train_sentiment(
    feedback: pd.DataFrame, *, seed: int = 0, max_train: int = MAX_TRAIN
) -> SentimentModel | None:
    """A model from the scored comments of `feedback` (survey, score, comment), at most
    `max_train` of them (drawn with `seed`); None when either side has fewer than
    MIN_PER_CLASS comments."""
    texts, labels = labelled_comments(feedback, limit=max_train, seed=seed)
    n_pos = int(labels.sum())
    if min(n_pos, len(labels) - n_pos) < MIN_PER_CLASS:
        return None
    return fit_sentiment(texts, labels)


def fit_sentiment(normalised: list[str], labels: np.ndarray) -> SentimentModel:
    """The logistic regression on texts already through `insights.text.normalize` with
    labels 1 (positive) / 0 (negative); both labels must occur."""
    labels = np.asarray(labels, dtype=np.int8)
    fit = LogisticRegression(C=C, class_weight="balanced", solver="lbfgs", max_iter=MAX_ITER)
    with warnings.catch_warnings():
        # separable text stops at MAX_ITER: the weights then already rank, which is all
        # a score needs (same AUC as liblinear's exact fit on the Amazon snippets, 3x faster)
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit.fit(features(normalised), labels)
    meta = {
        "format": FORMAT,
        "hash_bits": HASH_BITS,
        "features": FEATURES,
        "char_ngrams": list(CHAR_NGRAMS),
        "n_train": len(labels),
        "n_positive": int(labels.sum()),
        "n_negative": int(len(labels) - labels.sum()),
    }
    coef = np.asarray(fit.coef_[0], dtype=np.float32)
    return SentimentModel(coef=coef, intercept=float(fit.intercept_[0]), meta=meta)


def score_comments(model: SentimentModel | None, comments: pd.Series) -> pd.Series:
    """Sentiment per row of `comments` (same index); NaN where the comment is empty or
    there is no model."""
    values = np.full(len(comments), np.nan)
    if model is not None and not comments.empty:
        texts = normalize_many(comments.to_numpy())
        rows = np.flatnonzero([bool(t) for t in texts])
        if len(rows):
            values[rows] = model.score_normalised([texts[i] for i in rows])
    return pd.Series(values, index=comments.index, dtype=np.float64)
