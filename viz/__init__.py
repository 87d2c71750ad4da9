"""viz: pictures of tinygrad_edu graphs where every edge carries its local derivative.

::

    import viz
    dot = viz.draw(y)               # a graphviz.Digraph; dot.source is DOT text (no Graphviz needed)
    viz.render(y, "graph.svg")      # svg / png / pdf / dot, chosen by the suffix
    viz.render(y, "a.png", highlight="a")          # a's paths to the root with running products
    viz.gradient_flow_chart(model_graph, "flow.svg")  # ‖grad‖ per layer against depth (matplotlib)
    viz.viewer(y)                   # in a notebook: step through forward and backward inline
    viz.dashboard(monitor, "run.html")            # a GradientMonitor's history as one page

Node colour is log10 ‖grad‖ relative to the root's gradient (blue: shrunk, red: grown, magenta:
nan, black: inf); edge colour and width follow the gradient that flowed along the edge. Large
graphs are grouped by name scope (layer) or depth band. The engine never imports this package.

Modules: :mod:`viz.scene` (what is shown, as data: :func:`build_scene` returns the
:class:`NodeView`/:class:`EdgeView` objects of :mod:`viz.views` with stable ids, reusable by
other front ends), :mod:`viz.text` (numbers, shapes and summaries in words), :mod:`viz.dot`
(DOT), :mod:`viz.style` (colours, number format, escaping), :mod:`viz.grouping` (large graphs),
:mod:`viz.backends` (system ``dot`` or pygraphviz), :mod:`viz.output` (``render``),
:mod:`viz.flow` (the gradient-flow chart), :mod:`viz.viewer` (the step-through page),
:mod:`viz.dashboard` and :mod:`viz.svgchart` (the training dashboard and its SVG charts),
:mod:`viz.inline` (pages shown inline in notebooks), :mod:`viz.through_time` (‖∂L/∂h_t‖ against t).
"""

from .backends import available as available_renderers
from .dashboard import dashboard
from .dot import Drawing, draw
from .errors import (
    ChartsUnavailable,
    GraphTooLarge,
    OutputPathError,
    RendererNotFound,
    RenderError,
    UnsupportedFormat,
    VizError,
)
from .flow import gradient_flow_chart, layer_norms
from .output import render
from .scene import DrawOptions, EdgeView, NodeView, Scene, build_scene
from .through_time import gradient_over_time_chart
from .viewer import viewer  # the function; the package's helpers: from viz.viewer import ...

__all__ = [
    "draw",
    "render",
    "viewer",
    "dashboard",
    "gradient_flow_chart",
    "gradient_over_time_chart",
    "layer_norms",
    "build_scene",
    "Scene",
    "NodeView",
    "EdgeView",
    "DrawOptions",
    "Drawing",
    "available_renderers",
    "VizError",
    "RendererNotFound",
    "RenderError",
    "UnsupportedFormat",
    "OutputPathError",
    "GraphTooLarge",
    "ChartsUnavailable",
]
