"""A tour of one scalar graph: build it, look at it as data, step through backward, draw it.

python examples/scalar_graph_tour.py [--out DIR]
"""

from pathlib import Path

from _args import parse

import viz
from tinygrad_edu import Value, trace

args = parse("tour")

# 1. Build: a neuron h = σ(w·x + b) feeding L = tanh(h·h). Every op is one node.
x, w, b = Value(0.5, label="x"), Value(-1.5, label="w"), Value(0.8, label="b")
h = (w * x + b).sigmoid()
h.label = "h"
L = (h * h).tanh()
L.label = "L"

# 2. The graph is plain data: parents and the local derivative on every edge.
g = trace(L)
print(g)
for edge in g.edges:
    print(
        f"  {edge.parent.label or edge.parent.op:>4} → {edge.child.label or edge.child.op:<4} "
        f"local ∂child/∂parent = {edge.local:.4f}   ({edge.formula})"
    )

# 3. Backward, one chain-rule product at a time (put a breakpoint() in this loop to pause).
for step in g.backward_steps():
    print(
        f"  {step.parent.label or step.parent.op:>4}.grad += {step.local:.4f} × {step.upstream:.4f}"
        f" = {step.contribution:.4f}   (now {step.accumulated:.4f})"
    )

# 4. The gradient of a leaf is the sum over paths of the products of locals.
print(g.chain_rule_text(w))

# 5. The picture: every edge labelled with its local derivative, colour = gradient size.
Path(args.out).mkdir(parents=True, exist_ok=True)
path = viz.render(L, Path(args.out) / "tour.svg")
print(f"wrote {path}")
