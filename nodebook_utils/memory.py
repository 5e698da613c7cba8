"""Measuring the memory that a backward pass needs (06_adjoint_method).

Backpropagation keeps, for every operation of the forward pass, the tensors its backward
formula will need ("saved for backward"). Their total size is what grows with the number of
solver steps when one backpropagates through an ODE solver, and what the adjoint method keeps
constant. :func:`measure_backward_memory` counts those bytes on any device with
``torch.autograd.graph.saved_tensors_hooks``, and on CUDA also reads the allocator's peak
(``torch.cuda.max_memory_allocated``) over the forward and backward pass.

:func:`peak_memory` measures the peak tensor memory of one call at PyTorch's allocator: the
CUDA allocator's peak on a GPU, and on the CPU the largest running sum of the allocations and
releases that PyTorch's profiler records. :func:`training_step_memory` reads both meters on
one training step (lesson 09 and the reproduction report). Neither is the process's resident
memory (RSS), which counts caches, thread pools and fragmentation as well.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = [
    "MEASURES",
    "BackwardMemory",
    "SavedTensorsMeter",
    "measure_backward_memory",
    "peak_memory",
    "quiet_stderr",
    "training_step_memory",
]


def _storage_key(x: Tensor) -> tuple[str, int]:
    """Identify the memory behind a tensor: its device and its storage's address."""
    return str(x.device), x.untyped_storage().data_ptr()


class SavedTensorsMeter:
    """Count the tensors that autograd saves for backward while the meter is active.

    Use it as ``with meter.active(): loss = model(x)``. Every tensor that an operation saves
    passes through the pack hook; tensors that share memory (views, or one tensor saved by
    several operations) are counted once, by their storage, and storages of tensors in
    ``ignore`` (e.g. the model's parameters, which exist anyway) are not counted at all. The
    hooks return the tensor itself, so measuring changes nothing. (06_adjoint_method)
    """

    def __init__(self, ignore: Iterable[Tensor] = ()) -> None:
        self.ignored = {_storage_key(t) for t in ignore}
        self.storages: dict[tuple[str, int], int] = {}
        self.saves = 0

    def _pack(self, x: Tensor) -> Tensor:
        self.saves += 1
        key = _storage_key(x)
        if key not in self.ignored:
            self.storages[key] = x.untyped_storage().nbytes()
        return x

    @contextmanager
    def active(self) -> Iterator[SavedTensorsMeter]:
        """Record every tensor saved for backward inside the ``with`` block."""
        with torch.autograd.graph.saved_tensors_hooks(self._pack, lambda x: x):
            yield self

    @property
    def bytes(self) -> int:
        """Bytes of the distinct storages saved so far."""
        return sum(self.storages.values())


@dataclass(frozen=True)
class BackwardMemory:
    """What :func:`measure_backward_memory` measured (06_adjoint_method).

    ``saved_bytes``: bytes of the distinct tensors saved for backward during the forward pass
    (the ignored ones left out); ``saves``: how many tensors were saved, counting repeats;
    ``storages``: how many distinct storages that was; ``peak_bytes``: on CUDA, the largest
    amount of memory allocated at any moment of the forward and backward pass beyond what was
    allocated before it began, else ``None``; ``loss``: the loss value.
    """

    saved_bytes: int
    saves: int
    storages: int
    peak_bytes: int | None
    loss: float


def measure_backward_memory(
    loss_fn: Callable[[], Tensor],
    *,
    ignore: Iterable[Tensor] = (),
    device: torch.device | str | None = None,
    backward: bool = True,
) -> BackwardMemory:
    """Run ``loss = loss_fn()`` and ``loss.backward()`` and measure their memory.

    Counts the bytes saved for backward during ``loss_fn()`` (see :class:`SavedTensorsMeter`;
    pass the model's parameters as ``ignore`` to count only what the forward pass adds).
    When ``device`` is a CUDA device, also records ``torch.cuda.max_memory_allocated`` over
    the forward and the backward pass, minus the memory allocated before it started. The
    gradients are accumulated into ``.grad`` as usual (zero them between calls).
    ``backward=False`` measures the forward pass alone. (06_adjoint_method)
    """
    device = torch.device(device) if device is not None else None
    cuda = device is not None and device.type == "cuda"
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        baseline = torch.cuda.memory_allocated(device)
    meter = SavedTensorsMeter(ignore)
    with meter.active():
        loss = loss_fn()
    if backward:
        loss.backward()
    peak = None
    if cuda:
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) - baseline
    return BackwardMemory(
        saved_bytes=meter.bytes,
        saves=meter.saves,
        storages=len(meter.storages),
        peak_bytes=peak,
        loss=loss.item(),
    )


@contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2 inside the block: the profiler's C++ code writes a log line
    there when it starts and stops, which would land in a notebook's output (08, 10)."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _cpu_allocator_peak(fn: Callable[[], Any]) -> tuple[int, Any]:
    """``fn()`` under PyTorch's profiler with ``profile_memory=True``, which receives every
    allocation and release of PyTorch's CPU allocator with its size: the largest sum of the
    bytes allocated minus released at any moment, and what ``fn`` returned."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    prof = profile(activities=[ProfilerActivity.CPU], profile_memory=True)
    with quiet_stderr():
        prof.start()
    try:
        value = fn()
    finally:
        with quiet_stderr():
            prof.stop()
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                    if e.name() == "[memory]" and e.device_type() == DeviceType.CPU)
    running = peak = 0
    for _, nbytes in events:
        running += nbytes
        peak = max(peak, running)
    return peak, value


#: What :func:`peak_memory` reports, by device type.
MEASURES = {
    "cuda": "CUDA allocator peak (torch.cuda.max_memory_allocated)",
    "cpu": "CPU allocator peak (PyTorch's allocation events, torch.profiler)",
}


def peak_memory(fn: Callable[[], Any], device: torch.device | str = "cpu") -> dict[str, Any]:
    """Run ``fn()`` and measure the most **tensor memory** it held at once beyond what was
    allocated before it began (06_adjoint_method, 09_ecg_resnet_vs_node).

    On CUDA: ``torch.cuda.max_memory_allocated`` minus the memory allocated before. On the
    CPU: PyTorch's profiler records every allocation and release of its CPU allocator with
    its size (tensors, and the buffers operations use inside), and the peak is the largest
    running sum of those bytes. Both count what PyTorch's allocator hands out: not the
    process's resident memory, which also holds the allocator's caches, thread pools,
    libraries and fragmentation, and which a measurement can change for the rest of the
    process. Other devices (``mps``): ``bytes`` is ``None``. The profiler slows ``fn`` down:
    never time what this measures. Returns ``{"bytes", "measure", "value"}``, ``value``
    being what ``fn`` returned.
    """
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        value = fn()
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) - before
        return {"bytes": int(peak), "measure": MEASURES["cuda"], "value": value}
    if device.type != "cpu":
        return {"bytes": None, "measure": f"not available on {device.type}", "value": fn()}
    peak, value = _cpu_allocator_peak(fn)
    return {"bytes": int(peak), "measure": MEASURES["cpu"], "value": value}


def training_step_memory(model: nn.Module, batch: tuple[Tensor, Tensor],
                         device: torch.device | str, *, warmup: bool = True) -> dict[str, Any]:
    """Two meters on one training step (forward, cross-entropy, backward; no optimiser step)
    of ``model`` on ``batch = (x, y)``, in MiB (06_adjoint_method, 09_ecg_resnet_vs_node):

    - ``saved_mib``: the tensors autograd keeps for the backward pass (:class:`SavedTensorsMeter`,
      the parameters left out): what backpropagation stores, and what the adjoint avoids;
    - ``peak_mib``: the peak tensor memory of the whole step beyond what was allocated
      before it (:func:`peak_memory`): stored activations plus the solver's stages, the
      backward pass's own tensors and the gradients.

    With ``warmup`` one untimed step runs first (one-time allocations, lazily created
    buffers). The model is left as it was: weights, buffers (BatchNorm's running
    statistics), train/eval mode and gradients are restored. ``nfe`` is the step's NFE,
    forward and backward together (None without ODE blocks). Never time in a process
    while measuring memory in it: measure after all timing, or in a child process.
    """
    from .models import ode_blocks  # models does not import this module
    from .training import unchanged

    device = torch.device(device)
    x, y = (t.to(device) for t in batch)
    blocks = ode_blocks(model)
    params = list(model.parameters())
    meter = SavedTensorsMeter(ignore=params)

    def step() -> None:
        with meter.active():
            loss = F.cross_entropy(model(x), y)
        loss.backward()

    with unchanged(model):
        model.train()
        if warmup:
            step()
        for p in params:
            p.grad = None
        for block in blocks:
            block.reset_nfe()
        meter.storages.clear()
        measured = peak_memory(step, device)
        nfe = sum(block.reset_nfe() for block in blocks) if blocks else None
    peak = measured["bytes"]
    return {
        "saved_mib": meter.bytes / 2**20,
        "peak_mib": peak / 2**20 if peak is not None else None,
        "measure": measured["measure"],
        "batch": len(x),
        "nfe": nfe,
    }
