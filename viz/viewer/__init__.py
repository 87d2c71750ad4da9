"""Step through backprop in the browser: one self-contained HTML page per graph.

::

    import viz
    viz.viewer(loss, "backward.html")      # open the file in any browser, no server needed

Without a path, ``viz.viewer(loss)`` returns the same page for a notebook (it displays inline,
in a sandboxed iframe). The page shows the graph (every edge labelled with its local
derivative), first computes it node by node (the forward pass: each value with its formula and
numbers; nodes not computed yet are greyed out), then replays :meth:`Graph.backward_steps` one
chain-rule product at a time: the edge being processed is highlighted, ``upstream × local =
contribution`` is spelled out, the parent's gradient updates in the picture, and a chosen leaf
shows its chain rule as far as the steps have gone. Hovering or focusing an edge shows its local
derivative with the numbers plugged in. Keys: ← → (step), Home / End, b (start of the backward
pass), space (play / pause), Tab (every box and edge; Enter chooses it). The URL fragment keeps
the step and the leaf (``page.html#backward=5&leaf=n2``).

Modules: :mod:`viz.viewer.record` (runs the pass and records each step as data),
:mod:`viz.viewer.page` (the SVG, the page, writing it), :mod:`viz.viewer.formulas` (forward
formulas in the graph's names, locals with the numbers plugged in), :mod:`viz.viewer.command`
(the ``tinygrad-edu viewer`` subcommand and its demo graphs); the page's script (``picture.js``,
``panels.js``, ``viewer.js``, joined into one), style sheet and template are next to them.

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
