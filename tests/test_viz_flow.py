"""The gradient-flow chart: accepted sources, layer norms from a graph, valid SVG/PNG, errors."""

from __future__ import annotations

import math
import sys
import xml.etree.ElementTree as ET

import pytest
from test_viz_support import HAS_MATPLOTLIB, needs

import viz
from tinygrad_edu import Value, name_scope
from viz.flow import layer_norms, normalise

# Only drawing needs matplotlib (the charts extra, installed on CI): sources and paths are
# checked before it is imported.
needs_matplotlib = needs(HAS_MATPLOTLIB, "matplotlib is not installed")


def _scoped_net(activation: str, layers: int = 5):
    x = Value(0.8, label="x")
    h = x
    for k in range(layers):
        with name_scope(f"layer{k}"):
            h = getattr(h * 0.9 + 0.1, activation)()
    h.label = "out"
    h.backward()
    return x, h


def test_layer_norms_from_scopes_run_input_to_output():
    _, y = _scoped_net("sigmoid")
    norms = layer_norms(y)
    assert list(norms) == [f"L{k + 1} layer{k}" for k in range(5)]
    values = list(norms.values())
    assert values == sorted(values)  # sigmoid shrinks the gradient towards the input
    assert values[0] < values[-1] * 0.25**3


def test_layer_norms_by_depth_without_scopes():
    x = Value(0.5, label="x")
    y = x.tanh().tanh().tanh()
    y.backward()
    norms = layer_norms(y)
    assert list(norms) == ["depth 3", "depth 2", "depth 1", "depth 0"]
    assert norms["depth 0"] == 1.0 and norms["depth 3"] == pytest.approx(abs(x.grad))


def test_accepted_mapping_forms():
    single = normalise({"l0": 0.1, "l1": [0.2, 0.4]})
    assert single == {"": {"l0": [0.1], "l1": [0.2, 0.4]}}
    several = normalise({"sigmoid": {"l0": 1e-4}, "relu": {"l0": 0.5, "l1": 1.0}})
    assert several == {"sigmoid": {"l0": [1e-4]}, "relu": {"l0": [0.5], "l1": [1.0]}}


@pytest.mark.parametrize(
    "source, error, match",
    [
        ({}, ValueError, "gradient_flow_chart: the mapping is empty"),
        ({"l0": -1.0}, ValueError, r"layer 'l0': norms cannot be negative, got \[-1.0\]"),
        ({"l0": "big"}, TypeError, "layer 'l0': expected a norm or a list of norms per step, got str"),
        ({"l0": []}, ValueError, "layer 'l0': empty list of norms"),
        ({"a": {"l0": 1.0}, "l1": 2.0}, TypeError, "mix of series mappings and layer values"),
        ({"l0": [1.0, None]}, TypeError, "layer 'l0': norms must be numbers, got None"),
        (3.0, TypeError, r"expected a Value, a Tensor or a traced Graph, got float \(3.0\)"),
    ],
)
def test_bad_sources_are_typed_errors(tmp_path, source, error, match):
    with pytest.raises(error, match=match):
        viz.gradient_flow_chart(source, tmp_path / "c.svg")
    assert list(tmp_path.iterdir()) == []


@needs_matplotlib
def test_writes_a_valid_svg_with_several_series(tmp_path):
    _, sig = _scoped_net("sigmoid")
    _, relu = _scoped_net("relu")
    source = {"sigmoid": layer_norms(sig), "relu": layer_norms(relu)}
    written = viz.gradient_flow_chart(source, tmp_path / "flow.svg", title="sigmoid vs relu", ylabel="std")
    root = ET.fromstring(written.read_bytes())  # well-formed XML
    assert root.tag.endswith("svg")
    assert "sigmoid" in written.read_text() and "relu" in written.read_text()  # legend entries
    # deterministic: the same data gives the same file
    again = viz.gradient_flow_chart(source, tmp_path / "flow2.svg", title="sigmoid vs relu", ylabel="std")
    assert again.read_bytes() == written.read_bytes()


@needs_matplotlib
def test_writes_png_and_pdf_from_a_graph_and_per_step_lists(tmp_path):
    _, y = _scoped_net("tanh")
    png = viz.gradient_flow_chart(y, tmp_path / "flow.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    history = {"layer0": [1e-3, 2e-3, 0.0], "layer1": [1e-2, math.nan], "layer2": [0.1, 0.2, 0.3]}
    pdf = viz.gradient_flow_chart(history, tmp_path / "flow.pdf", step="last").read_bytes()
    assert pdf.startswith(b"%PDF-")


def test_bad_path_or_step(tmp_path):
    with pytest.raises(
        viz.UnsupportedFormat, match=r"gradient_flow_chart: write \.svg, \.png or \.pdf, not '\.dot'"
    ):
        viz.gradient_flow_chart({"l0": 1.0}, tmp_path / "c.dot")
    with pytest.raises(viz.OutputPathError, match="the folder .*no' of .*c.svg' does not exist"):
        viz.gradient_flow_chart({"l0": 1.0}, tmp_path / "no" / "c.svg")
    with pytest.raises(ValueError, match="step"):
        viz.gradient_flow_chart({"l0": 1.0}, tmp_path / "c.svg", step="max")
    with pytest.raises(TypeError, match="ylabel"):
        viz.gradient_flow_chart({"l0": 1.0}, tmp_path / "c.svg", ylabel=3)


def test_path_errors_name_the_function_the_user_called(tmp_path):
    # its other errors start "gradient_flow_chart: " (as the viewer's start "viewer: ")
    with pytest.raises(viz.OutputPathError, match="^gradient_flow_chart: "):
        viz.gradient_flow_chart({"l0": 1.0}, tmp_path / "no" / "c.svg")
    with pytest.raises(TypeError, match="^gradient_flow_chart: "):
        viz.gradient_flow_chart({"l0": 1.0}, 42)


def test_graph_without_gradients_is_an_error(tmp_path):
    y = Value(1.0, label="x") * 2.0  # no backward yet
    with pytest.raises(ValueError, match="backward"):
        viz.gradient_flow_chart(y, tmp_path / "c.svg")


def test_missing_matplotlib_is_one_typed_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(viz.ChartsUnavailable, match="pip install matplotlib"):
        viz.gradient_flow_chart({"l0": 1.0}, tmp_path / "c.svg")
    assert list(tmp_path.iterdir()) == []
