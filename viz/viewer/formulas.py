"""Formulas for the viewer: a node's forward maths in the graph's own names, and a local derivative
with the numbers plugged in.

Forward: the rule table says ``σ(x) = 1/(1+e⁻ˣ)``; the page says ``h4 = σ(h3) = σ(0.659) = 0.659``.
:func:`forward_formula` replaces the rule's operand placeholders (``a``, ``b``, ``x``, ``X``, ``W``
...) in the head of ``rules.RULES[op].forward`` (the part before its first ``=``, which is the op
applied to its operands) by the operands' names and, for scalars, by their values.

Locals: the edge's formula comes from :attr:`Edge.formula` (already in the graph's names); this
module adds the middle of ``σ(h4)(1−σ(h4)) = 0.659 × 0.341 = 0.225``. :data:`PLUGGED` holds one
small function per op and operand, ``(operands, output, arg) -> Plugged(text, value)``: ``text``
is the formula's right-hand side with the real numbers written in (the operands' values, or the
node's own output where the formula is written in it, as σ' = σ(1−σ) is), and ``value`` is that
arithmetic done again here, in double precision, from the very same numbers. ``value`` is not
shown; it is there so that a test can check that the text is honest: it must equal the local the
engine stored (``rules.py`` computed it with its own code), up to rounding.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from numbers import Real
from typing import Any, NamedTuple

from tinygrad_edu import rules

from .. import style


class Plugged(NamedTuple):
    """A local derivative with numbers in: ``text`` (e.g. ``"0.659 × 0.341"``), and ``value``, the
    same arithmetic on the exact numbers (what a test compares with the stored local)."""

    text: str
    value: float


def num(x: float) -> str:
    """A number as the pictures print it, in parentheses when negative (``2 · (−3)``, not ``2 · −3``)."""
    text = style.fmt(x)
    return f"({text})" if text.startswith("-") else text


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def _ieee(fn: Callable[[], float]) -> float:
    """IEEE results where Python's math raises (1/0 = inf, log of a negative = nan)."""
    try:
        return float(fn())
    except ZeroDivisionError:
        return math.nan
    except (ValueError, OverflowError):
        return math.nan


def _const(c: float) -> Callable[..., Plugged]:
    return lambda xs, y, arg: Plugged("", c)


def _sign(x: float) -> float:
    return (x > 0) - (x < 0)


def _pow_exponent_local(xs, y, arg):  # ∂(a^b)/∂b = a^b · ln a, and 0 where a^b = 0 (the limit)
    a, b = xs
    return Plugged(f"{num(y)} · ln {num(a)}", 0.0 if y == 0 else _ieee(lambda: y * math.log(a)))


def _pow_const_local(xs, y, arg):  # ∂(x^p)/∂x = p · x^(p−1)
    (x,), p = xs, arg
    if p == 0:
        return Plugged("0", 0.0)
    return Plugged(f"{num(p)} · {num(x)}^{num(p - 1)}", _ieee(lambda: p * x ** (p - 1)))


def _leaky_local(xs, y, arg):  # 1 for x > 0, α otherwise
    (x,) = xs
    if x > 0:
        return Plugged(f"1 (as {num(x)} > 0)", 1.0)
    return Plugged(f"{num(arg)} (as {num(x)} ≤ 0)", float(arg))


#: Per op, per operand: ``(operand values, output value, arg) -> Plugged``. Each line is the
#: formula of ``rules.py`` (``locals``), written again with numbers in.
PLUGGED: dict[str, tuple[Callable[..., Plugged], ...]] = {
    "add": (_const(1.0), _const(1.0)),  # 1, 1
    "sub": (_const(1.0), _const(-1.0)),  # 1, −1
    "mul": (  # b, a: the other factor
        lambda xs, y, arg: Plugged(num(xs[1]), xs[1]),
        lambda xs, y, arg: Plugged(num(xs[0]), xs[0]),
    ),
    "div": (  # 1/b, −a/b²
        lambda xs, y, arg: Plugged(f"1/{num(xs[1])}", _ieee(lambda: 1.0 / xs[1])),
        lambda xs, y, arg: Plugged(f"−{num(xs[0])}/{num(xs[1])}²", _ieee(lambda: -xs[0] / xs[1] ** 2)),
    ),
    "pow": (  # b·a^(b−1), a^b·ln a
        lambda xs, y, arg: Plugged(
            f"{num(xs[1])} · {num(xs[0])}^{num(xs[1] - 1)}", _ieee(lambda: xs[1] * xs[0] ** (xs[1] - 1))
        ),
        _pow_exponent_local,
    ),
    "pow_const": (_pow_const_local,),  # p·x^(p−1)
    "neg": (_const(-1.0),),  # −1
    "exp": (lambda xs, y, arg: Plugged(f"e^{num(xs[0])}", _ieee(lambda: math.exp(xs[0]))),),  # eˣ
    "log": (lambda xs, y, arg: Plugged(f"1/{num(xs[0])}", _ieee(lambda: 1.0 / xs[0])),),  # 1/x
    "sqrt": (  # 1/(2√x)
        lambda xs, y, arg: Plugged(f"1/(2√{num(xs[0])})", _ieee(lambda: 0.5 / math.sqrt(xs[0]))),
    ),
    "tanh": (lambda xs, y, arg: Plugged(f"1 − {num(y)}²", 1.0 - y * y),),  # 1 − tanh²(x), tanh(x) = y
    "sigmoid": (lambda xs, y, arg: Plugged(f"{num(y)} × {num(1.0 - y)}", y * (1.0 - y)),),  # σ(x)(1−σ(x))
    "relu": (lambda xs, y, arg: Plugged(f"[{num(xs[0])} > 0]", 1.0 if xs[0] > 0 else 0.0),),
    "leaky_relu": (_leaky_local,),
    "softplus": (lambda xs, y, arg: Plugged(f"σ({num(xs[0])})", _sigmoid(xs[0])),),  # σ(x)
    "log_sigmoid": (lambda xs, y, arg: Plugged(f"1 − σ({num(xs[0])})", 1.0 - _sigmoid(xs[0])),),
    "abs": (lambda xs, y, arg: Plugged(f"sign({num(xs[0])})", float(_sign(xs[0]))),),
    "sin": (lambda xs, y, arg: Plugged(f"cos({num(xs[0])})", math.cos(xs[0])),),
    "cos": (lambda xs, y, arg: Plugged(f"−sin({num(xs[0])})", -math.sin(xs[0])),),
}


def plugged(child: Any, index: int) -> Plugged | None:
    """The local ∂child/∂operand ``index`` with the numbers in (None: a tensor or an op without one)."""
    entry = PLUGGED.get(child.op)
    if entry is None or index >= len(entry) or not isinstance(child.data, Real):
        return None
    xs = tuple(float(p.data) for p in child.parents)
    text, value = entry[index](xs, float(child.data), child.arg)
    return Plugged(tidy(text), value)


def tidy(text: str) -> str:
    """``σ((-2))`` → ``σ(-2)``: a bracketed negative number needs no second pair of brackets."""
    return re.sub(r"\(\((-[^()]+)\)\)", r"(\1)", text)


def local_with_numbers(formula: str, numbers: Plugged | None, local: Any) -> str:
    """``formula = numbers = local`` with repeats left out (``x = 0.5``, not ``x = 0.5 = 0.5``)."""
    parts = [formula] if formula else []
    middle = numbers.text if numbers else ""
    final = style.fmt(local) if isinstance(local, Real) else ""
    if middle and _bare(middle) != final and middle != formula:
        parts.append(middle)
    if final and (not parts or _bare(parts[-1]) != final):
        parts.append(final)
    return " = ".join(parts)


def _bare(text: str) -> str:
    return text[1:-1] if text.startswith("(") and text.endswith(")") else text


# --- the forward maths ------------------------------------------------------------------------

#: The operand placeholders of each rule's forward text, in operand order (default by arity).
OPERANDS: dict[str, tuple[str, ...]] = {
    "matmul": ("X", "W"),
    "mse_loss": ("p", "t"),
    "binary_cross_entropy": ("p", "t"),
    "binary_cross_entropy_with_logits": ("x", "t"),
}
#: The placeholder of an op's constant argument (``node.arg``).
ARGUMENT = {"pow_const": "p", "leaky_relu": "α"}


def _placeholders(op: str, arity: int) -> tuple[str, ...]:
    return OPERANDS.get(op, {1: ("x",), 2: ("a", "b")}.get(arity, ()))


def substitute(text: str, names: dict[str, str]) -> str:
    """``text`` with each stand-alone placeholder (a whole word: not the x of ``xᵢ`` or ``max``)
    replaced by its name, in one pass (a name put in is never replaced again)."""
    if not names:
        return text
    pattern = "|".join(re.escape(k) for k in sorted(names, key=len, reverse=True))
    return re.sub(rf"(?<!\w)({pattern})(?!\w)", lambda m: names[m.group(1)], text)


def forward_head(op: str) -> str:
    """The op applied to its operands, from the rule table: ``σ(x)`` of ``σ(x) = 1/(1+e⁻ˣ)``."""
    entry = rules.RULES.get(op)
    return entry.forward.split(" = ")[0].strip() if entry is not None else ""


def forward_formula(node: Any, name_of: Callable[[Any], str]) -> tuple[str, str]:
    """``(named, with_numbers)`` for a node: ``("σ(h3)", "σ(0.659)")``, ``("x0 · w0", "1 · (−0.5)")``.

    ``with_numbers`` is "" for tensors (their values do not fit in a line) and wherever the rule's
    text does not name every operand; ``named`` then falls back to ``op(operand, ...)``.
    """
    operands = node.parents
    head = forward_head(node.op)
    keys = _placeholders(node.op, len(operands))
    arg_key = ARGUMENT.get(node.op)
    found = (
        bool(head)
        and len(keys) == len(operands)
        and all(re.search(rf"(?<!\w){re.escape(k)}(?!\w)", head) for k in keys)
    )
    if not found:
        return f"{node.op}({', '.join(name_of(p) for p in operands)})", ""
    names = dict(zip(keys, (name_of(p) for p in operands)))
    numbers: dict[str, str] = {}
    scalar = all(isinstance(p.data, Real) for p in operands)
    if scalar:
        numbers = dict(zip(keys, (num(float(p.data)) for p in operands)))
    if arg_key is not None and isinstance(node.arg, Real):
        names[arg_key] = numbers[arg_key] = num(float(node.arg))
    named = substitute(head, names)
    return named, tidy(substitute(head, numbers)) if scalar else ""
