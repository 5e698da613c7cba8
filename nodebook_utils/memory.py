"""Measuring the memory that a backward pass needs (06_adjoint_method).

Backpropagation keeps, for every operation of the forward pass, the tensors its backward
formula will need ("saved for backward"). Their total size is what grows with the number of
solver steps when one backpropagates through an ODE solver, and what the adjoint method keeps
constant. :func:`measure_backward_memory` counts those bytes on any device with
``torch.autograd.graph.saved_tensors_hooks``, and on CUDA also reads the allocator's peak
(``torch.cuda.max_memory_allocated``) over the forward and backward pass.

:func:`peak_memory` measures the whole peak of one call, e.g. a training step of lesson 09:
the CUDA allocator's peak on a GPU, and on a Linux CPU the process's peak resident memory
(``VmHWM``, reset through ``/proc/self/clear_refs``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = [
    "BackwardMemory",
    "SavedTensorsMeter",
    "measure_backward_memory",
    "peak_memory",
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


_PROC = Path("/proc/self")
# glibc's mallopt parameters and the largest mmap threshold its dynamic rule reaches (64-bit).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD_MAX = 32 * 2**20


def _proc_kib(field: str) -> int:
    """A ``/proc/self/status`` field in KiB (``VmRSS``: resident now; ``VmHWM``: its peak)."""
    for line in (_PROC / "status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _can_reset_cpu_peak() -> bool:
    try:
        (_PROC / "clear_refs").write_text("5")  # 5: reset the peak resident set size
        _proc_kib("VmHWM")
    except (OSError, KeyError):
        return False
    return True


@contextmanager
def _resident_means_allocated() -> Iterator[None]:
    """Make the resident memory follow the allocated memory (glibc only; elsewhere a no-op).

    glibc keeps freed memory for reuse, so after a warm-up a step can run in memory that is
    already resident and the peak would read ~0. Inside the block every allocation above
    64 KiB gets pages of its own that are returned on free, and free memory is trimmed
    first; afterwards large blocks come from the heap again, as they do in a warmed-up run.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 64 * 2**10)
        libc.mallopt(_M_TRIM_THRESHOLD, 128 * 2**10)
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        yield
        return
    try:
        yield
    finally:
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)
        libc.mallopt(_M_TRIM_THRESHOLD, 2 * _MMAP_THRESHOLD_MAX)


def peak_memory(fn: Callable[[], Any], device: torch.device | str = "cpu") -> dict[str, Any]:
    """Run ``fn()`` and measure the most memory it held at once, beyond what was in use
    before (09_ecg_resnet_vs_node).

    On CUDA: ``torch.cuda.max_memory_allocated`` minus the memory allocated before
    (``"measure": "cuda allocator peak"``). On a CPU under Linux: the process's peak resident
    memory ``VmHWM`` minus its resident memory before, the peak being reset through
    ``/proc/self/clear_refs`` first and glibc told to return freed memory, so that resident
    memory follows what is allocated (``"measure": "process peak RSS"``). It counts
    everything the process touches meanwhile, so run nothing else in it; the first call in
    a process also counts one-time allocations (thread pools, kernels' caches), so measure
    after a warm-up. Elsewhere the bytes are ``None``. Returns ``{"bytes", "measure",
    "value"}``, ``value`` being what ``fn`` returned.
    """
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        value = fn()
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) - before
        return {"bytes": int(peak), "measure": "cuda allocator peak", "value": value}
    if device.type != "cpu" or not _can_reset_cpu_peak():
        return {"bytes": None, "measure": "not available on this platform", "value": fn()}
    with _resident_means_allocated():
        _can_reset_cpu_peak()
        before = _proc_kib("VmRSS")
        value = fn()
        peak = max(_proc_kib("VmHWM") - before, 0)
    return {"bytes": peak * 1024, "measure": "process peak RSS", "value": value}


def training_step_memory(model: nn.Module, loader: Iterable, device: torch.device | str
                         ) -> dict[str, Any]:
    """:func:`peak_memory` of one training step's forward and backward pass (cross-entropy on
    the first batch of ``loader``; the weights are not updated and the gradients are cleared
    afterwards), in MB, with that pass's NFE (09_ecg_resnet_vs_node)."""
    from .models import ode_blocks  # models does not import this module
    x, y = next(iter(loader))
    x, y = x.to(device), y.to(device)
    model.train()
    blocks = ode_blocks(model)
    for block in blocks:
        block.reset_nfe()

    def step() -> None:
        F.cross_entropy(model(x), y).backward()

    measured = peak_memory(step, device)
    model.zero_grad(set_to_none=True)
    peak = measured["bytes"]
    return {
        "peak_mb": peak / 2**20 if peak is not None else None,
        "measure": measured["measure"],
        "nfe": sum(block.reset_nfe() for block in blocks) if blocks else None,
    }
