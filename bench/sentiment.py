"""Sentiment quality on real English reviews beside VADER, and text speed at scale.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python -m bench.sentiment [--comments 300000] [--skip-speed]

1. Quality: the 3,708 Amazon review sentences with human ratings from the vaderSentiment
   3.3.2 source distribution (`make data` fetches them; Hutto & Gilbert 2014, MIT).
   Positive = mean human rating > 0. Five folds split by review (no review on both
   sides); each fold trains `insights.sentiment` on four fifths and scores the fifth.
   ROC AUC pooled over the five held-out fifths, beside VADER's compound score on the
   same rows (VADER needs no training: its lexicon was rated by people). Two ways to train:
   on the labels directly (`fit_sentiment`), and the product's path (`train_sentiment`:
   ratings as NPS 0–10 answers, so only detractor- and promoter-like sentences teach it).
2. Speed: `--comments` generated comments (Korean, English, mixed; `bench/_comments.py`)
   through what the batch does with them: train the sentiment model, score every
   comment, find themes. Baseline in the same run: scikit-learn's default
   TfidfVectorizer over the same texts (one pass of the cheapest text step there is).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold

from bench._comments import generate_comments
from bench._data import read_review_snippets
from insights.sentiment import fit_sentiment, score_comments, train_sentiment
from insights.text import normalize_many
from insights.themes import find_themes


def _vader(texts: list[str]) -> np.ndarray:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # dev dependency

    analyzer = SentimentIntensityAnalyzer()
    return np.array([analyzer.polarity_scores(t)["compound"] for t in texts])


def quality(name: str) -> None:
    snippets = read_review_snippets(name, download=False)
    texts = normalize_many(snippets["text"])
    truth = (snippets["rating"] > 0).to_numpy()
    ours = np.zeros(len(texts))
    rating = snippets["rating"].to_numpy()
    # the rating -4..4 as a survey answer: NPS 0..10 (bands 0-6 / 9-10: asymmetric, so
    # mildly positive sentences, rating 0..0.8, teach "negative") and CSAT 1..5 (1-2 / 4-5)
    answers = {
        "nps": np.rint((rating + 4) * 10 / 8).astype(int),
        "csat": np.rint((rating + 4) / 2).astype(int) + 1,
    }
    product = {survey: np.zeros(len(texts)) for survey in answers}
    for train, test in GroupKFold(n_splits=5, shuffle=True, random_state=0).split(
        texts, groups=snippets["review"]
    ):
        model = fit_sentiment([texts[i] for i in train], truth[train].astype(np.int8))
        ours[test] = model.score_normalised([texts[i] for i in test])
        for survey, scores in answers.items():
            weak = train_sentiment(
                pd.DataFrame(
                    {
                        "survey": survey,
                        "score": scores[train],
                        "comment": snippets["text"].to_numpy()[train],
                    }
                )
            )
            if weak is None:
                raise SystemExit("too few detractor/promoter-like sentences to train")
            product[survey][test] = weak.score_normalised([texts[i] for i in test])
    vader = _vader(snippets["text"].tolist())
    both = (ours + vader) / 2
    print(f"{name}: {len(texts)} sentences, {snippets['review'].nunique()} reviews, "
          f"{truth.mean():.1%} positive; 5 folds by review")  # fmt: skip
    print(f"  ROC AUC insights.sentiment, trained on the labels   {roc_auc_score(truth, ours):.4f}")
    for survey, scores in product.items():
        auc = roc_auc_score(truth, scores)
        print(f"  ROC AUC insights.sentiment, product path ({survey:<4} bands) {auc:.4f}")
    print(
        f"  ROC AUC VADER compound (baseline, same rows)         {roc_auc_score(truth, vader):.4f}"
    )
    print(
        f"  ROC AUC mean of ours and VADER                       {roc_auc_score(truth, both):.4f}"
    )


def speed(n: int) -> None:
    comments = generate_comments(n, seed=0)
    print(f"speed: {n:,} generated comments ({comments['language'].value_counts().to_dict()}), "
          f"mean {comments['comment'].str.len().mean():.0f} characters")  # fmt: skip
    start = time.perf_counter()
    TfidfVectorizer().fit_transform(comments["comment"])
    baseline = time.perf_counter() - start

    start = time.perf_counter()
    model = train_sentiment(comments)
    trained = time.perf_counter()
    scores = score_comments(model, comments["comment"])
    scored = time.perf_counter()
    themes = find_themes(comments, n_themes=8, seed=0)
    done = time.perf_counter()
    assert model is not None and scores.notna().all()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = [
        ("baseline: sklearn TfidfVectorizer().fit_transform", baseline),
        (f"train sentiment ({model.meta['n_train']:,} sampled)", trained - start),
        (f"score {n:,} comments", scored - trained),
        (f"find themes ({len(themes.documents())} themes)", done - scored),
        ("themes + sentiment total (goal 120 s)", done - start),
    ]
    for label, seconds in rows:
        print(f"  {label:<52} {seconds:6.1f} s")
    print(f"  total / baseline {(done - start) / baseline:.1f}x; peak RSS {peak:,.0f} MiB")
    print(f"  model size {len(model.to_bytes()) / 1e6:.2f} MB")
    for doc in themes.documents()[:8]:
        print(f"    #{doc['rank']} {doc['name']:<40} n={doc['n']:>7,} lift={doc['lift']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=300_000)
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    quality("amazonReviewSnippets")
    if not args.skip_speed:
        speed(args.comments)
    return 0


if __name__ == "__main__":
    sys.exit(main())
