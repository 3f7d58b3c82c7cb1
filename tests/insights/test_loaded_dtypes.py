"""The text functions take the feedback table as `contracts.tables` loads it: pyarrow
strings with missing values, categorical surveys, nullable integer scores, UTC stamps."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from contracts.schema import SURVEYS
from insights.curve import emotion_curve
from insights.sentiment import score_comments, train_sentiment
from insights.themes import find_themes
from tests.insights.comment_factories import themed_comments

S = pd.StringDtype("pyarrow")


def _as_loaded(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in ("response_id", "comment", "touchpoint", "stage"):
        out[column] = out[column].astype(S)
    out["survey"] = pd.Categorical(out["survey"], categories=SURVEYS)
    out["score"] = out["score"].astype("Int64")
    out["timestamp"] = out["timestamp"].astype("datetime64[ns, UTC]")
    out.loc[out.index[::17], "comment"] = pd.NA
    out.loc[out.index[::23], "score"] = pd.NA
    out.loc[out.index[::29], "stage"] = pd.NA
    return out


def test_themes_sentiment_and_curve_read_the_loaded_table():
    feedback = _as_loaded(themed_comments(60, seed=9))
    themes = find_themes(feedback, n_themes=8, seed=0)
    assert len(themes.documents()) == 8
    json.dumps(themes.documents(), allow_nan=False, ensure_ascii=False)
    missing = set(feedback.loc[feedback["comment"].isna(), "response_id"])
    assert not missing & set(themes.assignments["response_id"])

    model = train_sentiment(feedback)
    assert model is not None
    sentiment = score_comments(model, feedback["comment"])
    assert sentiment.isna().to_numpy().tolist() == feedback["comment"].isna().tolist()
    detractor = feedback["score"].fillna(8).to_numpy() <= 6
    assert sentiment[detractor].mean() < 0 < sentiment[~detractor & (feedback["score"] >= 9)].mean()

    curve = emotion_curve(
        feedback.assign(sentiment=sentiment), ["before_purchase", "purchase_and_use"]
    )
    assert [c["n"] for c in curve] == [
        int((feedback["stage"] == stage).fillna(False).sum())
        for stage in ("before_purchase", "purchase_and_use")
    ]
    assert all(np.isfinite(c["sentiment"]) for c in curve)
