"""Column names, enums and defaults of the four tables (customers, items, events, feedback).

Plain Python only: the API imports this module for validation, so no pandas here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal

EVENT_TYPES: Final = (
    "view",
    "click",
    "add_to_cart",
    "purchase",
    "redeem",
    "dismiss",
    "impression",
    "rate",
)
ITEM_KINDS: Final = ("product", "content", "offer", "reward")
CHANNELS: Final = ("web", "app", "email", "push", "store", "call_centre")
SURVEYS: Final = ("nps", "csat", "ces")
SURVEY_RANGES: Final = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
NPS_BANDS: Final = {"detractor": (0, 6), "passive": (7, 8), "promoter": (9, 10)}  # inclusive
# Per survey, (unhappy band, happy band), inclusive; high = good on every scale: CES 7 is
# "very easy" (1-3 hard: high effort; 5-7 easy). Every reader of scores uses these.
SURVEY_BANDS: Final = {
    "nps": (NPS_BANDS["detractor"], NPS_BANDS["promoter"]),
    "csat": ((1, 2), (4, 5)),
    "ces": ((1, 3), (5, 7)),
}
RATING_RANGE: Final = (0.0, 10.0)  # the `value` of a `rate` event: any star scale up to ten
LOYALTY_TIERS: Final = ("none", "bronze", "silver", "gold", "platinum")
# How strongly each event type says a customer likes the item (batch matrix and live fold-in).
EVENT_WEIGHTS: Final[Mapping[str, float]] = MappingProxyType(
    {
        "impression": 0.0,
        "view": 1.0,
        "click": 2.0,
        "add_to_cart": 4.0,
        "purchase": 8.0,
        "redeem": 8.0,
        "dismiss": 0.0,
        "rate": 8.0,  # a rating read as an interaction is as strong as a purchase
    }
)
# Event types that count as a conversion (attribution to a recommendation, A/B experiments).
CONVERSION_TYPES: Final = frozenset({"click", "add_to_cart", "purchase", "redeem"})

ColumnType = Literal["id", "str", "category", "int", "float", "bool", "timestamp", "list"]


@dataclass(frozen=True)
class Column:
    """One column of a table: its logical type, whether it is required, and its default."""

    name: str
    type: ColumnType
    required: bool = False
    default: object = None
    allowed: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Table:
    """A table of the data directory: `<name>.csv` or `<name>.parquet`."""

    name: str
    key: str | None
    columns: tuple[Column, ...]
    description: str = ""
    required_columns: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "required_columns", tuple(c.name for c in self.columns if c.required)
        )

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


CUSTOMERS = Table(
    name="customers",
    key="customer_id",
    description="One row per customer; extra columns are kept as attributes.",
    columns=(
        Column("customer_id", "id", required=True),
        Column("created_at", "timestamp"),
        Column("country", "category", default=""),
        Column("birth_year", "int"),
        Column("gender", "category", default=""),
        Column("loyalty_tier", "category", default="none", allowed=LOYALTY_TIERS),
        Column("points_balance", "int", default=0),
        Column("consent_email", "bool", default=False),
        Column("consent_push", "bool", default=False),
        Column("consent_sms", "bool", default=False),
    ),
)

ITEMS = Table(
    name="items",
    key="item_id",
    description="The catalogue: products, content, offers and rewards.",
    columns=(
        Column("item_id", "id", required=True),
        Column("kind", "category", default="product", allowed=ITEM_KINDS),
        Column("title", "str", default=""),
        Column("category", "category", default=""),
        Column("price", "float", default=0.0),
        Column("margin", "float", default=0.0),
        Column("tags", "list", default=""),
        Column("channels", "list", default=""),
        Column("active_from", "timestamp"),
        Column("active_to", "timestamp"),
        Column("in_stock", "bool", default=True),
        Column("target_segments", "list", default=""),
        Column("min_tier", "category", default="none", allowed=LOYALTY_TIERS),
        Column("points_cost", "int", default=0),
        Column("budget", "int", default=-1),
    ),
)

EVENTS = Table(
    name="events",
    key="event_id",
    description="Interactions; only ids, type and timestamp are required.",
    columns=(
        Column("event_id", "id", required=True),
        Column("customer_id", "id", required=True),
        Column("item_id", "id", required=True),
        Column("type", "category", required=True, allowed=EVENT_TYPES),
        Column("channel", "category", default="web", allowed=CHANNELS),
        Column("timestamp", "timestamp", required=True),
        Column("order_id", "str", default=""),
        Column("quantity", "int", default=1),
        Column("value", "float", default=0.0),
        Column("recommendation_id", "str", default=""),
        # "" = derived from (channel, type) by the journey map (`insights.journey`)
        Column("touchpoint", "str", default=""),
    ),
)

FEEDBACK = Table(
    name="feedback",
    key="response_id",
    description="Survey responses: NPS 0-10, CSAT 1-5, CES 1-7.",
    columns=(
        Column("response_id", "id", required=True),
        Column("customer_id", "id", required=True),
        Column("survey", "category", required=True, allowed=SURVEYS),
        Column("score", "int", required=True),
        Column("comment", "str", default=""),
        Column("channel", "category", default="web", allowed=CHANNELS),
        Column("touchpoint", "str", default=""),
        Column("timestamp", "timestamp", required=True),
    ),
)

TABLES: Final = {t.name: t for t in (CUSTOMERS, ITEMS, EVENTS, FEEDBACK)}

# Written by `touchpoint ingest` only (never an input): one row per change of a follow-up
# case (`store.cases`), so the newest `version` of a `case_id` is its state.
CASE_STATUSES: Final = ("open", "contacted", "resolved", "closed_no_action")
CASES = Table(
    name="cases",
    key="record_id",
    description="Follow-up case changes, drained from the API's cases stream.",
    columns=(
        Column("record_id", "id", required=True),  # the case event's id
        Column("kind", "category", default=""),  # case.opened, case.joined, case.updated...
        Column("case_id", "id", required=True),
        Column("version", "int", default=1),
        Column("status", "category", default="open", allowed=CASE_STATUSES),
        Column("customer_id", "id", required=True),
        Column("survey", "category", default="", allowed=SURVEYS),
        Column("score", "int", default=0),
        Column("comment", "str", default=""),
        Column("touchpoint", "str", default=""),
        Column("channel", "category", default=""),
        Column("response_id", "str", default=""),
        Column("answers", "int", default=1),
        Column("trigger", "category", default="score"),
        Column("severity", "int", default=1),
        Column("value", "float", default=1.0),
        Column("priority", "category", default=""),
        Column("priority_score", "float", default=0.0),
        Column("queue", "category", default=""),
        Column("assignee", "str", default=""),
        Column("created_at", "timestamp"),
        Column("due_at", "timestamp"),
        Column("contacted_at", "timestamp"),
        Column("resolved_at", "timestamp"),
        Column("closed_at", "timestamp"),
        Column("updated_at", "timestamp"),
    ),
)

# Written by Touchpoint itself, not an input: `touchpoint ingest` drains the audit trail
# (`store.audit`) to `DATA/audit/*.parquet`. Not in `TABLES` (no loader reads it).
AUDIT = Table(
    name="audit",
    key="audit_id",
    description="Who changed what, when, and the outcome (API keys, experiments, models, rules).",
    columns=(
        Column("audit_id", "id", required=True),
        Column("at", "timestamp", required=True),
        Column("who", "str", required=True),
        Column("action", "str", required=True),
        Column("target", "str", default=""),
        Column("outcome", "str", required=True),
        Column("detail", "str", default=""),
    ),
)

# The consents a customer gives or withdraws live (`PUT /v1/customers/{id}/consent`): the
# three marketing channels (the customers table's `consent_<channel>` are their batch
# defaults), `personalisation` (false: non-personal answers, events left out of training)
# and `analytics` (false: events and answers left out of insights).
CONSENT_PURPOSES: Final = ("email", "push", "sms", "personalisation", "analytics")

# Written by `touchpoint ingest` only: one row per consent change (`store.consent`); the
# newest `changed_at` of a customer is their consent (a purpose left empty: not given live).
CONSENT = Table(
    name="consent",
    key="change_id",
    description="Consent changes, drained from the API's consent stream.",
    columns=(
        Column("change_id", "id", required=True),
        Column("customer_id", "id", required=True),
        Column("changed_at", "timestamp", required=True),
        *(Column(purpose, "str", default="") for purpose in CONSENT_PURPOSES),  # "true"/"false"/""
        Column("who", "str", default=""),
    ),
)

# Written by `touchpoint ingest` only: one row per identity merge (`store.identity`): from
# then on the batch reads `anonymous_id`'s events and answers as `customer_id`'s.
IDENTITIES = Table(
    name="identities",
    key="merge_id",
    description="Visitor ids merged into customers, drained from the API's identities stream.",
    columns=(
        Column("merge_id", "id", required=True),
        Column("anonymous_id", "id", required=True),
        Column("customer_id", "id", required=True),
        Column("merged_at", "timestamp", required=True),
    ),
)

# The streams `touchpoint ingest` drains, and the table each lands in.
INTAKE_TABLES: Final = {"events": EVENTS, "feedback": FEEDBACK, "cases": CASES, "audit": AUDIT,
                        "consent": CONSENT, "identities": IDENTITIES}  # fmt: skip
