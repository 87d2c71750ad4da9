"""He et al. 2015: a plain 30-layer ReLU net trains with He init (std √(2/n_in)) and stalls with
Xavier init, which halves the signal's variance at every ReLU layer.

    python examples/he.py [--quick] [--out DIR]
"""

from _args import parse

from tinygrad_edu import Tensor, nn
from tinygrad_edu.experiments import he
from tinygrad_edu.experiments.data import digits

args = parse("he")

X, _ = digits(500)
for init in ("xavier_normal", "he_normal"):
    net = nn.MLP([64] + [64] * 30 + [10], activation="relu", init=init, rng=args.seed)
    h, stds = Tensor(X), []
    for module in net.layers:
        h = module(h)
        if isinstance(module, nn.ReLU):
            stds.append(h.data.std())
    print(f"{init:>13}: std of layer 1 {stds[0]:.3g} → layer 30 {stds[-1]:.3g}")

result = he.run(seed=args.seed, quick=args.quick, out=args.out, progress=print)
print(he.table(result))
