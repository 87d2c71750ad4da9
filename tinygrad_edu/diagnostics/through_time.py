"""Gradient through time: ‖∂L/∂h_t‖ for t = 1 … T, read from the graph after ``backward()``.

Backprop through time is backprop through the unrolled net, so the hidden state of step t is a
node like any other and ``h_t.grad`` is the total derivative ∂L/∂h_t: everything the loss sends
back to step t, through the output at t and through every later step. For a vanilla RNN the part
that comes from step T is a product of T − t factors ``diag(1 − h_k²)·W_hh``; when their norms
are below 1 it shrinks geometrically as t moves away from T — the vanishing gradient through
time, measured here as the ratio

    ‖∂L/∂h_1‖ / ‖∂L/∂h_T‖

(below :data:`~tinygrad_edu.diagnostics.VANISHING_RATIO`: the first steps barely learn; above
:data:`~tinygrad_edu.diagnostics.EXPLODING_RATIO`: gradients grow backwards in time). Nothing is
recomputed: the numbers are the ``.grad`` of the step nodes, found either through the module
(``module.hidden_states``, kept by the last call of an ``nn.RNN``/``LSTM``/``GRU``) or in a traced
graph by their labels ``h_t`` and scopes ``….t=k``.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from ..graph import Graph, norm, trace

__all__ = ["gradient_over_time", "through_time_ratio", "recurrent_modules"]

_STEP_SCOPE = re.compile(r"^(?P<prefix>.*)\.t=(?P<t>\d+)$")


def recurrent_modules(model: Any) -> list[tuple[str, Any]]:
    """``[(scope name, module)]`` for every ``nn.RNN``/``LSTM``/``GRU`` in ``model`` (itself included)."""
    from ..nn.recurrent import RNNBase

    if isinstance(model, RNNBase):
        return [(model.name, model)]
    if not hasattr(model, "named_modules"):
        return []
    root = model.name
    return [
        (f"{root}.{path}" if path else root, module)
        for path, module in model.named_modules()
        if isinstance(module, RNNBase)
    ]


def _norm_of(node: Any) -> float:
    """‖node.grad‖, 0 when no gradient reached the node (the loss does not depend on it)."""
    grad = getattr(node, "grad", None)
    return 0.0 if grad is None else norm(np.asarray(grad, dtype=np.float64))


def gradient_over_time(source: Any, *, layer: int = -1, scope: str | None = None) -> np.ndarray:
    """‖∂L/∂h_t‖ for t = 1 … T (an array of length T), after ``backward()``.

    Args:
        source: an ``nn.RNN``/``nn.LSTM``/``nn.GRU`` (its last call's hidden states, layer
            ``layer``), or a root ``Tensor`` / traced :class:`~tinygrad_edu.Graph` (the nodes
            labelled ``h_k`` in scopes ``<scope>.t=k``).
        layer: which layer of a module (default the last, whose states are the output).
        scope: for a graph, the scope of the steps' layer (``"lstm"``, ``"gru.l1"``); needed
            only when the graph holds more than one recurrent layer.

    Raises:
        ValueError: the module was not called yet (with gradients enabled), or the graph has no
            recurrent steps, or several and ``scope`` does not pick one.
    """
    if hasattr(source, "hidden_states") and hasattr(source, "kind"):
        if not source.hidden_states:
            raise ValueError(
                f"gradient_over_time: {type(source).__name__} {source.name!r} has no hidden states yet; "
                "call it (with gradients enabled) and run backward() first"
            )
        try:
            states = source.hidden_states[layer]
        except IndexError:
            raise ValueError(
                f"gradient_over_time: layer {layer} out of range for {source.num_layers} layer(s)"
            ) from None
        return np.array([_norm_of(h) for h in states])
    graph = source if isinstance(source, Graph) else trace(source)
    steps: dict[str, dict[int, Any]] = {}
    for node in graph.nodes:
        match = _STEP_SCOPE.match(getattr(node, "scope", "") or "")
        if match and node.label == f"h_{match['t']}":
            steps.setdefault(match["prefix"], {})[int(match["t"])] = node
    if not steps:
        raise ValueError("gradient_over_time: the graph has no recurrent steps (nodes h_t in scopes '….t=k')")
    if scope is None:
        if len(steps) > 1:
            raise ValueError(f"gradient_over_time: several recurrent layers {sorted(steps)}; pass scope=")
        scope = next(iter(steps))
    if scope not in steps:
        raise ValueError(f"gradient_over_time: no recurrent steps in scope {scope!r}; found {sorted(steps)}")
    found = steps[scope]
    return np.array([_norm_of(found[t]) if t in found else 0.0 for t in range(1, max(found) + 1)])


def through_time_ratio(norms: Any) -> float:
    """‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ of a :func:`gradient_over_time` array (nan if both are 0, inf if only
    h_T's is)."""
    norms = np.asarray(norms, dtype=np.float64)
    if norms.ndim != 1 or norms.size == 0:
        raise ValueError(f"through_time_ratio: expected norms for t = 1 … T, got shape {norms.shape}")
    first, last = float(norms[0]), float(norms[-1])
    if last == 0:
        return math.nan if first == 0 else math.inf
    return first / last
