"""Recurrent nets: ``RNNCell``, ``LSTMCell``, ``GRUCell`` and the sequence modules ``RNN``, ``LSTM``, ``GRU``.

Everything follows PyTorch: parameter names and shapes, gate order, default init and return
values, so the arrays of a PyTorch state dict load with ``load_state_dict`` and agree. Weights
are stored PyTorch's way, ``weight_ih`` of shape ``(G·H, I)`` (G gates stacked, input size I,
hidden size H), and applied as ``x @ weight_ihᵀ`` (unlike :class:`~tinygrad_edu.nn.Linear`,
which stores ``(in, out)``). The equations of one step are in :mod:`.recurrent_steps`.

Backprop through time is the chain rule over these steps. For the RNN the factor per step is
``∂h_t/∂h_{t−1} = diag(1 − h_t²) · W_hh`` (a ``·W_hhᵀ`` edge after a ``1 − tanh²`` edge): T
steps multiply T of them, which shrinks geometrically when ‖W_hh‖ < 1 and tanh saturates — the
vanishing gradient Hochreiter (1991) found. The LSTM's cell state has a second route:
``c_t = f_t ⊙ c_{t−1} + …`` is a ``mul`` whose edge from ``c_{t−1}`` has the local derivative
``f_t`` alone; with f_t ≈ 1 the gradient rides it without shrinking (the "constant error
carousel"). The GRU's ``z ⊙ h`` edge plays the same part with local ``z_t``.

**Time is a layer.** Every step runs inside ``name_scope("t=k")`` (k = 1 … T) below the module's
scope (``lstm.t=7``; ``lstm.l1.t=7`` for the second of several layers), so every node of step k
carries it and the grouped picture and ``Graph.layers()`` show one box per step. Each step
makes what it uses inside its scope (its slice of the input, the weight transposes, h_0 at
t = 1), so it reads nothing from other steps but ``h_{t−1}`` — and ``c_{t−1}`` for the LSTM: two
routes, each with its own gain, the cell path's local derivative being f_t. Step nodes are
labelled ``h_k``, ``c_k``, ``f_k`` …; after ``backward()``, the per-step hidden states of the last
call are in ``module.hidden_states`` (one list per layer), so ``h_k.grad`` is ∂L/∂h_k.

Default init is U(−1/√H, 1/√H) for every parameter (PyTorch's). Options for the experiments:
``weight_hh_init`` (applied to each gate's H×H block of ``weight_hh``: ``"orthogonal"``,
``"identity"`` (Le et al. 2015), ``init.orthogonal(gain=0.9)``, ``init.normal(std=0.1)`` …),
``bias_init`` (e.g. ``"zeros"``) and, for the LSTM, ``forget_bias`` (the forget block of
``bias_ih`` set to it and of ``bias_hh`` to 0, so the gate starts at σ(forget_bias)).
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from numbers import Integral
from typing import Any

import numpy as np

from ..errors import ShapeError
from ..modes import is_grad_enabled, name_scope
from ..tensor import Tensor, stack
from . import init as init_
from .module import Module, Parameter
from .recurrent_steps import GATES, NONLINEARITIES, StepWeights, gru_step, lstm_step, rnn_step

__all__ = [
    "RNNCell",
    "LSTMCell",
    "GRUCell",
    "RNN",
    "LSTM",
    "GRU",
    "RNNBase",
    "StepWeights",
    "rnn_step",
    "lstm_step",
    "gru_step",
    "GATES",
]

# --- construction and checks shared by cells and sequence modules ------------------------------


def _size(value: Any, name: str, where: str) -> int:
    if not isinstance(value, Integral) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{where}: {name} must be a positive int, got {value!r}")
    return int(value)


def _initializer(spec: Any, where: str) -> Any:
    if spec is None:
        return None
    if isinstance(spec, str):
        return init_.Initializer(init_.get(spec))
    if callable(spec):
        return spec
    raise TypeError(f"{where}: weight_hh_init must be an init name or a callable, got {spec!r}")


def _fill(initializer: Any, array: np.ndarray, generator: np.random.Generator) -> None:
    if init_.accepts_rng(initializer):
        initializer(array, rng=generator)
    else:
        initializer(array)


class _Recurrent(Module):
    """What cells and sequence modules share: sizes, the kind, parameter creation, input checks."""

    kind = "RNN"

    def _setup(
        self, input_size, hidden_size, bias, nonlinearity, weight_hh_init, bias_init, forget_bias, rng, dtype
    ):
        where = type(self).__name__
        self.input_size = _size(input_size, "input_size", where)
        self.hidden_size = _size(hidden_size, "hidden_size", where)
        if not isinstance(bias, bool):
            raise TypeError(f"{where}: bias must be a bool, got {bias!r}")
        if self.kind != "RNN" and nonlinearity != "tanh":
            raise ValueError(f"{where}: nonlinearity= applies to RNN and RNNCell only, got {nonlinearity!r}")
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"{where}: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        if forget_bias is not None and (self.kind != "LSTM" or not bias):
            raise ValueError(f"{where}: forget_bias needs an LSTM with bias=True")
        if forget_bias is not None and not (
            isinstance(forget_bias, (int, float)) and math.isfinite(forget_bias)
        ):
            raise ValueError(f"{where}: forget_bias must be a finite number, got {forget_bias!r}")
        dtype = np.dtype(np.float64 if dtype is None else dtype)
        if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ValueError(f"{where}: dtype must be float32 or float64, got {dtype}")
        self.bias = bias
        self.nonlinearity = nonlinearity
        self._hh_init = _initializer(weight_hh_init, where)
        self._bias_init = _initializer(bias_init, where)
        self._forget_bias = forget_bias
        self._generator = init_.as_generator(rng)
        self._dtype = dtype

    def _make_layer(self, suffix: str, input_size: int) -> None:
        """Create ``weight_ih{suffix}`` (G·H, I), ``weight_hh{suffix}`` (G·H, H) and the biases (G·H,).

        Every entry starts U(−1/√H, 1/√H) (PyTorch's ``reset_parameters``), in PyTorch's order;
        then the options overwrite their part.
        """
        H, G, generator = self.hidden_size, GATES[self.kind], self._generator
        bound = 1.0 / math.sqrt(H)
        shapes: dict[str, tuple[int, ...]] = {"weight_ih": (G * H, input_size), "weight_hh": (G * H, H)}
        if self.bias:
            shapes.update(bias_ih=(G * H,), bias_hh=(G * H,))
        for name, shape in shapes.items():
            data = generator.uniform(-bound, bound, size=shape).astype(self._dtype)
            setattr(self, name + suffix, Parameter(data))
        if self._hh_init is not None:
            weight_hh = getattr(self, "weight_hh" + suffix).data
            for k in range(G):  # each gate's H×H block on its own (orthogonal per gate)
                _fill(self._hh_init, weight_hh[k * H : (k + 1) * H], generator)
        if self.bias and self._bias_init is not None:
            for name in ("bias_ih", "bias_hh"):
                _fill(self._bias_init, getattr(self, name + suffix).data, generator)
        if self._forget_bias is not None:
            getattr(self, "bias_ih" + suffix).data[H : 2 * H] = self._forget_bias
            getattr(self, "bias_hh" + suffix).data[H : 2 * H] = 0.0

    def _weights(self, suffix: str) -> StepWeights:
        """The parameters as a step uses them: ``weight_ihᵀ``, ``weight_hhᵀ`` (two ``.T`` nodes in the
        caller's scope), ``bias_ih``, ``bias_hh``."""
        get = self.__dict__.get  # the biases are absent with bias=False; the weights always exist
        return StepWeights(
            self.__dict__["weight_ih" + suffix].T,
            self.__dict__["weight_hh" + suffix].T,
            get("bias_ih" + suffix),
            get("bias_hh" + suffix),
        )

    def _as_tensor(self, value: Any, what: str) -> Tensor:
        if isinstance(value, np.ndarray):
            return Tensor(value)
        if not isinstance(value, Tensor):
            raise TypeError(
                f"{type(self).__name__} {self.name!r}: {what} must be a Tensor, got {type(value).__name__}"
            )
        return value

    def _check_features(self, x: Tensor, expected_form: str) -> None:
        if x.shape[-1] != self.input_size:
            raise ShapeError(
                f"{type(self).__name__} {self.name!r}: input of shape {x.shape} has {x.shape[-1]} features "
                f"in its last axis, expected input_size={self.input_size} ({expected_form})"
            )

    def _state(self, value: Any, shape: tuple, what: str, hint: str = "") -> Tensor:
        """A given state checked against ``shape``, or zeros (no gradient) when ``None``."""
        if value is None:
            return Tensor(np.zeros(shape, dtype=self._dtype))
        value = self._as_tensor(value, what)
        if value.shape != shape:
            raise ShapeError(
                f"{type(self).__name__} {self.name!r}: expected {what} of shape {shape}, "
                f"got {value.shape}{hint}"
            )
        return value

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if self.kind == "RNN" and self.nonlinearity != "tanh":
            text += f", nonlinearity={self.nonlinearity!r}"
        return text + ("" if self.bias else ", bias=False")


# --- cells: one step -----------------------------------------------------------------------------


class _Cell(_Recurrent):
    def __init__(
        self,
        input_size,
        hidden_size,
        bias=True,
        nonlinearity="tanh",
        *,
        weight_hh_init=None,
        bias_init=None,
        forget_bias=None,
        rng=None,
        dtype=None,
        name=None,
    ):
        super().__init__(name)
        self._setup(
            input_size, hidden_size, bias, nonlinearity, weight_hh_init, bias_init, forget_bias, rng, dtype
        )
        self._make_layer("", self.input_size)

    def _prepare(self, input: Any, hx: Any) -> tuple[Tensor, Any, bool]:
        x = self._as_tensor(input, "input")
        if x.ndim not in (1, 2):
            raise ShapeError(
                f"{type(self).__name__} {self.name!r}: expected input of shape (batch, {self.input_size}) or "
                f"({self.input_size},), got {x.shape} ({x.ndim}-D)"
            )
        self._check_features(x, "(batch, input_size)")
        batched = x.ndim == 2
        shape = (x.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        if self.kind == "LSTM":
            if hx is not None and not (isinstance(hx, tuple) and len(hx) == 2):
                raise TypeError(
                    f"LSTMCell {self.name!r}: hx must be a tuple (h_0, c_0), got {type(hx).__name__}"
                )
            h, c = (None, None) if hx is None else hx
            state: Any = (self._state(h, shape, "h_0"), self._state(c, shape, "c_0"))  # LSTM: (h, c)
        else:
            state = self._state(hx, shape, "hx")
        if not batched:
            x = x.reshape(1, -1)
            state = tuple(s.reshape(1, -1) for s in state) if self.kind == "LSTM" else state.reshape(1, -1)
        return x, state, batched


class RNNCell(_Cell):
    """An Elman RNN cell: ``h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)`` (``nonlinearity="relu"``: relu).

    ``cell(input, hx=None)``: input ``(B, I)`` or ``(I,)``, ``hx`` of shape ``(B, H)`` / ``(H,)``
    (zeros by default); returns ``h'``. Parameters: ``weight_ih (H, I)``, ``weight_hh (H, H)``,
    ``bias_ih (H,)``, ``bias_hh (H,)``.
    """

    kind = "RNN"

    def forward(self, input: Any, hx: Any = None) -> Tensor:
        x, h, batched = self._prepare(input, hx)
        out = rnn_step(x, h, self._weights(""), self.nonlinearity)
        return out if batched else out.reshape(-1)


class LSTMCell(_Cell):
    """An LSTM cell: gates i, f, g, o; ``c' = f ⊙ c + i ⊙ g``, ``h' = o ⊙ tanh(c')``.

    ``cell(input, (h, c)=None)`` returns ``(h', c')``. Parameters: ``weight_ih (4H, I)``,
    ``weight_hh (4H, H)``, ``bias_ih (4H,)``, ``bias_hh (4H,)``, gate blocks in the order i, f, g, o.
    """

    kind = "LSTM"

    def __init__(self, input_size, hidden_size, bias=True, **options):
        super().__init__(input_size, hidden_size, bias, **options)

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Tensor]:
        x, (h, c), batched = self._prepare(input, hx)
        h, c = lstm_step(x, h, c, self._weights(""))
        return (h, c) if batched else (h.reshape(-1), c.reshape(-1))


class GRUCell(_Cell):
    """A GRU cell: gates r, z, n; ``n = tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ + b_hn))``,
    ``h' = (1 − z) ⊙ n + z ⊙ h``.

    Parameters: ``weight_ih (3H, I)``, ``weight_hh (3H, H)``, ``bias_ih (3H,)``, ``bias_hh (3H,)``,
    gate blocks in the order r, z, n.
    """

    kind = "GRU"

    def __init__(self, input_size, hidden_size, bias=True, **options):
        super().__init__(input_size, hidden_size, bias, **options)

    def forward(self, input: Any, hx: Any = None) -> Tensor:
        x, h, batched = self._prepare(input, hx)
        out = gru_step(x, h, self._weights(""))
        return out if batched else out.reshape(-1)


# --- sequence modules: T steps, num_layers stacked ---------------------------------------------


class RNNBase(_Recurrent):
    """The sequence modules' shared loop over layers and time steps (PyTorch's ``nn.RNNBase``).

    ``module(input, hx=None)``: input ``(T, B, I)`` (``(B, T, I)`` with ``batch_first=True``) or
    unbatched ``(T, I)``; ``hx`` ``(num_layers, B, H)`` (``(num_layers, H)`` unbatched), zeros by
    default — for the LSTM a tuple ``(h_0, c_0)``. Returns ``output, h_n`` (LSTM:
    ``output, (h_n, c_n)``): ``output`` ``(T, B, H)`` holds the last layer's h_t for every t
    (``(B, T, H)`` with ``batch_first``), ``h_n`` ``(num_layers, B, H)`` the last step of each layer.
    Parameters per layer k: ``weight_ih_lk (G·H, I or H)``, ``weight_hh_lk (G·H, H)``,
    ``bias_ih_lk``, ``bias_hh_lk (G·H,)``. The steps loop in Python (no recursion), so T is
    limited only by memory; backward is the engine's iterative loop.
    """

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        *,
        nonlinearity="tanh",
        proj_size=0,
        weight_hh_init=None,
        bias_init=None,
        forget_bias=None,
        rng=None,
        dtype=None,
        name=None,
    ):
        where = type(self).__name__
        num_layers = _size(num_layers, "num_layers", where)
        if not isinstance(batch_first, bool):
            raise TypeError(f"{where}: batch_first must be a bool, got {batch_first!r}")
        for option, value, default in (
            ("dropout", dropout, 0.0),
            ("bidirectional", bidirectional, False),
            ("proj_size", proj_size, 0),
        ):
            if value != default:
                raise NotImplementedError(f"{where}: {option}={value!r} is not supported (only {default!r})")
        super().__init__(name)
        self._setup(
            input_size, hidden_size, bias, nonlinearity, weight_hh_init, bias_init, forget_bias, rng, dtype
        )
        self.num_layers, self.batch_first = num_layers, batch_first
        for k in range(num_layers):
            self._make_layer(f"_l{k}", self.input_size if k == 0 else self.hidden_size)
        #: Per layer, the hidden states h_1 … h_T of the last call made with gradients enabled.
        self.hidden_states: list[list[Tensor]] = []
        #: The LSTM's cell states c_1 … c_T per layer (empty for RNN and GRU).
        self.cell_states: list[list[Tensor]] = []

    def _layout(self, x: Tensor) -> tuple[int, int, bool]:
        """``(T, B, batched)`` of a checked input."""
        where = f"{type(self).__name__} {self.name!r}"
        form = "(B, T, input_size)" if self.batch_first else "(T, B, input_size)"
        if x.ndim not in (2, 3):
            raise ShapeError(
                f"{where}: expected a 3-D input {form} (batch_first={self.batch_first}) or a 2-D unbatched "
                f"(T, input_size), got shape {x.shape} ({x.ndim}-D)"
            )
        self._check_features(x, form if x.ndim == 3 else "(T, input_size)")
        if x.ndim == 2:
            T, B, batched = x.shape[0], 1, False
        else:
            (B, T), batched = (x.shape[:2] if self.batch_first else x.shape[1::-1]), True
        if T == 0 or B == 0:
            raise ShapeError(f"{where}: input of shape {x.shape} has no time steps or no samples")
        return T, B, batched

    def _initial(self, value: Any, x: Tensor, B: int, batched: bool, what: str) -> Tensor:
        L, H = self.num_layers, self.hidden_size
        shape = (L, B, H) if batched else (L, H)
        hint = ""
        if batched and isinstance(value, (Tensor, np.ndarray)) and value.ndim == 3:
            other = x.shape[1] if self.batch_first else x.shape[0]  # the axis that is not the batch
            if value.shape[1] == other != B:
                hint = (
                    f"; its batch {other} matches axis {int(self.batch_first)} of the input {x.shape}, "
                    f"which batch_first={self.batch_first} reads as the time axis "
                    f"(batch_first mismatch? try batch_first={not self.batch_first})"
                )
        state = self._state(value, shape, what, hint)
        return state if batched else state.reshape(L, 1, H)

    def forward(self, input: Any, hx: Any = None) -> Any:
        x = self._as_tensor(input, "input")
        T, B, batched = self._layout(x)
        if self.kind == "LSTM":
            if hx is not None and not (isinstance(hx, tuple) and len(hx) == 2):
                raise TypeError(f"LSTM {self.name!r}: hx must be a tuple (h_0, c_0), got {type(hx).__name__}")
            h0, c0 = (None, None) if hx is None else hx
            h0, c0 = self._initial(h0, x, B, batched, "h_0"), self._initial(c0, x, B, batched, "c_0")
        else:
            h0, c0 = self._initial(hx, x, B, batched, "h_0"), None
        if not batched:
            x = x.reshape(T, 1, self.input_size)
        elif self.batch_first:
            x = x.transpose(1, 0, 2)  # (B, T, I) → (T, B, I)
        inputs: list[Any] = [None] * T  # layer 0 indexes x inside each step's scope
        all_h, all_c = [], []
        for k in range(self.num_layers):
            with name_scope(f"l{k}") if self.num_layers > 1 else nullcontext():
                hs, cs = self._run_layer(k, x if k == 0 else None, inputs, h0, c0)
            inputs = hs
            all_h.append(hs)
            all_c.append(cs)
        output = stack(all_h[-1], axis=0)  # (T, B, H)
        h_n = stack([hs[-1] for hs in all_h], axis=0)
        c_n = stack([cs[-1] for cs in all_c], axis=0) if self.kind == "LSTM" else None
        if is_grad_enabled():
            self.hidden_states, self.cell_states = all_h, (all_c if self.kind == "LSTM" else [])
        if not batched:
            output, h_n = output.reshape(T, self.hidden_size), h_n.reshape(self.num_layers, self.hidden_size)
            c_n = None if c_n is None else c_n.reshape(self.num_layers, self.hidden_size)
        elif self.batch_first:
            output = output.transpose(1, 0, 2)
        return (output, (h_n, c_n)) if self.kind == "LSTM" else (output, h_n)

    def _run_layer(self, k: int, x: Tensor | None, inputs: list, h0: Tensor, c0: Tensor | None):
        """Layer k's T steps. Everything a step computes — the slice of h_0 (at t = 1), of the input,
        the transposed weights — is made inside its scope, so a step reads only the step before
        (h, c), its input and the parameters: ``Graph.layers()`` then sees one layer per step."""
        suffix = f"_l{k}"
        hs: list[Tensor] = []
        cs: list[Tensor] = []
        h: Tensor | None = None
        c: Tensor | None = None
        for t in range(1, len(inputs) + 1):
            with name_scope(f"t={t}"):
                if t == 1:
                    h, c = h0[k], (None if c0 is None else c0[k])
                assert h is not None, "h is set at t = 1"
                w = self._weights(suffix)
                x_t = x[t - 1] if x is not None else inputs[t - 1]
                if self.kind == "LSTM":
                    assert c is not None, "an LSTM always has c_0"
                    h, c = lstm_step(x_t, h, c, w, t)
                    cs.append(c)
                elif self.kind == "GRU":
                    h = gru_step(x_t, h, w, t)
                else:
                    h = rnn_step(x_t, h, w, self.nonlinearity, t)
            hs.append(h)
        return hs, cs

    def extra_repr(self) -> str:
        text = super().extra_repr()
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        return text + (", batch_first=True" if self.batch_first else "")


class RNN(RNNBase):
    """An Elman RNN over a sequence (PyTorch's ``nn.RNN``); ``nonlinearity="tanh"`` or ``"relu"``.

    Same positional order as PyTorch: ``RNN(input_size, hidden_size, num_layers=1,
    nonlinearity="tanh", bias=True, batch_first=False)``.
    """

    kind = "RNN"

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        nonlinearity="tanh",
        bias=True,
        batch_first=False,
        dropout=0.0,
        bidirectional=False,
        **options,
    ):
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            nonlinearity=nonlinearity,
            **options,
        )


class LSTM(RNNBase):
    """An LSTM over a sequence (PyTorch's ``nn.LSTM``); returns ``output, (h_n, c_n)``."""

    kind = "LSTM"


class GRU(RNNBase):
    """A GRU over a sequence (PyTorch's ``nn.GRU``); returns ``output, h_n``."""

    kind = "GRU"
