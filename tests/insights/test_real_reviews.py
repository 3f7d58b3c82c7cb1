"""Real data: the 3,708 Amazon review sentences with human sentiment ratings from the
vaderSentiment 3.3.2 source distribution, read from the cache `make data` fills
(`bench._data`); a missing file fails the test naming `make data`, never skips it.
The same protocol as `bench/sentiment.py`: five folds split by review, positive = mean
human rating > 0, ROC AUC pooled over the held-out folds beside VADER's on the same rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold

from bench import _data
from bench._data import MissingDataError, read_review_snippets
from insights.sentiment import fit_sentiment
from insights.text import normalize_many


@pytest.fixture(scope="module")
def snippets() -> pd.DataFrame:
    try:
        return read_review_snippets(download=False)
    except MissingDataError as exc:
        pytest.fail(str(exc))


def test_a_missing_set_names_make_data(monkeypatch, tmp_path):
    monkeypatch.setattr(_data, "CACHE", tmp_path)
    with pytest.raises(MissingDataError, match="make data"):
        read_review_snippets(download=False)


def test_the_cached_set_is_the_published_one(snippets):
    assert len(snippets) == 3708
    assert snippets["rating"].between(-4, 4).all()
    assert (snippets["text"].str.len() > 0).all()


@pytest.mark.slow
def test_sentiment_ranks_held_out_reviews_at_least_as_well_as_vader(snippets):
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    texts = normalize_many(snippets["text"])
    truth = (snippets["rating"] > 0).to_numpy()
    ours = np.zeros(len(texts))
    folds = GroupKFold(n_splits=5, shuffle=True, random_state=0)
    for train, test in folds.split(texts, groups=snippets["review"]):
        model = fit_sentiment([texts[i] for i in train], truth[train].astype(np.int8))
        ours[test] = model.score_normalised([texts[i] for i in test])
    vader = SentimentIntensityAnalyzer()
    baseline = [vader.polarity_scores(t)["compound"] for t in snippets["text"]]
    assert roc_auc_score(truth, ours) >= max(0.78, roc_auc_score(truth, baseline))
