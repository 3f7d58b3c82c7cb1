"""The routes' parameter and field types, built from the declared request rules.

Every value comes from `contracts.requests` (lengths, ranges, patterns, scopes) or
`contracts.schema` (channels, event types, item kinds, surveys): a route never states a rule
of its own, and the fast path checks the same declarations.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import Path, Query
from pydantic import Field, StringConstraints

from contracts.requests import (
    EXCLUDE_MAX,
    EXCLUDED_MAX,
    FILTER_MAX,
    ID_MAX,
    ID_PATTERN,
    K_MAX,
    K_MIN,
    OPTIONAL_ID_PATTERN,
    SLOT_K_MAX,
    SLOT_NAME_MAX,
    SLOT_NAME_PATTERN,
    TOUCHPOINT_MAX,
)
from contracts.schema import CHANNELS, EVENT_TYPES, ITEM_KINDS, SURVEYS

# Literal types from the contract's tuples: pydantic checks membership, OpenAPI lists them.
Channel = Literal[CHANNELS]  # type: ignore[valid-type]
EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]
ItemKind = Literal[ITEM_KINDS]  # type: ignore[valid-type]
Survey = Literal[SURVEYS]  # type: ignore[valid-type]

# In a JSON body
Id = Annotated[str, StringConstraints(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN)]
OptionalId = Annotated[str, StringConstraints(max_length=ID_MAX, pattern=OPTIONAL_ID_PATTERN)]
Filter = Annotated[str, Field(max_length=FILTER_MAX)]
Excluded = Annotated[list[Filter], Field(max_length=EXCLUDED_MAX)]
SlotName = Annotated[str, Field(min_length=1, max_length=SLOT_NAME_MAX, pattern=SLOT_NAME_PATTERN)]
SlotK = Annotated[int, Field(ge=K_MIN, le=SLOT_K_MAX)]
Touchpoint = Annotated[str, StringConstraints(max_length=TOUCHPOINT_MAX)]

# In a path or a query string
CustomerIdPath = Annotated[str, Path(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN)]
ItemIdPath = Annotated[str, Path(min_length=1, max_length=ID_MAX)]  # unknown ones: 404
K = Annotated[int, Query(ge=K_MIN, le=K_MAX)]
FilterQuery = Annotated[str | None, Query(max_length=FILTER_MAX)]
ContextItemQuery = Annotated[
    str | None, Query(max_length=FILTER_MAX, description="the item being looked at")
]
ExcludeQuery = Annotated[
    str | None, Query(max_length=EXCLUDE_MAX, description="comma-separated ids")
]

MAX_FUTURE = timedelta(days=1)  # clock skew tolerated on client timestamps
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_timestamp(value: object) -> datetime:
    """An ISO 8601 string (naive = UTC) between 1970 and one day from now."""
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 string")
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError("not an ISO 8601 timestamp") from None
    ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    if ts < EPOCH or ts > datetime.now(UTC) + MAX_FUTURE:
        raise ValueError("must be between 1970 and one day from now")
    return ts


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
