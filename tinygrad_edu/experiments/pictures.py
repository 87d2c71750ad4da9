"""Charts of the experiments (matplotlib, imported only when a picture is asked for).

Graph pictures and the per-layer gradient-flow chart come from :mod:`viz`; the simple line,
fit and decision-boundary charts here are experiment-specific. SVGs are deterministic (fixed
hash salt, no date) so regenerated gallery files only change when the numbers do.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import OutputPathError

_STYLE = {"svg.hashsalt": "tinygrad_edu", "font.size": 10}


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        from matplotlib.figure import Figure
    except ImportError as error:  # pragma: no cover - the "charts" extra is part of the set-up
        raise ImportError(
            "pictures need matplotlib: pip install 'tinygrad_edu[charts]' (make demo installs it)"
        ) from error
    import matplotlib

    return Figure, matplotlib.rc_context


def _save(fig: Any, path: Path) -> Path:
    path = Path(path)
    suffix = path.suffix.lstrip(".").lower()
    metadata = {"Date": None} if suffix == "svg" else ({"CreationDate": None} if suffix == "pdf" else None)
    try:
        fig.savefig(path, format=suffix, dpi=110, metadata=metadata)
    except OSError as error:  # the folder was checked before the run; a full disk, a race …
        reason = error.strerror or type(error).__name__
        raise OutputPathError(f"cannot write the picture {str(path)!r}: {reason}") from None
    return path


def line_chart(
    series: Mapping[str, Mapping[Any, Any]],
    path: Path,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    log: bool = True,
    note: str = "",
) -> Path:
    """One line per series; x may be numbers or labels (kept in order).

    None/NaN points cannot be drawn (and not on a log scale either): pass a ``note`` that says
    where they are, so they do not disappear silently.
    """
    Figure, rc_context = _pyplot()
    with rc_context(_STYLE):
        fig = Figure(figsize=(6.4, 4.2), layout="constrained")
        ax = fig.add_subplot()
        labels: list = []
        for points in series.values():
            labels.extend(x for x in points if x not in labels)
        numeric = all(isinstance(x, (int, float)) for x in labels)
        for name, points in series.items():
            xs, ys = [], []
            for x, y in points.items():
                if y is None or not math.isfinite(y) or (log and y <= 0):
                    continue
                xs.append(x if numeric else labels.index(x))
                ys.append(y)
            ax.plot(xs, ys, marker="o" if len(xs) <= 40 else None, markersize=3, label=name)
        if not numeric:
            ax.set_xticks(range(len(labels)), [str(x) for x in labels])
        if log:
            ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend()
        if note:
            ax.text(0.98, 0.03, note, transform=ax.transAxes, ha="right", va="bottom", color="#b03030")
        return _save(fig, path)


def fit_chart(x: np.ndarray, y: np.ndarray, curves: Mapping[str, tuple], path: Path, *, title: str) -> Path:
    """Data points and fitted curves: ``curves = {name: (xs, ys)}``."""
    Figure, rc_context = _pyplot()
    with rc_context(_STYLE):
        fig = Figure(figsize=(6.4, 4.2), layout="constrained")
        ax = fig.add_subplot()
        ax.scatter(x.ravel(), y.ravel(), s=8, color="0.6", label="data")
        for name, (xs, ys) in curves.items():
            ax.plot(np.ravel(xs), np.ravel(ys), label=name)
        ax.set_title(title)
        ax.legend()
        ax.grid(True, alpha=0.3)
        return _save(fig, path)


def boundary_chart(
    X: np.ndarray, y: np.ndarray, panels: Mapping[str, tuple], path: Path, *, title: str
) -> Path:
    """Decision regions side by side: ``panels = {name: (xx, yy, predicted_class_grid)}``."""
    Figure, rc_context = _pyplot()
    with rc_context(_STYLE):
        fig = Figure(figsize=(4.2 * len(panels), 4.2), layout="constrained")
        for i, (name, (xx, yy, zz)) in enumerate(panels.items()):
            ax = fig.add_subplot(1, len(panels), i + 1)
            ax.contourf(xx, yy, zz, levels=[-0.5, 0.5, 1.5], colors=["#cfe0f5", "#f6d3cf"])
            ax.scatter(X[:, 0], X[:, 1], c=np.where(y == 0, "#2c6fbb", "#c0392b"), s=6)
            ax.set_title(name)
            ax.set_xticks([])
            ax.set_yticks([])
        fig.suptitle(title)
        return _save(fig, path)


def bound_chart(
    measured: Mapping[str, Mapping[Any, float]],
    bounds: Mapping[str, Mapping[Any, float]],
    path: Path,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
) -> Path:
    """Measured curves (solid, with markers) and their bounds (dashed, same colour), log scale.

    ``measured`` and ``bounds`` are keyed by the same series names, each ``{x: y}``.
    """
    Figure, rc_context = _pyplot()
    with rc_context(_STYLE):
        fig = Figure(figsize=(6.4, 4.2), layout="constrained")
        ax = fig.add_subplot()
        for k, (name, points) in enumerate(measured.items()):
            colour = f"C{k % 10}"
            good = [(x, y) for x, y in points.items() if y is not None and math.isfinite(y) and y > 0]
            ax.plot(*zip(*good), marker="o", markersize=3, color=colour, label=f"{name}: measured")
            limit = [(x, y) for x, y in bounds[name].items() if y is not None and math.isfinite(y) and y > 0]
            ax.plot(*zip(*limit), linestyle="--", color=colour, label=f"{name}: bound")
        ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        return _save(fig, path)


def matplotlib_figure() -> tuple[Any, Any]:
    """``(Figure, style)``: matplotlib's Figure class and a function giving the rc context of these
    charts, for an experiment's own chart::

        with style():
            fig = Figure(...)
            ...
            save_figure(fig, path)
    """
    Figure, rc_context = _pyplot()
    return Figure, lambda: rc_context(_STYLE)


def save_figure(fig: Any, path: Path) -> Path:
    """Save a figure deterministically (no date in SVG/PDF metadata), format from the suffix."""
    return _save(fig, path)
