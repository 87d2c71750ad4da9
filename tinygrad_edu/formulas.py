"""Formulas in the graph's own names: what each node is called, and each edge's local derivative.

The rule table writes its formulas with placeholders — ``mul`` says ∂(a·b)/∂a = ``b`` — but a
learner reads them next to a graph whose own variables may be called ``a`` and ``b`` in other
roles. So every text that shows a local derivative goes through :func:`edge_formula`, which
replaces each placeholder by the name of the operand it stands for:

* the edge ``w → ×`` of ``w*x`` reads ``x`` (the *other* operand), not ``b``;
* the edge ``h4 → σ`` of a sigmoid chain reads ``σ(h4)(1−σ(h4))``: that formula evaluated at
  ``h4`` is exactly the number the edge shows;
* the edge ``X → @`` of ``X @ weight`` reads ``·weightᵀ``.

Names (:func:`node_names`) are the ones the pictures draw: a node's label, with its stable id
(``z #12``) when another node has the same label; an unlabelled result by its op symbol and id
(``+ #5``, the id drawn on its box); a number lifted into an op (the ``1`` of ``x + 1``) by its
value. No two nodes of a graph get the same name, and no formula keeps a placeholder.
"""

from __future__ import annotations

import re
from collections import Counter
from numbers import Real
from typing import Any

from .formatting import exact_number, short_number
from .rules import RULES

# The rule table writes e^x with a superscript; a name cannot go into a superscript.
_EXPONENTIALS = (("eˣⁱ", "exp(xᵢ)"), ("eˣʲ", "exp(xⱼ)"), ("e⁻ˣ", "exp(−x)"), ("eˣ", "exp(x)"))
_SIMPLE = re.compile(r"^(?:[^\W\d]\w*(?:\[[0-9,]*\])?|[0-9][0-9.]*(?:e[+-][0-9]+)?)$")


#: A number in 3 significant digits, for an unlabelled constant leaf's name (``0.5 #3``):
#: :func:`tinygrad_edu.formatting.short_number`, under the name this module has always given it.
fmt_number = short_number


def symbol_of(node: Any) -> str:
    """The op glyph of a node from the rule table (``"σ"``, ``"×"``), or its op name."""
    entry = RULES.get(node.op)
    return entry.symbol if entry is not None else node.op


class LiftedNumber:
    """The flag a constant leaf made from a Python number inside an op carries as its ``arg``.

    The ``1`` of ``x + 1`` is neither a parameter nor an input; pictures and formulas name it
    by its value. There is exactly one instance, :data:`LIFTED` (compared by identity, kept by
    ``copy``/``pickle``); test for it with :func:`is_lifted`.
    """

    __slots__ = ()
    _instance: LiftedNumber | None = None

    def __new__(cls) -> LiftedNumber:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "LIFTED"

    def __str__(self) -> str:
        return "lifted number"

    def __reduce__(self) -> str:
        return "LIFTED"  # copy/pickle: the module-level singleton, not a new object


#: The ``arg`` of a constant leaf made from a Python number inside an op (the ``1`` of ``x + 1``).
LIFTED = LiftedNumber()


def is_lifted(node: Any) -> bool:
    """Whether ``node`` is a number lifted into an op (the ``1`` of ``x + 1``)."""
    return not node.parents and node.arg is LIFTED


class Naming:
    """The names of one graph's nodes, worked out on first use and shared by its edges.

    Edges hold this rather than the graph itself, so that graph and edges form no reference
    cycle (the engine creates none: Python frees graphs by reference counting alone).
    """

    __slots__ = ("nodes", "ids", "_names")

    def __init__(self, nodes: list, ids: dict):
        self.nodes = nodes
        self.ids = ids
        self._names: dict | None = None

    @property
    def names(self) -> dict:
        if self._names is None:
            self._names = node_names(self.nodes, self.ids)
        return self._names


def node_names(nodes: list, ids: dict) -> dict:
    """The name of every node, unique within the graph (see the module docstring)."""
    counts = Counter(node.label for node in nodes if node.label)
    names = {}
    for node in nodes:
        key = ids[node]
        if node.label:
            names[node] = node.label if counts[node.label] == 1 else f"{node.label} #{key}"
        elif node.op:
            names[node] = f"{symbol_of(node)} #{key}"
        elif is_lifted(node) and _is_number(node.data):
            names[node] = exact_number(_number(node.data))
        elif _is_number(node.data):
            names[node] = f"{short_number(_number(node.data))} #{key}"  # an unlabelled constant leaf
        else:
            names[node] = f"leaf #{key}"
    return names


def _is_number(data: Any) -> bool:
    return isinstance(data, Real) or getattr(data, "size", 0) == 1


def _number(data: Any) -> float:
    return float(data) if isinstance(data, Real) else float(data.reshape(-1)[0])


def placeholders(node: Any, names: dict) -> dict:
    """Placeholder → text for the formulas of ``node``'s rule: operand names, the constant, counts."""
    entry = RULES.get(node.op)
    if entry is None:
        return {}
    found = {p: names[parent] for p, parent in zip(entry.inputs, node.parents)}
    if entry.constant is not None and isinstance(node.arg, Real):
        found[entry.constant] = exact_number(node.arg)
    if entry.counts and node.parents:
        in_shape = getattr(node.parents[0].data, "shape", ())
        out_shape = getattr(node.data, "shape", ())
        for letter, count in entry.counts.items():
            found[letter] = str(count(in_shape, out_shape))
    return found


def substitute(text: str, names: dict) -> str:
    """``text`` with every standalone placeholder replaced by its name.

    A placeholder is replaced only where it stands alone (``x`` in ``tanh²(x)``, never the ``x``
    of ``max``), all at once (so a name that looks like another placeholder is left alone). A
    name that is not a single word or number is put in parentheses unless the formula already
    has them (or the bars of ``|x|``) around it: ``1/(z #12)``, ``σ(+ #5)``, ``|× #2|``.
    """
    if not names or not text:
        return text
    if "x" in names:
        for written, plain in _EXPONENTIALS:
            text = text.replace(written, plain)
    pattern = re.compile(
        r"(?<![A-Za-z0-9_])("
        + "|".join(re.escape(p) for p in sorted(names, key=len, reverse=True))
        + r")(?![A-Za-z0-9_])"
    )

    def name(match: re.Match) -> str:
        value = names[match.group(1)]
        if _SIMPLE.match(value):
            return value
        start, end = match.span()
        whole = start == 0 and end == len(text)
        around = text[start - 1 : start] + text[end : end + 1]
        if whole or around in ("()", "||"):  # already bracketed: (…) or the bars of |…|
            return value
        return f"({value})"

    return pattern.sub(name, text)


def edge_formula(child: Any, index: int, names: dict) -> str:
    """The local derivative ∂child/∂(operand ``index``) as a formula in the graph's names."""
    entry = RULES.get(child.op)
    if entry is None or index >= len(entry.locals):
        return ""
    return substitute(entry.locals[index], placeholders(child, names))


def forward_formula(node: Any, names: dict) -> str:
    """How ``node`` was computed, in the graph's names (``σ(+ #5)``; "" for a leaf)."""
    entry = RULES.get(node.op)
    if entry is None:
        return ""
    return substitute(entry.forward, placeholders(node, names))
