"""Planted themes are found in Korean, English and mixed comments, ranked by lift and trend;
nothing the comments hold can break the step."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from insights.themes import find_themes, lift_interval
from tests.insights.comment_factories import TOPICS, themed_comments


def _best_overlap(themes, truth: pd.DataFrame, group: pd.Series) -> tuple[int, float]:
    """The found theme that best matches the planted group (F1), and that F1."""
    planted = set(truth.loc[group, "response_id"])
    best = (-1, 0.0)
    for theme, members in themes.assignments.groupby("theme")["response_id"]:
        found = set(members)
        hits = len(planted & found)
        f1 = 2 * hits / (len(planted) + len(found))
        best = max(best, (int(theme), f1), key=lambda x: x[1])
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_themes_are_recovered_in_both_languages(seed):
    comments = themed_comments(120, seed=seed)
    themes = find_themes(comments, n_themes=len(TOPICS) * 2, seed=seed)
    matched = set()
    for topic in TOPICS:
        for language in ("en", "ko"):
            group = (comments["topic"] == topic.name) & (comments["language"] == language)
            theme, f1 = _best_overlap(themes, comments, group)
            assert f1 >= 0.9, (topic.name, language, f1)
            matched.add(theme)
    assert len(matched) == len(TOPICS) * 2  # one found theme per planted group


def test_mixed_comments_join_a_theme_of_their_topic():
    comments = themed_comments(120, seed=3, languages=("en", "ko", "mixed"))
    themes = find_themes(comments, n_themes=len(TOPICS) * 2, seed=0)
    by_id = themes.assignments.groupby("response_id")["theme"].agg(set)
    for topic in TOPICS:
        planted = comments["topic"] == topic.name
        own = {
            _best_overlap(themes, comments, planted & (comments["language"] == lang))[0]
            for lang in ("en", "ko")
        }
        mixed = comments.loc[(comments["topic"] == topic.name) & (comments["language"] == "mixed")]
        joined = np.mean([bool(own & by_id.get(rid, set())) for rid in mixed["response_id"]])
        strays = np.mean([bool(by_id.get(rid, set()) - own) for rid in mixed["response_id"]])
        assert joined >= 0.95 and strays <= 0.05, (topic.name, joined, strays)


def test_themes_are_named_by_their_planted_words_with_examples():
    comments = themed_comments(100, seed=4)
    themes = find_themes(comments, n_themes=8, seed=0)
    words = {w: t.name for t in TOPICS for w in (*t.english, *t.korean)}
    for doc in themes.documents():
        named = {words.get(term) for term in doc["name"].split(" · ")}
        assert len(named) == 1 and None not in named, doc["name"]
        assert len(doc["examples"]) == 3 and len(set(doc["examples"])) == 3


def test_detractor_themes_rank_above_promoter_themes_with_intervals():
    comments = themed_comments(100, seed=5)
    docs = find_themes(comments, n_themes=8, seed=0).documents()
    words = {w: t for t in TOPICS for w in (*t.english, *t.korean)}
    sides = [words[d["terms"][0]].negative for d in docs]
    assert sides == sorted(sides, reverse=True)  # every detractor theme first
    for doc, negative in zip(docs, sides, strict=True):
        if negative:
            assert doc["lift_low"] > 1.0 and doc["detractor_rate"] > doc["promoter_rate"]
        else:
            assert doc["lift_high"] < 1.0
    assert [d["rank"] for d in docs] == list(range(1, len(docs) + 1))


def test_a_theme_that_appears_only_lately_is_rising():
    comments = themed_comments(100, seed=6)
    latest = comments["timestamp"].max()
    late = comments["topic"] == "app"
    offsets = pd.to_timedelta(np.arange(late.sum()) % (20 * 24), unit="h")
    comments.loc[late, "timestamp"] = latest - offsets
    docs = find_themes(comments, n_themes=8, seed=0).documents()
    app_words = {w for t in TOPICS if t.name == "app" for w in (*t.english, *t.korean)}
    for doc in docs:
        rising = doc["terms"][0] in app_words
        assert doc["trend"]["direction"] == ("rising" if rising else "falling"), doc["trend"]
        assert (doc["trend_rank"] <= 2) == rising  # the two app themes (en, ko) lead


def test_lift_interval_covers_the_true_ratio():
    rng = np.random.default_rng(0)
    p_a, p_b, n = 0.3, 0.15, 400
    hits_a, hits_b = rng.binomial(n, p_a, 1000), rng.binomial(n, p_b, 1000)
    intervals = [lift_interval(int(a), n, int(b), n) for a, b in zip(hits_a, hits_b, strict=True)]
    covered = [low <= p_a / p_b <= high for _, low, high in intervals]
    assert 0.93 <= np.mean(covered) <= 0.97


def test_documents_are_strict_json_and_assignments_point_at_comments():
    comments = themed_comments(40, seed=7)
    themes = find_themes(comments, n_themes=8, seed=0)
    json.dumps(themes.documents(), allow_nan=False, ensure_ascii=False)
    assert list(themes.assignments.columns) == ["response_id", "theme", "weight"]
    assert set(themes.assignments["response_id"]) <= set(comments["response_id"])
    counts = themes.documents()[0]["touchpoints"]
    assert sum(counts.values()) == themes.documents()[0]["n"]


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame(),
        pd.DataFrame({"response_id": [], "comment": []}),
        pd.DataFrame({"response_id": ["a", "b"], "comment": ["", None]}),
        pd.DataFrame({"response_id": [f"r{i}" for i in range(50)], "comment": ["same"] * 50}),
        pd.DataFrame(
            {"response_id": [f"r{i}" for i in range(50)], "comment": [f"w{i}" for i in range(50)]}
        ),
    ],
)
def test_too_little_text_gives_no_themes_and_a_note(frame):
    themes = find_themes(frame)
    assert themes.documents() == [] and themes.notes
    assert list(themes.assignments.columns) == ["response_id", "theme", "weight"]


def test_garbage_comments_never_crash():
    rng = np.random.default_rng(0)
    junk = [
        "\x00\x01\x02",
        "😡" * 5000,
        "\ud800 broken",
        None,
        np.nan,
        12345,
        b"\xff\xfe",
        "ㅋㅋㅋㅋㅋ",
        "!!!???",
        " ",
        "a" * 100_000,
        "배송\u200b이 늦어요\r\n",
        "ﷺ" * 300,
    ]
    comments = themed_comments(30, seed=8)
    rows = rng.choice(len(comments), len(junk), replace=False)
    comments["comment"] = comments["comment"].astype(object)
    for row, text in zip(rows, junk, strict=True):
        comments.at[row, "comment"] = text
    comments.loc[rows[:3], "timestamp"] = pd.NaT
    comments.loc[rows[3:6], "score"] = np.nan
    themes = find_themes(comments, n_themes=8, seed=0)
    json.dumps(themes.documents(), allow_nan=False, ensure_ascii=False).encode("utf-8")
    assert len(themes.documents()) == 8
