"""Synthetic survey comments in English, Korean and a mix of the two, about the touchpoint
answered and in the mood of the score, so themes and sentiment have something real to find.

`COMMENTS[touchpoint, sentiment, k]` (sentiment 0 good, 1 middling, 2 bad; k = 0 is no
comment) is drawn vectorised by `draw_comments`. Touchpoints are the generator's
(`generate_people.TOUCHPOINTS`), each a touchpoint of the shipped journey map
(`rules/journey.yaml`; `tests/jobs/test_generate_comments.py` checks they agree).
"""

from __future__ import annotations

import numpy as np

# Per touchpoint: (good, bad) lines, each English, Korean, English, Korean, mixed.
BY_TOUCHPOINT: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "checkout": (
        ("Checkout was quick and easy", "결제가 빠르고 간편했어요", "Paying took two clicks",
         "결제 과정이 편리해요", "checkout이 정말 간단했어요"),
        ("Checkout kept failing", "결제 오류가 계속 났어요", "The payment page froze",
         "결제가 너무 복잡해요", "결제 page가 너무 느려요"),
    ),
    "delivery": (
        ("Fast delivery, thank you", "배송이 정말 빨라요", "Parcel came a day early",
         "포장이 꼼꼼했어요", "delivery 빠르고 좋아요"),
        ("Parcel arrived late", "배송이 너무 늦었어요", "Item was damaged in delivery",
         "상자가 파손되어 왔어요", "delivery 너무 늦음, 실망"),
    ),
    "support": (
        ("Support solved it quickly", "상담원이 친절했어요", "The agent was really helpful",
         "문의 답변이 빨랐어요", "상담 support 최고예요"),
        ("Support never answered", "고객센터 연결이 안 돼요", "On hold for an hour",
         "상담원이 불친절했어요", "상담 wait time 너무 길어요"),
    ),
    "store_visit": (
        ("Staff in the store were helpful", "매장 직원이 친절해요", "Lovely store, easy to browse",
         "매장이 깨끗했어요", "store 분위기 좋아요"),
        ("Store was crowded and messy", "매장이 너무 복잡했어요", "Nobody to help in the store",
         "매장 재고가 없었어요", "store 직원 찾기 힘들어요"),
    ),
    "app": (
        ("Love the app", "앱이 편리해요", "The app is fast and clear", "앱 디자인이 예뻐요",
         "app 사용이 쉬워요"),
        ("The app keeps crashing", "앱이 자꾸 멈춰요", "Cannot log in to the app",
         "앱 업데이트 후 느려졌어요", "app 로그인 오류 계속"),
    ),
    "product_page": (
        ("Easy to find what I wanted", "상품 정보가 자세해요", "Great photos and reviews",
         "검색이 잘 돼요", "상품 page 설명 좋아요"),
        ("Product photos were misleading", "상품 설명이 부족해요", "Search never finds anything",
         "사진과 실제가 달라요", "size 정보가 없어요"),
    ),
    "returns": (
        ("Refund came fast", "환불이 빨랐어요", "Returning was painless", "반품이 간단했어요",
         "refund 처리 빨라요"),
        ("Return process is a nightmare", "반품 절차가 복잡해요", "Still waiting for my refund",
         "환불이 너무 늦어요", "refund 아직도 안 됨"),
    ),
    "loyalty": (
        ("Great rewards for points", "포인트 혜택이 좋아요", "Love the member discounts",
         "적립금이 쏠쏠해요", "membership 혜택 최고"),
        ("Points expired without notice", "포인트가 사라졌어요", "Rewards are not worth it",
         "멤버십 혜택이 줄었어요", "point 적립이 안 돼요"),
    ),
}  # fmt: skip
MIDDLING = ("OK overall", "그냥 보통이에요", "Fine, nothing special", "무난했어요", "그냥 so-so")


def comment_table(touchpoints: list[str]) -> np.ndarray:
    """`[touchpoint, sentiment, k]` of comment texts, k = 0 the empty comment."""
    rows = []
    for name in touchpoints:
        good, bad = BY_TOUCHPOINT[name]
        rows.append([("", *good), ("", *MIDDLING), ("", *bad)])
    return np.array(rows, dtype=object)


def draw_comments(
    rng: np.random.Generator,
    table: np.ndarray,
    touchpoint: np.ndarray,
    sentiment: np.ndarray,
    *,
    share: float = 0.4,
) -> np.ndarray:
    """One comment per answer: about `share` of them written, of the answer's touchpoint
    and sentiment, in English, Korean or both."""
    m = len(touchpoint)
    choice = rng.integers(1, table.shape[2], m) * (rng.random(m) < share)
    return table[touchpoint, sentiment, choice]
