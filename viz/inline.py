"""A self-contained page shown inline in a notebook: Jupyter, JupyterLab and VS Code.

``viz.viewer(root)`` and ``viz.dashboard(monitor)`` without a path return an :class:`InlinePage`.
A notebook displays the last value of a cell through its ``_repr_html_``: here an
``<iframe sandbox="allow-scripts" srcdoc="…">`` that holds the very page the file would hold.

Why an iframe and not the page's markup pasted into the notebook:

* isolation — the page's style sheet (``body { … }``, ``button { … }``) and its element ids
  cannot restyle or collide with the notebook, and the notebook's CSS cannot break the page;
* the sandbox — ``allow-scripts`` only: the page's own script runs, but in an opaque origin, so
  it cannot reach the notebook's DOM, cookies or kernel, open windows, or submit forms;
* no network — the page's Content-Security-Policy (``default-src 'none'``) still applies inside
  the iframe, and everything it needs is in ``srcdoc``;
* the same page — what a test checks about the file holds for the inline view.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

from .errors import UnsupportedFormat
from .output import as_path, check_writable, write_atomically


class InlinePage:
    """A whole HTML page that displays in a notebook cell and can also be saved as a file.

    Attributes:
        html: the page (the same bytes ``save`` writes).
        title: what the iframe is called (for screen readers).
        height: the iframe's height in CSS pixels.
    """

    def __init__(self, page: str, title: str, height: int = 760):
        if not isinstance(height, int) or isinstance(height, bool) or height < 100:
            raise ValueError(f"InlinePage: height must be an int of at least 100 (pixels), got {height!r}")
        self.html = page
        self.title = title
        self.height = height

    def iframe(self) -> str:
        """The ``<iframe sandbox="allow-scripts" srcdoc="…">`` element that holds the page."""
        return (
            f'<iframe sandbox="allow-scripts" title="{html.escape(self.title)}" '
            f'style="width: 100%; height: {self.height}px; border: 1px solid #d5d9e0; border-radius: 4px;" '
            f'srcdoc="{html.escape(self.html, quote=True)}"></iframe>'
        )

    def _repr_html_(self) -> str:
        return self.iframe()

    def save(self, path: str | os.PathLike) -> Path:
        """Write the page to a ``.html`` file (atomically) and return its path."""
        target = as_path(path, "save")
        if target.suffix.lower() not in (".html", ".htm"):
            raise UnsupportedFormat(
                f"save: writes an HTML page; give a path ending in .html, got {str(target)!r}"
            )
        check_writable(target, "save")
        write_atomically(target, self.html.encode("utf-8"), "save")
        return target

    def __repr__(self) -> str:
        return f"<InlinePage {self.title!r}: {len(self.html)} characters; displays inline in a notebook>"
