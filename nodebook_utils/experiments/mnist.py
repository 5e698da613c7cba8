"""MNIST: the Review of Literature's ODE-Net against a ResNet (08_mnist_odenet).

The source trained an ODE-Net (a convolutional stem, one ODE block whose dynamics are two
convolutions that see the time, a head; BatchNorm throughout; 208,010 parameters) with
fixed-step Euler (h = 0.05, 20 steps) and its own adjoint, Adam (lr 1e-3), batch 32, for 5
epochs on the 60,000 training images, and claimed 10.28% -> 99.23% test accuracy. This
experiment trains that ODE-Net with Euler as the source did and with Dopri5, and a ResNet
with six residual blocks in place of the ODE block, and measures for each the untrained and
trained test accuracy, the time per epoch and the NFE of the forward and backward pass.

Standard mode trains on the 5,000-image subset (the first 500 training images of each
digit) and tests on all 10,000 official test images; full mode trains 5 epochs on all
60,000 training images, which are downloaded from the official source (online only).

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
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.optim.swa_utils import update_bn
from torch.utils.data import DataLoader

from .. import data, models, seed_everything
from ..config import get_settings
from ..training import count_parameters, evaluate, fit
from . import common

NAME = "mnist"
#: The sources' numbers: the Review of Literature, and Chen et al. (2018), Table 1.
CLAIMS = {
    "initial_accuracy": 0.1028,
    "test_accuracy": 0.9923,
    "minutes_per_epoch": 11.5,
    "batches_per_epoch": 1875,
    "chen_table1": {
        "1-layer MLP": {"test_error": 0.0160, "parameters": 0.24e6},
        "ResNet": {"test_error": 0.0041, "parameters": 0.60e6},
        "RK-Net": {"test_error": 0.0047, "parameters": 0.22e6},
        "ODE-Net": {"test_error": 0.0042, "parameters": 0.22e6},
    },
}
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
    "seed": 0,
    "recalibrate_bn": True,
    "threads": None,
    "device": None,
}
CONFIGS = {
    "fast": {**_STANDARD, "epochs": {name: 1 for name in MODELS}, "limit": 512,
             "max_batches": 6},
    "standard": _STANDARD,
    "full": {**_STANDARD, "epochs": {name: 5 for name in MODELS}, "per_class": None},
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
    name: str, train: DataLoader, test: DataLoader, *, epochs: int,
    max_batches: int | None, lr: float, seed: int, device: torch.device,
    recalibrate_bn: bool = True,
) -> dict[str, Any]:
    """Evaluate the untrained model, train it with Adam, evaluate it again (as trained and,
    with ``recalibrate_bn``, after re-estimating its BatchNorm statistics); with times and
    NFE per pass."""
    seed_everything(seed)
    model = build_model(name).to(device)
    initial = evaluate(model, test, device=device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = fit(model, train, epochs=epochs, optimizer=optimizer, device=device,
                  max_batches=max_batches)
    as_trained = evaluate(model, test, device=device)
    final, recalibration_seconds = as_trained, None
    if recalibrate_bn:
        recalibration_seconds = recalibrate_batchnorm(model, train, device)
        final = evaluate(model, test, device=device)
    mean = (lambda v: float(np.mean(v)) if v else None)  # noqa: E731
    factory, kwargs = MODELS[name]
    return {
        "model": name,
        "factory": factory,
        "solver": kwargs or None,
        "parameters": count_parameters(model),
        "epochs": epochs,
        "steps": sum(history.steps),
        "initial_test_accuracy": initial["accuracy"],
        "test_accuracy_as_trained": as_trained["accuracy"],
        "test_accuracy": final["accuracy"],
        "batchnorm_recalibrated": recalibrate_bn,
        "recalibration_seconds": recalibration_seconds,
        "test_loss": final["loss"],
        "epoch_loss": history.loss,
        "epoch_running_accuracy": history.accuracy,
        "batch_loss": history.batch_loss,
        "epoch_seconds": history.seconds,
        "train_step_ms": 1000 * history.step_seconds,
        "seconds_per_full_epoch": history.step_seconds * len(train),
        "eval_test_seconds": final["seconds"],
        "nfe_forward": history.nfe_forward,
        "nfe_backward": history.nfe_backward,
        "nfe_forward_mean": mean(history.nfe_forward),
        "nfe_backward_mean": mean(history.nfe_backward),
        "nfe_eval_mean": final.get("nfe"),
    }


def run(**overrides: Any) -> dict[str, Any]:
    """Train and test every model of the configuration (``CONFIGS[mode]`` updated with
    ``overrides``); return the JSON-serialisable result."""
    config = common.resolve(CONFIGS, overrides)
    device = torch.device(config["device"] or get_settings().device)
    start = time.perf_counter()
    with common.threads(config["threads"]):
        result = common.new_result(NAME, config, device)
        train, test = data.mnist_loaders(config["per_class"], config["batch_size"],
                                         config["test_batch_size"], limit=config["limit"],
                                         seed=config["seed"])
        result["data"] = {
            "train_images": len(train.dataset),
            "test_images": len(test.dataset),
            "batches_per_epoch": len(train),
            "per_class": config["per_class"],
        }
        result["runs"] = {
            name: train_and_test(name, train, test, epochs=config["epochs"][name],
                                 max_batches=config["max_batches"], lr=config["lr"],
                                 seed=config["seed"], device=device,
                                 recalibrate_bn=config["recalibrate_bn"])
            for name in config["models"]
        }
        return common.finish(result, start)


def summary(result: dict[str, Any]) -> str:
    """One line per model: parameters, accuracy before and after, time, NFE."""
    d = result["data"]
    lines = [f"MNIST, {result['mode']} mode, {d['train_images']:,} training and "
             f"{d['test_images']:,} test images, {result['hardware']['summary']}"]
    for name, r in result["runs"].items():
        nfe = (f", NFE {r['nfe_forward_mean']:.1f} forward + {r['nfe_backward_mean']:.1f} "
               "backward" if r["nfe_forward_mean"] is not None else "")
        lines.append(
            f"  {name:14s} {r['parameters']:,} parameters, {r['epochs']} epochs: test accuracy "
            f"{r['initial_test_accuracy']:.4f} -> {r['test_accuracy_as_trained']:.4f} as "
            f"trained, {r['test_accuracy']:.4f} with BatchNorm statistics re-estimated, "
            f"{r['seconds_per_full_epoch']:.0f} s/epoch{nfe}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(common.main(NAME, run, summary))
