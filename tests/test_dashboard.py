"""viz.dashboard: the page's numbers are the training's (measured here by hand, step by step), its
curves are drawn where its axes say, the verdict timeline is what report() said during training,
non-finite steps are listed. (That the regression and classification experiments write one whose
timeline agrees with their checkpoints: test_experiments.py.)
(In a real browser: test_dashboard_browser.py.)"""

from __future__ import annotations

import importlib
import json
import math
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import viz
from tinygrad_edu import Tensor, cross_entropy, nn
from tinygrad_edu.diagnostics import GradientMonitor
from tinygrad_edu.optim import SGD
from viz.errors import UnsupportedFormat
from viz.inline import InlinePage

SVG = "{http://www.w3.org/2000/svg}"


def dashboard_data(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="td-data">(.*?)</script>', page, flags=re.S)
    assert found, "no data block in the page"
    return json.loads(found.group(1))


def value(x):
    return {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}[x] if isinstance(x, str) else x


def train(activation="tanh", steps=12, lr=0.5, std=None, seed=0, poison_at=None):
    """A small classifier, trained while we measure by hand what the monitor should record."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(32, 4))
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    init = "normal" if std else "xavier_normal"
    model = nn.MLP(
        [4, 6, 6, 2], activation=activation, init=init, rng=seed, **({"init_std": std} if std else {})
    )
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    monitor = GradientMonitor(model)
    opt = SGD(model.parameters(), lr=lr)
    by_hand = {"loss": [], "weight_grad": [], "update_ratio": []}
    with np.errstate(all="ignore"):
        for _ in range(steps):
            opt.zero_grad()
            loss = cross_entropy(model(Tensor(x)), y)
            loss.backward()
            monitor.record(loss)
            before = [m.weight.data.copy() for m in linears]
            by_hand["loss"].append(float(loss.data))
            by_hand["weight_grad"].append([float(np.sqrt(np.sum(m.weight.grad**2))) for m in linears])
            opt.step()
            if len(monitor.history) == poison_at:  # a weight overflows (as a too-large step would do)
                linears[1].weight.data[0, 0] = np.inf
            monitor.after_step()
            by_hand["update_ratio"].append(
                [
                    float(np.linalg.norm(m.weight.data - b) / np.linalg.norm(b))
                    for m, b in zip(linears, before)
                ]
            )
    return monitor, by_hand


@pytest.fixture(scope="module")
def tanh_run():
    return train()


def test_the_numbers_are_the_trainings(tanh_run, tmp_path):
    monitor, by_hand = tanh_run
    path = viz.dashboard(monitor, tmp_path / "run.html")
    data = dashboard_data(path.read_text(encoding="utf-8"))
    (run,) = data["runs"]
    layers = run["layers"]
    assert run["steps"] == 12 and len(layers) == 3
    assert run["loss"] == by_hand["loss"]  # exact: the same doubles
    for i, layer in enumerate(layers):
        got = run["weight_grad"][layer]
        assert got == pytest.approx([row[i] for row in by_hand["weight_grad"]], rel=1e-12)
        assert run["update_ratio"][layer] == pytest.approx(
            [row[i] for row in by_hand["update_ratio"]], rel=1e-9
        )
    assert run["verdicts"] == [monitor.report(upto=k + 1).verdict for k in range(12)]
    assert run["verdict"] == monitor.report().verdict
    assert run["events"] == [] and run["nonfinite"] == [0] * 12
    # the activation gradients and saturation are the monitor's own measurements
    for layer in layers:
        assert run["activation_grad"][layer] == [
            monitor.history[k].layers[layer].activation_grad_norm for k in range(12)
        ]
        assert run["saturated"][layer] == [
            monitor.history[k].layers[layer].saturated_fraction for k in range(12)
        ]
    assert all(v is None for v in run["dead"][layers[0]])  # tanh: no dead units measured


def _charts(page: str) -> dict:
    charts = {}
    for svg in re.findall(
        r'<svg xmlns="http://www.w3.org/2000/svg" class="td-chart.*?</svg>', page, flags=re.S
    ):
        root = ET.fromstring(svg)
        charts[root.get("id")] = root
    return charts


def test_every_curve_is_drawn_where_the_axis_says(tanh_run):
    monitor, by_hand = tanh_run
    page = viz.dashboard(monitor).html
    run = dashboard_data(page)["runs"][0]
    charts = _charts(page)
    assert {
        "run0-loss",
        "run0-weight_grad",
        "run0-activation_grad",
        "run0-update_ratio",
        "run0-saturated",
    } <= set(charts)
    assert "run0-dead" not in charts  # nothing measured: no chart
    for key in ("loss", "weight_grad", "update_ratio", "saturated"):
        chart = charts[f"run0-{key}"]
        log = chart.get("data-log") == "1"
        ticks = [
            (float(t.get("data-value")), float(t.get("data-y")))
            for t in chart.iter(f"{SVG}g")
            if t.get("class") == "td-ytick"
        ]
        (v0, y0), (v1, y1) = ticks[0], ticks[-1]
        f = math.log10 if log else (lambda v: v)
        series = [g for g in chart.iter(f"{SVG}g") if g.get("class") == "td-series"]
        for g in series:
            values = run["loss"] if key == "loss" else run[key][g.get("data-name")]
            drawn = 0
            for line in g.iter(f"{SVG}polyline"):
                first = int(line.get("data-first"))
                for j, pair in enumerate(line.get("points").split()):
                    y = float(pair.split(",")[1])
                    want = y0 + (f(value(values[first + j])) - f(v0)) * (y1 - y0) / (f(v1) - f(v0))
                    assert y == pytest.approx(want, abs=0.011)  # the page writes 2 decimals
                    drawn += 1
            assert drawn == sum(v is not None for v in values)
    guide = [g for g in charts["run0-update_ratio"].iter(f"{SVG}g") if g.get("class") == "td-guide"]
    assert len(guide) == 1 and float(guide[0].get("data-value")) == 1e-3


def test_non_finite_steps_are_listed_and_marked():
    monitor, by_hand = train(activation="relu", steps=6, poison_at=3)
    page = viz.dashboard(monitor).html
    run = dashboard_data(page)["runs"][0]
    bad = [k for k, r in enumerate(monitor.history) if r.nonfinite]
    assert bad == [3, 4, 5]  # from the step after the overflow on
    assert [e["step"] for e in run["events"]] == bad
    assert [e["count"] for e in run["events"]] == [monitor.history[k].nonfinite for k in bad]
    assert "Non-finite events" in page and f"step {bad[0]}:" in page
    assert 'class="td-mark td-nan"' in page or 'class="td-mark td-inf"' in page
    assert "NaN" not in page.split('id="td-data"')[1]  # strict JSON: "nan" strings, no NaN tokens


def test_long_histories_judge_evenly_spaced_prefixes(monkeypatch, tanh_run):
    module = importlib.import_module("viz.dashboard")  # (viz.dashboard is also the function's name)

    monitor, _ = tanh_run
    monkeypatch.setattr(module, "MAX_VERDICTS", 5)
    run = module.run_data("r", monitor)
    assert run["verdictSteps"] == [0, 3, 6, 9, 11]
    assert run["verdicts"] == [monitor.report(upto=k + 1).verdict for k in run["verdictSteps"]]


def test_inline_several_runs_and_bad_input(tanh_run, tmp_path):
    monitor, _ = tanh_run
    inline = viz.dashboard({"a": monitor, "b": monitor}, title="two")
    assert isinstance(inline, InlinePage) and inline._repr_html_().startswith(
        '<iframe sandbox="allow-scripts"'
    )
    data = dashboard_data(inline.html)
    assert [r["name"] for r in data["runs"]] == ["a", "b"] and data["title"] == "two"
    assert "<script>" not in inline.html  # no script at all (only the JSON data block)
    assert not re.search(r"https?://(?!www.w3.org/2000/svg)", inline.html)
    assert "default-src 'none'" in inline.html
    empty = GradientMonitor(nn.MLP([2, 2], rng=0))
    with pytest.raises(ValueError, match="recorded no step"):
        viz.dashboard(empty)
    with pytest.raises(TypeError, match="GradientMonitor"):
        viz.dashboard([1, 2])
    with pytest.raises(UnsupportedFormat, match=r"\.html"):
        viz.dashboard(monitor, tmp_path / "run.svg")
    with pytest.raises(TypeError, match="title"):
        viz.dashboard(monitor, title=3)
    with pytest.raises(ValueError, match="upto must be an int from 1 to 12"):
        monitor.report(upto=13)
    assert list(tmp_path.iterdir()) == []
