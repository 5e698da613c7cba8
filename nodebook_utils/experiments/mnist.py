"""MNIST: the Review of Literature's ODE-Net against a ResNet (08_mnist_odenet).

The source trained an ODE-Net (a convolutional stem, one ODE block whose dynamics are two
convolutions that see the time, a head; BatchNorm throughout; 208,010 parameters) with
fixed-step Euler (h = 0.05, 20 steps) and its own adjoint, Adam (lr 1e-3), batch 32, for 5
epochs on the 60,000 training images, and claimed 10.28% -> 99.23% test accuracy. This
experiment trains that ODE-Net with Euler as the source did and with Dopri5, and a ResNet
with six residual blocks in place of the ODE block, and measures for each the untrained and
trained test accuracy, the time per epoch and the NFE of the forward and backward pass.

Standard mode trains on the 5,000-image subset (the first 500 training images of each
digit) and tests on all 10,000 official test images, one seed; full mode trains the
Review's ODE-Net (Euler) and the ResNet for 5 epochs on all 60,000 training images with
three seeds (46 minutes per seed with one torch thread on the development machine, so the
command line saves a partial result after each model and resumes from it). Chen et al.'s
Table 1 is judged with torchdiffeq's own MNIST network (``benchmarks/mnist_speed.py``), not
with these models.
Every model and seed gets its own seeded data order (a generator of its own), so a model's
batches do not depend on what ran before it.

BatchNorm inside the dynamics keeps one set of running statistics for every time t, and with
the adjoint method every evaluation of the backward solve, on states reconstructed backwards
in time, updates them too. The test accuracy with the statistics as trained can therefore
swing by several points from epoch to epoch. Each model is tested twice: as trained, and
after its BatchNorm statistics are re-estimated with forward passes over the training set
(``torch.optim.swa_utils.update_bn``; no weight changes). ``test_accuracy`` is the second.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import update_bn
from torch.utils.data import DataLoader, TensorDataset

from .. import data, models, seed_everything
from ..config import get_settings
from ..training import count_parameters, evaluate, fit
from . import common

NAME = "mnist"
#: The models: a factory of :mod:`nodebook_utils.models` and its arguments.
MODELS = {
    "odenet_euler": ("mnist_odenet", {"method": "euler", "step_size": 0.05, "adjoint": True}),
    "odenet_dopri5": ("mnist_odenet", {"method": "dopri5", "step_size": None, "rtol": 1e-3,
                                       "atol": 1e-3, "adjoint": True}),
    "resnet": ("mnist_resnet", {}),
}

_STANDARD = {
    "models": ["odenet_euler", "odenet_dopri5", "resnet"],
    "epochs": {"odenet_euler": 6, "odenet_dopri5": 6, "resnet": 6},
    "per_class": 500,
    "limit": None,
    "max_batches": None,
    "batch_size": 32,
    "test_batch_size": 128,
    "lr": 1e-3,
    "seeds": [0],
    "recalibrate_bn": True,
    "threads": None,
    "device": None,
}
CONFIGS = {
    "fast": {**_STANDARD, "epochs": {name: 1 for name in MODELS}, "limit": 512,
             "max_batches": 6},
    "standard": _STANDARD,
    "full": {**_STANDARD, "models": ["odenet_euler", "resnet"],
             "epochs": {name: 5 for name in MODELS}, "per_class": None, "seeds": [0, 1, 2]},
}


def build_model(name: str) -> nn.Module:
    """One of :data:`MODELS` by name."""
    if name not in MODELS:
        raise ValueError(f"model {name!r}; choose one of {', '.join(MODELS)}")
    factory, kwargs = MODELS[name]
    return getattr(models, factory)(**kwargs)


def recalibrate_batchnorm(model: nn.Module, loader: DataLoader, device: torch.device) -> float:
    """Re-estimate every BatchNorm layer's running statistics as a plain average over
    forward passes on ``loader`` (no gradients, no weight change); return the seconds."""
    def images():
        for x, _ in loader:
            yield x.to(device)

    start = time.perf_counter()
    with torch.no_grad():
        update_bn(images(), model)
    return time.perf_counter() - start


def train_and_test(
    name: str, train_set: TensorDataset, test: DataLoader, *, epochs: int,
    max_batches: int | None, lr: float, seed: int, device: torch.device,
    batch_size: int = 32, recalibrate_bn: bool = True,
) -> dict[str, Any]:
    """Evaluate the untrained model, train it with Adam on batches of ``train_set`` shuffled
    by a generator of its own seeded with ``seed``, evaluate it again (as trained and, with
    ``recalibrate_bn``, after re-estimating its BatchNorm statistics); with times and NFE."""
    seed_everything(seed)
    model = build_model(name).to(device)
    train = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                       generator=torch.Generator().manual_seed(seed))
    initial = evaluate(model, test, device=device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = fit(model, train, epochs=epochs, optimizer=optimizer, device=device,
                  max_batches=max_batches)
    as_trained = evaluate(model, test, device=device, predictions=True)
    wrong = torch.nonzero(as_trained["predicted"] != as_trained["target"]).flatten()
    final, recalibration_seconds = as_trained, None
    if recalibrate_bn:
        recalibration_seconds = recalibrate_batchnorm(model, train, device)
        final = evaluate(model, test, device=device)
    mean = (lambda v: float(np.mean(v)) if v else None)  # noqa: E731
    return {
        "seed": seed,
        "parameters": count_parameters(model),
        "epochs": epochs,
        "steps": sum(history.steps),
        "initial_test_accuracy": initial["accuracy"],
        "test_accuracy_as_trained": as_trained["accuracy"],
        "test_accuracy_recalibrated": final["accuracy"] if recalibrate_bn else None,
        "test_wrong_as_trained": wrong.tolist(),  # indices: for paired tests on the same images
        "recalibration_seconds": recalibration_seconds,
        "test_loss_as_trained": as_trained["loss"],
        "epoch_loss": history.loss,
        "epoch_running_accuracy": history.accuracy,
        "batch_loss": history.batch_loss,
        "epoch_seconds": history.seconds,
        "train_step_ms": 1000 * history.step_seconds,
        "seconds_per_full_epoch": history.step_seconds * len(train),
        "eval_test_seconds": as_trained["seconds"],
        "nfe_forward": history.nfe_forward,
        "nfe_backward": history.nfe_backward,
        "nfe_forward_mean": mean(history.nfe_forward),
        "nfe_backward_mean": mean(history.nfe_backward),
        "nfe_eval_mean": as_trained.get("nfe"),
    }


#: The per-seed numbers :func:`run` summarises over seeds (mean, sd, median, range).
SUMMARISED = ("initial_test_accuracy", "test_accuracy_as_trained", "test_accuracy_recalibrated",
              "train_step_ms", "seconds_per_full_epoch", "eval_test_seconds",
              "nfe_forward_mean", "nfe_backward_mean")


def seed_runs(result: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The runs of model ``name``, one per seed, in seed order ([] if it was not run)."""
    return common.seed_runs(result["runs"].get(name), result["config"]["seeds"])


def run(partial: str | Path | None = None, **overrides: Any) -> dict[str, Any]:
    """Train and test every model of the configuration (``CONFIGS[mode]`` updated with
    ``overrides``) with every seed; return the JSON-serialisable result. ``partial``: a
    file that receives the result after each model and seed, from which an interrupted run
    of the same configuration resumes."""
    config = common.resolve(CONFIGS, overrides)
    device = torch.device(config["device"] or get_settings().device)
    start = time.perf_counter()
    with common.threads(config["threads"]):
        result = common.load_partial(partial, config) or common.new_result(NAME, config, device)
        train_set = data.mnist_dataset("train", config["per_class"], config["limit"])
        test = DataLoader(data.mnist_dataset("test", None, config["limit"]),
                          batch_size=config["test_batch_size"])
        result["data"] = {
            "train_images": len(train_set),
            "test_images": len(test.dataset),
            "batches_per_epoch": -(-len(train_set) // config["batch_size"]),
            "per_class": config["per_class"],
        }
        runs = result.setdefault("runs", {})
        for seed in config["seeds"]:
            for name in config["models"]:
                factory, kwargs = MODELS[name]
                entry = runs.setdefault(name, {"model": name, "factory": factory,
                                               "solver": kwargs or None, "seeds": {}})
                if str(seed) in entry["seeds"]:
                    continue  # done before an interruption
                entry["seeds"][str(seed)] = train_and_test(
                    name, train_set, test, epochs=config["epochs"][name],
                    max_batches=config["max_batches"], lr=config["lr"], seed=seed,
                    device=device, batch_size=config["batch_size"],
                    recalibrate_bn=config["recalibrate_bn"])
                entry["seeds"][str(seed)].update(finished=common.now(),
                                                 hardware=common.hardware(device)["summary"])
                entry["parameters"] = entry["seeds"][str(seed)]["parameters"]
                common.save_partial(result, partial)
        result["summary"] = {name: common.summarise(seed_runs(result, name), SUMMARISED)
                             for name in runs}
        return common.finish(result, start)


def summary(result: dict[str, Any]) -> str:
    """One line per model and seed: accuracy before and after training, time, NFE."""
    d = result["data"]
    lines = [f"MNIST, {result['mode']} mode, {d['train_images']:,} training and "
             f"{d['test_images']:,} test images, {result['hardware']['summary']}"]
    for name, entry in result["runs"].items():
        lines.append(f"  {name}: {entry['parameters']:,} parameters")
        for r in seed_runs(result, name):
            nfe = (f", NFE {r['nfe_forward_mean']:.1f} forward + {r['nfe_backward_mean']:.1f} "
                   "backward" if r["nfe_forward_mean"] is not None else "")
            again = ("" if r["test_accuracy_recalibrated"] is None else
                     f" ({r['test_accuracy_recalibrated']:.4f} with BatchNorm statistics "
                     "re-estimated)")
            lines.append(
                f"    seed {r['seed']}, {r['epochs']} epochs: test accuracy "
                f"{r['initial_test_accuracy']:.4f} -> {r['test_accuracy_as_trained']:.4f} as "
                f"trained{again}, {r['seconds_per_full_epoch']:.0f} s/epoch{nfe}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(common.main(NAME, run, summary))
