"""Builders of survey comments with planted themes and sentiment, in Korean, English and
both: the known truth the text tests check against.

A planted topic has words for each language and a side (detractor or promoter); a comment
draws two to four of its topic's words (Korean ones with a random particle) and some
neutral filler, so no two comments need be alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Topic:
    name: str
    negative: bool
    english: tuple[str, ...]
    korean: tuple[str, ...]


TOPICS = (
    Topic(
        "delivery",
        True,
        ("delivery", "late", "courier", "parcel", "delayed", "shipping"),
        ("배송", "택배", "지연", "도착", "기사님", "운송장"),
    ),
    Topic(
        "staff",
        True,
        ("staff", "rude", "cashier", "ignored", "attitude", "clerk"),
        ("직원", "불친절", "태도", "점원", "응대", "무시"),
    ),
    Topic(
        "app",
        True,
        ("app", "crash", "login", "freezes", "update", "bug"),
        ("앱", "오류", "로그인", "업데이트", "버그", "먹통"),
    ),
    Topic(
        "price",
        False,
        ("price", "discount", "cheap", "coupon", "deal", "bargain"),
        ("가격", "할인", "쿠폰", "저렴", "혜택", "적립"),
    ),
)
FILLER_EN = ("today", "store", "order", "week", "again", "really", "online", "item")
FILLER_KO = ("오늘", "매장", "주문", "이번", "상품", "온라인", "구매", "고객")
PARTICLES = ("이", "가", "은", "는", "을", "를", "에서", "도", "")

# Sentiment phrases: whole positive/negative statements in each language.
POSITIVE_EN = (
    "great",
    "excellent",
    "love it",
    "very happy",
    "wonderful",
    "thank you",
    "fast and easy",
    "highly recommend",
    "perfect",
    "amazing service",
)
NEGATIVE_EN = (
    "terrible",
    "awful",
    "very disappointed",
    "never again",
    "worst ever",
    "waste of money",
    "broken",
    "so slow",
    "not good",
    "angry",
)
POSITIVE_KO = (
    "좋아요",
    "최고예요",
    "만족합니다",
    "감사합니다",
    "친절해요",
    "빨라요",
    "추천합니다",
    "편리해요",
    "훌륭해요",
    "마음에 들어요",
)
NEGATIVE_KO = (
    "별로예요",
    "최악이에요",
    "실망했어요",
    "화나요",
    "느려요",
    "불편해요",
    "다시는 안 사요",
    "짜증나요",
    "엉망이에요",
    "후회해요",
)


def _korean_word(rng: np.random.Generator, word: str) -> str:
    return word + str(rng.choice(PARTICLES))


def topic_comment(rng: np.random.Generator, topic: Topic, language: str) -> str:
    """A comment about `topic` in 'en', 'ko' or 'mixed' (Korean sentence, English words)."""
    k = int(rng.integers(2, 5))
    if language == "en":
        words = list(rng.choice(topic.english, k, replace=False)) + list(
            rng.choice(FILLER_EN, 2, replace=False)
        )
    elif language == "ko":
        words = [_korean_word(rng, w) for w in rng.choice(topic.korean, k, replace=False)]
        words += list(rng.choice(FILLER_KO, 2, replace=False))
    else:
        words = [_korean_word(rng, w) for w in rng.choice(topic.korean, k - 1, replace=False)]
        words += [str(rng.choice(topic.english)), str(rng.choice(FILLER_KO))]
    rng.shuffle(words)
    return " ".join(str(w) for w in words)


def themed_comments(
    n_per_group: int, *, seed: int = 0, languages: tuple[str, ...] = ("en", "ko")
) -> pd.DataFrame:
    """Comments for every (topic, language) group, `n_per_group` each, with the planted
    `topic` and `language`; detractor topics score NPS 0–6, promoter topics 9–10 (one in
    ten the other way, so lift has noise)."""
    rng = np.random.default_rng(seed)
    rows = []
    for topic in TOPICS:
        for language in languages:
            for _ in range(n_per_group):
                flipped = rng.random() < 0.1
                bad = topic.negative != flipped
                score = int(rng.integers(0, 7)) if bad else int(rng.integers(9, 11))
                rows.append(
                    {
                        "comment": topic_comment(rng, topic, language),
                        "topic": topic.name,
                        "language": language,
                        "survey": "nps",
                        "score": score,
                    }
                )
    frame = pd.DataFrame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    frame.insert(0, "response_id", [f"r{i}" for i in range(len(frame))])
    start = pd.Timestamp("2026-01-01", tz="UTC")
    frame["timestamp"] = start + pd.to_timedelta(rng.integers(0, 180 * 24, len(frame)), unit="h")
    frame["touchpoint"] = frame["topic"].map(
        {"delivery": "delivery", "staff": "store_visit", "app": "app_use", "price": "checkout"}
    )
    frame["stage"] = frame["touchpoint"].map(
        {
            "delivery": "purchase_and_use",
            "store_visit": "before_purchase",
            "app_use": "purchase_and_use",
            "checkout": "purchase_and_use",
        }
    )
    return frame


def sentiment_comment(rng: np.random.Generator, positive: bool, language: str) -> str:
    """A comment about any topic carrying one to two phrases of the given sentiment."""
    topic = TOPICS[int(rng.integers(len(TOPICS)))]
    base = topic_comment(rng, topic, language)
    if language == "en":
        pool = POSITIVE_EN if positive else NEGATIVE_EN
    else:
        pool = POSITIVE_KO if positive else NEGATIVE_KO
    phrases = [str(p) for p in rng.choice(pool, int(rng.integers(1, 3)), replace=False)]
    return " ".join([base, *phrases]) if rng.random() < 0.5 else " ".join([*phrases, base])


def scored_comments(
    n: int,
    *,
    seed: int = 0,
    languages: tuple[str, ...] = ("en", "ko", "mixed"),
    surveys: tuple[str, ...] = ("nps", "csat", "ces"),
) -> pd.DataFrame:
    """Feedback rows (survey, score, comment) whose comment sentiment follows the score's
    band; `positive` is the planted truth."""
    rng = np.random.default_rng(seed)
    ranges = {"nps": ((0, 6), (9, 10)), "csat": ((1, 2), (4, 5)), "ces": ((1, 3), (5, 7))}
    rows = []
    for i in range(n):
        survey = str(rng.choice(surveys))
        positive = bool(rng.random() < 0.5)
        low, high = ranges[survey][1 if positive else 0]
        language = str(rng.choice(languages))
        rows.append(
            {
                "response_id": f"s{i}",
                "survey": survey,
                "score": int(rng.integers(low, high + 1)),
                "positive": positive,
                "language": language,
                "comment": sentiment_comment(rng, positive, language),
            }
        )
    return pd.DataFrame(rows)
