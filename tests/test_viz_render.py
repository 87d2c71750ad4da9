"""viz.render and the renderers: every format through every renderer, renderer choice, errors, Jupyter."""

from __future__ import annotations

import os
import re
import struct
import sys

import pytest
from viz_helpers import (
    HAS_DOT,
    HAS_PYGRAPHVIZ,
    ON_CI,
    design_example,
    needs_dot,
    needs_pygraphviz,
    needs_renderer,
    svg_lines,
)

import viz
from tinygrad_edu import TinygradEduError, Value
from viz import backends

SIGNATURES = {"svg": b"<?xml", "png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF-"}
RENDERER_PRESENT = {"dot": HAS_DOT, "pygraphviz": HAS_PYGRAPHVIZ}


@pytest.fixture
def no_dot(monkeypatch):
    """A machine without the system ``dot``: nothing on PATH."""
    monkeypatch.setenv("PATH", "")


@pytest.fixture
def no_pygraphviz(monkeypatch):
    """A machine without pygraphviz: ``import pygraphviz`` raises ImportError."""
    monkeypatch.setitem(sys.modules, "pygraphviz", None)


@pytest.fixture(autouse=True)
def _no_forced_renderer(monkeypatch):
    monkeypatch.delenv(backends.ENV_VAR, raising=False)


@pytest.mark.parametrize("renderer", ["dot", "pygraphviz"])
@pytest.mark.parametrize("fmt", ["svg", "png", "pdf"])
def test_each_renderer_writes_each_format(tmp_path, renderer, fmt):
    if not RENDERER_PRESENT[renderer] and not ON_CI:  # CI installs both: there, fail instead
        pytest.skip(f"renderer {renderer!r} is not installed")
    _, _, y = design_example()
    written = viz.render(y, tmp_path / f"y.{fmt}", renderer=renderer)
    data = written.read_bytes()
    assert data.startswith(SIGNATURES[fmt])
    if fmt == "svg":
        assert svg_lines(data, "e2_0")[0] == "local -3"  # ∂(a·b)/∂a = b = −3, drawn on its edge
    assert [p.name for p in tmp_path.iterdir()] == [f"y.{fmt}"]  # no temporary file left behind


@pytest.mark.parametrize("renderer", ["dot", "pygraphviz"])
def test_svg_content_fits_its_viewbox(tmp_path, renderer):
    """Graphviz 2.x scales SVG content by dpi/72 inside an unscaled viewBox: browsers clip it."""
    if not RENDERER_PRESENT[renderer] and not ON_CI:  # CI installs both: there, fail instead
        pytest.skip(f"renderer {renderer!r} is not installed")
    _, _, y = design_example()
    text = viz.render(y, tmp_path / "y.svg", renderer=renderer).read_text()
    assert re.search(r'<g id="graph0" class="graph" transform="scale\(1 1\)', text)


def test_dot_suffix_needs_no_renderer(tmp_path, no_dot, no_pygraphviz):
    _, _, y = design_example()
    for suffix in (".dot", ".gv", ".DOT"):
        written = viz.render(y, tmp_path / f"y{suffix}", highlight="a")
        assert written.read_text(encoding="utf-8") == viz.draw(y, highlight="a").source


def test_render_accepts_a_finished_drawing(tmp_path):
    _, _, y = design_example()
    drawing = viz.draw(y, direction="LR")
    assert viz.render(drawing, tmp_path / "d.dot").read_text(encoding="utf-8") == drawing.source
    with pytest.raises(TypeError, match="already drawn"):
        viz.render(drawing, tmp_path / "d.dot", highlight="a")


# --- choosing a renderer -----------------------------------------------------------------------


@needs_dot
def test_auto_prefers_the_system_dot():
    assert backends.resolve("auto") == "dot"


@needs_pygraphviz
def test_auto_falls_back_to_pygraphviz(tmp_path, no_dot):
    assert backends.resolve("auto") == "pygraphviz"
    _, _, y = design_example()
    assert viz.render(y, tmp_path / "y.png").read_bytes().startswith(SIGNATURES["png"])


@needs_pygraphviz
def test_environment_variable_forces_a_renderer(monkeypatch):
    monkeypatch.setenv(backends.ENV_VAR, "pygraphviz")
    assert backends.resolve() == "pygraphviz"
    if HAS_DOT:
        assert backends.resolve("dot") == "dot"  # an explicit argument wins over the variable
    monkeypatch.setenv(backends.ENV_VAR, "graphviz")
    with pytest.raises(ValueError, match=backends.ENV_VAR):
        backends.resolve()


def test_forcing_a_missing_renderer_names_the_fix(monkeypatch, no_dot, no_pygraphviz):
    monkeypatch.setenv(backends.ENV_VAR, "dot")
    with pytest.raises(viz.RendererNotFound, match="apt-get install graphviz"):
        backends.resolve()
    with pytest.raises(viz.RendererNotFound, match="pip install pygraphviz"):
        backends.resolve("pygraphviz")
    with pytest.raises(ValueError, match="renderer must be"):
        backends.resolve("cairo")


def test_no_renderer_is_one_typed_error_and_nothing_is_written(tmp_path, no_dot, no_pygraphviz):
    _, _, y = design_example()
    assert backends.available() == []
    with pytest.raises(viz.RendererNotFound) as caught:
        viz.render(y, tmp_path / "y.svg")
    message = str(caught.value)
    assert "pip install pygraphviz" in message and "tinygrad_edu[render]" in message
    assert "apt-get install graphviz" in message and "y.dot" in message
    assert isinstance(caught.value, TinygradEduError) and isinstance(caught.value, RuntimeError)
    assert list(tmp_path.iterdir()) == []
    assert viz.draw(y).source.startswith("digraph")  # DOT text still works


# --- bad paths ---------------------------------------------------------------------------------


def test_unknown_suffix_is_rejected_before_writing(tmp_path):
    _, _, y = design_example()
    for name in ("y.jpg", "y", "y.svg.txt"):
        with pytest.raises(viz.UnsupportedFormat, match="suffix") as caught:
            viz.render(y, tmp_path / name)
        assert isinstance(caught.value, ValueError)
    assert list(tmp_path.iterdir()) == []


def test_unwritable_paths_are_typed_errors(tmp_path):
    _, _, y = design_example()
    with pytest.raises(viz.OutputPathError, match="does not exist"):
        viz.render(y, tmp_path / "missing" / "y.svg")
    (tmp_path / "folder.svg").mkdir()
    with pytest.raises(viz.OutputPathError, match="is a folder"):
        viz.render(y, tmp_path / "folder.svg")
    with pytest.raises(TypeError, match="path must be"):
        viz.render(y, 42)
    assert isinstance(viz.OutputPathError("x"), OSError)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_read_only_folder_is_a_typed_error(tmp_path):
    _, _, y = design_example()
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(viz.OutputPathError, match="no permission"):
            viz.render(y, folder / "y.dot")
    finally:
        folder.chmod(0o700)


def test_no_write_permission_is_a_typed_error_even_as_root(tmp_path, monkeypatch):
    # root may write anywhere, so ask the permission check itself to say no
    import viz.output as output_module

    _, _, y = design_example()
    monkeypatch.setattr(output_module.os, "access", lambda path, mode: False)
    with pytest.raises(viz.OutputPathError, match="no permission"):
        viz.render(y, tmp_path / "y.dot")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_render_leaves_the_old_file_untouched(tmp_path, monkeypatch):
    _, _, y = design_example()
    target = tmp_path / "y.svg"
    target.write_bytes(b"old picture")

    def broken(*args, **kwargs):
        raise viz.RenderError("Graphviz failed")

    monkeypatch.setattr(backends, "render_bytes", broken)
    monkeypatch.setattr(backends, "resolve", lambda renderer="auto": "dot")
    with pytest.raises(viz.RenderError):
        viz.render(y, target)
    assert target.read_bytes() == b"old picture"
    assert [p.name for p in tmp_path.iterdir()] == ["y.svg"]


@needs_dot
def test_dot_time_limit_is_a_render_error():
    _, _, y = design_example()
    with pytest.raises(viz.RenderError, match="longer than"):
        backends.render_bytes(viz.draw(y).source, "svg", renderer="dot", timeout=1e-6)


# --- size cap and large graphs -----------------------------------------------------------------


def _png_size(data: bytes) -> tuple[int, int]:
    return struct.unpack(">II", data[16:24])  # IHDR: width, height


@needs_renderer
def test_png_size_is_capped(tmp_path):
    x = Value(0.1, label="x")
    h = x
    for _ in range(60):
        h = (h * 1.1).tanh()
    h.backward()
    big = _png_size(viz.render(h, tmp_path / "big.png", legend=False).read_bytes())
    small = _png_size(viz.render(h, tmp_path / "small.png", legend=False, size=(3, 3), dpi=50).read_bytes())
    assert max(small) <= 3 * 50 + 2  # Graphviz rounds up by a pixel or so
    assert max(big) > max(small)


@needs_renderer
def test_a_large_graph_renders_grouped(tmp_path):
    x = Value(0.5, label="x")
    h = x
    for i in range(1500):
        h = h * 0.999 if i % 2 else h.tanh()
    h.backward()
    written = viz.render(h, tmp_path / "big.svg")
    text = written.read_text(encoding="utf-8")
    assert 'id="g0"' in text and 'id="n0"' not in text
    assert "grouped by depth" in text


# --- Jupyter -----------------------------------------------------------------------------------


@pytest.mark.parametrize("renderer", ["dot", "pygraphviz"])
def test_drawing_displays_inline_through_each_renderer(monkeypatch, renderer):
    if not RENDERER_PRESENT[renderer] and not ON_CI:  # CI installs both: there, fail instead
        pytest.skip(f"renderer {renderer!r} is not installed")
    monkeypatch.setenv(backends.ENV_VAR, renderer)
    if renderer == "pygraphviz":
        monkeypatch.setenv("PATH", "")  # prove that no system `dot` is involved
    _, _, y = design_example()
    drawing = viz.draw(y)
    bundle = drawing._repr_mimebundle_()
    assert list(bundle) == ["image/svg+xml"] and "<svg" in bundle["image/svg+xml"]
    png = drawing._repr_mimebundle_(include=["image/png"])
    assert png["image/png"].startswith(SIGNATURES["png"])
    assert drawing._repr_mimebundle_(include=["image/svg+xml"], exclude=["image/svg+xml"]) == {}


def test_drawing_without_renderer_shows_the_hint_in_jupyter(no_dot, no_pygraphviz):
    _, _, y = design_example()
    bundle = viz.draw(y)._repr_mimebundle_()
    assert list(bundle) == ["text/plain"] and "pip install pygraphviz" in bundle["text/plain"]
