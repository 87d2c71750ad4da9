"""Typed errors of the picture package.

Each subclasses :class:`tinygrad_edu.errors.TinygradEduError` *and* the built-in exception a
Python user would catch (``ValueError``, ``RuntimeError``, ``OSError``), so both
``except TinygradEduError`` and ``except ValueError`` keep working.
"""

from __future__ import annotations

from tinygrad_edu import errors as engine_errors
from tinygrad_edu.errors import TinygradEduError


class VizError(TinygradEduError):
    """Base class of every error raised on purpose by :mod:`viz`."""


class RendererNotFound(VizError, RuntimeError):
    """Neither the system ``dot`` executable nor the ``pygraphviz`` package is available.

    DOT text (``viz.draw(y).source`` or ``viz.render(y, "y.dot")``) still works without them.
    """


class RenderError(VizError, RuntimeError):
    """Graphviz ran but failed (or took longer than the time limit)."""


class UnsupportedFormat(VizError, ValueError):
    """An output path whose suffix is not one of the formats viz writes."""


class OutputPathError(VizError, engine_errors.OutputPathError):
    """An output path that cannot be written (missing folder, a directory, no permission, a file
    system that refuses the file). The engine's :class:`tinygrad_edu.errors.OutputPathError`
    (raised by ``Module.save`` and the command line) is its base class, so one ``except`` catches
    both."""


class GraphTooLarge(VizError, ValueError):
    """A drawing that would hand Graphviz more nodes than ``max_nodes`` with grouping turned off."""


class ChartsUnavailable(VizError, RuntimeError):
    """The gradient-flow chart needs matplotlib, which is not installed."""
