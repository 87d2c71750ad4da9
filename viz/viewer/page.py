"""Write the viewer: one self-contained HTML file with the picture, the recorded steps and the script.

The file needs nothing but a browser: the SVG is inline (rendered from viz's own DOT by the
system ``dot`` or pygraphviz), the style sheet and the script are inline, and the recorded
backward pass is inline JSON. It loads nothing from the network; its Content-Security-Policy
forbids it (``default-src 'none'``) and lets only this page's own script run (by its SHA-256),
so even a label that somehow reached the page as markup could not run a script.

How text stays text:

* labels in the SVG went through :func:`viz.style.html_text` into the DOT and were written by
  Graphviz as escaped XML text;
* the JSON is embedded in ``<script type="application/json">`` with every ``<`` written as
  ``\\u003c`` (so neither ``</script>`` nor ``<!--`` can appear inside it);
* the script inserts every name and number with ``textContent``, never as markup.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import html
import json
import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

from .. import backends
from ..dot import to_digraph
from ..errors import GraphTooLarge, RenderError, UnsupportedFormat
from ..inline import InlinePage
from ..output import as_path, check_writable, write_atomically
from ..scene import as_graph, build_scene
from .record import record_pass

#: Options of :func:`viz.draw` that the viewer decides itself (it draws gradients live).
#: (``dpi``: an SVG needs none — the page zooms — and Graphviz 2.43 writes a viewBox that does not
#: match the content when dpi is not 72, which clips the picture in browsers.)
OWN_OPTIONS = ("highlight", "show_grad", "show_gain", "legend", "title", "dpi")
SVG_DPI = 72.0
SUFFIXES = (".html", ".htm")
FIGURE_SPACE = "\u2007"  # as wide as a digit: reserves room in a box for the longest gradient text
DEFAULT_MAX_STEPS = 50_000


def viewer(
    source: Any,
    path: str | os.PathLike | None = None,
    *,
    title: str | None = None,
    max_nodes: int = 200,
    grad: Any = None,
    renderer: str = "auto",
    timeout: float = backends.DEFAULT_TIMEOUT,
    max_steps: int = DEFAULT_MAX_STEPS,
    max_paths: int = 64,
    **draw_options: Any,
) -> Path | InlinePage:
    """A self-contained HTML page that steps through the forward and the backward pass of ``source``.

    With ``path`` the page is written to that ``.html`` file; without it, an
    :class:`~viz.inline.InlinePage` holding the same page is returned, which a Jupyter,
    JupyterLab or VS Code notebook displays in a sandboxed iframe (``_repr_html_``; no network,
    its script and style cannot touch the notebook) and whose ``save(path)`` writes the file.

    The forward pass comes first: node by node in topological order, each value appears with
    its op's formula in the operands' names and with their numbers (``h1 = σ(x) = σ(0.5) =
    0.622``); nodes not computed yet are greyed out with their value hidden. Hovering or
    focusing (Tab) an edge shows its local derivative with the numbers plugged in
    (``σ(h4)(1−σ(h4)) = 0.659 × 0.341 = 0.225``). The current step and the chosen leaf are kept in
    the URL fragment (``page.html#backward=5&leaf=n2``, ``#forward=3``), so a link opens there.

    The page shows the graph (drawn as by :func:`viz.draw`: every edge labelled with its local
    derivative) and steps through :meth:`Graph.backward_steps` one edge at a time — buttons,
    a slider, arrow keys, play/pause. At each step the edge being processed is highlighted, the
    panel shows ``upstream × local = contribution`` and ``parent.grad: before + contribution =
    accumulated``, and the parent's box in the picture shows the new gradient and takes its
    colour (log10 ‖grad‖ relative to the root's). Boxes no gradient has reached yet stay white,
    in their pre-pass state. Choosing a leaf (click it, or the select box) shows its chain rule
    as far as the steps have gone: each root→leaf path with the local derivatives multiplied so
    far (scalar graphs), the gradients that have arrived, and the running ``leaf.grad``.

    Large graphs (more than ``max_nodes`` nodes) are drawn grouped, as by ``viz.draw``: one box
    per layer (name scope) or band of depth. The page still steps through every original edge;
    the step's edge is mapped onto its group edge (highlighted), or onto its group box when both
    ends lie in the same group, and the parent's group shows its aggregate ‖grad‖. Tensor graphs
    show shapes and norms (small arrays also value by value).

    The user's gradients are left as they were: every ``.grad`` is saved, the leaves' gradients
    are cleared so that the page shows one pass from zero (as after ``zero_grad(); backward()``
    — calling ``backward()`` first does not double what the page shows), and every saved
    ``.grad`` is restored afterwards, also if anything fails.

    Args:
        source: a ``Value``/``Tensor`` root or a traced ``Graph``.
        path: the ``.html`` file to write; None (default): return the page for a notebook.
        title: the page title (default: "Forward and backward pass of <root>").
        max_nodes: above this many nodes the picture is grouped (default 200).
        grad: the seed gradient, for a tensor root of more than one element.
        renderer: ``"auto"``, ``"dot"`` or ``"pygraphviz"`` (see :mod:`viz.backends`).
        timeout: seconds the ``dot`` program may take.
        max_steps: refuse (``GraphTooLarge``) graphs with more edges than this: every step is
            stored in the page.
        max_paths: a scalar leaf with more root→leaf paths lists no path products.
        **draw_options: other options of :func:`viz.draw` (``direction``, ``group``,
            ``max_groups``, ``decades``, ``show_formula``, ``size``, ``dpi``, ``path_limit``).

    Returns:
        the path written, or (no ``path``) an :class:`~viz.inline.InlinePage`.

    Raises:
        TypeError, ValueError: bad arguments (before anything runs or is written).
        UnsupportedFormat, OutputPathError: the path is not a writable ``.html`` file.
        RendererNotFound: neither ``dot`` nor pygraphviz is installed.
        GraphTooLarge: more than ``max_steps`` edges.
    """
    target = _output_path(path) if path is not None else None
    if title is not None and not isinstance(title, str):
        raise TypeError(f"viewer: title must be a str, got {type(title).__name__}")
    for name in OWN_OPTIONS:
        if name in draw_options:
            raise TypeError(
                f"viewer: {name}= is decided by the viewer itself (it draws gradients and highlights "
                "live, and zooms the picture); use viz.draw/viz.render for a still picture with it"
            )
    for name, value, low in (("max_steps", max_steps, 1), ("max_paths", max_paths, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < low:
            raise ValueError(f"viewer: {name} must be an int of at least {low}, got {value!r}")
    graph = as_graph(source)
    scene = build_scene(
        graph, max_nodes=max_nodes, show_grad=False, legend=False, dpi=SVG_DPI, **draw_options
    )
    backends.resolve(renderer)  # a missing renderer is reported before the pass runs
    if len(graph.edges) > max_steps:
        raise GraphTooLarge(
            f"viewer: the graph has {len(graph.edges)} edges, more than max_steps={max_steps}; every "
            "step is stored in the page: pass a larger max_steps, or view a smaller graph"
        )

    data = record_pass(graph, scene, grad=grad, max_paths=max_paths)
    svg = render_svg(_with_grad_rows(scene, data), renderer=renderer, timeout=timeout)
    root_name = data["rootName"]
    data["title"] = title if title is not None else f"Forward and backward pass of {root_name}"
    data["subtitle"] = _subtitle(graph, scene, data)
    page = build_page(data, svg)
    if target is None:
        return InlinePage(page, data["title"])
    write_atomically(target, page.encode("utf-8"), "viewer")  # never a half-written page
    return target


# --- the picture ---------------------------------------------------------------------------


def _with_grad_rows(scene: Any, data: dict) -> Any:
    """The scene with one more row per box, ``grad`` (``‖grad‖`` for a group), for the page to fill.

    The row's text is the box's pre-pass state, padded with figure spaces to the longest text
    the box will show during the pass, so Graphviz leaves room for every later value. The
    script finds it as the last text of the box.
    """
    longest: dict = {}
    for box, entry in data["boxes"].items():
        longest[box] = len(entry["initial"]["text"])
    for step in data["steps"]:
        box = step["box"]
        longest[box] = max(longest[box], len(step["view"]["text"]))
    views = []
    for view in scene.nodes:
        text = data["boxes"][view.id]["initial"]["text"]
        padded = text + FIGURE_SPACE * (longest[view.id] - len(text))
        name = "‖grad‖" if scene.grouped else "grad"
        views.append(dataclasses.replace(view, rows=tuple(view.rows) + ((name, padded),)))
    return dataclasses.replace(scene, nodes=tuple(views))


def render_svg(scene: Any, *, renderer: str = "auto", timeout: float = backends.DEFAULT_TIMEOUT) -> str:
    """The scene's DOT rendered to SVG, cleaned for inlining into HTML.

    Drops the XML prolog, the DOCTYPE (it names a remote DTD), comments and Graphviz's
    ``<title>`` tooltips (they repeat internal ids); keeps the ``id`` of every node (``n3``,
    ``g1``) and edge (``e5_0``, ``ge1_2``) that the DOT set, which the script looks up.
    """
    text = backends.render_bytes(to_digraph(scene).source, "svg", renderer=renderer, timeout=timeout)
    svg = text.decode("utf-8")
    start = svg.find("<svg")
    if start < 0:
        raise RenderError("Graphviz produced no <svg> element")
    svg = svg[start:]
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    svg = re.sub(r"<title>[^<]*</title>\n?", "", svg)
    svg = svg.replace("<svg", '<svg id="tv-svg" role="img" aria-label="computation graph"', 1)
    if re.search(r"<\s*(script|foreignObject|iframe)|<[^>]*\son\w+\s*=", svg, flags=re.I):  # defence in depth
        raise RenderError("the rendered SVG contains markup that could run code; refusing to embed it")
    return svg.strip()


def _subtitle(graph: Any, scene: Any, data: dict) -> str:
    steps = len(data["steps"])
    text = f"{len(graph.nodes)} nodes, {len(graph.edges)} edges, {steps} chain-rule steps"
    if scene.grouped:
        text += (
            f"; drawn as {len(scene.nodes)} groups by {scene.grouped} "
            f"(more than max_nodes={scene.options.max_nodes} nodes)"
        )
    return text


# --- the page --------------------------------------------------------------------------------


def _asset(name: str) -> str:
    return resources.files("viz.viewer").joinpath(name).read_text(encoding="utf-8")


#: The page's script, in order: the data and the picture, the panels, the state and controls.
SCRIPTS = ("picture.js", "panels.js", "viewer.js")


def page_script() -> str:
    """The page's one script: :data:`SCRIPTS` joined inside one strict function scope (they share names)."""
    body = "\n".join(_asset(name) for name in SCRIPTS)
    return '(function () {\n"use strict";\n' + body + "})();\n"


def embed_json(data: Any) -> str:
    """JSON for a ``<script type="application/json">`` block: no ``<`` can end the block early.

    Every ``<`` (and, for good measure, ``>``, ``&``, U+2028 and U+2029) is written as a JSON
    ``\\uXXXX`` escape: they can only occur inside JSON strings, where the escape means the
    same character, so ``JSON.parse`` gives back exactly the same data.
    """
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for char in ("<", ">", "&", "\u2028", "\u2029"):
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text


def content_security_policy(script: str) -> str:
    """Nothing from anywhere, and only this exact inline script (by hash) may run."""
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return (
        "default-src 'none'; "
        f"script-src 'sha256-{digest}'; "
        "style-src 'unsafe-inline'; "
        "img-src 'none'; connect-src 'none'; font-src 'none'; "
        "base-uri 'none'; form-action 'none'"
    )


def build_page(data: dict, svg: str) -> str:
    """The whole HTML document (deterministic: the same inputs give the same bytes)."""
    script = page_script()
    style = _asset("viewer.css")
    if re.search(r"</(script|style)", script + style, flags=re.I):
        raise ValueError("viewer assets must not contain '</script' or '</style'")
    parts = {
        "CSP": html.escape(content_security_policy(script)),
        "TITLE": html.escape(data["title"]),
        "SUBTITLE": html.escape(data["subtitle"]),
        "CSS": style,
        "SVG": svg,
        "DATA": embed_json(data),
        "JS": script,
    }
    template = _asset("template.html")
    # one pass over the template: text put in is never searched for placeholders again
    return re.sub(r"\{\{([A-Z]+)\}\}", lambda m: parts[m.group(1)], template)


# --- writing ---------------------------------------------------------------------------------


def _output_path(path: Any) -> Path:
    target = as_path(path, "viewer")
    if target.suffix.lower() not in SUFFIXES:
        raise UnsupportedFormat(
            f"viewer: writes an HTML page; give a path ending in .html, got {str(target)!r}"
        )
    check_writable(target, "viewer")
    return target
