"""The small grammar of ``--satisfice`` and ``--where`` (never ``eval``).

An expression compares outputs (column names such as ``adopted_share``) or uncertainties (key
paths such as ``logics.social.q``) with numbers, and combines the comparisons::

    expr    := or
    or      := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | atom
    atom    := "(" expr ")" | operand OP operand
    operand := NAME | NUMBER | "-" NUMBER
    OP      := "<" | "<=" | ">" | ">=" | "==" | "!="

``&``/``&&`` and ``|``/``||`` are accepted for ``and``/``or``. A comparison with a missing value
(NaN) is false. :func:`parse` checks the names against the columns that exist and raises
:class:`~simulation.errors.InputError` naming the option and what is wrong.
"""

from __future__ import annotations

import difflib
import operator
import re
from dataclasses import dataclass

from ..errors import InputError, Problem

OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq,
       "!=": operator.ne}
_TOKEN = re.compile(r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?%?)|(?P<op><=|>=|==|!=|<|>)"
                    r"|(?P<logic>&&|\|\||&|\|)|(?P<paren>[()])|(?P<minus>-)"
                    r"|(?P<name>[A-Za-z_][A-Za-z0-9_.@]*))")
_WORDS = {"and": "and", "or": "or", "not": "not"}


@dataclass(frozen=True)
class Expr:
    """A parsed expression: :meth:`evaluate` on a table gives a boolean array, one per row."""

    text: str
    tree: tuple
    names: tuple[str, ...]

    def evaluate(self, table):
        """Boolean numpy array: the rows of ``table`` (a mapping of column name to array-like) that
        meet the expression."""
        import numpy as np

        def value(node):
            kind, v = node
            if kind == "num":
                return v
            return np.asarray(table[v], dtype=float)

        def ev(node):
            kind = node[0]
            if kind == "cmp":
                _, op, a, b = node
                with np.errstate(invalid="ignore"):
                    return np.asarray(OPS[op](value(a), value(b)), dtype=bool)
            if kind == "and":
                return ev(node[1]) & ev(node[2])
            if kind == "or":
                return ev(node[1]) | ev(node[2])
            if kind == "not":
                return ~ev(node[1])
            raise AssertionError(kind)  # pragma: no cover

        n = len(next(iter(table.values()))) if isinstance(table, dict) else len(table)
        return np.broadcast_to(ev(self.tree), (n,)).copy()

    def __str__(self) -> str:
        return self.text


def _tokens(text: str, option: str) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            bad = text[pos:].strip()[:12]
            raise InputError(Problem(option, text, f"cannot read {bad!r} at position {pos + 1}; an expression "
                                     "compares names with numbers, e.g. \"adopted_share >= 0.5 and support_used < 4000\""))
        pos = m.end()
        kind = m.lastgroup
        tok = m.group(kind)
        if kind == "num":
            pct = tok.endswith("%")
            out.append(("num", float(tok.rstrip("%")) / (100 if pct else 1)))
        elif kind == "name" and tok.lower() in _WORDS:
            out.append(("logic", _WORDS[tok.lower()]))
        elif kind == "logic":
            out.append(("logic", "and" if tok.startswith("&") else "or"))
        else:
            out.append((kind, tok))
    return out


def parse(text: str, columns, option: str = "--where") -> Expr:
    """Parse ``text``; every name must be one of ``columns``.

    Raises:
        InputError: naming ``option``, the expression, and what is wrong (an unknown name with the
            closest known one, a missing operand or parenthesis...).
    """
    if not isinstance(text, str) or not text.strip():
        raise InputError(Problem(option, "", "is empty; give a condition such as \"adopted_share < 0.5\""))
    columns = list(columns)
    toks = _tokens(text, option)
    pos = 0
    names: list[str] = []

    def fail(msg: str):
        return InputError(Problem(option, text, msg))

    def peek():
        return toks[pos] if pos < len(toks) else (None, None)

    def take():
        nonlocal pos
        tok = peek()
        pos += 1
        return tok

    def operand():
        kind, v = take()
        if kind == "minus":
            k2, v2 = take()
            if k2 != "num":
                raise fail("'-' must be followed by a number")
            return ("num", -v2)
        if kind == "num":
            return ("num", v)
        if kind == "name":
            if v not in columns:
                close = difflib.get_close_matches(v, columns, n=1, cutoff=0.5)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                shown = ", ".join(columns[:12]) + (", ..." if len(columns) > 12 else "")
                raise fail(f"unknown name '{v}'{hint}; known: {shown}")
            names.append(v)
            return ("name", v)
        raise fail("expected a name or a number" + (f", got '{v}'" if v is not None else " at the end"))

    def atom():
        if peek() == ("paren", "("):
            take()
            node = disj()
            if take() != ("paren", ")"):
                raise fail("a '(' is not closed")
            return node
        a = operand()
        kind, op = take()
        if kind != "op":
            raise fail("expected a comparison (<, <=, >, >=, ==, !=)" + (f" after '{a[1]}'" if a else ""))
        b = operand()
        if a[0] == "num" and b[0] == "num":
            raise fail("a comparison must name an output or an uncertainty, not only numbers")
        if peek()[0] == "op":
            raise fail("chained comparisons (a < b < c) are not supported: write 'a < b and b < c'")
        return ("cmp", op, a, b)

    def neg():
        if peek() == ("logic", "not"):
            take()
            return ("not", neg())
        return atom()

    def conj():
        node = neg()
        while peek() == ("logic", "and"):
            take()
            node = ("and", node, neg())
        return node

    def disj():
        node = conj()
        while peek() == ("logic", "or"):
            take()
            node = ("or", node, conj())
        return node

    tree = disj()
    if pos < len(toks):
        raise fail(f"unexpected '{toks[pos][1]}' at the end")
    return Expr(text.strip(), tree, tuple(dict.fromkeys(names)))

