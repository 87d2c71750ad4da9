"""Fit a noisy curve while the gradient diagnostics watch: a tanh/Xavier net is healthy and fits; a
deep sigmoid net with N(0, 0.01²) weights is diagnosed as vanishing and only learns the mean.

    python examples/regression.py [--quick] [--out DIR]
"""

import numpy as np
from _args import parse

from tinygrad_edu import Tensor, mse_loss, nn
from tinygrad_edu.diagnostics import GradientMonitor
from tinygrad_edu.experiments import regression
from tinygrad_edu.experiments.data import noisy_curve
from tinygrad_edu.optim import SGD

args = parse("regression")

# A training loop with the monitor: record() after backward, after_step() after the update.
x, y, _ = noisy_curve(200, 0.1, np.random.default_rng(args.seed))
net = nn.MLP([1, 32, 32, 32, 32, 32, 32, 1], activation="sigmoid", init="normal", rng=args.seed)
monitor = GradientMonitor(net)
optimizer = SGD(net.parameters(), lr=0.1, momentum=0.9)
for _ in range(50):
    optimizer.zero_grad()
    loss = mse_loss(net(Tensor(x)), y)
    loss.backward()
    monitor.record(loss)
    optimizer.step()
    monitor.after_step()
print(monitor.report())  # verdict, per-layer evidence, suggested fixes

result = regression.run(seed=args.seed, quick=args.quick, out=args.out, progress=print)
print(regression.table(result))
