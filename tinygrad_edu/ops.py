"""Your own op, first class: declare its forward and local derivatives once, like an entry of rules.py.

::

    from tinygrad_edu import op, Value, Tensor

    @op("softsign", forward="x / (1 + |x|)", locals=("1 / (1 + |x|)²",))
    def softsign(m, x):
        d = 1 + m.abs(x)
        return x / d, (1 / (d * d),)

    softsign(Value(0.7)); softsign(Tensor(np.ones(3), requires_grad=True))

The decorated function has exactly the shape of a rule of :mod:`tinygrad_edu.rules`:
``compute(m, *inputs[, constant]) -> (output, locals)``, where ``m`` is
:class:`~tinygrad_edu.numerics.ScalarMath` (floats, for ``Value``) or
:class:`~tinygrad_edu.numerics.ArrayMath` (numpy arrays, for ``Tensor``) and ``locals[i]`` is
∂output/∂input_i at the forward values. :func:`op` puts it into :data:`~tinygrad_edu.rules.RULES`
with its formulas, so ``trace``, ``backward_steps``, the pictures and the viewer show the op with
its formula in the graph's own names; every node is built by :func:`apply`, the same path the
built-in ops take, so ``no_grad``, ``detect_anomaly``, name scopes, broadcasting (the gradient
summed back to each operand's shape) and float32 work as for ``+`` or ``tanh``.

What :func:`apply` checks on a user op's every result, before any node exists (a wrong local
would otherwise pass silently and poison every gradient behind it):

* one local per input (:class:`~tinygrad_edu.errors.OpError` naming the op);
* for a ``Value``: numbers; for an elementwise ``Tensor`` op: an output of the operands'
  broadcast shape and locals that are numbers or arrays broadcasting to it
  (:class:`~tinygrad_edu.errors.ShapeError` naming the op, the input and both shapes);
* for a tensor-only op (``elementwise=False``), each local is a *linear map*: an object with
  ``local * upstream`` → the gradient for that input (an array of the input's shape),
  ``summary()`` (a short text for pictures) and ``note`` (text added to the edge's formula, often
  ""): the protocol of :class:`tinygrad_edu.jacobians.Local` — subclass it. The shape is probed
  once per node by applying the map to a zero upstream.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from numbers import Real
from typing import Any

import numpy as np

from . import expr, rules, scalar, tensor
from .errors import OpError, ShapeError
from .numerics import ScalarMath
from .rules import RULES, Rule
from .scalar import Value
from .tensor import Tensor

#: The ops declared with :func:`op`, by name (every other entry of ``RULES`` is a built-in).
USER_OPS: dict[str, Op] = {}


def op(
    name: str,
    *,
    forward: str,
    locals: tuple[str, ...],  # noqa: A002 - the rule table's own word
    symbol: str | None = None,
    inputs: tuple[str, ...] | None = None,
    constant: str | None = None,
    replace: bool = False,
    expression: bool = False,
    elementwise: bool = True,
) -> Callable[[Callable], Op]:
    """Declare a user op: ``@op(name, forward=..., locals=(...))`` on ``compute(m, *inputs)``.

    Args:
        name: the op's name, stored in ``node.op`` (a Python identifier, not a built-in's).
        forward: the forward maths as text, e.g. ``"x / (1 + |x|)"``.
        locals: one formula per input, the local derivative ∂out/∂input_i as text.
        symbol: the glyph drawn on the node (default: the name).
        inputs: the placeholder of each input in the formulas (default: the parameter names of
            ``compute`` after ``m``); pictures replace them by the graph's own names.
        constant: the placeholder of a constant argument (a number that is not a graph input,
            like the ``p`` of ``x^p``): the last parameter of ``compute``; a default value
            there makes it optional. The op is then called ``f(x, 0.5)``.
        replace: replace an earlier user op of the same name (else that is an error).
        expression: also make the op callable in expressions (``tinygrad-edu graph "f(x)"``,
            the viewer's command box); needs an elementwise op.
        elementwise: True (default): one definition for ``Value`` and ``Tensor``, locals are
            elementwise derivatives. False: a tensor-only op whose locals are linear maps (see
            the module docstring).

    Returns:
        a decorator turning ``compute`` into an :class:`Op` (callable on Values and Tensors).

    Raises:
        TypeError: a non-str name or formula, a non-callable ``compute``.
        OpError: no locals, a count of locals that does not match ``compute``'s inputs, a name
            already registered (without ``replace=True``) or taken by a built-in.
    """
    if not isinstance(name, str):
        raise TypeError(f"op: the name must be a str, got {type(name).__name__} ({name!r:.40})")
    if not name.isidentifier():
        raise OpError(f"op: the name must be a Python identifier such as 'softsign', got {name!r}", name)
    if not isinstance(forward, str) or not forward:
        raise TypeError(
            f"op {name!r}: forward must be the forward maths as a non-empty str, got {forward!r:.40}"
        )
    if isinstance(locals, str):
        raise OpError(
            f"op {name!r}: locals must be a tuple with one formula per input, e.g. locals=({locals!r},)", name
        )
    if not isinstance(locals, (tuple, list)) or not locals:
        raise OpError(
            f"op {name!r}: declare one local-derivative formula per input, e.g. "
            f"locals=('1 / (1 + |x|)²',); got {locals!r:.60}",
            name,
        )
    if not all(isinstance(text, str) for text in locals):
        raise TypeError(f"op {name!r}: every local formula must be a str, got {locals!r:.60}")
    for what, text in (("symbol", symbol), ("constant", constant)):
        if text is not None and (not isinstance(text, str) or not text):
            raise TypeError(f"op {name!r}: {what} must be a non-empty str or None, got {text!r}")
    if expression and not elementwise:
        raise OpError(
            f"op {name!r}: expressions are scalar, so expression=True needs an elementwise op", name
        )
    _check_name_free(name, replace)

    def declare(compute: Callable) -> Op:
        if not callable(compute):
            raise TypeError(
                f"op {name!r}: decorate a function compute(m, *inputs), got {type(compute).__name__}"
            )
        placeholders, default = _signature(name, compute, len(locals), constant, inputs)
        _check_name_free(name, replace)  # again: the decorator may run later than op()
        entry = Rule(name, symbol or name, forward, tuple(locals), compute, placeholders, constant)
        user_op = Op(entry, elementwise, default)
        previous = USER_OPS.get(name)
        if previous is not None and previous.expression:
            expr.unregister_function(name)
        if expression:
            expr.register_function(name, user_op, len(locals), constant is not None, default is not _NONE)
        user_op.expression = bool(expression)
        RULES[name] = entry
        USER_OPS[name] = user_op
        return user_op

    return declare


def remove(name: str) -> None:
    """Forget the user op ``name`` (its rule, and its expression function). Built-ins stay."""
    if name not in USER_OPS:
        raise OpError(f"remove: {name!r} is not a user op (user ops: {sorted(USER_OPS)})", str(name))
    user_op = USER_OPS.pop(name)
    if user_op.expression:
        expr.unregister_function(name)
    RULES.pop(name, None)


_NONE = object()  # "no default value" for a constant


class Op:
    """A user op made by :func:`op`: call it on Values or Tensors (numbers are lifted).

    Attributes:
        rule: its :class:`~tinygrad_edu.rules.Rule` in ``RULES``.
        name, arity: the op's name and number of graph inputs.
        elementwise: whether one definition serves Value and Tensor (else Tensor only).
        default: the constant's default value (see :attr:`has_default`).
        expression: whether expressions (``tinygrad-edu graph``) may call it.
    """

    def __init__(self, rule: Rule, elementwise: bool, default: Any):
        self.rule = rule
        self.elementwise = elementwise
        self.default = default
        self.expression = False
        self.__wrapped__ = rule.compute
        self.__doc__ = rule.compute.__doc__

    @property
    def name(self) -> str:
        return self.rule.op

    @property
    def arity(self) -> int:
        return len(self.rule.locals)

    @property
    def has_default(self) -> bool:
        return self.default is not _NONE

    def __call__(self, *operands: Any) -> Any:
        n = self.arity
        if self.rule.constant is None:
            if len(operands) != n:
                raise TypeError(f"{self.name}: takes {n} input(s) {self.rule.inputs}, got {len(operands)}")
            return apply(self, *operands)
        if len(operands) == n and self.has_default:
            operands = (*operands, self.default)
        if len(operands) != n + 1:
            raise TypeError(
                f"{self.name}: takes {n} input(s) {self.rule.inputs} and the constant "
                f"{self.rule.constant!r}, got {len(operands)} argument(s)"
            )
        constant = operands[-1]
        if constant is None or isinstance(constant, (Value, Tensor)):
            raise TypeError(
                f"{self.name}: the constant {self.rule.constant!r} must be a plain value (a number), "
                f"not {type(constant).__name__}; graph inputs go first"
            )
        return apply(self, *operands[:-1], arg=constant)

    def __repr__(self) -> str:
        return f"<op {self.name!r}: {self.rule.forward}>"

    # --- the checks every result of the user's compute goes through ---

    def compute(self, m: Any, *args: Any) -> tuple:
        """The user's ``compute`` with its result checked (see the module docstring)."""
        result = self.rule.compute(m, *args)
        datas = args[: self.arity]
        if not isinstance(result, tuple) or len(result) != 2:
            raise OpError(
                f"op {self.name!r}: compute must return (output, locals), got {type(result).__name__}",
                self.name,
            )
        out, locals_ = result
        if not isinstance(locals_, (tuple, list)) or len(locals_) != self.arity:
            count = (
                len(locals_)
                if isinstance(locals_, (tuple, list))
                else f"a {type(locals_).__name__}, not a tuple of"
            )
            raise OpError(
                f"op {self.name!r}: compute returned {count} local derivative(s) for {self.arity} input(s) "
                f"{self.rule.inputs}; return a tuple with one local per input, in order",
                self.name,
            )
        if m is ScalarMath:
            return self._scalar(out, locals_)
        return self._tensor(out, locals_, datas)

    def _scalar(self, out: Any, locals_: Any) -> tuple:
        if not isinstance(out, Real):
            raise ShapeError(f"op {self.name!r}: on a Value the output must be a number, got {_what(out)}")
        checked = []
        for placeholder, local in zip(self.rule.inputs, locals_):
            if not isinstance(local, Real):
                raise ShapeError(
                    f"op {self.name!r}: on a Value the local ∂out/∂{placeholder} must be a number, "
                    f"got {_what(local)}"
                )
            checked.append(float(local))
        return float(out), tuple(checked)

    def _tensor(self, out: Any, locals_: Any, datas: tuple) -> tuple:
        out = np.asarray(out)
        dtype = np.result_type(*datas)
        if out.dtype != dtype and out.dtype.kind == "f":
            out = out.astype(dtype)  # float32 stays float32, as in every built-in op
        if self.elementwise:
            shape = np.broadcast_shapes(*(d.shape for d in datas))
            if out.shape != shape:
                raise ShapeError(
                    f"op {self.name!r}: an elementwise op must return the operands' broadcast shape {shape}, "
                    f"got an output of shape {out.shape}"
                )
        checked = []
        for placeholder, data, local in zip(self.rule.inputs, datas, locals_):
            checked.append(self._local(placeholder, data, local, out))
        return out, tuple(checked)

    def _local(self, placeholder: str, data: np.ndarray, local: Any, out: np.ndarray) -> Any:
        where = f"op {self.name!r}: the local ∂out/∂{placeholder}"
        if isinstance(local, Real):
            if not self.elementwise and data.shape != out.shape:
                raise ShapeError(
                    f"{where} is a number, but the input {data.shape} and output {out.shape} differ in shape"
                )
            return float(local)
        if isinstance(local, np.ndarray):
            if self.elementwise:
                if local.shape and not _broadcasts_to(local.shape, out.shape):
                    raise ShapeError(
                        f"{where} has shape {local.shape}, which does not fit the output's shape "
                        f"{out.shape}: an elementwise local is ∂out/∂input at every output element "
                        "(that shape, or one that broadcasts to it)"
                    )
            elif local.shape != out.shape or data.shape != out.shape:
                raise ShapeError(
                    f"{where} is an array of shape {local.shape}; with input {data.shape} and output "
                    f"{out.shape} it must be a linear map (local * upstream → the input's gradient)"
                )
            return local.astype(out.dtype, copy=False) if local.dtype != out.dtype else local
        if self.elementwise:
            raise ShapeError(f"{where} must be a number or an array, got {_what(local)}")
        missing = [n for n in ("__mul__", "summary", "note") if not hasattr(local, n)]
        if missing:
            raise TypeError(
                f"{where} is a {type(local).__name__} without {', '.join(missing)}: a linear-map local needs "
                "local * upstream, summary() and note (subclass tinygrad_edu.jacobians.Local)"
            )
        probe = local * np.zeros(out.shape, out.dtype)
        if not isinstance(probe, np.ndarray) or probe.shape != data.shape:
            raise ShapeError(
                f"{where}: local * upstream (upstream of the output's shape {out.shape}) gave "
                f"{_what(probe)}; it must be the gradient of the input, an array of shape {data.shape}"
            )
        return local


def apply(rule: Any, *inputs: Any, arg: Any = None) -> Any:
    """Build one node of ``rule`` on ``inputs``: the public way to add a node to a graph.

    ``rule`` is an :class:`Op`, a :class:`~tinygrad_edu.rules.Rule` or a name in ``RULES``.
    Inputs are Values (a scalar node) or Tensors (a tensor node); plain numbers among them are
    lifted to constants like the ``1`` of ``x + 1``. ``arg`` is the rule's constant, if any.
    The node is built by the engine's own constructors (:func:`tinygrad_edu.scalar.apply`,
    :func:`tinygrad_edu.tensor.apply_elementwise` or :func:`tinygrad_edu.tensor.apply`), so modes,
    scopes, broadcasting and dtypes behave as for every built-in op.

    Raises:
        TypeError: no Value or Tensor among the inputs, Values mixed with Tensors, an op that is
            tensor-only given Values.
        OpError, ShapeError: a user op's result fails its checks (nothing is built).
    """
    if isinstance(rule, str):
        if rule not in RULES:
            raise OpError(f"apply: no rule named {rule!r}", rule)
        rule = USER_OPS.get(rule, RULES[rule])
    if isinstance(rule, Op):
        name, compute, elementwise = rule.name, rule.compute, rule.elementwise
    elif isinstance(rule, Rule):
        name, compute, elementwise = rule.op, rule.compute, rule.compute.__module__ == rules.__name__
    else:
        raise TypeError(f"apply: rule must be an op, a Rule or a rule's name, got {type(rule).__name__}")
    if not inputs:
        raise TypeError(f"{name}: needs at least one input")
    like = next((x for x in inputs if isinstance(x, (Tensor, Value))), None)
    if like is None:
        raise TypeError(
            f"{name}: needs a Value or a Tensor among its inputs, got "
            f"{', '.join(type(x).__name__ for x in inputs)}"
        )
    if isinstance(like, Value):
        if not elementwise:
            raise TypeError(f"{name}: a tensor-only op (its locals are linear maps); call it on Tensors")
        values = tuple(scalar.lift(x, name) for x in inputs)
        return scalar.apply(name, compute, values, arg)
    operands = tuple(tensor.lift(x, like, name) for x in inputs)
    if elementwise:
        return tensor.apply_elementwise(name, compute, operands, arg)
    return tensor.apply(name, compute, operands, tensor.NO_ARG if arg is None else arg)


# --- declaration checks ----------------------------------------------------------------------


def _check_name_free(name: str, replace: bool) -> None:
    if name in RULES and name not in USER_OPS:
        raise OpError(
            f"op {name!r}: that is a built-in rule, which a user op may not replace; pick another name", name
        )
    if name in USER_OPS and not replace:
        where = USER_OPS[name].rule.compute
        raise OpError(
            f"op {name!r} is already registered (by {where.__module__}.{where.__qualname__}); "
            "pass replace=True to replace it",
            name,
        )
    if name in expr.FUNCTIONS and name not in USER_OPS:
        raise OpError(f"op {name!r}: that is a built-in function of expressions; pick another name", name)


def _signature(name: str, compute: Callable, count: int, constant: str | None, inputs: Any) -> tuple:
    """The formulas' input placeholders and the constant's default, checked against ``compute``."""
    try:
        parameters = list(inspect.signature(compute).parameters.values())
    except (TypeError, ValueError):
        parameters = None
    default: Any = _NONE
    names: tuple = ()
    if parameters is not None and not any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in parameters):
        wanted = 1 + count + (constant is not None)
        shown = f"{getattr(compute, '__name__', name)}({', '.join(p.name for p in parameters)})"
        if len(parameters) != wanted:
            extra = " and the constant" if constant is not None else ""
            raise OpError(
                f"op {name!r}: locals declares {count} local derivative(s), one per input, so compute "
                f"must take m, {count} input(s){extra}; but it is {shown}",
                name,
            )
        names = tuple(p.name for p in parameters[1 : 1 + count])
        if constant is not None and parameters[-1].default is not inspect.Parameter.empty:
            default = parameters[-1].default
    if inputs is None:
        inputs = names or (
            ("x",) if count == 1 else ("a", "b") if count == 2 else tuple(f"x{i}" for i in range(count))
        )
    if (
        not isinstance(inputs, (tuple, list))
        or len(inputs) != count
        or not all(isinstance(i, str) for i in inputs)
    ):
        raise OpError(f"op {name!r}: inputs must name the {count} input(s) as strs, got {inputs!r}", name)
    return tuple(inputs), default


def _broadcasts_to(shape: tuple, target: tuple) -> bool:
    """Whether an array of ``shape`` broadcasts to ``target`` (without growing it)."""
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def _what(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape}"
    return f"a {type(x).__name__} ({x!r:.40})"
