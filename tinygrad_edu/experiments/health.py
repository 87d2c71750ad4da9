"""Training with the gradient diagnostics watching: shared by the regression and classification exercises.

Every step records the per-layer statistics of :class:`~tinygrad_edu.diagnostics.GradientMonitor`
(‖∂L/∂W‖, ‖∂L/∂output‖, update ratio ‖ΔW‖/‖W‖ …). At a few checkpoints the monitor's
report names the state of the gradients — vanishing, exploding or healthy — from the
first-layer / last-layer ratios of the recent steps (thresholds in :mod:`tinygrad_edu.diagnostics`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import Tensor, nn
from ..diagnostics import GradientMonitor
from ..modes import no_grad
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


def flow_chart(monitors: Mapping[str, GradientMonitor], path: Path) -> Path:
    """One gradient-flow chart of several monitored trainings: ‖∂L/∂W‖ per layer, one colour per net."""
    import viz

    return viz.gradient_flow_chart(
        {key: flow_by_depth(monitor) for key, monitor in monitors.items()},
        path,
        title="‖∂L/∂W‖ per layer during training (line: mean, band: min–max)",
    )


def dashboard_page(monitors: Mapping[str, GradientMonitor], path: Path, title: str) -> Path:
    """The training dashboard of several monitored trainings: one page, one section per net."""
    import viz

    page = viz.dashboard(dict(monitors), path, title=title)
    assert isinstance(page, Path), "dashboard returns the Path it wrote when given a path"
    return page


@dataclass
class WatchedRun:
    """One net after :func:`train_each`: the net, its monitor, the checkpoints and the final loss."""

    net: nn.MLP
    monitor: GradientMonitor
    health: list[dict]
    final_loss: float

    def summary(self, **measured: float) -> dict[str, Any]:
        """The net's entry in ``results["nets"]``.

        In this order: the final loss, the caller's ``measured`` numbers, the monitor's verdict,
        the checkpoints, and the first and the last layer's ‖∂L/∂W‖ at every step.
        """
        flow = list(self.monitor.gradient_flow("weight_grad").values())
        return {
            "final_loss": self.final_loss,
            **measured,
            "verdict": self.monitor.report().verdict,
            "health": self.health,
            "weight_grad_norm_first": flow[0],
            "weight_grad_norm_last": flow[-1],
        }


def train_each(
    specs: Mapping[str, Mapping[str, Any]],
    X: np.ndarray,
    target: np.ndarray,
    loss_fn: Callable[[Any, Any], Tensor],
    config: Mapping[str, Any],
    *,
    seed: int,
    progress: Progress | None,
) -> dict[str, WatchedRun]:
    """Build each net of ``specs`` (``{key: {"sizes", "activation", "init"}}``) from ``seed`` and train it.

    Training is :func:`train_watched` with ``config``'s ``steps``, ``lr`` and ``momentum``; the
    final loss is measured on ``(X, target)`` after the last step, without recording a graph.
    """
    runs = {}
    for key, spec in specs.items():
        net = nn.MLP(spec["sizes"], activation=spec["activation"], init=spec["init"], rng=seed)
        monitor, health = train_watched(
            net,
            X,
            target,
            loss_fn,
            steps=config["steps"],
            lr=config["lr"],
            momentum=config["momentum"],
            label=key,
            progress=progress,
        )
        with no_grad():
            final_loss = loss_fn(net(Tensor(X)), target).item()
        runs[key] = WatchedRun(net, monitor, health, final_loss)
    return runs
