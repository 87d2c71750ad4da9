"""Weight initialisation: fill a parameter in place with numbers whose scale keeps signals alive.

Why it matters: backprop multiplies, per layer, by the weight matrix and by the activation's
derivative. If the weights are too small the product shrinks geometrically with depth
(vanishing gradients); too large and it grows (exploding). Each scheme below picks the weight
variance so that, for its activation, the variance of the signal stays about constant from layer
to layer.

Conventions
-----------
* A weight matrix has shape ``(fan_in, fan_out)`` because layers compute ``x @ W`` (one row per
  sample). So ``fan_in = shape[0]`` and ``fan_out = shape[1]`` — the transpose of PyTorch's
  ``(out, in)`` layout. Arrays with more than two dimensions use ``fan_in = shape[0] · r`` and
  ``fan_out = shape[1] · r`` with ``r`` the product of the remaining dimensions.
* Every function takes the target first (a :class:`~tinygrad_edu.nn.Parameter`, any object with
  a numpy ``.data``, or a numpy array), fills it **in place** and returns it.
* Randomness comes from ``rng``: a :class:`numpy.random.Generator`, an int seed, or None (a
  fresh unseeded generator). The same seed gives the same numbers.
* Called without a target, every function returns an :class:`Initializer` that remembers its
  settings: ``MLP(..., init=init.normal(std=0.1))``.
* A zero-element array (a ``(0, 3)`` weight) has a fan of 0, which would divide by 0: every
  scheme with a fan (all but ``normal``, ``uniform``, ``zeros``, ``ones``, ``constant``) leaves it
  as it is and warns that the init is a no-op, as ``torch.nn.init`` does.

The schemes (``n_in``/``n_out`` = fan-in/fan-out, ``g`` = gain, see :func:`calculate_gain`):

==================  =====================================================  ==========================
name                distribution                                           source
==================  =====================================================  ==========================
``normal``          N(mean, std²), default std 0.01                        "small random numbers"
``uniform``         U(−a, a), default a = √3 · 0.01 (same variance)        (CS231n notes)
``standard``        U(−1/√n_in, 1/√n_in)                                   Glorot & Bengio 2010, eq. 1
``xavier_uniform``  U(−a, a), a = g · √(6 / (n_in + n_out))                Glorot & Bengio 2010, eq. 16
``xavier_normal``   N(0, σ²), σ = g · √(2 / (n_in + n_out))                Glorot & Bengio 2010
``he_uniform``      U(−a, a), a = g · √(3 / n_mode)                        He et al. 2015
``he_normal``       N(0, σ²), σ = g / √n_mode  (g = √2 for ReLU)           He et al. 2015, eq. 10
``lecun_normal``    N(0, 1/n_in)                                           LeCun et al. 1998
``orthogonal``      g · Q, Q with orthonormal rows or columns              Saxe et al. 2014
``identity``        g · I (a square matrix; ``eye`` is an alias)           Le, Jaitly & Hinton 2015
==================  =====================================================  ==========================

``glorot_*`` and ``kaiming_*`` are aliases of ``xavier_*`` and ``he_*``.
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Callable
from numbers import Real
from typing import Any

import numpy as np

from ..scalar import check_slope

#: Standard deviation of ``normal`` when none is given: the "small random numbers"
#: ``0.01 * randn`` of the CS231n notes — the classic recipe that makes deep nets vanish.
DEFAULT_STD = 0.01
#: Half-width of ``uniform`` when none is given: √3 · DEFAULT_STD, so both have the same variance.
DEFAULT_UNIFORM_A = math.sqrt(3.0) * DEFAULT_STD
#: Slope of the negative side of leaky ReLU when none is given (as in PyTorch).
DEFAULT_LEAKY_SLOPE = 0.01

FanMode = str  # "fan_in" | "fan_out"


# --- small helpers ---------------------------------------------------------------------


def as_generator(rng: Any) -> np.random.Generator:
    """A :class:`numpy.random.Generator` from a Generator, an int seed, or None (unseeded)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy Generator, an int seed or None, got {type(rng).__name__}")


def _target_array(target: Any, where: str) -> np.ndarray:
    """The numpy array to fill: ``target`` itself or its ``.data``."""
    array = target if isinstance(target, np.ndarray) else getattr(target, "data", None)
    if not isinstance(array, np.ndarray):
        raise TypeError(
            f"init.{where}: expected a Parameter, Tensor or numpy array, got {type(target).__name__}"
        )
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"init.{where}: can only fill a floating-point array, got dtype {array.dtype}")
    return array


def _nothing_to_fill(array: np.ndarray, where: str) -> bool:
    """True (with PyTorch's warning) for a zero-element array such as a (0, 3) weight.

    A scheme whose scale divides by a fan would divide by 0 there; like ``torch.nn.init`` the
    init is then a no-op that warns, and the empty array is returned as it is. Settings are
    checked before this, so a bad ``mode`` or ``gain`` is still an error.
    """
    if array.size:
        return False
    warnings.warn(
        f"init.{where}: initializing a zero-element array (shape {array.shape}) is a no-op", stacklevel=3
    )
    return True


def _fill(target: Any, values: np.ndarray | float) -> Any:
    array = _target_array(target, "fill")
    array[...] = values  # in place: anything holding the array sees the new numbers
    return target


def _real(value: Any, name: str, where: str, *, positive: bool = False, nonneg: bool = False) -> float:
    if not isinstance(value, Real) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"init.{where}: {name} must be a finite real number, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"init.{where}: {name} must be > 0, got {value!r}")
    if nonneg and value < 0:
        raise ValueError(f"init.{where}: {name} must be >= 0, got {value!r}")
    return float(value)


def compute_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of this shape (layout ``(fan_in, fan_out, ...)``).

    Raises:
        ValueError: for fewer than two dimensions (a bias has no fan-out; pass ``fan_in``
            explicitly where a function accepts it).
    """
    if len(shape) < 2:
        raise ValueError(
            f"fan-in/fan-out need a weight with at least 2 dimensions (fan_in, fan_out), got shape {shape}"
        )
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[0] * receptive, shape[1] * receptive


def _fan(shape: tuple[int, ...], mode: FanMode, where: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"init.{where}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = compute_fans(shape)
    return fan_in if mode == "fan_in" else fan_out


#: Gains of :func:`calculate_gain`; values are the factor by which to scale a unit-variance init.
GAINS = {
    "linear": 1.0,
    "identity": 1.0,
    "sigmoid": 1.0,
    "tanh": 5.0 / 3.0,
    "relu": math.sqrt(2.0),
    "leaky_relu": None,  # depends on the slope: √(2 / (1 + α²))
    "gelu": math.sqrt(2.0),
}


def calculate_gain(activation: str, param: float | None = None) -> float:
    """The recommended gain ``g`` for an activation: weight std is multiplied by it.

    =============  ====================  ==========================================================
    activation     gain                  why
    =============  ====================  ==========================================================
    linear         1
    sigmoid        1                     (as in PyTorch; σ is nearly linear with slope 1/4 at 0)
    tanh           5/3                   makes up for tanh shrinking unit-variance inputs
    relu           √2                    ReLU zeroes half of the inputs, halving the variance
    leaky_relu     √(2 / (1 + α²))       α = ``param``, default 0.01
    gelu           √2                    approximation: GELU behaves like ReLU away from 0
    =============  ====================  ==========================================================

    Raises:
        ValueError: for an unknown activation name (the message lists the known ones).
    """
    if not isinstance(activation, str) or activation not in GAINS:
        raise ValueError(f"calculate_gain: unknown activation {activation!r}; known: {', '.join(GAINS)}")
    if activation == "leaky_relu":
        slope = DEFAULT_LEAKY_SLOPE if param is None else check_slope(param, "calculate_gain", "param")
        return math.sqrt(2.0 / (1.0 + slope * slope))
    gain = GAINS[activation]
    assert gain is not None, "only leaky_relu's gain depends on a parameter"
    return float(gain)


# --- an initialiser remembered with its settings ------------------------------------------


class Initializer:
    """An init function with its settings fixed, e.g. ``init.normal(std=0.1)``.

    Calling it fills a target in place: ``Initializer(param, rng=None)``. It is a plain object
    (not a closure) so that a debugger and ``repr`` show exactly what it will do.
    """

    def __init__(self, function: Callable[..., Any], **settings: Any):
        self.function = function
        self.settings = settings

    def __call__(self, target: Any, rng: Any = None) -> Any:
        return self.function(target, rng=rng, **self.settings)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.settings.items())
        return f"init.{self.function.__name__}({args})"


# --- the schemes ------------------------------------------------------------------------


def zeros(target: Any = None, rng: Any = None) -> Any:
    """Fill with 0 (the usual bias init)."""
    if target is None:
        return Initializer(zeros)
    return _fill(target, 0.0)


def ones(target: Any = None, rng: Any = None) -> Any:
    """Fill with 1."""
    if target is None:
        return Initializer(ones)
    return _fill(target, 1.0)


def constant(target: Any = None, value: float = 0.0, rng: Any = None) -> Any:
    """Fill with ``value``."""
    value = _real(value, "value", "constant")
    if target is None:
        return Initializer(constant, value=value)
    return _fill(target, value)


def normal(target: Any = None, mean: float = 0.0, std: float = DEFAULT_STD, rng: Any = None) -> Any:
    """Fill with samples of N(mean, std²). Default std 0.01: "small random numbers"."""
    mean = _real(mean, "mean", "normal")
    std = _real(std, "std", "normal", nonneg=True)
    if target is None:
        return Initializer(normal, mean=mean, std=std)
    array = _target_array(target, "normal")
    return _fill(target, as_generator(rng).normal(mean, std, size=array.shape))


def uniform(target: Any = None, a: float = DEFAULT_UNIFORM_A, rng: Any = None) -> Any:
    """Fill with samples of U(−a, a) (variance a²/3). Default a = √3·0.01."""
    a = _real(a, "a", "uniform", nonneg=True)
    if target is None:
        return Initializer(uniform, a=a)
    array = _target_array(target, "uniform")
    return _fill(target, as_generator(rng).uniform(-a, a, size=array.shape))


def standard(target: Any = None, fan_in: int | None = None, rng: Any = None) -> Any:
    """The "standard" heuristic U(−1/√n_in, 1/√n_in) (Glorot & Bengio 2010, eq. 1).

    ``fan_in`` defaults to ``shape[0]``; pass it for a bias (which has no fan of its own).
    Its variance 1/(3·n_in) shrinks the signal by about 1/√3 per layer: deep nets vanish.
    """
    if target is None:
        return Initializer(standard, fan_in=fan_in)
    array = _target_array(target, "standard")
    if fan_in is None and _nothing_to_fill(array, "standard"):
        return target
    n_in = _explicit_fan(fan_in, array.shape, "standard")
    bound = 1.0 / math.sqrt(n_in)
    return _fill(target, as_generator(rng).uniform(-bound, bound, size=array.shape))


def _explicit_fan(fan_in: Any, shape: tuple[int, ...], where: str) -> int:
    if fan_in is None:
        if len(shape) == 1:
            raise ValueError(f"init.{where}: a 1-D array (a bias) needs fan_in= (the layer's inputs)")
        return compute_fans(shape)[0]
    if not isinstance(fan_in, (int, np.integer)) or isinstance(fan_in, bool) or fan_in <= 0:
        raise ValueError(f"init.{where}: fan_in must be a positive int, got {fan_in!r}")
    return int(fan_in)


def xavier_uniform(target: Any = None, gain: float = 1.0, rng: Any = None) -> Any:
    """Glorot/Xavier uniform: U(−a, a), a = gain · √(6 / (n_in + n_out)).

    Keeps the variance of activations (forward) and of gradients (backward) equal across
    layers for a roughly linear activation such as tanh near 0 (Glorot & Bengio 2010, eq. 16).
    """
    gain = _real(gain, "gain", "xavier_uniform", nonneg=True)
    if target is None:
        return Initializer(xavier_uniform, gain=gain)
    array = _target_array(target, "xavier_uniform")
    fan_in, fan_out = compute_fans(array.shape)  # a 1-D array is refused, empty or not
    if _nothing_to_fill(array, "xavier_uniform"):
        return target
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return _fill(target, as_generator(rng).uniform(-a, a, size=array.shape))


def xavier_normal(target: Any = None, gain: float = 1.0, rng: Any = None) -> Any:
    """Glorot/Xavier normal: N(0, σ²), σ = gain · √(2 / (n_in + n_out))."""
    gain = _real(gain, "gain", "xavier_normal", nonneg=True)
    if target is None:
        return Initializer(xavier_normal, gain=gain)
    array = _target_array(target, "xavier_normal")
    fan_in, fan_out = compute_fans(array.shape)  # a 1-D array is refused, empty or not
    if _nothing_to_fill(array, "xavier_normal"):
        return target
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return _fill(target, as_generator(rng).normal(0.0, std, size=array.shape))


def he_uniform(
    target: Any = None, gain: float = math.sqrt(2.0), mode: FanMode = "fan_in", rng: Any = None
) -> Any:
    """He/Kaiming uniform: U(−a, a), a = gain · √(3 / n_mode); default gain √2 (ReLU)."""
    gain = _real(gain, "gain", "he_uniform", nonneg=True)
    if target is None:
        return Initializer(he_uniform, gain=gain, mode=mode)
    array = _target_array(target, "he_uniform")
    fan = _fan(array.shape, mode, "he_uniform")
    if _nothing_to_fill(array, "he_uniform"):
        return target
    a = gain * math.sqrt(3.0 / fan)
    return _fill(target, as_generator(rng).uniform(-a, a, size=array.shape))


def he_normal(
    target: Any = None, gain: float = math.sqrt(2.0), mode: FanMode = "fan_in", rng: Any = None
) -> Any:
    """He/Kaiming normal: N(0, σ²), σ = gain / √n_mode; default gain √2, so σ = √(2/n_in).

    ReLU zeroes half of its inputs, halving the second moment; the factor 2 puts it back, so
    the variance of a ReLU net's signal is the same at every depth (He et al. 2015, eq. 10).
    """
    gain = _real(gain, "gain", "he_normal", nonneg=True)
    if target is None:
        return Initializer(he_normal, gain=gain, mode=mode)
    array = _target_array(target, "he_normal")
    fan = _fan(array.shape, mode, "he_normal")
    if _nothing_to_fill(array, "he_normal"):
        return target
    std = gain / math.sqrt(fan)
    return _fill(target, as_generator(rng).normal(0.0, std, size=array.shape))


def lecun_normal(target: Any = None, rng: Any = None) -> Any:
    """LeCun normal: N(0, 1/n_in) — He normal with gain 1."""
    if target is None:
        return Initializer(lecun_normal)
    return he_normal(target, gain=1.0, mode="fan_in", rng=rng)


def orthogonal(target: Any = None, gain: float = 1.0, rng: Any = None) -> Any:
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al. 2014).

    Every singular value equals ``gain``, so the layer neither shrinks nor grows any direction:
    deep linear nets then pass gradients unchanged. Built from the QR decomposition of a
    Gaussian matrix, with the signs of R's diagonal folded in so Q is uniformly distributed.
    """
    gain = _real(gain, "gain", "orthogonal", nonneg=True)
    if target is None:
        return Initializer(orthogonal, gain=gain)
    array = _target_array(target, "orthogonal")
    if array.ndim < 2:
        raise ValueError(f"init.orthogonal: needs at least 2 dimensions, got shape {array.shape}")
    if _nothing_to_fill(array, "orthogonal"):
        return target
    rows, cols = array.shape[0], int(np.prod(array.shape[1:]))
    flat = as_generator(rng).normal(0.0, 1.0, size=(max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))  # Q·diag(sign(r_ii)): the uniform (Haar) distribution
    if rows < cols:
        q = q.T
    return _fill(target, gain * q.reshape(array.shape))


def identity(target: Any = None, gain: float = 1.0, rng: Any = None) -> Any:
    """``gain`` times the identity matrix (a square 2-D target), as in PyTorch's ``eye_``.

    Le, Jaitly & Hinton (2015) start a ReLU recurrent net with ``W_hh = I`` and zero biases: at
    first each step copies the hidden state, so ``∂h_t/∂h_{t−1} = I`` on the active units and the
    gradient neither shrinks nor grows through time. ``rng`` is accepted and unused.
    """
    gain = _real(gain, "gain", "identity", nonneg=True)
    if target is None:
        return Initializer(identity, gain=gain)
    array = _target_array(target, "identity")
    if array.ndim != 2 or array.shape[0] != array.shape[1]:
        raise ValueError(f"init.identity: needs a square 2-D array, got shape {array.shape}")
    return _fill(target, gain * np.eye(array.shape[0]))


# --- names users type ---------------------------------------------------------------------

#: init name → function. Used by ``MLP(init=...)`` and :func:`get`.
INITS: dict[str, Callable[..., Any]] = {
    "normal": normal,
    "uniform": uniform,
    "standard": standard,
    "xavier_uniform": xavier_uniform,
    "xavier_normal": xavier_normal,
    "glorot_uniform": xavier_uniform,
    "glorot_normal": xavier_normal,
    "xavier": xavier_normal,
    "glorot": xavier_normal,
    "he_uniform": he_uniform,
    "he_normal": he_normal,
    "kaiming_uniform": he_uniform,
    "kaiming_normal": he_normal,
    "he": he_normal,
    "kaiming": he_normal,
    "lecun_normal": lecun_normal,
    "orthogonal": orthogonal,
    "identity": identity,
    "eye": identity,
    "zeros": zeros,
    "ones": ones,
}

#: Schemes whose scale depends on the activation: ``MLP`` passes ``calculate_gain(activation)``.
GAIN_AWARE = (he_uniform, he_normal, orthogonal)


def get(name: str) -> Callable[..., Any]:
    """The init function called ``name`` (ValueError listing the valid names otherwise)."""
    if not isinstance(name, str) or name not in INITS:
        raise ValueError(f"unknown init {name!r}; valid names: {', '.join(INITS)} (or pass a callable)")
    return INITS[name]


def accepts_rng(function: Callable[..., Any]) -> bool:
    """Whether ``function`` can be called with an ``rng=`` keyword (user callables may not)."""
    if isinstance(function, Initializer):
        return True
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "rng" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
