"""ECG heartbeats: the Math 179 report's ResNet against its Neural ODE (09_ecg_resnet_vs_node).

The source trained both networks for 5 epochs on Kaggle's MIT-BIH heartbeat set with SGD
(lr 0.1, momentum 0.9, batch 128) and solved the ODE block with torchdiffeq's
``odeint_adjoint`` (dopri5, rtol = atol = 1e-3). This experiment does the same on the beats
rebuilt from PhysioNet (or on the user's Kaggle CSVs), with three additions: the
inter-patient protocol beside Kaggle's intra-patient split; a validation split held out of
the training set (the source's code evaluated the test set every epoch under the name
validation but chose nothing with it, so this keeps the test set untouched rather than
removing a bias); and every time and NFE measured in the same run, over several seeds in full
mode (memory is measured apart from any timing, by
:mod:`nodebook_utils.experiments.scaling`).

``run(**config)`` returns a JSON-serialisable dict; ``python -m
nodebook_utils.experiments.ecg --mode fast|standard|full --out DIR`` writes it. Standard
mode trains the Neural ODE for fewer steps than the ResNet so that the lesson runs in one
sitting: every number carries the budget (epochs and steps) it came from.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from .. import data as data_mod
from .. import models, seed_everything
from ..config import get_settings
from ..training import classification_report, confusion_matrix, count_parameters, evaluate, fit
from . import common

NAME = "ecg"
CLASSES = data_mod.AAMI_CLASSES
#: The original solver: torchdiffeq's adjoint, dopri5, rtol = atol = 1e-3.
ORIGINAL_SOLVER = {"method": "dopri5", "rtol": 1e-3, "atol": 1e-3, "adjoint": True}


def _budget(resnet: tuple[int, int | None], odenet: tuple[int, int | None]) -> dict:
    """Per model: epochs, and at most this many batches per epoch (None: all)."""
    return {
        "resnet": {"epochs": resnet[0], "max_batches": resnet[1]},
        "odenet": {"epochs": odenet[0], "max_batches": odenet[1]},
    }


_COMMON = {
    "source": "physionet",
    "models": ["resnet", "odenet"],
    "solver": ORIGINAL_SOLVER,
    "batch_size": 128,
    "test_batch_size": 256,
    "lr": 0.1,
    "momentum": 0.9,
    "val_fraction": 0.1,
    "seeds": {"kaggle": [0], "inter-patient": [0]},
    "split_seed": 0,
    "threads": None,
    "device": None,
    "evaluate_train": False,
}
CONFIGS = {
    "fast": {
        **_COMMON,
        "protocols": ["kaggle", "inter-patient"],
        "records": list(data_mod.FAST_RECORDS),
        "budget": {
            "kaggle": _budget((1, 6), (1, 2)),
            "inter-patient": _budget((1, 4), (1, 2)),
        },
    },
    "standard": {
        **_COMMON,
        "protocols": ["kaggle", "inter-patient"],
        "records": list(data_mod.MITDB_RECORDS),
        "budget": {
            "kaggle": _budget((5, None), (1, 450)),
            "inter-patient": _budget((3, None), (1, 250)),
        },
    },
    "full": {
        **_COMMON,
        "protocols": ["kaggle", "inter-patient"],
        "records": list(data_mod.MITDB_RECORDS),
        "budget": {
            "kaggle": _budget((5, None), (5, None)),
            "inter-patient": _budget((5, None), (5, None)),
        },
        "seeds": {"kaggle": [0, 1, 2], "inter-patient": [0]},
        "evaluate_train": True,
    },
}


def build_model(name: str, solver: dict[str, Any] | None = None) -> nn.Module:
    """``"resnet"`` -> :func:`models.ecg_resnet`; ``"odenet"`` -> :func:`models.ecg_odenet`
    with ``solver`` (default: the original solver)."""
    if name == "resnet":
        return models.ecg_resnet()
    if name == "odenet":
        return models.ecg_odenet(**(solver or ORIGINAL_SOLVER))
    raise ValueError(f"model {name!r}; choose 'resnet' or 'odenet'")


def load_data(
    protocol: str, source: str = "physionet", records: list[str] | None = None,
    val_fraction: float = 0.1, split_seed: int = 0,
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Train, validation and test beats ``(N, 1, 187)`` with labels for one protocol; the
    validation beats are held out of the training set (stratified), never the test set."""
    if source == "kaggle" and protocol != "kaggle":
        raise ValueError("the Kaggle CSVs hold no record numbers: the inter-patient protocol "
                         "needs source='physionet'")
    kwargs = {"source": source, "protocol": protocol, "seed": split_seed}
    if source == "physionet":
        kwargs["records"] = records
    x_train, y_train = data_mod.load_heartbeats("train", **kwargs)
    x_test, y_test = data_mod.load_heartbeats("test", **kwargs)
    split = data_mod.holdout_split(y_train.numpy(), val_fraction, split_seed)
    keep, val = torch.from_numpy(split["train"]), torch.from_numpy(split["val"])
    return {
        "train": (x_train[keep].unsqueeze(1), y_train[keep]),
        "val": (x_train[val].unsqueeze(1), y_train[val]),
        "test": (x_test.unsqueeze(1), y_test),
    }


def _counts(labels: torch.Tensor) -> list[int]:
    return torch.bincount(labels, minlength=len(CLASSES)).tolist()


def describe_data(split: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> dict[str, Any]:
    """Class counts and shares per part, the majority-class baseline on the test set, and
    the beats' sampling rate and duration."""
    counts = {part: _counts(labels) for part, (_, labels) in split.items()}
    total = np.sum([counts[p] for p in counts], axis=0)
    majority = int(np.argmax(np.add(counts["train"], counts["val"])))
    test = counts["test"]
    return {
        "counts": counts,
        "total": total.tolist(),
        "shares": (total / total.sum()).tolist(),
        "majority_class": CLASSES[majority],
        "majority_baseline_test_accuracy": test[majority] / max(sum(test), 1),
        "sampling_rate_hz": data_mod.FS_BEATS,
        "beat_samples": data_mod.BEAT_LENGTH,
        "beat_seconds": data_mod.BEAT_LENGTH / data_mod.FS_BEATS,
    }


def _mean(values: list[int] | list[float]) -> float | None:
    return float(np.mean(values)) if len(values) else None


def train_and_test(
    name: str,
    split: dict[str, tuple[torch.Tensor, torch.Tensor]],
    *,
    epochs: int,
    max_batches: int | None,
    solver: dict[str, Any] | None = None,
    batch_size: int = 128,
    test_batch_size: int = 256,
    lr: float = 0.1,
    momentum: float = 0.9,
    seed: int = 0,
    device: torch.device | str = "cpu",
    evaluate_train: bool = False,
    progress: bool = True,
    factory: Callable[[], nn.Module] | None = None,
    make_loss: Callable[[nn.Module], Callable] | None = None,
    checkpoint: Path | None = None,
) -> dict[str, Any]:
    """Train one model with the source's optimiser on ``split["train"]`` (validating on
    ``split["val"]`` after each epoch), test it on ``split["test"]``, and measure its training
    step's time and NFE and the test set's evaluation time. (Memory is measured apart from
    any timing: :mod:`nodebook_utils.experiments.scaling`.)

    The training accuracy is the running accuracy over the last epoch's batches (as a
    training log shows it); ``evaluate_train=True`` also evaluates the final model on the
    whole training set. ``factory`` builds the model instead of :func:`build_model` (the
    benchmarks of 10_fast_neural_odes); it is called right after seeding. ``make_loss(model)``
    gives the training loss instead of cross-entropy (e.g. :func:`fast.regularised_loss`).
    ``checkpoint``: :func:`training.fit` saves every epoch there and continues from it."""
    device = torch.device(device)
    seed_everything(seed)
    model = (factory() if factory is not None else build_model(name, solver)).to(device)
    generator = torch.Generator().manual_seed(seed)
    train = DataLoader(TensorDataset(*split["train"]), batch_size=batch_size, shuffle=True,
                       generator=generator)
    val = DataLoader(TensorDataset(*split["val"]), batch_size=test_batch_size)
    test = DataLoader(TensorDataset(*split["test"]), batch_size=test_batch_size)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    loss_fn = make_loss(model) if make_loss is not None else F.cross_entropy
    history = fit(model, train, epochs=epochs, optimizer=optimizer, device=device,
                  val_loader=val, max_batches=max_batches, progress=progress, loss_fn=loss_fn,
                  checkpoint=checkpoint)
    tested = evaluate(model, test, device=device, predictions=True, progress=progress)
    confusion = confusion_matrix(tested["target"], tested["predicted"], len(CLASSES))
    train_eval = None
    if evaluate_train:
        ordered = DataLoader(TensorDataset(*split["train"]), batch_size=test_batch_size)
        train_eval = evaluate(model, ordered, device=device, progress=progress)["accuracy"]
    steps_per_epoch = len(train)
    step_seconds = history.step_seconds
    return {
        "model": name,
        "solver": (solver or ORIGINAL_SOLVER) if name == "odenet" else None,
        "parameters": count_parameters(model),
        "budget": {
            "epochs": epochs,
            "max_batches": max_batches,
            "steps": sum(history.steps),
            "steps_per_full_epoch": steps_per_epoch,
            "full_epochs": sum(history.steps) / steps_per_epoch,
        },
        "train": {
            "epoch_loss": history.loss,
            "epoch_running_accuracy": history.accuracy,
            "final_accuracy": train_eval,
            "batch_loss": history.batch_loss,
            "val_loss": history.val_loss,
            "val_accuracy": history.val_accuracy,
        },
        "timing": {
            "epoch_seconds_measured": history.seconds,
            "train_step_ms": 1000 * step_seconds,
            "seconds_per_epoch": step_seconds * steps_per_epoch,
            "epoch_estimated": any(s < steps_per_epoch for s in history.steps),
            "eval_test_seconds": tested["seconds"],
            "eval_test_beats": len(split["test"][1]),
        },
        "nfe": {
            "forward": history.nfe_forward,
            "backward": history.nfe_backward,
            "forward_mean": _mean(history.nfe_forward),
            "backward_mean": _mean(history.nfe_backward),
            "forward_last": history.nfe_forward[-1] if history.nfe_forward else None,
            "backward_last": history.nfe_backward[-1] if history.nfe_backward else None,
            "eval_mean": tested.get("nfe"),
        },
        "test": {
            "loss": tested["loss"],
            "confusion": confusion.tolist(),
            **classification_report(confusion),
        },
    }


def _ratios(runs: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    """Neural ODE / ResNet for step time, epoch time and evaluation time, of one seed's runs."""
    if not {"resnet", "odenet"} <= set(runs):
        return {}
    a, b = runs["odenet"], runs["resnet"]

    def ratio(x: float | None, y: float | None) -> float | None:
        return x / y if x is not None and y else None

    return {
        "train_step": ratio(a["timing"]["train_step_ms"], b["timing"]["train_step_ms"]),
        "epoch": ratio(a["timing"]["seconds_per_epoch"], b["timing"]["seconds_per_epoch"]),
        "eval_test": ratio(a["timing"]["eval_test_seconds"], b["timing"]["eval_test_seconds"]),
    }


#: The per-seed numbers :func:`run` summarises over seeds (mean, sd, median, range).
SUMMARISED = ("test.accuracy", "test.macro_f1", "train.final_accuracy",
              "timing.train_step_ms", "timing.seconds_per_epoch", "timing.eval_test_seconds",
              "nfe.forward_mean", "nfe.backward_mean")


def seed_runs(result: dict[str, Any], name: str, protocol: str = "kaggle") -> list[dict]:
    """The runs of model ``name`` under ``protocol``, one per seed, in seed order."""
    part = result["protocols"].get(protocol, {})
    return common.seed_runs(part.get("runs", {}).get(name),
                            result["config"]["seeds"][protocol])


def _summarise(result: dict[str, Any], protocol: str) -> dict[str, Any]:
    """Per model the :data:`SUMMARISED` numbers over seeds, and the Neural ODE / ResNet
    ratios of each seed's pair of runs (measured in the same run) over seeds."""
    part = result["protocols"][protocol]
    models_ = {name: common.summarise(seed_runs(result, name, protocol), SUMMARISED)
               for name in part["runs"]}
    pairs = [{name: entry["seeds"][str(s)] for name, entry in part["runs"].items()}
             for s in result["config"]["seeds"][protocol]
             if all(str(s) in entry["seeds"] for entry in part["runs"].values())]
    ratios = [_ratios(pair) for pair in pairs]
    keys = ratios[0].keys() if ratios else ()
    return {"summary": models_,
            "ratios": {k: common.spread([r[k] for r in ratios]) for k in keys
                       if all(r[k] is not None for r in ratios)}}


def run(partial: str | Path | None = None, **overrides: Any) -> dict[str, Any]:
    """Train and test the ResNet and the Neural ODE under each protocol of the configuration
    (``CONFIGS[mode]`` updated with ``overrides``), once per seed of that protocol; return
    the JSON-serialisable result. Each model and seed gets its own seeded initialisation
    and data order. ``partial``: a file that receives the result after each model and seed,
    from which an interrupted run of the same configuration resumes."""
    config = common.resolve(CONFIGS, overrides)
    device = torch.device(config.get("device") or get_settings().device)
    start = time.perf_counter()
    with common.threads(config["threads"]):
        result = common.load_partial(partial, config) or common.new_result(NAME, config, device)
        protocols = result.setdefault("protocols", {})
        for protocol in config["protocols"]:
            split = load_data(protocol, config["source"], config["records"],
                              config["val_fraction"], config["split_seed"])
            part = protocols.setdefault(protocol, {"runs": {}})
            part["data"] = describe_data(split)
            for seed in config["seeds"][protocol]:
                for name in config["models"]:
                    entry = part["runs"].setdefault(name, {"model": name, "seeds": {}})
                    if str(seed) in entry["seeds"]:
                        continue  # done before an interruption
                    budget = config["budget"][protocol][name]
                    trained = train_and_test(
                        name, split, epochs=budget["epochs"],
                        max_batches=budget["max_batches"], solver=config["solver"],
                        batch_size=config["batch_size"],
                        test_batch_size=config["test_batch_size"], lr=config["lr"],
                        momentum=config["momentum"], seed=seed, device=device,
                        evaluate_train=config["evaluate_train"])
                    entry.update(solver=trained["solver"], parameters=trained["parameters"])
                    entry["seeds"][str(seed)] = {
                        "seed": seed, "finished": common.now(),
                        "hardware": common.hardware(device)["summary"], **trained}
                    common.save_partial(result, partial)
            part.update(_summarise(result, protocol))
        return common.finish(result, start)


def summary(result: dict[str, Any]) -> str:
    """A few lines per protocol, model and seed: budget, accuracy, macro F1, time, NFE."""
    lines = [f"ECG experiment, {result['mode']} mode, {result['hardware']['summary']}"]
    for protocol, part in result["protocols"].items():
        lines.append(f"{protocol} protocol: test majority baseline "
                     f"{part['data']['majority_baseline_test_accuracy']:.3f}")
        for name in part["runs"]:
            for r in seed_runs(result, name, protocol):
                nfe = r["nfe"]
                nfe_text = (f", NFE {nfe['forward_mean']:.1f} forward + "
                            f"{nfe['backward_mean']:.1f} backward" if nfe["forward_mean"] else "")
                lines.append(
                    f"  {name:7s} seed {r['seed']}, {r['budget']['steps']} steps "
                    f"({r['budget']['full_epochs']:.2f} epochs): test accuracy "
                    f"{r['test']['accuracy']:.4f}, macro F1 {r['test']['macro_f1']:.3f}, "
                    f"{r['timing']['train_step_ms']:.0f} ms/step, "
                    f"{r['timing']['seconds_per_epoch']:.0f} s/epoch, test evaluated in "
                    f"{r['timing']['eval_test_seconds']:.1f} s{nfe_text}")
        ratios = part.get("ratios", {})
        if ratios:
            lines.append("  Neural ODE / ResNet (mean over seeds): " + ", ".join(
                f"{k} {v['mean']:.2f}x" for k, v in ratios.items()))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(common.main(NAME, run, summary))
