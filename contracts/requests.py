"""Request-level rules of the HTTP API, declared once: ids, ranges, lengths, names, scopes.

Plain values, no pydantic: `api.fields` builds the routes' pydantic/FastAPI types from them,
and the fast path (`api.fastpath`) checks the same values by hand, so the two cannot drift
(`tests/api/test_request_rules.py` runs both on every rule's edges).
"""

from __future__ import annotations

from typing import Final

# The names a request may use (channels, event types, item kinds, surveys) are the data
# contract's: `contracts.schema`.

# Ids end up inside Redis keys and Parquet files: no braces (a Redis Cluster hash tag),
# no whitespace and no control characters.
ID_PATTERN: Final = r"^[^{}\s\x00-\x1f\x7f]+$"
OPTIONAL_ID_PATTERN: Final = r"^[^{}\s\x00-\x1f\x7f]*$"  # the same, or empty
ID_MAX: Final = 128  # characters, for every id (customer, item, event, order, response)

# How many items one list asks for (`k`): per list route, and per slot of a page.
K_MIN: Final = 1
K_MAX: Final = 100
SLOT_K_MAX: Final = 50
SLOTS_MAX: Final = 10  # slots of one `POST /v1/personalize` page
SLOT_NAME_PATTERN: Final = r"^[A-Za-z0-9_\-]+$"
SLOT_NAME_MAX: Final = 64

# Filters: a category or context item is one name; `exclude` is a comma-separated query
# parameter of ids (a list of at most `EXCLUDED_MAX` ids in a page's slot filters).
FILTER_MAX: Final = 128
EXCLUDE_MAX: Final = 4096
EXCLUDED_MAX: Final = 500

BATCH_MAX: Final = 1000  # events or survey responses in one POST
QUERY_MAX: Final = 8192  # bytes of a whole query string (longer: 414)
PAGE_MAX: Final = 10_000  # entries of one page (segment members, audit entries)
COMMENT_MAX: Final = 2000  # characters of a survey comment
TOUCHPOINT_MAX: Final = 128  # characters of a survey's touchpoint name
SENTIMENT_TEXTS_MAX: Final = 1000  # texts one `POST /v1/insights/sentiment` scores
SENTIMENT_TEXT_MAX: Final = 10_000  # characters of one of them

# API-key scopes: each route group is served to keys holding its scope (or `admin`).
SCOPE_PERSONALIZE: Final = "personalize:read"
SCOPE_EVENTS: Final = "events:write"
SCOPE_SEGMENTS: Final = "segments:read"
SCOPE_EXPERIMENTS: Final = "experiments:admin"
SCOPE_CASES: Final = "cases:write"  # follow-up cases: list, read, work (reading needs it too)
SCOPE_INSIGHTS: Final = "insights:read"
SCOPE_DASHBOARD: Final = "dashboard"  # the /ui pages (admin keys may open them too)
SCOPE_ADMIN: Final = "admin"
SCOPE_PRIVACY: Final = "privacy:write"  # erase a customer, export everything about them
SCOPES: Final = (
    SCOPE_PERSONALIZE,
    SCOPE_EVENTS,
    SCOPE_SEGMENTS,
    SCOPE_EXPERIMENTS,
    SCOPE_CASES,
    SCOPE_INSIGHTS,
    SCOPE_DASHBOARD,
    SCOPE_ADMIN,
    SCOPE_PRIVACY,
)
