"""viz.dashboard in headless Chromium: the curves are there and visible, the numbers the page holds are
the monitor's, nothing is logged or requested (the set-up and skips: test_viewer_browser.py)."""

from __future__ import annotations

import math

from test_dashboard import train
from test_viewer_browser import ARTIFACTS, Opened, browser
from test_viewer_browser import pytestmark as browser_marks

import viz

pytestmark = browser_marks
__all__ = ["browser"]  # the module's browser fixture, shared

READ = """() => {
  const data = JSON.parse(document.getElementById('td-data').textContent);
  const charts = {};
  document.querySelectorAll('svg.td-chart').forEach((svg) => {
    const series = {};
    svg.querySelectorAll('g.td-series').forEach((g) => {
      const lines = Array.from(g.querySelectorAll('polyline'));
      series[g.dataset.name] = {
        points: lines.reduce((n, l) => n + l.points.numberOfItems, 0),
        visible: lines.every((l) => {
          const r = l.getBoundingClientRect();
          return r.width > 0 || r.height > 0;
        }),
        marks: g.querySelectorAll('.td-mark').length,
      };
    });
    const box = svg.getBoundingClientRect();
    charts[svg.id] = {series: series, width: box.width, bands: svg.querySelectorAll('rect.td-band').length};
  });
  return {data: data, charts: charts, problems: document.querySelectorAll('parsererror').length};
}"""


def same(a, b) -> bool:
    b = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}.get(b, b) if isinstance(b, str) else b
    return (a is None and b is None) or (a is not None and (a == b or (math.isnan(a) and math.isnan(b))))


def test_dashboard_curves_are_drawn_and_its_numbers_are_the_monitors(browser, tmp_path):
    healthy, _ = train()
    broken, _ = train(activation="relu", steps=6, poison_at=3)
    path = viz.dashboard({"tanh": healthy, "relu, overflowing": broken}, tmp_path / "run.html")
    opened = Opened.watching(browser, 1400, 900)  # the console and network watch
    try:
        opened.page.goto(path.as_uri())
        got = opened.page.evaluate(READ)
        assert got["problems"] == 0
        for index, (name, monitor) in enumerate((("tanh", healthy), ("relu, overflowing", broken))):
            run = got["data"]["runs"][index]
            assert run["name"] == name
            history = monitor.history
            assert all(same(r.loss, v) for r, v in zip(history, run["loss"]))
            for layer in run["layers"]:
                for key, attribute in (("weight_grad", "weight_grad_norm"), ("update_ratio", "update_ratio")):
                    assert all(
                        same(getattr(r.layers[layer], attribute), v) for r, v in zip(history, run[key][layer])
                    )
            charts = got["charts"]
            for key in ("loss", "weight_grad", "update_ratio", "verdicts"):
                assert charts[f"run{index}-{key}"]["width"] > 300, key
            for layer, drawn in charts[f"run{index}-weight_grad"]["series"].items():
                values = run["weight_grad"][layer]
                finite = sum(v is not None and not isinstance(v, str) and v > 0 for v in values)
                assert drawn["points"] == finite and drawn["visible"]
                assert drawn["marks"] == len(values) - finite  # every value a log axis cannot show is marked
            assert charts[f"run{index}-verdicts"]["bands"] >= 1
        assert any(s["marks"] for s in got["charts"]["run1-weight_grad"]["series"].values())
        assert "Non-finite events" in opened.page.text_content("#run1")
        ARTIFACTS.mkdir(exist_ok=True)
        opened.page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
        assert opened.problems == []
        assert opened.requests == [path.as_uri()]
    finally:
        opened.context.close()
