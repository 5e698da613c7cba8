"""Memory of one training step, measured with two meters, and how it grows with depth
(06_adjoint_method, 09_ecg_resnet_vs_node; the reproduction report).

The Math 179 report says its Neural ODE needs "less than one third of the memory cost" of
its ResNet, a figure that follows from the parameter counts (59,333 / 182,853 = 0.32).
Chen et al. (2018, Table 1) give the memory of a ResNet as O(L) in its depth L, of an
ODE-Net trained with the adjoint as O(1), and of an RK-Net (backpropagation through a
Runge-Kutta solver) as O(L~) in its number of function evaluations. This experiment
measures, for one training step (forward, cross-entropy, backward) at the sources' batch
size:

- ``parameter_mib``: the parameters' bytes (what the report's figure counts);
- ``saved_mib``: the tensors autograd keeps for the backward pass (the meter of lesson 06,
  :class:`~nodebook_utils.memory.SavedTensorsMeter`);
- ``peak_mib``: the peak tensor memory at PyTorch's allocator during the whole step
  (:func:`~nodebook_utils.memory.peak_memory`): stored activations plus the solver's
  stages, the backward pass's own tensors and the gradients;

for the sources' networks (``models``) and for a ResNet of L blocks beside an ODE block
solved with n fixed RK4 steps, with and without the adjoint (``depth``). Nothing here is
timed, so the measurements cannot disturb a timing (run it in a process of its own, or
after all timed work). Each network is built with the same seed and measured at
initialisation; an adaptive solver's NFE, and so its memory, changes as training changes
the weights.

``python -m nodebook_utils.experiments.memory --mode standard --out results`` writes
``results/memory-standard.json``.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import models, seed_everything
from ..config import get_settings
from ..memory import training_step_memory
from ..training import count_parameters
from . import common

NAME = "memory"

#: The networks of one training step: (task, factory of :mod:`nodebook_utils.models`, kwargs).
MODELS: dict[str, tuple[str, str, dict[str, Any]]] = {
    # the Math 179 report's ECG networks
    "ecg_resnet": ("ecg", "ecg_resnet", {}),
    "ecg_odenet_adjoint": ("ecg", "ecg_odenet", {}),  # dopri5, 1e-3, adjoint: the original
    "ecg_odenet_backprop": ("ecg", "ecg_odenet", {"adjoint": False}),
    # Chen et al.'s Table 1: torchdiffeq's odenet_mnist ODE-Net (with the adjoint; without
    # it, backpropagation through dopri5: an RK-Net) beside the six-block MNIST ResNet of
    # lesson 08 (BatchNorm where torchdiffeq's has GroupNorm: the same tensors' sizes)
    "mnist_resnet": ("mnist", "mnist_resnet", {}),
    "mnist_odenet_adjoint": ("mnist", "mnist_reference_odenet", {"adjoint": True}),
    "mnist_rknet": ("mnist", "mnist_reference_odenet", {"adjoint": False}),
}

_STANDARD = {
    "batch_size": 128,
    "models": list(MODELS),
    "tasks": ["ecg", "mnist"],
    "depths": [1, 2, 4, 8, 16],
    "seed": 0,
    "threads": None,
    "device": None,
}
CONFIGS = {
    "fast": {**_STANDARD, "batch_size": 8, "depths": [1, 2, 4]},
    "standard": _STANDARD,
    "full": _STANDARD,
}


def _batch(task: str, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of the task's shape: the measured memory depends on shapes, not values."""
    generator = torch.Generator().manual_seed(seed)
    shape, classes = ((1, 187), 5) if task == "ecg" else ((1, 28, 28), 10)
    return (torch.rand(size, *shape, generator=generator),
            torch.randint(0, classes, (size,), generator=generator))


def measure(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor],
            device: torch.device) -> dict[str, Any]:
    """Parameters, parameter MiB, and :func:`training_step_memory` of one step."""
    model = model.to(device)
    step = training_step_memory(model, batch, device)
    n = count_parameters(model)
    return {"parameters": n,
            "parameter_mib": sum(p.numel() * p.element_size() for p in model.parameters())
            / 2**20, **step}


def _depth_models(task: str, depth: int) -> dict[str, nn.Module]:
    """A ResNet of ``depth`` blocks; an ODE block of ``depth`` RK4 steps, backpropagated
    through (RK-Net) and with the adjoint (ODE-Net)."""
    if task == "ecg":
        resnet, odenet = models.ecg_resnet, models.ecg_odenet
    else:
        resnet, odenet = models.mnist_resnet, models.mnist_reference_odenet
    fixed = {"method": "rk4", "step_size": 1 / depth}
    return {"resnet": resnet(blocks=depth),
            "rk4_backprop": odenet(**fixed, adjoint=False),
            "rk4_adjoint": odenet(**fixed, adjoint=True)}


def growth(depths: list[int], values: list[float]) -> dict[str, float]:
    """How ``values`` grow with ``depths``: the least-squares slope (MiB per block or step),
    the line's R², and the ratio of the value at the largest depth to the smallest."""
    x, y = np.asarray(depths, float), np.asarray(values, float)
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (slope * x + intercept)
    total = ((y - y.mean()) ** 2).sum()
    return {"slope": float(slope), "intercept": float(intercept),
            "r2": float(1 - (residual**2).sum() / total) if total > 0 else 1.0,
            "ratio_last_first": float(y[-1] / y[0]) if y[0] else float("inf")}


def run(**overrides: Any) -> dict[str, Any]:
    """Measure every model of the configuration and the depth series of every task; return
    the JSON-serialisable result."""
    config = common.resolve(CONFIGS, overrides)
    device = torch.device(config["device"] or get_settings().device)
    start = time.perf_counter()
    with common.threads(config["threads"]):
        result = common.new_result(NAME, config, device)
        result["models"] = {}
        for name in config["models"]:
            task, factory, kwargs = MODELS[name]
            seed_everything(config["seed"])
            model = getattr(models, factory)(**kwargs)
            batch = _batch(task, config["batch_size"], config["seed"])
            result["models"][name] = {"task": task, "factory": factory, "kwargs": kwargs,
                                      **measure(model, batch, device)}
        result["depth"] = {}
        for task in config["tasks"]:
            series: dict[str, list[dict[str, Any]]] = {}
            batch = _batch(task, config["batch_size"], config["seed"])
            for depth in config["depths"]:
                seed_everything(config["seed"])
                for kind, model in _depth_models(task, depth).items():
                    series.setdefault(kind, []).append(
                        {"depth": depth, **measure(model, batch, device)})
            result["depth"][task] = {
                kind: {"points": points,
                       **{f"{meter}_growth": growth(
                           [p["depth"] for p in points], [p[f"{meter}_mib"] for p in points])
                          for meter in ("saved", "peak")}}
                for kind, points in series.items()}
        return common.finish(result, start)


def summary(result: dict[str, Any]) -> str:
    """One line per model and one per depth series."""
    first = next(iter(result["models"].values()), {})
    lines = [f"Memory of one training step, batch {result['config']['batch_size']}, "
             f"{result['hardware']['summary']}; peak: {first.get('measure')}"]
    for name, m in result["models"].items():
        lines.append(f"  {name:22s} {m['parameters']:>8,} parameters ({m['parameter_mib']:.2f} "
                     f"MiB), saved for backward {m['saved_mib']:7.1f} MiB, peak "
                     f"{m['peak_mib']:7.1f} MiB, NFE {m['nfe']}")
    for task, series in result["depth"].items():
        for kind, s in series.items():
            saved, peak = s["saved_growth"], s["peak_growth"]
            lines.append(f"  {task} {kind:13s} depth {s['points'][0]['depth']}..."
                         f"{s['points'][-1]['depth']}: saved {saved['slope']:+.2f} MiB per "
                         f"block/step (x{saved['ratio_last_first']:.1f}), peak "
                         f"{peak['slope']:+.2f} MiB per block/step "
                         f"(x{peak['ratio_last_first']:.1f})")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(common.main(NAME, run, summary))
