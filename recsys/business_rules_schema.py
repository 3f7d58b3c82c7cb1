"""The shape of a rules file and a small validator that names the file, key path and reason.

A spec is a dict (known keys, each with its own spec), `("dict_of", spec)` (any key),
`("list_of", spec)`, or a leaf type name; a trailing `!` marks a required key.
"""

from __future__ import annotations

from typing import Any

from contracts.errors import InvalidInput
from contracts.schema import EVENT_TYPES, ITEM_KINDS, NPS_BANDS
from recsys.errors import RecsysError

_WINDOW = {"max": "posint!", "days": "posint!"}
SCHEMA: dict[str, Any] = {
    "eligibility": {
        "in_stock": "bool",
        "active_window": "bool",
        "target_segments": "bool",
        "min_tier": "bool",
        "consent": "bool",
    },
    "consumption": {
        "events": ("list_of", "event"),
        "kinds": ("dict_of", ("list_of", "event")),
        "repeatable": {"kinds": ("list_of", "kind"), "categories": ("list_of", "str")},
    },
    "exclusions": {
        "consumed": "bool",
        "purchased": "bool",  # the old name of `consumed`, still read (with a warning)
        "dismissed": "bool",
        "shown": {"times": "posint!", "days": "posint!"},
    },
    "caps": {"per_item": _WINDOW, "per_channel": ("dict_of", _WINDOW)},
    "diversity": {"max_per_category": "posint"},
    "boosts": (
        "list_of",
        {"factor": "posnum!", "category": "str", "tag": "str", "kind": "str", "item_id": "str"},
    ),
    "pins": ("list_of", {"item_id": "str!", "position": "posint!"}),
    "reactions": (  # conditions on feedback and open cases (`recsys.reactions`)
        "list_of",
        {
            "when": {"open_case": "bool", "nps": "nps_band", "within_days": "posint"},
            "boost": {
                "factor": "posnum!",
                "category": "str",
                "tag": "str",
                "kind": "kind",
                "item_id": "str",
            },
            "suppress": {
                "tags": ("list_of", "str"),
                "kinds": ("list_of", "kind"),
                "channels": ("list_of", "str"),
            },
            "reason": "str",
        },
    ),
}


class BusinessRulesError(RecsysError, InvalidInput):
    """A business rules file (`TOUCHPOINT_RULES_DIR`) is invalid: which file, which key, why.
    Segment definitions have `segments.errors.SegmentRuleError`."""

    def __init__(self, file: str, path: str, reason: str) -> None:
        self.file, self.path, self.reason = file, path, reason
        where = f"{file}: {path}" if path else file
        super().__init__(f"{where}: {reason}")


def _leaf(value: Any, kind: str) -> str | None:
    """None if `value` is a valid `kind`, else the reason."""
    if kind == "bool":
        return None if isinstance(value, bool) else f"must be true or false, got {value!r}"
    if kind == "str":
        return (
            None
            if isinstance(value, str) and value
            else f"must be a non-empty string, got {value!r}"
        )
    if kind == "posint":
        ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
        return None if ok else f"must be a positive integer, got {value!r}"
    if kind == "posnum":
        ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
        return None if ok else f"must be a positive number, got {value!r}"
    if kind == "nps_band":
        return (
            None if value in NPS_BANDS else f"must be one of {', '.join(NPS_BANDS)}, got {value!r}"
        )
    if kind in ("event", "kind"):
        allowed = EVENT_TYPES if kind == "event" else ITEM_KINDS
        return None if value in allowed else f"must be one of {', '.join(allowed)}, got {value!r}"
    raise AssertionError(f"unknown spec {kind}")


def validate(value: Any, spec: Any, file: str, path: str = "") -> None:
    """Raise `BusinessRulesError` at the first value not matching `spec`."""

    def sub(key: str | int) -> str:
        if isinstance(key, int):
            return f"{path}[{key}]"
        return f"{path}.{key}" if path else key

    if isinstance(spec, str):
        reason = _leaf(value, spec.rstrip("!"))
        if reason:
            raise BusinessRulesError(file, path, reason)
        return
    if isinstance(spec, tuple):
        form, inner = spec
        if form == "list_of":
            if not isinstance(value, list):
                raise BusinessRulesError(file, path, f"must be a list, got {type(value).__name__}")
            for i, element in enumerate(value):
                validate(element, inner, file, sub(i))
        else:
            if not isinstance(value, dict):
                raise BusinessRulesError(
                    file, path, f"must be a mapping, got {type(value).__name__}"
                )
            for key, element in value.items():
                validate(element, inner, file, sub(str(key)))
        return
    if not isinstance(value, dict):
        raise BusinessRulesError(file, path, f"must be a mapping, got {type(value).__name__}")
    for key in value:
        if key not in spec:
            raise BusinessRulesError(
                file, sub(str(key)), f"unknown key; expected one of {', '.join(spec)}"
            )
    for key, inner in spec.items():
        if key in value:
            validate(value[key], inner, file, sub(key))
        elif isinstance(inner, str) and inner.endswith("!"):
            raise BusinessRulesError(file, sub(key), "is required")
