"""Sums asked in chat, worked out exactly instead of by the model.

Measured: the default 270M model answered "what's 12 times 12?" with "12 times 12 = 120.". A
message that is only a sum in words or symbols ("quick one, what's 12 times 12?", "how much is
1,250 divided by 4", "what is 15% of 80?") is answered here; anything with other words in it
goes to the model as before. The expression is parsed with :mod:`ast` and only numbers and
``+ - * / **`` are evaluated, so nothing the user types is executed.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable

__all__ = ["arithmetic_reply"]

_OPERATORS = (
    (r"\bmultiplied\s+by\b|\btimes\b|(?<=\d)\s*[x×]\s*(?=\d)|\*", " * "),
    (r"\bdivided\s+by\b|\bover\b|÷|/", " / "),
    (r"\bplus\b|\+|\badded\s+to\b", " + "),
    (r"\bminus\b|\bless\b|(?<=\d)\s*[-−]\s*(?=\d)|\btake away\b", " - "),
    (r"\bsquared\b", " ** 2 "),
    (r"\bcubed\b", " ** 3 "),
)
#: Words a sum may come wrapped in: "quick one, what's …?", "can you work out …"
_WRAPPING = frozenset(
    """
what what's whats is are how much many calculate compute work out please pls quick one question
hey hi ok okay so and then the answer to of equals equal make makes can you could tell me do get
if i
""".split()
)
_BIN: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}


def _value(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_value(node.operand)
    if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
        if isinstance(node.op, ast.Pow) and abs(_value(node.right)) > 10:
            raise ValueError("exponent too large")
        return _BIN[type(node.op)](_value(node.left), _value(node.right))
    raise ValueError("not a sum")


def _number(n: float) -> str:
    if n == int(n) and abs(n) < 1e15:
        return f"{int(n):,}"
    return f"{n:,.6f}".rstrip("0").rstrip(".")


def arithmetic_reply(message: str) -> str | None:
    """The worked-out answer when the message is only a sum, else None.

    Example:
        >>> arithmetic_reply("quick one, what's 12 times 12?")
        '12 × 12 = 144.'
        >>> arithmetic_reply("what is 15% of 80?")
        '15% of 80 = 12.'
        >>> arithmetic_reply("how much is 1,250 divided by 4")
        '1,250 ÷ 4 = 312.5.'
        >>> arithmetic_reply("I paid 12 times 12 euros for the tickets") is None
        True
        >>> arithmetic_reply("what is 7 / 0?") is None
        True
    """
    text = message.strip().lower().replace("’", "'")
    if re.search(r"\b\d{4}-\d{1,2}-\d{1,2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b", text):
        return None  # a date, not a sum
    percent = re.search(r"(\d[\d,]*(?:\.\d+)?)\s*(?:%|percent)\s+of\s+(\d[\d,]*(?:\.\d+)?)", text)
    if percent:
        rest = text[: percent.start()] + text[percent.end() :]
        if not _only_wrapping(rest):
            return None
        p, of = (float(g.replace(",", "")) for g in percent.groups())
        return f"{percent.group(1)}% of {percent.group(2)} = {_number(p * of / 100)}."
    expr = text
    for pattern, symbol in _OPERATORS:
        expr = re.sub(pattern, symbol, expr)
    found = re.search(
        r"[-(]*\d[\d,]*(?:\.\d+)?(?:[\s()]*(?:\*\*|[-+*/])[\s()]*\d[\d,]*(?:\.\d+)?\)*)+", expr
    )
    if found is None or not _only_wrapping(expr[: found.start()] + expr[found.end() :]):
        return None
    source = found.group(0)
    try:
        value = _value(ast.parse(source.replace(",", ""), mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError):
        return None
    shown = " ".join(source.split()).replace("**", "^").replace("*", "×").replace("/", "÷")
    return f"{shown} = {_number(value)}."


def _only_wrapping(rest: str) -> bool:
    words = re.findall(r"[a-z']+", rest)
    return all(w in _WRAPPING for w in words) and not re.search(r"\d", rest)
