"""Formulas for the viewer: a node's forward maths in the graph's own names, and a local derivative
with the numbers plugged in.

Forward: the rule table says ``σ(x) = 1/(1+e⁻ˣ)``; the page says ``h4 = σ(h3) = σ(0.659) = 0.659``.
:func:`forward_formula` takes the head of ``rules.RULES[op].forward`` (the part before its first
``=``: the op applied to its operands) in the graph's names (:mod:`tinygrad_edu.formulas`) and,
for scalars, with the operands' values put in instead.

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
from tinygrad_edu.formulas import forward_formula as named_forward
from tinygrad_edu.formulas import substitute

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
    """A number's text without brackets and with a plain minus, to tell repeats (``−1`` = ``(-1)``)."""
    text = text.replace("−", "-")
    return text[1:-1] if text.startswith("(") and text.endswith(")") else text


# --- the forward maths ------------------------------------------------------------------------


def forward_formula(node: Any, names: dict) -> tuple[str, str, str]:
    """``(named, with_numbers, definition)`` for a node, from ``rules.RULES[op].forward``.

    ``σ(h3)``, ``σ(0.659)``, ``σ(h3) = 1/(1+exp(−h3))`` for a sigmoid; ``x0 · w0``, ``1 · (-0.5)``,
    ``""`` for a product. Names come from :func:`tinygrad_edu.formulas.forward_formula` (the
    graph's own names, as every formula of the pictures); the numbers are the operands' values put
    into the same placeholders by :func:`tinygrad_edu.formulas.substitute` ("" for tensors: their
    values do not fit in a line). ``definition`` is the rule's whole forward text in the graph's
    names, when it says more than the head.
    """
    named_full = named_forward(node, names)
    named, _, rest = named_full.partition(" = ")
    entry = rules.RULES.get(node.op)
    numbers = ""
    if entry is not None and len(entry.inputs) == len(node.parents):
        if all(isinstance(p.data, Real) for p in node.parents):
            values = {k: style.fmt(float(p.data)) for k, p in zip(entry.inputs, node.parents)}
            if entry.constant is not None and isinstance(node.arg, Real):
                values[entry.constant] = style.fmt(float(node.arg))
            numbers = substitute(entry.forward.partition(" = ")[0], values)
    if not named:
        named = f"{node.op}({', '.join(names[p] for p in node.parents)})"
    return named, numbers, named_full if rest else ""
