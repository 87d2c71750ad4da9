"""The ``tinygrad-edu`` command (also ``python -m tinygrad_edu``).

Subcommands::

    tinygrad-edu demo                       # deep sigmoid vs deep ReLU: graphs, chart, table
    tinygrad-edu graph "tanh(w*x + b)" --set x=0.5 --set w=-1.5 --set b=0.8
    tinygrad-edu experiment list            # the classic experiments
    tinygrad-edu experiment nielsen [--json] [--quick]
    tinygrad-edu viewer --demo chain         # step through backward in the browser
    tinygrad-edu torch model.py:make_model_and_loss   # draw and diagnose a PyTorch model

Every subcommand takes ``--seed N`` and ``--out DIR`` (pictures; default ``out/``). Progress on
long work goes to stderr, so ``--json`` output on stdout stays machine-readable. Bad input
(arguments, expressions, experiment names, an output directory that cannot be written, a
``--name`` with folders in it — one check for every command, :mod:`tinygrad_edu.outputs`) prints
one message on stderr and exits with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import experiments
from .errors import OutputNameError, OutputPathError, PathLimitError, TinygradEduError
from .experiments.common import stderr_progress
from .expr import FUNCTIONS, ExpressionError, normalize_name, parse, parse_assignments
from .formatting import short_number
from .graph import trace
from .outputs import file_name, output_folder

PROG = "tinygrad-edu"
FORMATS = ("svg", "png", "pdf", "dot")
EXIT_USAGE = 2  # bad arguments or input, as argparse uses
EXIT_FAILURE = 1  # the work itself failed (e.g. no Graphviz renderer)


class UsageError(TinygradEduError, ValueError):
    """Bad command-line input found after argument parsing (e.g. an unwritable ``--out``)."""


def worked_example() -> str:
    """The worked chain-rule example: a tiny neuron and every path product, as text."""
    from .experiments.demo import worked_neuron

    L, leaves = worked_neuron()
    g = trace(L)
    lines = ["L = tanh(h·h), h = σ(w·x + b) with x=0.5, w=−1.5, b=0.8", ""]
    for name in ("w", "x", "b"):
        lines.append(g.chain_rule_text(leaves[name]))
        lines.append("")
    return "\n".join(lines).rstrip()


# --- argument parsing ------------------------------------------------------------------


def _seed(text: str) -> int:
    """``--seed``: a whole number ≥ 0 (numpy's generators refuse negative seeds)."""
    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if seed < 0:
        raise argparse.ArgumentTypeError(f"must be ≥ 0, got {seed}")
    return seed


def name_argument(text: str) -> str:
    """``--name`` of every subcommand that takes one: :func:`tinygrad_edu.outputs.file_name`."""
    try:
        return file_name(text, who="--name")
    except OutputNameError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix("--name: ")) from None


def _common() -> argparse.ArgumentParser:
    """Options every subcommand takes."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--seed", type=_seed, default=0, help="random seed, ≥ 0 (default: 0)")
    common.add_argument(
        "--out",
        default="out",
        metavar="DIR",
        help="directory for pictures (default: out/; created if needed)",
    )
    common.add_argument("--quiet", action="store_true", help="no progress messages on stderr")
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="See gradients vanish or explode: autodiff with every chain-rule product visible.",
        epilog=f"Run '{PROG} COMMAND --help' for the options of a command.",
    )
    from . import __version__

    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _common()

    demo = sub.add_parser(
        "demo",
        parents=[common],
        help="deep sigmoid vs deep ReLU: graphs, gradient-flow chart, σ' chain, per-layer table",
        description="The main job: an 8-layer sigmoid MLP and an 8-layer ReLU MLP on the same data. "
        "Writes their annotated graphs (grouped by layer), the gradient-flow chart and a chain of "
        "sigmoids whose every edge shows σ' ≤ 0.25 into --out, and prints the worked chain-rule "
        "example and a per-layer gradient table.",
    )
    demo.add_argument("--quick", action="store_true", help="smaller nets, fewer pictures (for tests)")

    graph = sub.add_parser(
        "graph",
        parents=[common],
        help="draw the graph of a scalar expression after backward",
        description="Parse a scalar expression safely (no eval), run backward, draw the graph with "
        "every edge labelled by its local derivative, and print the chain rule for each variable. "
        "Functions: " + ", ".join(sorted(FUNCTIONS)) + ".",
        epilog='example: tinygrad-edu graph "tanh(w*x + b)" --set x=0.5 --set w=-1.5 --set b=0.8',
    )
    graph.add_argument("expression", metavar="EXPR", help='e.g. "sigmoid(x)**2 / (1 + exp(-y))"')
    graph.add_argument(
        "--set",
        dest="values",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="value of a variable (repeat for each variable)",
    )
    graph.add_argument("--wrt", action="append", metavar="NAME", help="only these variables' chain rule")
    graph.add_argument(
        "--ops",
        action="append",
        default=[],
        metavar="FILE.py",
        help="a Python file declaring ops with tinygrad_edu.op(..., expression=True), so the "
        "expression can call them (repeatable)",
    )
    graph.add_argument("--format", choices=FORMATS, default="svg", help="picture format (default: svg)")
    graph.add_argument(
        "--name", type=name_argument, default="graph", help="file name without suffix (default: graph)"
    )

    experiment = sub.add_parser(
        "experiment",
        parents=[common],
        help="run a classic experiment ('experiment list' lists them)",
        description="Run one of the classic experiments: prints its table, writes its pictures into "
        "--out; with --json prints only the measured numbers as JSON on stdout. Experiments: "
        + ", ".join(experiments.names())
        + ".",
    )
    experiment.add_argument("name", nargs="?", metavar="NAME", help="experiment name, or 'list'")
    experiment.add_argument("--list", action="store_true", help="list the experiments and exit")
    experiment.add_argument("--json", action="store_true", help="print only the measured numbers, as JSON")
    experiment.add_argument("--quick", action="store_true", help="a smaller, faster version (seconds)")
    experiment.add_argument("--no-pictures", action="store_true", help="measure only, write no files")

    from viz.viewer import add_viewer_arguments  # the viewer lives in viz; the engine never needs it

    add_viewer_arguments(
        sub.add_parser(
            "viewer",
            parents=[common],
            help="step through backprop in the browser (one self-contained HTML file)",
        )
    )
    from viz.torch_command import add_torch_arguments

    add_torch_arguments(
        sub.add_parser("torch", parents=[common], help="draw and diagnose a PyTorch model from your script")
    )
    return parser


# --- commands ----------------------------------------------------------------------------


def _output_dir(out: str) -> Path:
    """Create ``out`` and prove it can be written to, before any long work starts."""
    return output_folder(out, who="--out")


def _progress(args: argparse.Namespace, prefix: str):
    return None if args.quiet else stderr_progress(prefix)


def cmd_demo(args: argparse.Namespace) -> int:
    from .experiments import demo

    out = _output_dir(args.out)
    report = demo.run(seed=args.seed, quick=args.quick, out=out, progress=_progress(args, "demo"))
    print(demo.text(report))
    print()
    print("The chain rule, worked by hand on one neuron:")
    print(worked_example())
    return 0


def load_ops(files: list[str]) -> None:
    """Run each ``--ops`` file, so that the ops it declares with ``expression=True`` exist."""
    import runpy

    for name in files:
        path = Path(name)
        if path.suffix != ".py" or not path.is_file():
            raise UsageError(
                f"--ops {name}: not a Python file (give the path of a .py file that declares ops)"
            )
        try:
            runpy.run_path(str(path), run_name="__tinygrad_edu_ops__")
        except TinygradEduError as error:
            raise UsageError(f"--ops {name}: {error}") from None


def cmd_graph(args: argparse.Namespace) -> int:
    load_ops(args.ops)
    expression = parse(args.expression)
    values = parse_assignments(args.values)
    wrt = [normalize_name(name) for name in args.wrt] if args.wrt else list(expression.variables)
    unknown = [name for name in wrt if name not in expression.variables]
    if unknown:
        raise ExpressionError(
            f"--wrt {', '.join(unknown)}: not a variable of the expression "
            f"(its variables: {', '.join(expression.variables) or 'none'})"
        )
    out = _output_dir(args.out)
    root, leaves = expression.build(values, label="f")
    root.backward()
    graph = trace(root)

    print(f"f = {expression.source}")
    if values:
        print("with " + ", ".join(f"{name} = {short_number(values[name])}" for name in expression.variables))
    print(f"f = {short_number(root.data)}")
    for name in wrt:
        print()
        try:
            print(graph.chain_rule_text(leaves[name]))
        except PathLimitError as error:
            print(
                f"df/d{name} = {short_number(leaves[name].grad)}    ({error.count} paths: too many to list)"
            )

    path = out / f"{args.name}.{args.format}"
    import viz

    viz.render(root, path)
    print(f"\nwrote {path}")
    return 0


def cmd_experiment(args: argparse.Namespace) -> int:
    if args.list or args.name == "list":
        if args.json:
            listing = [{"name": name, "title": title} for name, title in experiments.REGISTRY.items()]
            print(json.dumps(listing, indent=2, ensure_ascii=False))
            return 0
        width = max(len(name) for name in experiments.REGISTRY)
        for name, title in experiments.REGISTRY.items():
            print(f"{name.ljust(width)}  {title}")
        return 0
    if args.name is None:
        raise UsageError(f"give an experiment NAME; known experiments: {', '.join(experiments.names())}")
    module = experiments.load(args.name)  # UnknownExperiment → exit 2
    out = None if args.no_pictures else _output_dir(args.out)
    before = _files_in(out)
    progress = _progress(args, args.name)
    result = module.run(seed=args.seed, quick=args.quick, out=out, progress=progress)
    written = sorted(path for path, stamp in _files_in(out).items() if before.get(path) != stamp)
    if args.json:
        print(json.dumps(result, indent=2))
        if written and not args.quiet:  # stdout stays one JSON object; the paths go to stderr
            print(f"[{args.name}] wrote " + ", ".join(str(path) for path in written), file=sys.stderr)
    else:
        print(module.table(result))
        if written:
            print("\n".join(["", "wrote:"] + [f"  {path}" for path in written]))
    return 0


def _files_in(folder: Path | None) -> dict[Path, tuple[int, int, int]]:
    """The files directly in ``folder`` with (inode, size, mtime): what a run wrote is what changed
    (every picture is written to a new file and moved into place, so even an identical rewrite
    shows)."""
    if folder is None:
        return {}
    stamps = {}
    for path in folder.iterdir():
        try:
            info = path.stat()
        except OSError:
            continue
        if path.is_file() and not path.name.startswith("."):
            stamps[path] = (info.st_ino, info.st_size, info.st_mtime_ns)
    return stamps


def cmd_viewer(args: argparse.Namespace) -> int:
    from viz.viewer import run_viewer_command

    _output_dir(args.out)  # same check and message as every other subcommand
    return run_viewer_command(args)


def cmd_torch(args: argparse.Namespace) -> int:
    from viz.torch_command import run_torch_command

    _output_dir(args.out)
    return run_torch_command(args)


COMMANDS = {
    "demo": cmd_demo,
    "graph": cmd_graph,
    "experiment": cmd_experiment,
    "viewer": cmd_viewer,
    "torch": cmd_torch,
}


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status (0 ok, 2 bad input, 1 failure)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse has printed usage (or --help) already
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    try:
        return COMMANDS[args.command](args)
    except (
        ExpressionError,
        UsageError,
        OutputNameError,
        OutputPathError,  # also viz's, which subclasses it
        experiments.UnknownExperiment,
    ) as error:
        print(f"{PROG} {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except TinygradEduError as error:  # e.g. no Graphviz renderer installed
        print(f"{PROG} {args.command}: error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except ImportError as error:
        print(f"{PROG} {args.command}: error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `tinygrad-edu experiment list | head -1`: the reader left early
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that Python's exit-time flush stays quiet
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
