"""Korean text: character n-grams (no dictionary) against the kiwipiepy morphological
analyser (dictionary and model in its wheels), measured the same way, in the same run.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python -m bench.korean_tokens [--comments 20000]

kiwipiepy is NOT a Touchpoint dependency: install it beside it to run this measurement
(`pip install kiwipiepy`; it pulls kiwipiepy_model, ~105 MB installed, and numpy/tqdm).
No labelled Korean review set ships in any package (shared DATA.md), so quality is
measured on (a) generated Korean comments (`bench/_comments.py`), trained on 80% and
scored on the rest, and (b) 60 sentences written for this benchmark by hand (below),
labelled by their writer, scored by the model trained on the generated comments: other
words and other endings than the generator's, so only what carries over counts.
Speed: comments per second through each tokenisation.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from itertools import pairwise

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import normalize as l2_normalize

from bench._comments import generate_comments
from insights.scale import POSITIVE, band
from insights.sentiment import C, features
from insights.text import normalize_many

HANDWRITTEN_POSITIVE = """배송이 생각보다 훨씬 빨리 왔네요 만족스럽습니다
직원분들이 하나같이 친절하셔서 기분 좋게 쇼핑했어요
가격 대비 품질이 정말 훌륭합니다
앱이 깔끔하고 쓰기 편해서 자주 이용하게 돼요
포장이 꼼꼼하게 되어 있어서 감동받았어요
상담원분이 끝까지 친절하게 해결해 주셨습니다
할인 쿠폰 덕분에 저렴하게 잘 샀어요
재구매 의사 100% 입니다 강력 추천해요
사이즈도 딱 맞고 색상도 사진이랑 똑같아요
결제가 간편해서 좋았어요 다음에도 이용할게요
매장 분위기가 좋고 깨끗했어요
문의 답변이 빨라서 믿음이 갑니다
생일 쿠폰 받아서 기뻤어요 감사합니다
멤버십 혜택이 좋아서 계속 쓰게 되네요
교환 요청을 바로 처리해 주셔서 감사했어요
품질이 기대 이상이라 너무 마음에 들어요
주문부터 도착까지 모든 게 완벽했어요
아이가 정말 좋아해요 선물로 딱이에요
가성비 최고 다른 분들께도 추천합니다
친구에게도 소개해 줬어요 정말 좋아요
포인트 적립이 쏠쏠해서 만족합니다
새벽 배송 덕분에 아침에 바로 받았어요 편리하네요
직원 안내가 자세해서 쉽게 골랐어요
업데이트 후에 앱이 더 빨라졌어요 좋습니다
환불도 빠르게 처리돼서 안심했어요
디자인이 예쁘고 착용감도 편안해요
오랜만에 만족스러운 쇼핑이었어요
설명대로 제품이 좋아서 기분이 좋네요
친절한 응대에 감동했습니다 또 올게요
모든 과정이 순조로웠어요 고맙습니다""".splitlines()
HANDWRITTEN_NEGATIVE = """배송이 일주일이나 걸려서 너무 답답했어요
직원이 불친절하고 말투가 기분 나빴어요
가격만 비싸고 품질은 형편없네요
앱이 계속 튕겨서 결제를 못 했어요
포장이 엉망이라 제품이 찌그러져 왔어요
상담원 연결이 안 돼서 한 시간을 기다렸어요
쿠폰이 적용이 안 돼서 짜증났습니다
다시는 여기서 안 살 거예요 돈 아까워요
사이즈가 너무 작고 색상도 사진과 달라요
결제 오류로 돈만 두 번 빠져나갔어요
매장이 지저분하고 직원도 안 보였어요
문의했는데 답변이 없어서 실망했습니다
환불 처리가 한 달째 안 되고 있어요 화가 나네요
멤버십 등급이 이유 없이 내려갔어요 불쾌합니다
교환을 요청했는데 계속 거절당했어요
품질이 너무 떨어져서 하루 만에 고장났어요
주문이 취소됐는데 연락도 없었어요 황당하네요
선물로 샀는데 불량이라 창피했어요
최악의 쇼핑 경험이었어요 비추천합니다
광고랑 완전히 다른 제품이 왔어요 속았네요
포인트가 사라져서 어이가 없어요
배송 기사님이 문 앞에 던지고 가셨어요 불쾌했어요
직원 설명이 틀려서 엉뚱한 걸 샀어요
업데이트 후에 로그인이 안 돼요 너무 불편해요
반품 비용을 저한테 떠넘기네요 실망입니다
디자인은 괜찮은데 냄새가 심하고 마감이 엉성해요
이렇게 느린 곳은 처음 봐요 답답합니다
설명과 달리 제품이 망가져 있어서 화났어요
응대가 성의 없어서 기분이 상했습니다
모든 과정이 불편하고 짜증스러웠어요""".splitlines()


CHAR = "char n-grams + words (insights.sentiment)"
KIWI = "kiwipiepy morphemes (form/tag, uni+bigrams)"


def _paired_auc_gap(
    truth: np.ndarray, a: np.ndarray, b: np.ndarray, draws: int = 2000
) -> tuple[float, float]:
    """95% bootstrap interval of AUC(a) - AUC(b) over the same resampled sentences."""
    rng = np.random.default_rng(0)
    gaps = []
    for _ in range(draws):
        rows = rng.integers(0, len(truth), len(truth))
        if truth[rows].min() == truth[rows].max():
            continue
        gaps.append(roc_auc_score(truth[rows], a[rows]) - roc_auc_score(truth[rows], b[rows]))
    low, high = np.percentile(gaps, [2.5, 97.5])
    return float(low), float(high)


def _kiwi_tokens(kiwi: object, texts: list[str]) -> list[list[str]]:
    tokenize = kiwi.tokenize  # type: ignore[attr-defined]
    return [[f"{t.form}/{t.tag}" for t in tokens] for tokens in tokenize(texts)]


def _kiwi_features(tokens: list[list[str]]) -> sp.csr_matrix:
    vectorizer = HashingVectorizer(
        analyzer=lambda doc: doc + [f"{a} {b}" for a, b in pairwise(doc)],
        n_features=2**18, alternate_sign=False, binary=True, norm=None, dtype=np.float32,
    )  # fmt: skip
    return l2_normalize(vectorizer.transform(tokens))


def _fit_score(train: sp.csr_matrix, labels: np.ndarray, *tests: sp.csr_matrix) -> list[np.ndarray]:
    fit = LogisticRegression(C=C, class_weight="balanced", solver="liblinear", max_iter=200)
    fit.fit(train, labels)
    return [fit.decision_function(test) for test in tests]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=20_000)
    args = parser.parse_args()
    comments = generate_comments(args.comments * 3, seed=1)
    comments = comments.loc[comments["language"] == "ko"].head(args.comments)
    labelled = band(comments["survey"].to_numpy(), comments["score"].to_numpy())
    texts = normalize_many(comments["comment"])
    labels = (labelled == POSITIVE).astype(np.int8)
    cut = int(0.8 * len(texts))
    hand = normalize_many(HANDWRITTEN_POSITIVE + HANDWRITTEN_NEGATIVE)
    hand_truth = [1] * len(HANDWRITTEN_POSITIVE) + [0] * len(HANDWRITTEN_NEGATIVE)
    print(f"{len(texts):,} generated Korean comments (train {cut:,}, test {len(texts) - cut:,}); "
          f"{len(hand)} hand-written labelled sentences")  # fmt: skip

    start = time.perf_counter()
    char_all = features(texts + hand)
    char_seconds = time.perf_counter() - start
    char = _fit_score(
        char_all[:cut], labels[:cut], char_all[cut : len(texts)], char_all[len(texts) :]
    )
    results = {CHAR: (char, char_seconds)}
    try:
        from kiwipiepy import Kiwi
    except ImportError:
        print("kiwipiepy is not installed: `pip install kiwipiepy` to measure it beside")
        kiwi_tokens = None
    else:
        start = time.perf_counter()
        kiwi = Kiwi()
        loaded = time.perf_counter()
        kiwi_tokens = _kiwi_tokens(kiwi, texts + hand)
        morphs = _kiwi_features(kiwi_tokens)
        kiwi_seconds = time.perf_counter() - loaded
        print(f"kiwipiepy: model load {loaded - start:.1f} s")
        kiwi_fit = _fit_score(
            morphs[:cut], labels[:cut], morphs[cut : len(texts)], morphs[len(texts) :]
        )
        both = sp.hstack([char_all, morphs], format="csr")
        both_fit = _fit_score(both[:cut], labels[:cut], both[cut : len(texts)], both[len(texts) :])
        results[KIWI] = (kiwi_fit, kiwi_seconds)
        results["both"] = (both_fit, char_seconds + kiwi_seconds)
    n_docs = len(texts) + len(hand)
    for name, ((generated, handwritten), seconds) in results.items():
        print(f"  {name:<45} AUC generated {roc_auc_score(labels[cut:], generated):.4f}  "
              f"hand-written {roc_auc_score(hand_truth, handwritten):.4f}  "
              f"features {n_docs / seconds:,.0f} comments/s")  # fmt: skip
    if kiwi_tokens is not None:
        char_hand, kiwi_hand = results[CHAR][0][1], results[KIWI][0][1]
        low, high = _paired_auc_gap(np.array(hand_truth), kiwi_hand, char_hand)
        print(
            f"  hand-written AUC kiwipiepy - char: 95% bootstrap interval [{low:+.3f}, {high:+.3f}]"
        )
        natural = hand * 100  # natural sentences only: a morphological analyser's home ground
        start = time.perf_counter()
        features(natural)
        middle = time.perf_counter()
        _kiwi_tokens(kiwi, natural)
        end = time.perf_counter()
        print(f"  on natural sentences ({len(natural):,}): char features "
              f"{len(natural) / (middle - start):,.0f}/s, kiwipiepy tokenize alone "
              f"{len(natural) / (end - middle):,.0f}/s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
