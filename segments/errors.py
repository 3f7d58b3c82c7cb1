"""Domain errors of customer segmentation; each class names what went wrong."""

from __future__ import annotations


class SegmentsError(Exception):
    """Base class of every segmentation error."""


class InvalidInputError(SegmentsError, ValueError):
    """An input table or parameter is malformed (missing column, bad date, bad value)."""


class RuleError(SegmentsError, ValueError):
    """A rule segment is invalid: names the rule, the reason and, when known, the position.

    `position` is the 0-based character offset in `expression`; `str()` shows the
    expression with a caret under the offending spot so a marketer can see what to fix.
    """

    def __init__(
        self, rule: str, reason: str, expression: str = "", position: int | None = None
    ) -> None:
        self.rule = rule
        self.reason = reason
        self.expression = expression
        self.position = position
        where = f" at position {position}" if position is not None else ""
        message = f"rule {rule!r}: {reason}{where}"
        if expression and position is not None:
            message += f"\n  {expression}\n  {' ' * position}^"
        super().__init__(message)
