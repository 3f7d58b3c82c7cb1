"""Synthetic sessions for one chunk of customers: funnels, impressions, ratings, loyalty.

Everything is vectorised over all sessions of the chunk (no Python loop per event), so a
chunk of 20,000 customers and a million events takes about a second. Event rows are kept as
integer codes (customer row, item row, type, channel) until they are written.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contracts.schema import CHANNELS, EVENT_TYPES
from jobs.generate_catalogue import CATEGORIES, Catalogue
from jobs.generate_people import People

DAY = 86_400
T = {name: i for i, name in enumerate(EVENT_TYPES)}
C = {name: i for i, name in enumerate(CHANNELS)}
TASTE_SHARE = 0.8  # sessions that follow the customer's taste; the rest follow the crowd
PRICE_TASTE_SHARE = 0.7  # product choices that follow the customer's price taste
# Calibration, so that --events-per-customer is the mean: events per session of the funnels
# below, and the mean of activity x active share over the lifecycle mix (both measured).
EVENTS_PER_SESSION = 4.4
ACTIVE_MEAN = 0.94
WEEKDAY = np.array([0.92, 0.9, 0.95, 1.0, 1.08, 1.2, 1.1])  # Monday first
ONLINE_HOURS = np.array(
    [1, 0.5, 0.3, 0.2, 0.2, 0.4, 1, 2, 3, 3.5, 4, 4.5, 5, 4.5, 4, 4, 4, 4.5, 5.5, 6.5, 7, 6, 4, 2]
)
STORE_HOURS = np.array([0] * 9 + [3, 4, 5, 6, 6, 6, 6, 6, 7, 5, 3] + [0] * 4, dtype=float)
TIER_SPEND = np.array([50.0, 250.0, 750.0, 2000.0])  # 12-month spend for bronze..platinum
POINTS_PER_UNIT = 5
QUANTITY_EXTRA = np.array([1.0 if c.name == "Grocery" else 0.2 for c in CATEGORIES])


@dataclass
class World:
    """What every chunk shares: the time window, its seasonality and the catalogue."""

    start: int
    days: int
    day_cdf: np.ndarray  # cumulative seasonal weight of each day, day_cdf[0] = 0
    catalogue: Catalogue
    category_share: np.ndarray  # share of product popularity per category
    products: list[np.ndarray]  # product rows per category
    product_cdf: list[np.ndarray]  # their cumulative popularity
    primary_channel: np.ndarray  # first allowed channel per item
    price_level: np.ndarray  # z-score of log price within the item's category (0 if no price)
    daily: dict[str, tuple[np.ndarray, np.ndarray]]  # CSR: items active on each day


def build_world(catalogue: Catalogue, *, start: int, days: int) -> World:
    day = np.arange(days)
    epoch_day = start // DAY + day
    doy = ((epoch_day - 10957) % 365.25).astype(float)  # 10957 = days to 2000-01-01
    season = (
        1.0
        + 0.9 * np.exp(-(((doy - 348) / 12) ** 2))  # December peak
        + 0.4 * np.exp(-(((doy - 331) / 4) ** 2))  # Black Friday
        - 0.2 * np.exp(-(((doy - 20) / 12) ** 2))  # January lull
        + 0.1 * np.exp(-(((doy - 200) / 30) ** 2))  # summer
    )
    weight = season * WEEKDAY[(epoch_day + 3) % 7] * (1 + 0.25 * day / days)  # 1970-01-01: Thu
    kind, cat, w = catalogue.kind, catalogue.category, catalogue.weight
    prod = np.flatnonzero(kind == 0)
    share = np.bincount(cat[prod], weights=w[prod], minlength=len(CATEGORIES))
    products, cdfs = [], []
    for k in range(len(CATEGORIES)):
        rows = prod[cat[prod] == k]
        rows = rows if len(rows) else prod  # empty category: fall back to every product
        products.append(rows)
        cdfs.append(np.cumsum(w[rows]))
    first_bit = catalogue.channel_mask & -catalogue.channel_mask
    daily = {
        "content": _daily(catalogue, day, kind == 1),
        "offer": _daily(catalogue, day, kind == 2),
        "open_offer": _daily(catalogue, day, (kind == 2) & (catalogue.target_mask == 0)),
    }
    return World(
        start=start,
        days=days,
        day_cdf=np.concatenate([[0.0], np.cumsum(weight)]),
        catalogue=catalogue,
        category_share=share / max(share.sum(), 1e-12),
        products=products,
        product_cdf=cdfs,
        primary_channel=np.log2(first_bit).astype(np.int8),
        price_level=_price_level(catalogue),
        daily=daily,
    )


def _price_level(cat: Catalogue) -> np.ndarray:
    price = np.log(np.maximum(cat.columns["price"], 0.01))
    level = np.zeros(len(cat))
    for k in np.unique(cat.category):
        rows = np.flatnonzero((cat.category == k) & (cat.kind == 0))
        if len(rows) > 1:
            level[rows] = (price[rows] - price[rows].mean()) / max(price[rows].std(), 1e-9)
    return level


def _daily(cat: Catalogue, day: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows = np.flatnonzero(mask)
    active = (cat.from_day[rows][None, :] <= day[:, None]) & (
        cat.to_day[rows][None, :] >= day[:, None]
    )
    d, j = np.nonzero(active)
    return np.concatenate([[0], np.cumsum(np.bincount(d, minlength=len(day)))]), rows[j]


class EventLog:
    """Columns of events as integer codes, appended part by part."""

    FIELDS = ("customer", "item", "type", "channel", "timestamp", "order", "quantity", "value")

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []

    def add(
        self,
        etype: str,
        customer: np.ndarray,
        item: np.ndarray,
        channel: np.ndarray,
        timestamp: np.ndarray,
        order: np.ndarray | None = None,
        quantity: np.ndarray | None = None,
        value: np.ndarray | None = None,
    ) -> None:
        n = len(customer)
        self.parts.append(
            {
                "customer": customer.astype(np.int32),
                "item": item.astype(np.int32),
                "type": np.full(n, T[etype], dtype=np.int8),
                "channel": channel.astype(np.int8),
                "timestamp": timestamp.astype(np.int64),
                "order": np.full(n, -1, np.int64) if order is None else order.astype(np.int64),
                "quantity": np.ones(n, np.int64) if quantity is None else quantity.astype(np.int64),
                "value": np.zeros(n) if value is None else value.astype(np.float64),
            }
        )

    def columns(self, until: int) -> dict[str, np.ndarray]:
        """All parts before `until` in one table, by customer then time (funnel order on ties).

        A session started just before the end of the window may run past it; its later steps
        are cut, as if the data were extracted at that moment.
        """
        cols = {f: np.concatenate([p[f] for p in self.parts]) for f in self.FIELDS}
        cut = cols["timestamp"] < until
        cols = {f: v[cut] for f, v in cols.items()}
        order = np.lexsort((cols["timestamp"], cols["customer"]))
        return {f: v[order] for f, v in cols.items()}


def pick_rows(rng: np.random.Generator, cdf: np.ndarray) -> np.ndarray:
    """One categorical draw per row of a cumulative-probability matrix."""
    u = rng.random(len(cdf)) * cdf[:, -1]
    return np.minimum((u[:, None] > cdf).sum(axis=1), cdf.shape[1] - 1)


def pick_products(rng: np.random.Generator, world: World, category: np.ndarray) -> np.ndarray:
    """A product from each given category, by Zipf-like popularity."""
    out = np.empty(len(category), dtype=np.int64)
    for k in np.unique(category):
        at = np.flatnonzero(category == k)
        cdf = world.product_cdf[k]
        out[at] = world.products[k][np.searchsorted(cdf, rng.random(len(at)) * cdf[-1])]
    return out


def pick_for(
    rng: np.random.Generator, world: World, people: People, cust: np.ndarray, category: np.ndarray
) -> np.ndarray:
    """A product of each category for each customer: of two popular candidates, usually the
    one whose price level (within its category) suits the customer's price taste."""
    first, second = pick_products(rng, world, category), pick_products(rng, world, category)
    taste = people.price_taste[cust]
    closer = np.abs(world.price_level[second] - taste) < np.abs(world.price_level[first] - taste)
    return np.where(closer & (rng.random(len(cust)) < PRICE_TASTE_SHARE), second, first)


def fix_channel(world: World, item: np.ndarray, channel: np.ndarray) -> np.ndarray:
    """An item shown on a channel it is not offered on moves to its first allowed channel."""
    allowed = (world.catalogue.channel_mask[item] >> channel) & 1
    return np.where(allowed == 1, channel, world.primary_channel[item])


def simulate(
    rng: np.random.Generator, world: World, people: People, events_per_customer: float
) -> EventLog:
    """Sessions of every customer in the chunk, within each one's active window."""
    weight = people.activity * (people.to_day - people.from_day + 1) / world.days
    rate = events_per_customer / EVENTS_PER_SESSION * weight / ACTIVE_MEAN
    cust = np.repeat(np.arange(people.n), rng.poisson(rate))
    s = len(cust)
    lo, hi = world.day_cdf[people.from_day[cust]], world.day_cdf[people.to_day[cust] + 1]
    day = np.searchsorted(world.day_cdf, lo + rng.random(s) * (hi - lo), side="right") - 1
    day = np.clip(day, people.from_day[cust], people.to_day[cust])
    channel = pick_rows(rng, people.channel_cdf[cust])
    store = channel == C["store"]
    hours = np.where(
        store,
        rng.choice(24, s, p=STORE_HOURS / STORE_HOURS.sum()),
        rng.choice(24, s, p=ONLINE_HOURS / ONLINE_HOURS.sum()),
    )
    t0 = world.start + day * DAY + hours * 3600 + rng.integers(0, 3600, s)
    t0 = np.maximum(t0, people.created[cust] + 60)  # not before they signed up
    taste = pick_rows(rng, np.cumsum(people.taste, axis=1)[cust])
    crowd = rng.choice(len(CATEGORIES), s, p=world.category_share)
    category = np.where(rng.random(s) < TASTE_SHARE, taste, crowd)

    log = EventLog()
    _funnels(rng, world, people, log, cust[~store], t0[~store], channel[~store], category[~store])
    # order numbers are session numbers here; `generate` renumbers them densely per chunk
    n_online = int((~store).sum())
    _store_visits(rng, world, people, log, cust[store], t0[store], category[store], n_online)
    _impressions(rng, world, people, log, cust, t0, day, channel)
    return log


def _funnels(
    rng: np.random.Generator,
    world: World,
    people: People,
    log: EventLog,
    cust: np.ndarray,
    t0: np.ndarray,
    channel: np.ndarray,
    category: np.ndarray,
) -> None:
    """view -> click -> add_to_cart -> purchase; one order (the session number) per session."""
    views = 1 + rng.poisson(1.3, len(cust))
    session = np.repeat(np.arange(len(cust)), views)
    v = len(session)
    gap = rng.integers(15, 240, v)
    run = np.cumsum(gap)
    first = np.cumsum(views) - views
    t = t0[session] + run - np.repeat(run[first] - gap[first], views)
    c = cust[session]
    item = pick_for(rng, world, people, c, category[session])
    # Email and push sessions land on the web or the app to browse.
    landing = np.where(rng.random(len(cust)) < 0.5, C["web"], C["app"])
    ch = np.where(np.isin(channel, (C["email"], C["push"])), landing, channel)[session]
    ch = fix_channel(world, item, ch)
    click = rng.random(v) < 0.45
    cart = click & (rng.random(v) < people.buying[c])
    buy = cart & (rng.random(v) < 0.6)
    t_click = t + rng.integers(2, 20, v)
    t_cart = t_click + rng.integers(10, 120, v)
    log.add("view", c, item, ch, t)
    log.add("click", c[click], item[click], ch[click], t_click[click])
    log.add("add_to_cart", c[cart], item[cart], ch[cart], t_cart[cart])
    it = item[buy]
    qty = 1 + rng.poisson(QUANTITY_EXTRA[world.catalogue.category[it]])
    log.add(
        "purchase",
        c[buy],
        it,
        ch[buy],
        t_cart[buy] + rng.integers(60, 900, int(buy.sum())),
        order=session[buy],
        quantity=qty,
        value=np.round(world.catalogue.columns["price"][it] * qty, 2),
    )


def _store_visits(
    rng: np.random.Generator,
    world: World,
    people: People,
    log: EventLog,
    cust: np.ndarray,
    t0: np.ndarray,
    category: np.ndarray,
    order_base: int,
) -> None:
    """A store visit is a till receipt: one order of one or more products, no browsing."""
    lines = 1 + rng.poisson(0.6, len(cust))
    session = np.repeat(np.arange(len(cust)), lines)
    item = pick_for(rng, world, people, cust[session], category[session])
    in_store = (world.catalogue.channel_mask[item] >> C["store"]) & 1 == 1  # not app exclusives
    session, item = session[in_store], item[in_store]
    qty = 1 + rng.poisson(QUANTITY_EXTRA[world.catalogue.category[item]])
    ch = np.full(len(item), C["store"])
    log.add(
        "purchase",
        cust[session],
        item,
        ch,
        t0[session] + rng.integers(0, 300, len(item)),
        order=order_base + session,
        quantity=qty,
        value=np.round(world.catalogue.columns["price"][item] * qty, 2),
    )


def _pick_daily(
    rng: np.random.Generator, csr: tuple[np.ndarray, np.ndarray], day: np.ndarray
) -> np.ndarray:
    """A uniformly chosen item active on each given day, or -1 when none is."""
    offsets, rows = csr
    if len(rows) == 0:
        return np.full(len(day), -1, dtype=np.int64)
    count = offsets[day + 1] - offsets[day]
    at = np.minimum(offsets[day] + (rng.random(len(day)) * count).astype(np.int64), len(rows) - 1)
    return np.where(count > 0, rows[at], -1)


def _impressions(
    rng: np.random.Generator,
    world: World,
    people: People,
    log: EventLog,
    cust: np.ndarray,
    t0: np.ndarray,
    day: np.ndarray,
    channel: np.ndarray,
) -> None:
    """Offers and content shown in a session: impression, then click or dismiss; offers redeem.

    Email and push sessions are mostly impressions (a campaign message), store ones rarely.
    """
    count = rng.poisson(np.array([0.5, 0.6, 1.6, 1.4, 0.1])[channel])
    sess = np.repeat(np.arange(len(cust)), count)
    c, d = cust[sess], day[sess]
    want_offer = rng.random(len(sess)) < 0.5
    item = np.full(len(sess), -1, dtype=np.int64)
    item[want_offer] = _pick_daily(rng, world.daily["offer"], d[want_offer])
    item[~want_offer] = _pick_daily(rng, world.daily["content"], d[~want_offer])
    # A targeted offer only reaches its segments; anyone else sees an untargeted one instead.
    target = world.catalogue.target_mask[np.maximum(item, 0)]
    wrong = (item >= 0) & (target != 0) & (((target >> people.lifecycle[c]) & 1) == 0)
    item[wrong] = _pick_daily(rng, world.daily["open_offer"], d[wrong])
    ok = item >= 0
    sess, c, item = sess[ok], c[ok], item[ok]
    m = len(sess)
    ch = fix_channel(world, item, channel[sess])
    t = t0[sess] + rng.integers(0, 1800, m)
    content = world.catalogue.kind[item] == 1
    click = rng.random(m) < np.where(content, 0.22, 0.12)
    dismiss = ~click & (rng.random(m) < people.dismissing[c])
    redeem = click & ~content & (rng.random(m) < 0.1 + 0.8 * people.buying[c])
    log.add("impression", c, item, ch, t)
    log.add("click", c[click], item[click], ch[click], t[click] + rng.integers(1, 60, m)[click])
    log.add("dismiss", c[dismiss], item[dismiss], ch[dismiss], t[dismiss] + 2)
    log.add(
        "redeem", c[redeem], item[redeem], ch[redeem], t[redeem] + rng.integers(60, 900, m)[redeem]
    )


@dataclass
class Outcome:
    """A chunk's final events (codes, sorted by customer and time) and loyalty status."""

    events: dict[str, np.ndarray]
    tier: np.ndarray  # index into LOYALTY_TIERS
    points: np.ndarray


def finish(rng: np.random.Generator, world: World, people: People, log: EventLog) -> Outcome:
    """Add ratings and reward redemptions, derive tiers and points from spend.

    Tier follows the last 12 months' spend, points are 5 per currency unit spent minus the
    rewards redeemed; offers that need a higher tier than the customer reached are removed.
    """
    cat, n, end = world.catalogue, people.n, world.start + world.days * DAY
    ev = log.columns(until=end)
    buy = np.flatnonzero(ev["type"] == T["purchase"])
    rated = buy[rng.random(len(buy)) < 0.15]
    t_rate = ev["timestamp"][rated] + rng.integers(2 * DAY, 21 * DAY, len(rated))
    rated, t_rate = rated[t_rate < end], t_rate[t_rate < end]
    who = ev["customer"][rated]
    stars = np.clip(np.round(3.9 + 0.7 * people.mood[who] + rng.normal(0, 0.9, len(who))), 1, 5)
    rate_channel = np.array([C["app"], C["web"], C["email"]])[rng.integers(0, 3, len(who))]
    rate_channel = fix_channel(world, ev["item"][rated], rate_channel)
    log.add("rate", who, ev["item"][rated], rate_channel, t_rate, value=stars)

    spender = ev["customer"][buy]
    spend = np.bincount(spender, weights=ev["value"][buy], minlength=n)
    recent = ev["timestamp"][buy] >= end - 365 * DAY
    spend12 = np.bincount(spender[recent], weights=ev["value"][buy][recent], minlength=n)
    tier = np.where(people.enrolled, np.searchsorted(TIER_SPEND, spend12, side="right"), 0)
    points = np.where(people.enrolled, np.floor(np.round(spend * POINTS_PER_UNIT, 6)), 0).astype(
        np.int64
    )
    last_buy = np.zeros(n, dtype=np.int64)
    last_buy[spender] = ev["timestamp"][buy]  # sorted by time: the last write wins
    rewards = np.flatnonzero(cat.kind == 3)
    cost = cat.columns["points_cost"]
    for _ in range(3 if len(rewards) else 0):
        r = rewards[rng.integers(0, len(rewards), n)]
        ok = (rng.random(n) < 0.5) & (cost[r] <= points) & (cat.min_tier[r] <= tier) & (points > 0)
        points[ok] -= cost[r][ok]
        t = np.minimum(last_buy[ok] + rng.integers(3600, 30 * DAY, int(ok.sum())), end - 1)
        ch = np.array([C["app"], C["web"], C["store"]])[
            rng.choice(3, int(ok.sum()), p=[0.5, 0.3, 0.2])
        ]
        log.add("redeem", np.flatnonzero(ok), r[ok], ch, t)

    ev = log.columns(until=end)
    item = ev["item"]
    drop = (cat.kind[item] == 2) & (cat.min_tier[item] > tier[ev["customer"]])
    return Outcome({k: v[~drop] for k, v in ev.items()}, tier, points)
