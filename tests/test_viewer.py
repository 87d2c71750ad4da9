"""viz.viewer without a browser: the page is self-contained, its numbers are backward_steps()'s, it is
deterministic, labels cannot break out of their places, the user's gradients are left alone, and the
``viewer`` subcommand's glue works. (The page's behaviour in a real browser: test_viewer_browser.py.)"""

from __future__ import annotations

import argparse
import json
import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_viz_support import needs

import viz
from tinygrad_edu import Tensor, Value, detect_anomaly, nn, trace
from tinygrad_edu.errors import AnomalyError
from viz import style
from viz.errors import GraphTooLarge, OutputPathError, UnsupportedFormat
from viz.viewer import add_viewer_arguments, embed_json, run_viewer_command, sigmoid_chain, small_mlp
from viz.viewer.record import encode, exact

needs_renderer = needs(
    bool(viz.available_renderers()), "no Graphviz renderer (system `dot` or pygraphviz) is installed"
)

HOSTILE = ["<script>window.__pwned=1</script>", '<img src=x onerror="window.__pwned=2">', "</script><!--x"]


def page_data(html: str) -> dict:
    """The JSON the page embeds (what its script reads)."""
    found = re.search(r'<script type="application/json" id="tv-data">(.*?)</script>', html, flags=re.S)
    assert found, "no data block in the page"
    return json.loads(found.group(1))


def value_of(v) -> float:
    x = v["v"]
    return {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}.get(x, x) if isinstance(x, str) else x


def same(a: float, b: float) -> bool:
    """Exactly equal (nan equals nan; 0.0 and -0.0 are told apart)."""
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def diamond() -> Value:
    """Repeated operands and several paths: a·a, a reused, two leaves."""
    a = Value(0.7, label="a")
    b = Value(-1.3, label="b")
    c = a * a + b * a
    d = (c.sigmoid() * b).tanh() + a
    d.label = "L"
    return d


def hostile_graph() -> Value:
    x = Value(0.5, label=HOSTILE[0])
    w = Value(-1.5, label=HOSTILE[1])
    y = (w * x).sigmoid()
    y.label = HOSTILE[2]
    return y


def tensor_mlp():
    rng = np.random.default_rng(3)
    net = nn.MLP([3, 5, 5, 2], activation="sigmoid", init="xavier_normal", rng=3)
    x = Tensor(rng.normal(size=(4, 3)), label="x")
    loss = (net(x) ** 2).mean()
    loss.label = "loss"
    return loss


def reference_steps(build):
    """backward_steps() of a fresh copy of the graph (leaf gradients zero), as plain numbers."""
    root = build()
    graph = trace(root)
    return graph, list(graph.backward_steps())


# --- the numbers are backward_steps()'s -------------------------------------------------------------


@needs_renderer
@pytest.mark.parametrize("build", [sigmoid_chain, small_mlp, diamond])
def test_embedded_steps_are_backward_steps_exactly(build, tmp_path):
    path = viz.viewer(build(), tmp_path / "page.html")
    data = page_data(path.read_text(encoding="utf-8"))
    graph, steps = reference_steps(build)
    ids = graph.ids
    assert len(data["steps"]) == len(steps) > 0
    for got, step in zip(data["steps"], steps):
        assert got["edge"] == f"e{ids[step.node]}_{step.index}"
        assert got["parent"] == f"n{ids[step.parent]}" and got["child"] == f"n{ids[step.node]}"
        for field in ("upstream", "local", "contribution", "accumulated"):
            assert same(value_of(got[field]), getattr(step, field)), (field, got[field], getattr(step, field))
            assert got[field]["t"] == style.fmt(getattr(step, field))
        assert same(value_of(got["accumulated"]), value_of(got["before"]) + value_of(got["contribution"]))


@needs_renderer
def test_tensor_steps_carry_exact_norms_shapes_and_small_values(tmp_path):
    path = viz.viewer(tensor_mlp(), tmp_path / "t.html")
    data = page_data(path.read_text(encoding="utf-8"))
    graph, steps = reference_steps(tensor_mlp)
    assert data["kind"] == "tensor" and len(data["steps"]) == len(steps)
    for got, step in zip(data["steps"], steps):
        for field in ("upstream", "contribution", "accumulated"):
            arr = np.asarray(getattr(step, field))
            assert got[field]["shape"] == list(arr.shape)
            assert got[field]["norm"] == style.magnitude(arr)
            if arr.size <= 16:
                assert got[field]["values"] == arr.reshape(-1).tolist()
            else:
                assert "values" not in got[field]


@needs_renderer
def test_leaf_path_products_are_the_chain_rule(tmp_path):
    path = viz.viewer(diamond(), tmp_path / "d.html")
    data = page_data(path.read_text(encoding="utf-8"))
    root = diamond()
    root.backward()
    graph = trace(root)
    by_name = {leaf["name"]: leaf for leaf in data["leaves"]}
    assert set(by_name) == {"a", "b"}
    for name, leaf in by_name.items():
        node = graph.find(name)
        paths = graph.paths(node)
        assert leaf["pathCount"] == len(paths) == len(leaf["paths"])
        for got, want in zip(leaf["paths"], paths):
            assert [value_of(f) for f in got["factors"]] == [e.local for e in want.edges]
            assert value_of(got["running"][-1]) == want.product
            assert got["steps"] == sorted(got["steps"]), "a path is processed root side first"
        # after the last path completes, the sum over paths is the gradient (up to rounding)
        assert value_of(leaf["completed"][-1][1]) == pytest.approx(node.grad, rel=1e-12, abs=1e-15)


def test_values_encode_exactly_and_non_finite_as_strings():
    for x in (0.1, -0.0, 5e-324, 1.7976931348623157e308, 1 / 3):
        encoded = json.loads(json.dumps(encode(x)))
        assert same(encoded["v"], x)
    assert [exact(x) for x in (math.nan, math.inf, -math.inf)] == ["nan", "inf", "-inf"]
    arr = np.array([[1.0, math.nan], [math.inf, -2.5]], dtype=np.float32)
    encoded = encode(arr)
    assert encoded["values"] == [1.0, "nan", "inf", -2.5] and encoded["shape"] == [2, 2]
    assert encoded["norm"] == "nan"
    json.dumps(encoded, allow_nan=False)  # strict JSON: no NaN tokens


@needs_renderer
def test_non_finite_gradients_reach_the_page_as_strings(tmp_path):
    def build():
        x = Value(0.0, label="x")
        return (x.log() * Value(2.0, label="k")).exp() + x

    path = viz.viewer(build(), tmp_path / "inf.html")
    text = path.read_text(encoding="utf-8")
    data = page_data(text)
    graph, steps = reference_steps(build)
    assert any(isinstance(s["contribution"]["v"], str) for s in data["steps"]), "no non-finite value"
    for got, step in zip(data["steps"], steps):
        assert same(value_of(got["contribution"]), step.contribution)
    assert "NaN" not in text and "Infinity" not in text


# --- what the viewer does to the user's graph --------------------------------------------------


@needs_renderer
def test_gradients_are_left_as_the_user_had_them_and_the_page_shows_one_pass(tmp_path):
    root = diamond()
    root.backward()  # the user already ran backward: the page must not show doubled gradients
    graph = trace(root)
    before = {node: node.grad for node in graph.nodes}
    path = viz.viewer(root, tmp_path / "p.html")
    assert {node: node.grad for node in graph.nodes} == before
    data = page_data(path.read_text(encoding="utf-8"))
    last = {}
    for step in data["steps"]:
        last[step["parent"]] = value_of(step["accumulated"])
    for leaf in graph.leaves:
        assert last[f"n{graph.ids[leaf]}"] == leaf.grad  # one pass, not two


@needs_renderer
def test_gradients_are_restored_when_the_pass_fails(tmp_path):
    x = Value(0.0, label="x")
    y = x.log() * 3.0  # forward is -inf; the backward contribution 1/x · 3 is inf
    x.grad = 7.0
    with detect_anomaly(), pytest.raises(AnomalyError):
        viz.viewer(y, tmp_path / "fail.html")
    assert x.grad == 7.0
    assert not (tmp_path / "fail.html").exists()
    assert list(tmp_path.iterdir()) == []


# --- the page is self-contained, deterministic and safe ---------------------------------------


@needs_renderer
def test_page_is_self_contained(tmp_path):
    html = viz.viewer(small_mlp(), tmp_path / "m.html").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href|action|data)\s*=\s*["']?\s*(https?:)?//""", html, flags=re.I)
    assert not re.search(r"<(link|img|iframe|object|embed|base)\b", html, flags=re.I)
    assert "@import" not in html and "url(" not in html
    for url in re.findall(r"https?://[^\s\"'<>]*", html):  # only XML namespace names remain
        assert url in ("http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"), url
    assert "<!DOCTYPE svg" not in html
    assert len(re.findall(r"<script\b", html)) == 2  # the data block and the page's own script
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', html).group(1)
    assert "default-src &#x27;none&#x27;" in csp and "script-src &#x27;sha256-" in csp


@needs_renderer
def test_same_graph_gives_byte_identical_pages(tmp_path):
    root = small_mlp()
    a = viz.viewer(root, tmp_path / "a.html").read_bytes()
    b = viz.viewer(root, tmp_path / "b.html").read_bytes()
    c = viz.viewer(small_mlp(), tmp_path / "c.html").read_bytes()
    assert a == b == c
    d = viz.viewer(small_mlp(seed=1), tmp_path / "d.html").read_bytes()
    assert d != a


@needs_renderer
def test_hostile_labels_stay_text_in_every_part_of_the_page(tmp_path):
    html = viz.viewer(hostile_graph(), tmp_path / "h.html").read_text(encoding="utf-8")
    assert "<img" not in html and "window.__pwned=1</script>" not in html
    assert len(re.findall(r"<script\b", html)) == 2 and html.count("</script>") == 2
    data = page_data(html)  # the JSON still holds the labels exactly
    names = {node["name"] for node in data["nodes"].values()}
    assert set(HOSTILE) <= names
    svg = re.search(r"<svg.*</svg>", html, flags=re.S).group(0)
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in svg


# Plain st.text() almost never draws '>', '&', U+2028 or U+2029 (none in 60 CI examples), so the
# characters the escaping is about are mixed in explicitly.
MARKUP = ["<", ">", "&", "\u2028", "\u2029", "</script>", "<!--", "-->", "]]>", '"', "\\", "\\u003c"]
markup_texts = st.lists(st.sampled_from(MARKUP) | st.characters(), max_size=16).map("".join)


@given(markup_texts)
def test_embedded_json_has_no_markup_and_round_trips(text):
    data = {"label": text, "nested": [text, {"k": text}]}
    embedded = embed_json(data)
    assert "<" not in embedded and ">" not in embedded and "&" not in embedded
    assert "\u2028" not in embedded and "\u2029" not in embedded
    assert json.loads(embedded) == data


# --- the picture and the page agree on ids -----------------------------------------------------


@needs_renderer
@pytest.mark.parametrize("grouped", [False, True])
def test_every_step_points_at_an_element_of_the_svg(grouped, tmp_path):
    root = tensor_mlp()
    path = viz.viewer(root, tmp_path / "g.html", max_nodes=10 if grouped else 200)
    html = path.read_text(encoding="utf-8")
    data = page_data(html)
    svg_ids = set(re.findall(r'<g id="([^"]+)" class="(?:node|edge)"', html))
    assert (data["grouped"] is not None) == grouped
    for step in data["steps"]:
        assert step["box"] in svg_ids
        assert step["boxEdge"] is None or step["boxEdge"] in svg_ids
        if not grouped:
            assert step["boxEdge"] == step["edge"] and step["box"] == step["parent"]
    if grouped:
        scene = viz.build_scene(trace(tensor_mlp()), max_nodes=10)
        group_of = {member: view.id for view in scene.nodes for member in view.members}
        for step in data["steps"]:
            a, b = group_of[step["parent"]], group_of[step["child"]]
            assert step["box"] == a
            assert step["boxEdge"] == (None if a == b else f"ge{a[1:]}_{b[1:]}")


@needs_renderer
def test_large_scalar_graph_uses_the_grouped_view(tmp_path):
    h = Value(0.3, label="x")
    for _ in range(300):
        h = (h * 1.01).sigmoid()
    data = page_data(viz.viewer(h, tmp_path / "big.html").read_text(encoding="utf-8"))
    # 300 × (two edges into h·1.01, one into sigmoid) = 900 steps
    assert data["grouped"] == "depth" and len(data["steps"]) == len(trace(h).edges) == 900
    assert len(data["boxes"]) <= 30


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"highlight": "a"}, TypeError, "viewer: highlight= is decided by the viewer itself"),
        ({"show_grad": True}, TypeError, "viewer: show_grad= is decided by the viewer itself"),
        ({"dpi": 300}, TypeError, "viewer: dpi= is decided by the viewer itself"),
        ({"title": 3}, TypeError, "viewer: title must be a str, got int"),
        ({"max_steps": 0}, ValueError, "viewer: max_steps must be an int of at least 1, got 0"),
        ({"direction": "sideways"}, ValueError, "direction must be one of .*got 'sideways'"),
    ],
)
def test_bad_options_are_rejected_before_anything_is_written(kwargs, error, match, tmp_path):
    root = diamond()
    with pytest.raises(error, match=match):
        viz.viewer(root, tmp_path / "x.html", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_bad_paths_are_rejected(tmp_path):
    with pytest.raises(UnsupportedFormat, match=r"viewer: writes an HTML page; give a path ending in \.html"):
        viz.viewer(diamond(), tmp_path / "x.svg")
    with pytest.raises(OutputPathError, match="viewer: the folder .*missing' of .*x.html' does not exist"):
        viz.viewer(diamond(), tmp_path / "missing" / "x.html")
    with pytest.raises(TypeError, match="viewer: path must be a str or os.PathLike, got int"):
        viz.viewer(diamond(), 42)
    with pytest.raises(TypeError, match="expected a Value, a Tensor or a traced Graph, got str"):
        viz.viewer("not a graph", tmp_path / "x.html")
    assert list(tmp_path.iterdir()) == []


@needs_renderer
def test_too_many_steps_is_refused_before_the_pass(tmp_path):
    root = sigmoid_chain(12)
    root.backward()
    x = trace(root).leaves[0]
    grad = x.grad
    with pytest.raises(GraphTooLarge, match="viewer: the graph has 12 edges, more than max_steps=5"):
        viz.viewer(root, tmp_path / "x.html", max_steps=5)
    assert x.grad == grad and list(tmp_path.iterdir()) == []


# --- the subcommand's glue ---------------------------------------------------------------------


def parser_like_the_cli() -> argparse.ArgumentParser:
    """A subcommand parser with --out/--seed/--quiet from a parent, as tinygrad_edu.cli builds them."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--seed", type=int, default=0)
    common.add_argument("--out", default="out")
    common.add_argument("--quiet", action="store_true")
    top = argparse.ArgumentParser(prog="tinygrad-edu")
    sub = top.add_subparsers(dest="command", required=True)
    add_viewer_arguments(sub.add_parser("viewer", parents=[common]))
    return top


@needs_renderer
def test_command_writes_the_page_of_an_expression(tmp_path, capsys):
    parser = add_viewer_arguments(argparse.ArgumentParser())
    args = parser.parse_args(
        ["tanh(w*x + b)", "--set", "x=0.5", "--set", "w=-1.5", "--set", "b=0.8", "--out", str(tmp_path)]
    )
    assert run_viewer_command(args) == 0
    page = tmp_path / "viewer.html"
    data = page_data(page.read_text(encoding="utf-8"))
    assert {leaf["name"] for leaf in data["leaves"]} == {"x", "w", "b"}
    x, w, b = Value(0.5), Value(-1.5), Value(0.8)
    (w * x + b).tanh().backward()
    grads = {s["parent"]: value_of(s["accumulated"]) for s in data["steps"]}
    got = {data["nodes"][i]["name"]: g for i, g in grads.items() if data["nodes"][i]["leaf"]}
    assert got == {"x": x.grad, "w": w.grad, "b": b.grad}
    assert "wrote" in capsys.readouterr().out


@needs_renderer
@pytest.mark.parametrize("demo, steps", [("chain", 8), ("mlp", None)])  # chain: 8 sigmoids, one edge each
def test_command_demos_through_a_cli_like_parser(demo, steps, tmp_path):
    args = parser_like_the_cli().parse_args(["viewer", "--demo", demo, "--out", str(tmp_path), "--quiet"])
    assert run_viewer_command(args) == 0
    data = page_data((tmp_path / f"{demo}.html").read_text(encoding="utf-8"))
    if steps is not None:
        assert len(data["steps"]) == steps
    else:
        assert len(data["steps"]) == len(trace(small_mlp()).edges)


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "give an expression (e.g. "),
        (["x*y", "--demo", "chain"], "give either EXPR or --demo, not both"),
        (["--demo", "chain", "--set", "x=1"], "--set gives values to the variables of EXPR; --demo has none"),
        (["x*", "--set", "x=1"], "bad syntax"),
        (["x*y", "--set", "x=1"], "no value for y (give one with --set y=...)"),
        (["x*x", "--set", "x=1", "--set", "x=2"], "--set x=... is given twice"),
        (["__import__('os')"], "unknown function '__import__'"),
    ],
)
def test_command_bad_input_exits_2_with_one_message(argv, message, tmp_path, capsys):
    args = add_viewer_arguments(argparse.ArgumentParser()).parse_args(argv + ["--out", str(tmp_path)])
    assert run_viewer_command(args) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"tinygrad-edu viewer: error: {message}")
    assert captured.err.count("tinygrad-edu viewer: error:") == 1 and "Traceback" not in captured.err
    assert captured.out == ""
    assert list(tmp_path.iterdir()) == []


def test_command_unwritable_out_exits_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    args = add_viewer_arguments(argparse.ArgumentParser()).parse_args(
        ["--demo", "chain", "--out", str(blocker / "sub")]
    )
    assert run_viewer_command(args) == 2
    err = capsys.readouterr().err
    out = str(blocker / "sub")
    assert err.startswith(f"tinygrad-edu viewer: error: --out {out!r}: a part of the path is a file")
    assert list(tmp_path.iterdir()) == [blocker]
