"""The viewer's forward steps, edge formulas on hover and focus, the URL fragment and the inline
(notebook) page, in headless Chromium (see test_viewer_browser.py for the set-up and the skips).

Expectations come from the engine: the nodes' ``.data`` in ``trace(...).nodes`` order, the edges'
stored locals, ``backward_steps()``. Every page must log no console error and request nothing but
its own file (the inline page: nothing but the notebook page that holds it).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_viewer import diamond
from test_viewer_browser import ARTIFACTS, BACKWARD, CHROMIUM_ARGS, Opened, browser, number, open_page, pages
from test_viewer_browser import pytestmark as browser_marks

import viz
from tinygrad_edu import trace
from viz import style
from viz.viewer import sigmoid_chain, small_mlp

pytestmark = browser_marks
__all__ = ["browser", "open_page", "pages", "CHROMIUM_ARGS"]  # fixtures shared with test_viewer_browser

READ_FORWARD = """() => {
  const pending = Array.from(document.querySelectorAll('#tv-svg g.node.tv-pending')).map((g) => g.id).sort();
  const valueRole = document.querySelector('#tv-step [data-role="value"]');
  const hidden = {};
  document.querySelectorAll('#tv-svg g.node').forEach((g) => {
    hidden[g.id] = Array.from(g.querySelectorAll('text')).some((t) => t.textContent === '?');
  });
  return {
    position: Number(document.getElementById('tv-counter').dataset.position),
    forward: Number(document.getElementById('tv-counter').dataset.forward),
    step: Number(document.getElementById('tv-counter').dataset.step),
    pending: pending,
    hidden: hidden,
    value: valueRole ? valueRole.dataset.exact : null,
    stepText: document.getElementById('tv-step').textContent,
    pendingEdges: Array.from(document.querySelectorAll('#tv-svg g.edge.tv-pending')).map((g) => g.id).sort(),
    hash: location.hash,
  };
}"""

TIP = """() => {
  const tip = document.getElementById('tv-tip');
  return {hidden: tip.hidden, edge: tip.dataset.edge || null, local: tip.dataset.local || null,
          text: tip.textContent, lines: Array.from(tip.children).map((d) => d.textContent)};
}"""


@pytest.mark.parametrize("name, build", [("chain", sigmoid_chain), ("mlp", small_mlp)])
def test_forward_steps_show_each_value_in_topological_order(name, build, pages, open_page):
    page = open_page(pages[name])
    graph = trace(build())
    ids = graph.ids
    node_ids = [f"n{ids[n]}" for n in graph.nodes]
    state = page.page.evaluate(READ_FORWARD)
    assert state["position"] == 0 and state["pending"] == sorted(node_ids)
    assert all(state["hidden"].values()) and "Before the forward pass" in state["stepText"]
    # → pressed F times; the state read after each press, all in one round trip to the page
    states = page.page.evaluate(
        f"""() => {{
      const read = {READ_FORWARD};
      const out = [];
      for (let t = 1; t <= {len(graph.nodes)}; t++) {{
        document.dispatchEvent(new KeyboardEvent("keydown", {{key: "ArrowRight", bubbles: true}}));
        out.push(read());
      }}
      return out;
    }}"""
    )
    for t, (node, state) in enumerate(zip(graph.nodes, states), start=1):
        assert state["position"] == state["forward"] == t and state["step"] == 0
        assert number(state["value"]) == node.data, (t, node)
        assert state["pending"] == sorted(node_ids[t:])  # not computed yet: the rest
        # (as sets: the picture lists boxes in its own order, e.g. layer by layer)
        assert {box for box, hidden in state["hidden"].items() if hidden} == set(node_ids[t:])
        done = {f"n{ids[n]}" for n in graph.nodes[:t]}
        assert set(state["pendingEdges"]) == {
            f"e{ids[e.child]}_{e.index}" for e in graph.edges if f"n{ids[e.child]}" not in done
        }
        if node.parents:  # the operands' numbers are in the formula line
            for parent in node.parents:
                assert style.fmt(parent.data).lstrip("-") in state["stepText"]
        else:
            assert "a leaf" in state["stepText"]
    assert "before the backward pass" in state["stepText"]
    page.page.keyboard.press("ArrowRight")
    assert page.page.evaluate(READ_FORWARD)["step"] == 1  # then the backward pass
    back = page.page.evaluate(  # and back: the boxes are greyed out again, one by one
        f"""() => {{
      const read = {READ_FORWARD};
      const out = [];
      for (let t = {len(graph.nodes)}; t >= 0; t--) {{
        document.dispatchEvent(new KeyboardEvent("keydown", {{key: "ArrowLeft", bubbles: true}}));
        out.push(read().pending);
      }}
      return out;
    }}"""
    )
    assert back == [sorted(node_ids[t:]) for t in range(len(graph.nodes), -1, -1)]
    if name == "mlp":
        page.page.evaluate(f"window.tinygradViewer.go({2 * len(graph.nodes) // 3})")
        page.screenshot("viewer_mlp_forward.png")


def _edge_checks(page, graph, fresh_steps):
    ids = graph.ids
    step_of = {(ids[s.node], s.index): k for k, s in enumerate(fresh_steps, start=1)}
    for e in graph.edges:
        edge_id = f"e{ids[e.child]}_{e.index}"
        page.page.focus(f"#{edge_id}")  # the keyboard reaches every edge
        tip = page.page.evaluate(TIP)
        assert not tip["hidden"] and tip["edge"] == edge_id
        assert number(tip["local"]) == e.local
        main = tip["lines"][0]
        assert main.startswith(f"∂{e.child.label or ''}") and main.endswith(f" = {style.fmt(e.local)}"), main
        if e.formula:
            assert f" = {e.formula}" in main
        assert f"backward step {step_of[(ids[e.child], e.index)]}" in tip["lines"][1]


def test_edges_show_their_local_with_numbers_on_focus_and_hover(pages, open_page):
    page = open_page(pages["chain"], BACKWARD)
    graph = trace(sigmoid_chain())
    _edge_checks(page, graph, list(graph.backward_steps()))
    h4, h5 = graph.find("h4"), graph.find("h5")
    edge_id = f"e{graph.ids[h5]}_0"
    y = h5.data  # σ(h4)
    page.page.hover(f"#{edge_id} path", force=True)
    tip = page.page.evaluate(TIP)
    assert tip["edge"] == edge_id
    (edge,) = [e for e in graph.edges if e.child is h5]
    assert tip["lines"][0] == f"∂h5/∂h4 = {edge.formula} = 0.659 × 0.341 = 0.225"
    assert style.fmt(y) == "0.659" and style.fmt(y * (1 - y)) == "0.225" and h4.data > 0
    page.screenshot("viewer_chain_hover.png")
    page.page.keyboard.press("Escape")
    assert page.page.evaluate(TIP)["hidden"]


def test_diamond_edges_and_enter_goes_to_the_step(pages, open_page):
    page = open_page(pages["diamond"], BACKWARD)
    graph = trace(diamond())
    steps = list(graph.backward_steps())
    _edge_checks(page, graph, steps)
    third = steps[2]
    page.page.focus(f"#e{graph.ids[third.node]}_{third.index}")
    page.page.keyboard.press("Enter")
    assert page.page.evaluate(READ_FORWARD)["step"] == 3
    # Tab from the zoom buttons goes into the picture: boxes and edges are in the tab order
    page.page.focus("#tv-zoom-in")
    page.page.keyboard.press("Tab")
    assert page.page.evaluate("document.activeElement.closest('#tv-svg g.node, #tv-svg g.edge') !== null")
    # Enter on a focused leaf box chooses it for the chain-rule panel
    a = graph.find("a")
    page.page.focus(f"#n{graph.ids[a]}")
    page.page.keyboard.press("Enter")
    assert page.page.eval_on_selector("#tv-leaf-select", "(s) => s.value") == f"n{graph.ids[a]}"


def test_an_edge_before_its_node_is_computed_says_not_computed_yet(pages, open_page):
    page = open_page(pages["chain"], "forward=3")
    graph = trace(sigmoid_chain())
    h5 = graph.find("h5")
    page.page.focus(f"#e{graph.ids[h5]}_0")
    tip = page.page.evaluate(TIP)
    assert "not computed yet" in tip["text"] and f"forward step {graph.ids[h5] + 1}" in tip["text"]
    assert "0.225" not in tip["text"]


def test_the_url_fragment_holds_the_position_and_the_leaf(pages, open_page):
    graph = trace(diamond())
    a, b = (f"n{graph.ids[graph.find(x)]}" for x in "ab")
    f = len(graph.nodes)
    page = open_page(pages["diamond"], f"backward=5&leaf={a}")
    state = page.page.evaluate(READ_FORWARD)
    assert state["step"] == 5 and state["position"] == f + 5 and state["hash"] == f"#backward=5&leaf={a}"
    assert page.page.eval_on_selector("#tv-leaf-select", "(s) => s.value") == a
    page.page.keyboard.press("ArrowRight")
    page.page.select_option("#tv-leaf-select", b)
    page.page.evaluate("document.activeElement.blur()")
    assert page.page.evaluate("location.hash") == f"#backward=6&leaf={b}"
    page.page.reload()  # a link (or a reload) opens where the fragment says
    page.page.wait_for_function("() => window.tinygradViewer !== undefined")
    assert page.page.evaluate(READ_FORWARD)["step"] == 6
    assert page.page.eval_on_selector("#tv-leaf-select", "(s) => s.value") == b
    page.page.keyboard.press("Home")
    assert page.page.evaluate("location.hash") == f"#forward=0&leaf={b}"
    page.page.evaluate("location.hash = '#forward=4'")  # following a link inside the page
    page.page.wait_for_function("() => Number(document.getElementById('tv-counter').dataset.position) === 4")
    for nonsense, position in (
        ("backward=zz", 0),
        ("leaf=nope", 0),
        ("forward=-3", 0),
        ("backward=99999", f + len(graph.edges)),
    ):
        page.page.goto("about:blank")  # then a fresh load of the link
        page.page.goto(pages["diamond"].as_uri() + "#" + nonsense)
        page.page.wait_for_function("() => window.tinygradViewer !== undefined")
        assert page.page.evaluate(READ_FORWARD)["position"] == position, nonsense  # nonsense is ignored


def test_inline_html_works_inside_a_notebook_like_page(browser, tmp_path):
    """The ``_repr_html_`` iframe put in a page with hostile-to-us CSS, as a notebook would."""
    inline = viz.viewer(sigmoid_chain())
    notebook = tmp_path / "notebook.html"
    notebook.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><style>body { font-family: serif; } "
        "button { color: rgb(255, 0, 0); } #tv-step { display: none; }</style></head><body>"
        f"<h1>In [3]:</h1><div class='output'>{inline._repr_html_()}</div></body></html>",
        encoding="utf-8",
    )
    opened = Opened.watching(browser, 1300, 1000)  # the console and network watch
    try:
        opened.page.goto(notebook.as_uri())
        frame = opened.page.frames[1]
        frame.wait_for_function("() => window.tinygradViewer !== undefined")
        # isolation: the notebook cannot reach into the page, its CSS does not apply there
        assert opened.page.evaluate("document.querySelector('iframe').contentDocument") is None
        assert (
            frame.evaluate("getComputedStyle(document.getElementById('tv-next')).color") != "rgb(255, 0, 0)"
        )
        assert frame.evaluate("getComputedStyle(document.getElementById('tv-step')).display") != "none"
        assert opened.page.evaluate(
            "getComputedStyle(document.querySelector('button') || document.body).color"
        )
        graph = trace(sigmoid_chain())
        steps = list(trace(sigmoid_chain()).backward_steps())
        frame.click("#tv-backward")
        for k in (1, 2, 3):
            frame.click("#tv-next")
            exact = frame.get_attribute('#tv-step [data-role="contribution"]', "data-exact")
            assert number(exact) == steps[k - 1].contribution
        frame.focus(f"#e{graph.ids[graph.find('h5')]}_0")
        assert "0.659 × 0.341 = 0.225" in frame.text_content("#tv-tip")
        ARTIFACTS.mkdir(exist_ok=True)
        opened.page.screenshot(path=str(ARTIFACTS / "viewer_inline.png"))
        assert opened.problems == []
        assert opened.requests == [notebook.as_uri()]  # the iframe's page is srcdoc: no request at all
    finally:
        opened.context.close()


def test_inline_and_file_pages_are_the_same(tmp_path):
    assert viz.viewer(diamond()).html == Path(viz.viewer(diamond(), tmp_path / "d.html")).read_text(
        encoding="utf-8"
    )
