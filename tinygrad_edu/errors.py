"""Typed errors: every one says which op, which shapes or which value went wrong.

They subclass the built-in exception a Python user would expect (``TypeError``,
``ValueError``, ``FloatingPointError``), so ``except ValueError`` keeps working.
"""

from __future__ import annotations


class TinygradEduError(Exception):
    """Base class of every error raised on purpose by tinygrad_edu."""


class ShapeError(TinygradEduError, ValueError):
    """Operands whose shapes do not fit the op (names the op and both shapes)."""


class GradError(TinygradEduError, ValueError):
    """A ``backward()`` that cannot run: missing or badly shaped seed gradient."""


class GradShapeError(GradError, ShapeError):
    """A backward edge whose contribution ``local × upstream`` has not its parent's shape.

    Attributes:
        op: the child's op; index: which operand; shape: the contribution's; expected: the parent's.
    """

    def __init__(self, message: str, op: str, index: int, shape: tuple | None, expected: tuple):
        super().__init__(message)
        self.op = op
        self.index = index
        self.shape = shape
        self.expected = expected


class AnomalyError(TinygradEduError, FloatingPointError):
    """Raised inside ``detect_anomaly()`` at the first non-finite value.

    Attributes:
        op: the op that produced the value.
        phase: ``"forward"`` or ``"backward"``.
    """

    def __init__(self, message: str, op: str, phase: str):
        super().__init__(message)
        self.op = op
        self.phase = phase


class PathLimitError(TinygradEduError, ValueError):
    """Path enumeration refused: more root→leaf paths than the given limit."""

    def __init__(self, message: str, count: int, limit: int):
        super().__init__(message)
        self.count = count
        self.limit = limit


class OutputPathError(TinygradEduError, OSError):
    """An output path that cannot be written: a missing folder, a file where a folder is needed
    (or the reverse), no permission, a file system that refuses the file. Names the user's path."""


class OutputNameError(TinygradEduError, ValueError):
    """A file name (``--name``) that is not a plain name: folders, ``..``, an absolute path."""


class LoadError(TinygradEduError, ValueError):
    """A file that cannot be loaded: not a saved state, damaged, or holding numbers that cannot
    be loaded (nan/inf, non-numeric). Names the file and what is wrong with it.

    Attributes:
        path: the file (as given, after the ``.npz`` suffix rule of ``Module.save``).
    """

    def __init__(self, message: str, path: str = ""):
        super().__init__(message)
        self.path = path


class OpError(TinygradEduError, ValueError):
    """A user op (:func:`tinygrad_edu.op`) declared or used wrongly: a bad declaration, a name
    registered twice or taken by a built-in, or a result with the wrong number of local
    derivatives. Names the op.

    Attributes:
        op: the op's name.
    """

    def __init__(self, message: str, op: str = ""):
        super().__init__(message)
        self.op = op


class TorchUnavailable(TinygradEduError, ImportError):
    """The PyTorch bridge was used but torch is not installed (says how to install it)."""


class TorchGraphError(TinygradEduError, ValueError):
    """A torch loss or model the bridge cannot draw truthfully (says what is wrong and what to do)."""
