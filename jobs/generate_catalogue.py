"""The synthetic catalogue: products, content, offers and rewards over named categories.

Pure numpy; `make_catalogue` returns the item columns plus the hidden popularity weights
the activity simulator samples from (Zipf-like: a few items take most of the traffic).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contracts.schema import CHANNELS, LOYALTY_TIERS

DAY = 86_400


@dataclass(frozen=True)
class Category:
    """A category's name, log-normal price (median, sigma), mean margin and title words."""

    name: str
    median_price: float
    sigma: float
    margin: float
    adjectives: tuple[str, ...]
    nouns: tuple[str, ...]


# (name|median price|log sigma|mean margin, adjectives, nouns)
_CATEGORY_TABLE = (
    (
        "Electronics|120|0.9|0.18",
        "Wireless,Smart,Compact,Pro,4K,Noise-Cancelling",
        "Headphones,Speaker,Tablet,Smartwatch,Camera,Charger,Monitor",
    ),
    (
        "Fashion|45|0.6|0.55",
        "Slim,Classic,Linen,Organic,Waterproof,Vintage",
        "Jacket,Sneakers,Dress,Jeans,Scarf,T-Shirt,Boots",
    ),
    (
        "Home|60|0.8|0.40",
        "Ceramic,Oak,Minimal,Cosy,Nordic,Handmade",
        "Lamp,Throw,Vase,Cookware Set,Mirror,Rug,Bedding",
    ),
    (
        "Beauty|25|0.5|0.60",
        "Hydrating,Vegan,Radiant,Gentle,Matte,Botanical",
        "Serum,Moisturiser,Lipstick,Shampoo,Perfume,Face Mask",
    ),
    (
        "Sports|55|0.7|0.38",
        "Lightweight,Trail,Aero,Flex,Thermal,Pro",
        "Running Shoes,Yoga Mat,Bike Helmet,Dumbbells,Tennis Racket,Backpack",
    ),
    (
        "Books|14|0.4|0.30",
        "Illustrated,Collected,Pocket,Hardback,Complete,Annotated",
        "Novel,Cookbook,Atlas,Biography,Poetry,Thriller",
    ),
    (
        "Grocery|6|0.6|0.22",
        "Organic,Fair-Trade,Artisan,Fresh,Wholegrain,Roasted",
        "Coffee,Olive Oil,Granola,Tea,Chocolate,Pasta",
    ),
    (
        "Toys|28|0.7|0.45",
        "Wooden,Interactive,Magnetic,Plush,Musical,Classic",
        "Puzzle,Robot,Train Set,Building Blocks,Doll,Board Game",
    ),
    (
        "Garden|35|0.8|0.42",
        "Solar,Hardy,Cedar,Compact,Weatherproof,Perennial",
        "Planter,Hose,Lights,Seed Kit,Bench,Pruners",
    ),
    (
        "Automotive|40|0.9|0.33",
        "Heavy-Duty,Universal,Premium,Digital,Portable,All-Season",
        "Car Charger,Dash Cam,Seat Covers,Wiper Blades,Tyre Inflator",
    ),
    (
        "Health|20|0.6|0.50",
        "Daily,Sugar-Free,Plant-Based,Advanced,Natural,Sensitive",
        "Vitamins,Protein Powder,First Aid Kit,Thermometer,Massager",
    ),
    (
        "Music|30|1.0|0.35",
        "Acoustic,Limited,Deluxe,Studio,Live,Remastered",
        "Vinyl,Guitar Strings,Ukulele,Microphone,Keyboard",
    ),
    (
        "Pets|18|0.6|0.40",
        "Grain-Free,Chewy,Orthopaedic,Reflective,Natural,Cosy",
        "Dog Bed,Cat Tree,Leash,Pet Food,Feeder,Toy Bundle",
    ),
    (
        "Office|22|0.7|0.37",
        "Ergonomic,Recycled,Dotted,Adjustable,Slim,Bamboo",
        "Notebook,Desk Lamp,Chair Cushion,Pen Set,Organiser,Planner",
    ),
    (
        "Jewellery|75|0.9|0.65",
        "Sterling,Rose-Gold,Minimal,Pearl,Engraved,Vintage",
        "Necklace,Ring,Earrings,Bracelet,Watch,Pendant",
    ),
    (
        "Baby|24|0.6|0.40",
        "Soft,Organic,Foldable,Gentle,Musical,Travel",
        "Stroller,Blanket,Bottle Set,Play Mat,Carrier,Onesie",
    ),
)
CATEGORIES: tuple[Category, ...] = tuple(
    Category(
        name, float(med), float(sig), float(mar), tuple(adj.split(",")), tuple(noun.split(","))
    )
    for (name, med, sig, mar), adj, noun in (
        (head.split("|"), a, n) for head, a, n in _CATEGORY_TABLE
    )
)
CATEGORY_NAMES = tuple(c.name for c in CATEGORIES)
BRANDS: tuple[str, ...] = (
    "Aurora",
    "Nimbus",
    "Atlas",
    "Vega",
    "Cobalt",
    "Juniper",
    "Summit",
    "Harbor",
    "Maple",
)
BRANDS += ("Orion", "Solace", "Lumen", "Nova", "Willow", "Ember", "Zephyr", "Pioneer", "Kestrel")
GENERIC_TAGS = ("bestseller", "new", "eco", "premium", "gift", "sale", "limited", "bundle")
# Names of segments Touchpoint publishes (segments.build), so offer targeting matches real
# memberships; bit i targets the customers of generated lifecycle i (generate_people.LIFECYCLES).
SEGMENT_NAMES = (
    "lifecycle-new",
    "rfm-loyal",
    "rfm-potential-loyalist",
    "rfm-at-risk",
    "rfm-hibernating",
)
KIND_SHARES = {"product": 0.80, "content": 0.10, "offer": 0.06, "reward": 0.04}
KIND_PREFIX = {"product": "P", "content": "A", "offer": "O", "reward": "R"}
REWARD_COSTS = np.array([250, 500, 1000, 2500, 5000])
CHANNEL_BIT = {name: 1 << i for i, name in enumerate(CHANNELS)}
ALL_CHANNELS = (1 << len(CHANNELS)) - 1


@dataclass
class Catalogue:
    """Item columns in `contracts.schema.ITEMS` order plus simulator-only arrays."""

    columns: dict[str, np.ndarray]
    kind: np.ndarray  # int8 index into ITEM_KINDS
    category: np.ndarray  # int16 index into CATEGORIES
    weight: np.ndarray  # Zipf-like popularity, sums to 1 within a kind
    channel_mask: np.ndarray  # bit set of allowed channels (CHANNEL_BIT)
    target_mask: np.ndarray  # bit set of SEGMENT_NAMES; 0 = everyone
    min_tier: np.ndarray  # int8 index into LOYALTY_TIERS
    from_day: np.ndarray  # first active day relative to the window start
    to_day: np.ndarray  # last active day (large when open-ended)

    def __len__(self) -> int:
        return len(self.kind)


def kind_counts(n_items: int) -> dict[str, int]:
    """How many items of each kind: at least one product, the rest by share."""
    counts = {k: int(n_items * s) for k, s in KIND_SHARES.items() if k != "product"}
    counts["product"] = n_items - sum(counts.values())
    return {k: counts[k] for k in KIND_SHARES}


def make_catalogue(rng: np.random.Generator, n_items: int, start: int, days: int) -> Catalogue:
    """Draw `n_items` items; `start` is the window start (epoch s) and `days` its length."""
    counts = kind_counts(n_items)
    kind = np.repeat(np.arange(4, dtype=np.int8), list(counts.values()))
    n_cat = len(CATEGORIES)
    cat_share = 1.0 / np.arange(1, n_cat + 1) ** 0.6
    category = rng.choice(n_cat, size=n_items, p=cat_share / cat_share.sum()).astype(np.int16)
    # Zipf-like popularity: a random rank per item, weight ~ 1 / rank^0.9 within its kind.
    weight = np.zeros(n_items)
    for k in range(4):
        idx = np.flatnonzero(kind == k)
        ranks = rng.permutation(len(idx)) + 1
        weight[idx] = 1.0 / ranks**0.9
        weight[idx] /= max(weight[idx].sum(), 1e-12)

    med = np.array([c.median_price for c in CATEGORIES])[category]
    sig = np.array([c.sigma for c in CATEGORIES])[category]
    price = np.maximum(np.round(med * np.exp(sig * rng.standard_normal(n_items))) - 0.01, 0.99)
    margin = np.clip(
        np.array([c.margin for c in CATEGORIES])[category] + 0.08 * rng.standard_normal(n_items),
        0.02,
        0.9,
    )
    is_product = kind == 0
    price = np.where(is_product, price, 0.0)
    margin = np.where(is_product, np.round(margin, 3), 0.0)

    channel_mask = np.full(n_items, ALL_CHANNELS, dtype=np.int16)
    u = rng.random(n_items)
    app, web, email, push, store = (
        CHANNEL_BIT[c] for c in ("app", "web", "email", "push", "store")
    )
    channel_mask[is_product & (u < 0.05)] = app  # app exclusives
    channel_mask[is_product & (u >= 0.05) & (u < 0.09)] = web | app  # online only
    offer_masks = np.array([email, app, email | app, push | app, ALL_CHANNELS])
    offer_pick = rng.choice(5, size=n_items, p=[0.25, 0.2, 0.2, 0.15, 0.2])
    channel_mask = np.where(kind == 2, offer_masks[offer_pick], channel_mask)
    channel_mask = np.where((kind == 1) & (u < 0.35), web | app | email, channel_mask)
    channel_mask = np.where(kind == 3, app | web | store, channel_mask).astype(np.int16)

    from_day = np.where(
        kind == 2,
        rng.integers(-30, max(days - 14, -29), size=n_items),  # offers run for weeks
        np.where(
            kind == 1, rng.integers(-180, days - 7, size=n_items), -rng.integers(30, 1000, n_items)
        ),
    )
    to_day = np.where(kind == 2, from_day + rng.integers(14, 61, size=n_items), 10 * days)
    # some offers are always on (welcome, loyalty), so a data set stays servable after it ends
    evergreen = (kind == 2) & (rng.random(n_items) < 0.4)
    to_day = np.where(evergreen, 10 * days, to_day)
    seasonal = is_product & (rng.random(n_items) < 0.05)
    to_day = np.where(seasonal, days + rng.integers(7, 120, size=n_items), to_day)

    target_mask = np.where(
        (kind == 2) & (rng.random(n_items) < 0.3),
        (1 << rng.integers(0, 5, n_items))
        | np.where(rng.random(n_items) < 0.4, 1 << rng.integers(0, 5, n_items), 0),
        0,
    ).astype(np.int16)
    cost_pick = rng.integers(0, len(REWARD_COSTS), size=n_items)
    points_cost = np.where(kind == 3, REWARD_COSTS[cost_pick], 0)
    min_tier = np.where(kind == 3, cost_pick, 0)  # dearer rewards need a higher tier
    min_tier = np.where(
        (kind == 2) & (rng.random(n_items) < 0.15), rng.integers(2, 4, n_items), min_tier
    )
    budget = np.where(
        (kind == 2) & (rng.random(n_items) < 0.6), 500 * rng.integers(2, 100, n_items), -1
    )
    adjective = rng.integers(0, 6, n_items)  # shared by the title and the tags
    in_stock = ~is_product | (rng.random(n_items) > 0.05)
    # an offer's margin is what one redemption earns (currency), which ranks offers by
    # expected value; a product's is a share of its price. From a spawned generator: the
    # other columns stay as a seed has always made them.
    draws = rng.spawn(1)[0].standard_normal(n_items)
    margin = np.where(kind == 2, np.round(np.exp(np.log(12.0) + 0.6 * draws), 2), margin)

    columns: dict[str, np.ndarray] = {
        "item_id": _ids(kind, counts),
        "kind": np.array(list(KIND_SHARES))[kind],
        "title": _titles(rng, kind, category, adjective, points_cost),
        "category": np.array(CATEGORY_NAMES)[category],
        "price": price,
        "margin": margin,
        "tags": _care_tags(_tags(rng, kind, category, adjective), kind, evergreen, target_mask),
        "channels": np.array([_channel_list(m) for m in channel_mask.tolist()], dtype=object),
        "active_from": start + from_day * DAY,
        "active_to": np.where(to_day >= 10 * days, -1, start + to_day * DAY),  # -1 = open
        "in_stock": in_stock,
        "target_segments": np.array([_segment_list(m) for m in target_mask.tolist()], dtype=object),
        "min_tier": np.array(LOYALTY_TIERS)[min_tier],
        "points_cost": points_cost.astype(np.int64),
        "budget": budget.astype(np.int64),
    }
    return Catalogue(
        columns=columns,
        kind=kind,
        category=category,
        weight=weight,
        channel_mask=channel_mask,
        target_mask=target_mask,
        min_tier=min_tier.astype(np.int8),
        from_day=from_day,
        to_day=to_day,
    )


def _ids(kind: np.ndarray, counts: dict[str, int]) -> np.ndarray:
    width = max(5, len(str(max(counts.values()))))
    ids = [f"{KIND_PREFIX[k]}{i + 1:0{width}d}" for k, n in counts.items() for i in range(n)]
    return np.array(ids, dtype=object)


def _titles(
    rng: np.random.Generator,
    kind: np.ndarray,
    category: np.ndarray,
    adj_pick: np.ndarray,
    cost: np.ndarray,
) -> np.ndarray:
    brand = rng.integers(0, len(BRANDS), len(kind))
    noun_pick = rng.integers(0, 7, len(kind))
    discount = rng.choice([10, 15, 20, 25, 30, 40], size=len(kind))
    titles = []
    for i, (k, c) in enumerate(zip(kind.tolist(), category.tolist(), strict=True)):
        cat = CATEGORIES[c]
        adj, noun = cat.adjectives[adj_pick[i] % 6], cat.nouns[noun_pick[i] % len(cat.nouns)]
        if k == 0:
            titles.append(f"{BRANDS[brand[i]]} {adj} {noun}")
        elif k == 1:
            low = noun.lower()
            templates = (
                f"How to choose a {low}",
                f"{cat.name} buying guide",
                f"10 {adj.lower()} {low} ideas",
                f"Caring for your {low}",
            )
            titles.append(templates[noun_pick[i] % 4])
        elif k == 2:
            titles.append(f"{discount[i]}% off {cat.name}")
        else:
            titles.append(f"{BRANDS[brand[i]]} {noun} for {cost[i]:,} points")
    return np.array(titles, dtype=object)


def _tags(
    rng: np.random.Generator, kind: np.ndarray, category: np.ndarray, adj_pick: np.ndarray
) -> np.ndarray:
    generic = rng.integers(0, len(GENERIC_TAGS), len(kind))
    two = rng.random(len(kind)) < 0.5
    out = []
    for i, c in enumerate(category.tolist()):
        tags = [CATEGORIES[c].name.lower(), CATEGORIES[c].adjectives[adj_pick[i]].lower()]
        if two[i]:
            tags.append(GENERIC_TAGS[generic[i]])
        if kind[i] == 2:
            tags.append("promotion")
        out.append(";".join(tags))
    return np.array(out, dtype=object)


def _care_tags(
    tags: np.ndarray, kind: np.ndarray, evergreen: np.ndarray, target_mask: np.ndarray
) -> np.ndarray:
    """Every fourth always-on, untargeted offer is a service-recovery voucher (`recovery`, not
    `promotion`) and every fifth reward a referral reward (`referral`): what the business rules'
    reactions to unhappy and happy customers favour (`rules/default.yaml`). Chosen by
    position, so the random draws of a seed stay as they were."""
    out = tags.copy()
    care = np.flatnonzero((kind == 2) & evergreen & (target_mask == 0))[::4]
    out[care] = [t.replace("promotion", "recovery") for t in out[care]]
    referral = np.flatnonzero(kind == 3)[::5]
    out[referral] = [f"{t};referral" for t in out[referral]]
    return out


def _channel_list(mask: int) -> str:
    if mask == ALL_CHANNELS:
        return ""  # empty = every channel
    return ";".join(c for c in CHANNELS if mask & CHANNEL_BIT[c])


def _segment_list(mask: int) -> str:
    return ";".join(s for i, s in enumerate(SEGMENT_NAMES) if mask & (1 << i))
