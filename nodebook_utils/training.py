"""Training helpers shared by every lesson that trains a network (02_convolutional_networks).

``fit`` and ``evaluate`` are deliberately plain loops: a learner can read them in a minute.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from .models import ode_blocks

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@contextmanager
def unchanged(model: nn.Module) -> Iterator[nn.Module]:
    """Run the ``with`` block and then put ``model`` back as it was: its weights and buffers
    (BatchNorm's running statistics), every submodule's train/eval mode and the parameters'
    gradients. For measurements that run training steps on a model that must not change
    (08_mnist_odenet: memory.training_step_memory, fast.step_profile)."""
    state = {name: t.detach().clone() for name, t in model.state_dict(keep_vars=True).items()}
    modes = [(m, m.training) for m in model.modules()]
    grads = [(p, None if p.grad is None else p.grad.detach().clone())
             for p in model.parameters()]
    try:
        yield model
    finally:
        with torch.no_grad():
            for name, t in model.state_dict(keep_vars=True).items():
                t.copy_(state[name])
        for m, mode in modes:
            m.training = mode
        for p, grad in grads:
            p.grad = grad


@dataclass
class History:
    """Per-epoch training record returned by :func:`fit`.

    ``loss``/``accuracy`` are training-set means over each epoch (accuracy is NaN for
    non-classification targets), ``seconds`` the wall time of each epoch's training steps
    (validation excluded), ``steps`` the number of batches each epoch trained on,
    ``batch_loss`` every batch's loss, and ``val_loss``/``val_accuracy`` the :func:`evaluate`
    results on the validation loader when one is given. For a model with ODE blocks
    (08_mnist_odenet), ``nfe_forward``/``nfe_backward`` hold every batch's evaluations of the
    dynamics in the forward and in the backward pass, summed over the blocks.
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    batch_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    nfe_forward: list[int] = field(default_factory=list)
    nfe_backward: list[int] = field(default_factory=list)

    @property
    def step_seconds(self) -> float:
        """Mean wall time of one training step over all epochs."""
        return sum(self.seconds) / max(sum(self.steps), 1)


def _take_nfe(blocks: list) -> int:
    """The evaluations counted by ``blocks`` since the last call; the counters restart."""
    return sum(block.reset_nfe() for block in blocks)


def synchronize(device: torch.device | str) -> None:
    """Wait for queued GPU work (CUDA or Apple's MPS), so that a clock read afterwards
    measures it (03_residual_networks); nothing to wait for on a CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def timed(fn: Callable[..., Any], *args: Any, device: torch.device | str = "cpu"
          ) -> tuple[Any, float]:
    """``fn(*args)`` and its wall time in seconds, the device synchronised before and after
    (03_residual_networks): the one clock of the course's measurements."""
    synchronize(device)
    start = time.perf_counter()
    value = fn(*args)
    synchronize(device)
    return value, time.perf_counter() - start


def accumulator_dtype(device: torch.device | str) -> torch.dtype:
    """The dtype of running totals over many batches: float64, except on Apple's MPS, which
    has no float64 (08_mnist_odenet)."""
    return torch.float32 if torch.device(device).type == "mps" else torch.float64


def _correct_tensor(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor | None:
    """Correct class predictions as a 0-dim tensor on the device (no host sync), or None."""
    if target.dtype in (torch.int64, torch.int32) and output.dim() == 2:
        return (output.argmax(dim=1) == target).sum()
    return None


def show_progress(progress: bool = True) -> bool:
    """Whether to show progress bars (03_residual_networks): yes unless switched off by the
    caller or by ``TQDM_DISABLE=1`` (which ``make notebooks`` sets, so committed notebooks
    hold no bars frozen at their first frame)."""
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
    checkpoint: Path | None = None,
) -> History:
    """Train ``model`` for ``epochs`` epochs; return a :class:`History` (02_convolutional_networks).

    One progress bar (``tqdm.auto``) counts the batches of all epochs and shows the epoch
    and the running loss and accuracy (and the last NFE for models with ODE blocks).
    ``max_batches`` stops each epoch early (used by fast mode and by quick experiments);
    ``scheduler.step()`` is called once per epoch when a scheduler is given.
    ``checkpoint`` (10_fast_neural_odes: runs of hours) is a file written after every epoch;
    a call that finds it continues after the epoch it holds, as if never interrupted.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.to(device)
    was_training = model.training
    history = History()
    blocks = ode_blocks(model)
    done = _resume(checkpoint, model, optimizer, scheduler, train_loader, history)
    # On a CPU reading a number costs nothing; on a GPU it waits for the queued work, so the
    # running numbers are read only every few batches and at the end of each epoch.
    read_every = 1 if device.type == "cpu" else 25
    per_epoch = len(train_loader) if max_batches is None else min(max_batches, len(train_loader))
    bar = tqdm(total=epochs * per_epoch, initial=done * per_epoch,
               disable=not show_progress(progress), mininterval=0.5)
    try:
        for epoch in range(done, epochs):
            model.train()
            bar.set_description(f"epoch {epoch + 1}/{epochs}")
            synchronize(device)
            start = time.perf_counter()
            losses: list[torch.Tensor] = []
            total_loss = torch.zeros((), device=device)
            total_correct = torch.zeros((), device=device, dtype=torch.int64)
            seen, counted, steps = 0, True, 0
            for i, (x, y) in enumerate(train_loader):
                if i >= per_epoch:
                    break
                x, y = x.to(device), y.to(device)
                optimizer.zero_grad(set_to_none=True)
                _take_nfe(blocks)
                output = model(x)
                loss = loss_fn(output, y)
                nfe_forward = _take_nfe(blocks)
                loss.backward()
                optimizer.step()
                if blocks:
                    history.nfe_forward.append(nfe_forward)
                    history.nfe_backward.append(_take_nfe(blocks))
                n = len(x)
                losses.append(loss.detach())
                total_loss += loss.detach() * n
                seen += n
                correct = _correct_tensor(output.detach(), y)
                counted = counted and correct is not None
                if correct is not None:
                    total_correct += correct
                steps += 1
                if steps % read_every == 0 or steps == per_epoch:
                    postfix = {"loss": f"{total_loss.item() / seen:.4f}"}
                    if counted:
                        postfix["acc"] = f"{total_correct.item() / seen:.3f}"
                    if blocks:
                        postfix["nfe"] = f"{nfe_forward}+{history.nfe_backward[-1]}"
                    bar.set_postfix(postfix, refresh=False)
                bar.update()
            synchronize(device)
            history.seconds.append(time.perf_counter() - start)
            history.steps.append(steps)
            history.batch_loss.extend(torch.stack(losses).tolist() if losses else [])
            history.loss.append(total_loss.item() / max(seen, 1))
            history.accuracy.append(
                total_correct.item() / seen if counted and seen else float("nan")
            )
            if scheduler is not None:
                scheduler.step()
            if val_loader is not None:
                result = evaluate(model, val_loader, loss_fn=loss_fn, device=device,
                                  progress=False)
                history.val_loss.append(result["loss"])
                history.val_accuracy.append(result["accuracy"])
            if checkpoint is not None:
                _save_epoch(checkpoint, epoch + 1, model, optimizer, scheduler, train_loader,
                            history)
    finally:
        bar.close()
        model.train(was_training)
    return history


def _save_epoch(path: Path, epochs: int, model: nn.Module, optimizer: torch.optim.Optimizer,
                scheduler: Any, loader: Iterable, history: History) -> None:
    """:func:`fit`'s checkpoint: what the next epoch depends on, beside the weights and the
    optimiser (momentum): the scheduler, the random generators (the global one, and the
    loader's, which shuffles) and the history so far."""
    generator = getattr(loader, "generator", None)
    save_checkpoint(path, model, optimizer, epochs=epochs, history=dict(history.__dict__),
                    scheduler=scheduler.state_dict() if scheduler is not None else None,
                    rng=torch.get_rng_state(),
                    cuda_rng=torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                    loader_rng=generator.get_state() if generator is not None else None)


def _resume(path: Path | None, model: nn.Module, optimizer: torch.optim.Optimizer,
            scheduler: Any, loader: Iterable, history: History) -> int:
    """Load :func:`fit`'s checkpoint if ``path`` exists; return the epochs it holds."""
    if path is None or not Path(path).exists():
        return 0
    meta = load_checkpoint(path, model, optimizer)
    if scheduler is not None and meta["scheduler"] is not None:
        scheduler.load_state_dict(meta["scheduler"])
    torch.set_rng_state(meta["rng"])
    if meta["cuda_rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(meta["cuda_rng"])
    generator = getattr(loader, "generator", None)
    if generator is not None and meta["loader_rng"] is not None:
        generator.set_state(meta["loader_rng"])
    history.__dict__.update(meta["history"])
    return meta["epochs"]


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: Iterable,
    *,
    loss_fn: LossFn = F.cross_entropy,
    device: torch.device | str | None = None,
    max_batches: int | None = None,
    progress: bool = True,
    predictions: bool = False,
) -> dict[str, Any]:
    """Mean loss, accuracy (NaN for non-class targets) and seconds on ``loader``
    (02_convolutional_networks).

    For a model with ODE blocks, ``nfe`` is the mean number of evaluations of the dynamics
    per batch (08_mnist_odenet). ``predictions=True`` adds the predicted classes and the
    targets as int64 tensors, ``predicted`` and ``target`` (09_ecg_resnet_vs_node).
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.to(device).eval()
    blocks = ode_blocks(model)
    _take_nfe(blocks)
    synchronize(device)
    start = time.perf_counter()
    total_loss = torch.zeros((), device=device, dtype=accumulator_dtype(device))
    total_correct = torch.zeros((), device=device, dtype=torch.int64)
    seen, counted, batches_seen = 0, True, 0
    predicted, targets = [], []
    batches = tqdm(loader, desc="evaluate", leave=False, disable=not show_progress(progress))
    try:
        for i, (x, y) in enumerate(batches):
            if max_batches is not None and i >= max_batches:
                break
            x, y = x.to(device), y.to(device)
            output = model(x)
            total_loss += loss_fn(output, y).to(total_loss.dtype) * len(x)
            seen += len(x)
            batches_seen += 1
            correct = _correct_tensor(output, y)
            counted = counted and correct is not None
            if correct is not None:
                total_correct += correct
            if predictions:
                predicted.append(output.argmax(dim=1))
                targets.append(y)
        synchronize(device)
        seconds = time.perf_counter() - start
    finally:
        model.train(was_training)
    result: dict[str, Any] = {
        "loss": total_loss.item() / max(seen, 1),
        "accuracy": total_correct.item() / seen if counted and seen else float("nan"),
        "seconds": seconds,
    }
    if blocks:
        result["nfe"] = _take_nfe(blocks) / max(batches_seen, 1)
    if predictions:
        empty = torch.zeros(0, dtype=torch.int64)
        result["predicted"] = torch.cat(predicted).cpu() if predicted else empty
        result["target"] = torch.cat(targets).cpu() if targets else empty
    return result


def confusion_matrix(target: torch.Tensor, predicted: torch.Tensor, classes: int) -> torch.Tensor:
    """``classes x classes`` counts: row = true class, column = predicted class
    (02_convolutional_networks)."""
    index = target.to(torch.int64) * classes + predicted.to(torch.int64)
    return torch.bincount(index, minlength=classes * classes).reshape(classes, classes)


def classification_report(confusion: torch.Tensor) -> dict[str, Any]:
    """Accuracy, per-class precision, recall, F1 and support, and the macro means, from a
    confusion matrix (rows true, columns predicted) (09_ecg_resnet_vs_node).

    Precision of class c is the share of beats predicted c that are c; recall, the share of
    beats of class c predicted c; F1, their harmonic mean. A ratio with a zero denominator is
    0, as scikit-learn reports it by default.
    """
    m = confusion.to(torch.float64)
    true_pos, predicted, support = m.diagonal(), m.sum(dim=0), m.sum(dim=1)

    def ratio(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.where(b > 0, a / b.clamp(min=1e-300), torch.zeros_like(a))

    precision, recall = ratio(true_pos, predicted), ratio(true_pos, support)
    f1 = ratio(2 * precision * recall, precision + recall)
    return {
        "accuracy": (true_pos.sum() / m.sum().clamp(min=1)).item(),
        "precision": precision.tolist(),
        "recall": recall.tolist(),
        "f1": f1.tolist(),
        "support": [int(n) for n in support.tolist()],
        "macro_precision": precision.mean().item(),
        "macro_recall": recall.mean().item(),
        "macro_f1": f1.mean().item(),
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
    # Written next to the target and renamed into place: an interrupted save never leaves a
    # truncated checkpoint under the real name.
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(state, file)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
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
