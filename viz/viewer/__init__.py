"""Step through backprop in the browser: one self-contained HTML page per graph.

::

    import viz
    viz.viewer(loss, "backward.html")      # open the file in any browser, no server needed

The page shows the graph (every edge labelled with its local derivative) and replays
:meth:`Graph.backward_steps` one chain-rule product at a time: the edge being processed is
highlighted, ``upstream × local = contribution`` is spelled out, the parent's gradient updates
in the picture, and a chosen leaf shows its chain rule as far as the steps have gone. Keys:
← → (step), Home / End, space (play / pause).

Modules: :mod:`viz.viewer.record` (runs the pass and records each step as data),
:mod:`viz.viewer.page` (the SVG, the page, writing it), :mod:`viz.viewer.command` (the
``tinygrad-edu viewer`` subcommand and its demo graphs); the page's script, style sheet and
template are ``viewer.js``, ``viewer.css`` and ``template.html`` next to them.

Note: ``viz.viewer`` is the function; import helpers from here with ``from viz.viewer import
...``.
"""

from .command import add_viewer_arguments, run_viewer_command, sigmoid_chain, small_mlp
from .page import build_page, embed_json, viewer
from .record import record_pass

__all__ = [
    "viewer",
    "record_pass",
    "build_page",
    "embed_json",
    "add_viewer_arguments",
    "run_viewer_command",
    "sigmoid_chain",
    "small_mlp",
]
