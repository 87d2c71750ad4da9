"""Helpers shared by the viz tests (this module holds no tests of its own)."""

from __future__ import annotations

import html
import importlib.util
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from tinygrad_edu import Value

SVG = "{http://www.w3.org/2000/svg}"

HAS_DOT = shutil.which("dot") is not None
try:
    import pygraphviz

    HAS_PYGRAPHVIZ = True
except ImportError:  # pragma: no cover - CI installs it
    pygraphviz = None
    HAS_PYGRAPHVIZ = False
HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None

#: CI installs every optional dependency (.ci/run: Debian's graphviz and chromium, the pip extras
#: dev,render,charts,data,browser,notebook,torch). There a missing one is a broken setup that must
#: fail the run, not a reason to skip: a skip would hide every test behind it.
ON_CI = bool(os.environ.get("CI"))


def needs(present: bool, reason: str):
    """Skip when ``present`` is false, except on CI, where the test runs (and fails loudly)."""
    return pytest.mark.skipif(not present and not ON_CI, reason=reason)


needs_dot = needs(HAS_DOT, "the system `dot` program is not installed")
needs_pygraphviz = needs(HAS_PYGRAPHVIZ, "pygraphviz is not installed")
needs_renderer = needs(HAS_DOT or HAS_PYGRAPHVIZ, "no Graphviz renderer (system `dot` or pygraphviz)")


def design_example(backward: bool = True):
    """``y = tanh(a·b + 1)`` with a=2, b=−3 (the classic micrograd example); returns (a, b, y)."""
    a = Value(2.0, label="a")
    b = Value(-3.0, label="b")
    y = (a * b + 1).tanh()
    y.label = "y"
    if backward:
        y.backward()
    return a, b, y


def label_text(label: str) -> str:
    """What Graphviz shows for a label as pygraphviz returns it (the HTML inside ``<...>``).

    Tags are dropped (a line break or table row starts a new line), entities and ``\\\\`` decoded.
    """
    text = re.sub(r"<BR\s*/>|</TR>", "\n", label)  # a line break or a table row: a new line
    text = text.replace("</TD>", " ")  # cells of one row: one line
    text = re.sub(r"<[^>]*>", "", text)
    text = html.unescape(text)
    text = re.sub(r"\\(.)", r"\1", text)  # Graphviz's escString: "\\" is one backslash
    return "\n".join(line.strip() for line in text.strip("\n").split("\n"))


def parse_dot(source: str):
    """The DOT text parsed by Graphviz itself (libcgraph through pygraphviz)."""
    return pygraphviz.AGraph(string=source)


def canon(source: str) -> str:
    """``dot -Tcanon``: Graphviz's own re-serialisation of the DOT text (fails on bad syntax)."""
    done = subprocess.run(["dot", "-Tcanon"], input=source.encode(), capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode()


def svg_lines(svg: bytes | str, element_id: str) -> list[str]:
    """The text lines Graphviz drew inside the SVG group with this id (a node or an edge)."""
    root = ET.fromstring(svg if isinstance(svg, bytes) else svg.encode())
    for group in root.iter(f"{SVG}g"):
        if group.get("id") == element_id:
            return ["".join(t.itertext()) for t in group.iter(f"{SVG}text")]
    raise AssertionError(f"no element {element_id!r} in the SVG")


def edge_labels(agraph) -> dict:
    """``{edge id: label text}`` of a parsed graph."""
    return {e.attr["id"]: label_text(e.attr["label"]) for e in agraph.edges()}


def squash(text: str) -> str:
    """Whitespace-insensitive form (Graphviz trims and may collapse spaces in its text)."""
    return " ".join(text.split())
