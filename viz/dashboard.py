"""The training dashboard: one self-contained HTML page from a ``GradientMonitor``'s history.

::

    monitor = GradientMonitor(model)
    for step in range(steps):
        ...; loss.backward(); monitor.record(loss); opt.step(); monitor.after_step()
    viz.dashboard(monitor, "run.html")     # a file; without a path: shown inline in a notebook
    viz.dashboard({"relu/He": m1, "sigmoid/small init": m2}, "runs.html")   # several runs, one page

Per run, over the steps (everything the monitor recorded, nothing recomputed):

* the loss;
* ‖∂L/∂W‖ per layer and ‖∂L/∂a‖ (the gradient arriving at each activation's output) per layer,
  log scale — vanishing shows as the input-side curves lying decades below the output side's;
* the update ratio ‖ΔW‖/‖W‖ per layer against the usual 10⁻³ guide line (far below: the layer is
  not learning; far above: the step is too large);
* the fraction of saturated units (σ or tanh with σ'/tanh' below the saturation threshold) and of
  dead ReLU units (0 for every sample of the batch);
* non-finite events (steps where a weight, gradient or the loss was nan/inf);
* the verdict timeline: at step k, what ``monitor.report(upto=k + 1)`` said then.

The numbers are embedded as JSON (``<script type="application/json" id="td-data">``, exact
floats; non-finite as the strings "nan"/"inf"/"-inf"; not measured as null) beside the charts that
draw them. The page has no script at all and loads nothing: its Content-Security-Policy is
``default-src 'none'``.
"""

from __future__ import annotations

import html
import math
import os
from pathlib import Path
from typing import Any

from .errors import UnsupportedFormat
from .inline import InlinePage
from .output import as_path, check_writable, write_atomically
from .svgchart import Series, colours, line_chart, verdict_timeline
from .viewer.page import embed_json
from .viewer.record import exact

#: The usual rule of thumb for ‖ΔW‖/‖W‖ per step (Karpathy's "around 1e-3").
UPDATE_RATIO_GUIDE = 1e-3
#: The verdict timeline judges at most this many prefixes of the history (evenly spaced steps).
MAX_VERDICTS = 500
#: (key in the data, LayerStats attribute, chart title, y label, log axis)
CURVES = (
    ("weight_grad", "weight_grad_norm", "‖∂L/∂W‖ per layer", "‖∂L/∂W‖", True),
    ("activation_grad", "activation_grad_norm", "‖∂L/∂a‖ at each activation's output", "‖∂L/∂a‖", True),
    ("update_ratio", "update_ratio", "update ratio ‖ΔW‖/‖W‖ per step", "‖ΔW‖/‖W‖", True),
    ("saturated", "saturated_fraction", "saturated units (σ or tanh)", "fraction", False),
    ("dead", "dead_fraction", "dead ReLU units", "fraction", False),
)
STYLE = """
body { font: 14px/1.45 "Helvetica Neue", Helvetica, Arial, "DejaVu Sans", sans-serif; color: #1d2330;
       margin: 0; padding: 12px 18px 30px; background: #fff; }
h1 { font-size: 21px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 22px 0 6px; }
.td-sub { color: #5d6675; margin: 0 0 8px; }
.td-verdict { display: inline-block; padding: 1px 8px; border-radius: 4px; color: #fff; font-weight: bold; }
.td-grid { display: flex; flex-wrap: wrap; gap: 10px; }
.td-chart { background: #fff; border: 1px solid #d5d9e0; border-radius: 4px; max-width: 100%; height: auto; }
.td-chart text { font-size: 11px; fill: #1d2330; }
.td-chart .td-title { font-size: 13px; font-weight: bold; }
.td-chart .td-axis, .td-chart .td-small { fill: #5d6675; }
.td-frame { fill: #fbfbfc; stroke: #c5cad3; }
.td-ytick line { stroke: #e3e6eb; } .td-xtick line { stroke: #8a909b; }
.td-guide line { stroke: #e41a1c; stroke-dasharray: 5 4; } .td-guide text { fill: #e41a1c; }
.td-band-text { fill: #fff; font-weight: bold; }
pre { background: #f6f7f9; border: 1px solid #d5d9e0; border-radius: 4px; padding: 8px 10px; font-size: 12px;
      overflow-x: auto; }
.td-events { font-size: 13px; }
"""


def dashboard(
    monitor: Any, path: str | os.PathLike | None = None, *, title: str | None = None
) -> Path | InlinePage:
    """Write (or, without ``path``, return for a notebook) the dashboard of a training run.

    Args:
        monitor: a :class:`~tinygrad_edu.diagnostics.GradientMonitor` with at least one recorded
            step, or a ``{name: monitor}`` mapping (one section per run, in the mapping's order).
        path: a ``.html`` file to write; None: return an :class:`~viz.inline.InlinePage`.
        title: the page title (default: "Training dashboard").

    Raises:
        TypeError: not a monitor (or a mapping of them), a bad title or path type.
        ValueError: a monitor with no recorded step.
        UnsupportedFormat, OutputPathError: ``path`` is not a writable ``.html`` file.
    """
    target = _output_path(path) if path is not None else None
    if title is not None and not isinstance(title, str):
        raise TypeError(f"dashboard: title must be a str, got {type(title).__name__}")
    runs = _runs(monitor)
    page_title = title or "Training dashboard"
    data = {
        "title": page_title,
        "guide": UPDATE_RATIO_GUIDE,
        "runs": [run_data(name, mon) for name, mon in runs.items()],
    }
    page = build_dashboard(data)
    if target is None:
        return InlinePage(page, page_title, height=900)
    write_atomically(target, page.encode("utf-8"), "dashboard")
    return target


def _runs(monitor: Any) -> dict[str, Any]:
    runs = dict(monitor) if isinstance(monitor, dict) else {"run": monitor}
    if not runs:
        raise ValueError("dashboard: no monitor given")
    for name, mon in runs.items():
        if not isinstance(name, str):
            raise TypeError(f"dashboard: run names must be str, got {type(name).__name__}")
        if not (hasattr(mon, "history") and hasattr(mon, "report")):
            raise TypeError(f"dashboard: expected a GradientMonitor for {name!r}, got {type(mon).__name__}")
        if not mon.history:
            raise ValueError(
                f"dashboard: the monitor {name!r} has recorded no step; call record() after backward()"
            )
    return runs


def _number(x: float | None) -> float | str | None:
    return None if x is None else exact(x)


def run_data(name: str, monitor: Any) -> dict:
    """Everything one run's section shows, read from ``monitor.history`` (JSON-ready, exact)."""
    history = monitor.history
    layers = list(history[0].layers)
    out: dict = {
        "name": name,
        "steps": len(history),
        "layers": layers,
        "loss": [_number(r.loss) for r in history],
        "nonfinite": [r.nonfinite for r in history],
    }
    for key, attribute, *_ in CURVES:
        out[key] = {
            layer: [
                _number(getattr(r.layers[layer], attribute)) if layer in r.layers else None for r in history
            ]
            for layer in layers
        }
    out["events"] = [
        {
            "step": r.step,
            "count": r.nonfinite,
            "loss": _number(r.loss),
            "layers": {layer: s.nonfinite for layer, s in r.layers.items() if s.nonfinite},
        }
        for r in history
        if r.nonfinite
    ]
    stride = max(1, math.ceil(len(history) / MAX_VERDICTS))
    judged = sorted(set(range(0, len(history), stride)) | {len(history) - 1})
    out["verdictSteps"] = judged
    out["verdicts"] = [monitor.report(upto=k + 1).verdict for k in judged]
    final = monitor.report()
    out["verdict"] = final.verdict
    out["report"] = str(final)
    return out


def _value(x: float | str | None) -> float | None:
    if x is None:
        return None
    return {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}[x] if isinstance(x, str) else x


def _section(index: int, run: dict, guide: float) -> str:
    layers = run["layers"]
    palette = dict(zip(layers, colours(len(layers))))
    parts = [
        f'<section class="td-run" id="run{index}" data-name="{html.escape(run["name"])}">',
        f"<h2>{html.escape(run['name'])} "
        f'<span class="td-verdict" style="background: {_verdict_colour(run["verdict"])}">'
        f"{html.escape(run['verdict'])}</span></h2>",
        f'<p class="td-sub">{run["steps"]} steps, {len(layers)} layers '
        "(input side first: dark blue → red)</p>",
        '<div class="td-grid">',
    ]
    losses = [_value(v) for v in run["loss"]]
    if any(v is not None for v in losses):
        positive = all(v is None or not math.isfinite(v) or v > 0 for v in losses)
        parts.append(
            line_chart(
                [Series("loss", losses, "#1d2330")],
                title="loss",
                y_label="loss",
                log=positive,
                chart_id=f"run{index}-loss",
            )
        )
    for key, _, chart_title, y_label, log in CURVES:
        series = [
            Series(layer, [_value(v) for v in run[key][layer]], palette[layer])
            for layer in layers
            if any(v is not None for v in run[key][layer])
        ]
        if not series:
            continue
        extra: dict = {}
        if key == "update_ratio":
            extra = {"guide": guide, "guide_label": "10⁻³ guide"}
        if not log:
            extra = {"y_range": (0.0, 1.0)}
        parts.append(
            line_chart(
                series, title=chart_title, y_label=y_label, log=log, chart_id=f"run{index}-{key}", **extra
            )
        )
    if len(run["verdicts"]) == run["steps"]:
        verdicts = run["verdicts"]
    else:  # every step shows the verdict of the last judged step at or before it
        verdicts, j = [], 0
        for k in range(run["steps"]):
            while j + 1 < len(run["verdictSteps"]) and run["verdictSteps"][j + 1] <= k:
                j += 1
            verdicts.append(run["verdicts"][j])
    parts.append(
        verdict_timeline(
            verdicts, title="verdict so far (report(upto=k + 1))", chart_id=f"run{index}-verdicts"
        )
    )
    parts.append("</div>")
    events = run["events"]
    if events:
        items = "".join(
            f'<li data-step="{e["step"]}">step {e["step"]}: {e["count"]} non-finite number'
            f"{'s' if e['count'] != 1 else ''}"
            + (
                " (" + ", ".join(f"{html.escape(k)}: {v}" for k, v in e["layers"].items()) + ")"
                if e["layers"]
                else " (the loss)"
            )
            + "</li>"
            for e in events[:30]
        )
        more = f"<li>… {len(events) - 30} more steps</li>" if len(events) > 30 else ""
        parts.append(
            f'<div class="td-events"><b>Non-finite events</b> ({len(events)} steps):'
            f"<ul>{items}{more}</ul></div>"
        )
    else:
        parts.append(f'<p class="td-events">No non-finite value (nan/inf) in {run["steps"]} steps.</p>')
    parts.append(
        f"<details><summary>The monitor's report</summary><pre>{html.escape(run['report'])}</pre></details>"
    )
    parts.append("</section>")
    return "\n".join(parts)


def _verdict_colour(verdict: str) -> str:
    from .svgchart import VERDICT_COLOURS

    return VERDICT_COLOURS.get(verdict, "#999999")


def build_dashboard(data: dict) -> str:
    """The whole page (deterministic: the same data gives the same bytes)."""
    sections = "\n".join(_section(i, run, data["guide"]) for i, run in enumerate(data["runs"]))
    title = html.escape(data["title"])
    csp = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; base-uri 'none'; form-action 'none'"
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="tinygrad_edu viz.dashboard">\n'
        f"<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{title}</h1>\n"
        '<p class="td-sub">From a GradientMonitor history: every curve is a number the monitor recorded at '
        "that step (hover a curve for its layer). Log scales are log10; a gap is a step where nothing was "
        "measured; a triangle marks a value a log axis cannot show (0, or nan/inf in red).</p>\n"
        f"{sections}\n"
        f'<script type="application/json" id="td-data">{embed_json(data)}</script>\n'
        "</body>\n</html>\n"
    )


def _output_path(path: Any) -> Path:
    target = as_path(path, "dashboard")
    if target.suffix.lower() not in (".html", ".htm"):
        raise UnsupportedFormat(
            f"dashboard: writes an HTML page; give a path ending in .html, got {str(target)!r}"
        )
    check_writable(target, "dashboard")
    return target
