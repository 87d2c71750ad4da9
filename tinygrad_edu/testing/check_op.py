"""``check_op``: property-test an op's derivative with one call.

For every example Hypothesis draws — input shapes (broadcasting against each other for an op of
several inputs), input values in each input's domain and away from its kinks, and a random
upstream gradient ``u`` of the output's shape (never all ones, so a local summed the wrong way
cannot hide) — :func:`check_op` checks, in this order:

1. **nothing is mutated**: ``out.backward(u)`` leaves every input's data and ``u`` bit for bit
   as they were, and gives every input a gradient of its own shape and dtype;
2. **the vector-Jacobian product**: the gradient of ⟨u, f(x)⟩ from ``backward()`` against
   central finite differences (:func:`~tinygrad_edu.testing.gradcheck`, run on
   ``(f(x) * u).sum()``), and, with ``complex_step=True``, against the complex-step derivative
   ``Im ⟨u, f(x + i·h·e_j)⟩ / h`` (exact to rounding: no subtraction, so h can be 1e-20);
3. **the two engines agree**: for an elementwise op, one ``Value`` graph per output element
   gives the same output and, summed back over broadcasting, the same gradients as the
   ``Tensor`` graph;
4. for float32 inputs, the float32 gradients match the float64 ones to float32 precision.

A failure raises :class:`OpCheckError` naming the op, the check, the input and element, the
analytic and numeric values and the drawn inputs; Hypothesis then shrinks to the smallest
failing example, so the report is the simplest case that shows the bug.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from numbers import Real
from typing import Any, Literal

import numpy as np

from ..errors import TinygradEduError
from ..formatting import short_number
from ..numerics import ArrayMath
from ..ops import USER_OPS, Op, apply
from ..rules import RULES
from ..scalar import Value
from ..tensor import Tensor
from .check import gradcheck
from .report import GradcheckError

#: The named domains ``check_op`` accepts (a ``(low, high)`` pair works too).
DOMAIN_BOUNDS = {"real": (-3.0, 3.0), "positive": (0.25, 3.0), "unit": (0.0625, 0.9375)}


class OpCheckError(TinygradEduError, AssertionError):
    """``check_op`` found a derivative (or a side effect) that is wrong.

    Attributes:
        op: the op's name. check: which check failed (``"gradient"``, ``"complex step"``,
        ``"mutation"``, ``"scalar vs tensor"``, ``"float32"``, ``"shape"``).
        position: the input (None when not about one input). index: its element.
        analytic, numeric: the two values compared (None for a mutation).
    """

    def __init__(
        self, message: str, op: str, check: str, position=None, index=None, analytic=None, numeric=None
    ):
        super().__init__(message)
        self.op, self.check, self.position, self.index = op, check, position, index
        self.analytic, self.numeric = analytic, numeric


class OpCheckResult:
    """What a passing :func:`check_op` ran: ``op``, ``examples`` and the ``checks`` made."""

    def __init__(self, op: str, examples: int, checks: tuple):
        self.op, self.examples, self.checks = op, examples, checks

    def __repr__(self) -> str:
        return f"OpCheckResult({self.op!r}: {self.examples} examples, checks {', '.join(self.checks)})"


def check_op(
    fn: Any,
    *,
    domain: Any = "real",
    arity: int | None = None,
    dtype: Any = np.float64,
    exclude: Any = (),
    constant: Any = None,
    shapes: Any = None,
    scalar: bool | None = None,
    complex_step: bool = False,
    distinct: bool = False,
    margin: float = 0.05,
    max_examples: int = 20,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> OpCheckResult:
    """Property-test the derivative of ``fn`` with Hypothesis (see the module docstring).

    Args:
        fn: an op from :func:`tinygrad_edu.op`, a rule's name (``"tanh"``), or any function of
            Tensors (and Values, for the engine comparison) returning a Tensor (a Value).
        domain: where inputs are drawn: ``"real"`` [−3, 3], ``"positive"`` [0.25, 3],
            ``"unit"`` [1/16, 15/16] or a ``(low, high)`` pair (e.g. ``(-50, 50)`` to test
            far from 0); one for all inputs or a tuple with one per input.
        arity: the number of graph inputs (default: the op's, or ``fn``'s parameter count).
        dtype: float64 (default) or float32 inputs.
        exclude: points (kinks) kept at least ``margin`` away from: ``(0,)`` for relu, or one
            tuple per input.
        constant: the op's constant argument (the ``p`` of ``x^p``), passed after the inputs.
        shapes: a Hypothesis strategy of a tuple of input shapes, or one fixed tuple of shapes
            (default: random shapes, broadcasting together when there are several inputs).
        scalar: also compare with the scalar engine (default: for elementwise ops and rules,
            and for plain functions).
        complex_step: also compare with the complex-step derivative (an op or rule whose
            compute is analytic: no ``abs``, ``relu``, ``sigmoid``).
        distinct: draw the elements of each input at least ``margin`` apart (ops with kinks at
            ties, like ``max``).
        margin: the distance kept from excluded points and between distinct elements.
        max_examples: how many examples Hypothesis draws.
        eps, atol, rtol: finite-difference step and tolerances (as in ``gradcheck``).

    Returns:
        an :class:`OpCheckResult`.

    Raises:
        OpCheckError: a check failed (after shrinking); errors the op raises propagate.
        TypeError, ValueError: bad settings.
    """
    spec = _Spec(fn, domain, arity, dtype, exclude, constant, shapes, scalar, complex_step, distinct, margin)
    if not isinstance(max_examples, int) or max_examples < 1:
        raise ValueError(f"check_op: max_examples must be an int ≥ 1, got {max_examples!r}")
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    count = [0]

    @settings(
        max_examples=max_examples,
        deadline=None,
        report_multiple_bugs=False,  # one report: the simplest example of the first bug found
        phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),  # no slow "explain"
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    @given(st.data())
    def run(data):
        count[0] += 1
        spec.example(data, eps, atol, rtol)

    run()
    return OpCheckResult(spec.name, count[0], spec.checks())


class _Spec:
    """The validated settings of one ``check_op`` call, and one example's checks."""

    def __init__(
        self, fn, domain, arity, dtype, exclude, constant, shapes, scalar, complex_step, distinct, margin
    ):
        self.rule = None
        if isinstance(fn, str):
            if fn not in RULES:
                raise ValueError(f"check_op: no rule named {fn!r}")
            self.rule = RULES[fn]
            self.name = fn
            user = USER_OPS.get(fn)
            self.elementwise = (
                user.elementwise if user else self.rule.compute.__module__ == "tinygrad_edu.rules"
            )
            n = len(self.rule.locals)
        elif isinstance(fn, Op):
            self.rule, self.name, self.elementwise, n = fn.rule, fn.name, fn.elementwise, fn.arity
        elif callable(fn):
            self.name = getattr(fn, "__name__", "fn")
            self.elementwise = True
            n = len([p for p in inspect.signature(fn).parameters.values() if p.default is p.empty])
        else:
            raise TypeError(
                f"check_op: fn must be an op, a rule's name or a function, got {type(fn).__name__}"
            )
        self.fn = fn
        self.arity = n if arity is None else arity
        if not isinstance(self.arity, int) or self.arity < 1:
            raise ValueError(f"check_op: arity must be an int ≥ 1, got {arity!r}")
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ValueError(f"check_op: dtype must be float32 or float64, got {self.dtype}")
        self.bounds = _per_input(domain, self.arity, _bounds, "domain")
        self.exclude = _per_input(exclude, self.arity, _points, "exclude")
        self.constant = constant
        self.shapes = shapes
        if not isinstance(margin, Real) or not margin > 0:
            raise ValueError(f"check_op: margin must be a number > 0, got {margin!r}")
        self.margin = float(margin)
        self.distinct = bool(distinct)
        self.scalar = (
            (self.elementwise if not callable(fn) or isinstance(fn, Op) else True)
            if scalar is None
            else scalar
        )
        if isinstance(fn, str):
            self.scalar = self.elementwise if scalar is None else scalar
        if complex_step and self.rule is None:
            raise ValueError(
                "check_op: complex_step needs an op or a rule's name (its compute is run on complex numbers)"
            )
        self.complex_step = bool(complex_step)

    def checks(self) -> tuple:
        found = ["mutation", "gradient"]
        if self.complex_step:
            found.append("complex step")
        if self.scalar:
            found.append("scalar vs tensor")
        if self.dtype == np.float32:
            found.append("float32")
        return tuple(found)

    def call(self, *operands):
        extra = () if self.constant is None else (self.constant,)
        if self.rule is not None and not isinstance(self.fn, Op):
            return apply(self.fn, *operands, arg=self.constant)
        return self.fn(*operands, *extra)

    # --- drawing ---

    def draw_inputs(self, data) -> list:
        from hypothesis import assume
        from hypothesis import strategies as st
        from hypothesis.extra import numpy as hnp

        from .strategies import broadcastable_shapes, shapes

        in_shapes: tuple[Any, ...]
        if self.shapes is None:
            if self.arity == 1:
                in_shapes = (data.draw(shapes(), label="shape"),)
            else:
                in_shapes = data.draw(broadcastable_shapes(self.arity), label="shapes")
        elif isinstance(self.shapes, st.SearchStrategy):
            in_shapes = tuple(data.draw(self.shapes, label="shapes"))
        else:
            in_shapes = tuple(tuple(s) for s in self.shapes)
        width: Literal[32, 64] = 32 if self.dtype == np.float32 else 64
        arrays = []
        for k, shape in enumerate(in_shapes):
            low, high = self.bounds[k]
            elements = st.floats(
                low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False, width=width
            )
            a = data.draw(
                hnp.arrays(self.dtype, shape, elements=elements, fill=st.nothing()), label=f"input {k}"
            )
            a = np.array(a, dtype=np.float64)
            for point in self.exclude[k]:
                near = np.abs(a - point) < self.margin
                a[near] = point + np.where(a[near] >= point, self.margin, -self.margin)
            a = np.asarray(np.clip(a, low, high))
            for point in self.exclude[k]:
                assume(not np.any(np.abs(a - point) < self.margin * 0.999))
            if self.distinct and a.size > 1:
                gaps = np.diff(np.sort(a.reshape(-1)))
                assume(bool(np.all(gaps >= self.margin)))
            arrays.append(a.astype(self.dtype))
        return arrays

    # --- one example ---

    def example(self, data, eps, atol, rtol) -> None:
        from hypothesis import strategies as st
        from hypothesis.extra import numpy as hnp

        arrays = self.draw_inputs(data)
        inputs = [Tensor(a, requires_grad=True, label=f"x{k}") for k, a in enumerate(arrays)]
        out = self.call(*inputs)
        if not isinstance(out, Tensor):
            raise TypeError(f"check_op: {self.name} returned a {type(out).__name__} for Tensor inputs")
        elements = st.floats(0.25, 2.0, width=64).flatmap(lambda v: st.sampled_from((v, -v)))
        upstream = data.draw(
            hnp.arrays(np.float64, out.shape, elements=elements, fill=st.nothing()), label="upstream"
        )
        upstream = upstream.astype(out.dtype)
        context = example_text(arrays, upstream)
        self.check_backward(inputs, arrays, out, upstream, context)
        if self.complex_step:  # first: it is exact, so it also names errors below FD's noise
            self.check_complex(arrays, inputs, upstream, context, atol, rtol)
        self.check_gradient(arrays, upstream, context, eps, atol, rtol)
        if self.scalar:
            self.check_scalar(arrays, inputs, out, upstream, context)
        if self.dtype == np.float32:
            self.check_float32(arrays, inputs, upstream, context)

    def fail(self, check: str, text: str, context: str, **facts) -> OpCheckError:
        return OpCheckError(f"check_op {self.name!r}, {check}: {text}\n{context}", self.name, check, **facts)

    def check_backward(self, inputs, arrays, out, upstream, context) -> None:
        kept = upstream.copy()
        out.backward(upstream)
        for k, (x, a) in enumerate(zip(inputs, arrays)):
            if not np.array_equal(x.data, a, equal_nan=True):
                j = _first_difference(x.data, a)
                raise self.fail(
                    "mutation",
                    f"input {k} was changed by the forward or backward pass: element {j} was "
                    f"{a[j]!r}, is now {x.data[j]!r}",
                    context,
                    position=k,
                    index=j,
                )
            if x.grad is None or x.grad.shape != a.shape or x.grad.dtype != a.dtype:
                got = (
                    "no gradient" if x.grad is None else f"a gradient of shape {x.grad.shape}, {x.grad.dtype}"
                )
                raise self.fail(
                    "shape", f"input {k} of shape {a.shape}, {a.dtype} got {got}", context, position=k
                )
        arrived = out.grad  # the upstream as the op's edges saw it (backward's copy of it)
        if not np.array_equal(kept, upstream, equal_nan=True) or not np.array_equal(
            kept, arrived, equal_nan=True
        ):
            upstream = upstream if not np.array_equal(kept, upstream, equal_nan=True) else arrived
            j = _first_difference(upstream, kept)
            raise self.fail(
                "mutation",
                f"the upstream gradient was changed by backward: element {j} was {kept[j]!r}, "
                f"is now {upstream[j]!r}",
                context,
                index=j,
            )

    def check_gradient(self, arrays, upstream, context, eps, atol, rtol) -> None:
        inputs = [
            Tensor(a.astype(np.float64), requires_grad=True, label=f"x{k}") for k, a in enumerate(arrays)
        ]
        weight = Tensor(upstream.astype(np.float64))
        try:
            gradcheck(lambda *xs: (self.call(*xs) * weight).sum(), *inputs, eps=eps, atol=atol, rtol=rtol)
        except GradcheckError as error:
            worst = error.report.failures[0]
            raise self.fail(
                "gradient",
                f"the gradient of ⟨upstream, {self.name}(…)⟩ from backward() disagrees with central "
                f"finite differences: input {worst.position}, element {worst.index}: analytic "
                f"{worst.analytic:.10g}, numeric {worst.numeric:.10g} "
                f"(difference {short_number(worst.difference)})\n{error}",
                context,
                position=worst.position,
                index=worst.index,
                analytic=worst.analytic,
                numeric=worst.numeric,
            ) from None

    def check_complex(self, arrays, inputs, upstream, context, atol, rtol) -> None:
        h = 1e-20
        datas = [a.astype(np.complex128) for a in arrays]
        extra = () if self.constant is None else (self.constant,)
        u = upstream.astype(np.float64)
        for k, a in enumerate(datas):
            analytic = inputs[k].grad.astype(np.float64)
            for j in np.ndindex(a.shape):
                a[j] += 1j * h
                with np.errstate(all="ignore"):
                    out, _ = self.rule.compute(ArrayMath, *datas, *extra)
                a[j] -= 1j * h
                numeric = float(np.sum(u * np.imag(out)) / h)
                if not abs(analytic[j] - numeric) <= atol + rtol * abs(numeric):
                    raise self.fail(
                        "complex step",
                        f"input {k}, element {j}: analytic {analytic[j]:.10g}, complex-step {numeric:.10g}",
                        context,
                        position=k,
                        index=j,
                        analytic=float(analytic[j]),
                        numeric=numeric,
                    )

    def check_scalar(self, arrays, inputs, out, upstream, context) -> None:
        shape = out.shape
        leaves = [np.vectorize(lambda v: Value(float(v)), otypes=[object])(a) for a in arrays]
        wide = [np.broadcast_to(leaf, shape) if leaf.shape != shape else leaf for leaf in leaves]
        total = None
        for j in np.ndindex(shape):
            y = self.call(*(w[j] for w in wide))
            if not isinstance(y, Value):
                raise TypeError(
                    f"check_op: {self.name} returned a {type(y).__name__} for Value inputs; pass scalar=False"
                )
            tolerance = 1e-9 + 1e-7 * abs(y.data) if self.dtype == np.float64 else 1e-5 + 1e-4 * abs(y.data)
            if not abs(float(out.data[j]) - y.data) <= tolerance and not (
                np.isnan(out.data[j]) and np.isnan(y.data)
            ):
                raise self.fail(
                    "scalar vs tensor",
                    f"output element {j}: Tensor {float(out.data[j]):.10g}, Value {y.data:.10g}",
                    context,
                    index=j,
                )
            term = y * float(upstream[j])
            total = term if total is None else total + term
        if total is None:
            return
        total.backward()
        for k, (leaf, x) in enumerate(zip(leaves, inputs)):
            for j in np.ndindex(leaf.shape):
                got, want = float(x.grad[j]), leaf[j].grad
                tolerance = 1e-9 + 1e-7 * abs(want) if self.dtype == np.float64 else 1e-5 + 1e-3 * abs(want)
                if not abs(got - want) <= tolerance:
                    raise self.fail(
                        "scalar vs tensor",
                        f"input {k}, element {j}: Tensor gradient {got:.10g}, Value gradient {want:.10g}",
                        context,
                        position=k,
                        index=j,
                        analytic=got,
                        numeric=want,
                    )

    def check_float32(self, arrays, inputs, upstream, context) -> None:
        wide = [Tensor(a.astype(np.float64), requires_grad=True) for a in arrays]
        self.call(*wide).backward(upstream.astype(np.float64))
        for k, (x32, x64) in enumerate(zip(inputs, wide)):
            assert x64.grad is not None, "backward() gave every float64 input a gradient"
            close = np.isclose(x32.grad, x64.grad, rtol=1e-3, atol=1e-4)
            if not np.all(close):
                j = tuple(int(i) for i in np.argwhere(~close)[0])
                raise self.fail(
                    "float32",
                    f"input {k}, element {j}: float32 gradient {x32.grad[j]:.7g}, float64 {x64.grad[j]:.10g}",
                    context,
                    position=k,
                    index=j,
                )


def _bounds(value: Any, where: str) -> tuple:
    if isinstance(value, str):
        if value not in DOMAIN_BOUNDS:
            raise ValueError(
                f"check_op: unknown {where} {value!r}; use one of {sorted(DOMAIN_BOUNDS)} or (low, high)"
            )
        return DOMAIN_BOUNDS[value]
    if (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, Real) and math.isfinite(v) for v in value)
        and value[0] < value[1]
    ):
        return float(value[0]), float(value[1])
    raise ValueError(
        f"check_op: {where} must be a named domain or a (low, high) pair with low < high, got {value!r}"
    )


def _points(value: Any, where: str) -> tuple:
    if isinstance(value, Real):
        return (float(value),)
    if isinstance(value, (tuple, list)) and all(isinstance(v, Real) for v in value):
        return tuple(float(v) for v in value)
    raise ValueError(f"check_op: {where} must be numbers (points to stay away from), got {value!r}")


def _per_input(value: Any, arity: int, parse: Callable, where: str) -> list:
    """One setting for every input, or a tuple with one per input."""
    if isinstance(value, (tuple, list)) and len(value) == arity and arity > 1:
        if all(isinstance(v, (str, tuple, list)) for v in value):
            return [parse(v, where) for v in value]
    if where == "domain" and isinstance(value, (tuple, list)) and len(value) == 1 and arity == 1:
        if isinstance(value[0], (str, tuple, list)):
            return [parse(value[0], where)]
    return [parse(value, where)] * arity


def _first_difference(now: np.ndarray, before: np.ndarray) -> tuple:
    if now.shape != before.shape:
        return ()
    different = ~((now == before) | (np.isnan(now) & np.isnan(before)))
    return tuple(int(i) for i in np.argwhere(different)[0]) if different.ndim else ()


def example_text(arrays: list, upstream: np.ndarray) -> str:
    """The drawn inputs and upstream, as the lines of a failure report."""
    lines = [f"  input {k} = {np.array2string(a, precision=6, separator=', ')}" for k, a in enumerate(arrays)]
    lines.append(f"  upstream = {np.array2string(upstream, precision=6, separator=', ')}")
    return "\n".join(lines)
