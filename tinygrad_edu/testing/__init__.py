"""Testing tools (being split into modules; see check.py for now)."""

from .check import *  # noqa: F403
from .check import __all__  # noqa: F401
