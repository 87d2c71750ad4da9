"""Tiny networks over scalar :class:`~tinygrad_edu.Value` nodes: ``Neuron``, ``Layer``, ``MLP``.

Every weight is its own node, so a 2-3-3-1 net can be drawn neuron by neuron::

    >>> from tinygrad_edu.nn.scalar import MLP
    >>> net = MLP(2, [3, 3, 1], rng=0)
    >>> y = net([1.0, -2.0]); y.backward()
    >>> net.layers[0].neurons[1].w[0].label, net.layers[0].neurons[1].w[0].scope
    ('w1[1,0]', 'mlp.layers.0.neurons.1')

A neuron computes ``a = act(z)``, ``z = b + Σᵢ wᵢ·xᵢ``. Inside an MLP every node has a short
name that says where it sits: ``w1[2,0]`` is layer 1's weight from input 0 into neuron 2,
``b1[2]`` that neuron's bias, ``z1[2]`` and ``a1[2]`` its sum and activation (a lone neuron
uses ``w0, w1, …``, ``b``, ``z``, ``a``). Every node carries its scope
(``mlp.layers.0.neurons.1``), and a :class:`Layer` is one layer of
:meth:`~tinygrad_edu.graph.Graph.layers` however many neurons it has, so a large net is grouped
layer by layer, never neuron by neuron. The optimisers of :mod:`tinygrad_edu.optim` train
these nets too.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any, cast

import numpy as np

from ..errors import ShapeError
from ..modes import name_scope
from ..scalar import Value
from . import init as init_
from .activations import activation_kind, check_activation, make_activation
from .layers import resolve_init
from .module import Module, ModuleList, Sequential

__all__ = ["Neuron", "Layer", "MLP"]

#: The scalar nets' default weight init: U(−1, 1), as in micrograd.
DEFAULT_SCALAR_INIT = init_.uniform(a=1.0)


def _indexed(tag: str, i: int) -> str:
    """``"1[2]", 0`` → ``"1[2,0]"``; ``"", 0`` → ``"0"``."""
    return f"{tag[:-1]},{i}]" if tag.endswith("]") else f"{tag}{i}"


def _count(value: Any, name: str, where: str) -> int:
    if not isinstance(value, Integral) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{where}: {name} must be a positive int, got {value!r}")
    return int(value)


def _as_inputs(x: Any, n: int, where: str) -> list:
    """``x`` as a list of ``n`` Values or numbers."""
    if isinstance(x, (Value, Real)):
        x = [x]
    if isinstance(x, np.ndarray):
        x = x.tolist()
    if not isinstance(x, (list, tuple)):
        raise TypeError(f"{where}: expected a list of numbers or Values, got {type(x).__name__}")
    if len(x) != n:
        raise ShapeError(f"{where}: expected {n} inputs, got {len(x)}")
    for i, xi in enumerate(x):
        if not isinstance(xi, (Value, Real)) or isinstance(xi, bool):
            raise TypeError(f"{where}: input {i} is a {type(xi).__name__}, expected a number or a Value")
    return list(x)


class Neuron(Module):
    """``act(b + Σᵢ wᵢ·xᵢ)`` over Values.

    Args:
        nin: number of inputs.
        activation: "tanh" (default), "relu", "sigmoid", "leaky_relu", "gelu", "linear", …
        weights: optional initial weights (``nin`` numbers); otherwise drawn with ``init``.
        bias: initial bias (default 0).
        init: weight init (name or callable, default U(−1, 1)), applied to an ``(nin, 1)`` array.
        rng: numpy Generator or int seed.
    """

    # set in __init__ (registered parameters, or past the registering __setattr__)
    w: list[Value]
    b: Value
    act: Module
    tag: str

    def __init__(
        self,
        nin: int,
        activation: Any = "tanh",
        weights: Sequence[float] | np.ndarray | None = None,
        bias: float = 0.0,
        init: Any = DEFAULT_SCALAR_INIT,
        rng: Any = None,
        name: str | None = None,
    ):
        nin = _count(nin, "nin", "Neuron")
        check_activation(activation)
        if weights is None:
            column = np.zeros((nin, 1))
            initializer = resolve_init(init)
            if init_.accepts_rng(initializer):
                initializer(column, rng=init_.as_generator(rng))
            else:
                initializer(column)
            weights = column[:, 0].tolist()
        weights = [float(w) for w in _as_inputs(list(weights), nin, "Neuron weights")]
        if not isinstance(bias, Real) or isinstance(bias, bool):
            raise TypeError(f"Neuron: bias must be a number, got {bias!r}")
        super().__init__(name)
        self.w = [Value(w, label=f"w{i}") for i, w in enumerate(weights)]
        for i, w in enumerate(self.w):
            self.register_parameter(f"w{i}", w)
        self.register_parameter("b", Value(float(bias), label="b"))
        # Called through .forward (not registered as a child) so the activation's node sits in
        # the neuron's own scope rather than in a one-node sub-box.
        object.__setattr__(self, "act", make_activation(activation))
        #: What the neuron's nodes are called after: "" → z, a; "1[2]" → z1[2], a1[2].
        object.__setattr__(self, "tag", "")

    def set_tag(self, tag: str) -> None:
        """Name this neuron's nodes after ``tag``: weights ``w{tag}`` + ``[i]``-style indices."""
        object.__setattr__(self, "tag", tag)
        for i, w in enumerate(self.w):
            w.label = f"w{_indexed(tag, i)}"
        self.b.label = f"b{tag}" if tag else "b"

    def forward(self, x: Any) -> Value:
        x = _as_inputs(x, len(self.w), f"Neuron {self.name!r}")
        z = self.b
        for wi, xi in zip(self.w, x):
            z = z + wi * xi
        z.label = f"z{self.tag}"
        out = self.act.forward(z)
        if out is not z:
            out.label = f"a{self.tag}"
        return out

    def extra_repr(self) -> str:
        return f"{len(self.w)} inputs, {activation_kind(self.act)}"


class Layer(Module):
    """``nout`` neurons reading the same inputs; children ``neurons.0 … neurons.{nout−1}``.

    Returns a list of Values, or a single Value when ``nout == 1`` (as in micrograd).
    The weight matrix ``(nin, nout)`` is drawn at once with ``init`` so that the fan-in/fan-out
    schemes (Xavier, He) see the layer's real shape.
    """

    def __init__(
        self,
        nin: int,
        nout: int,
        activation: Any = "tanh",
        init: Any = DEFAULT_SCALAR_INIT,
        rng: Any = None,
        name: str | None = None,
    ):
        nin = _count(nin, "nin", "Layer")
        nout = _count(nout, "nout", "Layer")
        check_activation(activation)
        initializer = resolve_init(init)
        matrix = np.zeros((nin, nout))
        if init_.accepts_rng(initializer):
            initializer(matrix, rng=init_.as_generator(rng))
        else:
            initializer(matrix)
        super().__init__(name)
        self.neurons = ModuleList(Neuron(nin, activation, weights=matrix[:, j]) for j in range(nout))
        self.set_number("")

    one_layer = True  # its neurons' scopes are all one layer

    def neuron_list(self) -> list[Neuron]:
        """The neurons, typed (``self.neurons`` is a ModuleList of Modules)."""
        return [cast(Neuron, neuron) for neuron in self.neurons]

    def set_number(self, number: str) -> None:
        """Name the nodes after the layer's ``number``: ``w{number}[j,i]``, ``b{number}[j]``,
        ``z{number}[j]`` and ``a{number}[j]`` (``j``: the neuron, ``i``: the input)."""
        for j, neuron in enumerate(self.neuron_list()):
            neuron.set_tag(f"{number}[{j}]")

    def layer_kind(self) -> str:
        first = self.neuron_list()[0]
        return f"Layer {len(first.w)}→{len(self.neurons)} {activation_kind(first.act)}"

    def forward(self, x: Any) -> Value | list[Value]:
        # A ModuleList is never called itself, so its name enters the scope here.
        with name_scope(self.neurons.name):
            out = [neuron(x) for neuron in self.neurons]
        return out[0] if len(out) == 1 else out

    def extra_repr(self) -> str:
        return f"{len(self.neuron_list()[0].w)} → {len(self.neurons)}"


class MLP(Module):
    """``MLP(nin, nouts)``: layers of widths ``nouts`` over Values, e.g. ``MLP(2, [3, 3, 1])``.

    Hidden layers use ``activation``; the last uses ``output_activation`` (default "linear").
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: Any = "tanh",
        output_activation: Any = "linear",
        init: Any = DEFAULT_SCALAR_INIT,
        rng: Any = None,
        name: str | None = None,
    ):
        nin = _count(nin, "nin", "MLP")
        if isinstance(nouts, (str, bytes)) or not isinstance(nouts, Sequence) or not nouts:
            raise ValueError(f"MLP: nouts must be a non-empty sequence of ints, got {nouts!r}")
        sizes = [nin] + [_count(n, f"nouts[{i}]", "MLP") for i, n in enumerate(nouts)]
        check_activation(activation)
        check_activation(output_activation)
        resolve_init(init)
        generator = init_.as_generator(rng)
        super().__init__(name)
        last = len(sizes) - 2
        self.layers = Sequential(
            *(
                Layer(n_in, n_out, output_activation if i == last else activation, init=init, rng=generator)
                for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]))
            )
        )
        for number, layer in enumerate(self.layer_list(), start=1):
            layer.set_number(str(number))

    def layer_list(self) -> list[Layer]:
        """The layers, typed (``self.layers`` is a Sequential of Modules)."""
        return [cast(Layer, layer) for layer in self.layers]

    def forward(self, x: Any) -> Value | list[Value]:
        return self.layers(x)

    def extra_repr(self) -> str:
        layers = self.layer_list()
        return f"{len(layers[0].neuron_list()[0].w)} → {[len(layer.neurons) for layer in layers]}"
