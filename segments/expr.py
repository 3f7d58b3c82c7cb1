"""A small, safe expression language for rule segments, evaluated column-wise over a DataFrame.

    monetary >= 500 and channel_share.app > 0.5 and rfm_segment in ["At Risk", "Lost"]

Grammar (no eval/exec: a hand-written tokenizer and recursive-descent parser):

    expr       := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := operand [(== | != | < | <= | > | >=) operand | ["not"] "in" list]
    operand    := number | string | true | false | column | "(" expr ")"
    list       := "[" [literal ("," literal)*] "]"

Columns are names like `monetary` or dotted names like `channel_share.app`. Types are
number, string and bool; comparing different types is an error, strings support only
== and !=. A comparison involving a missing value (NaN, NA) is false, as in SQL.
Errors are `SegmentRuleError`s with the rule name and the character position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from segments.errors import SegmentRuleError

Kind = Literal["number", "string", "bool"]
TOKEN = re.compile(
    r"""\s*(?:
      (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
    | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
    | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,)
    )""",
    re.VERBOSE,
)
KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false"})
COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})


@dataclass(frozen=True)
class Token:
    kind: str  # number | string | name | keyword | op | end
    text: str
    pos: int


@dataclass(frozen=True)
class Node:
    """One AST node: op is and/or/not/cmp/in/notin/col/lit; `args` children; `value` payload."""

    op: str
    pos: int
    args: tuple[Node, ...] = ()
    value: object = None


def tokenize(rule: str, text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = TOKEN.match(text, pos)
        if match is None or match.lastgroup is None:
            at = len(text) - len(text[pos:].lstrip())
            raise SegmentRuleError(rule, f"unexpected character {text[at]!r}", text, at)
        group = match.lastgroup
        word = match.group(group)
        kind = "keyword" if group == "name" and word in KEYWORDS else group
        tokens.append(Token(kind, word, match.start(group)))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


class Parser:
    """Recursive descent over the token list; one instance parses one rule."""

    def __init__(self, rule: str, text: str) -> None:
        self.rule, self.text = rule, text
        self.tokens = tokenize(rule, text)
        self.i = 0

    def parse(self) -> Node:
        if self.peek.kind == "end":
            raise self.error("empty rule", self.peek)
        node = self.expr()
        if self.peek.kind != "end":
            raise self.error(f"unexpected {self.peek.text!r}", self.peek)
        return node

    @property
    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def error(self, reason: str, token: Token) -> SegmentRuleError:
        return SegmentRuleError(self.rule, reason, self.text, token.pos)

    def accept(self, text: str) -> Token | None:
        if self.peek.text == text and self.peek.kind in ("keyword", "op"):
            return self.take()
        return None

    def expect(self, text: str, what: str) -> Token:
        token = self.accept(text)
        if token is None:
            found = self.peek.text or "end of rule"
            raise self.error(f"expected {what}, found {found!r}", self.peek)
        return token

    def expr(self) -> Node:
        node = self.and_expr()
        while (token := self.accept("or")) is not None:
            node = Node("or", token.pos, (node, self.and_expr()))
        return node

    def and_expr(self) -> Node:
        node = self.not_expr()
        while (token := self.accept("and")) is not None:
            node = Node("and", token.pos, (node, self.not_expr()))
        return node

    def not_expr(self) -> Node:
        if (token := self.accept("not")) is not None:
            return Node("not", token.pos, (self.not_expr(),))
        return self.comparison()

    def comparison(self) -> Node:
        left = self.operand()
        token = self.peek
        if token.kind == "op" and token.text in COMPARISONS:
            self.take()
            return Node("cmp", token.pos, (left, self.operand()), token.text)
        negated = self.accept("not")
        if negated is not None or (token.kind == "keyword" and token.text == "in"):
            self.expect("in", "'in' after 'not'" if negated else "'in'")
            return Node("notin" if negated else "in", token.pos, (left, self.literal_list()))
        return left

    def operand(self) -> Node:
        token = self.take()
        if token.kind == "number":
            return Node("lit", token.pos, value=float(token.text))
        if token.kind == "string":
            return Node("lit", token.pos, value=_unquote(token.text))
        if token.kind == "keyword" and token.text in ("true", "false"):
            return Node("lit", token.pos, value=token.text == "true")
        if token.kind == "name":
            return Node("col", token.pos, value=token.text)
        if token.text == "(":
            node = self.expr()
            self.expect(")", "')'")
            return node
        found = token.text or "end of rule"
        raise self.error(f"expected a column, number, string or '(', found {found!r}", token)

    def literal_list(self) -> Node:
        start = self.expect("[", "'[' to start a list")
        items: list[Node] = []
        while self.accept("]") is None:
            if items:
                self.expect(",", "',' or ']'")
            at = self.peek
            item = self.operand()
            if item.op != "lit":
                raise self.error("list items must be numbers, strings or true/false", at)
            items.append(item)
        return Node("list", start.pos, tuple(items))


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def parse(rule: str, text: str) -> Node:
    """Parse `text` into an AST; syntax errors raise `SegmentRuleError` naming `rule`."""
    return Parser(rule, text).parse()
