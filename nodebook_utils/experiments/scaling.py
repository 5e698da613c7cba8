"""How memory, time and error scale: one training step measured with two memory meters,
against depth and number of steps, and a solver's error and time against its tolerance
(06_adjoint_method, 09_ecg_resnet_vs_node; the reproduction report).

The Math 179 report says its Neural ODE needs "less than one third of the memory cost" of
its ResNet, a figure that follows from the parameter counts (59,333 / 182,853 = 0.32).
Chen et al. (2018) give in Table 1 the memory of a ResNet as O(L) in its depth L, of an
ODE-Net trained with the adjoint as O(1) and of an RK-Net (backpropagation through a
Runge-Kutta solver) as O(L~) in its number of function evaluations, and the time of all
three as O(L) or O(L~); their Figure 3 shows the error controlled by the tolerance and the
time proportional to the NFE. The Review of Literature says RK4's error falls as h^4 and
Euler's as h. This experiment measures each of these:

- ``models``: for one training step (forward, cross-entropy, backward) at the sources' batch
  size of the sources' networks: ``parameter_mib`` (what the report's figure counts),
  ``saved_mib`` (the tensors autograd keeps for the backward pass: lesson 06's meter) and
  ``peak_mib`` (the peak tensor memory at PyTorch's allocator during the whole step:
  :func:`~nodebook_utils.memory.peak_memory`);
- ``depth``: the same meters and the step's median time for a ResNet of L blocks and an ODE
  block of n RK4 steps, with and without the adjoint;
- ``tolerance``: the ECG ODE block solved forward with dopri5 at tolerances 1e-1 ... 1e-6:
  NFE, time, and the error against a float64 solve at 1e-10;
- ``orders``: the global error of torchdiffeq's ``euler`` and ``rk4`` at t = 1 on the
  spiral's linear system against the matrix exponential, for halving step sizes, and the
  observed order (the slope of log error against log h);
- ``blocks``: the parameters of one residual block and of the ODE block.

Every time is measured before the first memory measurement of the process (the profiler
that the CPU meter uses must not run before anything is timed). Each network is built with
the same seed and measured at initialisation: an adaptive solver's NFE, and so its time and
memory, change as training changes the weights.

``python -m nodebook_utils.experiments.scaling --mode standard --out results`` writes
``results/scaling-standard.json``.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np
import torch
import torchdiffeq
from torch import nn

from .. import models, seed_everything
from ..config import get_settings
from ..fast import median_ms
from ..memory import training_step_memory
from ..training import count_parameters, unchanged
from . import common, spiral

NAME = "scaling"

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
    "tolerances": [1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6],
    "step_sizes": [1 / 4, 1 / 8, 1 / 16, 1 / 32, 1 / 64, 1 / 128],
    "repeats": 3,
    "seed": 0,
    "threads": None,
    "device": None,
}
CONFIGS = {
    "fast": {**_STANDARD, "batch_size": 8, "depths": [1, 2, 4], "tolerances": [1e-2, 1e-4],
             "repeats": 1},
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


def step_ms(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor], device: torch.device,
            repeats: int) -> float:
    """The median time of one training step (forward, cross-entropy, backward) in ms."""
    x, y = (t.to(device) for t in batch)
    model = model.to(device)

    def step() -> None:
        torch.nn.functional.cross_entropy(model(x), y).backward()
        model.zero_grad(set_to_none=True)

    with unchanged(model):
        model.train()
        return median_ms(step, repeats=repeats, device=device)


def tolerance_series(tolerances: list[float], batch: torch.Tensor, device: torch.device,
                     repeats: int, seed: int = 0) -> list[dict[str, Any]]:
    """The ECG ODE block (at initialisation) solved forward by dopri5 at each tolerance
    (rtol = atol): NFE, median time in ms, and the largest error against a float64 solve at
    rtol = atol = 1e-10 (Chen et al. 2018, Figure 3 a and b). The network is built with
    ``seed``."""
    seed_everything(seed)
    net = models.ecg_odenet().to(device)
    block = models.ode_blocks(net)[0]
    t = torch.tensor([0.0, 1.0], device=device)
    rows = []
    with torch.no_grad():
        z0 = net[0](batch.to(device))
        reference = torchdiffeq.odeint(block.func.double(), z0.double(), t.double(),
                                       rtol=1e-10, atol=1e-10, method="dopri5")[-1]
        block.func.float()
        for tol in tolerances:
            def solve(tol: float = tol) -> torch.Tensor:
                return torchdiffeq.odeint(block.func, z0, t, rtol=tol, atol=tol,
                                          method="dopri5")[-1]

            block.reset_nfe()
            out = solve()
            nfe = block.reset_nfe()
            rows.append({"tolerance": tol, "nfe": nfe,
                         "error": float((out.double() - reference).abs().max()),
                         "forward_ms": median_ms(solve, repeats=repeats, device=device)})
    return rows


def order_series(step_sizes: list[float]) -> dict[str, Any]:
    """Global error at t = 1 of torchdiffeq's euler and rk4 on the spiral's linear system
    dy/dt = A y from y(0) = (2, 0), in float64, against the matrix exponential; the observed
    order is the slope of log(error) against log(h) over the three smallest steps."""
    a = torch.tensor(spiral.CONFIGS["standard"]["A"], dtype=torch.float64)
    y0 = torch.tensor([2.0, 0.0], dtype=torch.float64)
    exact = torch.linalg.matrix_exp(a) @ y0
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    out: dict[str, Any] = {}
    for method in ("euler", "rk4"):
        errors = []
        for h in step_sizes:
            y1 = torchdiffeq.odeint(lambda _, y: a @ y, y0, t, method=method,
                                    options={"step_size": h})[-1]
            errors.append(float((y1 - exact).abs().max()))
        slope = np.polyfit(np.log(step_sizes[-3:]), np.log(errors[-3:]), 1)[0]
        out[method] = {"step_sizes": step_sizes, "errors": errors, "order": float(slope)}
    return out


def run(**overrides: Any) -> dict[str, Any]:
    """Time, then measure memory, as the module docstring says; return the result."""
    config = common.resolve(CONFIGS, overrides)
    device = torch.device(config["device"] or get_settings().device)
    start = time.perf_counter()
    with common.threads(config["threads"]):
        result = common.new_result(NAME, config, device)
        seed, repeats = config["seed"], config["repeats"]
        result["blocks"] = {
            "ecg_residual_block": count_parameters(models.PreActBlock1d()),
            "ecg_ode_block": count_parameters(models.ConcatConvDynamics()),
            "ecg_resnet_blocks": sum(isinstance(m, models.PreActBlock1d)
                                     for m in models.ecg_resnet().modules()),
        }
        result["orders"] = order_series(config["step_sizes"])
        # 1. everything timed, before the first memory measurement of this process
        result["tolerance"] = tolerance_series(
            config["tolerances"], _batch("ecg", config["batch_size"], seed)[0], device, repeats,
            seed)
        built: dict[str, dict[str, list[nn.Module]]] = {}
        result["depth"] = {}
        for task in config["tasks"]:
            batch = _batch(task, config["batch_size"], seed)
            series: dict[str, list[dict[str, Any]]] = {}
            for depth in config["depths"]:
                seed_everything(seed)
                for kind, model in _depth_models(task, depth).items():
                    built.setdefault(task, {}).setdefault(kind, []).append(model)
                    series.setdefault(kind, []).append(
                        {"depth": depth, "step_ms": step_ms(model, batch, device, repeats)})
            result["depth"][task] = {kind: {"points": points} for kind, points in series.items()}
        # 2. memory
        result["models"] = {}
        for name in config["models"]:
            task, factory, kwargs = MODELS[name]
            seed_everything(seed)
            model = getattr(models, factory)(**kwargs)
            result["models"][name] = {"task": task, "factory": factory, "kwargs": kwargs,
                                      **measure(model, _batch(task, config["batch_size"], seed),
                                                device)}
        for task, by_kind in result["depth"].items():
            batch = _batch(task, config["batch_size"], seed)
            for kind, entry in by_kind.items():
                for point, model in zip(entry["points"], built[task][kind], strict=True):
                    point.update(measure(model, batch, device))
                depths = [p["depth"] for p in entry["points"]]
                for key in ("saved_mib", "peak_mib", "step_ms"):
                    entry[key.split("_")[0] + "_growth"] = growth(
                        depths, [p[key] for p in entry["points"]])
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
                         f"(x{peak['ratio_last_first']:.1f}), time "
                         f"x{s['step_growth']['ratio_last_first']:.1f}")
    for row in result["tolerance"]:
        lines.append(f"  dopri5 tolerance {row['tolerance']:.0e}: NFE {row['nfe']}, error "
                     f"{row['error']:.2e}, {row['forward_ms']:.0f} ms")
    for method, o in result["orders"].items():
        lines.append(f"  {method}: observed order {o['order']:.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(common.main(NAME, run, summary))
