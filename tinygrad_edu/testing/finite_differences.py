"""How :func:`~tinygrad_edu.testing.gradcheck` measures: perturb inputs, compare Jacobians.

* :class:`_Slot` owns one input during a check: a float64 working copy of its data that can be
  nudged one element at a time (``x + eps·e_j``) or shifted along a direction (``x + eps·v``),
  and put back bit for bit.
* :class:`Probe` evaluates ``fn`` (forward, no graph) and runs backward passes of its output.
* :func:`full_check` compares whole Jacobians: analytic row by row (one backward pass per
  output element), numeric column by column (one perturbation pair per input element).
* :func:`fast_check` runs one backward pass of random signs u (giving the vector–Jacobian
  product uᵀJ for every input), then compares :data:`PROJECTIONS` projections ``uᵀJv`` on
  random unit vectors v and up to :data:`SPOT_CHECK_ELEMENTS` single elements of uᵀJ with
  their own central differences (:func:`_compare_elements`); when only a projection fails,
  the elements not sampled are compared too (up to :data:`LOCALIZE_MAX_ELEMENTS`).

Every numeric derivative is a central difference, ``(f(x + eps·d) − f(x − eps·d)) / (2·eps)``:
its error shrinks like eps², against eps for the one-sided ``(f(x + eps·d) − f(x)) / eps``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..modes import no_grad
from ..numerics import norm
from ..scalar import Value
from ..tensor import Tensor
from .report import InputCheck

#: In fast mode, an input whose projection check fails is searched element by element for the
#: culprit when it has at most this many elements (2 forward passes per element).
LOCALIZE_MAX_ELEMENTS = 4096
#: Fast mode compares this many elements of each input's uᵀJ one by one (all of them when the
#: input has no more; else a uniform random sample): 2 forward passes per element.
SPOT_CHECK_ELEMENTS = 2048
#: Fast mode compares this many random projections uᵀJv per input: 2 forward passes each.
PROJECTIONS = 3


def engine_of(x: Any) -> str | None:
    """Which engine ``x`` belongs to: ``"value"``, ``"tensor"``, or None (a fixed input)."""
    if isinstance(x, Value):
        return "value"
    if isinstance(x, Tensor):
        return "tensor"
    return None


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


def slots_of(inputs: Sequence[Any]) -> list[_Slot]:
    """A slot per distinct Value/Tensor input that is checked or needs a float64 copy."""
    slots: list[_Slot] = []
    seen: set[int] = set()
    for position, x in enumerate(inputs):
        kind = engine_of(x)
        if kind is None or id(x) in seen:
            continue
        seen.add(id(x))
        checked = kind == "value" or bool(x.requires_grad)
        if checked or np.asarray(x.data).dtype != np.float64:
            slots.append(_Slot(x, position, checked))
    return slots


class Probe:
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
    """The outcome of :func:`_compare`: pass/fail, the largest errors and the worst entry."""

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


def _outputs_around(probe: Probe, slot: _Slot, j: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """``f(x + eps·e_j)`` and ``f(x − eps·e_j)`` (flat), element ``j`` of ``slot`` nudged; x left as found."""
    slot.nudge(j, eps)
    plus = probe.outputs()
    slot.nudge(j, -eps)
    minus = probe.outputs()
    slot.settle(j)
    return plus, minus


def _input_check(
    slot: _Slot,
    result: _Comparison,
    index: tuple | None,
    output_index: tuple | None,
    analytic: float,
    numeric: float,
    quantity: str,
) -> InputCheck:
    """The :class:`InputCheck` of ``slot`` whose worst entry is ``analytic`` vs ``numeric``."""
    return InputCheck(
        slot.position, slot.node.label, slot.shape, result.ok, result.max_abs, result.max_rel,
        index, output_index, analytic, numeric, result.tolerance, quantity,
    )  # fmt: skip


def full_check(probe: Probe, eps: float, atol: float, rtol: float) -> list[InputCheck]:
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
            plus, minus = _outputs_around(probe, slot, j, eps)
            numeric[:, j] = (plus - minus) / (2 * eps)
        result = _compare(jacobian, numeric, atol, rtol)
        if result.worst < 0:  # an empty input or output: nothing to compare
            index = output_index = None
            a = n = 0.0
        else:
            k, j = divmod(result.worst, slot.size)
            index, output_index = _index(j, slot.shape), _index(k, probe.out_shape)
            a, n = float(jacobian[k, j]), float(numeric[k, j])
        checks.append(_input_check(slot, result, index, output_index, a, n, "∂out[k]/∂x[j]"))
    return checks


def _unit(rng: np.random.Generator, size: int) -> np.ndarray:
    vector = rng.standard_normal(size)
    length = norm(vector)
    return vector / length if length > 0 else vector


def fast_check(
    probe: Probe, eps: float, atol: float, rtol: float, rng: np.random.Generator
) -> list[InputCheck]:
    """uᵀJ from one backward pass, checked by random projections and by single elements.

    u holds random signs (±1), so every output element weighs the same and no element of uᵀJ
    is shrunk towards the absolute tolerance by a small weight. Per input: :data:`PROJECTIONS`
    comparisons of uᵀJv (random unit v) with the directional difference, which see an error
    spread over many elements; and the elements of uᵀJ at :data:`SPOT_CHECK_ELEMENTS`
    positions, each with its own central difference, which see an error in a single element
    (a projection dilutes it: one element of 2,000 wrong by 1 % moves uᵀJv by about 0.02 %).
    """
    u = rng.choice((-1.0, 1.0), size=probe.n_out)
    gradients = probe.gradients(u)  # each is Jᵀu for one input
    checks = []
    for slot, gradient in zip(probe.checked, gradients):
        projection = _worst(_project(probe, slot, u, gradient, _unit(rng, slot.size), eps, atol, rtol)
                            for _ in range(PROJECTIONS))  # fmt: skip
        spots = np.arange(slot.size)
        if slot.size > SPOT_CHECK_ELEMENTS:
            spots = np.sort(rng.choice(slot.size, SPOT_CHECK_ELEMENTS, replace=False))
        element = _compare_elements(probe, slot, u, gradient, spots, eps, atol, rtol)
        if element is not None and not element.ok:
            checks.append(element)
        elif projection is None or projection.ok:
            chosen = projection or element  # projection is None only when PROJECTIONS = 0
            assert chosen is not None, "with PROJECTIONS = 0 an empty input has nothing to compare"
            checks.append(chosen)
        elif slot.size > spots.size and slot.size <= LOCALIZE_MAX_ELEMENTS:
            everywhere = _compare_elements(probe, slot, u, gradient, np.arange(slot.size), eps, atol, rtol)
            assert everywhere is not None, "slot.size > spots.size ≥ 0 positions were compared"
            checks.append(everywhere if not everywhere.ok else projection)
        else:
            checks.append(projection)
    return checks


def _project(probe, slot, u, gradient, v, eps, atol, rtol) -> InputCheck:
    """uᵀJv analytic (``gradient · v``) against ``(uᵀf(x + eps·v) − uᵀf(x − eps·v)) / (2·eps)``."""
    analytic = float(gradient @ v)
    slot.shift(v, eps)
    plus = float(u @ probe.outputs())
    slot.shift(v, -eps)
    minus = float(u @ probe.outputs())
    slot.unshift()
    numeric = (plus - minus) / (2 * eps)
    result = _compare(np.array([analytic]), np.array([numeric]), atol, rtol)
    return _input_check(slot, result, None, None, analytic, numeric, "uᵀJv")


def _worst(checks) -> InputCheck | None:
    """The first failing check, else the last one (None if there are none)."""
    check = None
    for check in checks:
        if not check.ok:
            return check
    return check


def _compare_elements(probe, slot, u, gradient, positions, eps, atol, rtol) -> InputCheck | None:
    """(uᵀJ)[j] analytic against its central difference at each flat position j (None if none)."""
    if positions.size == 0:
        return None
    numeric = np.empty(positions.size)
    for i, j in enumerate(positions):
        plus, minus = _outputs_around(probe, slot, int(j), eps)
        numeric[i] = (float(u @ plus) - float(u @ minus)) / (2 * eps)
    picked = gradient[positions]
    result = _compare(picked, numeric, atol, rtol)
    j = int(positions[result.worst])
    return _input_check(
        slot, result, _index(j, slot.shape), None, float(picked[result.worst]), float(numeric[result.worst]),
        "(uᵀJ)[j]",
    )  # fmt: skip
