"""Domain errors of customer segmentation; bad input is `contracts.errors.InvalidInput`
itself (the class every package raises), a broken segment definition a `SegmentRuleError`."""

from __future__ import annotations

from contracts.errors import InvalidInput, TouchpointError


class SegmentsError(TouchpointError):
    """Base class of every segmentation error."""


class SegmentRuleError(SegmentsError, InvalidInput):
    """A segment definition (`--segment-definitions FILE`) is invalid: names the segment
    rule, the reason and, when known, the position. Business rules have
    `recsys.business_rules_schema.BusinessRulesError`.

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
