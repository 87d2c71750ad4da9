"""Glorot & Bengio 2010: with the "standard" init, activations and back-propagated gradients shrink
by ~1/√3 per tanh layer; the normalised (Xavier) init keeps them level.

    python examples/glorot.py [--quick] [--out DIR]
"""

from _args import parse

from tinygrad_edu import Tensor, cross_entropy, nn
from tinygrad_edu.experiments import glorot
from tinygrad_edu.experiments.data import digits

args = parse("glorot")

X, labels = digits(500)
for init in ("standard", "xavier_uniform"):
    net = nn.MLP([64, 500, 500, 500, 500, 500, 10], activation="tanh", init=init, rng=args.seed)
    h, hidden = Tensor(X), []
    for module in net.layers:  # run layer by layer to keep every hidden activation
        h = module(h)
        if isinstance(module, nn.Tanh):
            hidden.append(h)
    cross_entropy(h, labels).backward()  # afterwards every hidden activation holds ∂C/∂h
    print(f"{init:>15}: std(h)    " + "  ".join(f"{a.data.std():.3f}" for a in hidden))
    print(f"{'':>15}  std(∂C/∂h) " + "  ".join(f"{a.grad.std():.2e}" for a in hidden))

result = glorot.run(seed=args.seed, quick=args.quick, out=args.out, progress=print)
print(glorot.table(result))
