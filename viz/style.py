"""How numbers, text and gradient magnitudes look: number format, escaping, colour scale, widths.

Colour encodes ``log10(‖grad‖ / ‖root grad‖)`` — how many decades the gradient has shrunk
(negative) or grown (positive) on its way from the root — on a diverging blue–white–red scale
(ColorBrewer RdBu): white means "as large as at the root", blue "shrunk", red "grown". The scale
saturates at ``±decades``. Values that are not numbers get colours that belong to no scale:
``nan`` is magenta, ``inf`` is black, and both also say so in text.

Everything here is a pure function of its inputs, and numbers always print with the same
format, so the same graph always gives the same DOT text.
"""

from __future__ import annotations

import math
import unicodedata
from typing import Any

import numpy as np

from tinygrad_edu.formatting import shape_text, short_number
from tinygrad_edu.numerics import norm

#: Diverging scale from "shrunk a lot" (deep blue) through "unchanged" (near white) to "grown a
#: lot" (deep red): ColorBrewer RdBu, 11 classes, blue end first.
NODE_SCALE = (
    "#053061",
    "#2166ac",
    "#4393c3",
    "#92c5de",
    "#d1e5f0",
    "#f7f7f7",
    "#fddbc7",
    "#f4a582",
    "#d6604d",
    "#b2182b",
    "#67001f",
)
#: Edges are thin lines on white paper, so their scale has a mid-grey centre instead of white.
EDGE_SCALE = (
    "#053061",
    "#2166ac",
    "#4393c3",
    "#6f8fa8",
    "#7f7f7f",
    "#a8776a",
    "#d6604d",
    "#b2182b",
    "#67001f",
)

NAN_FILL = "#ff00ff"  # magenta: on no scale, impossible to mistake for a small or large gradient
INF_FILL = "#000000"  # black: beyond the darkest red
NO_GRAD_FILL = "#ffffff"  # no backward yet, or a node that takes no gradient
NO_GRAD_EDGE = "#555555"
FADED_FILL = "#f2f2f2"  # highlight mode: nodes off the highlighted paths
FADED_LINE = "#c8c8c8"
FADED_TEXT = "#9a9a9a"
HIGHLIGHT_LINE = "#ff7f00"  # highlight mode: outline of the chosen leaf and of the root

#: Default number of decades (powers of ten) at which the colour scale saturates.
DEFAULT_DECADES = 4.0


# --- numbers ---------------------------------------------------------------------------


#: A number in 3 significant digits: ``0.000182``, ``-3``, ``1.2e+08``, ``nan``, ``inf``; ``0`` for ±0.
#: The engine's own format (:func:`tinygrad_edu.formatting.short_number`), so a picture and a
#: printout agree.
fmt = short_number

#: ``(4, 3)`` → ``4×3``; a 0-d array is a ``scalar`` (:func:`tinygrad_edu.formatting.shape_text`).
fmt_shape = shape_text


def magnitude(x: Any) -> float | None:
    """‖x‖: |x| for a number, the Frobenius norm for an array, ``None`` for no gradient.

    The engine's one overflow-safe norm (:func:`tinygrad_edu.numerics.norm`), so a picture's
    magnitude and a printed gain agree (1e200 entries give 2e200, not inf).
    """
    return None if x is None else norm(x)


def status(m: float | None) -> str:
    """What kind of gradient magnitude this is: ``none``, ``zero``, ``finite``, ``nan``, ``inf``."""
    if m is None:
        return "none"
    if m != m:
        return "nan"
    if m == math.inf:
        return "inf"
    if m == 0.0:
        return "zero"
    return "finite"


# --- text ----------------------------------------------------------------------------


def clean_text(text: str) -> str:
    """Make arbitrary label text safe to show: invisible control characters become visible.

    Graphviz parses HTML-like labels as XML, which forbids most control characters and lone
    surrogates. They are replaced by their Python escape (``"\\x07"``, ``"\\ud800"``); tabs
    become a space; newlines are kept (they become line breaks). Everything else, including
    quotes, backslashes, ``<>&{}|`` and any printable unicode, is kept as it is.
    """
    out = []
    for ch in text:
        if ch == "\n":
            out.append(ch)
        elif ch == "\t":
            out.append(" ")
        elif _unsafe(ch):
            out.append(ch.encode("unicode_escape", "backslashreplace").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out)


def _unsafe(ch: str) -> bool:
    code = ord(ch)
    if code in (0xFFFE, 0xFFFF):  # XML non-characters
        return True
    return unicodedata.category(ch) in ("Cc", "Cs")


def html_text(text: str) -> str:
    """Text as the content of a Graphviz HTML-like label: escaped, newlines as ``<BR/>``.

    Escaping ``&``, ``<``, ``>`` and ``"`` means no label text can close the label, open a tag
    or add an attribute: it can only ever be text. Backslashes are doubled because Graphviz
    expands ``\\N`` (node name), ``\\G`` (graph name) ... even inside HTML-like labels (after
    decoding entities, so ``&#92;`` would not help); ``\\\\`` is how it spells one backslash.
    """
    out = clean_text(text).replace("&", "&amp;")
    for char, entity in _ENTITIES:
        out = out.replace(char, entity)
    return out.replace("\\", "\\\\").replace("\n", "<BR/>")


_ENTITIES = (
    ("<", "&lt;"),
    (">", "&gt;"),
    ('"', "&quot;"),
    ("]", "&#93;"),  # Graphviz 2.4x rejects "]" just before a tag ("a]</B>"): a syntax error
)


# --- colour scale --------------------------------------------------------------------


def position(m: float | None, reference: float, decades: float) -> float | None:
    """Where magnitude ``m`` sits on the scale: ``log10(m / reference) / decades`` clipped to [-1, 1].

    ``None`` for no gradient or a non-number; ``-1`` for an exactly zero gradient (it vanished).
    """
    kind = status(m)
    if kind == "zero":
        return -1.0
    if kind != "finite" or m is None:
        return None
    with np.errstate(divide="ignore"):
        t = math.log10(m) - math.log10(reference)
    return max(-1.0, min(1.0, t / decades))


def _interpolate(scale: tuple, t: float) -> str:
    """The colour at ``t`` in [-1, 1] on a scale of evenly spaced hex colours."""
    x = (t + 1.0) / 2.0 * (len(scale) - 1)
    i = min(int(math.floor(x)), len(scale) - 2)
    frac = x - i
    lo, hi = _rgb(scale[i]), _rgb(scale[i + 1])
    mixed = (round(a + (b - a) * frac) for a, b in zip(lo, hi))
    return "#" + "".join(f"{c:02x}" for c in mixed)


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def node_colours(m: float | None, reference: float, decades: float) -> tuple[str, str]:
    """``(fill, font)`` colours of a node whose gradient has magnitude ``m``."""
    kind = status(m)
    if kind == "nan":
        return NAN_FILL, "#000000"
    if kind == "inf":
        return INF_FILL, "#ffffff"
    t = position(m, reference, decades)
    if t is None:
        return NO_GRAD_FILL, "#000000"
    fill = _interpolate(NODE_SCALE, t)
    return fill, ("#ffffff" if abs(t) > 0.55 else "#000000")  # white text on the dark ends


def edge_colour(m: float | None, reference: float, decades: float) -> str:
    """Line colour of an edge along which a gradient of magnitude ``m`` flowed."""
    kind = status(m)
    if kind == "nan":
        return NAN_FILL
    if kind == "inf":
        return INF_FILL
    t = position(m, reference, decades)
    return NO_GRAD_EDGE if t is None else _interpolate(EDGE_SCALE, t)


def edge_width(m: float | None, reference: float, decades: float) -> float:
    """Line width grows with ``log10 ‖grad‖``: 0.5 at the vanishing end, 4 at the exploding end."""
    kind = status(m)
    if kind in ("nan", "inf"):
        return 4.0
    t = position(m, reference, decades)
    if t is None:
        return 1.0
    return round(2.25 + 1.75 * t, 2)


def legend_stops(decades: float) -> list[tuple[str, str, str]]:
    """The legend's swatches: ``(text, fill, font)`` from vanished to exploded, then nan and inf."""
    d = int(math.ceil(decades))
    stops = []
    for k in range(-d, d + 1):
        t = max(-1.0, min(1.0, k / decades))
        fill = _interpolate(NODE_SCALE, t)
        font = "#ffffff" if abs(t) > 0.55 else "#000000"
        if k == 0:
            text = "×1"
        elif abs(k) == d:
            text = f"{'≤' if k < 0 else '≥'}1e{k:+d}"
        else:
            text = f"1e{k:+d}"
        stops.append((text, fill, font))
    stops.append(("nan", NAN_FILL, "#000000"))
    stops.append(("inf", INF_FILL, "#ffffff"))
    return stops
