"""The package's layering, read from its source with ``ast``: no import cycle, no private import.

* No import cycle among the modules of ``tinygrad_edu`` (nor of ``viz``): a module-level
  ``import``/``from … import`` is an edge; imports inside functions (deferred on purpose, e.g.
  an optional dependency) and under ``if TYPE_CHECKING:`` are not, since they run after both
  modules exist.
* No module imports another module's underscore name (``from .tensor import _new``): what is
  shared gets a public name.
* The engine never imports ``viz``.
* ``Value`` and ``Tensor`` have the node contract (:class:`tinygrad_edu.node.Node`).
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from tinygrad_edu import Tensor, Value
from tinygrad_edu.node import Node

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("tinygrad_edu", "viz")

#: Known exceptions, each with its reason.
#: The diagnostics thresholds are read from the package at call time (documented: assigning
#: ``diagnostics.VANISHING_RATIO`` takes effect), so judge and measure import their own package,
#: which defines the thresholds before it imports them: a package ↔ its own submodule.
ALLOWED_EDGES = {
    ("tinygrad_edu.diagnostics.judge", "tinygrad_edu.diagnostics"),
    ("tinygrad_edu.diagnostics.measure", "tinygrad_edu.diagnostics"),
}
#: None: node construction is public (``tensor.apply``, issue 13) and the losses use it.
ALLOWED_PRIVATE: set[str] = set()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute module a ``from … import`` names (relative levels resolved)."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def top_level_imports(tree: ast.Module):
    """Import statements that run at import time (not in a def, not under ``if TYPE_CHECKING``)."""

    def walk(body):
        for statement in body:
            if isinstance(statement, (ast.Import, ast.ImportFrom)):
                yield statement
            elif isinstance(statement, ast.If):
                test = ast.unparse(statement.test)
                if "TYPE_CHECKING" not in test:
                    yield from walk(statement.body)
                    yield from walk(statement.orelse)
            elif isinstance(statement, ast.Try):
                yield from walk(statement.body)
                for handler in statement.handlers:
                    yield from walk(handler.body)
                yield from walk(statement.orelse)
                yield from walk(statement.finalbody)
            elif isinstance(statement, ast.ClassDef):
                yield from walk(statement.body)

    yield from walk(tree.body)


def import_graph() -> tuple[dict[str, set[str]], list[str]]:
    """``{module: modules it imports at load time}`` and the private imports found."""
    known = modules()
    edges: dict[str, set[str]] = {name: set() for name in known}
    private = []
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for statement in ast.walk(tree):  # private names: anywhere, deferred imports included
            if isinstance(statement, ast.ImportFrom) and statement.module != "__future__":
                target = resolve(name, path, statement)
                if target.split(".")[0] in PACKAGES and target != name:
                    for alias in statement.names:
                        if alias.name.startswith("_") and not alias.name.startswith("__"):
                            private.append(f"{name}: from {target} import {alias.name}")
        for statement in top_level_imports(tree):
            if isinstance(statement, ast.Import):
                targets = [alias.name for alias in statement.names]
            else:
                base = resolve(name, path, statement)
                # `from . import x` imports the submodule x when there is one
                targets = [
                    f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in statement.names
                ]
            for target in targets:
                while target and target not in known:  # `import a.b.c` loads a, a.b, a.b.c
                    target = target.rpartition(".")[0]
                if target and target != name and (name, target) not in ALLOWED_EDGES:
                    edges[name].add(target)
    return edges, private


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as ``[a, b, …, a]``, or None (iterative depth-first search)."""
    colour = dict.fromkeys(edges, 0)  # 0 unseen, 1 on the stack, 2 done
    for start in edges:
        if colour[start]:
            continue
        stack = [(start, iter(sorted(edges[start])))]
        colour[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node] = 2
                stack.pop()
            elif colour[child] == 1:
                path = [n for n, _ in stack]
                return path[path.index(child) :] + [child]
            elif colour[child] == 0:
                colour[child] = 1
                stack.append((child, iter(sorted(edges[child]))))
    return None


def test_the_checker_finds_a_cycle_and_resolves_relative_imports():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None
    tree = ast.parse("from ..graph import norm\nfrom . import style")
    first, second = tree.body
    assert resolve("tinygrad_edu.diagnostics.measure", ROOT / "x.py", first) == "tinygrad_edu.graph"
    assert resolve("viz", ROOT / "viz" / "__init__.py", second) == "viz"
    edges, _ = import_graph()
    assert "tinygrad_edu.numerics" in edges["tinygrad_edu.graph"]  # a known edge is seen


def test_no_import_cycle_in_the_package():
    edges, _ = import_graph()
    assert find_cycle(edges) is None, " → ".join(find_cycle(edges) or [])


def test_no_module_imports_another_modules_private_names():
    _, private = import_graph()
    assert [p for p in private if p not in ALLOWED_PRIVATE] == []


def test_the_engine_never_imports_viz_at_load_time():
    """The engine imports without viz; only the CLI and the demo draw, importing viz when asked."""
    for path in (ROOT / "tinygrad_edu").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for statement in top_level_imports(tree):
            names = []
            if isinstance(statement, ast.Import):
                names = [a.name for a in statement.names]
            elif isinstance(statement, ast.ImportFrom) and not statement.level:
                names = [statement.module or ""]
            assert not any(n == "viz" or n.startswith("viz.") for n in names), path


@pytest.mark.parametrize(
    "node",
    [Value(2.0) * Value(3.0), Tensor(np.ones(3), requires_grad=True).sigmoid(), Value(1.0)],
    ids=["Value op", "Tensor op", "Value leaf"],
)
def test_value_and_tensor_have_the_node_contract(node):
    assert isinstance(node, Node)
    assert len(node.local_grads) == len(node.parents)
    assert node.grad is node.NO_GRAD or node.grad == node.NO_GRAD


#: Where a node's recorded edges may be written. ``fill_node`` is the one place a node is made;
#: the torch bridge builds adapters of a graph torch recorded and links each to its parents once
#: all of them exist (its second pass), which is wiring someone else's graph, not making a node.
EDGE_WRITERS = {"tinygrad_edu.node", "tinygrad_edu.torch_bridge.trace"}


def edge_assignments(tree: ast.Module) -> list[int]:
    """Lines that assign ``<something>.parents`` or ``<something>.local_grads``."""
    lines = []
    for statement in ast.walk(tree):
        targets = []
        if isinstance(statement, ast.Assign):
            targets = statement.targets
        elif isinstance(statement, (ast.AnnAssign, ast.AugAssign)):
            targets = [statement.target]
        for target in targets:
            for item in target.elts if isinstance(target, ast.Tuple) else [target]:
                if isinstance(item, ast.Attribute) and item.attr in ("parents", "local_grads"):
                    lines.append(statement.lineno)
    return lines


def test_the_checker_finds_an_edge_assignment():
    tree = ast.parse("node = new()\nnode.parents = (a,)\nnode.local_grads, x = (1.0,), 2\n")
    assert edge_assignments(tree) == [2, 3]


def test_only_fill_node_fills_a_nodes_slots():
    found = {}
    for module, path in modules().items():
        lines = edge_assignments(ast.parse(path.read_text(encoding="utf-8")))
        if lines and module not in EDGE_WRITERS:
            found[module] = lines
    assert found == {}, f"nodes must be made with tinygrad_edu.node.fill_node: {found}"


@pytest.mark.parametrize(
    "make",
    [
        lambda: Value(2.0),
        lambda: Value(2.0) * 3,
        lambda: Tensor(np.ones(2)),
        lambda: Tensor(np.ones(2), requires_grad=True) + 1.0,
        lambda: Tensor(np.ones(2), requires_grad=True).detach(),
    ],
    ids=["Value leaf", "Value op", "Tensor leaf", "Tensor op", "detach"],
)
def test_every_slot_is_filled(make):
    """A node made by any path has every slot of the contract (no AttributeError later)."""
    node = make()
    for slot in ("data", "grad", "parents", "local_grads", "op", "label", "arg", "scope", "requires_grad"):
        getattr(node, slot)
