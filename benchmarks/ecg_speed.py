"""How fast can the ECG Neural ODE train, and is it still an ODE? One row per configuration,
beside the ResNet (10_fast_neural_odes).

Every configuration trains the Math 179 report's 59,333-parameter ODE-Net (or its
182,853-parameter ResNet) on the Kaggle protocol with the source's optimiser (SGD, lr 0.1,
momentum 0.9, batch 128) through ``experiments.ecg.train_and_test``, the function lesson 09
uses, each seed with its own seeded initialisation and data order. The run has three phases
(:func:`nodebook_utils.fast.run_benchmark`):

1. train every seed of every row for the same epochs, test it, and re-solve it accurately
   (dopri5, rtol = atol = 1e-5): "is it still an ODE?" (Ott et al., ICLR 2021);
2. time every row's trained model in one process, one row after another (the ResNet first
   and again last): a training step on the same batches, and the test set's evaluation;
3. measure the tensor memory of a training step, after all timing.

Trained weights and finished seeds are kept in ``$NODEBOOK_DATA/benchmarks/ecg_speed-<mode>``:
an interrupted run continues where it stopped when started again with the same settings.

    python benchmarks/ecg_speed.py --quick --json /tmp/ecg_speed.json   # minutes, 2 cores
    python benchmarks/ecg_speed.py --json benchmarks/results/ecg_speed.json   # the full run

Times are only compared as ratios within one run. This is a script, not a test: a test runs
it with tiny settings and checks the table's structure, never a time.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

import torch
from torch import nn

from nodebook_utils import fast, models
from nodebook_utils.config import get_settings
from nodebook_utils.experiments import ecg

ORIGINAL = {"method": "dopri5", "rtol": 1e-3, "atol": 1e-3, "adjoint": True}


def fixed(method: str, steps: int = 1) -> dict[str, Any]:
    """A fixed-step solver with ``steps`` steps on [0, 1], trained by backpropagation."""
    return {"method": method, "step_size": 1 / steps, "adjoint": False}


def row(name: str, solver: dict[str, Any] | None, *, seeds: int = 1, time_as_bias: bool = False,
        compile: bool = False, regularise: dict[str, float] | None = None,
        steer: float | None = None, notes: str = "", **extra: Any) -> fast.Row:
    """A configuration: the ResNet (``solver=None``) or the ODE-Net with ``solver``, the time
    channel as a bias map, its dynamics compiled, regularised (kinetic and Jacobian weights),
    or trained with a random end time in [1 - steer, 1 + steer] (STEER)."""
    def build() -> nn.Module:
        if solver is None:
            return models.ecg_resnet()
        model = models.ecg_odenet(**solver, time_as_bias=time_as_bias, **extra)
        if regularise:  # the same dynamics (same initial weights) in an RNODE block
            fast.regularise(model, **regularise)
        if steer is not None:
            fast.steer(model, spread=steer)
        if compile:
            for block in models.ode_blocks(model):
                block.func.func = torch.compile(block.func.func)
            warm_up(model)
        return model

    details = {"solver": solver, "options": {"time_as_bias": time_as_bias, "compile": compile,
                                             "regularise": regularise, "steer": steer, **extra}}
    return fast.Row(name, build, seeds=seeds, regularised=bool(regularise), notes=notes,
                    details=details)


CONFIGURATIONS = (
    row("resnet", None, seeds=3, notes="six pre-activation residual blocks"),
    row("original: dopri5 + adjoint, tol 1e-3", ORIGINAL, notes="the Math 179 report's solver"),
    row("dopri5, tol 1e-3, no adjoint", {**ORIGINAL, "adjoint": False},
        notes="backpropagation through the solver's steps"),
    row("dopri5 + adjoint (seminorm), tol 1e-3", ORIGINAL,
        adjoint_options={"norm": "seminorm"}, notes="Kidger, Chen & Lyons (2021)"),
    row("dopri5, tol 1e-2, no adjoint", {**ORIGINAL, "rtol": 1e-2, "atol": 1e-2,
                                         "adjoint": False}),
    row("dopri5, tol 1e-3, no adjoint, kinetic + Jacobian regularised",
        {**ORIGINAL, "adjoint": False}, regularise={"kinetic": 0.01, "jacobian": 0.01},
        notes="Finlay et al. (2020); fewer steps for the adaptive solver"),
    row("euler, 6 steps", fixed("euler", 6)),
    row("midpoint, 2 steps", fixed("midpoint", 2)),
    row("rk4, 1 step", fixed("rk4")),
    row("midpoint, 1 step, time as bias", fixed("midpoint"), time_as_bias=True, seeds=3),
    row("midpoint, 1 step, time as bias, STEER 0.5", fixed("midpoint"), time_as_bias=True,
        steer=0.5, seeds=3, notes="end time drawn from [0.5, 1.5] per batch (Ghosh et al., "
        "2020): one step of varying size"),
    row("heun3, 1 step, time as bias", fixed("heun3"), time_as_bias=True, seeds=3,
        notes="Heun's third-order method: three evaluations"),
    row("heun3, 1 step, time as bias, STEER 0.5", fixed("heun3"), time_as_bias=True,
        steer=0.5, seeds=3),
    row("midpoint, 1 step, time as bias, kinetic 0.1", fixed("midpoint"), time_as_bias=True,
        regularise={"kinetic": 0.1, "jacobian": 0.0}, seeds=3, notes="kinetic energy alone "
        "(Finlay et al., 2020): trajectories pushed towards straight lines at constant speed, "
        "which one Runge-Kutta step solves exactly"),
    row("heun3, 1 step, time as bias, kinetic 0.1", fixed("heun3"), time_as_bias=True,
        regularise={"kinetic": 0.1, "jacobian": 0.0}, seeds=3),
    row("rk4, 1 step, time as bias", fixed("rk4"), time_as_bias=True, seeds=3),
    row("rk4, 1 step, time as bias, without the last GroupNorm", fixed("rk4"),
        time_as_bias=True, output_norm=False, seeds=3, notes="a change to the architecture: "
        "the dynamics without their last GroupNorm (59,205 parameters), one normalisation "
        "fewer in each of the four evaluations"),
    row("rk4, 1 step, time as bias, torch.compile", fixed("rk4"), time_as_bias=True,
        compile=True, notes="dynamics compiled by torch.compile before training, untimed"),
)


def warm_up(model: nn.Module, batch: int = 128) -> None:
    """One forward and backward pass on zeros, gradients discarded, so that compiling (for
    the training batch's shape) is not counted as training time. GroupNorm keeps no running
    statistics, so the model is unchanged."""
    device = next(model.parameters()).device
    model(torch.zeros(batch, 1, 187, device=device)).sum().backward()
    model.zero_grad(set_to_none=True)
    for block in models.ode_blocks(model):
        block.reset_nfe()


SUBSET_SEED = 0  # the quick mode's validation and test beats


def subset_split(split: dict[str, tuple[torch.Tensor, torch.Tensor]], beats: int
                 ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """``split`` with its validation and test parts cut to ``beats`` beats each, drawn at
    random and stratified by class (:func:`fast.stratified_subset`); the training part is
    kept. The test split is ordered by record: its first beats are a few patients' only."""
    cut = dict(split)
    for part in ("val", "test"):
        x, y = split[part]
        keep = torch.from_numpy(fast.stratified_subset(y.numpy(), beats, SUBSET_SEED))
        cut[part] = (x[keep], y[keep])
    return cut


def majority_baseline(split: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> float:
    """The test accuracy of always answering the training set's most frequent class: what a
    model that has learned nothing but the class shares scores."""
    majority = int(torch.bincount(split["train"][1]).argmax())
    return float((split["test"][1] == majority).double().mean())


def task(split: dict[str, tuple[torch.Tensor, torch.Tensor]], *, max_batches: int | None,
         timing_steps: int, device: torch.device) -> fast.Task:
    """The ECG task: training through lesson 09's ``train_and_test``; the timing batches
    are the first of a seeded shuffle of the training beats, the same for every row."""
    def train(config: fast.Row, seed: int, epochs: int, checkpoint: Path
              ) -> tuple[nn.Module, dict[str, Any]]:
        built: list[nn.Module] = []

        def factory() -> nn.Module:  # called right after seeding: seeded initial weights
            built.append(config.build())
            return built[-1]

        run = ecg.train_and_test("resnet" if "resnet" in config.name else "odenet", split,
                                 epochs=epochs, max_batches=max_batches, seed=seed,
                                 device=device, progress=False, factory=factory,
                                 make_loss=config.loss if config.regularised else None,
                                 checkpoint=checkpoint)
        return built[-1], {
            "test_accuracy": run["test"]["accuracy"], "macro_f1": run["test"]["macro_f1"],
            "parameters": run["parameters"], "steps": run["budget"]["steps"],
            "epochs": run["budget"]["full_epochs"],
            "trained_step_ms": run["timing"]["train_step_ms"]}

    x, y = split["train"]
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    batches = [(x[i], y[i]) for i in order[: 128 * timing_steps].split(128)]
    test = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*split["test"]),
                                       batch_size=256)
    steps_per_epoch = -(-len(y) // 128)
    return fast.Task("ecg_speed", train, test, batches, steps_per_epoch, device)


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line, checked before anything trains."""
    parser = fast.benchmark_parser(
        __doc__.split("\n\n")[0], quick="100 steps, one seed, a test subset (minutes)",
        epochs="epochs for every configuration (default 5; quick: 1)",
        timing="training steps timed per configuration (default 100; quick: 20)")
    parser.add_argument("--test-beats", type=int,
                        help="validate and test on N beats of each, drawn at random (seed 0), "
                        "stratified by class (quick: 2048)")
    parser.add_argument("--skip-compile", action="store_true",
                        help="leave out the torch.compile configuration (compiling takes minutes)")
    parser.add_argument("--records", nargs="*", help="MIT-BIH records (default: all 48)")
    parser.add_argument("--quiet", action="store_true",
                        help="print nothing (the caller shows the result: lesson 10)")
    args = parser.parse_args(argv)
    fast.check_benchmark_args(parser, args, CONFIGURATIONS, positive=["test_beats"])
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse(argv)
    quick = args.quick
    steps = args.steps or (100 if quick else None)
    test_beats = args.test_beats or (2048 if quick else None)
    epochs = args.epochs or (1 if quick else None)  # None: each row's own (5)
    timing_steps = args.timing_steps or (20 if quick else 100)
    rows = fast.select_rows([c for c in CONFIGURATIONS if not (
        args.skip_compile and c.details["options"]["compile"])], args.only,
        args.seeds or (1 if quick else None))
    settings = get_settings()
    device = torch.device(settings.device)
    split = ecg.load_data("kaggle", records=args.records)
    if test_beats and test_beats >= len(split["test"][1]):
        test_beats = None  # the whole test split
    if test_beats:  # the validation beats are cut as well: they cost time, not the measure
        split = subset_split(split, test_beats)
    mode = "quick" if quick else "full"
    info = {
        "mode": mode, "protocol": "kaggle",
        "budget": {"epochs": epochs or 5, "steps_per_epoch": steps,
                   "timing_steps": timing_steps,
                   "test_beats": len(split["test"][1]), "train_beats": len(split["train"][1]),
                   "records": args.records or "all 48",
                   "test_subset": (f"{test_beats} beats drawn at random (seed {SUBSET_SEED}), "
                                   "stratified by class" if test_beats else "all"),
                   "test_class_counts": torch.bincount(split["test"][1], minlength=5).tolist(),
                   "majority_baseline_test_accuracy": majority_baseline(split)},
    }
    weights = args.weights or settings.data_dir / "benchmarks" / f"ecg_speed-{mode}"
    if args.fresh and weights.exists():
        shutil.rmtree(weights)
    return fast.run_benchmark(
        rows, task(split, max_batches=steps, timing_steps=timing_steps, device=device),
        baseline="resnet", original="original", json_path=args.json, weights=weights,
        epochs=epochs, info=info, quiet=args.quiet, train_only=args.train_only)


if __name__ == "__main__":
    main()
