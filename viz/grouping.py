"""Collapse a large graph into boxes: one per layer (the layer view), or one per band of depths.

* **layers** (:meth:`tinygrad_edu.Graph.layers`): one box per module call or name scope, plus
  the input and the loss. Every number is a chain-rule quantity of that layer: the box shows
  ‖∂L/∂out‖ (the gradient at what it hands on) and its parameters' ‖∂L/∂W‖, ‖∂L/∂b‖ on their
  own rows; the arrow from a lower box into a higher one is a *route* — the gradient the higher
  layer passes down along it, and its gain (that gradient ÷ the higher layer's ‖∂L/∂out‖: the
  layer's chain-rule factor). A residual block's skip is its own arrow; so are an LSTM step's
  ``h`` and ``c``.
* **depth** (the fallback for graphs without scopes, or with more layers than boxes allowed):
  consecutive depths form bands. A band's box shows √Σ‖grad‖² over its nodes (all their
  gradients taken as one vector) and its rms; an arrow shows √Σ‖flow‖² over the graph edges
  that cross between the two bands. Bands are not layers, so no gain is shown between them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from tinygrad_edu.layers import layer_scope
from tinygrad_edu.numerics import combined_norm

from .style import magnitude


@dataclass(eq=False)
class Group:
    """One box of a grouped drawing.

    Attributes:
        index: position in the drawing (``g0``, ``g1`` ...).
        name: what the box is called: ``"L3 Sigmoid"``, ``"loss"``, or ``"depth 10–19"``.
        members: the nodes in topological order (a layer's box also holds its parameters and
            constants, so every node of the graph is in exactly one box).
        min_depth / max_depth: depth range of the members (0 is the root).
        leaves: how many members are leaves.
        layer: the :class:`tinygrad_edu.layers.Layer` the box is (None for a depth band).
        norm: layer: ‖∂L/∂out‖; band: √Σ‖grad‖² over the members (None before backward).
        rms: band: ``norm / √n``, what its colour shows (layer: None; the colour is ``norm``).
    """

    index: int
    name: str
    members: list = field(default_factory=list)
    min_depth: int = 0
    max_depth: int = 0
    leaves: int = 0
    layer: Any = None
    norm: float | None = None
    rms: float | None = None


def combine_norms(magnitudes: list) -> float | None:
    """√(Σ m²) over the magnitudes that are not None (nan if any is nan, inf if any is inf)."""
    return combined_norm([m for m in magnitudes if m is not None])


def _add(groups: list, group: Group, node: Any, graph: Any, group_of: dict) -> None:
    d = graph.depth[node]
    if not group.members:
        group.min_depth = group.max_depth = d
    group.members.append(node)
    group.min_depth = min(group.min_depth, d)
    group.max_depth = max(group.max_depth, d)
    group.leaves += not node.parents
    group_of[node] = group


def layer_groups(graph: Any, layers: list) -> tuple[list[Group], dict]:
    """One :class:`Group` per layer; parameters and constants join the first layer that reads them."""
    groups = [Group(index=i, name=layer.name, layer=layer) for i, layer in enumerate(layers)]
    owner = {node: groups[i] for i, layer in enumerate(layers) for node in layer.nodes}
    first_reader: dict = {}
    for node in graph.nodes:  # topological order: the first reader is the input-side one
        for parent in node.parents:
            if parent not in owner and node in owner:
                first_reader.setdefault(parent, owner[node])
    group_of: dict = {}
    for node in graph.nodes:
        group = owner.get(node) or first_reader.get(node) or groups[-1]
        _add(groups, group, node, graph, group_of)
    for group in groups:
        group.norm = group.layer.grad_norm
    return groups, group_of


def layer_frames(graph: Any) -> list[tuple[Any, list, list]] | None:
    """For an ungrouped drawing: ``[(layer, members, [members of each inner scope])]``, or None.

    Every node is in the frame of its layer (as in :func:`layer_groups`); inside a layer that is
    one unit with inner scopes (a scalar layer's neurons), the nodes of each inner scope get a
    frame of their own, so a scalar MLP is drawn layer by layer, neurons stacked in each.
    None when the graph has no layers.
    """
    layers = graph.layers()
    if not any(layer.is_layer for layer in layers):
        return None
    groups, _ = layer_groups(graph, layers)
    frames = []
    for group in groups:
        unit = layer_scope(group.members[-1].scope) if group.layer.scope else None
        inner: dict = {}
        direct = []
        for node in group.members:
            scope = node.scope
            if (
                unit is not None
                and scope
                and scope is not unit
                and getattr(scope, "parent", None) is not None
            ):
                inner.setdefault(id(scope), []).append(node)
            else:
                direct.append(node)
        frames.append((group.layer, direct, list(inner.values())))
    return frames


def depth_bands(nodes: list, depth: dict, bands: int) -> dict:
    """Key ``(lo, hi)`` per node: its band of consecutive depths, at most ``bands`` bands."""
    if not nodes:
        return {}
    lo_all = min(depth[n] for n in nodes)
    hi_all = max(depth[n] for n in nodes)
    width = max(1, math.ceil((hi_all - lo_all + 1) / max(1, bands)))
    keys = {}
    for node in nodes:
        start = lo_all + (depth[node] - lo_all) // width * width
        keys[node] = (start, min(start + width - 1, hi_all))
    return keys


def band_groups(graph: Any, max_groups: int) -> tuple[list[Group], dict]:
    """One :class:`Group` per band of depths, with √Σ‖grad‖² and the rms of its members."""
    bands = depth_bands(graph.nodes, graph.depth, max_groups)
    groups: list[Group] = []
    by_band: dict = {}
    group_of: dict = {}
    for node in graph.nodes:  # topological order: deterministic numbering
        lo, hi = bands[node]
        group = by_band.get((lo, hi))
        if group is None:
            name = f"depth {lo}" if lo == hi else f"depth {lo}–{hi}"
            group = by_band[(lo, hi)] = Group(index=len(groups), name=name)
            groups.append(group)
        _add(groups, group, node, graph, group_of)
    for group in groups:
        magnitudes = [magnitude(n.grad) for n in group.members]
        group.norm = combine_norms(magnitudes)
        counted = sum(m is not None for m in magnitudes)
        group.rms = group.norm / math.sqrt(counted) if group.norm is not None and counted else None
    return groups, group_of


def group_nodes(graph: Any, mode: str, max_groups: int) -> tuple[str, list[Group], dict]:
    """Assign every node of ``graph`` to a box.

    Args:
        graph: a traced :class:`tinygrad_edu.Graph`.
        mode: ``"layers"`` (``"scope"`` is the same), ``"depth"``, or ``"auto"`` (layers when the
            graph has any, else depth). Layers fall back to depth bands when there are none or
            more than ``max_groups``.
        max_groups: the most boxes to make.

    Returns:
        ``(mode_used, groups, group_of)``: ``"layers"`` or ``"depth"``, the boxes, node → box.
    """
    if mode in ("layers", "scope", "auto"):
        layers = graph.layers()
        if any(layer.is_layer for layer in layers) and len(layers) <= max_groups:
            groups, group_of = layer_groups(graph, layers)
            return "layers", groups, group_of
    groups, group_of = band_groups(graph, max_groups)
    return "depth", groups, group_of
