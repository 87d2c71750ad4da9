"""Turn a :class:`~viz.scene.Scene` into Graphviz DOT: :func:`draw` and the :class:`Drawing` it returns.

Every label is an HTML-like label whose text went through :func:`viz.style.html_text`, so no
label text — quotes, backslashes, ``<>&``, braces, newlines, unicode — can end the label or add
an attribute. Node and edge names are generated ids (``n3``, ``e5_1``, ``g2``), never user text.
Attributes are passed as sorted keywords and numbers are formatted once, so the same graph gives
byte-identical DOT.
"""

from __future__ import annotations

from typing import Any

import graphviz

from . import backends, style
from .checks import CHECK_LINE
from .errors import VizError
from .scene import EdgeView, NodeView, Scene, build_scene
from .views import Cluster

FONT = "Helvetica"


class Drawing(graphviz.Digraph):
    """A :class:`graphviz.Digraph` that displays itself in Jupyter through viz's renderers.

    ``graphviz.Digraph`` shows itself in a notebook by running the system ``dot``; a Drawing
    uses :mod:`viz.backends` instead (system ``dot`` or the pygraphviz wheel), so it also
    displays inline on a machine with only ``pip install pygraphviz``. With no renderer at all
    the notebook shows the install hint as text. ``.source`` never needs Graphviz.

    Use :func:`viz.render` to write files (``Digraph.render``/``pipe`` are graphviz's own and
    need the system ``dot``).
    """

    def _repr_mimebundle_(self, include=None, exclude=None, **_: Any) -> dict:
        wanted = set(include) if include is not None else {"image/svg+xml"}
        wanted -= set(exclude or ())
        bundle: dict = {}
        try:
            if "image/svg+xml" in wanted:
                bundle["image/svg+xml"] = self._repr_image_svg_xml()
            if "image/png" in wanted:
                bundle["image/png"] = self._repr_image_png()
        except VizError as exc:  # no renderer: say how to get one instead of a traceback
            return {"text/plain": f"{exc}\n\n(DOT source: {len(self.source)} characters in .source)"}
        return bundle

    def _repr_image_svg_xml(self) -> str:
        return backends.render_bytes(self.source, "svg").decode("utf-8")

    def _repr_image_png(self) -> bytes:
        return backends.render_bytes(self.source, "png")

    def svg(self, renderer: str = "auto") -> str:
        """The drawing as SVG text (through :mod:`viz.backends`)."""
        return backends.render_bytes(self.source, "svg", renderer=renderer).decode("utf-8")


def draw(source: Any, **options: Any) -> Drawing:
    """Draw a computation graph: every edge labelled with its local derivative.

    Args:
        source: a ``Value`` or ``Tensor`` (the root; it is traced) or a traced ``Graph``.
        direction: ``"BT"`` (default: leaves at the bottom, root on top, so the gradient flows
            down the page), ``"TB"``, ``"LR"`` or ``"RL"``.
        max_nodes: the node cap (default 200). A larger graph is grouped (see ``group``).
        group: ``"auto"`` (default): group only above ``max_nodes``, by layer
            (:meth:`tinygrad_edu.Graph.layers`: one box per module call or name scope, with
            ‖∂L/∂out‖, ‖∂L/∂W‖ and the gain of each route) when the graph has layers, else by
            bands of depth; ``"layers"`` (or its older name ``"scope"``) / ``"depth"``: always
            group that way; ``None``: never group (a graph above ``max_nodes`` then raises
            :class:`viz.GraphTooLarge` rather than handing Graphviz a layout that takes minutes).
        max_groups: the most boxes a grouped drawing has (default 30).
        highlight: a node of the graph or its label: its paths to the root are drawn bold, the
            rest faded, and each path edge of a scalar graph shows the running product ``∏`` of
            locals from the root; the node shows ``Σ paths`` (equal to its gradient).
        show_grad: show gradients, flows, gains and colours once backward has run (default True).
        show_gain: show the gain on each edge (default True; for a scalar edge it is |local|).
        show_formula: show each edge's formula (default: for tensor graphs only).
        legend: draw the colour scale and a key (default True).
        decades: the colour scale saturates at ±decades powers of ten (default 4).
        title: a title drawn above the graph.
        path_limit: highlight mode refuses graphs with more root→node paths than this.
        check: ``True`` runs :func:`tinygrad_edu.testing.check_edges` on the graph, or pass its
            result: edges whose stored local disagrees with a finite difference of their op are
            drawn thick and green with both numbers (in a grouped drawing, the box holding one
            is outlined green), and the legend names them.
        size, dpi: the largest picture, in inches (default (40, 40)) and dots per inch (default
            96): Graphviz scales larger layouts down, which caps PNG size at 3840 px.
        predicted: ``{layer name or scope: gain}`` — in the layer view, each route from the layer
            just below shows this ``predicted`` gain beside the measured one; e.g.
            ``diagnostics.predict.layer_gains(model)``, what mean-field theory predicts.

    Returns:
        a :class:`Drawing` (a ``graphviz.Digraph``): ``.source`` is the DOT text; in Jupyter it
        displays inline. The same graph always gives the same ``.source``.
    """
    return to_digraph(build_scene(source, **options))


def to_digraph(scene: Scene) -> Drawing:
    """The DOT of a scene (used by :func:`draw`)."""
    opts = scene.options
    width, height = opts.size
    graph_attr = {
        "rankdir": opts.direction,
        "newrank": "true",
        "nodesep": "0.3",
        "ranksep": "0.45",
        "size": f"{_num(width)},{_num(height)}",
        "dpi": _num(opts.dpi),
        "fontname": FONT,
        "bgcolor": "white",
        "outputorder": "edgesfirst",
    }
    if opts.title:
        graph_attr.update(label=f"<<B>{style.html_text(opts.title)}</B>>", labelloc="t", fontsize="18")
    dot = Drawing(
        name="tinygrad_edu",
        graph_attr=graph_attr,
        node_attr={"shape": "box", "style": "rounded,filled", "fontname": FONT, "fontsize": "11"},
        edge_attr={"fontname": FONT, "fontsize": "9", "arrowsize": "0.7"},
    )
    framed = {member for cluster in scene.clusters for member in _all_members(cluster)}
    for node in scene.nodes:
        if node.id not in framed:
            dot.node(node.id, _node_label(node), **_node_attrs(node))
    views = {node.id: node for node in scene.nodes}
    for cluster in scene.clusters:
        dot.subgraph(_frame(cluster, views))
    for tail, head in scene.spacers:  # layout only: keeps each layer's frame above the one below
        dot.edge(tail, head, style="invis")
    for edge in scene.edges:
        dot.edge(edge.tail, edge.head, _edge_label(edge), **_edge_attrs(edge))
    for _depth, ids in scene.ranks:
        if len(ids) > 1:  # rank=same: one row per depth, so depth reads in one direction
            dot.body.append("\t{rank=same; " + " ".join(ids) + "}\n")
    if opts.legend:
        dot.node("legend", _legend_label(scene), shape="plaintext", style="", margin="0")
    return dot


def _all_members(cluster: Cluster) -> list:
    return list(cluster.members) + [m for child in cluster.children for m in _all_members(child)]


def _frame(cluster: Cluster, views: dict) -> graphviz.Digraph:
    """A layer's frame (``subgraph cluster_c3``) holding its boxes, and its neurons' frames."""
    frame = graphviz.Digraph(name=f"cluster_{cluster.id}")
    frame.attr(
        label=f"<<B>{style.html_text(cluster.title)}</B>>" if cluster.title else "",
        style="rounded,dashed" if cluster.title else "rounded,dotted",
        color="#999999",
        fontname=FONT,
        fontsize="10",
        labeljust="l",
    )
    for member in cluster.members:
        node = views[member]
        frame.node(node.id, _node_label(node), **_node_attrs(node))
    for child in cluster.children:
        frame.subgraph(_frame(child, views))
    return frame


def _num(x: float) -> str:
    return f"{float(x):g}"


def _node_attrs(node: NodeView) -> dict:
    attrs = {
        "id": node.id,
        "fillcolor": node.fill,
        "fontcolor": node.font,
        "color": style.FADED_LINE if node.faded else "#333333",
    }
    if node.kind == "group":
        attrs["style"] = "filled"  # square corners: a group is not a single node
        attrs["penwidth"] = "1.5"
    if node.status in ("nan", "inf"):
        attrs["penwidth"] = "3"
    if node.failed:
        attrs.update(color=CHECK_LINE, penwidth="4")
    elif node.target:
        attrs.update(color=style.HIGHLIGHT_LINE, penwidth="3", peripheries="2")
    elif node.on_path:
        attrs.update(color=style.HIGHLIGHT_LINE, penwidth="2")
    return attrs


def _edge_attrs(edge: EdgeView) -> dict:
    attrs = {"id": edge.id, "color": edge.colour, "penwidth": _num(edge.width)}
    attrs["fontcolor"] = style.FADED_TEXT if edge.faded else "#222222"
    if edge.dashed:
        attrs["style"] = "dashed"
    if edge.on_path or edge.failed:
        attrs["style"] = "bold" if not edge.dashed else "bold,dashed"
    if edge.failed:
        attrs["fontcolor"] = CHECK_LINE
    return attrs


def _node_label(node: NodeView) -> str:
    """An HTML-like label: title and op symbol on top, then ``name value`` rows."""
    head = []
    if node.title:
        head.append(f"<B>{style.html_text(node.title)}</B>")
    if node.symbol:
        glyph = f'<FONT POINT-SIZE="14">{style.html_text(node.symbol)}</FONT>'
        head.append(("= " if node.title else "") + glyph)
    if not head:
        head.append("<I>leaf</I>")
    if node.kind != "group":  # the stable id that names unlabelled nodes in formulas and the viewer
        head.append(f'<FONT POINT-SIZE="8">#{style.html_text(node.id[1:])}</FONT>')
    if node.status in ("nan", "inf"):
        head.append(f"<B>[{node.status}]</B>")
    rows = [f'<TR><TD COLSPAN="2">{" ".join(head)}</TD></TR>']
    for name, text in node.rows:
        rows.append(
            f'<TR><TD ALIGN="RIGHT">{style.html_text(name)}</TD>'
            f'<TD ALIGN="LEFT">{style.html_text(text)}</TD></TR>'
        )
    return '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">' + "".join(rows) + "</TABLE>>"


def _edge_label(edge: EdgeView) -> str:
    """An HTML-like label: one line per row, the running product and local derivative first."""
    lines = []
    for name, text in edge.rows:
        line = style.html_text(f"{name} {text}" if name else text)
        if name in ("local", "∏", "✗ check"):
            line = f"<B>{line}</B>"
        lines.append(line)
    if edge.status in ("nan", "inf"):
        lines.append(f"<B>[{edge.status}]</B>")
    return "<" + "<BR/>".join(lines) + ">"


def _legend_label(scene: Scene) -> str:
    """The key: the colour scale with its decades, nan/inf, and what the texts mean."""
    stops = style.legend_stops(scene.options.decades)
    cells = "".join(
        f'<TD BGCOLOR="{fill}"><FONT COLOR="{font}" POINT-SIZE="9">{style.html_text(text)}</FONT></TD>'
        for text, fill, font in stops
    )
    span = len(stops)
    lines = [
        f'<TR><TD COLSPAN="{span}"><B>colour: ‖grad‖ relative to the root gradient '
        f"({style.html_text(style.fmt(scene.reference))}), log scale</B></TD></TR>",
        f"<TR>{cells}</TR>",
        f'<TR><TD COLSPAN="{span}" ALIGN="LEFT">blue = the gradient shrank on its way from the root, '
        "red = it grew</TD></TR>",
    ]
    for note in scene.notes:
        lines.append(f'<TR><TD COLSPAN="{span}" ALIGN="LEFT">{style.html_text(note)}</TD></TR>')
    if scene.grouped:
        lines.append(
            f'<TR><TD COLSPAN="{span}" ALIGN="LEFT">{scene.total_nodes} nodes grouped by '
            f"{style.html_text(scene.grouped)} (cap: max_nodes={scene.options.max_nodes})</TD></TR>"
        )
    return (
        '<<TABLE BORDER="1" COLOR="#999999" CELLBORDER="0" CELLSPACING="1" CELLPADDING="3">'
        + "".join(lines)
        + "</TABLE>>"
    )
