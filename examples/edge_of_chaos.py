"""Schoenholz et al. 2017: in a random tanh net each layer multiplies the gradient by √χ₁, which
mean-field theory computes before the net exists; the nets vanish (χ₁ < 1) or explode (χ₁ > 1)
on either side of the critical line χ₁ = 1 — the edge of chaos.

    python examples/edge_of_chaos.py [--quick] [--out DIR]
"""

import numpy as np
from _args import parse

from tinygrad_edu import theory
from tinygrad_edu.experiments import edge_of_chaos

args = parse("edge_of_chaos")

critical = theory.critical_sigma_w2("tanh", 0.05)  # ≈ 1.76: χ₁ = 1
for sigma_w2 in (1.0, critical, 3.0):  # σ_b² = 0.05: ordered, critical, chaotic
    mf = theory.mean_field("tanh", sigma_w2, 0.05)
    generator = np.random.default_rng(args.seed)
    net = edge_of_chaos.random_net(sigma_w2, 0.05, width=128, depth=30, generator=generator)
    norms = edge_of_chaos.delta_norms(net, batch=8, generator=generator)  # ‖∂L/∂h_l‖ from .grad
    print(f"{mf}\n    measured gain per layer {edge_of_chaos.per_layer_gain(norms):.3f}")

result = edge_of_chaos.run(seed=args.seed, quick=args.quick, out=args.out, progress=print)
print(edge_of_chaos.table(result))
