"""Hypothesis strategies for property tests of derivative code: shapes, axes, arrays, tensors.

:func:`shapes`, :func:`broadcastable_shapes` and :func:`axes` draw the structure of a test;
:func:`arrays` and :func:`tensors` draw data in a value domain (:data:`DOMAINS`) chosen so that
the ops under test are differentiable there with room for finite differences (``log`` sees
positive numbers, ``relu`` sees numbers away from its kink at 0, ...).

Hypothesis is imported only when a strategy is asked for (:func:`hypothesis_modules`), so
``tinygrad_edu.testing`` and ``gradcheck`` work without it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any

import numpy as np

from ..formatting import short_number
from ..tensor import Tensor

#: The value domains of :func:`arrays` and :func:`tensors`, with their default ``bound`` B = 3.
DOMAINS: dict[str, str] = {
    "real": "any float in [−B, B] (for smooth ops: tanh, sigmoid, exp, +, ×, ...)",
    "positive": "floats in [B/12, B], [0.25, 3] by default (for log, sqrt, divisors and pow bases)",
    "unit": "floats in [1/16, 15/16], inside (0, 1) (probabilities, targets of cross-entropy); no bound",
    "away_from_kinks": (
        "distinct floats in about [−B, B], at least 0.75·h from 0 and 0.5·h from each other, with "
        "h = B/max(30, size) (h = 0.1 up to 30 elements): relu, abs, leaky_relu (kink at 0) and "
        "max (kink at ties) are differentiable there with room for finite differences"
    ),
}
#: The default ``bound`` B of the domains that take one: small enough that exp, sinh-like growth
#: and float32 rounding stay tame, so a default property test checks the derivative, not overflow.
DEFAULT_BOUND = 3.0
_BOUNDS = {"real": (-3.0, 3.0), "positive": (0.25, 3.0), "unit": (0.0625, 0.9375)}  # exact in float32


def hypothesis_modules():
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
def composite_strategy(draw_function: Callable) -> Callable:
    """``hypothesis.strategies.composite(draw_function)``, decorated once (decorating is slow)."""
    st, _ = hypothesis_modules()
    return st.composite(draw_function)


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4):
    """Array shapes: tuples of ``min_dims``..``max_dims`` sides in ``min_side``..``max_side``.

    ``()`` (a 0-d array) is included when ``min_dims`` is 0. Example::

        @given(shapes(max_dims=2))          # (), (3,), (1, 4), ...
        def test_sum(shape): ...
    """
    _, hnp = hypothesis_modules()
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
    _, hnp = hypothesis_modules()
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
    st, _ = hypothesis_modules()
    if not isinstance(ndim, Integral) or ndim < 0:
        raise ValueError(f"axes: ndim must be an int ≥ 0, got {ndim!r}")
    if ndim == 0:
        return st.none()
    tuples = st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).map(tuple)
    return st.one_of(st.none(), st.integers(-ndim, ndim - 1), tuples)


def _check_domain(domain: str, dtype: Any, bound: Any = None) -> tuple[np.dtype, float]:
    """The dtype, and the bound B as a float (``DEFAULT_BOUND`` when None), both checked."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; choose one of {', '.join(map(repr, DOMAINS))}")
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    if bound is None:
        return dtype, DEFAULT_BOUND
    if domain == "unit":
        raise ValueError("domain 'unit' takes no bound: it stays inside (0, 1)")
    if not isinstance(bound, Real) or isinstance(bound, bool):
        raise TypeError(f"bound must be a real number, got {type(bound).__name__} ({bound!r})")
    limit = float(np.finfo(dtype).max) / 16
    if not (0 < float(bound) <= limit):
        raise ValueError(f"bound must be a number in (0, {short_number(limit)}] for {dtype}, got {bound!r}")
    return dtype, float(bound)


def _limits(domain: str, bound: float, dtype: np.dtype) -> tuple[float, float]:
    """[low, high] of a "real" or "positive" domain with bound B, both exact in ``dtype``."""
    if bound == DEFAULT_BOUND:
        return _BOUNDS[domain]  # the default, kept bit for bit
    high = float(np.asarray(bound, dtype))
    low = -high if domain == "real" else float(np.asarray(bound / 12, dtype))
    return low, high


def _draw_shape(draw, shape: Any) -> tuple:
    st, _ = hypothesis_modules()
    if isinstance(shape, st.SearchStrategy):
        shape = draw(shape)
    if isinstance(shape, Integral):
        shape = (int(shape),)
    return tuple(shape)


def _draw_array(draw, shape: Any, domain: str, dtype: np.dtype, bound: float = DEFAULT_BOUND) -> np.ndarray:
    st, hnp = hypothesis_modules()
    shape = _draw_shape(draw, shape)
    if domain == "away_from_kinks":
        return _draw_separated(draw, shape, dtype, bound)
    low, high = _BOUNDS[domain] if domain == "unit" else _limits(domain, bound, dtype)
    width = 32 if dtype == np.float32 else 64
    elements = st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False, width=width)
    # fill=nothing: every element is drawn on its own. With Hypothesis's default fill most small
    # arrays repeat one value, and a matrix equal to its transpose hides a W-for-Wᵀ bug.
    return draw(hnp.arrays(dtype, shape, elements=elements, fill=st.nothing()))


def _draw_separated(draw, shape: tuple, dtype: np.dtype, bound: float = DEFAULT_BOUND) -> np.ndarray:
    """Distinct values on a grid of spacing h, jittered by at most h/4, never near 0.

    Distinct non-zero integers m (drawn from ±1..±K, K = max(30, size)) become
    ``(m + jitter)·h`` with ``h = B/K`` (B the bound, 3 by default) and ``|jitter| ≤ 1/4``.
    """
    st, hnp = hypothesis_modules()
    size = int(np.prod(shape, dtype=np.int64))
    k = max(30, size)
    step = bound / k
    integers = draw(st.lists(st.integers(-k, k - 1), min_size=size, max_size=size, unique=True))
    grid = np.array([m if m < 0 else m + 1 for m in integers], dtype=np.float64)  # skip 0
    jitter = draw(hnp.arrays(np.float64, size, elements=st.floats(-0.25, 0.25, allow_subnormal=False)))
    return ((grid + jitter) * step).reshape(shape).astype(dtype)


def arrays(shape: Any, domain: str = "real", dtype: Any = np.float64, bound: float | None = None):
    """Numpy arrays of ``shape`` (a tuple, an int, or a strategy of shapes) in a value domain.

    Domains (see :data:`DOMAINS`): ``"real"`` [−B, B]; ``"positive"`` [B/12, B];
    ``"unit"`` [1/16, 15/16]; ``"away_from_kinks"`` distinct values in about [−B, B], away from 0.
    ``bound`` is B, 3 by default: widen it when a derivative could go wrong only for large
    inputs (a branch at |x| > 5, a large-argument approximation), since a property test only
    sees the range it draws from. (Finite differences need room: keep B where ``fn`` does not
    overflow and its derivative is not tiny next to its value.) ``dtype`` is float64 or float32.
    Example::

        @given(arrays(shapes(), domain="positive"))
        def test_log(a):
            gradcheck(lambda t: t.log(), Tensor(a, requires_grad=True))

        @given(arrays(shapes(), domain="real", bound=50))    # values in [−50, 50]
        def test_softsign(a): ...

    Raises:
        ValueError: an unknown domain or dtype, a bound ≤ 0 or too large for the dtype, or a
            bound for ``"unit"``; TypeError: a bound that is not a real number.
    """
    dtype, bound = _check_domain(domain, dtype, bound)
    return composite_strategy(_draw_array)(shape, domain, dtype, bound)


def _draw_tensor(
    draw, shape: Any, domain: str, dtype: np.dtype, requires_grad: bool, label: str, bound: float
):
    data = _draw_array(draw, shapes() if shape is None else shape, domain, dtype, bound)
    return Tensor(data, requires_grad=requires_grad, label=label)


def tensors(
    shape: Any = None,
    domain: str = "real",
    requires_grad: bool = True,
    dtype: Any = np.float64,
    label: str = "",
    bound: float | None = None,
):
    """``Tensor`` s with data from :func:`arrays`; ``shape=None`` draws one from :func:`shapes`.

    ``domain`` and ``bound`` as in :func:`arrays` (``bound=50``: values in [−50, 50] for "real").
    Example::

        @given(tensors(domain="away_from_kinks"))
        def test_relu(x):
            gradcheck(lambda t: t.relu(), x)
    """
    dtype, bound = _check_domain(domain, dtype, bound)
    return composite_strategy(_draw_tensor)(shape, domain, dtype, bool(requires_grad), label, bound)
