"""The gradient-over-time chart: ‖∂L/∂h_t‖ against the time step t, on a log scale.

Backprop through time multiplies one factor per step, so a gradient that vanishes through time
is a straight falling line on a log scale read from t = T back to t = 1 (the same factor lost per
step), one that explodes a rising one. Several models (an RNN, an LSTM and a GRU on the same
inputs) share one chart. The norms are the ``.grad`` of the step nodes, as
:func:`tinygrad_edu.diagnostics.gradient_over_time` reads them; drawn with matplotlib (the
``charts`` extra), imported only when a chart is made.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from numbers import Real
from typing import Any

import numpy as np

from tinygrad_edu.diagnostics import gradient_over_time

from .errors import UnsupportedFormat
from .flow import CHART_FORMATS, matplotlib_parts
from .output import output_format, write_atomically

__all__ = ["gradient_over_time_chart", "time_series"]


def time_series(source: Any) -> dict[str, list[float]]:
    """``{model: [‖∂L/∂h_1‖, …, ‖∂L/∂h_T‖]}`` from the accepted sources (see the chart).

    Raises:
        TypeError / ValueError: an empty mapping, a value that is neither norms nor a recurrent
            module or graph, negative or non-numeric norms.
    """
    if not isinstance(source, Mapping):
        source = {getattr(source, "name", "") or "‖∂L/∂h_t‖": source}
    if not source:
        raise ValueError("gradient_over_time_chart: the mapping is empty")
    series = {}
    for name, value in source.items():
        if isinstance(value, (Sequence, np.ndarray)) and not isinstance(value, str):
            values = list(np.asarray(value, dtype=object).reshape(-1))
            if not values:
                raise ValueError(f"gradient_over_time_chart: series {name!r} is empty")
            for v in values:
                if not isinstance(v, Real) or isinstance(v, bool):
                    raise TypeError(
                        f"gradient_over_time_chart: series {name!r}: norms must be numbers, got {v!r}"
                    )
            norms = [float(v) for v in values]
        else:
            norms = [float(v) for v in gradient_over_time(value)]
        if any(v < 0 for v in norms):
            raise ValueError(f"gradient_over_time_chart: series {name!r}: norms cannot be negative")
        series[str(name)] = norms
    return series


def gradient_over_time_chart(
    source: Any, path: Any, *, title: str | None = None, log: bool = True, note: str = ""
) -> Any:
    """Plot ‖∂L/∂h_t‖ against t = 1 … T, one line per model (log-scale y by default).

    ``source``: a recurrent module (``nn.RNN``/``LSTM``/``GRU`` after ``backward()``), a root
    Tensor or traced graph with recurrent steps, a list of norms for t = 1 … T, or a mapping
    ``{model name: any of those}`` for several lines on one chart. Zero norms (no gradient
    reached that step) cannot sit on a log scale: they are drawn as ``▼`` at the bottom edge and
    listed in a note. ``path``: ``.svg``, ``.png`` or ``.pdf``. Returns the path written.
    """
    target, fmt = output_format(path, "gradient_over_time_chart")
    if fmt not in CHART_FORMATS:
        raise UnsupportedFormat(f"gradient_over_time_chart: write .svg, .png or .pdf, not {target.suffix!r}")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"gradient_over_time_chart: title must be a str, got {type(title).__name__}")
    series = time_series(source)
    figure_cls, rc_context = matplotlib_parts()
    positive = [v for norms in series.values() for v in norms if math.isfinite(v) and v > 0]
    low, high = (min(positive), max(positive)) if positive else (1e-3, 1.0)
    with rc_context({"svg.hashsalt": "tinygrad_edu", "font.size": 10}):
        fig = figure_cls(figsize=(6.8, 4.4), layout="constrained")
        ax = fig.add_subplot()
        bottom = low / 5.0 if log else 0.0
        odd = []
        for k, (name, norms) in enumerate(series.items()):
            colour = f"C{k % 10}"
            steps = np.arange(1, len(norms) + 1)
            shown = [(t, v) for t, v in zip(steps, norms) if math.isfinite(v) and (v > 0 or not log)]
            if shown:
                ts, vs = zip(*shown)
                ax.plot(
                    ts, vs, color=colour, label=name, linewidth=1.8, marker="o" if len(norms) <= 30 else None
                )
            zeros = [t for t, v in zip(steps, norms) if v == 0 and log]
            if zeros:
                ax.plot(zeros, [bottom * 1.6] * len(zeros), "v", color=colour, clip_on=False)
                odd.append(f"{name}: 0 at {len(zeros)} step(s)")
        if log:
            ax.set_yscale("log")
            ax.set_ylim(bottom, high * 5.0)
        ax.set_xlabel("time step t  (1 = first input, T = last)")
        ax.set_ylabel("‖∂L/∂h_t‖  (log scale)" if log else "‖∂L/∂h_t‖")
        ax.set_title(title if title is not None else "Gradient through time")
        ax.grid(True, which="major", axis="y", alpha=0.35)
        ax.legend(loc="best", frameon=False)
        text = "; ".join(filter(None, [note, ("not on the scale: " + "; ".join(odd)) if odd else ""]))
        if text:
            ax.annotate(text, xy=(0.01, 0.01), xycoords="axes fraction", fontsize=8, color="#aa00aa")
        buffer = io.BytesIO()
        metadata = {"Date": None} if fmt == "svg" else ({"CreationDate": None} if fmt == "pdf" else None)
        fig.savefig(buffer, format=fmt, dpi=110, metadata=metadata)
    write_atomically(target, buffer.getvalue())
    return target
