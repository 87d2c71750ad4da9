"""Testing tools: a public :func:`gradcheck` and Hypothesis strategies for property-testing derivatives.

**gradcheck** compares the gradients ``backward()`` computes (analytic) with central finite
differences (numeric), for functions of :class:`~tinygrad_edu.Value` s or of
:class:`~tinygrad_edu.Tensor` s::

    >>> from tinygrad_edu import Value
    >>> from tinygrad_edu.testing import gradcheck
    >>> x = Value(0.5, label="x"); w = Value(-1.5, label="w")
    >>> gradcheck(lambda x, w: (w * x).tanh(), x, w).ok
    True

**Strategies** (need Hypothesis, installed by the ``dev`` extra) generate the inputs of property
tests: :func:`shapes`, :func:`broadcastable_shapes`, :func:`axes`, :func:`arrays`,
:func:`tensors` and :func:`expression_dags` (random scalar expression graphs that stay inside
every op's domain). A typical test of a user's own op::

    from hypothesis import given
    from tinygrad_edu.testing import gradcheck, tensors

    @given(tensors(domain="positive"))
    def test_my_op(x):
        gradcheck(my_op, x)      # raises GradcheckError naming input, element and values

Hypothesis is imported only when a strategy is asked for, so ``gradcheck`` works without it.
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np

from .. import graph
from ..errors import TinygradEduError
from ..modes import enable_grad, no_grad
from ..scalar import Value
from ..tensor import Tensor

__all__ = [
    "gradcheck",
    "GradcheckReport",
    "InputCheck",
    "GradcheckError",
    "FULL_MODE_MAX_EVALUATIONS",
    "LOCALIZE_MAX_ELEMENTS",
    "DOMAINS",
    "shapes",
    "broadcastable_shapes",
    "axes",
    "arrays",
    "tensors",
    "expression_dags",
    "ExpressionDag",
    "DagStep",
    "Const",
    "EXPRESSION_OPS",
    "apply_op",
]


# =====================================================================================
# gradcheck
# =====================================================================================

#: ``mode="auto"`` runs the full Jacobian when it costs at most this many evaluations:
#: ``n_out`` backward passes (one per output element) plus ``2 · Σ n_in`` forward passes (one
#: perturbation pair per input element). Bigger problems use the random-projection fast mode.
FULL_MODE_MAX_EVALUATIONS = 1024

#: In fast mode, an input whose projection check fails is searched element by element for the
#: culprit when it has at most this many elements (2 forward passes per element).
LOCALIZE_MAX_ELEMENTS = 4096

_MODES = ("auto", "full", "fast")


class GradcheckError(TinygradEduError, AssertionError):
    """``gradcheck`` found an analytic gradient that disagrees with finite differences.

    The message names every failing input (position and label), the worst element, the analytic
    and numeric values and their difference. ``report`` holds the full :class:`GradcheckReport`.
    It is an ``AssertionError``, so inside a test it reads as a failed assertion.
    """

    def __init__(self, message: str, report: GradcheckReport):
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class InputCheck:
    """The result of checking one input of ``gradcheck``.

    Attributes:
        position: the input's position in ``gradcheck(fn, *inputs)``.
        label: the input's ``label`` ("" if none).
        shape: the input's shape (``()`` for a ``Value``).
        ok: whether every compared entry satisfied ``|analytic − numeric| ≤ atol + rtol·|numeric|``.
        max_abs_error: the largest ``|analytic − numeric|`` over the compared entries.
        max_rel_error: the largest ``|analytic − numeric| / |numeric|`` (inf when numeric is 0).
        index: the worst element of the input (``()`` for a scalar; None when the fast mode could
            not pin the failure on one element).
        output_index: in full mode, the output element of the worst Jacobian entry
            ∂out[output_index]/∂input[index] (``()`` for a scalar output); None in fast mode.
        analytic: the analytic value of the worst entry.
        numeric: the finite-difference value of the worst entry.
        tolerance: ``atol + rtol·|numeric|`` at the worst entry.
        quantity: what was compared: ``"∂out[k]/∂x[j]"`` (full), ``"uᵀJv"`` (fast projection)
            or ``"(uᵀJ)[j]"`` (fast mode, localized to an element).
    """

    position: int
    label: str
    shape: tuple
    ok: bool
    max_abs_error: float
    max_rel_error: float
    index: tuple | None
    output_index: tuple | None
    analytic: float
    numeric: float
    tolerance: float
    quantity: str

    @property
    def difference(self) -> float:
        """``analytic − numeric`` at the worst entry."""
        return self.analytic - self.numeric

    def describe(self) -> str:
        """One line: which input, which element, analytic vs numeric and by how much."""
        name = f"input {self.position}" + (f" {self.label!r}" if self.label else "")
        where = f"element {self.index}" if self.index is not None else "no single element"
        if self.output_index is not None:
            where += f" (output element {self.output_index})"
        verdict = "ok" if self.ok else "MISMATCH"
        return (
            f"{name} shape {self.shape}, {where}, {self.quantity}: analytic {self.analytic:.10g} vs "
            f"numeric {self.numeric:.10g}, difference {self.difference:.3g} "
            f"({'≤' if self.ok else '>'} tolerance {self.tolerance:.3g}) — {verdict}"
        )


@dataclass(frozen=True)
class GradcheckReport:
    """What ``gradcheck`` found. ``bool(report)`` is ``report.ok``.

    Attributes:
        ok: every checked input passed.
        mode: the mode that ran, ``"full"`` or ``"fast"``.
        inputs: one :class:`InputCheck` per checked input (inputs held fixed are not listed).
        eps, atol, rtol: the settings used.
    """

    ok: bool
    mode: str
    inputs: tuple[InputCheck, ...]
    eps: float
    atol: float
    rtol: float

    def __bool__(self) -> bool:
        return self.ok

    @property
    def failures(self) -> tuple[InputCheck, ...]:
        """The inputs that failed."""
        return tuple(check for check in self.inputs if not check.ok)

    def __str__(self) -> str:
        head = (
            f"gradcheck {'passed' if self.ok else 'FAILED'} ({self.mode} mode, eps={self.eps:g}, "
            f"atol={self.atol:g}, rtol={self.rtol:g})"
        )
        return "\n".join([head] + ["  " + check.describe() for check in self.inputs])


def gradcheck(
    fn: Callable[..., Any],
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    mode: str = "auto",
    raise_exception: bool = True,
    seed: int = 0,
) -> GradcheckReport:
    """Check ``fn``'s analytic gradients against central finite differences, input by input.

    The numeric derivative of output element k with respect to input element j is
    ``(f_k(x + eps·e_j) − f_k(x − eps·e_j)) / (2·eps)``; an entry passes when
    ``|analytic − numeric| ≤ atol + rtol·|numeric|`` (PyTorch's defaults and criterion).

    Args:
        fn: called as ``fn(*inputs)``; returns a ``Value`` (for ``Value`` inputs) or a ``Tensor``
            of any shape (for ``Tensor`` inputs). It must be deterministic.
        *inputs: ``Value`` s, or ``Tensor`` s (not both). Every ``Value`` and every ``Tensor`` with
            ``requires_grad=True`` is checked; ``Tensor`` s with ``requires_grad=False``, plain
            numbers and numpy arrays are passed through and held fixed.
        eps: the finite-difference step (> 0).
        atol, rtol: absolute and relative tolerance (≥ 0).
        mode: ``"full"`` compares the whole Jacobian: one backward pass per output element and
            one perturbation pair per input element. ``"fast"`` compares the projection ``uᵀJv``
            for random unit vectors u (over the output) and v (over each input) with the
            directional difference ``(uᵀf(x+eps·v) − uᵀf(x−eps·v)) / (2·eps)``: one backward
            pass and two forward passes per input, whatever the sizes. When a projection fails,
            the input is searched element by element (≤ :data:`LOCALIZE_MAX_ELEMENTS`
            elements) to name the worst one. ``"auto"`` picks full when it costs at most
            :data:`FULL_MODE_MAX_EVALUATIONS` evaluations (``n_out + 2·Σ n_in``), else fast.
        raise_exception: raise :class:`GradcheckError` on a mismatch (else just report it).
        seed: seeds the random vectors of the fast mode.

    Returns:
        A :class:`GradcheckReport`.

    Raises:
        GradcheckError: a mismatch, when ``raise_exception`` is true.
        TypeError: ``fn`` not callable, no inputs, inputs of unsupported type or mixing ``Value``
            and ``Tensor``, ``fn`` returning the wrong type, non-number settings.
        ValueError: ``eps ≤ 0``, negative tolerances, an unknown mode, nothing to check.

    Notes:
        * **Precision.** Everything runs in float64: every float32 ``Tensor`` input (checked or
          held fixed) gets a float64 working copy of its data for the duration of the check
          (float32 finite differences with eps = 1e-6 would be pure rounding noise). Its own
          float32 array is not touched. (If ``fn`` itself casts to float32, precision is lost.)
        * **Inputs are left exactly as found.** Inputs are perturbed through their ``data``
          attribute (so ``fn`` may also reach them through a closure, e.g. a model's
          parameters); afterwards every input's ``data`` is the very object it held before, bit
          for bit — also when ``fn`` raises or the check fails.
        * **Gradients are left as found.** Before each of its backward passes ``gradcheck``
          zeroes the gradient of every leaf of ``fn``'s graph (so the check reads a clean
          gradient, not one you accumulated earlier), and when it returns it puts back the
          ``grad`` that every node of that graph held before the check (``None`` stays
          ``None``), so no stray gradients are left behind.
        * Forward passes for the finite differences run under ``no_grad()``; the analytic pass
          runs with recording enabled, even if ``gradcheck`` itself is called under ``no_grad()``.
    """
    kind = _check_arguments(fn, inputs, eps, atol, rtol, mode, raise_exception, seed)
    slots = _slots(inputs)
    checked = [slot for slot in slots if slot.checked]
    if not checked:
        raise ValueError(
            "gradcheck: no input requires grad, so there is nothing to check "
            "(pass a Value, or a Tensor with requires_grad=True)"
        )
    eps, atol, rtol = float(eps), float(atol), float(rtol)
    saved_grads = {id(slot.node): (slot.node, slot.node.grad) for slot in checked}
    try:
        for slot in slots:
            slot.start()
        with enable_grad():
            out = fn(*inputs)
        _check_output(out, kind)
        order = graph.topological_order(out)
        for node in order:
            saved_grads.setdefault(id(node), (node, node.grad))
        probe = _Probe(fn, inputs, out, order, checked)
        chosen = mode
        if mode == "auto":
            cost = probe.n_out + 2 * sum(slot.size for slot in checked)
            chosen = "full" if cost <= FULL_MODE_MAX_EVALUATIONS else "fast"
        if chosen == "full":
            checks = _full_check(probe, eps, atol, rtol)
        else:
            checks = _fast_check(probe, eps, atol, rtol, np.random.default_rng(seed))
    finally:
        for slot in slots:
            slot.restore()
        for node, grad in saved_grads.values():
            node.grad = grad
    report = GradcheckReport(all(check.ok for check in checks), chosen, tuple(checks), eps, atol, rtol)
    if raise_exception and not report.ok:
        raise GradcheckError(_failure_message(report), report)
    return report


# --- gradcheck internals --------------------------------------------------------------


def _kind(x: Any) -> str | None:
    """Which engine ``x`` belongs to: ``"value"``, ``"tensor"``, or None (a fixed input)."""
    if isinstance(x, Value):
        return "value"
    if isinstance(x, Tensor):
        return "tensor"
    return None


def _check_arguments(fn, inputs, eps, atol, rtol, mode, raise_exception, seed) -> str:
    """Reject bad arguments before anything is touched; return the inputs' kind."""
    if not callable(fn):
        raise TypeError(f"gradcheck: fn must be callable, got {type(fn).__name__} ({fn!r:.40})")
    if not inputs:
        raise TypeError(
            "gradcheck: no inputs given; call gradcheck(fn, x1, x2, ...) with the Values or "
            "Tensors that fn takes"
        )
    for name, number in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        if not isinstance(number, Real) or isinstance(number, bool):
            raise TypeError(f"gradcheck: {name} must be a real number, got {type(number).__name__}")
    if not (math.isfinite(eps) and eps > 0):
        raise ValueError(f"gradcheck: eps must be a finite number > 0, got {eps!r}")
    for name, number in (("atol", atol), ("rtol", rtol)):
        if not (math.isfinite(number) and number >= 0):
            raise ValueError(f"gradcheck: {name} must be a finite number ≥ 0, got {number!r}")
    if not isinstance(mode, str) or mode not in _MODES:
        raise ValueError(f"gradcheck: mode must be one of {', '.join(map(repr, _MODES))}, got {mode!r}")
    if not isinstance(raise_exception, bool):
        raise TypeError(f"gradcheck: raise_exception must be a bool, got {type(raise_exception).__name__}")
    if not isinstance(seed, Integral) or isinstance(seed, bool):
        raise TypeError(f"gradcheck: seed must be an int, got {type(seed).__name__}")
    first: dict[str, int] = {}
    for position, x in enumerate(inputs):
        kind = _kind(x)
        if kind is not None:
            first.setdefault(kind, position)
        elif not isinstance(x, (Real, np.ndarray, np.generic)):
            raise TypeError(
                f"gradcheck: input {position} is a {type(x).__name__} ({x!r:.40}); pass Values or "
                "Tensors (plain numbers and numpy arrays are held fixed); bind other arguments "
                "of fn with functools.partial or a lambda"
            )
    if len(first) == 2:
        raise TypeError(
            f"gradcheck: inputs mix Value (input {first['value']}) and Tensor (input "
            f"{first['tensor']}); check a function of Values or a function of Tensors"
        )
    if not first:
        raise TypeError(
            "gradcheck: no Value or Tensor among the inputs (plain numbers and arrays are held "
            "fixed); wrap the ones to check as Value(...) or Tensor(..., requires_grad=True)"
        )
    return next(iter(first))


def _check_output(out: Any, kind: str) -> None:
    if _kind(out) != kind:
        wanted = "Value" if kind == "value" else "Tensor"
        raise TypeError(
            f"gradcheck: fn returned a {type(out).__name__}; a function of {wanted}s must return a {wanted}"
        )


class _Slot:
    """One Value/Tensor input during the check: float64 working data, perturbed and restored.

    A Tensor's ``data`` is replaced by a float64 working copy for the whole check (perturbed in
    place, one element at a time) and the original array object is put back at the end; a
    Value's float is simply reassigned.
    """

    def __init__(self, node: Any, position: int, checked: bool):
        self.node = node
        self.position = position
        self.checked = checked
        self.is_value = isinstance(node, Value)
        self.original = node.data
        self.base = np.array(node.data, dtype=np.float64)  # a C-ordered copy: never written
        self.shape: tuple = self.base.shape
        self.size = self.base.size
        self.work = self.base.copy()

    def start(self) -> None:
        if not self.is_value:
            self.node.data = self.work

    def nudge(self, j: int, delta: float) -> None:
        """Set element ``j`` to its original value + ``delta``."""
        if self.is_value:
            self.node.data = self.original + delta
        else:
            self.work.flat[j] = self.base.flat[j] + delta

    def settle(self, j: int) -> None:
        """Put element ``j`` back to its original value, exactly."""
        if self.is_value:
            self.node.data = self.original
        else:
            self.work.flat[j] = self.base.flat[j]

    def shift(self, direction: np.ndarray, step: float) -> None:
        """Move the whole input to ``original + step·direction``."""
        if self.is_value:
            self.node.data = self.original + step * float(direction[0])
        else:
            self.node.data = self.base + step * direction.reshape(self.shape)

    def unshift(self) -> None:
        if self.is_value:
            self.node.data = self.original
        else:
            self.node.data = self.work  # the work array still holds the original values

    def restore(self) -> None:
        self.node.data = self.original

    def gradient(self) -> np.ndarray:
        """The analytic gradient now in ``grad``, flat, float64 (zeros if none arrived)."""
        grad = self.node.grad
        if grad is None:
            return np.zeros(self.size)
        grad = np.asarray(grad, dtype=np.float64)
        if grad.shape != self.shape:
            return np.full(self.size, np.nan)  # a wrongly shaped gradient fails every entry
        return grad.ravel()


def _slots(inputs: Sequence[Any]) -> list[_Slot]:
    """A slot per distinct Value/Tensor input that is checked or needs a float64 copy."""
    slots: list[_Slot] = []
    seen: set[int] = set()
    for position, x in enumerate(inputs):
        kind = _kind(x)
        if kind is None or id(x) in seen:
            continue
        seen.add(id(x))
        checked = kind == "value" or bool(x.requires_grad)
        if checked or np.asarray(x.data).dtype != np.float64:
            slots.append(_Slot(x, position, checked))
    return slots


class _Probe:
    """Evaluates ``fn`` (forward, no graph) and runs backward passes of its recorded output."""

    def __init__(self, fn, inputs, out, order, checked: list[_Slot]):
        self.fn = fn
        self.inputs = inputs
        self.out = out
        self.leaves = [node for node in order if not node.parents]
        self.checked = checked
        self.out_shape: tuple = () if isinstance(out, Value) else np.shape(out.data)
        self.n_out = int(np.prod(self.out_shape, dtype=np.int64))

    def outputs(self) -> np.ndarray:
        """``fn(*inputs)`` at the inputs' current data, as a flat float64 copy."""
        with no_grad():
            out = self.fn(*self.inputs)
        return np.array(out.data, dtype=np.float64).ravel()

    def gradients(self, seed: np.ndarray) -> list[np.ndarray]:
        """Backpropagate ``seed`` (flat, over the output) and read each checked input's gradient."""
        for leaf in self.leaves:
            leaf.grad = leaf.NO_GRAD
        for slot in self.checked:  # also inputs the output does not reach
            slot.node.grad = slot.node.NO_GRAD
        if not self.out.requires_grad:
            # Nothing recorded (e.g. fn computed through .data, outside the graph): the analytic
            # gradient is zero, and the finite differences will show whether it should not be.
            return [np.zeros(slot.size) for slot in self.checked]
        if isinstance(self.out, Value):
            self.out.backward(float(seed[0]))
        else:
            self.out.backward(seed.reshape(self.out_shape))
        return [slot.gradient() for slot in self.checked]


@dataclass(frozen=True)
class _Comparison:
    ok: bool
    max_abs: float
    max_rel: float
    worst: int  # flat position of the worst entry
    tolerance: float


def _compare(analytic: np.ndarray, numeric: np.ndarray, atol: float, rtol: float) -> _Comparison:
    """Entrywise ``|a − n| ≤ atol + rtol·|n|``; nan anywhere is a failure."""
    analytic = np.ravel(analytic)
    numeric = np.ravel(numeric)
    if analytic.size == 0:
        return _Comparison(True, 0.0, 0.0, -1, atol)
    with np.errstate(divide="ignore", invalid="ignore"):
        difference = np.abs(analytic - numeric)
        tolerance = atol + rtol * np.abs(numeric)
        excess = np.where(difference == 0, 0.0, difference / tolerance)  # > 1 means failure
        relative = np.where(difference == 0, 0.0, difference / np.abs(numeric))
    excess = np.where(np.isnan(excess), np.inf, excess)
    worst = int(np.argmax(excess))
    ok = bool(np.all(difference <= tolerance))
    return _Comparison(ok, float(np.max(difference)), float(np.max(relative)), worst, float(tolerance[worst]))


def _index(flat: int, shape: tuple) -> tuple:
    return tuple(int(i) for i in np.unravel_index(flat, shape))


def _full_check(probe: _Probe, eps: float, atol: float, rtol: float) -> list[InputCheck]:
    """Whole Jacobians: analytic row by row (backward), numeric column by column (perturbation)."""
    analytic = [np.empty((probe.n_out, slot.size)) for slot in probe.checked]
    for k in range(probe.n_out):
        seed = np.zeros(probe.n_out)
        seed[k] = 1.0
        for jacobian, gradient in zip(analytic, probe.gradients(seed)):
            jacobian[k] = gradient
    checks = []
    for slot, jacobian in zip(probe.checked, analytic):
        numeric = np.empty_like(jacobian)
        for j in range(slot.size):
            slot.nudge(j, eps)
            plus = probe.outputs()
            slot.nudge(j, -eps)
            minus = probe.outputs()
            slot.settle(j)
            numeric[:, j] = (plus - minus) / (2 * eps)
        result = _compare(jacobian, numeric, atol, rtol)
        if result.worst < 0:  # an empty input or output: nothing to compare
            index = output_index = None
            a = n = 0.0
        else:
            k, j = divmod(result.worst, slot.size)
            index, output_index = _index(j, slot.shape), _index(k, probe.out_shape)
            a, n = float(jacobian[k, j]), float(numeric[k, j])
        checks.append(
            InputCheck(
                slot.position, slot.node.label, slot.shape, result.ok, result.max_abs, result.max_rel,
                index, output_index, a, n, result.tolerance, "∂out[k]/∂x[j]",
            )
        )  # fmt: skip
    return checks


def _unit(rng: np.random.Generator, size: int) -> np.ndarray:
    vector = rng.standard_normal(size)
    length = float(np.linalg.norm(vector))
    return vector / length if length > 0 else vector


def _fast_check(
    probe: _Probe, eps: float, atol: float, rtol: float, rng: np.random.Generator
) -> list[InputCheck]:
    """Projections uᵀJv against directional differences; a failure is then localized."""
    u = _unit(rng, probe.n_out)
    directions = [_unit(rng, slot.size) for slot in probe.checked]
    gradients = probe.gradients(u)  # each is Jᵀu for one input
    checks = []
    for slot, v, gradient in zip(probe.checked, directions, gradients):
        analytic = float(gradient @ v)
        slot.shift(v, eps)
        plus = float(u @ probe.outputs())
        slot.shift(v, -eps)
        minus = float(u @ probe.outputs())
        slot.unshift()
        numeric = (plus - minus) / (2 * eps)
        result = _compare(np.array([analytic]), np.array([numeric]), atol, rtol)
        check = InputCheck(
            slot.position, slot.node.label, slot.shape, result.ok, result.max_abs, result.max_rel,
            None, None, analytic, numeric, result.tolerance, "uᵀJv",
        )  # fmt: skip
        if not result.ok and slot.size <= LOCALIZE_MAX_ELEMENTS:
            check = _localize(probe, slot, u, gradient, eps, atol, rtol) or check
        checks.append(check)
    return checks


def _localize(probe, slot, u, gradient, eps, atol, rtol) -> InputCheck | None:
    """Compare (uᵀJ)[j] element by element; the worst failing element, or None if none fails."""
    numeric = np.empty(slot.size)
    for j in range(slot.size):
        slot.nudge(j, eps)
        plus = float(u @ probe.outputs())
        slot.nudge(j, -eps)
        minus = float(u @ probe.outputs())
        slot.settle(j)
        numeric[j] = (plus - minus) / (2 * eps)
    result = _compare(gradient, numeric, atol, rtol)
    if result.ok:
        return None
    j = result.worst
    return InputCheck(
        slot.position, slot.node.label, slot.shape, False, result.max_abs, result.max_rel,
        _index(j, slot.shape), None, float(gradient[j]), float(numeric[j]), result.tolerance, "(uᵀJ)[j]",
    )  # fmt: skip


def _failure_message(report: GradcheckReport) -> str:
    failures = report.failures
    lines = [
        f"gradcheck failed ({report.mode} mode, eps={report.eps:g}, atol={report.atol:g}, "
        f"rtol={report.rtol:g}): the analytic gradient disagrees with central finite differences "
        f"for {len(failures)} input(s)"
    ]
    lines += ["  " + check.describe() for check in failures]
    return "\n".join(lines)


# =====================================================================================
# Hypothesis strategies
# =====================================================================================

#: The value domains of :func:`arrays` and :func:`tensors`.
DOMAINS: dict[str, str] = {
    "real": "any float in [−3, 3] (for smooth ops: tanh, sigmoid, exp, +, ×, ...)",
    "positive": "floats in [0.25, 3] (for log, sqrt, divisors and pow bases)",
    "unit": "floats in [1/16, 15/16], inside (0, 1) (probabilities, targets of cross-entropy)",
    "away_from_kinks": (
        "distinct floats in about [−3, 3], at least 0.75·h from 0 and 0.5·h from each other, with "
        "h = 3/max(30, size) (h = 0.1 up to 30 elements): relu, abs, leaky_relu (kink at 0) and "
        "max (kink at ties) are differentiable there with room for finite differences"
    ),
}
_BOUNDS = {"real": (-3.0, 3.0), "positive": (0.25, 3.0), "unit": (0.0625, 0.9375)}  # exact in float32


def _hypothesis():
    """``hypothesis.strategies`` and ``hypothesis.extra.numpy``, imported on first use."""
    try:
        import hypothesis.extra.numpy as hnp
        import hypothesis.strategies as st
    except ImportError as error:  # pragma: no cover - the dev extra installs it
        raise ImportError(
            "tinygrad_edu.testing strategies need Hypothesis: pip install 'tinygrad_edu[dev]'"
        ) from error
    return st, hnp


@functools.cache
def _composite(draw_function: Callable) -> Callable:
    """``hypothesis.strategies.composite(draw_function)``, decorated once (decorating is slow)."""
    st, _ = _hypothesis()
    return st.composite(draw_function)


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4):
    """Array shapes: tuples of ``min_dims``..``max_dims`` sides in ``min_side``..``max_side``.

    ``()`` (a 0-d array) is included when ``min_dims`` is 0. Example::

        @given(shapes(max_dims=2))          # (), (3,), (1, 4), ...
        def test_sum(shape): ...
    """
    _, hnp = _hypothesis()
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def _input_shapes(shapes_: Any) -> tuple:
    return tuple(shapes_.input_shapes)


def broadcastable_shapes(
    num_shapes: int = 2, min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4
):
    """Tuples of ``num_shapes`` shapes that broadcast together under numpy's rules.

    Includes size-1 sides, different numbers of dimensions and 0-d shapes, so a binary op sees
    broadcasting in both directions. Example::

        @given(broadcastable_shapes())      # ((2, 1, 3), (4, 1)), ((), (2,)), ...
        def test_add(shapes):
            a_shape, b_shape = shapes
    """
    _, hnp = _hypothesis()
    strategy = hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )
    return strategy.map(_input_shapes)


def axes(ndim: int):
    """Reduction axes for an array of ``ndim`` dimensions: None, an int (either sign) or a tuple.

    Tuples hold distinct non-negative axes. For ``ndim = 0`` only None. Example::

        @given(st.data())
        def test_sum(data):
            x = data.draw(tensors())
            axis = data.draw(axes(x.data.ndim))
    """
    st, _ = _hypothesis()
    if not isinstance(ndim, Integral) or ndim < 0:
        raise ValueError(f"axes: ndim must be an int ≥ 0, got {ndim!r}")
    if ndim == 0:
        return st.none()
    tuples = st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple)
    return st.one_of(st.none(), st.integers(-ndim, ndim - 1), tuples)


def _check_domain(domain: str, dtype: Any) -> np.dtype:
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; choose one of {', '.join(map(repr, DOMAINS))}")
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def _draw_shape(draw, shape: Any) -> tuple:
    st, _ = _hypothesis()
    if isinstance(shape, st.SearchStrategy):
        shape = draw(shape)
    if isinstance(shape, Integral):
        shape = (int(shape),)
    return tuple(shape)


def _draw_array(draw, shape: Any, domain: str, dtype: np.dtype) -> np.ndarray:
    st, hnp = _hypothesis()
    shape = _draw_shape(draw, shape)
    if domain == "away_from_kinks":
        return _draw_separated(draw, shape, dtype)
    low, high = _BOUNDS[domain]
    width = 32 if dtype == np.float32 else 64
    elements = st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False, width=width)
    return draw(hnp.arrays(dtype, shape, elements=elements))


def _draw_separated(draw, shape: tuple, dtype: np.dtype) -> np.ndarray:
    """Distinct values on a grid of spacing h, jittered by at most h/4, never near 0.

    Distinct non-zero integers m (drawn from ±1..±K, K = max(30, size)) become
    ``(m + jitter)·h`` with ``h = 3/K`` and ``|jitter| ≤ 1/4``.
    """
    st, hnp = _hypothesis()
    size = int(np.prod(shape, dtype=np.int64))
    k = max(30, size)
    step = 3.0 / k
    integers = draw(st.lists(st.integers(-k, k - 1), min_size=size, max_size=size, unique=True))
    grid = np.array([m if m < 0 else m + 1 for m in integers], dtype=np.float64)  # skip 0
    jitter = draw(hnp.arrays(np.float64, size, elements=st.floats(-0.25, 0.25, allow_subnormal=False)))
    return ((grid + jitter) * step).reshape(shape).astype(dtype)


def arrays(shape: Any, domain: str = "real", dtype: Any = np.float64):
    """Numpy arrays of ``shape`` (a tuple, an int, or a strategy of shapes) in a value domain.

    Domains (see :data:`DOMAINS`): ``"real"`` [−3, 3]; ``"positive"`` [0.25, 3];
    ``"unit"`` [1/16, 15/16]; ``"away_from_kinks"`` distinct values away from 0. ``dtype`` is
    float64 or float32. Example::

        @given(arrays(shapes(), domain="positive"))
        def test_log(a):
            gradcheck(lambda t: t.log(), Tensor(a, requires_grad=True))
    """
    st, _ = _hypothesis()
    dtype = _check_domain(domain, dtype)
    return _composite(_draw_array)(shape, domain, dtype)


def _draw_tensor(draw, shape: Any, domain: str, dtype: np.dtype, requires_grad: bool, label: str):
    data = _draw_array(draw, shapes() if shape is None else shape, domain, dtype)
    return Tensor(data, requires_grad=requires_grad, label=label)


def tensors(
    shape: Any = None,
    domain: str = "real",
    requires_grad: bool = True,
    dtype: Any = np.float64,
    label: str = "",
):
    """``Tensor`` s with data from :func:`arrays`; ``shape=None`` draws one from :func:`shapes`.

    Example::

        @given(tensors(domain="away_from_kinks"))
        def test_relu(x):
            gradcheck(lambda t: t.relu(), x)
    """
    st, _ = _hypothesis()
    dtype = _check_domain(domain, dtype)
    return _composite(_draw_tensor)(shape, domain, dtype, bool(requires_grad), label)


# =====================================================================================
# Random scalar expression DAGs
# =====================================================================================

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


_OPERATORS = {
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


_FLOAT_FUNCTIONS = {
    "neg": operator.neg,
    "abs": abs,
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
    if op in _BINARY:
        return float(_OPERATORS[op](*operands))
    (x,) = operands
    if op == "pow_const":
        return float(x**arg)
    if op == "leaky_relu":
        return x if x > 0 else arg * x
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

    @property
    def ops_used(self) -> frozenset[str]:
        """The ops of all steps (guards included)."""
        return frozenset(step.op for step in self.steps)

    def new_inputs(self, prefix: str = "x") -> list[Value]:
        """Fresh leaf ``Value`` s holding :attr:`inputs`, labelled ``x0, x1, ...``."""
        return [Value(x, label=f"{prefix}{i}") for i, x in enumerate(self.inputs)]

    def build(self, values: Sequence[Any]) -> Any:
        """Build the graph on ``values`` (Values, or Tensors for elementwise use); return the output."""
        if len(values) != self.n_inputs:
            raise ValueError(f"ExpressionDag.build: expected {self.n_inputs} inputs, got {len(values)}")
        nodes = list(values)
        for step in self.steps:
            operands = [o.value if isinstance(o, Const) else nodes[o] for o in step.operands]
            nodes.append(apply_op(step.op, operands, step.arg))
        return nodes[-1]

    def __call__(self, *values: Any) -> Any:
        """``dag(x0, x1, ...)`` is ``dag.build([x0, x1, ...])``, handy for :func:`gradcheck`."""
        return self.build(values)

    def node_values(self, values: Sequence[float] | None = None) -> list[float]:
        """Every node's value in plain float64 maths (``values`` defaults to :attr:`inputs`)."""
        nodes = [float(x) for x in (self.inputs if values is None else values)]
        for step in self.steps:
            operands = [o.value if isinstance(o, Const) else nodes[o] for o in step.operands]
            nodes.append(_float_op(step.op, operands, step.arg))
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

    def value(self, operand: Any) -> float:
        return operand.value if isinstance(operand, Const) else self.values[operand]

    def push(self, op: str, operands: tuple, arg: float | None = None, note: str = "") -> int:
        self.values.append(_float_op(op, [self.value(o) for o in operands], arg))
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
    st, _ = _hypothesis()
    back = draw(st.integers(0, len(builder.values) - 1))
    return len(builder.values) - 1 - back


def _draw_op_step(draw, builder: _DagBuilder, op: str) -> None:
    """Append ``op`` on drawn operands, preceded by the guards its domain needs."""
    st, _ = _hypothesis()
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
    st, _ = _hypothesis()
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
    st, _ = _hypothesis()
    if isinstance(n_inputs, Integral):
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
    return _composite(_draw_expression_dag)((low, high), int(max_ops), ops, inputs)
