"""How the NFE of an adaptive solver grows while a Neural ODE trains, what keeps it down, and
how training blows up (11_when_neural_odes_go_wrong).

The task is the nested circles of Dupont, Doucet & Teh (2019, "Augmented Neural ODEs"): points
inside radius 0.5 are one class, points between radii 1 and 1.5 the other. A Neural ODE on
the plane cannot pull the inner disc out of the ring (its flow is a homeomorphism): Dupont et
al. show that it can approximate such a function only with complex flows, which are expensive
to solve. Each configuration trains
``dh/dt = MLP(h)`` (two hidden layers) on the plane, followed by a linear classifier, with
Adam, for ``iterations`` steps of a fresh batch each, and records the forward NFE of every
step:

- ``plain``: dopri5 at rtol = atol = 1e-3;
- ``regularised``: the same, trained with the kinetic-energy and Jacobian-norm penalties of
  Finlay et al. (2020) (:class:`~nodebook_utils.fast.RegularisedODEBlock`);
- ``loose``: the same at rtol = atol = 1e-2;
- ``unbounded``: ReLU instead of tanh and a learning rate 30 times larger: the usual recipe
  for a blow-up; training stops at the first failed solve, and the step is recorded.

A solve fails when torchdiffeq stops it: its step size underflows, its state is no longer
finite, or it needs more than ``max_steps`` steps (60; the healthy configurations stay below
half of that, which lesson 11 checks in its run).

Each seed draws its own initial weights and its own sequence of batches (seeded), and every
configuration of a seed sees the same batches. ``python -m
nodebook_utils.experiments.nfe_growth --mode standard --out results`` writes the JSON.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .. import seed_everything
from ..config import get_settings
from ..fast import RegularisedODEBlock, regularised_loss
from ..models import ODEBlock, ode_blocks
from . import common

NAME = "nfe_growth"

#: The configurations: solver tolerance, penalty weight, activation and learning rate.
CONFIGURATIONS: dict[str, dict[str, Any]] = {
    "plain": {"tol": 1e-3, "penalty": 0.0, "activation": "tanh", "lr": 0.03},
    "regularised": {"tol": 1e-3, "penalty": 0.1, "activation": "tanh", "lr": 0.03},
    "loose": {"tol": 1e-2, "penalty": 0.0, "activation": "tanh", "lr": 0.03},
    "unbounded": {"tol": 1e-3, "penalty": 0.0, "activation": "relu", "lr": 1.0},
}

_STANDARD = {
    "configurations": ["plain", "regularised", "loose"],
    "seeds": [0, 1, 2],
    "iterations": 200,
    "batch": 256,
    "hidden": 32,
    "test_points": 2000,
    "max_steps": 60,  # dopri5 steps (accepted + rejected) in one solve before it counts as failed
    "threads": None,
    "device": None,
}
CONFIGS = {
    "fast": {**_STANDARD, "seeds": [0, 1], "iterations": 12, "test_points": 256},
    "standard": _STANDARD,
    "full": {**_STANDARD, "seeds": list(range(5)), "iterations": 1000},
}


def nested_circles(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points, half inside radius 0.5 (class 0), half with radius in [1, 1.5] (class 1),
    at uniform angles (Dupont et al., 2019)."""
    inner = n // 2
    radius = torch.cat([0.5 * torch.rand(inner, generator=generator),
                        1.0 + 0.5 * torch.rand(n - inner, generator=generator)])
    angle = 2 * math.pi * torch.rand(n, generator=generator)
    x = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)
    y = torch.cat([torch.zeros(inner), torch.ones(n - inner)]).long()
    return x, y


class PlaneDynamics(nn.Module):
    """``dh/dt = MLP(h)`` on the plane: 2 → hidden → hidden → 2, tanh or ReLU."""

    def __init__(self, hidden: int = 32, activation: str = "tanh") -> None:
        super().__init__()
        act = {"tanh": nn.Tanh, "relu": nn.ReLU}[activation]
        self.net = nn.Sequential(nn.Linear(2, hidden), act(), nn.Linear(hidden, hidden), act(),
                                 nn.Linear(hidden, 2))

    def forward(self, t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """The velocity at ``h`` (autonomous: ``t`` is ignored)."""
        return self.net(h)


def circles_model(configuration: str, hidden: int = 32, max_steps: int = 60) -> nn.Module:
    """The ODE block of ``configuration`` (:data:`CONFIGURATIONS`) and a linear classifier."""
    c = CONFIGURATIONS[configuration]
    kwargs = {"rtol": c["tol"], "atol": c["tol"], "options": {"max_num_steps": max_steps}}
    func = PlaneDynamics(hidden, c["activation"])
    block = (RegularisedODEBlock(func, kinetic=c["penalty"], jacobian=c["penalty"], **kwargs)
             if c["penalty"] else ODEBlock(func, **kwargs))
    return nn.Sequential(block, nn.Linear(2, 2))


def train_one(configuration: str, seed: int, config: dict[str, Any], device: torch.device,
              *, keep_model: bool = False) -> dict[str, Any]:
    """Train one configuration for one seed; the forward NFE and loss of every step, the
    test accuracy at the end (on points drawn with the seed's own test generator) and, if a
    solve failed, the step and torchdiffeq's message (training stops there), with the batch
    it failed on. ``keep_model`` adds the model as it was when training stopped (under
    ``"model"``, not JSON-serialisable)."""
    seed_everything(seed)
    model = circles_model(configuration, config["hidden"], config["max_steps"]).to(device)
    c = CONFIGURATIONS[configuration]
    optimizer = torch.optim.Adam(model.parameters(), lr=c["lr"])
    loss_fn = regularised_loss(model) if c["penalty"] else F.cross_entropy
    batches = torch.Generator().manual_seed(1000 + seed)  # the same batches in every config
    blocks = ode_blocks(model)
    nfe, losses, failure = [], [], None
    start = time.perf_counter()
    for step in range(config["iterations"]):
        x, y = (v.to(device) for v in nested_circles(config["batch"], batches))
        for block in blocks:
            block.reset_nfe()
        try:
            out = model(x)
        except AssertionError as error:  # torchdiffeq: underflow in dt, max_num_steps, ...
            failure = {"step": step, "message": str(error).split(":")[0][:120]}
            failed_batch = (x, y)
            break
        nfe.append(sum(block.reset_nfe() for block in blocks))
        loss = loss_fn(out, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    seconds = time.perf_counter() - start
    accuracy = None
    if failure is None:
        test = torch.Generator().manual_seed(2000 + seed)
        x, y = (v.to(device) for v in nested_circles(config["test_points"], test))
        model.eval()
        with torch.no_grad():
            accuracy = float((model(x).argmax(1) == y).double().mean())
    out = {"configuration": configuration, "seed": seed, "nfe": nfe, "loss": losses,
           "accuracy": accuracy, "failure": failure, "seconds": seconds,
           "steps_trained": len(losses)}
    if keep_model:
        out["model"] = model
        out["failed_batch"] = failed_batch if failure else None
    return out


def run(**overrides: Any) -> dict[str, Any]:
    """Train every configuration for every seed (``CONFIGS[mode]`` updated with
    ``overrides``); return the JSON-serialisable result with one run per pair."""
    config = common.resolve(CONFIGS, overrides)
    unknown = sorted(set(config["configurations"]) - set(CONFIGURATIONS))
    if unknown:
        raise ValueError(f"unknown configurations {unknown}; choose from {list(CONFIGURATIONS)}")
    device = torch.device(config["device"] or get_settings().device)
    start = time.perf_counter()
    with common.threads(config["threads"]):
        result = common.new_result(NAME, config, device)
        result["runs"] = [train_one(name, seed, config, device)
                          for seed in config["seeds"] for name in config["configurations"]]
        return common.finish(result, start)


def runs_of(result: dict[str, Any], configuration: str) -> list[dict[str, Any]]:
    """The runs of one configuration, one per seed."""
    return [r for r in result["runs"] if r["configuration"] == configuration]


def summary(result: dict[str, Any]) -> str:
    """One line per configuration: NFE at the start and the end, accuracy, failures."""
    lines = [f"NFE growth, {result['mode']} mode, seeds {result['config']['seeds']}, "
             f"{result['hardware']['summary']}"]
    for name in result["config"]["configurations"]:
        runs = runs_of(result, name)
        first = [r["nfe"][0] for r in runs if r["nfe"]]
        last = [r["nfe"][-1] for r in runs if r["nfe"]]
        accuracy = [r["accuracy"] for r in runs if r["accuracy"] is not None]
        failed = [r["failure"]["step"] for r in runs if r["failure"]]
        lines.append(f"  {name:12s} NFE {first} -> {last}, accuracy "
                     f"{[round(a, 3) for a in accuracy]}, failed at steps {failed}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(common.main(NAME, run, summary))
