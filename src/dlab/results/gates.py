"""Gate expressions for ``dlab compare --fail-if``: a tiny arithmetic language, parsed, never eval'd.

A gate is one comparison between two arithmetic expressions over numbers and
metric names::

    test.accuracy < baseline - 0.01
    wall_time_s > 1.2 * baseline
    final.val.loss / baseline.final.val.loss >= 1.05

Grammar (a recursive-descent parser, one function per rule)::

    gate   := expr ("<" | "<=" | ">" | ">=" | "==" | "!=") expr
    expr   := term (("+" | "-") term)*
    term   := unary (("*" | "/") unary)*
    unary  := ("-" | "+") unary | atom
    atom   := NUMBER | NAME | "(" expr ")"
    NAME   := [A-Za-z_][A-Za-z0-9_]* ("." [A-Za-z0-9_]+)*

A NAME is a metric's dotted path in metrics.json (``test.accuracy``,
``timing.train_samples_per_s``). ``baseline`` alone is the baseline run's value
of the one metric the gate names; ``baseline.<metric>`` is the baseline's value
of any metric. Nothing else exists: no calls, attributes, strings or
subscripts, so a gate can never run code. The text is tokenized by hand and
Python's ``eval`` / ``ast`` are never involved.

Why a gate that cannot be evaluated (a metric missing from a run, a division
by zero) counts as failed: a CI gate that silently passes on missing data
would let a broken run through.

A gate is bounded: at most :data:`MAX_LENGTH` characters, :data:`MAX_OPERATORS`
arithmetic operators and :data:`MAX_DEPTH` levels of parentheses or signs, and no
number that overflows to infinity. Anything beyond is a syntax error (exit 2), never
a RecursionError that CI could not tell from a failed gate (exit 1).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from dlab.errors import UsageError
from dlab.results.vocabulary import format_number

BASELINE = "baseline"
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}
MAX_LENGTH = 500
"""Characters in one gate (real gates are under a hundred)."""
MAX_OPERATORS = 50
"""Arithmetic operators (+ - * /) in one gate."""
MAX_DEPTH = 32
"""Nested parentheses and unary signs in one gate."""


class GateSyntaxError(UsageError):
    """A ``--fail-if`` expression that does not follow the grammar."""


class GateValueError(Exception):
    """A gate that cannot be evaluated for one run (missing metric, division by zero)."""


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class Token:
    kind: str  # "number", "name", "op", "(", ")", "cmp", "end"
    text: str
    position: int


def _syntax_error(source: str, position: int, problem: str) -> GateSyntaxError:
    """An error whose message shows the expression with a caret under ``position``."""
    return GateSyntaxError(
        f"Bad --fail-if expression: {problem} at position {position + 1}:\n"
        f"  {source}\n  {' ' * position}^\n"
        "A gate compares two expressions of metric names, numbers, 'baseline', + - * / and "
        'parentheses with one of < <= > >= == !=, e.g. "test.accuracy < baseline - 0.01".'
    )


def tokenize(source: str) -> list[Token]:
    """Split a gate into tokens; anything outside the grammar is a syntax error with a caret."""
    if len(source) > MAX_LENGTH:
        raise GateSyntaxError(
            f"Bad --fail-if expression: it is {len(source):,} characters long (at most "
            f"{MAX_LENGTH}): {source[:80]!r}... A gate compares two short expressions, e.g. "
            '"test.accuracy < baseline - 0.01"; use several --fail-if for several checks.'
        )
    tokens: list[Token] = []
    i = 0
    while i < len(source):
        char = source[i]
        if char.isspace():
            i += 1
        elif char.isdigit() or (char == "." and source[i + 1 : i + 2].isdigit()):
            start = i
            while i < len(source) and (source[i].isdigit() or source[i] == "."):
                i += 1
            if i < len(source) and source[i] in "eE":
                j = i + 1
                if j < len(source) and source[j] in "+-":
                    j += 1
                if j < len(source) and source[j].isdigit():
                    i = j
                    while i < len(source) and source[i].isdigit():
                        i += 1
            text = source[start:i]
            try:
                number = float(text)
            except ValueError:
                raise _syntax_error(source, start, f"'{text}' is not a number") from None
            if not math.isfinite(number):
                raise _syntax_error(source, start, f"'{text}' is too large: it overflows to infinity")
            if i < len(source) and (source[i].isalpha() or source[i] == "_"):
                raise _syntax_error(source, i, f"unexpected '{source[i]}' after the number {text}")
            tokens.append(Token("number", text, start))
        elif char.isalpha() or char == "_":
            start = i
            while i < len(source) and (source[i].isalnum() or source[i] == "_"):
                i += 1
            while (
                i < len(source)
                and source[i] == "."
                and i + 1 < len(source)
                and (source[i + 1].isalnum() or source[i + 1] == "_")
            ):
                i += 1
                while i < len(source) and (source[i].isalnum() or source[i] == "_"):
                    i += 1
            tokens.append(Token("name", source[start:i], start))
        elif source.startswith(("<=", ">=", "==", "!="), i):
            tokens.append(Token("cmp", source[i : i + 2], i))
            i += 2
        elif char in "<>":
            tokens.append(Token("cmp", char, i))
            i += 1
        elif char in "+-*/":
            if source.startswith("**", i):
                raise _syntax_error(source, i, "'**' is not allowed (only + - * /)")
            if sum(token.kind == "op" for token in tokens) >= MAX_OPERATORS:
                raise _syntax_error(
                    source, i, f"more than {MAX_OPERATORS} operators; a gate compares two short expressions"
                )
            tokens.append(Token("op", char, i))
            i += 1
        elif char in "()":
            tokens.append(Token(char, char, i))
            i += 1
        elif char == "=":
            raise _syntax_error(source, i, "'=' is not a comparison (use '==')")
        else:
            raise _syntax_error(source, i, f"unexpected character {char!r}")
    tokens.append(Token("end", "", len(source)))
    return tokens


# --------------------------------------------------------------------------- syntax tree


@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class Metric:
    """A metric of the run being judged, or of the baseline (``of_baseline``)."""

    name: str  # "" for a bare ``baseline``: resolved to the gate's one metric
    of_baseline: bool = False


@dataclass(frozen=True)
class Negate:
    operand: Node


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node


Node = Number | Metric | Negate | Binary


class _Parser:
    """Recursive descent over the token list; each method is one grammar rule."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.index = 0
        self.depth = 0  # nested parentheses and signs, bounded by MAX_DEPTH

    def deeper(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"nested more than {MAX_DEPTH} levels deep (parentheses or signs)")

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def error(self, problem: str, token: Token | None = None) -> GateSyntaxError:
        token = token or self.current
        return _syntax_error(self.source, token.position, problem)

    def gate(self) -> tuple[Node, str, Node]:
        if self.current.kind == "end":
            raise self.error("the expression is empty")
        left = self.expr()
        if self.current.kind != "cmp":
            found = self._describe(self.current)
            raise self.error(f"expected a comparison (< <= > >= == !=), found {found}")
        comparison = self.advance().text
        right = self.expr()
        if self.current.kind == "cmp":
            raise self.error("only one comparison is allowed per gate (use several --fail-if)")
        if self.current.kind != "end":
            raise self.error(f"unexpected {self._describe(self.current)}")
        return left, comparison, right

    def expr(self) -> Node:
        node = self.term()
        while self.current.kind == "op" and self.current.text in "+-":
            op = self.advance().text
            node = Binary(op, node, self.term())
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.current.kind == "op" and self.current.text in "*/":
            op = self.advance().text
            node = Binary(op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.current.kind == "op" and self.current.text in "+-":
            op = self.advance().text
            self.deeper()
            operand = self.unary()
            self.depth -= 1
            return Negate(operand) if op == "-" else operand
        return self.atom()

    def atom(self) -> Node:
        token = self.current
        if token.kind == "number":
            self.advance()
            return Number(float(token.text))
        if token.kind == "name":
            self.advance()
            if self.current.kind == "(":
                raise self.error("function calls are not allowed", self.current)
            if token.text == BASELINE:
                return Metric("", of_baseline=True)
            if token.text.startswith(BASELINE + "."):
                return Metric(token.text[len(BASELINE) + 1 :], of_baseline=True)
            return Metric(token.text)
        if token.kind == "(":
            self.advance()
            self.deeper()
            node = self.expr()
            self.depth -= 1
            if self.current.kind != ")":
                raise self.error(
                    f"expected ')' to close the '(' at position {token.position + 1}, "
                    f"found {self._describe(self.current)}"
                )
            self.advance()
            return node
        raise self.error(f"expected a number, a metric name or '(', found {self._describe(token)}")

    @staticmethod
    def _describe(token: Token) -> str:
        return "the end of the expression" if token.kind == "end" else f"'{token.text}'"


# --------------------------------------------------------------------------- gates


@dataclass(frozen=True)
class GateOutcome:
    """One gate judged on one run: whether it fails the build, and the numbers behind it."""

    gate: Gate
    run: str
    failed: bool
    left: float | None
    right: float | None
    values: dict[str, float]
    problem: str | None = None  # why it could not be evaluated (counts as failed)

    def describe(self) -> str:
        """``run: expression: 0.7 < 0.704 (test.accuracy 0.7, baseline 0.714)``."""
        shown = ", ".join(f"{name} {format_number(value)}" for name, value in self.values.items())
        if self.problem:
            return f"{self.run}: {self.gate.source}: cannot be evaluated: {self.problem}"
        return (
            f"{self.run}: {self.gate.source}: {format_number(self.left)} {self.gate.comparison} "
            f"{format_number(self.right)}" + (f" ({shown})" if shown else "")
        )


@dataclass(frozen=True)
class Gate:
    """A parsed ``--fail-if`` expression. Build one with :func:`parse_gate`."""

    source: str
    left: Node
    comparison: str
    right: Node

    def metric_names(self) -> list[str]:
        """The metrics this gate reads from the judged run and from the baseline."""
        names: list[str] = []
        for node in _walk(self.left, self.right):
            if isinstance(node, Metric) and node.name and node.name not in names:
                names.append(node.name)
        return names

    def uses_baseline(self) -> bool:
        return any(isinstance(node, Metric) and node.of_baseline for node in _walk(self.left, self.right))

    def judge(
        self, run: str, values: Mapping[str, float | None], baseline: Mapping[str, float | None] | None = None
    ) -> GateOutcome:
        """Evaluate the gate on one run's metric values (and the baseline's).

        Returns:
            An outcome that is ``failed`` when the comparison holds, or when it cannot be
            evaluated (a missing value, a division by zero), with the reason.
        """
        seen: dict[str, float] = {}
        try:
            left = self._value(self.left, values, baseline, seen)
            right = self._value(self.right, values, baseline, seen)
        except GateValueError as problem:
            return GateOutcome(self, run, True, None, None, seen, str(problem))
        holds = COMPARISONS[self.comparison](left, right)
        return GateOutcome(self, run, holds, left, right, seen)

    def _value(
        self,
        node: Node,
        values: Mapping[str, float | None],
        baseline: Mapping[str, float | None] | None,
        seen: dict[str, float],
    ) -> float:
        if isinstance(node, Number):
            return node.value
        if isinstance(node, Negate):
            return -self._value(node.operand, values, baseline, seen)
        if isinstance(node, Binary):
            left = self._value(node.left, values, baseline, seen)
            right = self._value(node.right, values, baseline, seen)
            if node.op == "/" and right == 0:
                raise GateValueError("division by zero")
            result = _ARITHMETIC[node.op](left, right)
            if not math.isfinite(result):
                raise GateValueError(
                    f"{format_number(left)} {node.op} {format_number(right)} is not a finite number"
                )
            return result
        name = node.name or self.metric_names()[0]
        source = baseline if node.of_baseline else values
        label = (
            f"baseline {name}" if node.of_baseline and node.name else (BASELINE if node.of_baseline else name)
        )
        value = (source or {}).get(name)
        if value is None:
            where = "the baseline" if node.of_baseline else "this run"
            raise GateValueError(f"{name} is missing from {where}")
        seen[label] = value
        return value


def parse_gate(source: str) -> Gate:
    """Parse one ``--fail-if`` expression.

    Raises:
        GateSyntaxError: the text does not follow the grammar; the message points at the
            position with a caret. A bare ``baseline`` in a gate that names no metric, or
            several, is an error too, since it would not say which metric it means.
    """
    left, comparison, right = _Parser(source).gate()
    gate = Gate(source, left, comparison, right)
    bare = any(isinstance(node, Metric) and node.of_baseline and not node.name for node in _walk(left, right))
    names = gate.metric_names()
    if bare and len(names) != 1:
        what = "no metric" if not names else f"{len(names)} metrics ({', '.join(names)})"
        position = source.find(BASELINE)
        raise _syntax_error(
            source,
            max(position, 0),
            f"'baseline' means the baseline's value of the gate's metric, but the "
            f"gate names {what}; write baseline.<metric> instead",
        )
    return gate


def _walk(*nodes: Node):
    for node in nodes:
        yield node
        if isinstance(node, Negate):
            yield from _walk(node.operand)
        elif isinstance(node, Binary):
            yield from _walk(node.left, node.right)
