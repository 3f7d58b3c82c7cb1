"""Survey answers with comments for the text benchmarks: many, fast, Korean/English/mixed.

Ten topics (each with Korean and English words and a side), a background vocabulary of
8,000 made-up words drawn by a Zipf law from rank 21 on (so the term table is as large as
real text makes it, and no made-up word is as common as a stopword), and sentiment
phrases that follow the answer's score (15% of comments say the opposite of their score,
as people do). Vectorised: 300k comments in a few seconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from contracts.schema import SURVEY_BANDS

TOPICS = {  # name: (detractor topic?, English words, Korean words)
    "delivery": (True, "delivery late courier parcel delayed shipping tracking box",
                 "배송 택배 지연 도착 기사님 운송장 포장 박스"),
    "staff": (True, "staff rude cashier ignored attitude clerk manager waited",
              "직원 불친절 태도 점원 응대 무시 매니저 대기"),
    "app": (True, "app crash login freezes update bug password screen",
            "앱 오류 로그인 업데이트 버그 먹통 비밀번호 화면"),
    "refund": (True, "refund return money back weeks charged card policy",
               "환불 반품 결제 취소 카드 수수료 규정 처리"),
    "quality": (True, "quality broken defect cheap material torn faulty replacement",
                "품질 불량 파손 하자 소재 찢어짐 교환 고장"),
    "price": (False, "price discount cheap coupon deal bargain sale points",
              "가격 할인 쿠폰 저렴 혜택 적립 세일 포인트"),
    "service": (False, "helpful friendly kind staff quick answer support solved",
                "친절 상담 해결 빠른 답변 도움 상담원 안내"),
    "product": (False, "design fits size color comfortable stylish fabric looks",
                "디자인 사이즈 색상 편안 스타일 재질 핏 예쁨"),
    "checkout": (False, "checkout easy payment fast simple one click pay",
                 "결제 간편 빠름 쉬움 페이 원클릭 주문 완료"),
    "membership": (False, "membership tier rewards gold benefits birthday gift points",
                   "멤버십 등급 리워드 골드 혜택 생일 선물 포인트"),
}  # fmt: skip
POSITIVE = {"en": "great excellent love_it very_happy wonderful thank_you highly_recommend "
                  "perfect amazing satisfied",
            "ko": "좋아요 최고예요 만족합니다 감사합니다 친절해요 빨라요 추천합니다 편리해요 "
                  "훌륭해요 마음에_들어요"}  # fmt: skip
NEGATIVE = {"en": "terrible awful very_disappointed never_again worst_ever waste_of_money "
                  "so_slow not_good angry useless",
            "ko": "별로예요 최악이에요 실망했어요 화나요 느려요 불편해요 다시는_안_사요 짜증나요 "
                  "엉망이에요 후회해요"}  # fmt: skip
PARTICLES = np.array(["이", "가", "은", "는", "을", "를", "에서", "도", "", "", ""])


def _words(text: str) -> np.ndarray:
    return np.array([w.replace("_", " ") for w in text.split()])


def _background(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    letters = np.array(list("abcdefghijklmnoprstuvwy"))
    english = np.array(["".join(rng.choice(letters, rng.integers(3, 9))) for _ in range(n)])
    syllables = np.array([chr(c) for c in rng.integers(0xAC00, 0xD7A4, 400)])
    korean = np.array(["".join(rng.choice(syllables, rng.integers(2, 4))) for _ in range(n)])
    return english, korean


def generate_comments(n: int, *, seed: int = 0) -> pd.DataFrame:
    """response_id, survey, score, comment, language, topic, timestamp (12 months)."""
    rng = np.random.default_rng(seed)
    names = list(TOPICS)
    english_bg, korean_bg = _background(rng, 4000)
    zipf = 1.0 / np.arange(21, 4021)  # Zipf past the top ranks (stopwords are removed)
    zipf /= zipf.sum()
    topic = rng.integers(0, len(names), n)
    language = rng.choice(np.array(["en", "ko", "mixed"]), n, p=[0.45, 0.45, 0.10])
    survey = rng.choice(np.array(list(SURVEY_BANDS)), n, p=[0.5, 0.3, 0.2])
    unhappy = np.array([TOPICS[names[t]][0] for t in topic]) != (rng.random(n) < 0.15)
    n_topic, n_bg = rng.integers(1, 4, n), rng.integers(2, 10, n)
    topic_words = rng.integers(0, 8, (n, 3))
    bg_words = rng.choice(4000, (n, 9), p=zipf)
    phrase = rng.integers(0, 10, n)
    particle = PARTICLES[rng.integers(0, len(PARTICLES), (n, 3))]
    vocab = {name: (_words(en), _words(ko)) for name, (_, en, ko) in TOPICS.items()}
    sentiment = {(side, lang): _words(table[lang]) for side, table in
                 ((True, NEGATIVE), (False, POSITIVE)) for lang in ("en", "ko")}  # fmt: skip
    comments = []
    for i in range(n):
        en, ko = vocab[names[topic[i]]]
        lang = language[i]
        if lang == "en":
            words = [*en[topic_words[i, : n_topic[i]]], *english_bg[bg_words[i, : n_bg[i]]]]
        else:
            picked = ko[topic_words[i, : n_topic[i]]]
            words = [w + p for w, p in zip(picked, particle[i], strict=False)]
            words += list(korean_bg[bg_words[i, : n_bg[i]]])
            if lang == "mixed":
                words.append(en[topic_words[i, 0]])
        rng_word = sentiment[(bool(unhappy[i]), "en" if lang == "en" else "ko")][phrase[i]]
        words.insert(int(bg_words[i, 0] % (len(words) + 1)), rng_word)
        comments.append(" ".join(words))
    scores = np.empty(n, dtype=np.int64)
    for name, ((neg_low, neg_high), (pos_low, pos_high)) in SURVEY_BANDS.items():
        rows = survey == name
        low = np.where(unhappy[rows], neg_low, pos_low)
        high = np.where(unhappy[rows], neg_high, pos_high)
        scores[rows] = rng.integers(low, high + 1)
    start = pd.Timestamp("2026-01-01", tz="UTC")
    return pd.DataFrame({
        "response_id": [f"r{i}" for i in range(n)], "survey": survey, "score": scores,
        "comment": comments, "language": language, "topic": np.array(names)[topic],
        "timestamp": start + pd.to_timedelta(rng.integers(0, 365 * 86400, n), unit="s"),
    })  # fmt: skip
