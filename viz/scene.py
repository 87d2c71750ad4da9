"""What a drawing shows, as plain data: one :class:`NodeView` per box, one :class:`EdgeView` per arrow.

:func:`build_scene` reads a traced graph and decides every text, colour and width; the DOT
writer (:mod:`viz.dot`) and any other front end (such as an HTML viewer) only lay the scene
out. Ids are stable: node ``n{k}`` and edge ``e{k}_{i}`` (operand ``i`` of node ``k``) use the
engine's :attr:`Graph.ids`, groups are ``g{k}``; the same graph gives the same scene.

What each piece says:

* node — its label and op symbol, its value (scalars) or shape and a short summary (tensors),
  and after backward its gradient; the fill colour encodes log10 ‖grad‖ relative to the root's;
* edge — the local derivative ∂child/∂parent (scalars: the number; tensors: the formula and a
  summary such as ``mean|·|`` of an elementwise derivative), and after backward the gradient
  that flowed along it (``local × upstream``) and its gain ‖flowed‖ / ‖upstream‖; colour and
  width encode log10 of the gradient that flowed. ``a*a`` has two edges, one per operand.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

import numpy as np

from tinygrad_edu.errors import PathLimitError
from tinygrad_edu.formulas import placeholders, substitute
from tinygrad_edu.graph import Graph, describe, trace
from tinygrad_edu.jacobians import Local

from . import checks, style
from .errors import GraphTooLarge
from .grouped import descendants, grouped_notes, grouped_views
from .grouping import layer_frames
from .text import grad_text, is_array, local_text, node_rows, symbol, takes_grad
from .views import Cluster, DrawOptions, EdgeView, NodeView, Scene

__all__ = ["build_scene", "as_graph", "DrawOptions", "NodeView", "EdgeView", "Scene"]

# --- entry point -------------------------------------------------------------------------


def as_graph(source: Any) -> Graph:
    """A :class:`Graph` from a graph, a ``Value`` or a ``Tensor`` (TypeError otherwise)."""
    if isinstance(source, Graph):
        return source
    if hasattr(source, "parents") and hasattr(source, "local_grads"):
        return trace(source)
    raise TypeError(
        f"viz: expected a Value, a Tensor or a traced Graph, got {type(source).__name__} ({source!r:.60})"
    )


def build_scene(source: Any, **options: Any) -> Scene:
    """Decide every text, colour and width of the drawing of ``source`` (see :func:`viz.draw`)."""
    opts = DrawOptions(**options)
    graph = as_graph(source)
    scene = _scene(graph, opts)
    if opts.check is not None and opts.check is not False:
        scene = checks.mark(scene, graph, opts.check)
    return scene


def _scene(graph: Graph, opts: DrawOptions) -> Scene:
    root = graph.root
    kind = "tensor" if any(is_array(n.data) for n in graph.nodes) else "scalar"
    root_grad = style.magnitude(root.grad)
    has_grad = opts.show_grad and root_grad is not None and root_grad != 0.0
    # has_grad implies root_grad is not None; the explicit test lets the type checker see it
    finite_root = root_grad is not None and has_grad and style.status(root_grad) == "finite"
    reference = root_grad if finite_root and root_grad is not None else 1.0
    target = _resolve_highlight(graph, opts.highlight)

    mode = opts.group
    too_big = len(graph.nodes) > opts.max_nodes
    if mode is None and too_big:
        raise GraphTooLarge(
            f"draw: the graph has {len(graph.nodes)} nodes, more than max_nodes={opts.max_nodes}, "
            "and group=None turns grouping off; pass group='auto' (the default) to collapse it "
            "by layer, or a larger max_nodes if you really want every node"
        )
    # a drawing reads gradients that may be nan/inf: numpy need not warn about them again
    with np.errstate(all="ignore"):
        if mode in ("layers", "scope", "depth") or (mode == "auto" and too_big):
            used, nodes, edges, notes = grouped_views(graph, mode, opts, has_grad, reference, target)
            return Scene(
                nodes=nodes,
                edges=edges,
                ranks=(),
                kind=kind,
                grouped=used,
                has_grad=has_grad,
                reference=reference,
                highlight=next((n.id for n in nodes if n.target), None),
                options=opts,
                total_nodes=len(graph.nodes),
                notes=_notes(kind, has_grad, target is not None, used, bool(opts.predicted)) + notes,
            )
        return _node_scene(graph, opts, kind, has_grad, reference, target)


def _resolve_highlight(graph: Graph, highlight: Any) -> Any:
    if highlight is None:
        return None
    if isinstance(highlight, str):
        try:
            return graph.find(highlight)
        except KeyError as exc:
            raise ValueError(f"draw: highlight={highlight!r}: {exc.args[0]}") from None
        except ValueError as exc:
            raise ValueError(f"draw: highlight={highlight!r}: {exc}") from None
    if highlight not in graph.ids:
        raise ValueError(f"draw: highlight={highlight!r} is not a node of this graph")
    return highlight


# --- one box per node --------------------------------------------------------------------


def _node_scene(graph, opts, kind, has_grad, reference, target) -> Scene:
    ids = graph.ids
    show_formula = (kind == "tensor") if opts.show_formula is None else opts.show_formula
    on_path = descendants(graph, target) if target is not None else None
    running, path_sums = _running_products(graph, target, opts.path_limit, kind)

    nodes = []
    for node in graph.nodes:
        m = style.magnitude(node.grad) if has_grad and takes_grad(node) else None
        fill, font = style.node_colours(m, reference, opts.decades)
        rows = list(node_rows(node, has_grad))
        if node is target and target in path_sums:
            rows.append(("Σ paths", style.fmt(path_sums[target])))
        faded = on_path is not None and node not in on_path
        if faded:
            fill, font = style.FADED_FILL, style.FADED_TEXT
        nid = f"n{ids[node]}"
        nodes.append(
            NodeView(
                id=nid,
                kind="tensor" if is_array(node.data) else "scalar",
                title=node.label,
                symbol=symbol(node),
                rows=tuple(rows),
                depth=graph.depth[node],
                magnitude=m,
                status=style.status(m),
                fill=fill,
                font=font,
                on_path=on_path is not None and node in on_path,
                faded=faded,
                target=node is target,
                members=(nid,),
                shows=(nid,),
            )
        )

    edges = []
    for edge in graph.edges:
        key = (ids[edge.child], edge.index)
        local = edge.local
        flowed = edge.contribution if has_grad else None
        m = style.magnitude(flowed) if flowed is not None else None
        gain = edge.gain if m is not None else None
        rows = []
        if key in running:
            total, count = running[key]
            text = style.fmt(total) if count == 1 else f"{style.fmt(total)} (Σ of {count} paths)"
            rows.append(("∏", text))
        if show_formula and edge.formula:
            rows.append(("", edge.formula))
        summary = local_text(local)
        if isinstance(local, Local):  # a linear map's summary names the rule's operands: use the graph's
            summary = substitute(summary, placeholders(edge.child, graph.names))
        rows.append(("local", summary))
        if m is not None:
            rows.append(("grad", grad_text(flowed)))
            if opts.show_gain and gain is not None:
                rows.append(("gain", "×" + style.fmt(gain)))
        is_on_path = on_path is not None and edge.parent in on_path
        faded = on_path is not None and not is_on_path
        colour = style.FADED_LINE if faded else style.edge_colour(m, reference, opts.decades)
        width = style.edge_width(m, reference, opts.decades) + (1.5 if is_on_path else 0.0)
        edges.append(
            EdgeView(
                id=f"e{key[0]}_{key[1]}",
                tail=f"n{ids[edge.parent]}",
                head=f"n{key[0]}",
                index=edge.index,
                rows=tuple(rows),
                local=float(local) if isinstance(local, Real) else None,
                magnitude=m,
                gain=gain,
                status=style.status(m),
                colour=colour,
                width=round(width, 2),
                dashed=style.status(m) == "zero",
                on_path=is_on_path,
                faded=faded,
                running=running[key][0] if key in running else None,
                members=(f"e{key[0]}_{key[1]}",),
            )
        )

    clusters, spacers = _clusters(graph)
    by_depth: dict = {}
    for view in nodes:
        by_depth.setdefault(view.depth, []).append(view.id)
    # rows of equal depth would pull a layer's nodes apart: a layered graph is framed instead
    ranks = () if clusters else tuple((d, tuple(by_depth[d])) for d in sorted(by_depth))
    return Scene(
        clusters=clusters,
        spacers=spacers,
        nodes=tuple(nodes),
        edges=tuple(edges),
        ranks=ranks,
        kind=kind,
        grouped=None,
        has_grad=has_grad,
        reference=reference,
        highlight=f"n{ids[target]}" if target is not None else None,
        options=opts,
        total_nodes=len(graph.nodes),
        notes=_notes(kind, has_grad, target is not None, None),
    )


def _clusters(graph) -> tuple[tuple, tuple]:
    """One frame per layer (and per neuron inside a scalar layer) for an ungrouped drawing, and
    invisible spacer edges from each layer's output to the leaves of the layer above it (without
    them a layer's weights sit level with the outputs below, and the frames drift sideways)."""
    frames = layer_frames(graph)
    if frames is None:
        return (), ()
    ids = graph.ids

    def box_ids(members: list) -> tuple:
        return tuple(f"n{ids[n]}" for n in members)

    spacers = []
    for layer, direct, inner in frames:
        below = layer.below
        if below is None or below.output is None:
            continue
        for node in direct + [n for members in inner for n in members]:
            if not node.parents:
                spacers.append((f"n{ids[below.output]}", f"n{ids[node]}"))
    clusters = tuple(
        Cluster(
            id=f"c{layer.index}",
            title=layer.name,
            members=box_ids(direct),
            children=tuple(Cluster(f"c{layer.index}_{k}", "", box_ids(m)) for k, m in enumerate(inner)),
        )
        for layer, direct, inner in frames
    )
    return clusters, tuple(spacers)


def _running_products(graph, target, limit, kind) -> tuple[dict, dict]:
    """Highlight mode: per edge on a root → target path, the running product of locals.

    For an edge ``parent → child`` the running product along one path is the product of the
    locals from the root down to and including this edge. Paths that share the same route
    from the root to this edge share that number, so it is summed over the *distinct* routes
    (which equals ∂root/∂child × local restricted to routes that continue to the target).
    Uses the engine's :meth:`Graph.paths` (which refuses past ``limit`` paths). Tensor locals
    are linear maps, not numbers: no running products there.
    """
    if target is None or kind != "scalar":
        return {}, {}
    ids = graph.ids
    try:
        paths = graph.paths(target, limit=limit)
    except PathLimitError as exc:
        raise PathLimitError(
            f"draw(highlight=...): {exc.count} paths lead from the root to {describe(target)}, more "
            f"than path_limit={limit}; pass a larger path_limit, or highlight in a grouped drawing "
            "(group='depth' or 'scope'), which marks the paths without listing them",
            count=exc.count,
            limit=limit,
        ) from None
    route_ids: dict = {}  # (route so far, next edge) -> a small int naming the longer route
    routes: dict = {}  # edge key -> {route id: running product along that route}
    total = 0.0
    for path in paths:
        product = 1.0
        route = -1  # the empty route at the root
        for edge in path.edges:
            key = (ids[edge.child], edge.index)
            product = product * edge.local
            route = route_ids.setdefault((route, key), len(route_ids))
            routes.setdefault(key, {})[route] = product
        total += path.product
    running = {key: (math.fsum(found.values()), len(found)) for key, found in routes.items()}
    return running, {target: total}


def _notes(
    kind: str, has_grad: bool, highlighted: bool, grouped: str | None, predicted: bool = False
) -> tuple:
    """The legend lines that explain this particular drawing."""
    notes = list(grouped_notes(grouped, predicted)) if grouped else []
    if not grouped:
        if kind == "tensor":
            notes.append("node: label = op, shape, data mean and ‖·‖, gradient norm")
            notes.append("edge: ∂child/∂parent formula, local = its summary (mean|·| or a norm)")
        else:
            notes.append("node: label = op, data, grad (∂root/∂node)")
            notes.append("edge: local = ∂child/∂parent, the factor the chain rule multiplies in")
        if has_grad:
            notes.append("grad = local × upstream: what flowed along the edge; gain = ‖grad‖ ÷ ‖upstream‖")
    if has_grad:
        notes.append("line width and colour follow log10 ‖grad that flowed‖; dashed = exactly zero")
    else:
        notes.append("no gradient yet: call .backward() to colour the picture by gradient size")
    if highlighted and not grouped:
        if kind == "scalar":
            notes.append("∏ = running product of locals from the root (summed over routes)")
        else:
            notes.append("highlighted: the paths from the chosen node to the root")
    return tuple(notes)
