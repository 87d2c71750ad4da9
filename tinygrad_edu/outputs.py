"""Where output goes: one check of an output folder and of a bare file name, for every writer.

Every command-line subcommand writes into ``--out DIR``; ``graph`` and ``viewer`` also take
``--name`` (the file name without its suffix). Both are checked here, once, before any long
work starts, so every command refuses the same input with the same message:

* :func:`output_folder` creates the folder and proves it can be written to (a probe file),
  which also works for root, for whom permission bits do not apply (a read-only file system,
  ``/proc`` or ``/sys`` still refuse);
* :func:`file_name` accepts a plain file name only: no folder separators (``/``, ``\\``), no
  ``.``/``..``, no drive (``C:x``), no control characters, and short enough for the file system
  — so ``--name ../../x``, ``--name sub/x`` and ``--name /tmp/x`` cannot write outside ``--out``.

Both raise typed errors (:class:`~tinygrad_edu.errors.OutputPathError`,
:class:`~tinygrad_edu.errors.OutputNameError`) whose message starts with the option or function
the user gave (``who``), so the command line prints them as one line and exits with status 2.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import IO, Any

from .errors import OutputNameError, OutputPathError

__all__ = ["output_folder", "file_name", "write_atomically", "MAX_NAME_BYTES", "LONGEST_SUFFIX"]

#: The longest suffix a writer adds to a ``--name`` (``viewer`` writes ``NAME.html``).
LONGEST_SUFFIX = ".html"
#: File names are at most 255 bytes on the common file systems (ext4, APFS, NTFS in UTF-16
#: units); a name plus the suffix added to it must fit.
MAX_NAME_BYTES = 255 - len(LONGEST_SUFFIX)


def file_name(text: Any, who: str = "--name") -> str:
    """``text`` if it is a plain file name (no folders), else :class:`OutputNameError`.

    The folder is always the output folder; a name that points elsewhere is refused rather
    than silently reduced to its last part, so the file is written where the user expects it.
    """
    if not isinstance(text, str):
        raise OutputNameError(f"{who}: a file name must be a str, got {type(text).__name__}")
    if not text.strip():
        raise OutputNameError(f"{who}: a file name is needed, got {text!r}")
    control = [c for c in text if ord(c) < 32 or ord(c) == 127]
    if control:
        raise OutputNameError(f"{who}: a file name without control characters is needed, got {text!r}")
    plain = text not in (".", "..") and PurePosixPath(text).name == text == PureWindowsPath(text).name
    if not plain or "/" in text or "\\" in text:
        raise OutputNameError(
            f"{who}: a file name without folders is needed (the folder is --out), got {text!r}"
        )
    size = len(text.encode("utf-8", "surrogateescape"))
    if size > MAX_NAME_BYTES:
        raise OutputNameError(
            f"{who}: the file name is {size} bytes long; at most {MAX_NAME_BYTES} fit "
            f"(with its suffix, such as {LONGEST_SUFFIX})"
        )
    return text


def output_folder(out: Any, who: str = "--out") -> Path:
    """Create the folder ``out`` (with its parents) and prove a file can be written into it.

    Raises:
        TypeError: ``out`` is not a str or path-like.
        OutputPathError: ``out`` (or a part of it) is a file, it cannot be created, or a file
            cannot be written into it; the message names ``out`` and the reason.
    """
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"{who}: a folder must be a str or os.PathLike, got {type(out).__name__}")
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise OutputPathError(f"{who} {str(out)!r} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise OutputPathError(f"{who} {str(out)!r}: a part of the path is a file, not a folder") from None
    except OSError as error:
        raise OutputPathError(f"{who} {str(out)!r} cannot be created: {_reason(error)}") from None
    try:
        with tempfile.TemporaryFile(dir=path, prefix=".tinygrad-edu-write-test"):
            pass
    except OSError as error:
        raise OutputPathError(f"{who} {str(out)!r} cannot be written to: {_reason(error)}") from None
    return path


def _reason(error: OSError) -> str:
    """The operating system's reason, without the (temporary) file name it may carry."""
    return error.strerror or type(error).__name__


def write_atomically(
    target: Path, write: Callable[[IO[bytes]], Any], who: str, error: type[OutputPathError] = OutputPathError
) -> None:
    """Write ``target`` through ``write(file)`` into a temporary file beside it, then rename it.

    A failure (or an interrupt) leaves the old file, or none, never a half-written one. A
    failure of the operating system (a read-only file system, no permission — which a check of
    the folder cannot see for root —, a full disk, a name too long) raises ``error`` naming
    ``target``, never the hidden temporary file. The file gets the old file's mode, or 0644
    (``mkstemp`` makes a private one; a picture or a saved model is an ordinary file).
    """
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.chmod(tmp, target.stat().st_mode & 0o777 if target.exists() else 0o644)
        os.replace(tmp, target)
    except BaseException as failure:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(failure, OSError):
            reason = failure.strerror or type(failure).__name__
            raise error(f"{who}: cannot write {str(target)!r}: {reason}") from None
        raise
