"""Parse a user's scalar expression such as ``tanh(w*x + b)`` into a :class:`~tinygrad_edu.Value` graph.

Safely: the text is parsed by Python's :mod:`ast` in ``"eval"`` mode and the tree is walked
against an allow-list — numbers, variable names, ``+ - * / **``, unary ``-``/``+`` and calls of
the elementary functions in :data:`FUNCTIONS`. Nothing is ever evaluated by Python (no
``eval``, no ``compile`` to code): every allowed node becomes a ``Value`` operation, and
anything else (attribute access, subscripts, lambdas, comprehensions, keywords ...) is an
:class:`ExpressionError` that says what and where.

Each variable becomes **one** leaf ``Value`` labelled with its name, even when it appears
several times (``x*x`` has two edges into the same leaf ``x``, so ``x.grad`` is ``2x``).

Example::

    >>> from tinygrad_edu.expr import build
    >>> y, leaves = build("tanh(w*x + b)", {"x": 0.5, "w": -1.5, "b": 0.8})
    >>> y.backward(); round(leaves["w"].grad, 4)
    0.4961

Bounds keep hostile or accidental input cheap: at most :data:`MAX_LENGTH` characters,
:data:`MAX_NODES` syntax nodes, :data:`MAX_DEPTH` levels of nesting, finite number literals,
and constant exponents of magnitude at most :data:`MAX_EXPONENT`.
"""

from __future__ import annotations

import ast
import math
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from numbers import Real
from typing import Any, cast

from .errors import TinygradEduError
from .scalar import Value

#: The functions an expression may call: name → the ``Value`` method that builds the node.
FUNCTIONS: dict[str, Any] = {
    "exp": Value.exp,
    "log": Value.log,
    "sqrt": Value.sqrt,
    "tanh": Value.tanh,
    "sigmoid": Value.sigmoid,
    "relu": Value.relu,
    "leaky_relu": Value.leaky_relu,
    "softplus": Value.softplus,
    "log_sigmoid": Value.log_sigmoid,
    "abs": Value.__abs__,
    "sin": Value.sin,
    "cos": Value.cos,
}

#: Functions added by user ops (``op(..., expression=True)``): name → (graph operands, the
#: fewest and the most arguments). Built-ins take one operand (leaky_relu also its slope).
USER_ARITIES: dict[str, tuple[int, int, int]] = {}


def register_function(name: str, function: Any, operands: int, constant: bool, optional: bool) -> None:
    """Let expressions call ``function`` (a user op of ``operands`` graph inputs, plus a number
    constant when ``constant``; ``optional`` when the constant has a default)."""
    FUNCTIONS[name] = function
    most = operands + (1 if constant else 0)
    USER_ARITIES[name] = (operands, most - (1 if constant and optional else 0), most)


def unregister_function(name: str) -> None:
    """Undo :func:`register_function`."""
    FUNCTIONS.pop(name, None)
    USER_ARITIES.pop(name, None)


MAX_LENGTH = 1000  # characters of source text
MAX_NODES = 400  # syntax-tree nodes
MAX_DEPTH = 100  # nesting of operations
MAX_EXPONENT = 1000.0  # |p| of a constant exponent x ** p

_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_UNARY = {ast.USub: "-", ast.UAdd: "+"}

# What users typically try, named in words for the error message.
_CONSTRUCTS = {
    ast.Attribute: "attribute access (a.b)",
    ast.Subscript: "subscripts (a[i])",
    ast.Lambda: "lambda",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.Compare: "comparisons",
    ast.BoolOp: "and/or",
    ast.IfExp: "conditional expressions (a if c else b)",
    ast.Tuple: "tuples",
    ast.List: "lists",
    ast.Dict: "dicts",
    ast.Set: "sets",
    ast.JoinedStr: "f-strings",
    ast.NamedExpr: "assignment (:=)",
    ast.Starred: "starred arguments",
    ast.Slice: "slices",
}
_OPERATORS = {
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.MatMult: "@",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^ (use ** for powers)",
    ast.Invert: "~",
    ast.Not: "not",
}


class ExpressionError(TinygradEduError, ValueError):
    """A scalar expression that cannot be turned into a graph.

    Attributes:
        source: the expression text.
        column: 1-based column of the offending part (None when it is not about one place).
    """

    def __init__(self, message: str, source: str = "", column: int | None = None):
        self.reason = message
        self.source = source
        self.column = column
        if column is not None and source and "\n" not in source and len(source) <= 120:
            message = f"{message} (column {column})\n  {source}\n  {' ' * (column - 1)}^"
        elif column is not None:
            message = f"{message} (column {column})"
        super().__init__(message)


@dataclass(frozen=True)
class Expression:
    """A checked expression: its ``source``, its ``tree`` and its ``variables`` (in order of appearance)."""

    source: str
    tree: ast.Expression
    variables: tuple[str, ...]

    def build(self, values: Mapping[str, Any], label: str | None = None) -> tuple[Value, dict[str, Value]]:
        """Build the ``Value`` graph with ``values`` for the variables.

        Args:
            values: a number per variable name.
            label: the output node's label (default: the source, shortened).

        Returns:
            ``(root, leaves)``: the output node and the leaf ``Value`` of each variable by name.
            The output is always an operation node: a bare variable or number ``e`` is built
            as ``e + 0``, so the output never *is* one of the leaves.

        Raises:
            ExpressionError: a variable without a value, a value for an unknown variable, or a
                value that is not a real number.
        """
        leaves = _leaves(self, values)
        root = _Builder(self.source, leaves).build(self.tree.body)
        if not root.parents:
            root = root + 0.0
        root.label = _short_label(self.source) if label is None else label
        return root, leaves


def parse(source: str) -> Expression:
    """Check ``source`` against the allow-list, without building anything.

    Raises:
        ExpressionError: bad syntax, unsupported constructs, unknown names, too large input.
    """
    if not isinstance(source, str):
        raise TypeError(f"parse: the expression must be a str, got {type(source).__name__}")
    text = source.strip()
    if not text:
        raise ExpressionError("the expression is empty")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression is {len(text)} characters long; the limit is {MAX_LENGTH}")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as error:
        column = error.offset if error.offset and error.lineno == 1 else None
        raise ExpressionError(f"bad syntax: {error.msg}", text, column) from None
    except (RecursionError, MemoryError, ValueError) as error:  # pathological nesting / literals
        raise ExpressionError(f"the expression cannot be parsed: {type(error).__name__}", text) from None
    variables = _check(tree, text)
    return Expression(text, tree, variables)


def build(source: str, values: Mapping[str, Any], label: str | None = None) -> tuple[Value, dict[str, Value]]:
    """``parse(source).build(values, label)``: the graph of ``source`` and its leaf per variable."""
    return parse(source).build(values, label)


def normalize_name(name: str) -> str:
    """A variable name as Python's parser reads it: NFKC-normalised (PEP 3131).

    ``ast.parse("ｘ*2")`` names the variable ``x`` (fullwidth ｘ, U+FF58, is NFKC-equal to x), so
    every name the user types elsewhere (``--set``, ``--wrt``, the keys of ``values``) goes
    through the same normalisation, or it would never match the expression's variable.
    """
    return unicodedata.normalize("NFKC", name)


def parse_assignment(text: str) -> tuple[str, float]:
    """Parse a ``--set`` argument ``name=number`` (e.g. ``x=0.5``, ``w=-1.5e-2``).

    The name is normalised as Python's parser normalises identifiers (:func:`normalize_name`).
    """
    if not isinstance(text, str) or "=" not in text:
        raise ExpressionError(f"expected NAME=NUMBER such as x=0.5, got {text!r}")
    name, _, number = (part.strip() for part in text.partition("="))
    name = normalize_name(name)
    if not name.isidentifier():
        raise ExpressionError(f"{name!r} is not a variable name (in {text!r})")
    if name in FUNCTIONS:
        raise ExpressionError(f"{name!r} is a function, not a variable (in {text!r})")
    if len(number) > 64:
        raise ExpressionError(f"the number for {name!r} is too long ({len(number)} characters)")
    try:
        value = float(number)
    except ValueError:
        raise ExpressionError(f"the value of {name!r} must be a number, got {number!r}") from None
    return name, value


def parse_assignments(texts: Iterable[str]) -> dict[str, float]:
    """Parse all the ``--set`` arguments: ``["x=0.5", "w=-1.5"]`` → ``{"x": 0.5, "w": -1.5}``.

    Each goes through :func:`parse_assignment`; a name given twice is an ``ExpressionError``
    (which of the two values was meant cannot be guessed).
    """
    values: dict[str, float] = {}
    for text in texts:
        name, value = parse_assignment(text)
        if name in values:
            raise ExpressionError(f"--set {name}=... is given twice")
        values[name] = value
    return values


# --- checking ---------------------------------------------------------------------------


def _column(node: ast.AST, source: str) -> int | None:
    """1-based character column of ``node`` (ast gives UTF-8 byte offsets)."""
    offset = getattr(node, "col_offset", None)
    if offset is None or getattr(node, "lineno", 1) != 1:
        return None
    return len(source.encode("utf-8")[:offset].decode("utf-8", errors="ignore")) + 1


def _known() -> str:
    return ", ".join(sorted(FUNCTIONS))


def _check(tree: ast.Expression, source: str) -> tuple[str, ...]:
    """Walk the whole tree (iteratively) and refuse anything outside the allow-list."""
    variables: dict[str, None] = {}
    count = 0
    stack: list[tuple[ast.AST, int]] = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ExpressionError(f"the expression has more than {MAX_NODES} parts; simplify it", source)
        if depth > MAX_DEPTH:
            raise ExpressionError(f"the expression nests deeper than {MAX_DEPTH} levels", source)

        def fail(message: str, at: ast.AST = node) -> ExpressionError:
            return ExpressionError(message, source, _column(at, source))

        if isinstance(node, ast.Constant):
            _number(node, source)
        elif isinstance(node, ast.Name):
            if node.id in FUNCTIONS:
                raise fail(f"{node.id!r} is a function: call it, as in {node.id}(x)")
            variables.setdefault(node.id, None)
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINARY:
                raise fail(f"unsupported operator {_OPERATORS.get(type(node.op), type(node.op).__name__)}")
            exponent = _literal(node.right) if isinstance(node.op, ast.Pow) else None
            if exponent is not None:
                if abs(exponent) > MAX_EXPONENT:
                    raise fail(
                        f"the exponent {exponent:g} is too large (limit ±{MAX_EXPONENT:g})", node.right
                    )
            stack.append((node.right, depth + 1))
            stack.append((node.left, depth + 1))
        elif isinstance(node, ast.UnaryOp):
            if type(node.op) not in _UNARY:
                raise fail(f"unsupported operator {_OPERATORS.get(type(node.op), type(node.op).__name__)}")
            stack.append((node.operand, depth + 1))
        elif isinstance(node, ast.Call):
            _check_call(node, source, fail)
            for argument in reversed(node.args):
                stack.append((argument, depth + 1))
        else:
            what = _CONSTRUCTS.get(type(node), type(node).__name__)
            raise fail(f"{what} not allowed: only numbers, variables, + - * / ** and calls such as tanh(x)")
    return tuple(variables)


def _check_call(node: ast.Call, source: str, fail) -> None:
    if not isinstance(node.func, ast.Name):
        raise fail(f"only the functions {_known()} can be called, by name")
    name = node.func.id
    if name not in FUNCTIONS:
        raise fail(f"unknown function {name!r}; known functions: {_known()}")
    if node.keywords:
        raise fail(f"{name}() takes no keyword arguments", node.keywords[0].value)
    if any(isinstance(a, ast.Starred) for a in node.args):
        raise fail("starred arguments not allowed")
    if name in USER_ARITIES:
        operands, fewest, most = USER_ARITIES[name]
        if not fewest <= len(node.args) <= most:
            wanted = str(most) if fewest == most else f"{fewest} or {most}"
            raise fail(f"{name} takes {wanted} argument(s), got {len(node.args)}")
        for constant in node.args[operands:]:
            if _literal(constant) is None:
                raise fail(f"the constant of {name} must be a number, as in {name}(x, 0.5)", constant)
    elif name == "leaky_relu":
        if len(node.args) not in (1, 2):
            raise fail(f"leaky_relu takes 1 or 2 arguments (x, slope=0.01), got {len(node.args)}")
        if len(node.args) == 2 and _literal(node.args[1]) is None:
            raise fail("the slope of leaky_relu must be a number, as in leaky_relu(x, 0.1)", node.args[1])
    elif len(node.args) != 1:
        raise fail(f"{name} takes exactly 1 argument, got {len(node.args)}")


def _number(node: ast.Constant, source: str) -> float:
    value = node.value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = "complex numbers" if isinstance(value, complex) else f"{type(value).__name__} constants"
        raise ExpressionError(f"{kind} not allowed: only real numbers", source, _column(node, source))
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ExpressionError(f"the number {_clip(source, node)} is too large", source, _column(node, source))
    return number


def _literal(node: ast.AST) -> float | None:
    """The value of a signed numeric literal (``2``, ``-0.5``, ``+3``), else None."""
    sign = 1.0
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        if isinstance(node.op, ast.USub):
            sign = -sign
        node = node.operand
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        if isinstance(node.value, bool):
            return None
        try:
            return sign * float(node.value)
        except OverflowError:
            return sign * math.inf
    return None


def _clip(source: str, node: ast.AST) -> str:
    text = ast.get_source_segment(source, node) or "?"
    return text if len(text) <= 20 else text[:17] + "..."


def _short_label(source: str) -> str:
    return source if len(source) <= 40 else source[:37] + "..."


# --- values and building ----------------------------------------------------------------


def _leaves(expression: Expression, values: Mapping[str, Any]) -> dict[str, Value]:
    if not isinstance(values, Mapping):
        raise TypeError(f"build: values must be a mapping name → number, got {type(values).__name__}")
    values = _normalized_keys(values)
    missing = [name for name in expression.variables if name not in values]
    if missing:
        hint = " ".join(f"--set {name}=..." for name in missing)
        raise ExpressionError(f"no value for {', '.join(missing)} (give one with {hint})", expression.source)
    unused = sorted(set(values) - set(expression.variables))
    if unused:
        raise ExpressionError(
            f"value given for {', '.join(unused)}, which the expression does not use "
            f"(its variables: {', '.join(expression.variables) or 'none'})",
            expression.source,
        )
    leaves = {}
    for name in expression.variables:
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, Real):
            raise ExpressionError(f"the value of {name!r} must be a real number, got {value!r:.40}")
        leaves[name] = Value(float(value), label=name)
    return leaves


def _normalized_keys(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with NFKC-normalised names; two keys that normalise alike are refused."""
    normalized: dict[str, Any] = {}
    for key, value in values.items():
        name = normalize_name(key) if isinstance(key, str) else key
        if name in normalized:
            raise ExpressionError(f"a value is given twice for {name!r} (as {key!r} too)")
        normalized[name] = value
    return normalized


class _Builder:
    """Turns a checked tree into ``Value`` operations (one node per operation)."""

    def __init__(self, source: str, leaves: dict[str, Value]):
        self.source = source
        self.leaves = leaves

    def build(self, node: ast.AST) -> Value:
        # Recursion is bounded by MAX_DEPTH, which _check enforced.
        literal = _literal(node)
        if literal is not None:  # numbers (with their sign) become constant leaves
            return Value(literal)
        if isinstance(node, ast.Name):
            return self.leaves[node.id]
        if isinstance(node, ast.UnaryOp):
            operand = self.build(node.operand)
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp):
            left = self.build(node.left)
            if isinstance(node.op, ast.Pow):
                exponent = _literal(node.right)
                # A number exponent is a constant of the node (x^p, one edge); else an edge too.
                return left ** (exponent if exponent is not None else self.build(node.right))
            right = self.build(node.right)
            op = type(node.op)
            if op is ast.Add:
                return left + right
            if op is ast.Sub:
                return left - right
            if op is ast.Mult:
                return left * right
            return left / right
        if isinstance(node, ast.Call):
            name = cast(ast.Name, node.func).id  # a Name: checked by parse()
            function = FUNCTIONS[name]
            if name in USER_ARITIES:
                operands = USER_ARITIES[name][0]
                built = [self.build(a) for a in node.args[:operands]]
                return function(*built, *(_literal(a) for a in node.args[operands:]))
            argument = self.build(node.args[0])
            if len(node.args) == 2:
                return function(argument, _literal(node.args[1]))
            return function(argument)
        raise AssertionError(f"unchecked node {type(node).__name__}")  # _check refuses these
