"""The layered structure of a traced graph: :meth:`Graph.layers`, one :class:`Layer` per call.

Backprop through a network multiplies one factor per layer. This module cuts a traced graph
into those layers and measures, for each, the quantities of that product — all read from the
nodes' own ``.grad`` and the edges' contributions, nothing recomputed:

* ``grad_norm`` — ‖∂L/∂out‖, the gradient arriving at what the layer hands on;
* ``input_grad_norm`` — ‖∂L/∂in‖ as *this layer* passes it to the layer below (the sum of
  ``local × upstream`` over its edges into that layer's outputs);
* ``gain = input_grad_norm / grad_norm`` — the layer's chain-rule factor, in norm. Along a chain
  ``h_n ← … ← h_k`` every ∂L/∂h_{j−1} is exactly what layer j passes down, so the gains multiply
  to ‖∂L/∂h_k‖ / ‖∂L/∂h_n‖: the shrinking (vanishing) or growing (exploding) of the gradient
  with depth, factor by factor;
* ``param_grad_norms`` — ‖∂L/∂W‖, ‖∂L/∂b‖ …, kept apart from the activation gradients (a
  weight's gradient is a different quantity from the gradient a layer passes on).

What a layer is: the nodes of one module call (``Linear``, ``Sigmoid`` …) or of one innermost
:func:`~tinygrad_edu.name_scope`; a module marked ``one_layer`` (the scalar ``nn.scalar.Layer``)
is one layer with all its neurons. Leaves are inputs (created outside every scope; for tensors,
those that need no gradient), parameters (a module's own, or tensors that require grad), or
constants (numbers lifted into ops), which take no part. Nodes outside every scope form the
``input`` and the ``loss`` (the piece that holds the root) and, between layers, ``glue``.

A layer reads lower layers along *routes*, one per node it reads: a residual block's sum reads
its input twice, along the skip (gain 1) and through the branch, and the two add up at the input;
an LSTM step reads ``h`` and ``c`` of the step before, each route with its own gain.

Layers are numbered as the demo's table and the diagnostics number them: ``L3`` is the third
layer with parameters, and the activation after it is ``L3 Sigmoid``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .formatting import optional_number
from .formulas import is_lifted
from .modes import Scope
from .node import Node
from .numerics import combined_norm, norm


@dataclass(eq=False)
class Route:
    """How a layer reads one node of a lower layer.

    Attributes:
        source: the layer that produced ``node``.
        node: the node read (``h_{t−1}``, the block input of a skip ...).
        edges: the graph edges from ``node`` into the reading layer.
        flow: Σ ``local × upstream`` over those edges: the gradient the reading layer passes
            to ``node`` (None when no gradient flows).
        flow_norm: ‖flow‖ (None when no gradient flows).
        gain: ``flow_norm`` ÷ the reading layer's ``grad_norm``.
    """

    source: Layer
    node: Any
    edges: tuple
    flow: Any = None
    flow_norm: float | None = None
    gain: float | None = None


@dataclass(eq=False)
class Layer:
    """One layer of a traced graph (see the module docstring for what each number is).

    Attributes:
        index: position in :meth:`Graph.layers` (input side first).
        number: the ``L``-number (None for input, loss and glue).
        name: what a person calls it: ``"L3 Linear 30→30"``, ``"L3 Sigmoid"``, ``"loss"``.
        kind: ``"Linear 30→30"``, ``"Sigmoid"``, ``"input"``, ``"loss"``, ``"glue"`` ...
        scope: the dotted scope ("" for input, loss and glue).
        nodes: its nodes in topological order (for ``input``: the input leaves).
        outputs: the nodes it hands on (read by other layers, or the root).
        output: the main one: the last of ``outputs`` (the node the next layer builds on).
        routes: one :class:`Route` per node of a lower layer that this layer reads.
        below: the layer it passes its gradient down to (the latest one it reads).
        params: parameter name → the leaves it reads under that name (``"weight"``).
        grad_norm: ‖∂L/∂outputs‖ (one output: ‖∂L/∂output‖).
        input_grad_norm: ‖what this layer passes to ``below``‖ (None where no gradient flows).
        gain: ``input_grad_norm / grad_norm``, the layer's chain-rule factor in norm.
        param_grad_norms: parameter name → ‖∂L/∂param‖ through this layer.
    """

    index: int
    number: int | None
    name: str
    kind: str
    scope: str
    nodes: list
    outputs: tuple = ()
    output: Any = None
    routes: list = field(default_factory=list)
    below: Layer | None = None
    params: dict = field(default_factory=dict)
    grad_norm: float | None = None
    input_grad_norm: float | None = None
    gain: float | None = None
    param_grad_norms: dict = field(default_factory=dict)

    @property
    def is_layer(self) -> bool:
        """False for the input, the loss and glue between layers."""
        return self.number is not None

    def __repr__(self) -> str:
        def num(x: float | None) -> str:
            return optional_number(x, missing="None")

        return (
            f"Layer({self.name!r}, grad_norm={num(self.grad_norm)}, input_grad_norm="
            f"{num(self.input_grad_norm)}, gain={num(self.gain)}, params={sorted(self.params)})"
        )


# --- the cut ----------------------------------------------------------------------------


def layer_scope(scope: Any) -> Any:
    """The scope object that stands for a node's layer: its outermost ``unit`` scope, else itself."""
    if isinstance(scope, Scope):
        for part in scope.chain():
            if part.unit:
                return part
    return scope


def classify_leaf(leaf: Node) -> str:
    """``"constant"``, ``"param"`` or ``"input"`` (see the module docstring)."""
    if is_lifted(leaf):
        return "constant"
    if not getattr(leaf, "requires_grad", True):
        return "constant" if leaf.scope else "input"
    if isinstance(leaf.data, np.ndarray):
        return "param"
    return "param" if leaf.scope else "input"  # a Value: the user's unscoped leaves are inputs


def param_key(leaf: Node, names: dict) -> str:
    """The name a parameter is listed under: its label without an index (``w1[2,0]`` → ``w1``),
    or, unlabelled, the graph's name for it (``leaf #0``)."""
    if not leaf.label:
        return names[leaf]
    return leaf.label.split("[", 1)[0] or leaf.label


def build_layers(graph: Any) -> list[Layer]:
    """Cut ``graph`` (a :class:`~tinygrad_edu.graph.Graph`) into layers, input side first."""
    nodes, ids, root = graph.nodes, graph.ids, graph.root
    kinds = {leaf: classify_leaf(leaf) for leaf in nodes if not leaf.parents}

    # which layer each inner node belongs to: its layer scope, or an unscoped piece
    key_of: dict = {}
    unscoped = [n for n in nodes if n.parents and not n.scope]
    piece = _pieces(unscoped)
    for node in nodes:
        if node.parents:
            key_of[node] = (
                ("scope", id(layer_scope(node.scope))) if node.scope else ("piece", id(piece[node]))
            )
    members: dict = {}
    first_scope: dict = {}
    for node in nodes:
        if node in key_of:
            members.setdefault(key_of[node], []).append(node)
            first_scope.setdefault(key_of[node], layer_scope(node.scope))

    inputs = [leaf for leaf, kind in kinds.items() if kind == "input"]
    consumers: dict = {}
    for edge in graph.edges:
        consumers.setdefault(edge.parent, []).append(edge)

    layers: list[Layer] = []
    if inputs:
        layers.append(Layer(0, None, "input", "input", "", inputs))
    groups = sorted(members.values(), key=lambda group: ids[_main_output(group, consumers, root, ids)])
    for group in groups:
        key = key_of[group[0]]
        scope = first_scope[key] if key[0] == "scope" else ""
        if scope:
            kind = getattr(scope, "kind", None) or getattr(scope, "name", None) or str(scope)
        else:
            kind = "loss" if root in group else "glue"
        layers.append(Layer(len(layers), None, kind, kind, str(scope), group))

    layer_of = {node: layer for layer in layers for node in layer.nodes}
    param_edges = {layer: _connect(layer, layer_of, kinds, consumers, root, graph.names) for layer in layers}
    for layer in layers:
        _measure(layer, param_edges[layer])
    _number(layers)
    return layers


def _pieces(unscoped: list) -> dict:
    """Union-find over edges between unscoped inner nodes: node → the representative of its piece."""
    parent = {n: n for n in unscoped}

    def find(n: Any) -> Any:
        while parent[n] is not n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for node in unscoped:
        for p in node.parents:
            if p in parent:
                a, b = find(node), find(p)
                if a is not b:
                    parent[a] = b
    return {n: find(n) for n in unscoped}


def _main_output(group: list, consumers: dict, root: Any, ids: dict) -> Any:
    inside = set(group)
    outs = [n for n in group if n is root or any(e.child not in inside for e in consumers.get(n, ()))]
    return outs[-1] if outs else group[-1]


def _connect(layer: Layer, layer_of: dict, kinds: dict, consumers: dict, root: Any, names: dict) -> dict:
    """Fill outputs, routes, below and params of ``layer`` from the edges that cross its border.

    Returns parameter name → {leaf: the edges from the layer into it}.
    """
    inside = set(layer.nodes)
    layer.outputs = tuple(
        n for n in layer.nodes if n is root or any(e.child not in inside for e in consumers.get(n, ()))
    )
    layer.output = layer.outputs[-1] if layer.outputs else (layer.nodes[-1] if layer.nodes else None)
    if layer.kind == "input":
        return {}
    routes: dict = {}
    params: dict = {}
    for node in layer.nodes:
        for index, p in enumerate(node.parents):
            if p in inside:
                continue
            kind = kinds.get(p)
            if kind == "constant":
                continue
            edge = _edge(consumers, p, node, index)
            if kind == "param":
                params.setdefault(param_key(p, names), {}).setdefault(p, []).append(edge)
            elif p in layer_of:
                routes.setdefault(p, []).append(edge)
    layer.routes = [Route(layer_of[p], p, tuple(edges)) for p, edges in routes.items()]
    layer.params = {key: list(leaves) for key, leaves in params.items()}
    if layer.routes:
        layer.below = max((route.source for route in layer.routes), key=lambda source: source.index)
    return params


def _edge(consumers: dict, parent: Any, child: Any, index: int) -> Any:
    for edge in consumers[parent]:
        if edge.child is child and edge.index == index:
            return edge
    raise AssertionError("an edge of the graph is missing from its own edge list")


def _flow(edges: Any) -> Any:
    """Σ contributions along ``edges`` (None when none carries a gradient)."""
    total = None
    for edge in edges:
        contribution = edge.contribution
        if contribution is not None:
            total = contribution if total is None else total + contribution
    return total


def _measure(layer: Layer, param_edges: dict) -> None:
    layer.grad_norm = combined_norm([n.grad for n in layer.outputs])
    for route in layer.routes:
        route.flow = _flow(route.edges)
        route.flow_norm = None if route.flow is None else norm(route.flow)
        route.gain = ratio(route.flow_norm, layer.grad_norm)
    if layer.below is not None:
        passed = [route.flow for route in layer.routes if route.source is layer.below]
        layer.input_grad_norm = combined_norm(passed)
        layer.gain = ratio(layer.input_grad_norm, layer.grad_norm)
    layer.param_grad_norms = {
        key: combined_norm([_flow(edges) for edges in by_leaf.values()])
        for key, by_leaf in param_edges.items()
    }


def _number(layers: list[Layer]) -> None:
    """``L``-numbers: each layer with parameters starts a number, the ones after it share it."""
    real = [layer for layer in layers if layer.scope]
    with_params = any(layer.params for layer in real)
    number = 0
    for layer in real:
        if layer.params or not with_params:
            number += 1
        layer.number = number
        layer.name = f"L{number} {layer.kind}"


def ratio(top: float | None, bottom: float | None) -> float | None:
    """``top / bottom`` as a gain: None if either is unknown, nan where it is undefined (0 below)."""
    if top is None or bottom is None:
        return None
    if bottom == 0.0 or math.isnan(bottom) or math.isnan(top) or (math.isinf(top) and math.isinf(bottom)):
        return math.nan
    return top / bottom
