"""The derivative table: one entry per elementwise op, forward next to its local derivative.

Each rule is a small function ``compute(m, *inputs[, arg]) -> (output, locals)`` where ``m`` is
:class:`~tinygrad_edu.numerics.ScalarMath` for :class:`~tinygrad_edu.Value` or
:class:`~tinygrad_edu.numerics.ArrayMath` for :class:`~tinygrad_edu.Tensor`. ``locals[i]`` is
the local derivative ∂output/∂input_i *evaluated at the forward values*: a number for a scalar
graph, an elementwise array for a tensor graph. It is stored on the node as plain data; the one
backward loop in :mod:`tinygrad_edu.graph` multiplies it by the upstream gradient.

Each entry also carries the maths as text (``forward`` and one ``locals`` formula per input), so
the renderer, the chain-rule printer and the docs all read the same formulas. Like PyTorch's
``derivatives.yaml``: every elementwise derivative is reviewed in this one file. Tensor-only
ops (``@``, reductions, reshapes, indexing, softmax, losses) add their entries from
:mod:`tinygrad_edu.tensor_rules` into the same :data:`RULES` table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Compute = Callable[..., "tuple[Any, tuple[Any, ...]]"]


@dataclass(frozen=True)
class Rule:
    """One op of the table.

    Attributes:
        op: the name stored in ``node.op`` (``"tanh"``, ``"mul"`` ...).
        symbol: how the op is drawn on a node (``"tanh"``, ``"×"`` ...).
        forward: the forward maths, e.g. ``"tanh(x)"``.
        locals: per input, the local derivative's formula, e.g. ``("1 − tanh²(x)",)``.
        compute: ``(m, *inputs[, arg]) -> (output, locals)``.
        inputs: the placeholder name of each input in the formulas (``("a", "b")``, ``("x",)``);
            pictures replace them by the graph's own names (:mod:`tinygrad_edu.formulas`).
        constant: the placeholder of the node's static argument (``"p"`` in ``x^p``), if any.
        counts: placeholder → ``fn(input_shape, output_shape)`` for a count in a formula (the
            ``n`` of a mean), so that pictures can print the number instead of the letter.
    """

    op: str
    symbol: str
    forward: str
    locals: tuple[str, ...]
    compute: Compute
    inputs: tuple[str, ...] = ()
    constant: str | None = None
    counts: dict = field(default_factory=dict)


RULES: dict[str, Rule] = {}


def rule(
    op: str,
    symbol: str,
    forward: str,
    *locals_: str,
    inputs: tuple[str, ...] | None = None,
    constant: str | None = None,
    counts: dict | None = None,
) -> Callable[[Compute], Compute]:
    """Register ``compute`` in :data:`RULES` under ``op`` with its formulas.

    The formulas' input names default to ``x`` for one input and ``a, b`` for two.
    """
    if inputs is None:
        inputs = ("x",) if len(locals_) == 1 else ("a", "b") if len(locals_) == 2 else ()

    def register(compute: Compute) -> Compute:
        if op in RULES:
            raise ValueError(f"rule {op!r} is declared twice")
        RULES[op] = Rule(
            op, symbol, forward, tuple(locals_), compute, tuple(inputs), constant, dict(counts or {})
        )
        return compute

    return register


def formula(op: str, index: int) -> str:
    """The local-derivative formula of ``op`` with respect to input ``index``, in the table's
    placeholder names ("" if unknown). :func:`tinygrad_edu.formulas.edge_formula` names them."""
    entry = RULES.get(op)
    if entry is None or index >= len(entry.locals):
        return ""
    return entry.locals[index]


# --- binary arithmetic ---------------------------------------------------------------


@rule("add", "+", "a + b", "1", "1")
def add(m, a, b):
    """a + b. ∂/∂a = 1, ∂/∂b = 1: addition passes the gradient through unchanged."""
    return a + b, (1.0, 1.0)


@rule("sub", "−", "a − b", "1", "−1")
def sub(m, a, b):
    """a − b. ∂/∂a = 1, ∂/∂b = −1."""
    return a - b, (1.0, -1.0)


@rule("mul", "×", "a · b", "b", "a")
def mul(m, a, b):
    """a · b. ∂/∂a = b, ∂/∂b = a: each factor's gradient is scaled by the *other* factor."""
    return a * b, (b, a)


@rule("div", "÷", "a / b", "1/b", "−a/b²")
def div(m, a, b):
    """a / b. ∂/∂a = 1/b, ∂/∂b = −a/b² (written −(a/b)/b to reuse the output)."""
    out = m.div(a, b)
    return out, (m.div(1.0, b), m.div(-out, b))


@rule("pow", "^", "a^b", "b·a^(b−1)", "a^b·ln(a)")
def pow_(m, a, b):
    """a^b with a differentiable exponent. ∂/∂a = b·a^(b−1), ∂/∂b = a^b·ln a.

    NOTE: PyTorch's conventions where the formulas meet 0·∞ (``pow_backward_self`` and
    ``pow_backward_exponent`` in its derivatives): ∂/∂a is 0 wherever b = 0 (a^0 = 1 is
    constant in a, even at a = 0, ±inf or nan), and ∂/∂b is 0 where a = 0 and b ≥ 0 (the limit
    of a^b·ln a as a → 0⁺; at 0^0 too). Elsewhere the formulas apply as IEEE says: 0^b for
    b < 0 is inf with ∂/∂a = b·0^(b−1) = ±inf and ∂/∂b = inf·ln 0 = −inf; for a < 0, ln a is
    nan, so ∂/∂b is nan (a^b is not real for most b), while ∂/∂a = b·a^(b−1) stays finite for
    whole b.
    """
    out = m.pow(a, b)
    local_a = m.where(b == 0, 0.0, b * m.pow(a, b - 1.0))
    local_b = m.where((a == 0) & (b >= 0), 0.0, out * m.log(a))
    return out, (local_a, local_b)


# --- unary ops -----------------------------------------------------------------------


@rule("pow_const", "^p", "x^p", "p·x^(p−1)", constant="p")
def pow_const(m, x, p):
    """x^p for a constant number p (not part of the graph). ∂/∂x = p·x^(p−1).

    NOTE: for p = 0 the local is 0 everywhere, also at x = 0, ±inf and nan, where p·x^(p−1)
    would be 0·inf or nan (x^0 = 1 is constant; PyTorch's ``pow_backward`` does the same).
    """
    out = m.pow(x, p)
    if p == 0:
        return out, (m.zeros_like(x),)
    return out, (p * m.pow(x, p - 1),)


@rule("neg", "−", "−x", "−1")
def neg(m, x):
    """−x. ∂/∂x = −1."""
    return -x, (-1.0,)


@rule("exp", "exp", "eˣ", "eˣ")
def exp(m, x):
    """eˣ. ∂/∂x = eˣ: the output itself, so no second exp is computed."""
    y = m.exp(x)
    return y, (y,)


@rule("log", "log", "ln(x)", "1/x")
def log(m, x):
    """ln x. ∂/∂x = 1/x (log 0 = −inf and log of a negative = nan, as IEEE says)."""
    return m.log(x), (m.div(1.0, x),)


@rule("sqrt", "√", "√x", "1/(2√x)")
def sqrt(m, x):
    """√x. ∂/∂x = 1/(2√x), infinite at 0."""
    y = m.sqrt(x)
    return y, (m.div(0.5, y),)


@rule("tanh", "tanh", "tanh(x)", "1 − tanh²(x)")
def tanh(m, x):
    """tanh x. ∂/∂x = 1 − tanh²x ≤ 1, and → 0 when |x| is large: saturated units stop learning."""
    y = m.tanh(x)
    return y, (1.0 - y * y,)


@rule("sigmoid", "σ", "σ(x) = 1/(1+e⁻ˣ)", "σ(x)(1−σ(x))")
def sigmoid(m, x):
    """σ(x) = 1/(1+e⁻ˣ). ∂/∂x = σ(x)(1−σ(x)) ≤ 0.25: why deep sigmoid stacks vanish."""
    y = m.sigmoid(x)
    return y, (y * (1.0 - y),)


@rule("relu", "ReLU", "max(x, 0)", "1 if x > 0 else 0")
def relu(m, x):
    """max(x, 0). ∂/∂x = 1 for x > 0, 0 for x < 0.

    NOTE: at the kink x = 0 we use 0 (PyTorch's convention); a unit stuck at x ≤ 0 is "dead".
    """
    return m.relu(x), (m.step(x),)


@rule("leaky_relu", "LReLU", "x if x > 0 else α·x", "1 if x > 0 else α", constant="α")
def leaky_relu(m, x, slope):
    """x for x > 0, α·x otherwise. ∂/∂x = 1 or α: never exactly 0, so units cannot die.

    NOTE: at x = 0 we use α (the x ≤ 0 branch).
    """
    d = slope + (1.0 - slope) * m.step(x)
    return m.where(x > 0, x, slope * x), (d,)


@rule("softplus", "softplus", "ln(1 + eˣ)", "σ(x)")
def softplus(m, x):
    """ln(1+eˣ), a smooth ReLU. ∂/∂x = σ(x)."""
    return m.softplus(x), (m.sigmoid(x),)


@rule("log_sigmoid", "log σ", "ln σ(x) = −softplus(−x)", "1 − σ(x)")
def log_sigmoid(m, x):
    """ln σ(x), computed as −softplus(−x) so it is finite for x = −1000. ∂/∂x = 1 − σ(x) = σ(−x)."""
    return -m.softplus(-x), (m.sigmoid(-x),)


@rule("abs", "|·|", "|x|", "sign(x)")
def abs_(m, x):
    """|x|. ∂/∂x = sign(x); NOTE: 0 at the kink x = 0."""
    return m.abs(x), (m.sign(x),)


@rule("sin", "sin", "sin(x)", "cos(x)")
def sin(m, x):
    """sin x. ∂/∂x = cos x."""
    return m.sin(x), (m.cos(x),)


@rule("cos", "cos", "cos(x)", "−sin(x)")
def cos(m, x):
    """cos x. ∂/∂x = −sin x."""
    return m.cos(x), (-m.sin(x),)
