"""Hashed n-gram features computed with numpy over all texts at once.

scikit-learn's HashingVectorizer builds every n-gram as a Python string (about 70 s for
300k comments on this machine); here the texts are joined into one array of code points
and every n-gram's hash is a few vectorised multiply-adds (polynomial hashing modulo 2**64),
so the same features cost a few seconds. Two families, each in its own 2**bits columns:

- character n-grams (`CHAR_NGRAMS`) over " text " (spaces included): they read Korean,
  English, emoji and mixed text alike, with no dictionary;
- word unigrams and bigrams, a word being a run of letters/digits (`str.isalnum`).

Values are binary (present or not), each row scaled to unit length. The hash is fixed by
the constants below: a saved model stays valid only while they do (`FEATURES` names them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import scipy.sparse as sp

FEATURES: Final = "touchpoint-hash/1"
CHAR_NGRAMS: Final = (2, 3, 4)
CHUNK: Final = 20_000  # texts per block: bounds the temporary arrays (~50 bytes a character)
_P: Final = 1_000_003  # odd, so invertible modulo 2**64
_MIX: Final = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: spreads the top bits
_P64: Final = np.uint64(_P)
_IS_WORD: Final = np.array([chr(c).isalnum() for c in range(0x10000)], dtype=bool)


def _bucket(h: np.ndarray, bits: int) -> np.ndarray:
    return ((h * _MIX) >> np.uint64(64 - bits)).astype(np.int64)


def _chunk(texts: Sequence[str], bits: int) -> sp.csr_matrix:
    row, col = _cells(texts, bits)
    matrix = sp.csr_matrix(
        (np.ones(len(row), dtype=np.float32), (row, col)), shape=(len(texts), 2 << bits)
    )
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def _cells(texts: Sequence[str], bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) of every hashed n-gram of `texts`, duplicates included."""
    # "\0 a \0 b \0": documents padded with a space and separated by NUL (clean text has none)
    joined = "\0" + "\0".join(f" {t} " if t else "" for t in texts) + "\0"
    raw = np.frombuffer(joined.encode("utf-32-le", errors="replace"), dtype=np.uint32)
    code = raw.astype(np.uint64)
    separator = raw == 0
    doc = np.cumsum(separator) - 1  # the document each position belongs to
    seps = np.concatenate([[0], np.cumsum(separator)])
    rows, cols = [], []
    for n in CHAR_NGRAMS:
        start = np.flatnonzero(seps[n:] - seps[:-n] == 0)  # windows with no separator
        h = code[start]
        for j in range(1, n):
            h = h * _P64 + code[start + j]
        rows.append(doc[start])
        cols.append(_bucket(h * _P64 + np.uint64(n), bits))

    word = np.zeros(len(raw), dtype=bool)
    small = raw < 0x10000
    word[small] = _IS_WORD[raw[small]]
    edges = np.diff(np.concatenate([[False], word, [False]]).astype(np.int8))
    begin, end = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    # prefix sums of c[m] * P**m; a word's hash is their difference times P**-begin
    powers = np.cumprod(np.full(len(raw), _P64))
    powers = np.concatenate([[np.uint64(1)], powers[:-1]])
    inverse = np.uint64(pow(_P, -1, 2**64))
    inverse_powers = np.concatenate([[np.uint64(1)], np.cumprod(np.full(len(raw) - 1, inverse))])
    prefix = np.concatenate([[np.uint64(0)], np.cumsum(code * powers)])
    words = (prefix[end] - prefix[begin]) * inverse_powers[begin]
    word_doc = doc[begin]
    offset = 1 << bits
    rows.append(word_doc)
    cols.append(offset + _bucket(words * _P64 + np.uint64(1), bits))
    pair = np.flatnonzero(word_doc[1:] == word_doc[:-1])
    rows.append(word_doc[pair])
    cols.append(
        offset + _bucket((words[pair] * _P64 + words[pair + 1]) * _P64 + np.uint64(2), bits)
    )

    return np.concatenate(rows), np.concatenate(cols)


def hashed_columns(text: str, bits: int) -> np.ndarray:
    """The distinct feature columns of one normalised text (its row of `hashed_features`
    without the sparse matrix: what scoring one comment needs)."""
    if not text:
        return np.zeros(0, dtype=np.int64)
    with np.errstate(over="ignore"):
        return np.unique(_cells([text], bits)[1])


def hashed_features(texts: Sequence[str], bits: int) -> sp.csr_matrix:
    """Binary char-n-gram and word uni/bigram features of normalised texts, rows of unit
    length: shape (len(texts), 2 * 2**bits), float32. An empty text is an all-zero row."""
    if not texts:
        return sp.csr_matrix((0, 2 << bits), dtype=np.float32)
    with np.errstate(over="ignore"):
        blocks = [_chunk(texts[i : i + CHUNK], bits) for i in range(0, len(texts), CHUNK)]
    matrix = sp.vstack(blocks, format="csr") if len(blocks) > 1 else blocks[0]
    # every value is 1, so a row's length is the square root of its count of features
    per_row = np.diff(matrix.indptr)
    with np.errstate(divide="ignore"):
        matrix.data = np.repeat((1.0 / np.sqrt(per_row)).astype(np.float32), per_row)
    return matrix
