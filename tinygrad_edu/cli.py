"""The ``tinygrad-edu`` command (also ``python -m tinygrad_edu``)."""

from __future__ import annotations

import argparse
import sys

from .graph import trace
from .scalar import Value


def worked_example() -> str:
    """The worked chain-rule example: a tiny neuron and every path product, as text."""
    x = Value(0.5, label="x")
    w = Value(-1.5, label="w")
    b = Value(0.8, label="b")
    h = (w * x + b).sigmoid()
    h.label = "h"
    L = (h * h).tanh()
    L.label = "L"
    L.backward()
    g = trace(L)
    lines = ["L = tanh(h·h), h = σ(w·x + b) with x=0.5, w=−1.5, b=0.8", ""]
    for leaf in (w, x, b):
        lines.append(g.chain_rule_text(leaf))
        lines.append("")
    return "\n".join(lines).rstrip()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tinygrad-edu",
        description="See gradients vanish or explode: autodiff with every chain-rule product visible.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("demo", help="print the worked chain-rule example")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "demo":
        print(worked_example())
    return 0


if __name__ == "__main__":
    sys.exit(main())
