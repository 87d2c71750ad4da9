"""Training with the gradient diagnostics watching: shared by the regression and classification exercises.

Every step records the per-layer statistics of :class:`~tinygrad_edu.diagnostics.GradientMonitor`
(‖∂L/∂W‖, ‖∂L/∂output‖, update ratio ‖ΔW‖/‖W‖ …). At a few checkpoints the monitor's
report names the state of the gradients — vanishing, exploding or healthy — from the
first-layer / last-layer ratios of the recent steps (thresholds in :mod:`tinygrad_edu.diagnostics`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import Tensor, nn
from ..diagnostics import GradientMonitor
from ..optim import SGD
from .common import Progress, say


def checkpoints(steps: int, count: int = 4) -> list[int]:
    """``count`` evenly spaced steps from 0, and the last step."""
    marks = sorted({min(steps - 1, round(i * steps / count)) for i in range(count)} | {steps - 1})
    return marks


def train_watched(
    net: nn.Module,
    X: np.ndarray,
    target: np.ndarray,
    loss_fn: Callable[[Any, Any], Tensor],
    *,
    steps: int,
    lr: float,
    momentum: float,
    label: str,
    progress: Progress | None,
) -> tuple[GradientMonitor, list[dict]]:
    """Full-batch SGD with momentum for ``steps`` steps, recording the monitor at every step.

    Returns the monitor and, per checkpoint, ``{"step", "loss", "verdict", "weight_grad_ratio",
    "output_grad_ratio"}`` (ratios: first layer / last layer, median over recent steps).
    """
    monitor = GradientMonitor(net)
    optimizer = SGD(net.parameters(), lr=lr, momentum=momentum)
    inputs = Tensor(X)
    marks = set(checkpoints(steps))
    health = []
    for step in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(net(inputs), target)
        loss.backward()
        monitor.record(loss)
        optimizer.step()
        monitor.after_step()
        if step in marks:
            diagnosis = monitor.report()
            health.append(
                {
                    "step": step,
                    "loss": loss.item(),
                    "verdict": diagnosis.verdict,
                    "weight_grad_ratio": diagnosis.ratios.get("weight_grad"),
                    "output_grad_ratio": diagnosis.ratios.get("output_grad"),
                }
            )
            say(progress, f"{label}: step {step}, loss {loss.item():.3g}, gradients {diagnosis.verdict}")
    return monitor, health


def flow_by_depth(monitor: GradientMonitor) -> dict[str, list[float]]:
    """The monitor's per-layer ‖∂L/∂W‖ history with layers renamed L1, L2 … (input side first).

    Nets of different depths then share an x axis on one gradient-flow chart.
    """
    flow = monitor.gradient_flow("weight_grad")
    return {f"L{i + 1}": values for i, values in enumerate(flow.values())}
