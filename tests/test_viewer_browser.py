"""The backward-pass viewer in a real browser: headless Chromium (Debian's package) driven by Playwright.

Each page is written by ``viz.viewer`` and loaded from disk (file://). The tests step through every
step and compare what the page shows — the highlighted edge, upstream × local = contribution, the
gradient text of every box — with ``Graph.backward_steps()``; they drive the keyboard, the slider,
play/pause and the leaf panel; they load hostile labels; and every page must log no console error
and request nothing but its own file. Screenshots go to ``test-artifacts/``.

Skipped (with the reason) where /usr/bin/chromium, Playwright or a Graphviz renderer is missing,
except on CI (``CI`` set), which installs all three: there a missing one fails the tests.
No browser is ever downloaded: the system Chromium is launched by path.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

import viz
from tinygrad_edu import trace
from viz import style
from viz.grouping import combine_norms
from viz.viewer import sigmoid_chain, small_mlp

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

from test_viewer import HOSTILE, diamond, hostile_graph, page_data, tensor_mlp
from viz_helpers import needs

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
FIGURE_SPACE = "\u2007"
STEP = "Number(document.getElementById('tv-counter').dataset.step)"  # the page's backward step, in JavaScript
POSITION = "Number(document.getElementById('tv-counter').dataset.position)"  # forward steps + backward steps
BACKWARD = "backward=0"  # the fragment that opens a page where the backward pass starts

# Skipped off CI only: CI installs chromium, graphviz and the browser extra, so there a missing one
# must fail the run instead of silently skipping every test below.
pytestmark = [
    needs(
        os.path.exists(CHROMIUM),
        f"{CHROMIUM} not found: install Debian's `chromium` package to run the browser tests",
    ),
    needs(sync_playwright is not None, "Playwright for Python is not installed"),
    needs(bool(viz.available_renderers()), "no Graphviz renderer (system `dot` or pygraphviz)"),
]

# What the page shows, read in one round trip.
READ_STATE = """() => {
  const ids = (sel) => Array.from(document.querySelectorAll(sel)).map((e) => e.id).sort();
  const exact = {};
  document.querySelectorAll('#tv-step [data-role]').forEach((e) => {
    exact[e.dataset.role] = e.dataset.exact;
  });
  const texts = {};
  document.querySelectorAll('#tv-svg g.node').forEach((g) => {
    const t = g.querySelectorAll('text');
    texts[g.id] = t[t.length - 1].textContent;
  });
  return {
    step: Number(document.getElementById('tv-counter').dataset.step),
    forward: Number(document.getElementById('tv-counter').dataset.forward),
    position: Number(document.getElementById('tv-counter').dataset.position),
    slider: Number(document.getElementById('tv-slider').value),
    current: ids('#tv-svg g.edge.tv-current'),
    currentBox: ids('#tv-svg g.node.tv-current-box'),
    exact: exact,
    texts: texts,
    unreached: ids('#tv-svg g.node.tv-unreached'),
    stepText: document.getElementById('tv-step').textContent,
  };
}"""


# --- fixtures: one browser per module, the pages written once ---------------------------------


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


PAGES = {
    "chain": (sigmoid_chain, {}),
    "mlp": (small_mlp, {}),
    "diamond": (diamond, {}),
    "hostile": (hostile_graph, {}),
    "grouped": (tensor_mlp, {"max_nodes": 10}),
}


class Pages:
    """The pages, each written once per session on first use (also for test_viewer_forward_browser)."""

    written: dict = {}

    def __init__(self, tmp_path_factory):
        self.factory = tmp_path_factory

    def __getitem__(self, name: str) -> Path:
        if name not in self.written:
            build, options = PAGES[name]
            folder = self.factory.mktemp("viewer")
            self.written[name] = viz.viewer(build(), folder / f"{name}.html", **options)
        return self.written[name]


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    return Pages(tmp_path_factory)


class Opened:
    """A page loaded from disk, with what it logged and requested."""

    def __init__(self, browser, path: Path, at: str = ""):
        self._watch(browser, 1400, 900)
        self.page.goto(path.as_uri() + (f"#{at}" if at else ""))
        self.page.wait_for_function("() => window.tinygradViewer !== undefined")
        self.data = page_data(path.read_text(encoding="utf-8"))

    @classmethod
    def watching(cls, browser, width: int = 1400, height: int = 900) -> Opened:
        """A fresh page with the same console and network watch, for a page the test loads itself."""
        opened = cls.__new__(cls)
        opened._watch(browser, width, height)
        return opened

    def _watch(self, browser, width: int, height: int) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.problems: list[str] = []
        self.requests: list[str] = []
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))

    def _route(self, route):
        if route.request.url.startswith("file://"):
            route.continue_()
        else:  # the page must never reach the network
            self.problems.append(f"network request: {route.request.url}")
            route.abort()

    def _console(self, message):
        if message.type in ("error", "warning"):
            self.problems.append(f"console {message.type}: {message.text}")

    def state(self) -> dict:
        return self.page.evaluate(READ_STATE)

    def press(self, key: str) -> dict:
        self.page.keyboard.press(key)
        return self.state()

    def check_clean(self) -> None:
        assert self.problems == []
        assert self.requests and all(url.startswith("file://") for url in self.requests), self.requests

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / name))


@pytest.fixture
def open_page(browser):
    opened: list[Opened] = []

    def _open(path: Path, at: str = "") -> Opened:
        page = Opened(browser, path, at)
        opened.append(page)
        return page

    yield _open
    for page in opened:
        try:
            page.check_clean()
        finally:
            page.context.close()


# --- expectations from the engine ---------------------------------------------------------------


def expected_states(build):
    """Per state k = 0..N: the gradient text of every node box, from a fresh backward_steps()."""
    graph = trace(build())
    ids = graph.ids
    steps = list(graph.backward_steps())
    grads = {f"n{ids[n]}": n.NO_GRAD for n in graph.nodes}
    grads[f"n{ids[graph.root]}"] = graph.root.grad
    reached = {f"n{ids[graph.root]}"}
    states = [(dict(grads), set(reached))]
    for step in steps:
        grads[f"n{ids[step.parent]}"] = step.accumulated
        reached.add(f"n{ids[step.parent]}")
        states.append((dict(grads), set(reached)))
    return graph, steps, states


def number(text: str) -> float:
    return float(text)  # Python reads "nan", "inf", "-inf" and every JavaScript number String() writes


def check_scalar_state(state, k, graph, steps, states):
    ids = graph.ids
    forward = len(graph.nodes)  # the forward pass (one step per node) comes first
    assert state["step"] == k and state["slider"] == state["position"] == forward + k
    assert state["forward"] == forward
    grads, reached = states[k]
    texts = {box: text.replace(FIGURE_SPACE, "") for box, text in state["texts"].items()}
    assert texts == {box: style.fmt(g) for box, g in grads.items()}
    assert set(state["unreached"]) == set(grads) - reached
    if k == 0:
        assert state["current"] == [] and "before the backward pass" in state["stepText"]
        return
    step = steps[k - 1]
    assert state["current"] == [f"e{ids[step.node]}_{step.index}"]
    for role in ("upstream", "local", "contribution", "accumulated"):
        assert number(state["exact"][role]) == getattr(step, role), role


# --- stepping through every step -------------------------------------------------------------------


@pytest.mark.parametrize("name, build", [("chain", sigmoid_chain), ("mlp", small_mlp), ("diamond", diamond)])
def test_every_step_forward_and_back_matches_backward_steps(name, build, pages, open_page):
    page = open_page(pages[name], BACKWARD)
    graph, steps, states = expected_states(build)
    check_scalar_state(page.state(), 0, graph, steps, states)
    for k in range(1, len(steps) + 1):
        check_scalar_state(page.press("ArrowRight"), k, graph, steps, states)
        if name == "chain" and k == 5:
            page.screenshot("viewer_chain.png")
        if name == "mlp" and k == 2 * len(steps) // 3:
            page.screenshot("viewer_mlp.png")
    assert page.press("ArrowRight")["step"] == len(steps)  # stays at the end
    for k in range(len(steps) - 1, -1, -1):
        check_scalar_state(page.press("ArrowLeft"), k, graph, steps, states)
    assert page.press("ArrowLeft")["step"] == 0


def test_buttons_keys_and_slider_move_exactly_one_step(pages, open_page):
    page = open_page(pages["chain"], BACKWARD)
    n = page.data["steps"].__len__()
    f = len(page.data["forward"])
    assert page.press("End")["step"] == n
    assert page.press("Home")["position"] == 0
    assert page.press("b")["position"] == f
    page.page.click("#tv-next")
    page.page.click("#tv-next")
    assert page.state()["step"] == 2
    page.page.click("#tv-prev")
    assert page.state()["step"] == 1
    page.page.click("#tv-last")
    assert page.state()["step"] == n
    page.page.click("#tv-first")
    assert page.state()["position"] == 0
    page.page.click("#tv-backward")
    assert page.state()["position"] == f and page.state()["step"] == 0
    # the slider: its own arrow keys move it one step (the page does not add a second)
    page.page.focus("#tv-slider")
    assert page.press("ArrowRight")["step"] == 1
    assert page.press("ArrowRight")["step"] == 2
    assert page.press("ArrowLeft")["step"] == 1
    page.page.eval_on_selector(
        "#tv-slider",
        f"(s) => {{ s.value = '{f + 6}'; s.dispatchEvent(new Event('input', {{bubbles: true}})); }}",
    )
    state = page.state()
    graph, steps, states = expected_states(sigmoid_chain)
    check_scalar_state(state, 6, graph, steps, states)


def test_play_runs_to_the_end_and_pause_stops(pages, open_page):
    page = open_page(pages["chain"])
    n = len(page.data["steps"])
    page.page.select_option("#tv-speed", "100")
    page.page.click("#tv-play")  # from the start of the forward pass to the end of the backward pass
    page.page.wait_for_function(f"() => {STEP} === {n}")
    page.page.wait_for_function("() => document.getElementById('tv-play').textContent.includes('play')")
    # play again from the end restarts; pause holds still
    page.page.select_option("#tv-speed", "5")
    page.page.click("#tv-play")
    page.page.wait_for_function(f"() => {POSITION} >= 1")
    page.page.click("#tv-play")
    held = page.state()["position"]
    page.page.wait_for_timeout(450)
    assert page.state()["position"] == held < n
    # space toggles play from the keyboard (focus on the page, not on a control)
    page.page.evaluate("document.activeElement && document.activeElement.blur()")
    page.page.keyboard.press(" ")
    page.page.wait_for_function(f"() => {POSITION} > {held}")
    page.page.keyboard.press(" ")


# --- the chain rule of a leaf ----------------------------------------------------------------------


def test_chain_leaf_shows_the_product_so_far(pages, open_page):
    page = open_page(pages["chain"], BACKWARD)
    root = sigmoid_chain()
    root.backward()
    graph = trace(root)
    x = graph.find("x")
    (path,) = graph.paths(x)
    assert page.page.eval_on_selector("#tv-leaf-select", "(s) => s.selectedOptions[0].textContent") == "x"
    product = 1.0
    for k, edge in enumerate(path.edges, start=1):
        page.press("ArrowRight")
        product = product * edge.local
        running = page.page.get_attribute('#tv-leaf-body [data-role="running"]', "data-exact")
        assert number(running) == product, k
        factors = page.page.text_content("#tv-leaf-body .tv-factors")
        assert factors.count("?") == len(path.edges) - k
    grad = page.page.get_attribute('#tv-leaf-body [data-role="leaf-grad"]', "data-exact")
    assert number(grad) == x.grad == path.product
    # the sigmoid chain shrinks the gradient edge by edge: every box below the root is smaller
    boxes = [f"#n{graph.ids[graph.find(f'h{i}')]}" for i in range(1, 8)]
    shown = [number(page.page.get_attribute(box, "data-grad")) for box in boxes]
    assert all(a < b for a, b in zip(shown, shown[1:]))


def test_choosing_a_leaf_by_select_and_by_click(pages, open_page):
    page = open_page(pages["diamond"])
    root = diamond()
    root.backward()
    graph = trace(root)
    b = graph.find("b")
    page.press("End")
    page.page.select_option("#tv-leaf-select", f"n{graph.ids[b]}")
    body = page.page.text_content("#tv-leaf-body")
    assert f"{len(graph.paths(b))} completed paths" in body
    grad = page.page.get_attribute('#tv-leaf-body [data-role="leaf-grad"]', "data-exact")
    assert number(grad) == b.grad
    total = page.page.get_attribute('#tv-leaf-body [data-role="path-sum"]', "data-exact")
    assert number(total) == pytest.approx(b.grad, rel=1e-12)
    a = graph.find("a")
    page.page.click(f"#n{graph.ids[a]}")
    assert page.page.eval_on_selector("#tv-leaf-select", "(s) => s.value") == f"n{graph.ids[a]}"
    assert page.page.get_attribute(f"#n{graph.ids[a]}", "class").count("tv-selected") == 1
    grad = page.page.get_attribute('#tv-leaf-body [data-role="leaf-grad"]', "data-exact")
    assert number(grad) == a.grad
    page.press("Home")
    assert "No gradient has arrived at a yet" in page.page.text_content("#tv-leaf-body")
    # clicking an edge jumps to its step
    fresh = trace(diamond())
    third = list(fresh.backward_steps())[2]
    page.page.click(f"#e{fresh.ids[third.node]}_{third.index} path", force=True)
    assert page.state()["step"] == 3


# --- hostile labels ---------------------------------------------------------------------------------


def test_hostile_labels_are_shown_as_text_and_never_run(pages, open_page):
    page = open_page(pages["hostile"])
    page.press("End")
    assert page.page.evaluate("window.__pwned") is None
    assert page.page.evaluate("document.querySelectorAll('img').length") == 0
    assert page.page.evaluate("document.querySelectorAll('script').length") == 2  # data + the page's own
    svg_text = page.page.text_content("#tv-svg")
    for label in HOSTILE:
        assert label in svg_text
    options = page.page.eval_on_selector_all("#tv-leaf-select option", "(os) => os.map((o) => o.textContent)")
    assert HOSTILE[0] in options and HOSTILE[1] in options
    step_text = page.state()["stepText"]
    assert HOSTILE[0] in step_text or HOSTILE[1] in step_text
    for _ in page.data["steps"]:
        page.press("ArrowLeft")
    assert page.page.evaluate("window.__pwned") is None
    page.screenshot("viewer_hostile.png")


# --- a grouped tensor graph -----------------------------------------------------------------------


def test_grouped_tensor_graph_steps_every_edge_onto_its_group(pages, open_page):
    page = open_page(pages["grouped"], BACKWARD)
    data = page.data
    assert data["grouped"]
    graph = trace(tensor_mlp())
    ids = graph.ids
    steps = list(graph.backward_steps())
    scene = viz.build_scene(graph, max_nodes=10)
    group_of = {member: view.id for view in scene.nodes for member in view.members}
    shows = {view.id: view.shows for view in scene.nodes}  # a layer's box shows ‖∂L/∂out‖ of its outputs
    arrow_of = {member: edge.id for edge in scene.edges for member in edge.members}
    grads = {f"n{ids[n]}": n.NO_GRAD for n in graph.nodes}
    grads[f"n{ids[graph.root]}"] = graph.root.grad
    assert len(data["steps"]) == len(steps)
    for k, step in enumerate(steps, start=1):
        state = page.press("ArrowRight")
        assert state["step"] == k
        parent = f"n{ids[step.parent]}"
        a = group_of[parent]
        arrow = arrow_of.get(f"e{ids[step.node]}_{step.index}")
        if arrow is None:  # inside a layer, or a parameter's edge: the box is lit, no arrow
            assert state["current"] == [] and state["currentBox"] == [a]
        else:
            assert state["current"] == [arrow] and state["currentBox"] == []
        assert number(state["exact"]["upstream"]) == style.magnitude(step.upstream)
        assert number(state["exact"]["contribution"]) == style.magnitude(step.contribution)
        grads[parent] = step.accumulated
        norm = combine_norms([style.magnitude(grads[m]) for m in shows[a]])
        assert state["texts"][a] == ("none" if norm is None else style.fmt(norm))
        if k == len(steps) // 2:
            page.screenshot("viewer_grouped_tensor.png")
    assert math.isclose(number(state["exact"]["accumulated"]), style.magnitude(steps[-1].accumulated))


# --- edge cases: non-finite numbers, a graph without edges -------------------------------------------


def test_non_finite_numbers_and_an_edgeless_graph_load_cleanly(tmp_path, open_page):
    from tinygrad_edu import Value

    x = Value(0.0, label="x")
    root = (x.log() * 2.0).exp() + x  # log(0) = -inf: the backward pass meets inf and nan
    page = open_page(viz.viewer(root, tmp_path / "inf.html"), BACKWARD)
    steps = list(trace(root).backward_steps())
    seen = []
    for k, step in enumerate(steps, start=1):
        state = page.press("ArrowRight")
        got = number(state["exact"]["contribution"])
        assert (math.isnan(got) and math.isnan(step.contribution)) or got == step.contribution, k
        seen.append((state["exact"]["local"], state["exact"]["contribution"]))
    assert ("-inf", "nan") in seen and ("inf", "nan") in seen  # written as Python writes them
    lone = open_page(viz.viewer(Value(3.0, label="c"), tmp_path / "lone.html"), BACKWARD)
    state = lone.press("ArrowRight")
    assert state["step"] == 0 and "no edge" in state["stepText"]
