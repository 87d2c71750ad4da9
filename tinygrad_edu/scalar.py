"""``Value``: a scalar node of an explicit computation graph.

A ``Value`` holds its number (``data``), its gradient (``grad``), and, as plain tuples, its
``parents`` and the ``local_grads`` ∂self/∂parent evaluated when it was computed. There are no
closures: the maths lives in :mod:`tinygrad_edu.rules` and ``backward()`` is the single loop of
:mod:`tinygrad_edu.graph`. Nodes reference only their parents, never their children, so the
engine creates no reference cycles and Python frees graphs without the cycle collector.

Example::

    >>> a = Value(2.0, label="a"); b = Value(-3.0, label="b")
    >>> y = (a * b + 1).tanh(); y.backward()
    >>> y.local_grads        # (1 − tanh²(−5),)
    (0.00018158323094380672,)
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

from . import graph, rules
from .errors import AnomalyError
from .formulas import LIFTED
from .modes import state
from .node import fill_node
from .numerics import ScalarMath as M
from .numerics import to_float

_new = object.__new__


class Value:
    """A scalar in a computation graph. ``Value(data, label="")``.

    Args:
        data: a real number (int, float, bool, numpy scalar); stored as a Python float (an int
            beyond the float range becomes ±inf, as IEEE rounds it).
        label: a name shown in pictures and chain-rule text.

    Raises:
        TypeError: if ``data`` is not a real number or ``label`` not a str.
    """

    __slots__ = ("data", "grad", "parents", "local_grads", "op", "label", "arg", "scope", "requires_grad")
    # the node contract (tinygrad_edu.node.Node), for the type checker: the slots above
    data: float
    grad: float
    parents: tuple
    local_grads: tuple
    op: str
    label: str
    arg: Any
    scope: Any
    #: True for every Value the engine makes: every Value takes part in backprop (tensors may
    #: opt out; see ``Tensor``).
    requires_grad: bool

    #: What ``grad`` holds before any gradient arrives (read by the backward loop).
    NO_GRAD = 0.0
    #: ``ndarray ∘ Value`` must call Value's reflected operator (which refuses arrays), not let
    #: numpy build an object array of Values, one graph per element (as ``Tensor`` does).
    __array_ufunc__ = None

    def __init__(self, data: Any, label: str = ""):
        if isinstance(data, Value):
            data = data.data
        elif not isinstance(data, Real):
            raise TypeError(_not_a_number("Value", data))
        if not isinstance(label, str):
            raise TypeError(f"Value: label must be a str, got {type(label).__name__}")
        fill_node(self, to_float(data), (), (), "", None, label, True)

    # --- arithmetic (each op is one node with one edge per operand) ---

    def __add__(self, other: Any) -> Value:
        return _binary("add", rules.add, self, other, "+")

    def __radd__(self, other: Any) -> Value:
        return _binary("add", rules.add, other, self, "+")

    def __sub__(self, other: Any) -> Value:
        return _binary("sub", rules.sub, self, other, "-")

    def __rsub__(self, other: Any) -> Value:
        return _binary("sub", rules.sub, other, self, "-")

    def __mul__(self, other: Any) -> Value:
        return _binary("mul", rules.mul, self, other, "*")

    def __rmul__(self, other: Any) -> Value:
        return _binary("mul", rules.mul, other, self, "*")

    def __truediv__(self, other: Any) -> Value:
        return _binary("div", rules.div, self, other, "/")

    def __rtruediv__(self, other: Any) -> Value:
        return _binary("div", rules.div, other, self, "/")

    def __pow__(self, exponent: Any) -> Value:
        """``x ** p``: a number exponent is a constant of the node; a ``Value`` one gets an edge."""
        if isinstance(exponent, Value):
            return _binary("pow", rules.pow_, self, exponent, "**")
        if isinstance(exponent, Real) and not isinstance(exponent, bool):
            return _unary("pow_const", rules.pow_const, self, to_float(exponent))
        raise TypeError(
            f"Value ** exponent: the exponent must be a real number or a Value, "
            f"got {type(exponent).__name__} ({exponent!r})"
        )

    def __rpow__(self, base: Any) -> Value:
        return _binary("pow", rules.pow_, base, self, "**")

    def __neg__(self) -> Value:
        return _unary("neg", rules.neg, self)

    def __pos__(self) -> Value:
        return self

    def __abs__(self) -> Value:
        return _unary("abs", rules.abs_, self)

    # --- elementwise functions ---

    def exp(self) -> Value:
        """eˣ; local derivative eˣ."""
        return _unary("exp", rules.exp, self)

    def log(self) -> Value:
        """ln x; local derivative 1/x."""
        return _unary("log", rules.log, self)

    def sqrt(self) -> Value:
        """√x; local derivative 1/(2√x)."""
        return _unary("sqrt", rules.sqrt, self)

    def tanh(self) -> Value:
        """tanh x; local derivative 1 − tanh²x."""
        return _unary("tanh", rules.tanh, self)

    def sigmoid(self) -> Value:
        """σ(x); local derivative σ(x)(1 − σ(x)) ≤ 0.25."""
        return _unary("sigmoid", rules.sigmoid, self)

    def relu(self) -> Value:
        """max(x, 0); local derivative 1 if x > 0 else 0."""
        return _unary("relu", rules.relu, self)

    def leaky_relu(self, slope: float = 0.01) -> Value:
        """x if x > 0 else slope·x; local derivative 1 or slope."""
        return _unary("leaky_relu", rules.leaky_relu, self, check_slope(slope))

    def softplus(self) -> Value:
        """ln(1 + eˣ); local derivative σ(x)."""
        return _unary("softplus", rules.softplus, self)

    def log_sigmoid(self) -> Value:
        """ln σ(x) (stable); local derivative 1 − σ(x)."""
        return _unary("log_sigmoid", rules.log_sigmoid, self)

    def sin(self) -> Value:
        """sin x; local derivative cos x."""
        return _unary("sin", rules.sin, self)

    def cos(self) -> Value:
        """cos x; local derivative −sin x."""
        return _unary("cos", rules.cos, self)

    # --- gradients ---

    def backward(self, grad: float | None = None) -> None:
        """Set ``.grad`` of every node this one depends on to ∂self/∂node (seed 1.0).

        Leaf gradients accumulate across calls (call :meth:`zero_grad` to reset), as in
        PyTorch. Iterative: works for graphs of any depth.
        """
        graph.backward(self, grad)

    def seed_grad(self, grad: Any) -> float:
        """The gradient the backward pass starts from: ``grad``, or 1.0 when None."""
        if grad is None:
            return 1.0
        if isinstance(grad, Real) and not isinstance(grad, bool):
            return to_float(grad)
        raise TypeError(f"Value.backward: grad must be a real number, got {type(grad).__name__}")

    def zero_grad(self) -> None:
        """Set ``.grad`` of this node and of every node it depends on back to 0."""
        graph.zero_grad(self)

    # --- conversions ---

    def item(self) -> float:
        return self.data

    def __float__(self) -> float:
        return self.data

    def __repr__(self) -> str:
        parts = [f"data={self.data:.4g}", f"grad={self.grad:.4g}"]
        if self.op:
            parts.append(f"op={self.op!r}")
        if self.label:
            parts.append(f"label={self.label!r}")
        return f"Value({', '.join(parts)})"


# --- node construction (the hot path: keep it lean) -------------------------------------
#
# Every op computes its rule (``compute(ScalarMath, *datas) -> (data, locals)``), refuses a
# non-finite result under ``detect_anomaly()``, and hands the node to ``fill_node``, which
# fills the slots (parents and locals are recorded unless ``no_grad()`` is on).


def _lift(other: Any, symbol: str) -> Value:
    """``other`` as a Value: numbers become constant leaves; anything else is a TypeError."""
    kind = type(other)
    if kind is Value:
        return other
    if kind is float:  # the common cases, without the ABC check below
        return fill_node(_new(Value), other, (), (), "", LIFTED, "", True)
    if kind is int:
        try:
            number = float(other)
        except OverflowError:  # an int beyond the float range: IEEE rounds it to ±inf
            number = to_float(other)
        return fill_node(_new(Value), number, (), (), "", LIFTED, "", True)
    if isinstance(other, Value):
        return other
    if isinstance(other, Real):  # numpy scalars, fractions, ...
        return fill_node(_new(Value), to_float(other), (), (), "", LIFTED, "", True)
    if type(other).__name__ == "Tensor":
        raise TypeError(
            f"cannot mix Value and Tensor in {symbol!r}: wrap the number as "
            f"Tensor(value.data) or take tensor.item()"
        )
    if hasattr(other, "shape") and hasattr(other, "dtype"):
        raise TypeError(
            f"cannot combine a Value with a numpy array in {symbol!r} (shape {other.shape}): a "
            "Value is one number; use Tensor(array) for arrays, or float(x) for one element"
        )
    raise TypeError(
        f"unsupported operand for Value {symbol!r}: {type(other).__name__} ({other!r:.40}); "
        "expected a Value or a real number"
    )


def _unary(op: str, compute, x: Value, arg: Any = None) -> Value:
    if arg is None:
        data, local_grads = compute(M, x.data)
    else:
        data, local_grads = compute(M, x.data, arg)
    if state.anomaly and not math.isfinite(data):
        raise AnomalyError(_forward_anomaly(op, data, (x,)), op=op, phase="forward")
    if state.grad_enabled:
        return fill_node(_new(Value), data, (x,), local_grads, op, arg, "", True)
    return fill_node(_new(Value), data, (), (), op, arg, "", True)


def _binary(op: str, compute, a: Any, b: Any, symbol: str) -> Value:
    """``a op b`` for a rule of two inputs; one operand may be a number (lifted to a constant)."""
    if a.__class__ is not Value or b.__class__ is not Value:  # one is the Value whose operator ran
        a = _lift(a, symbol)
        b = _lift(b, symbol)
    data, local_grads = compute(M, a.data, b.data)
    if state.anomaly and not math.isfinite(data):
        raise AnomalyError(_forward_anomaly(op, data, (a, b)), op=op, phase="forward")
    if state.grad_enabled:
        return fill_node(_new(Value), data, (a, b), local_grads, op, None, "", True)
    return fill_node(_new(Value), data, (), (), op, None, "", True)


def lift(other: Any, symbol: str) -> Value:
    """Public: ``other`` as an operand of a scalar op (numbers become constant leaves, named by
    their value in formulas; anything else is a TypeError naming ``symbol``)."""
    return _lift(other, symbol)


def apply(op: str, compute, inputs: tuple, arg: Any = None) -> Value:
    """Public node construction for a scalar rule: what every built-in op does, for any arity.

    ``compute(ScalarMath, *datas[, arg]) -> (data, locals)`` gives the output and one local
    derivative per input; the node then records parents and locals unless ``no_grad()`` is on,
    raises under ``detect_anomaly()`` if the output is not finite, and is stamped with the
    current name scope. :func:`tinygrad_edu.ops.apply` validates a user rule's results first.
    """
    inputs = tuple(inputs)
    datas = [x.data for x in inputs]
    data, local_grads = compute(M, *datas) if arg is None else compute(M, *datas, arg)
    if state.anomaly and not math.isfinite(data):
        raise AnomalyError(_forward_anomaly(op, data, inputs), op=op, phase="forward")
    if state.grad_enabled:
        return fill_node(_new(Value), data, inputs, tuple(local_grads), op, arg, "", True)
    return fill_node(_new(Value), data, (), (), op, arg, "", True)


def _forward_anomaly(op: str, data: float, parents: tuple) -> str:
    inputs = ", ".join(f"{graph.describe(p)}={p.data:.6g}" for p in parents)
    return f"forward: op {op!r} produced {data} from inputs ({inputs})"


def check_slope(slope: Any, where: str = "leaky_relu", name: str = "slope") -> float:
    """The negative-side slope α of leaky ReLU as a float: a finite real number, not a bool.

    One check for ``Value.leaky_relu``, ``Tensor.leaky_relu``, ``nn.LeakyReLU`` and
    ``init.calculate_gain("leaky_relu", α)``, so they accept and refuse the same things: numpy
    scalars such as ``np.float32(0.1)`` are real numbers; ``True`` is refused (it is an int to
    Python, but ``LeakyReLU(True)`` is almost surely a mistaken argument, not α = 1).

    Raises:
        TypeError: ``slope`` is not a finite real number (or is a bool).
    """
    if not isinstance(slope, Real) or isinstance(slope, bool) or not math.isfinite(to_float(slope)):
        raise TypeError(f"{where}: {name} must be a finite real number, got {slope!r:.40}")  # 10**400: inf
    return float(slope)


def _not_a_number(where: str, data: Any) -> str:
    kind = type(data).__name__
    if isinstance(data, (list, tuple)) or hasattr(data, "shape"):
        return f"{where}: expected a single real number, got a {kind} ({data!r:.40}); use Tensor for arrays"
    return f"{where}: expected a real number, got {kind} ({data!r:.40})"
