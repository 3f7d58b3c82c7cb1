"""Comment cleaning never fails and keeps what matters; terms read Korean and English."""

from __future__ import annotations

import json
import math
import re
import unicodedata

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insights.text import (
    MAX_CHARS,
    clean,
    has_hangul,
    normalize,
    normalize_many,
    term_matrix,
    terms,
)


def _safe(text: str) -> bool:
    text.encode("utf-8")  # raises on a lone surrogate
    json.dumps(text, ensure_ascii=False).encode("utf-8")
    return len(text) <= MAX_CHARS and text == text.strip()


def test_missing_values_and_non_strings_become_text_or_nothing():
    assert clean(None) == ""
    assert clean(math.nan) == ""
    assert clean(np.float64("nan")) == ""
    assert clean(pd.NA) == ""
    assert clean(pd.NaT) == ""
    assert clean(42) == "42"
    assert clean(b"caf\xc3\xa9 \xff") == "café \ufffd"
    assert clean(["a", "b"]) == "['a', 'b']"


def test_control_characters_zero_width_and_surrogates_are_removed():
    text = "bad\x00 se\u200brvice\x1b[31m\r\n\t 배송\ufeff\ud800 늦음"
    out = clean(text)
    assert _safe(out)
    assert "\x00" not in out and "\u200b" not in out and "\ud800" not in out
    assert out.startswith("bad se rvice")
    assert out.endswith("배송 늦음")


def test_emoji_and_mixed_scripts_survive_and_case_folds():
    assert normalize("Delivery 너무 늦어요 😡  LATE!!") == "delivery 너무 늦어요 😡 late!!"
    assert has_hangul(normalize("앱 crash")) and not has_hangul("app crash")


def test_very_long_text_is_cut():
    out = clean("배송" * 1_000_000)
    assert len(out) == MAX_CHARS and _safe(out)


def test_full_width_and_compatibility_forms_are_unified():
    assert normalize("ＤＥＬＩＶＥＲＹ ﾃｽﾄ") == "delivery テスト"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=()), max_size=300))
def test_any_text_cleans_to_safe_utf8(text):
    out = normalize(text)
    assert _safe(out)
    terms(out)


def _reference_clean(text: str) -> str:
    """The cleaning rule written plainly (no fast paths)."""
    text = re.sub("[\ud800-\udfff]", "", text[: MAX_CHARS * 2])
    text = unicodedata.normalize("NFKC", text)
    text = re.sub("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]", " ", text)
    return re.sub(r"\s+", " ", text).strip()[:MAX_CHARS]


@settings(max_examples=500, deadline=None)
@given(
    st.text(alphabet=st.characters(exclude_categories=()), max_size=60)
    | st.text(alphabet=st.characters(max_codepoint=127), max_size=60)
)
def test_fast_paths_clean_as_the_plain_rule_does(text):
    assert clean(text) == _reference_clean(text)


def test_normalize_many_takes_any_iterable():
    series = pd.Series(["A", None, "b\x00c"], dtype=object)
    assert normalize_many(series.to_numpy()) == ["a", "", "b c"]


def test_terms_strip_korean_particles_endings_and_english_stopwords():
    assert terms(normalize("배송이 너무 늦어서 택배를 기다렸어요")) == [
        "배송",
        "늦어서",
        "택배",
        "기다렸",
    ]
    assert terms("the parcel was late and the courier rude") == [
        "parcel",
        "late",
        "courier",
        "rude",
    ]
    # the forms of one predicate meet in one term
    assert terms("편리했어요 편리해요 편리합니다 편리하고") == ["편리"] * 4
    # a single-syllable stem keeps its ending: 차이 is a word, not 차 + 이
    assert terms("차이 앱이 창고") == ["차이", "앱이", "창고"]


def test_term_matrix_matches_scikit_learns_tfidf():
    from sklearn.feature_extraction.text import TfidfVectorizer

    from tests.insights.comment_factories import themed_comments

    texts = [*normalize_many(themed_comments(30, seed=0)["comment"]), "", "배송 배송 배송이 늦어요"]
    matrix, vocabulary = term_matrix(texts)
    reference = TfidfVectorizer(analyzer=terms, min_df=2, max_df=0.5, sublinear_tf=True)
    expected = reference.fit_transform(texts)
    order = np.argsort(vocabulary)
    assert [vocabulary[i] for i in order] == reference.get_feature_names_out().tolist()
    np.testing.assert_allclose(matrix[:, order].toarray(), expected.toarray(), atol=1e-6)


def test_term_matrix_refuses_text_without_shared_terms():
    with pytest.raises(ValueError):
        term_matrix(["alpha", "beta", ""])
