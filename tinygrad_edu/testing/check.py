"""``gradcheck``: do the gradients ``backward()`` computes match finite differences?

:func:`gradcheck` rejects bad arguments before touching anything, runs ``fn`` once with
recording on, picks the full or the fast comparison (:mod:`.finite_differences`), puts every
input's ``data`` and every node's ``grad`` back as it found them, and returns a
:class:`~tinygrad_edu.testing.report.GradcheckReport` (or raises
:class:`~tinygrad_edu.testing.report.GradcheckError`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any

import numpy as np

from .. import graph
from ..modes import enable_grad
from .finite_differences import _fast_check, _full_check, _kind, _Probe, _slots
from .report import GradcheckError, GradcheckReport, _failure_message

#: ``mode="auto"`` runs the full Jacobian when it costs at most this many evaluations:
#: ``n_out`` backward passes (one per output element) plus ``2 · Σ n_in`` forward passes (one
#: perturbation pair per input element). Bigger problems use the random-projection fast mode.
FULL_MODE_MAX_EVALUATIONS = 1024

_MODES = ("auto", "full", "fast")


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
            one perturbation pair per input element. ``"fast"`` runs a single backward pass,
            of random signs u = ±1 over the output, which gives the vector–Jacobian product
            uᵀJ for every input, and checks it two ways: (1) :data:`PROJECTIONS` projections
            ``uᵀJv`` on random unit vectors v against the directional difference
            ``(uᵀf(x+eps·v) − uᵀf(x−eps·v)) / (2·eps)`` — they see an error spread over many
            elements; (2) a spot check of single elements ``(uᵀJ)[j]`` against their own
            central differences at :data:`SPOT_CHECK_ELEMENTS` positions per input — all of
            them when the input has no more, else a uniform random sample. Why both: a
            projection dilutes an error confined to one element (one element of 2,000 wrong by
            1 % moves uᵀJv by about 0.02 %, far inside rtol), while a spot check of element j
            sees it at full size. So an analytic gradient wrong in one element j (beyond the
            tolerance in ``(uᵀJ)[j]``) is caught for certain in an input of up to
            :data:`SPOT_CHECK_ELEMENTS` elements, and with probability at least
            ``SPOT_CHECK_ELEMENTS / n`` in an input of n elements (k wrong elements: at least
            ``1 − (1 − SPOT_CHECK_ELEMENTS/n)^k``). One caveat of any vector–Jacobian check:
            ``(uᵀJ)[j] = Σₖ uₖ·J[k, j]`` sums a column, so one wrong entry of a dense column is
            diluted by the others; full mode compares every entry. Cost: one backward pass and
            ``2·(PROJECTIONS + min(n, SPOT_CHECK_ELEMENTS))`` forward passes per input of n
            elements. When only a projection fails, the remaining elements are compared too
            (≤ :data:`LOCALIZE_MAX_ELEMENTS` elements) to name the worst one. ``"auto"`` picks
            full when it costs at most :data:`FULL_MODE_MAX_EVALUATIONS` evaluations
            (``n_out + 2·Σ n_in``), else fast.
        raise_exception: raise :class:`GradcheckError` on a mismatch (else just report it).
        seed: seeds the random signs, directions and spot-checked elements of the fast mode.

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
