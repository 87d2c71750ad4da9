"""Your own op, first class: declare it like a rule of rules.py, draw it, step through it, prove it.

python examples/own_op.py [--out DIR] [--quick]

1. softsign, one definition for Value and Tensor; its edge drawn with its formula;
2. hypot(a, b), a binary op: broadcasting, and the gradient summed back to b's shape;
3. cumsum, a tensor-only op whose local is a linear map (the jacobians.Local protocol);
4. check_op proves all three; a planted 1 % bug is caught with the numbers;
5. check_edges finds the planted bug in a graph, and viz.draw(check=...) marks it (PNG).
"""

from pathlib import Path

import numpy as np
from _args import parse

import viz
from tinygrad_edu import Tensor, Value, op, trace
from tinygrad_edu.jacobians import Local
from tinygrad_edu.testing import OpCheckError, check_edges, check_op, shapes

args = parse("own_op")
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
examples = 10 if args.quick else 50


# 1. A unary op: forward next to local derivative, the maths as text beside the code.
@op("softsign", forward="x / (1 + |x|)", locals=("1 / (1 + |x|)²",), expression=True)
def softsign(m, x):
    """x / (1 + |x|): like tanh but with polynomial tails. ∂/∂x = 1 / (1 + |x|)²."""
    d = 1 + m.abs(x)
    return x / d, (1 / (d * d),)


h = Value(0.7, label="h")
y = softsign(h * 2.0)
y.label = "y"
y.backward()
for step in trace(y).backward_steps():
    print(f"  {trace(y).names[step.parent]:>6}.grad += {step.local:.4f} × {step.upstream:.4f}")
print("softsign edge formula:", [e.formula for e in trace(y).edges if e.child is y][0])
viz.render(y, out / "softsign.svg", show_formula=True)


# 2. A binary op: operands broadcast, the gradient is summed back to each operand's shape.
@op("hypot", forward="√(a² + b²)", locals=("a / √(a² + b²)", "b / √(a² + b²)"), symbol="hypot")
def hypot(m, a, b):
    r = m.sqrt(a * a + b * b)
    return r, (m.div(a, r), m.div(b, r))


a = Tensor(np.arange(1.0, 7.0).reshape(2, 3), requires_grad=True, label="a")
b = Tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True, label="b")
hypot(a, b).sum().backward()
print("hypot: b.grad", b.grad, "shape", b.grad.shape)


# 3. A tensor-only op: the local is a linear map applied to the upstream (a jacobians.Local).
class ReverseCumsum(Local):
    """∂(cumsum x)/∂x applied to g: (gᵀJ)ⱼ = Σ_{i ≥ j} gᵢ, the reversed cumulative sum."""

    def __mul__(self, upstream):
        return np.cumsum(upstream[..., ::-1], axis=-1)[..., ::-1].copy()

    def summary(self):
        return "reverse cumsum"


@op("cumsum", forward="yᵢ = Σ_{j ≤ i} xⱼ", locals=("reverse cumsum of the upstream",), elementwise=False)
def cumsum(m, x):
    return np.cumsum(x, axis=-1), (ReverseCumsum(),)


# 4. Prove them: random shapes, values, upstreams; central differences, complex step, engines.
print(check_op(softsign, exclude=0, domain=(-50, 50), max_examples=examples))
print(check_op(hypot, domain=("positive", "real"), complex_step=True, max_examples=examples))
# cumsum needs an axis: np.cumsum of a 0-d array is 1-d, which check_op refuses (try it)
print(check_op(cumsum, shapes=shapes(min_dims=1).map(lambda s: (s,)), max_examples=examples))


@op("softsign_bug", forward="x / (1 + |x|)", locals=("1 / (1 + |x|)²",))
def softsign_bug(m, x):
    d = 1 + m.abs(x)
    return x / d, (1.01 / (d * d),)  # planted: 1 % too large


try:
    check_op(softsign_bug, max_examples=examples)
except OpCheckError as error:
    print("caught:", str(error).splitlines()[0])

# 5. The same bug inside a graph: check_edges names the edge, the picture marks it green.
x = Value(0.5, label="x")
w = Value(-1.5, label="w")
z = (softsign_bug(w * x) + x.tanh()).sigmoid()
z.label = "z"
z.backward()
result = check_edges(z)
print(result)
viz.render(z, out / "own_op_check.png", check=result, title="check_edges: the planted 1 % bug")
print("wrote", out / "softsign.svg", "and", out / "own_op_check.png")
