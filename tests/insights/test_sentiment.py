"""Sentiment learnt from scored comments separates positive from negative text in Korean,
English and mixed; the model round-trips through bytes; junk never breaks it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from insights.sentiment import MIN_PER_CLASS, SentimentModel, score_comments, train_sentiment
from tests.insights.comment_factories import scored_comments


@pytest.fixture(scope="module")
def model() -> SentimentModel:
    trained = train_sentiment(scored_comments(3000, seed=1))
    assert trained is not None
    return trained


@pytest.mark.parametrize("language", ["en", "ko", "mixed"])
def test_unseen_comments_are_separated_in_every_language(model, language):
    held = scored_comments(600, seed=2, languages=(language,))
    scores = model.score(held["comment"])
    assert ((scores >= -1) & (scores <= 1)).all()
    assert roc_auc_score(held["positive"], scores) >= 0.95


# Written for this test, not drawn from the generator: other endings of the trained words
# (좋았어요 for 좋아요, 실망스러웠어요 for 실망했어요), so only shared characters carry over.
KOREAN_POSITIVE = [
    "배송이 빨라서 정말 좋았어요",
    "직원분이 친절하셔서 만족스러웠습니다",
    "가격도 저렴하고 최고였어요",
    "추천하고 싶어요 편리했어요",
    "감사했습니다 훌륭하네요",
]
KOREAN_NEGATIVE = [
    "배송이 느려서 실망스러웠어요",
    "직원이 불친절해서 화났어요",
    "앱이 엉망이라 불편했어요",
    "최악이었어요 후회됩니다",
    "짜증났어요 별로였어요",
]


def test_handwritten_korean_with_new_endings_is_separated(model):
    scores = model.score(KOREAN_POSITIVE + KOREAN_NEGATIVE)
    truth = [1] * len(KOREAN_POSITIVE) + [0] * len(KOREAN_NEGATIVE)
    assert roc_auc_score(truth, scores) >= 0.8


def test_bytes_round_trip_gives_identical_scores_and_a_small_model(model):
    data = model.to_bytes()
    assert len(data) < 8 * 1024 * 1024
    again = SentimentModel.from_bytes(data)
    texts = [*scored_comments(200, seed=3)["comment"], "", "😡", None]
    np.testing.assert_array_equal(model.score(texts), again.score(texts))
    assert again.meta == model.meta


@pytest.mark.parametrize("junk", [b"", b"not npz", b"PK\x03\x04garbage"])
def test_bytes_that_are_not_a_model_are_refused(junk):
    with pytest.raises(ValueError):
        SentimentModel.from_bytes(junk)


def test_too_few_scored_comments_give_no_model():
    few = scored_comments(4 * MIN_PER_CLASS, seed=4)
    negative_only = few.loc[~few["positive"]]
    assert train_sentiment(negative_only) is None
    assert train_sentiment(pd.DataFrame()) is None
    assert train_sentiment(pd.DataFrame({"survey": ["nps"], "score": [3]})) is None
    passives = few.assign(survey="nps", score=8)
    assert train_sentiment(passives) is None


def test_junk_text_scores_as_finite_numbers(model):
    junk = [None, np.nan, "", "\x00\x1b", "\ud800", "😡" * 10_000, 7, b"\xff", "ㅋㅋ", " " * 50]
    scores = model.score(junk)
    assert scores.shape == (len(junk),) and np.isfinite(scores).all()
    assert scores[0] == scores[1] == scores[2] == 0.0  # nothing to read


def test_score_comments_aligns_with_the_frame_and_leaves_empty_comments_unscored(model):
    frame = pd.DataFrame({"comment": ["great", "", None, "terrible"]}, index=[10, 11, 12, 13])
    scored = score_comments(model, frame["comment"])
    assert list(scored.index) == [10, 11, 12, 13]
    assert scored.isna().tolist() == [False, True, True, False]
    assert scored[10] > scored[13]
    assert score_comments(None, frame["comment"]).isna().all()


def test_training_draws_its_sample_from_comments_only():
    scored = scored_comments(400, seed=5)
    silent = pd.DataFrame({"survey": "nps", "score": [0, 10] * 1000, "comment": [None, ""] * 1000})
    model = train_sentiment(pd.concat([silent, scored], ignore_index=True), max_train=300)
    assert model is not None and model.meta["n_train"] == 300


def test_a_comment_scored_alone_scores_as_in_a_batch(model):
    texts = [*scored_comments(40, seed=4)["comment"], "", "😡 최악"]
    batch = model.score(texts)  # more than FEW texts: through the sparse features
    alone = np.concatenate([model.score([t]) for t in texts])  # one by one: no matrix
    np.testing.assert_allclose(alone, batch, atol=1e-5)
    assert np.abs(batch).max() > 0.5  # the texts do carry sentiment
