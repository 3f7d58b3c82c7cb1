"""The segment rule language (`segments.expr`) compiled to Spark SQL column expressions.

The same AST and the same semantics as `segments.definitions.evaluate`: types are checked
against the DataFrame's schema with the same messages, and a comparison that involves a
missing value (null, or NaN in a double column) is false, never null — SQL's three-valued
logic is folded to two values at every comparison, exactly as the pandas engine masks.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segments.definitions import RuleSegment
from segments.errors import SegmentRuleError
from segments.expr import Kind, Node

NUMBER_TYPES = (
    T.ByteType,
    T.ShortType,
    T.IntegerType,
    T.LongType,
    T.FloatType,
    T.DoubleType,
    T.DecimalType,
)


@dataclass(frozen=True)
class _Value:
    kind: Kind
    column: Column
    label: str
    literal: object = None  # the Python value of a literal (for `in` lists)


def compile_rule(rule: RuleSegment, frame: DataFrame) -> Column:
    """A boolean Column, never null, that holds where `rule` holds on `frame`'s rows."""
    value = _Compiler(rule, frame).compile(rule.tree)
    if value.kind != "bool":
        raise SegmentRuleError(
            rule.name,
            f"the rule is a {value.kind}, not a condition",
            rule.expression,
            rule.tree.pos,
        )
    return F.coalesce(value.column, F.lit(False))


def column(name: str) -> Column:
    """A column by its name as written (dotted names like `channel_share.app` included)."""
    return F.col(f"`{name}`")


class _Compiler:
    def __init__(self, rule: RuleSegment, frame: DataFrame) -> None:
        self.rule = rule
        self.types = {f.name: f.dataType for f in frame.schema.fields}

    def fail(self, reason: str, node: Node) -> SegmentRuleError:
        return SegmentRuleError(self.rule.name, reason, self.rule.expression, node.pos)

    def compile(self, node: Node) -> _Value:
        if node.op == "lit":
            return _literal(node.value)
        if node.op == "col":
            return self.column(node)
        if node.op in ("and", "or", "not"):
            parts = [self.condition(arg) for arg in node.args]
            if node.op == "not":
                out = ~parts[0]
            else:
                out = parts[0] & parts[1] if node.op == "and" else parts[0] | parts[1]
            return _Value("bool", out, "condition")
        if node.op == "cmp":
            return self.compare(node)
        return self.membership(node)

    def condition(self, node: Node) -> Column:
        value = self.compile(node)
        if value.kind != "bool":
            raise self.fail(f"expected a condition, got {value.label}", node)
        return F.coalesce(value.column, F.lit(False))

    def column(self, node: Node) -> _Value:
        name = str(node.value)
        if name not in self.types:
            close = difflib.get_close_matches(name, list(self.types), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise self.fail(f"unknown column {name!r}{hint}", node)
        kind = self.types[name]
        if isinstance(kind, T.BooleanType):
            return _Value("bool", F.coalesce(column(name), F.lit(False)), f"bool column {name!r}")
        if isinstance(kind, NUMBER_TYPES):
            data = column(name).cast("double")
            # NaN counts as missing, as in pandas (Spark would call NaN greater than anything)
            data = F.when(F.isnan(data), F.lit(None).cast("double")).otherwise(data)
            return _Value("number", data, f"number column {name!r}")
        if isinstance(kind, T.TimestampType | T.TimestampNTZType | T.DateType):
            raise self.fail(f"column {name!r} holds timestamps; compare a *_days column", node)
        return _Value("string", column(name).cast("string"), f"string column {name!r}")

    def compare(self, node: Node) -> _Value:
        left, right = self.compile(node.args[0]), self.compile(node.args[1])
        op = str(node.value)
        if left.kind != right.kind:
            raise self.fail(f"cannot compare {left.label} with {right.label}", node)
        if left.kind != "number" and op not in ("==", "!="):
            raise self.fail(f"{op!r} needs numbers, got {left.label}", node)
        a, b = left.column, right.column
        result = {
            "==": lambda: a == b,
            "!=": lambda: a != b,
            "<": lambda: a < b,
            "<=": lambda: a <= b,
            ">": lambda: a > b,
            ">=": lambda: a >= b,
        }[op]()
        return _Value("bool", F.coalesce(result, F.lit(False)), "condition")

    def membership(self, node: Node) -> _Value:
        left = self.compile(node.args[0])
        options = [self.compile(item) for item in node.args[1].args]
        for item, option in zip(node.args[1].args, options, strict=True):
            if option.kind != left.kind:
                raise self.fail(f"list holds {option.label}, but tests {left.label}", item)
        values = [option.literal for option in options]
        hit = left.column.isin(values) if values else F.lit(False)
        if node.op == "notin":
            hit = ~hit
        # a missing left side is in no list and "not in" none either
        return _Value("bool", F.coalesce(hit & left.column.isNotNull(), F.lit(False)), "condition")


def _literal(value: object) -> _Value:
    if isinstance(value, bool):
        return _Value("bool", F.lit(value), f"{str(value).lower()}", value)
    if isinstance(value, float):
        return _Value("number", F.lit(value).cast("double"), f"number {value:g}", value)
    return _Value("string", F.lit(value), f"string {value!r}", value)
