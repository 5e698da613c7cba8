"""Training helpers shared by every lesson that trains a network (02_convolutional_networks).

``fit`` and ``evaluate`` are deliberately plain loops: a learner can read them in a minute.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class History:
    """Per-epoch training record returned by :func:`fit`.

    ``loss``/``accuracy`` are training-set means over each epoch (accuracy is NaN for
    non-classification targets), ``seconds`` the wall time of each epoch, ``batch_loss`` every
    batch's loss, and ``val_loss``/``val_accuracy`` the :func:`evaluate` results on the
    validation loader when one is given.
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    batch_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)


def _correct(output: torch.Tensor, target: torch.Tensor) -> int | None:
    """Number of correct class predictions, or None when the target is not class labels."""
    if target.dtype in (torch.int64, torch.int32) and output.dim() == 2:
        return int((output.argmax(dim=1) == target).sum())
    return None


def _show_progress(progress: bool) -> bool:
    """Progress bars unless switched off by the caller or by ``TQDM_DISABLE=1`` (which
    ``make notebooks`` sets, so committed notebooks hold no bars frozen at their first frame)."""
    return progress and os.environ.get("TQDM_DISABLE", "").strip() in ("", "0")


def fit(
    model: nn.Module,
    train_loader: Iterable,
    *,
    epochs: int,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn = F.cross_entropy,
    device: torch.device | str | None = None,
    val_loader: Iterable | None = None,
    scheduler: Any = None,
    max_batches: int | None = None,
    progress: bool = True,
) -> History:
    """Train ``model`` for ``epochs`` epochs; return a :class:`History` (02_convolutional_networks).

    One progress bar (``tqdm.auto``) counts the batches of all epochs and shows the epoch
    and the running loss and accuracy.
    ``max_batches`` stops each epoch early (used by fast mode and by quick experiments);
    ``scheduler.step()`` is called once per epoch when a scheduler is given.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.to(device)
    history = History()
    per_epoch = len(train_loader) if max_batches is None else min(max_batches, len(train_loader))
    bar = tqdm(total=epochs * per_epoch, disable=not _show_progress(progress), mininterval=0.5)
    for epoch in range(epochs):
        model.train()
        bar.set_description(f"epoch {epoch + 1}/{epochs}")
        start = time.perf_counter()
        total_loss, total_correct, seen, counted = 0.0, 0, 0, True
        for i, (x, y) in enumerate(train_loader):
            if i >= per_epoch:
                break
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad(set_to_none=True)
            output = model(x)
            loss = loss_fn(output, y)
            loss.backward()
            optimizer.step()
            n = len(x)
            total_loss += loss.item() * n
            seen += n
            history.batch_loss.append(loss.item())
            correct = _correct(output.detach(), y)
            counted = counted and correct is not None
            total_correct += correct or 0
            postfix = {"loss": f"{total_loss / seen:.4f}"}
            if counted:
                postfix["acc"] = f"{total_correct / seen:.3f}"
            bar.set_postfix(postfix, refresh=False)
            bar.update()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        history.seconds.append(time.perf_counter() - start)
        history.loss.append(total_loss / max(seen, 1))
        history.accuracy.append(total_correct / seen if counted and seen else float("nan"))
        if scheduler is not None:
            scheduler.step()
        if val_loader is not None:
            result = evaluate(model, val_loader, loss_fn=loss_fn, device=device, progress=False)
            history.val_loss.append(result["loss"])
            history.val_accuracy.append(result["accuracy"])
    bar.close()
    return history


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: Iterable,
    *,
    loss_fn: LossFn = F.cross_entropy,
    device: torch.device | str | None = None,
    max_batches: int | None = None,
    progress: bool = True,
) -> dict[str, float]:
    """Mean loss, accuracy (NaN for non-class targets) and seconds on ``loader``
    (02_convolutional_networks)."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.to(device).eval()
    start = time.perf_counter()
    total_loss, total_correct, seen, counted = 0.0, 0, 0, True
    batches = tqdm(loader, desc="evaluate", leave=False, disable=not _show_progress(progress))
    for i, (x, y) in enumerate(batches):
        if max_batches is not None and i >= max_batches:
            break
        x, y = x.to(device), y.to(device)
        output = model(x)
        total_loss += loss_fn(output, y).item() * len(x)
        seen += len(x)
        correct = _correct(output, y)
        counted = counted and correct is not None
        total_correct += correct or 0
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return {
        "loss": total_loss / max(seen, 1),
        "accuracy": total_correct / seen if counted and seen else float("nan"),
        "seconds": time.perf_counter() - start,
    }


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of ``model`` (02_convolutional_networks)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    **meta: Any,
) -> Path:
    """Save the model (and optimizer) state with plain metadata (numbers, strings, lists).

    Metadata must be plain Python values so that :func:`load_checkpoint` can load it with
    ``weights_only=True`` (02_convolutional_networks).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"model": model.state_dict(), "meta": meta}
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    torch.save(state, path)
    return path


def load_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    map_location: torch.device | str | None = "cpu",
) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` into ``model`` (and ``optimizer``)
    with ``weights_only=True`` (no arbitrary code runs) and return its metadata
    (02_convolutional_networks)."""
    state = torch.load(Path(path), map_location=map_location, weights_only=True)
    model.load_state_dict(state["model"])
    if optimizer is not None:
        if "optimizer" not in state:
            raise KeyError(f"{Path(path).name} holds no optimizer state")
        optimizer.load_state_dict(state["optimizer"])
    return state["meta"]
