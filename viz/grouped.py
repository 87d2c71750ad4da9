"""The grouped drawing: one box per layer (the layer view) or per band of depths, as scene data.

:mod:`viz.grouping` decides which nodes go into which box; this module decides what each box
and arrow says. In the layer view every number is a chain-rule quantity of
:meth:`tinygrad_edu.Graph.layers`:

* a box is a layer: ``‖∂L/∂out‖`` (the gradient at what it hands on; its colour) and, on
  their own rows, its parameters' ``‖∂L/∂W‖``, ``‖∂L/∂b‖``;
* an arrow is a route: ``grad`` = ‖the gradient the upper layer passes down it‖ and ``gain`` =
  grad ÷ the upper layer's ‖∂L/∂out‖ — the layer's chain-rule factor, which multiplies along a
  chain of layers. A route that does not come from the layer just below is marked ``skip``.

A band of depths is not a layer: its box shows √Σ‖grad‖² over its nodes and their rms, its
arrows √Σ‖flow‖² over the graph edges between two bands, and no gain.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from tinygrad_edu.jacobians import Local
from tinygrad_edu.layers import ratio

from . import style
from .grouping import Group, combine_norms, group_nodes
from .text import is_array, local_text
from .views import EdgeView, NodeView

#: How a parameter's gradient is written on a layer's box.
PARAM_SYMBOLS = {"weight": "W", "bias": "b"}


def param_row(key: str) -> str:
    """``weight`` → ``‖∂L/∂W‖``, ``bias`` → ``‖∂L/∂b‖``, other names as themselves."""
    return f"‖∂L/∂{PARAM_SYMBOLS.get(key, key)}‖"


def descendants(graph: Any, target: Any) -> set:
    """``target`` and every node that depends on it: the nodes on its paths to the root."""
    reached = {target}
    for node in graph.nodes[graph.ids[target] + 1 :]:
        if any(p in reached for p in node.parents):
            reached.add(node)
    return reached


def predicted_gain(predicted: Any, layer: Any) -> float | None:
    """The gain ``predicted`` (``draw(..., predicted=)``) gives ``layer``, by name or scope."""
    if not predicted:
        return None
    value = predicted.get(layer.name, predicted.get(layer.scope) if layer.scope else None)
    return None if value is None else float(value)


def grouped_notes(used: str, predicted: bool = False) -> tuple:
    """The legend lines that say what a grouped drawing's numbers are."""
    if used == "layers":
        notes: tuple[str, ...] = (
            "box = one layer (a module call or name scope): ‖∂L/∂out‖ = the gradient at what it hands on",
            "(its colour); ‖∂L/∂W‖, ‖∂L/∂b‖ = its parameters' gradients, kept apart from the activations'",
            "arrow = a route: grad = ‖gradient the upper layer passes down it‖; gain = grad ÷ its ‖∂L/∂out‖",
            "gains multiply along a chain of layers; skip = a route that passes layers by",
        )
        if predicted:
            notes += ("predicted = the gain given in draw(predicted=...), e.g. mean-field theory's",)
        return notes
    return (
        "box = a band of depths (not a layer): √Σ‖grad‖² = all its nodes' gradients as one vector;",
        "rms = √Σ‖grad‖² / √n (its colour); arrow: √Σ‖flow‖² over the graph edges between the bands",
    )


@dataclass(frozen=True)
class _Context:
    """What every box and arrow of one drawing is decided from."""

    graph: Any
    opts: Any
    has_grad: bool
    reference: float
    target: Any
    on_path: set | None
    path_groups: set | None
    group_of: dict


def grouped_views(graph: Any, mode: str, opts: Any, has_grad: bool, reference: float, target: Any):
    """``(mode used, boxes, arrows, extra legend notes)`` of the grouped drawing of ``graph``."""
    used, groups, group_of = group_nodes(graph, mode, opts.max_groups)
    on_path = descendants(graph, target) if target is not None else None
    path_groups = {group_of[n].index for n in on_path} if on_path is not None else None
    ctx = _Context(graph, opts, has_grad, reference, target, on_path, path_groups, group_of)
    if used == "layers":
        nodes = tuple(_layer_box(group, ctx) for group in groups)
        edges = tuple(_route_arrows(groups, ctx))
    else:
        nodes = tuple(_band_box(group, ctx) for group in groups)
        edges = tuple(_band_arrows(groups, ctx))
    notes: tuple = ()
    if used == "depth" and mode in ("layers", "scope", "auto"):
        layers = graph.layers()
        if any(layer.is_layer for layer in layers):
            notes = (
                f"{len(layers)} layers, more than max_groups={opts.max_groups}: grouped by depth instead",
            )
        else:
            notes = ("no module calls or name scopes in this graph: grouped by depth instead of by layer",)
    return used, nodes, edges, notes


# --- boxes --------------------------------------------------------------------------------


def _box(group: Group, rows: list, m: float | None, colour_by: Any, shows: Any, colour: str, ctx: _Context):
    fill, font = style.node_colours(colour_by if ctx.has_grad else None, ctx.reference, ctx.opts.decades)
    faded = ctx.path_groups is not None and group.index not in ctx.path_groups
    if faded:
        fill, font = style.FADED_FILL, style.FADED_TEXT
    ids = ctx.graph.ids
    return NodeView(
        id=f"g{group.index}",
        kind="group",
        title=group.name,
        symbol="",
        rows=tuple(rows),
        depth=group.min_depth,
        magnitude=m,
        status=style.status(m),
        fill=fill,
        font=font,
        on_path=ctx.path_groups is not None and group.index in ctx.path_groups,
        faded=faded,
        target=ctx.target is not None and ctx.group_of[ctx.target] is group,
        members=tuple(f"n{ids[n]}" for n in group.members),
        shows=tuple(f"n{ids[n]}" for n in shows),
        colour=colour,
    )


def _layer_box(group: Group, ctx: _Context) -> NodeView:
    layer = group.layer
    m = layer.grad_norm if ctx.has_grad else None
    rows = [("nodes", f"{len(group.members)} ({group.leaves} leaves)")]
    if ctx.has_grad:
        rows.append(("‖∂L/∂x‖" if layer.kind == "input" else "‖∂L/∂out‖", _text(m)))
        for key, value in layer.param_grad_norms.items():  # in the order the layer reads them
            rows.append((param_row(key), _text(value)))
    return _box(group, rows, m, m, layer.outputs or layer.nodes, "norm", ctx)


def _band_box(group: Group, ctx: _Context) -> NodeView:
    m = group.norm if ctx.has_grad else None
    rows = [("nodes", f"{len(group.members)} ({group.leaves} leaves)")]
    if m is not None:
        rows.append(("√Σ‖grad‖²", style.fmt(m)))
        rows.append(("rms", style.fmt(group.rms)))
    return _box(group, rows, m, group.rms, group.members, "rms", ctx)


def _text(x: float | None) -> str:
    return "none" if x is None else style.fmt(x)


# --- arrows -------------------------------------------------------------------------------


def _arrow(a: int, b: int, suffix: str, rows: list, m, gain, hit: bool, members: tuple, ctx: _Context):
    faded = ctx.on_path is not None and not hit
    opts, reference = ctx.opts, ctx.reference
    return EdgeView(
        id=f"ge{a}_{b}{suffix}",
        tail=f"g{a}",
        head=f"g{b}",
        index=-1,
        rows=tuple(rows),
        local=None,
        magnitude=m,
        gain=gain,
        status=style.status(m),
        colour=style.FADED_LINE if faded else style.edge_colour(m, reference, opts.decades),
        width=round(style.edge_width(m, reference, opts.decades) + (1.5 if hit else 0.0), 2),
        dashed=style.status(m) == "zero",
        on_path=hit,
        faded=faded,
        count=len(members),
        members=members,
    )


def _route_arrows(groups: list, ctx: _Context) -> list:
    """One arrow per route a layer reads; scalar routes between the same two boxes are merged
    (a scalar layer reads one route per neuron below), tensor routes (``h``, ``c``) stay apart."""
    box = {group.layer: group for group in groups}
    merged: dict = {}  # (source box, reader box, None or the node read) -> routes
    for group in groups:
        for route in group.layer.routes:
            node = None if not is_array(route.node.data) else route.node
            merged.setdefault((box[route.source].index, group.index, node), []).append(route)
    arrows_per_pair = Counter((a, b) for a, b, _ in merged)
    names, ids = ctx.graph.names, ctx.graph.ids
    arrows = []
    for (a, b, node), routes in merged.items():
        reader = groups[b].layer
        flow = combine_norms([r.flow_norm for r in routes]) if ctx.has_grad else None
        gain = ratio(flow, reader.grad_norm) if ctx.has_grad else None
        rows = []
        if node is not None and (len(reader.routes) > 1 or node.label):
            rows.append(("", f"via {names[node]}"))
        if routes[0].source is not reader.below and routes[0].source.kind != "input":
            rows.append(("", "skip"))
        edges = [e for r in routes for e in r.edges]
        if len(edges) > 1:
            rows.append(("edges", str(len(edges))))
        elif not isinstance(edges[0].local, Local):
            rows.append(("local", local_text(edges[0].local)))  # e.g. mean σ' of a sigmoid
        if flow is not None:
            rows.append(("grad", style.fmt(flow)))
            if ctx.opts.show_gain and gain is not None:
                rows.append(("gain", "×" + style.fmt(gain)))
        expected = predicted_gain(ctx.opts.predicted, reader)
        if expected is not None and routes[0].source is reader.below:
            rows.append(("predicted", "×" + style.fmt(expected)))
        hit = ctx.on_path is not None and any(r.node in ctx.on_path for r in routes)
        suffix = f"_n{ids[routes[0].node]}" if arrows_per_pair[(a, b)] > 1 else ""
        members = tuple(f"e{ids[e.child]}_{e.index}" for e in edges)
        arrows.append(_arrow(a, b, suffix, rows, flow, gain, hit, members, ctx))
    return arrows


def _band_arrows(groups: list, ctx: _Context) -> list:
    graph, group_of = ctx.graph, ctx.group_of
    merged: dict = {}  # (parent band, child band) -> (flow magnitudes, on a path, edge ids)
    for edge in graph.edges:
        a, b = group_of[edge.parent], group_of[edge.child]
        if a is b:
            continue
        flows, hit, members = merged.setdefault((a.index, b.index), ([], [False], []))
        members.append(f"e{graph.ids[edge.child]}_{edge.index}")
        if ctx.has_grad:
            flowed = edge.contribution
            flows.append(style.magnitude(flowed) if flowed is not None else None)
        if ctx.on_path is not None and edge.parent in ctx.on_path:
            hit[0] = True
    arrows = []
    for (a, b), (flows, hit, members) in merged.items():
        m = combine_norms(flows) if ctx.has_grad else None
        rows = [("edges", str(len(members)))] if len(members) > 1 else []
        if m is not None:
            rows.append(("√Σ‖flow‖²", style.fmt(m)))
        arrows.append(_arrow(a, b, "", rows, m, None, hit[0], tuple(members), ctx))
    return arrows
