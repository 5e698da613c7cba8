"""How fast can the ECG Neural ODE train? One row per configuration, measured in one run
beside the ResNet (10_fast_neural_odes).

Every configuration trains the Math 179 report's 59,333-parameter ODE-Net (or its
182,853-parameter ResNet) on the Kaggle protocol with the source's optimiser (SGD, lr 0.1,
momentum 0.9, batch 128) through ``experiments.ecg.train_and_test``, the function lesson 09
uses. A row holds the solver and its options, NFE per forward and backward pass, ms per
training step, seconds per epoch, seconds to evaluate the test set, peak training memory,
test accuracy (mean and standard deviation over seeds), the ratios to the ResNet of this run,
and "is it still an ODE?": the test accuracy of the trained model when its ODE is solved
accurately (dopri5, rtol = atol = 1e-5) instead of with the training solver.

    python benchmarks/ecg_speed.py --quick --json /tmp/ecg_speed.json   # < 10 min, 2 cores
    python benchmarks/ecg_speed.py --json benchmarks/results/ecg_speed.json   # the full run

Times are only compared as ratios within one run. This is a script, not a test: a test runs
it with tiny settings and checks the table's structure, never a time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from nodebook_utils import fast, models
from nodebook_utils.config import get_settings
from nodebook_utils.experiments import ecg
from nodebook_utils.experiments.common import jsonable
from nodebook_utils.memory import training_step_memory
from nodebook_utils.training import evaluate

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import add_ratios, avg, finish, mean_std  # noqa: E402


@dataclass(frozen=True)
class Configuration:
    """One row: the model, its solver options and the seeds it is trained with."""

    name: str
    solver: dict[str, Any] | None = None  # None: the ResNet
    time_as_bias: bool = False
    compile: bool = False
    regularise: dict[str, float] | None = None  # kinetic / jacobian weights (RNODE)
    full_seeds: int = 1
    full_epochs: int = 5  # the slow adaptive configurations train one epoch in the full run
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def factory(self) -> Callable[[], nn.Module]:
        """A function that builds a fresh model of this configuration."""
        def build() -> nn.Module:
            if self.solver is None:
                return models.ecg_resnet()
            model = models.ecg_odenet(**self.solver, time_as_bias=self.time_as_bias,
                                      **self.extra)
            if self.regularise:  # the same dynamics (same initial weights) in an RNODE block
                old = model[1]
                model[1] = fast.RegularisedODEBlock(
                    old.func.func, **self.regularise, method=old.method, rtol=old.rtol,
                    atol=old.atol, adjoint=old.adjoint, **old.solver_kwargs)
            if self.compile:
                for block in models.ode_blocks(model):
                    block.func.func = torch.compile(block.func.func)
                warm_up(model)
            return model
        return build


ORIGINAL = {"method": "dopri5", "rtol": 1e-3, "atol": 1e-3, "adjoint": True}
SLOW = 1  # epochs of the adaptive configurations in the full run: 5 would take about 2.5 h
CONFIGURATIONS = (
    Configuration("resnet", None, full_seeds=3, notes="six pre-activation residual blocks"),
    Configuration("original: dopri5 + adjoint, tol 1e-3", ORIGINAL, full_epochs=SLOW,
                  notes="the Math 179 report's solver"),
    Configuration("dopri5, tol 1e-3, no adjoint", {**ORIGINAL, "adjoint": False},
                  full_epochs=SLOW, notes="backpropagation through the solver's steps"),
    Configuration("dopri5 + adjoint (seminorm), tol 1e-3", ORIGINAL, full_epochs=SLOW,
                  extra={"adjoint_options": {"norm": "seminorm"}},
                  notes="Kidger, Chen & Lyons (2021)"),
    Configuration("dopri5, tol 1e-2, no adjoint", {**ORIGINAL, "rtol": 1e-2, "atol": 1e-2,
                                                   "adjoint": False}, full_epochs=SLOW),
    Configuration("dopri5, tol 1e-3, no adjoint, kinetic + Jacobian regularised",
                  {**ORIGINAL, "adjoint": False}, regularise={"kinetic": 0.01, "jacobian": 0.01},
                  full_epochs=SLOW,
                  notes="Finlay et al. (2020); fewer steps for the adaptive solver"),
    Configuration("euler, 6 steps", {"method": "euler", "step_size": 1 / 6, "adjoint": False}),
    Configuration("midpoint, 2 steps", {"method": "midpoint", "step_size": 1 / 2,
                                        "adjoint": False}),
    Configuration("rk4, 1 step", {"method": "rk4", "step_size": 1.0, "adjoint": False}),
    Configuration("midpoint, 1 step, time as bias", {"method": "midpoint", "step_size": 1.0,
                                                     "adjoint": False},
                  time_as_bias=True, full_seeds=3),
    Configuration("rk4, 1 step, time as bias", {"method": "rk4", "step_size": 1.0,
                                                "adjoint": False}, time_as_bias=True),
    Configuration("rk4, 1 step, time as bias, torch.compile", {"method": "rk4", "step_size": 1.0,
                                                               "adjoint": False},
                  time_as_bias=True, compile=True,
                  notes="dynamics compiled by torch.compile; compiled before training, untimed"),
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


def still_an_ode(model: nn.Module, loader: DataLoader, device: torch.device) -> dict[str, Any]:
    """Test accuracy and NFE when the trained model's ODE blocks are solved accurately
    (:data:`fast.ACCURATE`), the training solver restored afterwards (Ott et al., ICLR 2021)."""
    with fast.accurate_solve(model):
        result = evaluate(model, loader, device=device, progress=False)
    return {"accuracy": result["accuracy"], "nfe": result.get("nfe"), **fast.ACCURATE}


def measure(config: Configuration, split: dict, *, seeds: int, epochs: int,
            max_batches: int | None, device: torch.device, check_ode: bool) -> dict[str, Any]:
    """Train ``config`` once per seed and summarise the runs as one row."""
    runs, accurate, built = [], [], []
    build = config.factory()

    def factory() -> nn.Module:  # keeps the trained model for the accurate solve
        built.append(build())
        return built[-1]

    for seed in range(seeds):
        run = ecg.train_and_test("resnet" if config.solver is None else "odenet", split,
                                 epochs=epochs, max_batches=max_batches, seed=seed,
                                 device=device, progress=False, factory=factory,
                                 make_loss=fast.regularised_loss if config.regularise else None)
        runs.append(run)
        if check_ode and config.solver is not None and seed == 0:  # the first seed's model
            test = DataLoader(TensorDataset(*split["test"]), batch_size=256)
            accurate.append(still_an_ode(built[-1], test, device))
    # after this row's timed training; the meter changes nothing about the model
    train = DataLoader(TensorDataset(*split["train"]), batch_size=128)
    memory = training_step_memory(built[0], next(iter(train)), device)
    accuracy = mean_std([r["test"]["accuracy"] for r in runs])
    first = runs[0]
    row = {
        "name": config.name,
        "notes": config.notes,
        "solver": config.solver,
        "options": {"time_as_bias": config.time_as_bias, "compile": config.compile,
                    "regularise": config.regularise, **config.extra},
        "parameters": first["parameters"],
        "seeds": seeds,
        "steps": first["budget"]["steps"],
        "epochs": first["budget"]["full_epochs"],
        "nfe_forward": avg(r["nfe"]["forward_mean"] for r in runs),
        "nfe_backward": avg(r["nfe"]["backward_mean"] for r in runs),
        "train_step_ms": avg(r["timing"]["train_step_ms"] for r in runs),
        "seconds_per_epoch": avg(r["timing"]["seconds_per_epoch"] for r in runs),
        "eval_test_seconds": avg(r["timing"]["eval_test_seconds"] for r in runs),
        "eval_nfe": avg(r["nfe"]["eval_mean"] for r in runs),
        "peak_memory_mb": memory["peak_mib"],
        "saved_memory_mb": memory["saved_mib"],
        "memory_measure": memory["measure"],
        "test_accuracy_mean": accuracy[0],
        "test_accuracy_std": accuracy[1],
        "test_accuracies": [r["test"]["accuracy"] for r in runs],
        "macro_f1_mean": avg(r["test"]["macro_f1"] for r in runs),
    }
    if accurate:
        row["accurate_solve"] = {  # seed 0's model, beside its accuracy with its own solver
            "solver": fast.ACCURATE,
            "seeds": len(accurate),
            "test_accuracy_mean": mean_std([a["accuracy"] for a in accurate])[0],
            "training_solver_accuracy": runs[0]["test"]["accuracy"],
            "nfe": avg(a["nfe"] for a in accurate),
        }
    return row


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


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="100 steps, one seed, a test subset (under 10 min)")
    parser.add_argument("--json", type=Path, help="write {hardware, rows, ...} here")
    parser.add_argument("--only", nargs="*", help="configuration names to run (and resnet)")
    parser.add_argument("--steps", type=int, help="training steps per epoch (default: all)")
    parser.add_argument("--epochs", type=int, help="epochs for every configuration "
                        "(default: 5, 1 for the slow adaptive ones; quick: 1)")
    parser.add_argument("--seeds", type=int, help="seeds for every configuration")
    parser.add_argument("--test-beats", type=int,
                        help="validate and test on N beats of each, drawn at random (seed 0), "
                        "stratified by class (quick: 2048)")
    parser.add_argument("--skip-compile", action="store_true",
                        help="leave out the torch.compile configuration (compiling takes minutes)")
    parser.add_argument("--records", nargs="*", help="MIT-BIH records (default: all 48)")
    parser.add_argument("--quiet", action="store_true",
                        help="print nothing (the caller shows the result: lesson 10)")
    args = parser.parse_args(argv)
    quick = args.quick
    steps = args.steps or (100 if quick else None)
    test_beats = args.test_beats or (2048 if quick else None)
    configs = [c for c in CONFIGURATIONS
               if (not args.only or c.name == "resnet" or c.name in args.only)
               and not (args.skip_compile and c.compile)]
    device = torch.device(get_settings().device)
    start = time.perf_counter()
    split = ecg.load_data("kaggle", records=args.records)
    if test_beats and test_beats >= len(split["test"][1]):
        test_beats = None  # the whole test split
    if test_beats:  # the validation beats are cut as well: they cost time, not the measure
        split = subset_split(split, test_beats)
    rows = []
    for config in configs:
        seeds = args.seeds or (1 if quick else config.full_seeds)
        epochs = args.epochs or (1 if quick else config.full_epochs)
        rows.append(measure(config, split, seeds=seeds, epochs=epochs, max_batches=steps,
                            device=device, check_ode=True))
        if not args.quiet:
            print(f"{config.name}: {rows[-1]['train_step_ms']:.0f} ms/step, test accuracy "
                  f"{rows[-1]['test_accuracy_mean']:.4f}", file=sys.stderr, flush=True)
        if args.json:  # what is measured so far survives a crash or an interruption
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.with_suffix(".partial.json").write_text(json.dumps(jsonable(rows)),
                                                              encoding="utf-8")
    add_ratios(rows, "resnet", "original")
    return finish({
        "benchmark": "ecg_speed",
        "mode": "quick" if quick else "full",
        "protocol": "kaggle",
        "budget": {"epochs": sorted({row["epochs"] for row in rows}), "steps_per_epoch": steps,
                   "test_beats": len(split["test"][1]), "train_beats": len(split["train"][1]),
                   "test_subset": (f"{test_beats} beats drawn at random (seed {SUBSET_SEED}), "
                                   "stratified by class" if test_beats else "all"),
                   "test_class_counts": torch.bincount(split["test"][1], minlength=5).tolist(),
                   "majority_baseline_test_accuracy": majority_baseline(split)},
    }, rows, device, start, args.json, quiet=args.quiet)


if __name__ == "__main__":
    main()
