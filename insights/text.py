"""Comment text: cleaning that never fails, and the terms themes and sentiment read.

Any Python object goes in (None, NaN, bytes, numbers, a megabyte of text, emoji, control
characters, lone surrogates, mixed Korean and English); a clean `str` comes out, safe to
write as UTF-8 JSON. Korean is read without a model: Hangul words lose a trailing particle
or polite ending (`배송이` → `배송`, `편리했어요` → `편리`) for theme terms, and sentiment
reads character n-grams, which need no dictionary. Why not a morphological analyser
(kiwipiepy + its 105 MB model wheel): see README "Voice of the customer" and
`bench/korean_tokens.py`, which measures both.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache
from itertools import chain
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from sklearn.preprocessing import normalize as l2_normalize

MAX_CHARS: Final = 2000  # longer comments are cut (COMMENT_MAX at intake is 2,000 too)

# C0/C1 controls (tab/newline included: they become spaces), zero-width and bidi marks,
# BOM; lone surrogates (a str from a bad decode) cannot be encoded as UTF-8 at all.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]+")
_SURROGATE = re.compile("[\ud800-\udfff]+")
_SPACE = re.compile(r"\s+")
# A term: a run of Latin letters/digits (with inner apostrophes), or a run of Hangul.
_TERM = re.compile(r"[a-z0-9]+(?:'[a-z]+)*|[\uac00-\ud7a3]+")
_HANGUL = re.compile(r"[\uac00-\ud7a3]")


def _words(text: str) -> list[str]:
    return text.split()


# Suffixes stripped from the end of a Hangul word, longest first, when a stem of two
# syllables or more remains (차이 stays 차이): particles after a noun (배송이 → 배송) and
# the common polite endings after a predicate (편리했어요, 편리해요 → 편리), so one theme
# term stands for the forms of one word.
PARTICLES: Final = tuple(
    sorted(
        _words(
            "에서 에게 한테 으로 까지 부터 보다 처럼 이랑 하고 이나 은 는 이 가 을 를 에 의 도 만 "
            "와 과 로 랑 나 요 "
            "했습니다 합니다 습니다 했어요 었어요 았어요 였어요 이에요 이었어요 "
            "에요 예요 어요 아요 해요 네요 해서 어서 아서 했고 지만"
        ),
        key=len,
        reverse=True,
    )
)
STOPWORDS: Final = frozenset(
    _words(
        """a an the and or but if of to in on at for with from by as is are was were be been
    being am it its it's this that these those i me my we our you your he she they them
    their there here so too very just not no nor than then also can could would should
    will do does did done have has had having get got one all any some more most much
    what which who when where why how out up down off over again about into only own
    same s t don't didn't isn't wasn't i'm i've
    그리고 그런데 하지만 그냥 너무 정말 진짜 좀 많이 아주
    더 또 것 수 등 및 저 제 이거 그거"""
    )
)


def clean(text: object) -> str:
    """`text` as printable, single-spaced, NFKC-normalised Unicode of at most MAX_CHARS
    characters; "" for None/NaN/NA. Never raises."""
    try:
        return _clean(text)
    except Exception:  # pd.NA's truth value, a str subclass with a broken method: nothing kept
        return ""


def _clean(text: object) -> str:
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    elif not isinstance(text, str):
        if text != text:  # NaN
            return ""
        text = str(text)
    cut = text[: MAX_CHARS * 2]
    if cut.isascii():  # the common case, ~5x faster: NFKC changes no ASCII text
        if not cut.isprintable():
            cut = _CONTROL.sub(" ", cut)
        return " ".join(cut.split())[:MAX_CHARS]
    cut = _SURROGATE.sub("", cut)
    if not unicodedata.is_normalized("NFKC", cut):
        cut = unicodedata.normalize("NFKC", cut)
    cut = _CONTROL.sub(" ", cut)
    return _SPACE.sub(" ", cut).strip()[:MAX_CHARS]


def normalize(text: object) -> str:
    """`clean(text)` lower-cased: what terms and n-grams are read from."""
    return clean(text).lower()


def normalize_many(texts: Iterable[object]) -> list[str]:
    """`normalize` over any iterable (a Series, a list, a numpy array)."""
    return [normalize(t) for t in texts]


@lru_cache(maxsize=200_000)
def strip_particle(word: str) -> str:
    """A Hangul word without one trailing particle, if a stem of two syllables or more
    remains."""
    for particle in PARTICLES:
        if word.endswith(particle) and len(word) - len(particle) >= 2:
            return word[: -len(particle)]
    return word


@lru_cache(maxsize=500_000)
def _term_of(word: str) -> str:
    if _HANGUL.match(word):
        word = strip_particle(word)
    return word if len(word) >= 2 and word not in STOPWORDS else ""


def terms(text: str) -> list[str]:
    """The theme terms of normalised text: Latin words (2+ characters) and Hangul words
    (particle stripped), stopwords removed, in order."""
    return [term for term in map(_term_of, _TERM.findall(text)) if term]


def _term_occurrences(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(text index, term code) of every term occurrence, and the terms by code.

    Terms never span a space, so the texts are split on spaces by Arrow, the distinct
    words (tens of thousands, against millions of occurrences) go through `terms` once
    each, and every occurrence is expanded to its word's terms with array arithmetic."""
    words = pc.utf8_split_whitespace(pa.array(texts, type=pa.large_string()))
    per_text = pc.list_value_length(words).fill_null(0).to_numpy(zero_copy_only=False)
    encoded = pc.dictionary_encode(pc.list_flatten(words))
    word_codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    word_terms = [terms(word) for word in encoded.dictionary.to_pylist()]
    n_terms = np.fromiter(map(len, word_terms), dtype=np.int64, count=len(word_terms))
    flat = np.fromiter(chain.from_iterable(word_terms), dtype=object, count=int(n_terms.sum()))
    term_codes, vocabulary = pd.factorize(flat)
    first = np.concatenate([[0], np.cumsum(n_terms)[:-1]]).astype(np.int64)
    per_occurrence = n_terms[word_codes]
    total = int(per_occurrence.sum())
    starts = np.repeat(first[word_codes], per_occurrence)
    within = np.arange(total) - np.repeat(
        np.cumsum(per_occurrence) - per_occurrence, per_occurrence
    )
    word_rows = np.repeat(np.arange(len(texts)), per_text)
    rows = np.repeat(word_rows, per_occurrence)
    return rows, term_codes[starts + within], [str(term) for term in vocabulary]


def term_matrix(
    texts: Sequence[str], *, min_df: int = 2, max_df: float = 0.5, max_terms: int = 20_000
) -> tuple[sp.csr_matrix, list[str]]:
    """Tf-idf of the `terms` of normalised texts (sublinear tf, smooth idf, rows of unit
    length, as scikit-learn's TfidfVectorizer) over the terms in at least `min_df` texts
    and at most a `max_df` share of them, the `max_terms` most common kept. ValueError
    when no term qualifies."""
    rows, codes, vocabulary = _term_occurrences(texts)
    n_texts = len(texts)
    counts = sp.csr_matrix(
        (np.ones(len(codes), dtype=np.float32), (rows, codes)),
        shape=(n_texts, len(vocabulary)),
    )
    counts.sum_duplicates()
    df = np.bincount(counts.indices, minlength=len(vocabulary))
    kept = np.flatnonzero((df >= min_df) & (df <= max_df * n_texts))
    if len(kept) == 0:
        raise ValueError(f"no term occurs in {min_df}+ texts and at most {max_df:.0%} of them")
    if len(kept) > max_terms:
        kept = np.sort(kept[np.argsort(-df[kept], kind="stable")[:max_terms]])
    matrix = counts[:, kept].tocsr()
    matrix.data = 1.0 + np.log(matrix.data)
    idf = np.log((1.0 + n_texts) / (1.0 + df[kept])) + 1.0
    matrix = sp.csr_matrix(matrix.multiply(idf[None, :].astype(np.float32)))
    return l2_normalize(matrix, copy=False), [vocabulary[i] for i in kept]


def has_hangul(text: str) -> bool:
    """Whether the text holds any Hangul syllable."""
    return _HANGUL.search(text) is not None
