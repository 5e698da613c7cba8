"""How fast can an MNIST ODE-Net train? torchdiffeq's ``odenet_mnist`` example beside the
course's configurations, measured in one run (10_fast_neural_odes).

Every row trains on the 5,000-image subset (the first 500 training images of each digit)
with the example's optimiser (SGD, lr 0.1, momentum 0.9, batch 128) for the same number of
epochs and tests on the official test images. The reference row is the example's network and
solver (GroupNorm, dopri5 at rtol = atol = 1e-3, backpropagation through the solver); the
course's rows change the solver and fold the time channel into a bias map. Networks with
BatchNorm have their statistics re-estimated after training, as lesson 08 does. Each ODE
row also reports its accuracy when solved accurately (dopri5, rtol = atol = 1e-5).

    python benchmarks/mnist_speed.py --quick --json /tmp/mnist_speed.json
    python benchmarks/mnist_speed.py --json benchmarks/results/mnist_speed.json
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Subset

from nodebook_utils import data, models, seed_everything
from nodebook_utils.config import get_settings
from nodebook_utils.experiments.mnist import recalibrate_batchnorm
from nodebook_utils.memory import training_step_memory
from nodebook_utils.training import count_parameters, evaluate, fit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import add_ratios, avg, finish, mean_std  # noqa: E402
from ecg_speed import still_an_ode  # noqa: E402


@dataclass(frozen=True)
class Configuration:
    """One row: a factory of :mod:`nodebook_utils.models`, its arguments and seeds."""

    name: str
    factory: str
    kwargs: dict[str, Any]
    full_seeds: int = 1

    def build(self) -> nn.Module:
        """A fresh model of this configuration."""
        return getattr(models, self.factory)(**self.kwargs)


FIXED = {"step_size": 1.0, "adjoint": False, "time_as_bias": True}
CONFIGURATIONS = (
    Configuration("resnet", "mnist_resnet", {}),
    Configuration("reference: torchdiffeq odenet_mnist, dopri5 tol 1e-3",
                  "mnist_reference_odenet", {}, full_seeds=3),
    # Chen et al.'s ODE-Net of Table 1: the same network trained with the adjoint (the
    # example's --adjoint flag); run on its own with --only ... --name mnist_speed_adjoint
    Configuration("reference network, dopri5 tol 1e-3 + adjoint", "mnist_reference_odenet",
                  {"adjoint": True}, full_seeds=3),
    Configuration("sources' ODE-Net: euler h = 0.05 + adjoint", "mnist_odenet", {}),
    Configuration("reference network, rk4, 1 step, time as bias", "mnist_reference_odenet",
                  {"method": "rk4", **FIXED}, full_seeds=3),
    Configuration("reference network, midpoint, 1 step, time as bias", "mnist_reference_odenet",
                  {"method": "midpoint", **FIXED}, full_seeds=3),
    Configuration("sources' ODE-Net, rk4, 1 step, time as bias", "mnist_odenet",
                  {"method": "rk4", **FIXED}),
)


def measure(config: Configuration, train: DataLoader, test: DataLoader, *, seeds: int,
            epochs: int, max_batches: int | None, device: torch.device) -> dict[str, Any]:
    """Train ``config`` once per seed and summarise the runs as one row."""
    runs = []
    for seed in range(seeds):
        seed_everything(seed)
        model = config.build().to(device)
        # a data order of its own, seeded: never what an earlier row left in a shared loader
        loader = DataLoader(train.dataset, batch_size=train.batch_size, shuffle=True,
                            generator=torch.Generator().manual_seed(seed))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        history = fit(model, loader, epochs=epochs, optimizer=optimizer, device=device,
                      max_batches=max_batches, progress=False)
        if any(isinstance(m, nn.BatchNorm2d) for m in model.modules()):
            recalibrate_batchnorm(model, loader, device)
        tested = evaluate(model, test, device=device, progress=False)
        accurate = (still_an_ode(model, test, device) if models.ode_blocks(model) else None)
        runs.append({"history": history, "tested": tested, "model": model,
                     "accurate": accurate, "parameters": count_parameters(model)})
    # after this row's timed training; the meter changes nothing about the model
    memory = training_step_memory(runs[0]["model"], next(iter(train)), device)
    for r in runs:
        r["memory"] = memory
    accuracy = mean_std([r["tested"]["accuracy"] for r in runs])
    steps_per_epoch = len(train) if max_batches is None else min(max_batches, len(train))
    row = {
        "name": config.name,
        "factory": config.factory,
        "solver": config.kwargs,
        "parameters": runs[0]["parameters"],
        "seeds": seeds,
        "epochs": epochs,
        "steps": sum(runs[0]["history"].steps),
        "nfe_forward": avg(avg(r["history"].nfe_forward) for r in runs),
        "nfe_backward": avg(avg(r["history"].nfe_backward) for r in runs),
        "train_step_ms": avg(1000 * r["history"].step_seconds for r in runs),
        "seconds_per_epoch": avg(r["history"].step_seconds * steps_per_epoch for r in runs),
        "eval_test_seconds": avg(r["tested"]["seconds"] for r in runs),
        "eval_nfe": avg(r["tested"].get("nfe") for r in runs),
        "peak_memory_mb": memory["peak_mib"],
        "saved_memory_mb": memory["saved_mib"],
        "memory_measure": memory["measure"],
        "test_accuracy": accuracy[0],
        "test_accuracy_mean": accuracy[0],
        "test_accuracy_std": accuracy[1],
        "test_accuracies": [r["tested"]["accuracy"] for r in runs],
    }
    if runs[0]["accurate"] is not None:
        row["accurate_solve"] = {
            "solver": runs[0]["accurate"] and {k: runs[0]["accurate"][k]
                                               for k in ("method", "rtol", "atol")},
            "test_accuracy_mean": avg(r["accurate"]["accuracy"] for r in runs),
            "nfe": avg(r["accurate"]["nfe"] for r in runs),
        }
    return row


def loaders(test_images: int | None, limit: int | None) -> tuple[DataLoader, DataLoader]:
    """The 5,000-image subset (batch 128, shuffled) and the test set (batch 256)."""
    train, test = data.mnist_loaders(500, 128, 256, limit=limit, seed=0)
    if test_images:
        test = DataLoader(Subset(test.dataset, range(test_images)), batch_size=256)
    return train, test


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 epochs, one seed, 2,000 tests")
    parser.add_argument("--json", type=Path, help="write {hardware, rows, ...} here")
    parser.add_argument("--only", nargs="*", help="configuration names (resnet always runs)")
    parser.add_argument("--epochs", type=int, help="epochs (default 10; quick: 2)")
    parser.add_argument("--steps", type=int, help="at most this many steps per epoch")
    parser.add_argument("--seeds", type=int, help="seeds for every configuration")
    parser.add_argument("--test-images", type=int, help="test on the first N test images")
    parser.add_argument("--limit", type=int, help="train on the first N subset images")
    parser.add_argument("--name", default="mnist_speed",
                        help="the result's name (a run of selected rows: e.g. mnist_speed_adjoint)")
    args = parser.parse_args(argv)
    epochs = args.epochs or (2 if args.quick else 10)
    test_images = args.test_images or (2000 if args.quick else None)
    configs = [c for c in CONFIGURATIONS
               if not args.only or c.name == "resnet" or c.name in args.only]
    device = torch.device(get_settings().device)
    start = time.perf_counter()
    train, test = loaders(test_images, args.limit)
    rows = []
    for config in configs:
        seeds = args.seeds or (1 if args.quick else config.full_seeds)
        rows.append(measure(config, train, test, seeds=seeds, epochs=epochs,
                            max_batches=args.steps, device=device))
        print(f"{config.name}: {rows[-1]['train_step_ms']:.0f} ms/step, test accuracy "
              f"{rows[-1]['test_accuracy']:.4f}", file=sys.stderr, flush=True)
    add_ratios(rows, "resnet", "reference")
    return finish({
        "benchmark": args.name,
        "mode": "quick" if args.quick else "full",
        "budget": {"epochs": epochs, "steps_per_epoch": args.steps,
                   "train_images": len(train.dataset), "test_images": len(test.dataset),
                   "batch_size": 128, "optimizer": "SGD lr 0.1 momentum 0.9"},
    }, rows, device, start, args.json)


if __name__ == "__main__":
    main()
