"""Write a drawing to a file: ``viz.render(y, "graph.svg")``, the format from the suffix.

Everything that can go wrong is checked *before* anything is written — the suffix, the folder,
the drawing options, the renderer — and the file is written to a temporary name in the same
folder and then moved into place, so a failure never leaves a half-written picture behind.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import graphviz

from tinygrad_edu import outputs

from . import backends
from .dot import draw
from .errors import OutputPathError, UnsupportedFormat

#: suffix → format. ``.gv`` is the other common suffix of DOT files.
FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}


def output_format(path: Any, who: str = "render") -> tuple[Path, str]:
    """``(Path, format)`` for an output path, checking suffix and folder (nothing is written).

    Error messages start with ``"<who>: "``, the function the user called.

    Raises:
        TypeError: ``path`` is not a str or path-like.
        UnsupportedFormat: the suffix is not ``.svg``, ``.png``, ``.pdf``, ``.dot`` or ``.gv``.
        OutputPathError: the folder does not exist, the path is a folder, or it is not writable.
    """
    target = as_path(path, who)
    fmt = FORMATS.get(target.suffix.lower())
    if fmt is None:
        raise UnsupportedFormat(
            f"{who}: cannot tell the format of {str(target)!r} from its suffix {target.suffix!r}; "
            f"use one of {', '.join(sorted(FORMATS))}"
        )
    check_writable(target, who)
    return target, fmt


def as_path(path: Any, who: str) -> Path:
    """``path`` as a ``Path``; ``TypeError`` (its message starting ``"<who>: "``) if it is not path-like."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{who}: path must be a str or os.PathLike, got {type(path).__name__}")
    return Path(path)


def check_writable(target: Path, who: str) -> None:
    """Raise ``OutputPathError`` (message starting ``"<who>: "``) unless ``target`` can be written.

    Its folder must exist, it must not itself be a folder, and the folder (and the file, if it
    exists) must be writable. Shared by every writer in viz, so they all fail alike and early.
    """
    folder = target.parent
    if not folder.is_dir():
        raise OutputPathError(f"{who}: the folder {str(folder)!r} of {str(target)!r} does not exist")
    if target.is_dir():
        raise OutputPathError(f"{who}: {str(target)!r} is a folder, not a file name")
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise OutputPathError(f"{who}: no permission to write {str(target)!r}")


def render(
    source: Any,
    path: str | os.PathLike,
    *,
    renderer: str = "auto",
    timeout: float = backends.DEFAULT_TIMEOUT,
    **draw_options: Any,
) -> Path:
    """Draw ``source`` and write the picture to ``path`` (svg, png, pdf, or dot by suffix).

    Args:
        source: a ``Value``/``Tensor`` root, a traced ``Graph`` (both drawn with
            :func:`viz.draw` and ``draw_options``), or a finished ``graphviz.Digraph`` (such as
            the result of ``viz.draw``; then no ``draw_options``).
        path: the output file; its suffix picks the format.
        renderer: ``"auto"`` (system ``dot`` if on PATH, else pygraphviz; the environment
            variable ``TINYGRAD_EDU_RENDERER`` can force one), ``"dot"`` or ``"pygraphviz"``.
            Not needed for ``.dot``/``.gv``.
        timeout: seconds the ``dot`` program may take (pygraphviz runs in-process).
        **draw_options: options of :func:`viz.draw` (``highlight=``, ``direction=`` ...).

    Returns:
        the path written.

    Raises:
        UnsupportedFormat, OutputPathError, RendererNotFound: before anything is written.
        RenderError: Graphviz itself failed.
    """
    target, fmt = output_format(path)
    if fmt != "dot":
        backends.resolve(renderer)  # a missing renderer is reported before drawing
    if isinstance(source, (graphviz.Digraph, graphviz.Source)):
        if draw_options:
            raise TypeError(
                f"render: drawing options {sorted(draw_options)} cannot change an already drawn "
                "Digraph; pass the Value/Tensor/Graph instead"
            )
        text = source.source
    else:
        text = draw(source, **draw_options).source
    if fmt == "dot":
        data = text.encode("utf-8")
    else:
        data = backends.render_bytes(text, fmt, renderer=renderer, timeout=timeout)
    write_atomically(target, data)
    return target


def write_atomically(target: Path, data: bytes, who: str = "render") -> None:
    """Write to a temporary file next to ``target``, then rename it into place.

    A failure (or an interrupt) leaves the old file, or none, never a half-written one. A
    failure of the operating system (a read-only file system, no permission — which
    :func:`check_writable` cannot see for root — a full disk, a name too long) is an
    :class:`OutputPathError` that names ``target``, never the hidden temporary file.
    """
    outputs.write_atomically(target, lambda fh: fh.write(data), who, OutputPathError)
