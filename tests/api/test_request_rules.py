"""Every request rule, at its edges, through both paths: the fast path (`api.fastpath`) and
the declared FastAPI route accept and refuse the same inputs, with the same answer.

The rules are enumerated per parameter of `GET /v1/customers/{id}/recommendations` and per
field of the `POST /v1/personalize` body, and the enumeration is checked against what the
declared route and model have: a parameter added without rules here fails the suite. The
edges come from the declarations (`contracts.requests`, `contracts.schema`), never restated.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from fastapi import params
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute

from api.routes import recommendations
from api.routes.personalize import PersonalizeRequest, Slot, SlotFilters
from api.services.session import FRESH_WEIGHTS
from contracts.requests import (
    EXCLUDE_MAX,
    EXCLUDED_MAX,
    FILTER_MAX,
    ID_MAX,
    K_MAX,
    K_MIN,
    SLOT_K_MAX,
    SLOT_NAME_MAX,
    SLOTS_MAX,
)
from contracts.schema import CHANNELS, CONVERSION_TYPES, EVENT_TYPES, EVENT_WEIGHTS, ITEM_KINDS
from recsys.matrix import WeightConfig

# Characters an id may not hold (Redis hash tags, whitespace, controls) and some it may.
BAD_ID_CHARS = ["{", "}", " ", "\t", "\n", "\x00", "\x1c", "\x1f", "\x7f", "\x85", "\xa0",
                "\u2028", "\u3000"]  # fmt: skip
GOOD_IDS = ["x" * ID_MAX, "c-1_2.3:4@5", "é", "ü\u200b", "a%b", "+1"]

# (value, accepted) per parameter; None = the parameter left out
GET_RULES: dict[str, list[tuple[str | None, bool]]] = {
    "customer_id": [(i, True) for i in GOOD_IDS]
    + [("x" * (ID_MAX + 1), False)]
    + [(f"c{ch}1", False) for ch in BAD_ID_CHARS],
    "channel": [(c, True) for c in CHANNELS]
    + [(None, True), ("", False), ("fax", False), (CHANNELS[0].upper(), False)],
    "k": [
        (None, True),
        (str(K_MIN), True),
        (str(K_MAX), True),
        ("+2", True),
        (" 3", True),
        (str(K_MIN - 1), False),
        (str(K_MAX + 1), False),
        ("-1", False),
        ("", False),
        ("abc", False),
        ("2.5", False),
        ("1e1", False),
        ("٣", False),
    ],
    "category": [("x" * FILTER_MAX, True), ("", True), ("x" * (FILTER_MAX + 1), False)],
    "context_item": [("x" * FILTER_MAX, True), ("p2", True), ("x" * (FILTER_MAX + 1), False)],
    "exclude": [
        ("x" * EXCLUDE_MAX, True),
        ("p1,,p2", True),
        ("", True),
        ("x" * (EXCLUDE_MAX + 1), False),
    ],
}

PAGE: dict[str, Any] = {"customer_id": "c1", "channel": "web", "slots": [{"name": "hero"}]}


def _slot(**fields: Any) -> dict[str, Any]:
    return {**PAGE, "slots": [{"name": "hero", **fields}]}


def _filters(**fields: Any) -> dict[str, Any]:
    return _slot(filters=fields)


# (page, accepted) per field of the body, by its dotted path
POST_RULES: dict[str, list[tuple[Any, bool]]] = {
    "customer_id": [({**PAGE, "customer_id": i}, True) for i in GOOD_IDS]
    + [({**PAGE, "customer_id": "x" * (ID_MAX + 1)}, False), ({**PAGE, "customer_id": ""}, False)]
    + [({**PAGE, "customer_id": f"c{ch}1"}, False) for ch in BAD_ID_CHARS],
    "channel": [({**PAGE, "channel": c}, True) for c in (*CHANNELS, None)]
    + [({**PAGE, "channel": "fax"}, False), ({**PAGE, "channel": ""}, False)],
    "slots": [
        ({**PAGE, "slots": [{"name": f"s{i}"} for i in range(SLOTS_MAX)]}, True),
        ({**PAGE, "slots": [{"name": f"s{i}"} for i in range(SLOTS_MAX + 1)]}, False),
        ({**PAGE, "slots": []}, False),
        ({**PAGE, "slots": [{"name": "a"}] * 2}, False),
        ({**PAGE, "slots": None}, False),
    ],
    "slots.name": [
        (_slot(name="a-B_9"), True),
        (_slot(name="x" * SLOT_NAME_MAX), True),
        (_slot(name="x" * (SLOT_NAME_MAX + 1)), False),
        (_slot(name=""), False),
        (_slot(name="a b"), False),
        (_slot(name="a.b"), False),
    ],
    "slots.kind": [(_slot(kind=kind), True) for kind in ITEM_KINDS]
    + [(_slot(kind="coupon"), False)],
    "slots.k": [
        (_slot(k=K_MIN), True),
        (_slot(k=SLOT_K_MAX), True),
        (_slot(k="3"), True),
        (_slot(k=K_MIN - 1), False),
        (_slot(k=SLOT_K_MAX + 1), False),
        (_slot(k=2.5), False),
        (_slot(k="x"), False),
    ],
    "slots.filters": [
        (_filters(), True),
        (_slot(filters=None), False),
        (_filters(surprise=1), False),
    ],
    "slots.filters.category": [
        (_filters(category="x" * FILTER_MAX), True),
        (_filters(category="x" * (FILTER_MAX + 1)), False),
    ],
    "slots.filters.exclude": [
        (_filters(exclude=["x" * FILTER_MAX] * EXCLUDED_MAX), True),
        (_filters(exclude=["p"] * (EXCLUDED_MAX + 1)), False),
        (_filters(exclude=["x" * (FILTER_MAX + 1)]), False),
        (_filters(exclude="p1"), False),
    ],
    "slots.filters.context_item": [
        (_filters(context_item="p2"), True),
        (_filters(context_item="x" * (FILTER_MAX + 1)), False),
    ],
}


def test_every_recommendations_parameter_has_its_rules_enumerated():
    path = "/v1/customers/{customer_id}/recommendations"
    (route,) = [r for r in recommendations.router.routes
                if isinstance(r, APIRoute) and r.path == path]  # fmt: skip
    declared = {
        p.name
        for p in get_flat_params(route.dependant)
        if isinstance(p.field_info, (params.Path, params.Query))
    }
    assert declared == set(GET_RULES)


def test_every_personalize_field_has_its_rules_enumerated():
    fields = {*PersonalizeRequest.model_fields}
    fields |= {f"slots.{name}" for name in Slot.model_fields}
    fields |= {f"slots.filters.{name}" for name in SlotFilters.model_fields}
    assert fields == set(POST_RULES)


def _same(a, b) -> None:
    assert a.status_code == b.status_code
    assert a.headers["content-type"] == b.headers["content-type"]
    a_body, b_body = a.json(), b.json()
    if a.status_code == 200:
        assert a_body.pop("recommendation_id") != b_body.pop("recommendation_id")
    assert a_body == b_body


@pytest.mark.parametrize("parameter", list(GET_RULES))
def test_recommendations_paths_accept_and_refuse_alike(clients, answered, parameter):
    fast, declared = clients
    for n, (value, accepted) in enumerate(GET_RULES[parameter]):
        customer = value if parameter == "customer_id" else f"visitor-{n}"
        params = {} if parameter == "customer_id" or value is None else {parameter: value}
        path = f"/v1/customers/{quote(customer or '', safe='')}/recommendations"
        before = len(answered)
        a = fast.get(path, params=params)
        assert (len(answered) > before) is accepted, (parameter, value)
        b = declared.get(path, params=params)
        assert (a.status_code == 200) is accepted, (parameter, value, a.text)
        _same(a, b)
        assert len(answered) == before + accepted  # the declared route answered its own


@pytest.mark.parametrize("field", list(POST_RULES))
def test_personalize_paths_accept_and_refuse_alike(clients, answered, field):
    fast, declared = clients
    for page, accepted in POST_RULES[field]:
        before = len(answered)
        a = fast.post("/v1/personalize", json=page)
        assert (len(answered) > before) is accepted, (field, page)
        b = declared.post("/v1/personalize", json=page)
        assert (a.status_code == 200) is accepted, (field, a.text)
        _same(a, b)
        assert len(answered) == before + accepted


def test_event_weights_cover_every_event_type_and_the_live_ones_derive_from_them():
    assert set(EVENT_WEIGHTS) == set(EVENT_TYPES)
    assert WeightConfig().weights == dict(EVENT_WEIGHTS)  # the batch's defaults
    # the live fold-in: the positive weights but a rating's, the values served before
    assert FRESH_WEIGHTS == {"view": 1.0, "click": 2.0, "add_to_cart": 4.0, "purchase": 8.0,
                             "redeem": 8.0}  # fmt: skip


def test_conversion_types_are_event_types():
    assert set(EVENT_TYPES) >= CONVERSION_TYPES
