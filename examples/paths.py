"""Veit et al. 2016, counted exactly: a 50-block residual MLP's input gradient split by path length.

Of the 2⁵⁰ paths most have about 25 branches, yet 90 % of the gradient comes from paths through
fewer than ten: each branch a path goes through multiplies it by a small factor. The plain net
of the same depth (no skips) does not train.

    python examples/paths.py [--quick] [--out DIR]
"""

from _args import parse

from tinygrad_edu import nn
from tinygrad_edu.diagnostics import path_lengths
from tinygrad_edu.experiments import paths
from tinygrad_edu.experiments.data import digits

args = parse("paths")

X, y = digits(200)
model = nn.ResidualMLP(64, 32, 10, blocks=12, norm="layer", placement="pre", rng=args.seed)
split = path_lengths(model, X, y)  # components[k]: the gradient carried by paths through k branches
print(f"12 blocks: Σ_k components[k] equals ∂L/∂x to {split.residual():.1e} (relative)")
for k, (count, share) in enumerate(zip(split.counts, split.share())):
    print(f"  k = {k:2d}: {count:4d} paths, {100 * share:5.1f} % of the gradient")

result = paths.run(seed=args.seed, quick=args.quick, out=args.out, progress=print)
print(paths.table(result))
