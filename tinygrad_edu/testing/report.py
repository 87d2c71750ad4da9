"""What :func:`~tinygrad_edu.testing.gradcheck` found, as data.

A :class:`GradcheckReport` holds one :class:`InputCheck` per checked input: the worst entry of
that input's comparison, with the analytic value (from ``backward()``), the numeric value (from
central finite differences), their difference and the tolerance it was held to. When a check
fails, :class:`GradcheckError` carries the report and a message naming every failing input.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import TinygradEduError
from ..formatting import short_number


class GradcheckError(TinygradEduError, AssertionError):
    """``gradcheck`` found an analytic gradient that disagrees with finite differences.

    The message names every failing input (position and label), the worst element, the analytic
    and numeric values and their difference. ``report`` holds the full :class:`GradcheckReport`.
    It is an ``AssertionError``, so inside a test it reads as a failed assertion.
    """

    def __init__(self, message: str, report: GradcheckReport):
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class InputCheck:
    """The result of checking one input of ``gradcheck``.

    Attributes:
        position: the input's position in ``gradcheck(fn, *inputs)``.
        label: the input's ``label`` ("" if none).
        shape: the input's shape (``()`` for a ``Value``).
        ok: whether every compared entry satisfied ``|analytic − numeric| ≤ atol + rtol·|numeric|``.
        max_abs_error: the largest ``|analytic − numeric|`` over the compared entries.
        max_rel_error: the largest ``|analytic − numeric| / |numeric|`` (inf when numeric is 0).
        index: the worst element of the input (``()`` for a scalar; None when the fast mode could
            not pin the failure on one element).
        output_index: in full mode, the output element of the worst Jacobian entry
            ∂out[output_index]/∂input[index] (``()`` for a scalar output); None in fast mode.
        analytic: the analytic value of the worst entry.
        numeric: the finite-difference value of the worst entry.
        tolerance: ``atol + rtol·|numeric|`` at the worst entry.
        quantity: what was compared: ``"∂out[k]/∂x[j]"`` (full), ``"uᵀJv"`` (fast projection)
            or ``"(uᵀJ)[j]"`` (fast mode, localized to an element).
    """

    position: int
    label: str
    shape: tuple
    ok: bool
    max_abs_error: float
    max_rel_error: float
    index: tuple | None
    output_index: tuple | None
    analytic: float
    numeric: float
    tolerance: float
    quantity: str

    @property
    def difference(self) -> float:
        """``analytic − numeric`` at the worst entry."""
        return self.analytic - self.numeric

    def describe(self) -> str:
        """One line: which input, which element, analytic vs numeric and by how much."""
        name = f"input {self.position}" + (f" {self.label!r}" if self.label else "")
        where = f"element {self.index}" if self.index is not None else "no single element"
        if self.output_index is not None:
            where += f" (output element {self.output_index})"
        verdict = "ok" if self.ok else "MISMATCH"
        # analytic and numeric in 10 digits: where they differ must show even when 3 digits agree
        return (
            f"{name} shape {self.shape}, {where}, {self.quantity}: analytic {self.analytic:.10g} vs "
            f"numeric {self.numeric:.10g}, difference {short_number(self.difference)} "
            f"({'≤' if self.ok else '>'} tolerance {short_number(self.tolerance)}) — {verdict}"
        )


@dataclass(frozen=True)
class GradcheckReport:
    """What ``gradcheck`` found. ``bool(report)`` is ``report.ok``.

    Attributes:
        ok: every checked input passed.
        mode: the mode that ran, ``"full"`` or ``"fast"``.
        inputs: one :class:`InputCheck` per checked input (inputs held fixed are not listed).
        eps, atol, rtol: the settings used.
    """

    ok: bool
    mode: str
    inputs: tuple[InputCheck, ...]
    eps: float
    atol: float
    rtol: float

    def __bool__(self) -> bool:
        return self.ok

    @property
    def failures(self) -> tuple[InputCheck, ...]:
        """The inputs that failed."""
        return tuple(check for check in self.inputs if not check.ok)

    def __str__(self) -> str:
        head = (
            f"gradcheck {'passed' if self.ok else 'FAILED'} ({self.mode} mode, eps={self.eps:g}, "
            f"atol={self.atol:g}, rtol={self.rtol:g})"
        )
        return "\n".join([head] + ["  " + check.describe() for check in self.inputs])


def failure_message(report: GradcheckReport) -> str:
    """The message of :class:`GradcheckError`: the settings, then one line per failing input."""
    failures = report.failures
    lines = [
        f"gradcheck failed ({report.mode} mode, eps={report.eps:g}, atol={report.atol:g}, "
        f"rtol={report.rtol:g}): the analytic gradient disagrees with central finite differences "
        f"for {len(failures)} input(s)"
    ]
    lines += ["  " + check.describe() for check in failures]
    return "\n".join(lines)
