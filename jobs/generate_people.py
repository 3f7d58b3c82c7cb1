"""Synthetic customers: who they are, their hidden tastes and lifecycle, and their feedback.

A customer's latent state (category and price taste, activity, purchase and dismissal propensities,
mood) drives the events simulated in `generate_events`; the same state plus what actually
happened to them (purchases, dismissals) drives their survey scores, so the relations a
CX analyst looks for are really in the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contracts.schema import CHANNELS
from jobs.generate_comments import comment_table, draw_comments

DAY = 86_400
LIFECYCLES = ("new", "loyal", "regular", "lapsing", "churned")  # same order as SEGMENT_NAMES
LIFECYCLE_SHARE = np.array([0.12, 0.18, 0.40, 0.15, 0.15])
ACTIVITY = np.array([1.0, 2.2, 1.0, 0.8, 0.7])  # relative session rate per active day
BUYING = np.array([0.9, 1.5, 1.0, 0.8, 0.7])  # relative add-to-cart propensity
COUNTRIES = np.array(["GB", "DE", "FR", "US", "ES", "IT", "NL", "SE", "PL", "KR", "IE", "BE"])
COUNTRY_SHARE = np.array([20, 16, 12, 14, 8, 7, 5, 4, 5, 4, 3, 2]) / 100
GENDERS = np.array(["female", "male", "other", ""])
GENDER_SHARE = np.array([0.49, 0.46, 0.01, 0.04])
# online channels a customer uses: web, app, email, push, store (call centre only in feedback)
CHANNEL_MIX = np.array([0.38, 0.30, 0.12, 0.07, 0.13])


@dataclass
class People:
    """One chunk of customers: visible attributes plus the latent state the simulator uses."""

    n: int
    created: np.ndarray  # epoch seconds
    from_day: np.ndarray  # first and last active day, relative to the window start
    to_day: np.ndarray
    lifecycle: np.ndarray  # index into LIFECYCLES
    taste: np.ndarray  # n x categories, rows sum to 1
    activity: np.ndarray
    buying: np.ndarray  # add-to-cart probability per clicked product
    dismissing: np.ndarray  # probability to dismiss an impression
    mood: np.ndarray  # standard normal; lifts ratings and survey scores
    price_taste: np.ndarray  # standard normal: budget (-) or premium (+) within a category
    channel_cdf: np.ndarray  # n x 5 cumulative channel mix
    enrolled: np.ndarray  # in the loyalty programme
    columns: dict[str, np.ndarray]  # visible customer columns except tier and points


def draw_people(
    rng: np.random.Generator, n: int, *, start: int, days: int, category_share: np.ndarray
) -> People:
    """Draw `n` customers for a window of `days` days starting at epoch second `start`."""
    lifecycle = rng.choice(len(LIFECYCLES), size=n, p=LIFECYCLE_SHARE)
    # Created before the window, except regular customers (some join during it) and new ones.
    created_day = -rng.integers(30, 1500, n)
    regular = lifecycle == 2
    created_day[regular] = rng.integers(-1500, days // 2, int(regular.sum()))
    new = lifecycle == 0
    created_day[new] = days - rng.integers(1, 91, int(new.sum()))
    from_day = np.clip(created_day, 0, days - 1)
    to_day = np.full(n, days - 1)
    lapsing, churned = lifecycle == 3, lifecycle == 4
    to_day[lapsing] = days - rng.integers(60, 151, int(lapsing.sum()))
    to_day[churned] = days - rng.integers(200, min(451, days), int(churned.sum()))
    to_day = np.maximum(to_day, from_day + 14).clip(max=days - 1)

    # Taste: a sparse Dirichlet leaning to popular categories -> one to three favourites.
    taste = rng.dirichlet(np.maximum(category_share * len(category_share) * 0.15, 0.02), size=n)
    activity = rng.lognormal(-0.32, 0.8, n) * ACTIVITY[lifecycle]
    buying = np.clip(0.28 * rng.lognormal(-0.12, 0.5, n) * BUYING[lifecycle], 0.02, 0.9)
    dismissing = rng.beta(2.0, 6.0, n)
    mood = rng.standard_normal(n)
    price_taste = rng.standard_normal(n)

    mix = rng.dirichlet(CHANNEL_MIX * 6, size=n)
    consent_email = rng.random(n) < 0.6
    consent_push = rng.random(n) < 0.15 + 0.9 * mix[:, 1]
    consent_sms = rng.random(n) < 0.25
    mix[~consent_email, 2] = 0.0
    mix[~consent_push, 3] = 0.0
    mix /= mix.sum(axis=1, keepdims=True)
    enrolled = rng.random(n) < np.where(lifecycle == 1, 0.9, 0.65)

    end_year = 1970 + (start + days * DAY) // (365.25 * DAY)
    birth_year = np.clip(np.round(rng.normal(1985, 13, n)), 1935, end_year - 16).astype(np.int64)
    columns = {
        "created_at": start + created_day * DAY + rng.integers(0, DAY, n),
        "country": COUNTRIES[rng.choice(len(COUNTRIES), size=n, p=COUNTRY_SHARE)],
        "birth_year": np.where(rng.random(n) < 0.04, -1, birth_year),  # -1 = not given
        "gender": GENDERS[rng.choice(len(GENDERS), size=n, p=GENDER_SHARE)],
        "consent_email": consent_email,
        "consent_push": consent_push,
        "consent_sms": consent_sms,
    }
    return People(
        n=n,
        created=columns["created_at"],
        from_day=from_day,
        to_day=to_day,
        lifecycle=lifecycle,
        taste=taste,
        activity=activity,
        buying=buying,
        dismissing=dismissing,
        mood=mood,
        price_taste=price_taste,
        channel_cdf=np.cumsum(mix, axis=1),
        enrolled=enrolled,
        columns=columns,
    )


# Touchpoints of the journey map (`rules/journey.yaml`) the surveys ask about, their lift on
# scores (delivery, returns and support hurt most) and the channel the map gives them.
TOUCHPOINTS = np.array(
    ["checkout", "delivery", "support", "store_visit", "app", "product_page", "returns", "loyalty"]
)
TOUCHPOINT_LIFT = np.array([0.3, -0.4, -0.8, 0.4, 0.0, 0.2, -0.6, 0.5])
TOUCHPOINT_CHANNEL = np.array(
    [
        CHANNELS.index(c)
        for c in ("web", "email", "call_centre", "store", "app", "web", "web", "app")
    ]
)
AFTER_PURCHASE = np.array([0.25, 0.25, 0.10, 0.10, 0.12, 0.06, 0.06, 0.06])  # who bought
WITHOUT_PURCHASE = (np.array([2, 4, 5, 3]), np.array([0.3, 0.4, 0.2, 0.1]))  # who did not
SURVEY_SHARE = np.array([0.4, 0.4, 0.2])  # nps, csat, ces
COMMENTS = comment_table(TOUCHPOINTS.tolist())


def experience(
    purchases: np.ndarray, dismissals: np.ndarray, impressions: np.ndarray
) -> np.ndarray:
    """What a customer lived through: buying lifts it, dismissing what we showed lowers it."""
    return 0.9 * np.log1p(purchases) - 2.5 * dismissals / (impressions + 1.0)


def draw_feedback(
    rng: np.random.Generator,
    people: People,
    *,
    start: int,
    days: int,
    purchases: np.ndarray,
    dismissals: np.ndarray,
    impressions: np.ndarray,
    purchase_times: list[np.ndarray] | tuple[np.ndarray, np.ndarray],
) -> dict[str, np.ndarray]:
    """Survey responses; scores rise with `experience` and mood, fall at hard touchpoints.

    `purchase_times` is (offsets, times): customer i's purchase times are
    times[offsets[i]:offsets[i + 1]], used to place checkout and delivery surveys.
    """
    offsets, times = purchase_times
    n = people.n
    bought = purchases > 0
    responds = rng.random(n) < np.where(bought, 0.4, 0.15)
    count = np.where(responds, 1 + rng.poisson(0.5, n), 0)
    cust = np.repeat(np.arange(n), count)
    m = len(cust)
    survey = rng.choice(3, size=m, p=SURVEY_SHARE)
    with_purchase = rng.choice(len(TOUCHPOINTS), size=m, p=AFTER_PURCHASE)
    without = rng.choice(WITHOUT_PURCHASE[0], size=m, p=WITHOUT_PURCHASE[1])
    touchpoint = np.where(bought[cust], with_purchase, without)

    lo, hi = people.from_day[cust], people.to_day[cust] + 1
    ts = start + (lo + rng.random(m) * (hi - lo)) * DAY
    around_purchase = np.isin(touchpoint, (0, 1)) & bought[cust]
    pick = offsets[cust] + (rng.random(m) * (offsets[cust + 1] - offsets[cust])).astype(np.int64)
    delay = np.where(touchpoint == 1, rng.uniform(2, 10, m), rng.uniform(0.01, 1, m)) * DAY
    if len(times):
        ts = np.where(around_purchase, times[np.minimum(pick, len(times) - 1)] + delay, ts)
    ts = np.minimum(ts, start + days * DAY - 1).astype(np.int64)

    x = experience(purchases, dismissals, impressions)[cust] + 0.6 * people.mood[cust] - 0.8
    lift = TOUCHPOINT_LIFT[touchpoint]
    noise = rng.standard_normal(m)
    nps = np.clip(np.round(7.0 + 1.8 * (x + lift) + 1.6 * noise), 0, 10)
    csat = np.clip(np.round(3.8 + 0.8 * (x + lift) + 0.8 * noise), 1, 5)
    ces = np.clip(np.round(5.0 + 0.9 * (x + lift) + 1.0 * noise), 1, 7)  # 7 = very easy
    score = np.choose(survey, [nps, csat, ces]).astype(np.int64)
    low, high = np.array([0, 1, 1])[survey], np.array([10, 5, 7])[survey]
    sentiment = np.where((score - low) / (high - low) >= 0.7, 0, 1)
    sentiment = np.where((score - low) / (high - low) < 0.4, 2, sentiment)
    comment = draw_comments(rng, COMMENTS, touchpoint, sentiment)
    return {
        "customer": cust,
        "survey": survey,
        "score": score,
        "comment": comment,
        "channel": TOUCHPOINT_CHANNEL[touchpoint],
        "touchpoint": touchpoint,
        "timestamp": ts,
    }
