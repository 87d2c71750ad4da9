"""The errors of :mod:`tinygrad_edu.theory` (typed, and ``ValueError`` s as users expect)."""

from __future__ import annotations

from ..errors import TinygradEduError


class TheoryError(TinygradEduError, ValueError):
    """Arguments the theory cannot use: a negative or non-finite variance, an activation that
    is unknown or returns nan/inf at the quadrature nodes."""


class FixedPointError(TheoryError):
    """The length map has no fixed point the iteration can reach (it cycles or diverges while
    the gradient factor keeps changing)."""
