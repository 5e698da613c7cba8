"""How fast can an MNIST ODE-Net train, and is it still an ODE? torchdiffeq's
``odenet_mnist`` example beside the course's configurations (10_fast_neural_odes).

Every row trains on the 5,000-image subset (the first 500 training images of each digit)
with the example's optimiser (SGD, lr 0.1, momentum 0.9, batch 128) for the same number of
epochs, each seed with its own seeded initialisation and data order, and tests on the
official test images. The reference row is the example's network and solver (GroupNorm,
dopri5 at rtol = atol = 1e-3, backpropagation through the solver); the course's rows change
the solver and fold the time channel into a bias map. Networks with BatchNorm have their
statistics re-estimated after training, as lesson 08 does. The three phases (train and
re-solve accurately, time in one process, memory last) are those of
:func:`nodebook_utils.fast.run_benchmark`; an interrupted run continues where it stopped.

    python benchmarks/mnist_speed.py --quick --json /tmp/mnist_speed.json
    python benchmarks/mnist_speed.py --json benchmarks/results/mnist_speed.json
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Subset

from nodebook_utils import data, fast, models, seed_everything
from nodebook_utils.config import get_settings
from nodebook_utils.experiments.mnist import recalibrate_batchnorm
from nodebook_utils.training import count_parameters, evaluate, fit

TEST_IMAGES = 10_000  # MNIST's official test set


def row(name: str, factory: str, *, seeds: int = 1, steer: float | None = None,
        **kwargs: Any) -> fast.Row:
    """A configuration: a factory of :mod:`nodebook_utils.models` with its arguments,
    optionally trained with a random end time in [1 - steer, 1 + steer] (STEER)."""
    def build() -> nn.Module:
        model = getattr(models, factory)(**kwargs)
        return fast.steer(model, spread=steer) if steer is not None else model

    return fast.Row(name, build, seeds=seeds,
                    details={"factory": factory, "solver": kwargs, "steer": steer})


FIXED = {"step_size": 1.0, "adjoint": False, "time_as_bias": True}
CONFIGURATIONS = (
    row("resnet", "mnist_resnet", seeds=3),
    row("reference: torchdiffeq odenet_mnist, dopri5 tol 1e-3", "mnist_reference_odenet",
        seeds=3),
    # Chen et al.'s ODE-Net of Table 1: the same network trained with the adjoint (the
    # example's --adjoint flag)
    row("reference network, dopri5 tol 1e-3 + adjoint", "mnist_reference_odenet", seeds=3,
        adjoint=True),
    row("sources' ODE-Net: euler h = 0.05 + adjoint", "mnist_odenet"),
    row("reference network, rk4, 1 step, time as bias", "mnist_reference_odenet", seeds=3,
        method="rk4", **FIXED),
    row("reference network, midpoint, 1 step, time as bias", "mnist_reference_odenet",
        seeds=3, method="midpoint", **FIXED),
    row("reference network, midpoint, 1 step, time as bias, STEER 0.5",
        "mnist_reference_odenet", seeds=3, steer=0.5, method="midpoint", **FIXED),
    row("reference network, heun3, 1 step, time as bias", "mnist_reference_odenet", seeds=3,
        method="heun3", **FIXED),
    row("sources' ODE-Net, rk4, 1 step, time as bias", "mnist_odenet", method="rk4", **FIXED),
)


def task(train_set: Any, test_set: Any, *, max_batches: int | None, timing_steps: int,
         device: torch.device, name: str) -> fast.Task:
    """The MNIST task: :func:`training.fit` with the example's optimiser, BatchNorm
    re-estimated after training; the timing batches are the first of a seeded shuffle of
    the training images, the same for every row."""
    test = DataLoader(test_set, batch_size=256)

    def train(config: fast.Row, seed: int, epochs: int, checkpoint: Path
              ) -> tuple[nn.Module, dict[str, Any]]:
        seed_everything(seed)
        model = config.build().to(device)
        # a data order of its own, seeded: never what an earlier row left in a shared loader
        loader = DataLoader(train_set, batch_size=128, shuffle=True,
                            generator=torch.Generator().manual_seed(seed))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        history = fit(model, loader, epochs=epochs, optimizer=optimizer, device=device,
                      max_batches=max_batches, progress=False, loss_fn=config.loss(model),
                      checkpoint=checkpoint)
        if any(isinstance(m, nn.BatchNorm2d) for m in model.modules()):
            recalibrate_batchnorm(model, loader, device)
        tested = evaluate(model, test, device=device, progress=False)
        return model, {"test_accuracy": tested["accuracy"],
                       "parameters": count_parameters(model), "steps": sum(history.steps),
                       "epochs": sum(history.steps) / len(loader),
                       "trained_step_ms": 1000 * history.step_seconds}

    order = torch.randperm(len(train_set), generator=torch.Generator().manual_seed(0))
    batches = []
    for chunk in order[: 128 * timing_steps].split(128):
        x, y = zip(*(train_set[int(i)] for i in chunk), strict=True)
        batches.append((torch.stack(x), torch.stack(y)))
    steps_per_epoch = -(-len(train_set) // 128)
    return fast.Task(name, train, test, batches, steps_per_epoch, device)


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line, checked before anything trains."""
    parser = fast.benchmark_parser(
        __doc__.split("\n\n")[0], quick="2 epochs, one seed, 2,000 tests",
        epochs="epochs (default 10; quick: 2)",
        timing="training steps timed per configuration (default 40; quick: 10)")
    parser.add_argument("--test-images", type=int,
                        help=f"test on the first N of the {TEST_IMAGES:,} test images")
    parser.add_argument("--limit", type=int,
                        help="train on the first N images of the subset (the test set is "
                        "not cut: see --test-images)")
    parser.add_argument("--name", default="mnist_speed",
                        help="the result's name (default mnist_speed)")
    args = parser.parse_args(argv)
    fast.check_benchmark_args(parser, args, CONFIGURATIONS, positive=["test_images", "limit"])
    if args.test_images is not None and args.test_images > TEST_IMAGES:
        parser.error(f"--test-images {args.test_images:,}: MNIST has {TEST_IMAGES:,} test images")
    if args.limit is not None and args.limit > 5_000:
        parser.error(f"--limit {args.limit:,}: the subset has 5,000 images")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse(argv)
    epochs = args.epochs or (2 if args.quick else 10)
    test_images = args.test_images or (2000 if args.quick else None)
    timing_steps = args.timing_steps or (10 if args.quick else 40)
    rows = fast.select_rows(CONFIGURATIONS, args.only, args.seeds or (1 if args.quick else None))
    settings = get_settings()
    device = torch.device(settings.device)
    train_set = data.mnist_dataset("train", 500, args.limit)
    test_set = data.mnist_dataset("test", None, None)
    if test_images:
        test_set = Subset(test_set, range(test_images))
    mode = "quick" if args.quick else "full"
    info = {"mode": mode,
            "budget": {"epochs": epochs, "steps_per_epoch": args.steps,
                       "timing_steps": timing_steps, "train_images": len(train_set),
                       "test_images": len(test_set), "batch_size": 128,
                       "optimizer": "SGD lr 0.1 momentum 0.9"}}
    weights = args.weights or settings.data_dir / "benchmarks" / f"{args.name}-{mode}"
    if args.fresh and weights.exists():
        shutil.rmtree(weights)
    return fast.run_benchmark(
        rows, task(train_set, test_set, max_batches=args.steps, timing_steps=timing_steps,
                   device=device, name=args.name),
        baseline="resnet", original="reference", json_path=args.json, weights=weights,
        epochs=epochs, info=info, train_only=args.train_only)


if __name__ == "__main__":
    main()
