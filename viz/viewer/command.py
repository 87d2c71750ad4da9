"""``tinygrad-edu viewer``: write the backward-pass viewer of an expression or of a demo graph.

::

    tinygrad-edu viewer "tanh(w*x + b)" --set x=0.5 --set w=-1.5 --set b=0.8
    tinygrad-edu viewer --demo chain        # 8 sigmoids in a row: the gradient shrinks edge by edge
    tinygrad-edu viewer --demo mlp          # a 2-3-3-1 sigmoid MLP and its squared error

The page is written to ``--out`` (default ``out/``) as ``NAME.html`` and opens from disk in any
browser. :func:`add_viewer_arguments` and :func:`run_viewer_command` plug into the main
command line (``tinygrad_edu.cli``) or any ``argparse`` parser.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tinygrad_edu.errors import OutputNameError, OutputPathError, TinygradEduError
from tinygrad_edu.experiments import demo
from tinygrad_edu.expr import FUNCTIONS, ExpressionError, parse, parse_assignments
from tinygrad_edu.formatting import short_number
from tinygrad_edu.outputs import file_name, output_folder
from tinygrad_edu.scalar import Value

from .page import viewer

PROG = "tinygrad-edu viewer"
EXIT_USAGE = 2
EXIT_FAILURE = 1
DEMOS = ("mlp", "chain")
CHAIN_LENGTH = 8


# --- the demo graphs ---------------------------------------------------------------------


def sigmoid_chain(length: int = CHAIN_LENGTH, x: float = 0.5) -> Value:
    """``h_k = σ(h_{k−1})`` from ``h_0 = x`` (:func:`tinygrad_edu.experiments.demo.sigmoid_chain`)."""
    return demo.sigmoid_chain(length, x)


def small_mlp(seed: int = 0) -> Value:
    """A 2-2-2-1 MLP of scalar Values (sigmoid hidden layers) and its squared error ``L = (y − 1)²``."""
    from tinygrad_edu.nn.scalar import MLP

    net = MLP(2, [2, 2, 1], activation="sigmoid", rng=seed, name="mlp")
    x = [Value(1.0, label="x0"), Value(-2.0, label="x1")]
    y = net(x)
    y.label = "y"
    loss = (y - 1.0) ** 2
    loss.label = "L"
    return loss


DEMO_TITLES = {
    "chain": f"{CHAIN_LENGTH} sigmoids in a row: every edge multiplies the gradient by σ' ≤ 0.25",
    "mlp": "A 2-2-2-1 sigmoid MLP: the gradient of L = (y − 1)² shrinks layer by layer",
}


# --- argparse glue -----------------------------------------------------------------------


def add_viewer_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``viewer`` arguments to ``parser`` (a subcommand's parser or a standalone one).

    ``--out``, ``--seed`` and ``--quiet`` are added only when the parser does not have them
    already (the main command line gives every subcommand these through a parent parser).
    """
    parser.add_argument(
        "expression", nargs="?", metavar="EXPR", help='a scalar expression, e.g. "tanh(w*x + b)"'
    )
    parser.add_argument(
        "--set",
        dest="values",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="value of a variable of EXPR (repeat for each variable)",
    )
    parser.add_argument("--demo", choices=DEMOS, help="a demo graph instead of EXPR: mlp or chain")
    parser.add_argument(
        "--name",
        type=_name_argument,
        default=None,
        help="file name without .html, no folders (default: viewer, or the demo's name)",
    )
    parser.add_argument("--title", default=None, help="the page title")
    parser.add_argument(
        "--max-nodes",
        type=int,
        default=200,
        metavar="N",
        help="above N nodes the picture is grouped by layer or depth (default: 200)",
    )
    _add_missing(parser, "--out", default="out", metavar="DIR", help="output directory (default: out/)")
    _add_missing(parser, "--seed", type=int, default=0, help="random seed of --demo mlp (default: 0)")
    _add_missing(parser, "--quiet", action="store_true", help="print nothing but errors")
    return parser


def _name_argument(text: str) -> str:
    """``--name``: the same check as every subcommand's (:func:`tinygrad_edu.outputs.file_name`)."""
    try:
        return file_name(text, who="--name")
    except OutputNameError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix("--name: ")) from None


def _add_missing(parser: argparse.ArgumentParser, flag: str, **kwargs: Any) -> None:
    try:
        parser.add_argument(flag, **kwargs)
    except argparse.ArgumentError:  # a parent parser already defines it
        pass


def run_viewer_command(args: argparse.Namespace) -> int:
    """Write the viewer page that ``args`` describe; return the exit status.

    0: written; 2: bad input (no EXPR and no --demo, both, a bad expression or --set, an
    output directory that cannot be written), with one message on stderr; 1: the work failed
    (e.g. no Graphviz renderer installed).
    """
    try:
        root, name, title = _build(args)
        out = output_folder(getattr(args, "out", "out"), who="--out")
        path = viewer(root, out / f"{file_name(name)}.html", title=title, max_nodes=args.max_nodes)
        assert isinstance(path, Path), "viewer returns the Path it wrote when given a path"
    except (ExpressionError, _UsageError, OutputPathError, ValueError, TypeError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (TinygradEduError, OSError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    if not getattr(args, "quiet", False):
        print(f"wrote {path}")
        print(f"open it in a browser: {path.resolve().as_uri()}")
    return 0


class _UsageError(ValueError):
    pass


def _build(args: argparse.Namespace) -> tuple[Value, str, str | None]:
    """The graph to show, the file name and the title."""
    if args.demo and args.expression:
        raise _UsageError("give either EXPR or --demo, not both")
    if args.demo:
        if args.values:
            raise _UsageError("--set gives values to the variables of EXPR; --demo has none")
        root = small_mlp(seed=getattr(args, "seed", 0)) if args.demo == "mlp" else sigmoid_chain()
        return root, args.name or args.demo, args.title or DEMO_TITLES[args.demo]
    if not args.expression:
        raise _UsageError(
            'give an expression (e.g. "tanh(w*x + b)" --set x=0.5 ...) or --demo '
            + "|".join(DEMOS)
            + "; functions: "
            + ", ".join(sorted(FUNCTIONS))
        )
    expression = parse(args.expression)
    values = parse_assignments(args.values)
    root, _ = expression.build(values, label="f")
    title = args.title or f"f = {expression.source}" + (
        "  with " + ", ".join(f"{v} = {short_number(values[v])}" for v in expression.variables)
        if values
        else ""
    )
    return root, args.name or "viewer", title
