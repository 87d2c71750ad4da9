"""One step of each recurrent cell, as plain functions of Tensors: the maths of ``nn.recurrent``.

PyTorch's equations, with ``W_i·`` / ``W_h·`` a gate's block of rows of ``weight_ih`` /
``weight_hh`` (applied as ``x @ Wᵀ``)::

    RNN    h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)             (or relu)
    LSTM   i, f, g, o = σ, σ, tanh, σ of (x W_ihᵀ + b_ih + h W_hhᵀ + b_hh), split in 4 (this order)
           c' = f ⊙ c + i ⊙ g          h' = o ⊙ tanh(c')
    GRU    r, z = σ of the first two blocks of (x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)
           n = tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ + b_hn))
           h' = (1 − z) ⊙ n + z ⊙ h

Each intermediate node gets a label (``f_3``, ``c_3``, ``f⊙c_3`` … with the step number when one
is given), so pictures and ``gradient_over_time`` can name them. The edges that matter through
time: the RNN's ``1 − tanh²`` then ``·W_hhᵀ`` (the factor ``diag(1 − h²)·W_hh`` per step), the
LSTM's ``c → f⊙c`` (local ``f``: the cell path) and the GRU's ``h → z⊙h`` (local ``z``).
"""

from __future__ import annotations

from typing import NamedTuple

from ..tensor import Tensor

__all__ = ["GATES", "NONLINEARITIES", "StepWeights", "rnn_step", "lstm_step", "gru_step"]

#: How many gate blocks each kind stacks in weight_ih / weight_hh (PyTorch's order in the comments).
GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}  # LSTM: i, f, g, o   GRU: r, z, n
NONLINEARITIES = ("tanh", "relu")


class StepWeights(NamedTuple):
    """One layer's parameters as a step uses them: transposed weights (``·W_ihᵀ``) and biases."""

    w_ih_t: Tensor
    w_hh_t: Tensor
    b_ih: Tensor | None
    b_hh: Tensor | None


def _named(node: Tensor, label: str, t: int | None) -> Tensor:
    node.label = label if t is None else f"{label}_{t}"
    return node


def _affine(x: Tensor, w_t: Tensor, b: Tensor | None) -> Tensor:
    out = x @ w_t
    return out + b if b is not None else out


# --- one step each (shared by the cells and the sequence modules) ------------------------------


def rnn_step(
    x: Tensor, h: Tensor, w: StepWeights, nonlinearity: str = "tanh", t: int | None = None
) -> Tensor:
    """``h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)`` (or relu): one Elman step.

    Local derivative along time: ``∂h'/∂h = diag(1 − h'²) · W_hh`` for tanh (drawn as the
    ``1 − tanh²`` edge then the ``·W_hhᵀ`` edge), ``diag(1[a > 0]) · W_hh`` for relu.
    """
    pre = _named(_affine(x, w.w_ih_t, w.b_ih) + _affine(h, w.w_hh_t, w.b_hh), "a", t)
    return _named(pre.tanh() if nonlinearity == "tanh" else pre.relu(), "h", t)


def lstm_step(x: Tensor, h: Tensor, c: Tensor, w: StepWeights, t: int | None = None) -> tuple[Tensor, Tensor]:
    """One LSTM step (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000).

    ``i, f, g, o`` are the four blocks (this order, as in PyTorch) of
    ``x W_ihᵀ + b_ih + h W_hhᵀ + b_hh``, through σ, σ, tanh, σ; then ``c' = f ⊙ c + i ⊙ g`` and
    ``h' = o ⊙ tanh(c')``. The ``f ⊙ c`` product is its own ``mul`` node: its edge from ``c``
    has the local derivative ``f`` — the cell path, which passes the gradient on scaled only by
    the forget gate.
    """
    H = h.shape[-1]
    gates = _affine(x, w.w_ih_t, w.b_ih) + _affine(h, w.w_hh_t, w.b_hh)
    i = _named(gates[:, 0:H].sigmoid(), "i", t)
    f = _named(gates[:, H : 2 * H].sigmoid(), "f", t)
    g = _named(gates[:, 2 * H : 3 * H].tanh(), "g", t)
    o = _named(gates[:, 3 * H : 4 * H].sigmoid(), "o", t)
    kept = _named(f * c, "f⊙c", t)  # ∂kept/∂c = f: the cell path
    written = _named(i * g, "i⊙g", t)
    c_new = _named(kept + written, "c", t)
    h_new = _named(o * _named(c_new.tanh(), "tanh(c)", t), "h", t)
    return h_new, c_new


def gru_step(x: Tensor, h: Tensor, w: StepWeights, t: int | None = None) -> Tensor:
    """One GRU step (Cho et al. 2014), PyTorch's variant.

    ``r, z`` = σ of the first two blocks of ``x W_ihᵀ + b_ih + h W_hhᵀ + b_hh``;
    ``n = tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ + b_hn))`` (the reset gate multiplies the hidden
    part *after* its bias); ``h' = (1 − z) ⊙ n + z ⊙ h``, whose ``z ⊙ h`` edge from ``h`` has
    the local derivative ``z``.
    """
    H = h.shape[-1]
    gi = _affine(x, w.w_ih_t, w.b_ih)
    gh = _affine(h, w.w_hh_t, w.b_hh)
    r = _named((gi[:, 0:H] + gh[:, 0:H]).sigmoid(), "r", t)
    z = _named((gi[:, H : 2 * H] + gh[:, H : 2 * H]).sigmoid(), "z", t)
    n = _named((gi[:, 2 * H : 3 * H] + r * gh[:, 2 * H : 3 * H]).tanh(), "n", t)
    kept = _named(z * h, "z⊙h", t)  # ∂kept/∂h = z: the GRU's carousel
    return _named((1 - z) * n + kept, "h", t)
