"""Optimisers (``SGD``, ``Adam``) and gradient clipping (``clip_grad_norm_``, ``clip_grad_value_``).

An optimiser changes parameters *outside* the graph: it reads ``p.grad`` and writes ``p.data``
with plain numpy, so a step creates no nodes and records no derivatives. ``p.data`` is replaced
by a new array rather than overwritten in place, so the local derivatives stored on a graph
built before the step (e.g. the ``·Wᵀ`` of a matmul edge) keep the weights they were computed
with: the old graph can still be stepped through or drawn consistently. Parameters whose ``grad`` is
``None`` (no gradient reached them) are skipped, as in PyTorch.

Works with :class:`~tinygrad_edu.nn.Parameter` / :class:`~tinygrad_edu.Tensor` (numpy ``data``
and ``grad``) and with scalar :class:`~tinygrad_edu.Value` parameters (float ``data`` and
``grad``), so the tiny scalar nets of :mod:`tinygrad_edu.nn.scalar` train with the same code.

Every constructor and step validates everything first and raises before anything changes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Real
from typing import Any

import numpy as np

from .errors import GradError, ShapeError
from .formatting import short_number
from .numerics import ScalarMath, combined_norm, to_float

__all__ = ["Optimizer", "SGD", "Adam", "clip_grad_norm_", "clip_grad_value_"]


# --- parameters as numpy -------------------------------------------------------------------


def _collect(params: Any, where: str) -> list:
    """The parameters as a list (a Module is accepted for its ``parameters()``)."""
    if hasattr(params, "parameters") and callable(params.parameters):
        params = params.parameters()
    if isinstance(params, (str, bytes)) or not isinstance(params, Iterable):
        raise TypeError(f"{where}: params must be an iterable of parameters, got {type(params).__name__}")
    collected = list(params)
    seen: set[int] = set()
    for index, p in enumerate(collected):
        if not hasattr(p, "data") or not hasattr(p, "grad"):
            raise TypeError(
                f"{where}: params[{index}] is a {type(p).__name__}, not a parameter "
                "(expected a Parameter/Tensor or Value with .data and .grad)"
            )
        if not isinstance(p.data, (np.ndarray, float)):
            raise TypeError(f"{where}: params[{index}].data must be a numpy array or float")
        _refuse_complex(p.data, "data", p, index, where)
        if id(p) in seen:
            raise ValueError(f"{where}: params[{index}] ({_name(p, index)}) appears more than once")
        seen.add(id(p))
    return collected


def _name(p: Any, index: int) -> str:
    label = getattr(p, "label", "")
    return f"params[{index}] {label!r}" if label else f"params[{index}]"


def _grad_of(p: Any, index: int, where: str) -> np.ndarray | None:
    """``p.grad`` as a numpy array of ``p.data``'s shape, or None to skip the parameter."""
    grad = p.grad
    if grad is None:
        return None
    grad = np.asarray(grad)
    shape = np.shape(p.data)
    if grad.shape != shape:
        raise ShapeError(
            f"{where}: {_name(p, index)} has data of shape {shape} but grad of shape {grad.shape}"
        )
    if not np.issubdtype(grad.dtype, np.number):
        raise TypeError(f"{where}: {_name(p, index)} has a non-numeric grad (dtype {grad.dtype})")
    _refuse_complex(grad, "grad", p, index, where)
    _refuse_complex(p.data, "data", p, index, where)  # data may have been replaced since
    return grad


def _refuse_complex(array: Any, what: str, p: Any, index: int, where: str) -> None:
    """Complex numbers are refused: writing them into real parameters would silently drop the
    imaginary part (numpy's ComplexWarning), and the engine's derivatives are real ones."""
    dtype = getattr(array, "dtype", None)  # a dtype test: this runs for every parameter every step
    if (dtype.kind == "c") if dtype is not None else isinstance(array, complex):
        raise TypeError(
            f"{where}: {_name(p, index)} has a complex {what} (dtype {np.asarray(array).dtype}); "
            "optimisers and clipping work on real numbers only — nothing was changed"
        )


def _write_data(p: Any, new: np.ndarray) -> None:
    """Replace ``p.data`` (new array of the same dtype; a float for a Value)."""
    if isinstance(p.data, np.ndarray):
        p.data = np.asarray(new, dtype=p.data.dtype)
    else:
        p.data = float(new)


def _write_grad(p: Any, new: np.ndarray) -> None:
    """Replace ``p.grad`` with a new array (never in place: it may share memory with a node)."""
    if isinstance(p.grad, np.ndarray):
        p.grad = np.asarray(new, dtype=p.grad.dtype)
    else:
        p.grad = float(new)


def _hyper(value: Any, name: str, where: str, low: float = 0.0, high: float | None = None) -> float:
    """A finite real hyper-parameter in ``[low, high)``."""
    if not isinstance(value, Real) or isinstance(value, bool):
        raise TypeError(f"{where}: {name} must be a real number, got {type(value).__name__} ({value!r})")
    value = to_float(value)  # 10**400 → inf (refused below), not an OverflowError
    # A refused value is quoted exactly (not in 3 digits): lr=-0.0001234 must be recognisable.
    if not math.isfinite(value):
        raise ValueError(f"{where}: {name} must be finite, got {value}")
    if value < low:
        raise ValueError(f"{where}: {name} must be >= {low}, got {value}")
    if high is not None and value >= high:
        raise ValueError(f"{where}: {name} must be < {high}, got {value}")
    return value


# --- optimisers --------------------------------------------------------------------------


class Optimizer:
    """Base class: holds ``params``, the learning rate ``lr`` and per-parameter ``state``.

    Subclasses implement :meth:`update` (one parameter, numpy in and out).
    """

    def __init__(self, params: Any, lr: float):
        where = type(self).__name__
        checked_lr = _hyper(lr, "lr", where)
        self.params: list = _collect(params, where)
        if not self.params:
            raise ValueError(f"{where}: got an empty parameter list")
        self._lr = checked_lr
        #: ``state[i]`` holds what the optimiser remembers about ``params[i]`` (buffers, steps).
        self.state: dict[int, dict[str, Any]] = {}

    @property
    def lr(self) -> float:
        """The learning rate; assignable (for schedules), validated on assignment."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = _hyper(value, "lr", type(self).__name__)

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (``None`` for tensors, ``0.0`` for Values)."""
        for p in self.params:
            p.grad = getattr(type(p), "NO_GRAD", None)

    def step(self) -> None:
        """Apply one update to every parameter that has a gradient.

        All gradients are checked (shape, dtype) before any parameter changes.
        """
        where = f"{type(self).__name__}.step"
        pending = []
        for index, p in enumerate(self.params):
            grad = _grad_of(p, index, where)
            if grad is not None:
                pending.append((index, p, grad))
        with np.errstate(all="ignore"):  # IEEE updates (inf, nan) without warnings, like the ops
            for index, p, grad in pending:
                state = self.state.setdefault(index, {})
                _write_data(p, self.update(np.asarray(p.data), grad, state))

    def update(self, data: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> np.ndarray:
        """The new value of one parameter (override)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v}" for k, v in self.settings().items())
        return f"{type(self).__name__}({len(self.params)} params, {settings})"

    def settings(self) -> dict[str, Any]:
        return {"lr": self.lr}


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and weight decay.

    With ``g = grad + weight_decay · w`` (L2 penalty ½·λ‖w‖² folded into the gradient)::

        no momentum:  w ← w − lr · g
        momentum μ:   b ← μ · b + g          (b = g on the first step)
                      w ← w − lr · b
        Nesterov:     w ← w − lr · (g + μ · b)   (look ahead along the velocity)

    These are PyTorch's equations (without dampening), so results can be compared directly.
    """

    def __init__(
        self,
        params: Any,
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ):
        momentum = _hyper(momentum, "momentum", "SGD", 0.0, 1.0)
        weight_decay = _hyper(weight_decay, "weight_decay", "SGD")
        if not isinstance(nesterov, bool):
            raise TypeError(f"SGD: nesterov must be a bool, got {nesterov!r}")
        if nesterov and momentum == 0.0:
            raise ValueError("SGD: nesterov=True needs momentum > 0")
        super().__init__(params, lr)
        self.momentum = momentum
        self.nesterov = nesterov
        self.weight_decay = weight_decay

    def update(self, data: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> np.ndarray:
        g = grad + self.weight_decay * data if self.weight_decay else grad
        if self.momentum:
            buffer = state.get("momentum_buffer")
            buffer = g.copy() if buffer is None else self.momentum * buffer + g
            state["momentum_buffer"] = buffer
            g = g + self.momentum * buffer if self.nesterov else buffer
        return data - self.lr * g

    def settings(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "momentum": self.momentum,
            "nesterov": self.nesterov,
            "weight_decay": self.weight_decay,
        }


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015) with bias correction and optional L2 weight decay.

    With ``g = grad + weight_decay · w`` and ``t`` the number of steps this parameter took::

        m ← β₁ · m + (1 − β₁) · g            first moment (mean of g)
        v ← β₂ · v + (1 − β₂) · g²           second moment (mean of g²)
        m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)   undo the bias of starting m, v at 0
        w ← w − lr · m̂ / (√v̂ + eps)

    The step is about ``lr`` in size whatever the gradient's scale — why Adam copes with
    gradients that differ by orders of magnitude between layers.
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Adam: betas must be a pair (beta1, beta2), got {betas!r}")
        beta1 = _hyper(betas[0], "betas[0]", "Adam", 0.0, 1.0)
        beta2 = _hyper(betas[1], "betas[1]", "Adam", 0.0, 1.0)
        eps = _hyper(eps, "eps", "Adam")
        weight_decay = _hyper(weight_decay, "weight_decay", "Adam")
        super().__init__(params, lr)
        self.betas = (beta1, beta2)
        self.eps = eps
        self.weight_decay = weight_decay

    def update(self, data: np.ndarray, grad: np.ndarray, state: dict[str, Any]) -> np.ndarray:
        beta1, beta2 = self.betas
        g = grad + self.weight_decay * data if self.weight_decay else grad
        t = state.get("step", 0) + 1
        m = beta1 * state.get("exp_avg", 0.0) + (1.0 - beta1) * g
        v = beta2 * state.get("exp_avg_sq", 0.0) + (1.0 - beta2) * g * g
        state["step"], state["exp_avg"], state["exp_avg_sq"] = t, m, v
        m_hat = m / (1.0 - beta1**t)
        v_hat = v / (1.0 - beta2**t)
        return data - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)

    def settings(self) -> dict[str, Any]:
        return {"lr": self.lr, "betas": self.betas, "eps": self.eps, "weight_decay": self.weight_decay}


# --- clipping ----------------------------------------------------------------------------


def _grads_for_clipping(params: Any, where: str) -> list[tuple[Any, np.ndarray]]:
    collected = _collect(params, where)
    pairs = []
    for index, p in enumerate(collected):
        grad = _grad_of(p, index, where)
        if grad is not None:
            pairs.append((p, grad))
    return pairs


def total_norm(grads: Iterable[np.ndarray], norm_type: float = 2.0) -> float:
    """The norm of all gradients seen as one long vector (``inf``: the largest |entry|)."""
    grads = [np.asarray(g, dtype=np.float64) for g in grads]
    if not grads:
        return 0.0
    if not all(np.all(np.isfinite(g)) for g in grads):
        return math.nan if any(np.isnan(g).any() for g in grads) else math.inf
    if norm_type == 2.0:
        return combined_norm(grads) or 0.0  # the package's one overflow-safe 2-norm
    if norm_type == math.inf:
        return float(max(np.max(np.abs(g)) if g.size else 0.0 for g in grads))
    # Σ over tensors of ‖g‖_p^p, then the p-th root; scaled by the largest entry to avoid
    # overflow of |g|^p for large gradients (the norm itself is finite).
    scale = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    if scale == 0.0:
        return 0.0
    total = sum(float(np.sum(np.abs(g / scale) ** norm_type)) for g in grads)
    return scale * ScalarMath.pow(total, 1.0 / norm_type)  # IEEE: inf, not OverflowError, for tiny p


def clip_grad_norm_(
    params: Any, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False
) -> float:
    """Rescale all gradients together so that their total norm is at most ``max_norm``.

    ``total = (Σᵢ ‖gᵢ‖ₚᵖ)^(1/p)`` over every parameter's gradient; if ``total > max_norm``
    every gradient is multiplied by ``max_norm / total``. The *direction* of the overall
    gradient is unchanged, only its length is capped — the standard fix for exploding
    gradients (Pascanu et al. 2013).

    Returns:
        The total norm *before* clipping (watch it to choose ``max_norm``).

    When the total norm is nan/inf the gradients are left unchanged (scaling cannot repair
    them) and the non-finite norm is returned; with ``error_if_nonfinite=True`` a
    :class:`~tinygrad_edu.GradError` is raised instead.

    Raises:
        ValueError: ``max_norm`` negative or not finite, ``norm_type`` not > 0.
    """
    max_norm = _hyper(max_norm, "max_norm", "clip_grad_norm_")
    if not isinstance(norm_type, Real) or isinstance(norm_type, bool) or not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be a positive number or inf, got {norm_type!r}")
    pairs = _grads_for_clipping(params, "clip_grad_norm_")
    total = total_norm([g for _, g in pairs], to_float(norm_type))
    if not math.isfinite(total):
        if error_if_nonfinite:
            raise GradError(
                f"clip_grad_norm_: the total gradient norm is {short_number(total)}; gradients left unchanged"
            )
        return total
    if total > max_norm:
        coefficient = max_norm / total
        for p, grad in pairs:
            _write_grad(p, grad * coefficient)
    return total


def clip_grad_value_(params: Any, clip_value: float) -> None:
    """Clamp every gradient entry into ``[−clip_value, clip_value]`` (changes the direction).

    Raises:
        ValueError: ``clip_value`` negative or not finite.
    """
    clip_value = _hyper(clip_value, "clip_value", "clip_grad_value_")
    for p, grad in _grads_for_clipping(params, "clip_grad_value_"):
        _write_grad(p, np.clip(grad, -clip_value, clip_value))
