"""``tinygrad-edu torch SCRIPT.py:FUNCTION``: draw and diagnose the backward graph of a user's torch model.

``FUNCTION`` (no arguments) returns ``(model, loss)``: the ``torch.nn.Module`` and either a
zero-argument callable that computes the scalar loss (preferred: the forward then runs inside
:func:`tinygrad_edu.torch_scopes`, so the picture groups by module, and the diagnostics watch
it) or the loss tensor itself (grouped by parameter ownership, no verdict). Example script::

    import torch
    from torch import nn

    def make_model_and_loss():
        model = nn.Sequential(nn.Linear(8, 16), nn.Sigmoid(), nn.Linear(16, 2))
        x, y = torch.randn(32, 8), torch.randint(0, 2, (32,))
        return model, lambda: nn.functional.cross_entropy(model(x), y)

The picture goes to ``--out`` as ``NAME.FORMAT``; the layers (``Graph.layers()``: ‖∂L/∂out‖,
gain, ‖∂L/∂W‖ per module call) and the diagnosis are printed. :func:`add_torch_arguments` and
:func:`run_torch_command` plug into the main command line (``tinygrad_edu.cli``).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any

from tinygrad_edu.errors import TinygradEduError
from tinygrad_edu.formatting import MISSING, optional_number, short_number

from .output import render

PROG = "tinygrad-edu torch"
EXIT_USAGE = 2
EXIT_FAILURE = 1
FORMATS = ("svg", "png", "pdf", "dot")


class TorchCommandError(TinygradEduError, ValueError):
    """A script target that cannot be loaded or that returns the wrong thing."""


def add_torch_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.description = (
        "Load SCRIPT.py, call FUNCTION() → (model, loss or zero-argument loss function), run the "
        "backward with hooks and draw it: every edge with the gradient that flowed and its gain, "
        "grouped by module; print the per-module gradient norms and the diagnosis."
    )
    parser.add_argument("target", metavar="SCRIPT.py:FUNCTION", help="e.g. model.py:make_model_and_loss")
    parser.add_argument("--format", choices=FORMATS, default="svg", help="picture format (default: svg)")
    parser.add_argument(
        "--name", default="torch_graph", help="file name without suffix (default: torch_graph)"
    )
    parser.add_argument(
        "--group", choices=("auto", "scope", "depth"), default="auto", help="grouping (default: auto)"
    )
    return parser


def load_target(target: str) -> Any:
    """The function ``FUNCTION`` of ``SCRIPT.py`` (the script runs as a module named after its file)."""
    path_text, sep, name = target.rpartition(":")
    if not sep or not path_text or not name:
        raise TorchCommandError(f"expected SCRIPT.py:FUNCTION, got {target!r}")
    path = Path(path_text)
    if path.suffix != ".py" or not path.is_file():
        raise TorchCommandError(f"{path_text!r} is not a Python file")
    spec = importlib.util.spec_from_file_location(f"_tinygrad_edu_torch_{path.stem}", path)
    if spec is None or spec.loader is None:  # never for an existing .py file; checked for the types
        raise TorchCommandError(f"{path_text!r} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.resolve().parent))  # the script may import its neighbours
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.pop(0)
    function = getattr(module, name, None)
    if not callable(function):
        raise TorchCommandError(f"{path_text} has no function {name!r}")
    return function


def layer_table(graph: Any) -> str:
    """``Graph.layers()`` as a table: per layer ‖∂L/∂out‖, its gain and its parameters' gradients."""
    rows = [("layer", "‖∂L/∂out‖", "gain", "‖∂L/∂W‖")]
    for layer in graph.layers():
        weight = layer.param_grad_norms.get("weight")
        rows.append(
            (
                layer.name,
                optional_number(layer.grad_norm),
                MISSING if layer.gain is None else "×" + short_number(layer.gain),
                optional_number(weight),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["layers, input side first (gain = ‖∂L/∂in‖ ÷ ‖∂L/∂out‖, the layer's chain-rule factor):"]
    for name, *cells in rows:
        lines.append(
            "  " + name.ljust(widths[0]) + "".join("  " + c.rjust(w) for c, w in zip(cells, widths[1:]))
        )
    return "\n".join(lines)


def run_torch_command(args: argparse.Namespace) -> int:
    """Draw and diagnose the target's backward graph; return the exit status (0, 2 bad input, 1 failure)."""
    from tinygrad_edu.torch_bridge import from_torch, require_torch

    try:
        torch = require_torch()
        function = load_target(args.target)
        torch.manual_seed(getattr(args, "seed", 0))  # --seed, for scripts that draw random numbers
        made = function()
        if not (isinstance(made, tuple) and len(made) == 2 and isinstance(made[0], torch.nn.Module)):
            raise TorchCommandError(
                f"{args.target} must return (model, loss) with a torch.nn.Module first, "
                f"got {type(made).__name__}"
            )
        model, loss = made
        diagnosis = None
        if callable(loss) and not isinstance(loss, torch.Tensor):
            from tinygrad_edu.torch_bridge.diagnose import torch_layers, trace_and_diagnose

            if torch_layers(model):
                graph, diagnosis = trace_and_diagnose(model, loss)
            else:
                from tinygrad_edu.torch_bridge import torch_scopes

                with torch_scopes(model):
                    value = loss()
                graph = from_torch(value, model)
        else:
            graph = from_torch(loss, model)
        out = Path(getattr(args, "out", "out"))
        out.mkdir(parents=True, exist_ok=True)
        path = render(graph, out / f"{args.name}.{args.format}", group=args.group)
    except (TorchCommandError, TypeError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (TinygradEduError, OSError, ImportError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    ops = sum(1 for n in graph.nodes if n.kind == "op")
    print(f"{type(model).__name__}: {ops} autograd nodes, {len(graph.nodes)} nodes, {len(graph.edges)} edges")
    print(f"loss = {short_number(graph.root.data)}")
    print(layer_table(graph))
    if diagnosis is not None:
        print(diagnosis)
    print(f"wrote {path}")
    return 0
