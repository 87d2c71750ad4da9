"""Two implementations of the same elementary functions: one for Python floats, one for numpy arrays.

The derivative rules in :mod:`tinygrad_edu.rules` are written once against this small
interface (``m.exp``, ``m.div``, ``m.step`` ...), so ``Value`` and ``Tensor`` share their maths.

Both follow IEEE semantics: overflow gives ``inf``, an invalid operation gives ``nan``, and
nothing raises mid-graph. Python's ``math`` raises ``OverflowError``/``ValueError``/
``ZeroDivisionError`` instead, so the scalar side catches those rare cases and asks numpy for
the IEEE answer; the common case stays a plain fast ``math`` call.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

_INF = float("inf")
_NAN = float("nan")


def to_float(x) -> float:
    """``float(x)`` for a real number, with IEEE overflow: ±inf instead of ``OverflowError``.

    Python ints (and fractions) are exact and unbounded, so ``float(10**400)`` raises; the
    nearest float64 of such a number is ±inf (numpy's ``float64(1e308) * 10`` agrees), and that
    is what every entry point of the engine stores.
    """
    try:
        return float(x)
    except OverflowError:
        return _INF if x > 0 else -_INF


def _numpy_ieee(ufunc, *args: float) -> float:
    """The IEEE result of a numpy ufunc on float64 scalars, warnings silenced."""
    with np.errstate(all="ignore"):
        return float(ufunc(*(np.float64(to_float(a)) for a in args)))


class ScalarMath:
    """Elementary functions on Python floats (used by :class:`~tinygrad_edu.Value`)."""

    @staticmethod
    def exp(x: float) -> float:
        try:
            return math.exp(x)
        except OverflowError:
            return _INF

    @staticmethod
    def log(x: float) -> float:
        if x > 0.0:
            return math.log(x)
        return _numpy_ieee(np.log, x)  # log 0 = -inf, log(<0) = nan

    @staticmethod
    def sqrt(x: float) -> float:
        if x >= 0.0:
            return math.sqrt(x)
        return _NAN if x == x else x

    @staticmethod
    def tanh(x: float) -> float:
        return math.tanh(x)

    @staticmethod
    def sigmoid(x: float) -> float:
        # Two branches so exp never overflows: σ(x) = 1/(1+e^−x) = e^x/(1+e^x).
        if x >= 0.0:
            return 1.0 / (1.0 + math.exp(-x))
        if x != x:
            return x
        e = math.exp(x)
        return e / (1.0 + e)

    @staticmethod
    def softplus(x: float) -> float:
        # log(1+e^x) = max(x, 0) + log1p(e^−|x|): no overflow for large |x|.
        if x != x:
            return x
        return max(x, 0.0) + math.log1p(math.exp(-abs(x)))

    @staticmethod
    def div(a: float, b: float) -> float:
        try:
            return a / b
        except ZeroDivisionError:
            return _numpy_ieee(np.divide, a, b)  # ±inf, or nan for 0/0

    @staticmethod
    def pow(a: float, b: float) -> float:
        try:
            r = a**b
        except (ZeroDivisionError, OverflowError):
            return _numpy_ieee(np.power, a, b)
        if type(r) is complex:  # negative base, fractional exponent
            return _NAN
        return float(r)

    @staticmethod
    def xlogy(x: float, y: float) -> float:
        """x·ln y with the limit 0·ln 0 = 0."""
        return 0.0 if x == 0.0 else x * ScalarMath.log(y)

    @staticmethod
    def zeros_like(x: float) -> float:
        return 0.0

    @staticmethod
    def relu(x: float) -> float:
        return 0.0 if x <= 0.0 else x  # nan stays nan

    @staticmethod
    def step(x: float) -> float:
        """Heaviside step with step(0) = 0 (the subgradient convention we use at kinks)."""
        return 1.0 if x > 0.0 else 0.0

    @staticmethod
    def sign(x: float) -> float:
        return 1.0 if x > 0.0 else (-1.0 if x < 0.0 else 0.0)

    @staticmethod
    def where(condition: bool, a: float, b: float) -> float:
        return a if condition else b

    @staticmethod
    def abs(x: float) -> float:
        return abs(x)

    @staticmethod
    def sin(x: float) -> float:
        return math.sin(x) if math.isfinite(x) else _NAN

    @staticmethod
    def cos(x: float) -> float:
        return math.cos(x) if math.isfinite(x) else _NAN


# --- numpy without RuntimeWarnings --------------------------------------------------------------
#
# numpy computes the same IEEE results, but also *warns* ("overflow encountered in exp") —
# and under ``-W error`` a warning is an exception in the middle of a graph. Tensor ops
# therefore run with numpy's floating-point errors ignored, like the scalar engine (anomaly
# mode is the way to ask for an error). ``np.errstate`` as a context manager costs about
# 1.3 µs, as much as a small op itself; numpy ≥ 2 keeps that state in a context variable, and
# setting it directly costs about 0.1 µs. numpy 1.x has no such variable: there the state is
# set and restored with ``np.seterr`` (slower, same effect).

try:
    from numpy._core._ufunc_config import _extobj_contextvar as _numpy_errors
except ImportError:  # numpy 1.x
    _numpy_errors = None

if _numpy_errors is not None:
    with np.errstate(all="ignore"):
        _IGNORE_ALL = _numpy_errors.get()
    #: Turn numpy's floating-point warnings off; returns a token for :func:`restore_numpy`.
    quiet_numpy = functools.partial(_numpy_errors.set, _IGNORE_ALL)
    #: Put back the state :func:`quiet_numpy` replaced (always, in a ``finally``).
    restore_numpy = _numpy_errors.reset
else:  # pragma: no cover - numpy 1.x

    def quiet_numpy():
        return np.seterr(all="ignore")

    def restore_numpy(token) -> None:
        np.seterr(**token)


def _array_sigmoid(x: np.ndarray) -> np.ndarray:
    # σ(x) = exp(−softplus(−x)): stable for ±1000 and keeps float32 as float32.
    return np.exp(-np.logaddexp(0, -x))


def _array_xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x·ln y with the limit 0·ln 0 = 0."""
    return np.where(x == 0, 0, x * np.log(y))


def _array_step(x: np.ndarray) -> np.ndarray:
    return (x > 0).astype(x.dtype)


class ArrayMath:
    """The same functions on numpy arrays (used by :class:`~tinygrad_edu.Tensor`).

    Every function keeps the input dtype (float32 stays float32). They are called with numpy's
    floating-point warnings off (:func:`quiet_numpy`, by the tensor ops), so they give IEEE
    results silently.
    """

    exp = staticmethod(np.exp)
    log = staticmethod(np.log)
    sqrt = staticmethod(np.sqrt)
    tanh = staticmethod(np.tanh)
    sigmoid = staticmethod(_array_sigmoid)
    div = staticmethod(np.divide)
    pow = staticmethod(np.power)
    step = staticmethod(_array_step)
    xlogy = staticmethod(_array_xlogy)
    sign = staticmethod(np.sign)
    where = staticmethod(np.where)
    abs = staticmethod(np.abs)
    sin = staticmethod(np.sin)
    cos = staticmethod(np.cos)
    zeros_like = staticmethod(np.zeros_like)

    @staticmethod
    def relu(x: np.ndarray) -> np.ndarray:
        return np.maximum(x, 0)

    @staticmethod
    def softplus(x: np.ndarray) -> np.ndarray:
        return np.logaddexp(0, x)


# --- norms: one overflow-safe norm for gradients, gains and pictures ------------------


def norm(x: Any) -> float:
    """‖x‖: |x| for a number, the Frobenius norm for an array, without overflow (1e200 entries)."""
    if isinstance(x, (float, int)):
        return abs(float(x))
    a = np.asarray(x, dtype=np.float64)
    if a.size == 0:
        return 0.0
    with np.errstate(all="ignore"):
        scale = float(np.max(np.abs(a)))
        if not math.isfinite(scale) or scale == 0.0:
            return scale if not math.isnan(scale) else math.nan
        return scale * float(np.sqrt(np.sum(np.square(a / scale))))


def combined_norm(xs: list) -> float | None:
    """The norm of several gradients taken as one vector (None when all are None)."""
    known = [norm(x) for x in xs if x is not None]
    if not known:
        return None
    if any(math.isnan(k) for k in known):
        return math.nan
    scale = max(known)
    if scale == 0.0 or math.isinf(scale):
        return scale
    return scale * math.sqrt(sum((k / scale) ** 2 for k in known))
