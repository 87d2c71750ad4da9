"""The gradient-flow chart: gradient norm per layer against depth, on a log scale.

Vanishing gradients show as a line falling towards the input layers (a straight line on a log
scale: the same factor lost per layer), exploding ones as a line rising. Several series (say
sigmoid against ReLU) share one chart. The picture is drawn with matplotlib (the ``charts``
extra: ``pip install 'tinygrad_edu[charts]'``), imported only when a chart is made.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any

import numpy as np

from .errors import ChartsUnavailable, UnsupportedFormat
from .grouping import combine_norms
from .output import output_format, write_atomically
from .scene import as_graph
from .style import magnitude

CHART_FORMATS = ("svg", "png", "pdf")


def layer_norms(source: Any, *, by: str = "auto", max_layers: int = 1000) -> dict[str, float]:
    """Gradient norm per layer of a traced graph, input side first.

    Args:
        source: a ``Value``/``Tensor`` after ``backward()``, or a traced ``Graph``.
        by: ``"layers"`` (or ``"scope"``): ‖∂L/∂out‖ of every layer of
            :meth:`tinygrad_edu.Graph.layers` (the gradient at what the layer hands on; input,
            loss and glue are left out); ``"depth"``: for each depth from the root, √Σ‖grad‖²
            over the nodes at that depth (their gradients as one vector), named ``"depth k"``;
            ``"auto"``: layers when the graph has any, else depth.
        max_layers: a graph with more layers than this is refused (ValueError).

    Returns:
        ``{layer name: norm}`` ordered from the input side to the output side. Layers and
        nodes without a gradient (tensors with ``requires_grad=False``) are skipped.
    """
    if by not in ("auto", "layers", "scope", "depth"):
        raise ValueError(f"layer_norms: by must be 'auto', 'layers', 'scope' or 'depth', got {by!r}")
    graph = as_graph(source)
    if by != "depth":
        layers = [layer for layer in graph.layers() if layer.is_layer]
        if len(layers) > max_layers:
            raise ValueError(f"layer_norms: {len(layers)} layers, more than max_layers={max_layers}")
        if layers or by != "auto":
            return {layer.name: layer.grad_norm for layer in layers if layer.grad_norm is not None}
    members: dict = {}
    for node in graph.nodes:
        members.setdefault(graph.depth[node], []).append(node)
    result = {}
    for depth in sorted(members, reverse=True):  # deepest first: from the inputs to the root
        total = combine_norms([magnitude(n.grad) for n in members[depth]])
        if total is not None:
            result[f"depth {depth}"] = total
    return result


def gradient_flow_chart(
    source: Any,
    path: Any,
    *,
    title: str | None = None,
    step: str | int = "mean",
    log: bool = True,
    by: str = "auto",
    xlabel: str | None = None,
    ylabel: str | None = None,
    predicted: Mapping | None = None,
) -> Any:
    """Plot gradient norm per layer (x: layers from input to output, y: ‖grad‖, log scale).

    ``source`` is one of:

    * a traced ``Graph`` or a root ``Value``/``Tensor`` after ``backward()``: one series from
      :func:`layer_norms` (per name scope when present, else per depth);
    * ``{layer_name: norm}`` — one series; ``norm`` a non-negative number;
    * ``{layer_name: [norm_step0, norm_step1, ...]}`` — one series over training steps
      (e.g. derived from ``GradientMonitor.history``): the line is the per-layer ``step``
      reduction and a shaded band spans the minimum to maximum over steps;
    * ``{series_name: {layer_name: norm or [norms per step]}}`` — several series on one chart
      (e.g. ``{"sigmoid": {...}, "relu": {...}}``), each drawn as above.

    Layers are plotted in the mapping's order, which must run from the input side to the
    output side (a graph source is ordered that way for you). When series list different
    layers, the x axis is the union in first-seen order. Zero norms are drawn as ``▼`` at the
    bottom edge and nan/inf as ``✕`` at the top edge, with a text note: they cannot sit on a
    log scale but must not disappear silently.

    Args:
        path: output file; ``.svg``, ``.png`` or ``.pdf``.
        title: chart title (default "Gradient norm per layer").
        step: for per-step lists: ``"mean"``, ``"median"``, ``"last"``, ``"first"`` or an index.
        log: log-scale y axis (default True).
        by: for a graph source, as in :func:`layer_norms`.
        xlabel, ylabel: axis titles (defaults: "layer (input side → output side)", "‖grad‖").
        predicted: a prediction to draw beside the measurement as a dashed line: ``{layer:
            norm}`` (labelled "predicted (mean field)"), or ``{name: {layer: norm}}`` for several
            (a name equal to a series' name takes that series' colour). Every layer must be on
            the chart. ``diagnose(model).theory["output_grad_norms"]`` is such a mapping: the
            ‖∂L/∂out‖ mean-field theory predicts, anchored at the last layer's measured one.

    Returns:
        the path written (a :class:`pathlib.Path`).

    Raises:
        TypeError / ValueError: a source of another shape, negative or non-numeric norms.
        UnsupportedFormat, OutputPathError: a bad ``path`` (checked before drawing).
        ChartsUnavailable: matplotlib is not installed.
    """
    target, fmt = output_format(path, "gradient_flow_chart")
    if fmt not in CHART_FORMATS:
        raise UnsupportedFormat(f"gradient_flow_chart: write .svg, .png or .pdf, not {target.suffix!r}")
    for name, text in (("title", title), ("xlabel", xlabel), ("ylabel", ylabel)):
        if text is not None and not isinstance(text, str):
            raise TypeError(f"gradient_flow_chart: {name} must be a str, got {type(text).__name__}")
    _check_step(step)
    series = normalise(source, by=by)
    layers: list = []
    for per_layer in series.values():
        layers.extend(name for name in per_layer if name not in layers)
    lines = _predicted_lines(predicted, layers)
    figure_cls, rc_context = _matplotlib()
    with rc_context({"svg.hashsalt": "tinygrad_edu", "font.size": 10}):
        fig = figure_cls(figsize=(max(6.0, min(16.0, 0.45 * len(layers) + 3)), 4.5), layout="constrained")
        ax = fig.add_subplot()
        _plot(ax, series, layers, step, log, lines)
        if xlabel is not None:
            ax.set_xlabel(xlabel)
        if ylabel is not None:
            ax.set_ylabel(ylabel)
        ax.set_title(title if title is not None else "Gradient norm per layer")
        buffer = io.BytesIO()
        metadata = {"Date": None} if fmt == "svg" else ({"CreationDate": None} if fmt == "pdf" else None)
        fig.savefig(buffer, format=fmt, dpi=110, metadata=metadata)
    write_atomically(target, buffer.getvalue(), "gradient_flow_chart")
    return target


def _check_step(step: Any) -> None:
    if isinstance(step, str) and step in ("mean", "median", "last", "first"):
        return
    if isinstance(step, int) and not isinstance(step, bool):
        return
    raise ValueError(
        f"gradient_flow_chart: step must be 'mean', 'median', 'last', 'first' or an int, got {step!r}"
    )


def normalise(source: Any, *, by: str = "auto") -> dict[str, dict[str, list[float]]]:
    """Any accepted source as ``{series: {layer: [norms...]}}`` (see :func:`gradient_flow_chart`)."""
    if isinstance(source, Mapping):
        if not source:
            raise ValueError("gradient_flow_chart: the mapping is empty")
        nested = [isinstance(v, Mapping) for v in source.values()]
        if all(nested):
            return {str(name): _layers(per_layer, str(name)) for name, per_layer in source.items()}
        if any(nested):
            raise TypeError(
                "gradient_flow_chart: mix of series mappings and layer values; pass either "
                "{layer: norm(s)} or {series: {layer: norm(s)}}"
            )
        return {"": _layers(source, "")}
    graph = as_graph(source)
    norms = layer_norms(graph, by=by)
    if not norms or magnitude(graph.root.grad) in (None, 0.0):
        raise ValueError("gradient_flow_chart: the graph has no gradients; call backward() first")
    name = graph.root.label or "‖grad‖"
    return {name: {layer: [value] for layer, value in norms.items()}}


def _layers(per_layer: Mapping, series: str) -> dict[str, list[float]]:
    if not per_layer:
        raise ValueError(f"gradient_flow_chart: series {series!r} has no layers")
    out = {}
    for layer, value in per_layer.items():
        values = _as_norms(value, series, layer)
        out[str(layer)] = values
    return out


def _as_norms(value: Any, series: str, layer: Any) -> list[float]:
    where = f"series {series!r}, layer {layer!r}" if series else f"layer {layer!r}"
    if isinstance(value, Real) and not isinstance(value, bool):
        values = [float(value)]
    elif isinstance(value, (Sequence, np.ndarray)) and not isinstance(value, str):
        if len(value) == 0:
            raise ValueError(f"gradient_flow_chart: {where}: empty list of norms")
        values = []
        for v in np.asarray(value, dtype=object).reshape(-1):
            if not isinstance(v, Real) or isinstance(v, bool):
                raise TypeError(f"gradient_flow_chart: {where}: norms must be numbers, got {v!r}")
            values.append(float(v))
    else:
        raise TypeError(
            f"gradient_flow_chart: {where}: expected a norm or a list of norms per step, "
            f"got {type(value).__name__}"
        )
    if any(v < 0 for v in values):
        raise ValueError(f"gradient_flow_chart: {where}: norms cannot be negative, got {values}")
    return values


def _reduce(values: list[float], step: str | int) -> float:
    if step == "mean":
        return float(np.mean(values))
    if step == "median":
        return float(np.median(values))
    if step == "last":
        return values[-1]
    if step == "first":
        return values[0]
    assert isinstance(step, int), f"_check_step admits only the four names or an int, got {step!r}"
    return values[step] if -len(values) <= step < len(values) else math.nan


def _predicted_lines(predicted: Any, layers: list) -> dict[str, dict[str, float]]:
    """``predicted`` as ``{label: {layer: norm}}``, checked against the chart's layers."""
    if predicted is None:
        return {}
    if not isinstance(predicted, Mapping) or not predicted:
        raise TypeError(
            "gradient_flow_chart: predicted must be a non-empty mapping {layer: norm} or "
            "{name: {layer: norm}}"
        )
    nested = all(isinstance(v, Mapping) for v in predicted.values())
    groups = predicted if nested else {"predicted (mean field)": predicted}
    lines = {}
    for label, per_layer in groups.items():
        line = {}
        for layer, value in per_layer.items():
            if str(layer) not in layers:
                raise ValueError(
                    f"gradient_flow_chart: predicted layer {layer!r} is not on the chart (layers: "
                    f"{', '.join(layers[:6])}{' …' if len(layers) > 6 else ''})"
                )
            if not isinstance(value, Real) or isinstance(value, bool) or not float(value) >= 0:
                raise ValueError(
                    f"gradient_flow_chart: predicted norm of {layer!r} must be a number >= 0, got {value!r}"
                )
            line[str(layer)] = float(value)
        lines[str(label)] = line
    return lines


def _plot(ax: Any, series: dict, layers: list, step: str | int, log: bool, lines: dict | None = None) -> None:
    x_of = {name: i for i, name in enumerate(layers)}
    lines = lines or {}
    finite_values = [
        v
        for per_layer in series.values()
        for vs in per_layer.values()
        for v in vs
        if math.isfinite(v) and v > 0
    ] + [v for line in lines.values() for v in line.values() if math.isfinite(v) and v > 0]
    low = min(finite_values) if finite_values else 1e-3
    high = max(finite_values) if finite_values else 1.0
    if log:
        ax.set_yscale("log")
        bottom, top = low / 5.0, high * 5.0
    else:
        bottom, top = 0.0, high * 1.1 if high > 0 else 1.0
    odd_notes = []
    for k, (name, per_layer) in enumerate(series.items()):
        colour = f"C{k % 10}"
        xs, ys, lo_band, hi_band = [], [], [], []
        for layer, values in per_layer.items():
            y = _reduce(values, step)
            x = x_of[layer]
            if math.isfinite(y) and (y > 0 or not log):
                xs.append(x)
                ys.append(y)
                good = [v for v in values if math.isfinite(v) and (v > 0 or not log)]
                lo_band.append(min(good))
                hi_band.append(max(good))
            elif y == 0.0:
                ax.plot(
                    [x],
                    [bottom * 1.6 if log else bottom],
                    marker="v",
                    color=colour,
                    markersize=9,
                    clip_on=False,
                )
                odd_notes.append(f"{name + ': ' if name else ''}{layer} = 0")
            else:
                ax.plot(
                    [x],
                    [top / 1.6 if log else top * 0.95],
                    marker="X",
                    color="#ff00ff",
                    markersize=10,
                    clip_on=False,
                )
                odd_notes.append(f"{name + ': ' if name else ''}{layer} = {'nan' if y != y else 'inf'}")
        ax.plot(xs, ys, marker="o", color=colour, label=name or None, linewidth=1.8)
        if any(len(vs) > 1 for vs in per_layer.values()):
            ax.fill_between(xs, lo_band, hi_band, color=colour, alpha=0.18, linewidth=0)
    names = list(series)
    for k, (label, line) in enumerate(lines.items()):  # predictions: dashed, beside the measurement
        same = label in names
        colour = (
            f"C{names.index(label) % 10}" if same else ("0.25" if k == 0 else f"C{(len(names) + k) % 10}")
        )
        xs = [x_of[layer] for layer, v in line.items() if v > 0 or not log]
        ys = [v for v in line.values() if v > 0 or not log]
        ax.plot(
            xs,
            ys,
            linestyle="--",
            linewidth=1.6,
            color=colour,
            label=f"{label} (predicted)" if same else label,
        )
    ax.set_ylim(bottom, top)
    ax.set_xticks(range(len(layers)))
    stride = max(1, math.ceil(len(layers) / 30))
    ax.set_xticklabels([name if i % stride == 0 else "" for i, name in enumerate(layers)])
    if len(layers) > 6:
        for label in ax.get_xticklabels():
            label.set_rotation(45)
            label.set_horizontalalignment("right")
    ax.set_xlabel("layer  (input side → output side)")
    ax.set_ylabel("‖grad‖  (log scale)" if log else "‖grad‖")
    ax.grid(True, which="major", axis="y", alpha=0.35)
    if any(series) or lines:
        ax.legend(loc="best", frameon=False)
    if odd_notes:
        text = "not on the scale: " + "; ".join(odd_notes[:6]) + (" …" if len(odd_notes) > 6 else "")
        ax.annotate(text, xy=(0.01, 0.01), xycoords="axes fraction", fontsize=8, color="#aa00aa")


def _matplotlib() -> tuple[Any, Any]:
    """matplotlib's Figure class and rc_context, imported lazily (no pyplot global state)."""
    try:
        from matplotlib import rc_context
        from matplotlib.figure import Figure
    except ImportError:
        raise ChartsUnavailable(
            "the gradient-flow chart needs matplotlib: `pip install matplotlib` "
            "(or `pip install 'tinygrad_edu[charts]'`)"
        ) from None
    return Figure, rc_context


#: The lazy matplotlib import under a public name, for the other chart modules (viz.through_time).
matplotlib_parts = _matplotlib
