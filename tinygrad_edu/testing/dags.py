"""Random scalar expression DAGs: :func:`expression_dags` and the data it draws.

An :class:`ExpressionDag` is a list of :class:`DagStep` s (an op of
:data:`~tinygrad_edu.rules.RULES` applied to earlier nodes or :class:`Const` s). It can build
itself as a ``Value`` graph (through :func:`apply_op`, i.e. the engine's public operators) and
evaluate itself in plain float64 maths written independently of the engine (the reference a
property test compares the engine with). Domain guards, added while drawing, keep every op
inside its domain and away from its kinks.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Any

from ..scalar import Value
from .strategies import composite_strategy, hypothesis_modules

#: Every op of :data:`tinygrad_edu.rules.RULES` a ``Value`` supports; :func:`expression_dags`
#: draws from all of them by default.
EXPRESSION_OPS: tuple[str, ...] = (
    "add", "sub", "mul", "div", "pow", "pow_const", "neg", "exp", "log", "sqrt", "tanh",
    "sigmoid", "relu", "leaky_relu", "softplus", "log_sigmoid", "abs", "sin", "cos",
)  # fmt: skip
_BINARY = frozenset({"add", "sub", "mul", "div", "pow"})
_EXPONENTS = (2.0, -1.0, 0.5, 3.0, -2.0, -0.5, 1.0, 0.0)  # of pow_const
_SLOPES = (0.1, 0.01, 0.2)  # of leaky_relu
_CONSTANTS = (1.5, 0.5, 2.0)  # constant first operands: c + v, c / v, c ** v, ...
_BOUND = 4.0  # every drawn op's result is scaled back into [−4, 4]
_EXP_BOUND = 2.0  # exp and pow exponents see |v| ≤ 2
_POSITIVE = 0.5  # log, sqrt and pow bases see v ≥ 0.5
_NONZERO = 0.5  # divisors and bases of negative powers see |v| ≥ 0.5
_KINK = 0.1  # relu, abs, leaky_relu see |v| ≥ 0.1


@dataclass(frozen=True)
class Const:
    """A constant operand (a plain number, not a graph input)."""

    value: float

    def __repr__(self) -> str:
        return f"{self.value:g}"


@dataclass(frozen=True)
class DagStep:
    """One node of an :class:`ExpressionDag`: ``op`` applied to earlier nodes or constants.

    Attributes:
        op: a key of :data:`~tinygrad_edu.rules.RULES`.
        operands: per operand, the index of an earlier node (inputs are ``0 .. n_inputs−1``)
            or a :class:`Const`.
        arg: the exponent of ``pow_const`` or the slope of ``leaky_relu``; else None.
        note: why the step is there when it is a domain guard (empty for drawn ops).
    """

    op: str
    operands: tuple
    arg: float | None = None
    note: str = ""


def _lookup(operands: Sequence[Any], nodes: Sequence[Any]) -> list[Any]:
    """The operands' values: a :class:`Const` gives its number, an index the node it points to."""
    return [o.value if isinstance(o, Const) else nodes[o] for o in operands]


def apply_op(op: str, operands: Sequence[Any], arg: float | None = None) -> Any:
    """Apply ``op`` to ``Value`` / ``Tensor`` operands through their public operators and methods.

    ``apply_op("mul", (x, y))`` is ``x * y``; ``apply_op("pow_const", (x,), 2.0)`` is ``x ** 2.0``;
    ``apply_op("leaky_relu", (x,), 0.1)`` is ``x.leaky_relu(0.1)``; a unary op ``f`` is ``x.f()``.
    """
    if op in _OPERATORS:
        return _OPERATORS[op](*operands)
    (x,) = operands
    if op == "pow_const":
        return x**arg
    if op == "leaky_relu":
        return x.leaky_relu(arg)
    return getattr(x, op)()


# Python's operators mean the same maths for Value, Tensor and float operands, so this one table
# serves both apply_op (the engine) and _float_op (the float64 reference).
_OPERATORS: dict[str, Callable[..., Any]] = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "div": operator.truediv,
    "pow": operator.pow,
    "neg": operator.neg,
    "abs": operator.abs,
}


# The reference maths, in plain float64 and written independently of the engine (textbook
# forms: the DAG keeps every argument within [−4, 4], where they are accurate).
def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def _log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x))


def _relu(x: float) -> float:
    return x if x > 0 else 0.0


_FLOAT_FUNCTIONS = {  # the unary ops that are methods, not operators
    "exp": math.exp,
    "log": math.log,
    "sqrt": math.sqrt,
    "tanh": math.tanh,
    "sigmoid": _sigmoid,
    "relu": _relu,
    "softplus": _softplus,
    "log_sigmoid": _log_sigmoid,
    "sin": math.sin,
    "cos": math.cos,
}


def _float_op(op: str, operands: Sequence[float], arg: float | None) -> float:
    """``op`` on plain floats: the reference :meth:`ExpressionDag.evaluate` uses."""
    if op in _OPERATORS:
        return float(_OPERATORS[op](*operands))
    (x,) = operands
    if op in ("pow_const", "leaky_relu"):
        assert arg is not None, f"{op} takes its constant as arg"
        return float(x**arg) if op == "pow_const" else (x if x > 0 else arg * x)
    return float(_FLOAT_FUNCTIONS[op](x))


@dataclass(frozen=True, repr=False)
class ExpressionDag:
    """A random scalar expression over ``n_inputs`` inputs, as data (drawn by :func:`expression_dags`).

    ``inputs`` are the input values it was drawn for: the domain guards in ``steps`` (shifts and
    scales by constants, each with a ``note``) keep every op inside its domain and away from its
    kinks *near these values*. Node ``i`` is input ``i`` for ``i < n_inputs``, then step
    ``i − n_inputs``; the output is the last node.

    Example::

        >>> dag = ExpressionDag((0.5,), (DagStep("tanh", (0,)), DagStep("mul", (1, 0))))
        >>> x = dag.new_inputs(); y = dag.build(x)      # y = tanh(x0) · x0, a Value graph
        >>> round(y.data, 6) == round(dag.evaluate(), 6)
        True
    """

    inputs: tuple[float, ...]
    steps: tuple[DagStep, ...]

    @property
    def n_inputs(self) -> int:
        return len(self.inputs)

    def new_inputs(self, prefix: str = "x") -> list[Value]:
        """Fresh leaf ``Value`` s holding :attr:`inputs`, labelled ``x0, x1, ...``."""
        return [Value(x, label=f"{prefix}{i}") for i, x in enumerate(self.inputs)]

    def build(self, values: Sequence[Any]) -> Any:
        """Build the graph on ``values`` (Values, or Tensors for elementwise use); return the output."""
        if len(values) != self.n_inputs:
            raise ValueError(f"ExpressionDag.build: expected {self.n_inputs} inputs, got {len(values)}")
        nodes = list(values)
        for step in self.steps:
            nodes.append(apply_op(step.op, _lookup(step.operands, nodes), step.arg))
        return nodes[-1]

    def __call__(self, *values: Any) -> Any:
        """``dag(x0, x1, ...)`` is ``dag.build([x0, x1, ...])``, handy for :func:`gradcheck`."""
        return self.build(values)

    def node_values(self, values: Sequence[float] | None = None) -> list[float]:
        """Every node's value in plain float64 maths (``values`` defaults to :attr:`inputs`)."""
        nodes = [float(x) for x in (self.inputs if values is None else values)]
        for step in self.steps:
            nodes.append(_float_op(step.op, _lookup(step.operands, nodes), step.arg))
        return nodes

    def evaluate(self, values: Sequence[float] | None = None) -> float:
        """The output in plain float64 maths, independent of the engine (the reference)."""
        return self.node_values(values)[-1]

    def _name(self, operand: Any) -> str:
        if isinstance(operand, Const):
            return repr(operand)
        return f"x{operand}" if operand < self.n_inputs else f"v{operand}"

    def __repr__(self) -> str:
        values = self.node_values()
        lines = ["ExpressionDag(", "  inputs: " + ", ".join(f"x{i}={x!r}" for i, x in enumerate(self.inputs))]
        for offset, step in enumerate(self.steps):
            index = self.n_inputs + offset
            args = [self._name(o) for o in step.operands]
            if step.op == "pow_const":
                args.append(f"p={step.arg:g}")
            elif step.op == "leaky_relu":
                args.append(f"slope={step.arg:g}")
            text = f"  v{index} = {step.op}({', '.join(args)})"
            text = f"{text:<34} → {values[index]:.6g}"
            lines.append(f"{text}    # {step.note}" if step.note else text)
        lines += [f"  output = {self._name(len(values) - 1)}", ")"]
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """Pretty printers (Hypothesis' falsifying examples, IPython) show the readable repr too."""
        printer.text(repr(self))


class _DagBuilder:
    """Grows an :class:`ExpressionDag`, tracking node values so guards can be chosen."""

    def __init__(self, inputs: Sequence[float]):
        self.inputs = tuple(float(x) for x in inputs)
        self.values = list(self.inputs)
        self.steps: list[DagStep] = []

    def push(self, op: str, operands: tuple, arg: float | None = None, note: str = "") -> int:
        self.values.append(_float_op(op, _lookup(operands, self.values), arg))
        self.steps.append(DagStep(op, operands, arg, note))
        return len(self.values) - 1

    # Domain guards: each returns a node index whose value satisfies the condition.

    def bounded(self, node: int, limit: float, why: str) -> int:
        """Scale by a power of 1/2 so that |value| ≤ limit."""
        size = abs(self.values[node])
        if size <= limit:
            return node
        scale = 0.5
        while size * scale > limit:
            scale *= 0.5
        return self.push("mul", (node, Const(scale)), note=why)

    def away_from_zero(self, node: int, margin: float, why: str) -> int:
        """Shift by ±1 so that |value| ≥ margin (margin ≤ 1)."""
        value = self.values[node]
        if abs(value) >= margin:
            return node
        return self.push("add", (node, Const(1.0 if value >= 0 else -1.0)), note=why)

    def at_least(self, node: int, low: float, why: str) -> int:
        """Shift by a whole number so that value ≥ 2·low."""
        value = self.values[node]
        if value >= low:
            return node
        return self.push("add", (node, Const(float(math.ceil(2 * low - value)))), note=why)

    def join_sinks(self) -> None:
        """Add up every node nothing uses (unused inputs too), so all of them reach the output."""
        used = {o for step in self.steps for o in step.operands if not isinstance(o, Const)}
        sinks = [i for i in range(len(self.values)) if i not in used]
        root = sinks[0]
        for sink in sinks[1:]:
            root = self.push("add", (root, sink), note="join unused results into the output")

    def dag(self) -> ExpressionDag:
        return ExpressionDag(self.inputs, tuple(self.steps))


def _pick(draw, builder: _DagBuilder) -> int:
    """An existing node, shrinking towards the newest one (so simple examples are chains)."""
    st, _ = hypothesis_modules()
    back = draw(st.integers(0, len(builder.values) - 1))
    return len(builder.values) - 1 - back


def _draw_op_step(draw, builder: _DagBuilder, op: str) -> None:
    """Append ``op`` on drawn operands, preceded by the guards its domain needs."""
    st, _ = hypothesis_modules()
    b = builder
    if op in _BINARY:
        if draw(st.booleans()):
            first: Any = Const(draw(st.sampled_from(_CONSTANTS)))  # reflected form: c ∘ v
        else:
            first = _pick(draw, b)
            if op == "pow":
                first = b.at_least(first, _POSITIVE, "pow: keep the base positive")
        second = _pick(draw, b)
        if op == "div":
            second = b.away_from_zero(second, _NONZERO, "div: keep the divisor away from 0")
        elif op == "pow":
            second = b.bounded(second, _EXP_BOUND, "pow: keep the exponent small")
        node = b.push(op, (first, second))
    else:
        x = _pick(draw, b)
        arg = None
        if op == "pow_const":
            arg = draw(st.sampled_from(_EXPONENTS))
            if arg != int(arg):
                x = b.at_least(x, _POSITIVE, "pow_const: fractional power needs a positive base")
            elif arg < 0:
                x = b.away_from_zero(x, _NONZERO, "pow_const: negative power, keep away from 0")
        elif op == "leaky_relu":
            arg = draw(st.sampled_from(_SLOPES))
            x = b.away_from_zero(x, _KINK, "leaky_relu: away from the kink at 0")
        elif op in ("relu", "abs"):
            x = b.away_from_zero(x, _KINK, f"{op}: away from the kink at 0")
        elif op in ("log", "sqrt"):
            x = b.at_least(x, _POSITIVE, f"{op}: keep the argument positive")
        elif op == "exp":
            x = b.bounded(x, _EXP_BOUND, "exp: keep the argument small")
        node = b.push(op, (x,), arg)
    b.bounded(node, _BOUND, f"keep values within ±{_BOUND:g}")


def _draw_expression_dag(draw, n_inputs: tuple[int, int], max_ops: int, ops: tuple, inputs) -> ExpressionDag:
    st, _ = hypothesis_modules()
    if inputs is None:
        n = draw(st.integers(*n_inputs))
        value = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False, allow_subnormal=False)
        inputs = [draw(value) for _ in range(n)]
    builder = _DagBuilder(inputs)
    for _ in range(draw(st.integers(1, max_ops))):
        _draw_op_step(draw, builder, draw(st.sampled_from(ops)))
    builder.join_sinks()
    return builder.dag()


def expression_dags(
    n_inputs: int | tuple[int, int] = (1, 4),
    max_ops: int = 8,
    ops: Sequence[str] = EXPRESSION_OPS,
    inputs: Sequence[float] | None = None,
):
    """Random scalar expression DAGs (:class:`ExpressionDag`) for property tests of ``Value``.

    Each DAG has 1..``max_ops`` drawn ops from ``ops`` (default: every op in
    :data:`EXPRESSION_OPS`) over ``n_inputs`` inputs (an int or a ``(min, max)`` range, values
    in [−2, 2]); operands are any earlier node, so subexpressions are shared and operands
    repeat (``x*x``). Some binary ops take a constant first operand (``2 ** v``, ``1.5 / v``).
    Guards keep every op in its domain and away from its kinks: log/sqrt/pow bases are shifted
    to ≥ 1, divisors and negative-power bases to |v| ≥ 0.5, relu/abs/leaky_relu inputs to
    |v| ≥ 0.1, exp arguments and pow exponents scaled to |v| ≤ 2, and every result to |v| ≤ 4.
    Results nothing uses (unused inputs too) are added into the output, so every input and
    node reaches it. ``inputs`` fixes the input values (to build several DAGs over the same
    point). The repr lists every step with its value and why each guard is there. Example::

        @given(expression_dags())
        def test_gradients(dag):
            gradcheck(dag, *dag.new_inputs())     # dag(*values) builds the Value graph
    """
    if isinstance(n_inputs, (int, Integral)):  # int spelled out so the type checker narrows it
        n_inputs = (int(n_inputs), int(n_inputs))
    low, high = n_inputs
    if not 1 <= low <= high:
        raise ValueError(f"expression_dags: n_inputs must be ≥ 1 and min ≤ max, got {n_inputs!r}")
    if not isinstance(max_ops, Integral) or max_ops < 1:
        raise ValueError(f"expression_dags: max_ops must be an int ≥ 1, got {max_ops!r}")
    ops = tuple(ops)
    unknown = [op for op in ops if op not in EXPRESSION_OPS]
    if not ops or unknown:
        raise ValueError(
            f"expression_dags: ops must be a non-empty subset of EXPRESSION_OPS, got unknown {unknown!r}"
        )
    if inputs is not None:
        inputs = tuple(float(x) for x in inputs)
        if not inputs:
            raise ValueError("expression_dags: inputs must hold at least one value")
    return composite_strategy(_draw_expression_dag)((low, high), int(max_ops), ops, inputs)
