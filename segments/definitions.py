"""Rule segments written by marketers in YAML and evaluated over the per-customer table.

    segments:
      - name: vip-at-risk
        description: Big spenders who are slipping away
        rule: monetary >= 500 and rfm_segment in ["At Risk", "Cannot Lose Them"]

Rules use the expression language of `segments.expr` (parsed, never eval'd). Every error
— unreadable YAML, a missing field, a bad name, a syntax error, an unknown column, a type
mismatch — is a `SegmentRuleError` naming the rule and, when it applies, the position.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from segments.errors import SegmentRuleError
from segments.expr import Kind, Node, parse

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$")


@dataclass(frozen=True)
class RuleSegment:
    """One parsed rule segment."""

    name: str
    description: str
    expression: str
    tree: Node


def load_rules(path: Path | str) -> list[RuleSegment]:
    """Read and parse a YAML rules file (a `segments:` list, or a bare list)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SegmentRuleError(str(file), f"cannot read rules file: {exc}") from exc
    return parse_rules(text, source=str(file))


def parse_rules(text: str, *, source: str = "<rules>") -> list[RuleSegment]:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SegmentRuleError(source, f"not valid YAML: {exc}") from exc
    entries = doc.get("segments") if isinstance(doc, dict) else doc
    if not isinstance(entries, list):
        raise SegmentRuleError(source, "expected a list of rules under 'segments:'")
    rules: list[RuleSegment] = []
    seen: set[str] = set()
    for number, entry in enumerate(entries, start=1):
        label = f"{source} #{number}"
        if not isinstance(entry, dict):
            raise SegmentRuleError(label, "each rule must be a mapping with name and rule")
        name, expression = entry.get("name"), entry.get("rule")
        if not isinstance(name, str) or not NAME.match(name):
            raise SegmentRuleError(label, f"name {name!r} must be 1-80 letters, digits, '-' or '_'")
        if name in seen:
            raise SegmentRuleError(name, "duplicate rule name")
        if not isinstance(expression, str):
            raise SegmentRuleError(name, "missing 'rule:' expression (a string)")
        unknown = set(entry) - {"name", "rule", "description"}
        if unknown:
            raise SegmentRuleError(name, f"unknown field(s): {', '.join(sorted(unknown))}")
        seen.add(name)
        description = str(entry.get("description") or "")
        rules.append(RuleSegment(name, description, expression, parse(name, expression)))
    return rules


def evaluate_rules(rules: list[RuleSegment], frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Boolean membership per rule over `frame`'s rows."""
    return {rule.name: evaluate(rule, frame) for rule in rules}


def evaluate(rule: RuleSegment, frame: pd.DataFrame) -> np.ndarray:
    value = _Evaluator(rule, frame).eval(rule.tree)
    if value.kind != "bool":
        raise SegmentRuleError(rule.name, f"the rule is a {value.kind}, not a condition",
                        rule.expression, rule.tree.pos)  # fmt: skip
    return np.broadcast_to(value.data, (len(frame),)).copy()


@dataclass(frozen=True)
class _Value:
    kind: Kind
    data: np.ndarray  # float64 for numbers, object for strings, bool for conditions
    missing: np.ndarray | bool
    label: str  # for messages: "number column 'monetary'", "string 'x'"


class _Evaluator:
    def __init__(self, rule: RuleSegment, frame: pd.DataFrame) -> None:
        self.rule, self.frame = rule, frame

    def fail(self, reason: str, node: Node) -> SegmentRuleError:
        return SegmentRuleError(self.rule.name, reason, self.rule.expression, node.pos)

    def eval(self, node: Node) -> _Value:
        if node.op == "lit":
            return _literal(node.value)
        if node.op == "col":
            return self.column(node)
        if node.op in ("and", "or", "not"):
            parts = [self.condition(arg) for arg in node.args]
            if node.op == "not":
                data = ~parts[0]
            else:
                data = parts[0] & parts[1] if node.op == "and" else parts[0] | parts[1]
            return _Value("bool", data, False, "condition")
        if node.op == "cmp":
            return self.compare(node)
        return self.membership(node)

    def condition(self, node: Node) -> np.ndarray:
        value = self.eval(node)
        if value.kind != "bool":
            raise self.fail(f"expected a condition, got {value.label}", node)
        return np.asarray(value.data, dtype=bool)

    def column(self, node: Node) -> _Value:
        name = str(node.value)
        if name not in self.frame.columns:
            close = difflib.get_close_matches(name, [str(c) for c in self.frame.columns], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise self.fail(f"unknown column {name!r}{hint}", node)
        series = self.frame[name]
        dtype = series.dtype
        if pd.api.types.is_bool_dtype(dtype):
            flags = series.to_numpy(bool, na_value=False)
            return _Value("bool", flags, False, f"bool column {name!r}")
        if pd.api.types.is_numeric_dtype(dtype):
            data = series.to_numpy(np.float64, na_value=np.nan)
            return _Value("number", data, np.isnan(data), f"number column {name!r}")
        if pd.api.types.is_datetime64_any_dtype(dtype):
            raise self.fail(f"column {name!r} holds timestamps; compare a *_days column", node)
        text = series.astype(object)
        missing = text.isna().to_numpy()
        data = text.to_numpy(dtype=object, copy=True)
        data[missing] = ""  # masked out below; keeps comparisons NA-free
        return _Value("string", data, missing, f"string column {name!r}")

    def compare(self, node: Node) -> _Value:
        left, right = self.eval(node.args[0]), self.eval(node.args[1])
        op = str(node.value)
        if left.kind != right.kind:
            raise self.fail(f"cannot compare {left.label} with {right.label}", node)
        if left.kind != "number" and op not in ("==", "!="):
            raise self.fail(f"{op!r} needs numbers, got {left.label}", node)
        with np.errstate(invalid="ignore"):
            a, b = left.data, right.data
            result = {
                "==": lambda: a == b, "!=": lambda: a != b, "<": lambda: a < b,
                "<=": lambda: a <= b, ">": lambda: a > b, ">=": lambda: a >= b,
            }[op]()  # fmt: skip
        data = np.asarray(result, dtype=bool) & ~np.asarray(left.missing | right.missing)
        return _Value("bool", data, False, "condition")

    def membership(self, node: Node) -> _Value:
        left = self.eval(node.args[0])
        options = [self.eval(item) for item in node.args[1].args]
        for item, option in zip(node.args[1].args, options, strict=True):
            if option.kind != left.kind:
                raise self.fail(f"list holds {option.label}, but tests {left.label}", item)
        values = [option.data.item() for option in options]
        hit = pd.Series(np.atleast_1d(left.data)).isin(values).to_numpy()
        if node.op == "notin":
            hit = ~hit
        return _Value("bool", hit & ~np.atleast_1d(left.missing), False, "condition")


def _literal(value: object) -> _Value:
    if isinstance(value, bool):
        return _Value("bool", np.asarray(value), False, f"{str(value).lower()}")
    if isinstance(value, float):
        return _Value("number", np.asarray(value), False, f"number {value:g}")
    return _Value("string", np.asarray(value, dtype=object), False, f"string {value!r}")
