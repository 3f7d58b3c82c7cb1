"""Hashed features: the n-grams a text has, whatever else is in the batch."""

from __future__ import annotations

import numpy as np

from insights import hashing
from insights.hashing import hashed_columns, hashed_features

BITS = 18
WORDS = 1 << BITS  # word columns start here


def test_a_short_word_has_its_char_ngrams_and_one_word():
    # " ab ": 2-grams ' a', 'ab', 'b '; 3-grams ' ab', 'ab '; 4-gram ' ab '; word 'ab'
    row = hashed_features(["ab"], BITS)[0]
    assert (row.indices < WORDS).sum() == 6 and (row.indices >= WORDS).sum() == 1
    np.testing.assert_allclose(row.data, 1 / np.sqrt(7), rtol=1e-6)


def test_words_and_word_pairs_are_shared_across_texts():
    rows = hashed_features(["not good", "good", "it was not good at all", "배송 좋아요 😀"], BITS)
    words = [set(rows[i].indices[rows[i].indices >= WORDS]) for i in range(4)]
    assert len(words[0]) == 3  # not, good, "not good"
    assert words[1] < words[0] and words[0] < words[2]
    assert len(words[3]) == 3  # 배송, 좋아요 and the pair; the emoji is no word
    assert not words[3] & words[2]


def test_empty_text_is_a_zero_row_and_rows_have_unit_length():
    matrix = hashed_features(["", "a", "", "배송이 늦어요"], BITS)
    assert matrix[0].nnz == 0 and matrix[2].nnz == 0
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    np.testing.assert_allclose(norms, [0, 1, 0, 1], rtol=1e-6)


def test_a_texts_features_do_not_depend_on_its_batch(monkeypatch):
    texts = [f"comment {i} 배송 {'좋아요' if i % 2 else '늦어요'} 😀" for i in range(50)]
    alone = hashed_features(texts[17:18], BITS)
    monkeypatch.setattr(hashing, "CHUNK", 7)  # several blocks, the text in the middle of one
    batched = hashed_features(texts, BITS)
    assert (batched[17] != alone[0]).nnz == 0


def test_one_texts_columns_are_its_row_of_the_features():
    texts = ["late again", "배송이 느려요 late", "a", ""]
    matrix = hashed_features(texts, 10)
    for i, text in enumerate(texts):
        row = matrix.indices[matrix.indptr[i] : matrix.indptr[i + 1]]
        np.testing.assert_array_equal(hashed_columns(text, 10), np.sort(row))
