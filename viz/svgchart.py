"""Small SVG charts drawn by our own code: curves over training steps, and a verdict timeline.

No plotting library, no script, no network: each chart is a string of SVG that a page embeds. A
curve is one ``<polyline>`` per unbroken run of drawable values (a missing, non-finite or — on a
log axis — non-positive value breaks the line, and is marked instead of being dropped silently);
the axis ticks carry their value in ``data-value`` so that a test can map every drawn point back
to its number. Log axes are log10, ticked at whole decades.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from . import style

WIDTH, HEIGHT = 660, 230
LEFT, RIGHT, TOP, BOTTOM = 70, 150, 26, 34  # the legend sits on the right
#: Input side first: dark blue → green → orange (distinguishable, and in depth order).
PALETTE = ("#253494", "#2c7fb8", "#41b6c4", "#31a354", "#addd8e", "#fdae61", "#f46d43", "#d73027", "#a50026")
VERDICT_COLOURS = {"healthy": "#4daf4a", "vanishing": "#377eb8", "exploding": "#e41a1c"}


@dataclass(frozen=True)
class Series:
    """One curve: ``values[i]`` is the value at step ``i`` (None: not measured)."""

    name: str
    values: Sequence[float | None]
    colour: str


def colours(n: int) -> list[str]:
    """``n`` colours of :data:`PALETTE`, spread from its first to its last (depth order)."""
    if n <= 1:
        return [PALETTE[0]] * n
    return [PALETTE[round(i * (len(PALETTE) - 1) / (n - 1))] for i in range(n)]


def superscript(n: int) -> str:
    return str(n).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))


def drawable(v: float | None, log: bool) -> bool:
    return v is not None and math.isfinite(v) and (v > 0 or not log)


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    y_label: str,
    log: bool = True,
    guide: float | None = None,
    guide_label: str = "",
    y_range: tuple[float, float] | None = None,
    chart_id: str = "",
) -> str:
    """An SVG line chart of ``series`` against the step (0 … n−1).

    Args:
        log: log10 y axis (ticks at whole decades).
        guide: a dashed horizontal line at this value (e.g. the 10⁻³ update-ratio guide).
        y_range: a fixed y range (e.g. (0, 1) for fractions); default: the data's (and the guide's).
    """
    n = max((len(s.values) for s in series), default=0)
    tr = (lambda v: math.log10(v)) if log else (lambda v: v)
    points = [tr(v) for s in series for v in s.values if drawable(v, log)]
    if guide is not None:
        points.append(tr(guide))
    if y_range is not None:
        lo, hi = tr(y_range[0]), tr(y_range[1])
    elif points:
        lo, hi = min(points), max(points)
        if log:
            lo, hi = math.floor(lo), math.ceil(hi)
        if hi - lo < 1e-12:
            lo, hi = lo - (1 if log else max(abs(lo), 1) * 0.5), hi + (1 if log else max(abs(hi), 1) * 0.5)
    else:
        lo, hi = 0.0, 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(i: float) -> float:
        return LEFT + (i / (n - 1) if n > 1 else 0.5) * plot_w

    def y_of(t: float) -> float:
        return TOP + (1 - (t - lo) / (hi - lo)) * plot_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="td-chart" id="{escape(chart_id)}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" data-log="{int(log)}">',
        f'<text x="{LEFT}" y="16" class="td-title">{escape(title)}</text>',
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" class="td-frame"/>',
    ]
    for t in _ticks(lo, hi, log):
        y = y_of(t)
        value = 10**t if log else t
        label = f"10{superscript(round(t))}" if log else style.fmt(value)
        out.append(
            f'<g class="td-ytick" data-value="{value!r}" data-y="{y:.2f}">'
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.2f}" y2="{y:.2f}"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.2f}" text-anchor="end">{label}</text></g>'
        )
    for i in _step_ticks(n):
        x = x_of(i)
        out.append(
            f'<g class="td-xtick" data-step="{i}">'
            f'<line x1="{x:.2f}" x2="{x:.2f}" y1="{TOP + plot_h}" y2="{TOP + plot_h + 4}"/>'
            f'<text x="{x:.2f}" y="{TOP + plot_h + 16}" text-anchor="middle">{i}</text></g>'
        )
    out.append(
        f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 4}" text-anchor="middle" class="td-axis">step</text>'
        f'<text x="14" y="{TOP + plot_h / 2}" text-anchor="middle" class="td-axis" '
        f'transform="rotate(-90 14 {TOP + plot_h / 2})">{escape(y_label)}</text>'
    )
    if guide is not None:
        y = y_of(tr(guide))
        out.append(
            f'<g class="td-guide" data-value="{guide!r}">'
            f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.2f}" y2="{y:.2f}"/>'
            f'<text x="{LEFT + plot_w - 4}" y="{y - 4:.2f}" text-anchor="end">'
            f"{escape(guide_label)}</text></g>"
        )
    for index, s in enumerate(series):
        out.append(_curve(s, index, log, tr, x_of, y_of, TOP, TOP + plot_h))
        y = TOP + 6 + 15 * index
        out.append(
            f'<g class="td-key"><line x1="{WIDTH - RIGHT + 10}" x2="{WIDTH - RIGHT + 26}" y1="{y}" y2="{y}" '
            f'stroke="{s.colour}" stroke-width="2.5"/><text x="{WIDTH - RIGHT + 30}" y="{y + 4}">'
            f"{escape(s.name)}</text></g>"
        )
    out.append("</svg>")
    return "\n".join(out)


def _curve(s: Series, index: int, log: bool, tr, x_of, y_of, top: float, bottom: float) -> str:
    """The polylines of one series, and a marker at every value that cannot be drawn."""
    parts = [
        f'<g class="td-series" data-series="{index}" data-name="{escape(s.name)}">'
        f"<title>{escape(s.name)}</title>"
    ]
    run: list[int] = []

    def flush() -> None:
        if run:
            coords = " ".join(f"{x_of(i):.2f},{y_of(tr(s.values[i])):.2f}" for i in run)
            parts.append(
                f'<polyline data-first="{run[0]}" points="{coords}" fill="none" stroke="{s.colour}" '
                'stroke-width="1.8"/>'
            )
            run.clear()

    for i, v in enumerate(s.values):
        if drawable(v, log):
            run.append(i)
            continue
        flush()
        if v is None:
            continue  # not measured (e.g. no update ratio before the first step): a gap
        kind = "nan" if math.isnan(v) else "inf" if math.isinf(v) else "zero" if v == 0 else "negative"
        y = bottom - 3 if kind in ("zero", "negative") else top + 3
        parts.append(
            f'<path class="td-mark td-{kind}" data-step="{i}" d="M{x_of(i):.2f},{y - 4:.2f} l4,7 h-8 z" '
            f'fill="{"#e41a1c" if kind in ("nan", "inf") else s.colour}"><title>{escape(s.name)}, step {i}: '
            f"{style.fmt(v)}</title></path>"
        )
    flush()
    parts.append("</g>")
    return "".join(parts)


def _ticks(lo: float, hi: float, log: bool) -> list[float]:
    if log:
        decades = list(range(math.ceil(lo - 1e-9), math.floor(hi + 1e-9) + 1))
        stride = max(1, math.ceil(len(decades) / 8))
        return [float(d) for d in decades[::stride]]
    span = hi - lo
    raw = span / 5
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / step - 1e-9)
    return [round(k * step, 12) for k in range(first, math.floor(hi / step + 1e-9) + 1)]


def _step_ticks(n: int) -> list[int]:
    if n <= 1:
        return [0] if n else []
    raw = (n - 1) / 6
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(int(m * magnitude) for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return list(range(0, n, max(step, 1)))


def verdict_timeline(verdicts: Sequence[str], *, title: str, chart_id: str = "") -> str:
    """A strip, one band per run of equal verdicts (``report(upto=k + 1).verdict`` at step k)."""
    n = len(verdicts)
    plot_w = WIDTH - LEFT - RIGHT
    height = 62
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="td-chart td-timeline" id="{escape(chart_id)}" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
        f'aria-label="{escape(title)}">',
        f'<text x="{LEFT}" y="14" class="td-title">{escape(title)}</text>',
    ]
    start = 0
    for i in range(1, n + 1):
        if i < n and verdicts[i] == verdicts[start]:
            continue
        x0, x1 = LEFT + plot_w * start / n, LEFT + plot_w * i / n
        verdict = verdicts[start]
        out.append(
            f'<rect class="td-band" data-verdict="{escape(verdict)}" data-from="{start}" data-to="{i - 1}" '
            f'x="{x0:.2f}" y="22" width="{max(x1 - x0, 0.5):.2f}" height="18" '
            f'fill="{VERDICT_COLOURS.get(verdict, "#999999")}">'
            f"<title>steps {start}–{i - 1}: {escape(verdict)}</title></rect>"
        )
        if x1 - x0 > 60:
            out.append(
                f'<text x="{(x0 + x1) / 2:.2f}" y="35" text-anchor="middle" class="td-band-text">'
                f"{escape(verdict)}</text>"
            )
        start = i
    out.append(f'<text x="{LEFT}" y="{height - 6}" class="td-axis">step 0</text>')
    out.append(
        f'<text x="{LEFT + plot_w}" y="{height - 6}" text-anchor="end" class="td-axis">step {n - 1}</text>'
    )
    for key, (verdict, colour) in enumerate(VERDICT_COLOURS.items()):
        y = 26 + 12 * key
        out.append(
            f'<rect x="{WIDTH - RIGHT + 10}" y="{y - 8}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{WIDTH - RIGHT + 24}" y="{y + 1}" class="td-small">{verdict}</text>'
        )
    out.append("</svg>")
    return "\n".join(out)
