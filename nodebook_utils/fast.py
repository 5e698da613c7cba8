"""Making Neural ODEs fast (10_fast_neural_odes): dynamics regularised to need fewer
evaluations, and the accurate re-solve that asks whether a trained model is still an ODE.

:class:`RegularisedODEBlock` integrates, beside the state, the two penalties of Finlay et al.
(2020, "How to train your neural ODE"; Kelly et al., 2020, regularise higher derivatives in
the same spirit): the kinetic energy :math:`\\int \\lVert f \\rVert^2 dt` and the squared
Frobenius norm of the Jacobian :math:`\\int \\lVert \\partial f/\\partial h \\rVert_F^2 dt`,
the second estimated with one random vector per solve (Hutchinson's estimator). Straighter,
smoother dynamics let an adaptive solver take fewer steps. :func:`regularised_loss` adds the
weighted penalties of the last forward pass to the task's loss.

:func:`accurate_solve` re-solves a trained model's ODE blocks with a tight adaptive solver:
a model trained with a few fixed steps may have learned a discrete map rather than an ODE
(Ott et al., ICLR 2021), and then its accuracy changes when it is solved accurately.

:func:`median_ms` and :func:`step_profile` measure what the lesson's cost model needs: the
time of one call, and one training step's time with its NFE forward and backward;
:func:`dopri5_steps` turns a dopri5 NFE into the number of steps behind it.

:func:`stratified_subset` draws the speed benchmark's test beats in quick mode, and
:func:`benchmark_table` shows the benchmark's rows as the lesson's table.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
import torchdiffeq
from torch import Tensor, nn
from torch.nn import functional as F

from .models import ODEBlock, ode_blocks
from .solvers import Dynamics
from .training import timed, unchanged

__all__ = ["ACCURATE", "RegularisedODEBlock", "accurate_solve", "benchmark_table", "dopri5_steps",
           "median_ms", "regularised_loss", "step_profile", "stratified_subset"]

#: How :func:`accurate_solve` solves: dopri5 at a tolerance far below the training one.
ACCURATE = {"method": "dopri5", "rtol": 1e-5, "atol": 1e-5}


class RegularisedODEBlock(ODEBlock):
    """An :class:`ODEBlock` that, in training, also integrates the per-sample kinetic energy
    ``∫ |f|² dt`` and Jacobian norm ``∫ |ε^T ∂f/∂h|² dt`` (ε ~ N(0, I), fixed for one solve),
    both divided by the state's size; ``block.penalty`` holds
    ``kinetic * mean(kinetic energy) + jacobian * mean(Jacobian norm)`` of the last forward
    pass. In evaluation mode, or without gradients, it is a plain ODE block (penalty 0)."""

    def __init__(self, func: Dynamics, *, kinetic: float = 0.01, jacobian: float = 0.01,
                 **kwargs: Any) -> None:
        super().__init__(func, **kwargs)
        self.kinetic, self.jacobian = kinetic, jacobian
        self.penalty: Tensor = torch.zeros(())

    def forward(self, x: Tensor) -> Tensor:
        """The state at ``t1``; in training the penalties of this solve go to ``penalty``."""
        if not (self.training and torch.is_grad_enabled()):
            self.penalty = x.new_zeros(())
            return super().forward(x)
        eps = torch.randn_like(x)
        size = x[0].numel()

        def augmented(t: Tensor, state: tuple[Tensor, Tensor, Tensor]):
            h, recording = state[0], torch.is_grad_enabled()
            if not recording:  # the adjoint's forward solve: a fresh leaf for the VJP alone
                h = h.detach()
            with torch.enable_grad():
                if not h.requires_grad:
                    h = h.requires_grad_(True)
                f = self.func(t, h)
                (vjp,) = torch.autograd.grad(f, h, eps, create_graph=recording)
            out = (f, f.pow(2).flatten(1).sum(1) / size, vjp.pow(2).flatten(1).sum(1) / size)
            return out if recording else tuple(o.detach() for o in out)

        zeros = x.new_zeros(len(x))
        solve = torchdiffeq.odeint_adjoint if self.adjoint else torchdiffeq.odeint
        kwargs = self.solve_kwargs(x.device)
        if self.adjoint:
            kwargs.setdefault("adjoint_params", tuple(self.func.parameters()))
        h, energy, frobenius = (s[-1] for s in solve(augmented, (x, zeros, zeros),
                                                      self.t_span.to(x), **kwargs))
        self.penalty = self.kinetic * energy.mean() + self.jacobian * frobenius.mean()
        return h


def regularised_loss(model: nn.Module,
                     task_loss: Callable[[Tensor, Tensor], Tensor] = F.cross_entropy
                     ) -> Callable[[Tensor, Tensor], Tensor]:
    """``task_loss(output, target)`` plus the penalties of every
    :class:`RegularisedODEBlock` in ``model`` from its last forward pass (pass it as
    ``fit(..., loss_fn=regularised_loss(model))``)."""
    blocks = [m for m in model.modules() if isinstance(m, RegularisedODEBlock)]

    def loss(output: Tensor, target: Tensor) -> Tensor:
        total = task_loss(output, target)
        for block in blocks:
            total = total + block.penalty.to(total)
        return total

    return loss


@contextmanager
def accurate_solve(model: nn.Module, **solver: Any) -> Iterator[nn.Module]:
    """Within the ``with`` block, every ODE block of ``model`` solves with :data:`ACCURATE`
    (or ``solver``) and no extra options; the training solver is restored afterwards."""
    settings = {**ACCURATE, **solver}
    blocks: list[ODEBlock] = ode_blocks(model)
    saved = [(b.method, b.rtol, b.atol, b.solver_kwargs) for b in blocks]
    try:
        for block in blocks:
            block.method, block.rtol, block.atol = (settings["method"], settings["rtol"],
                                                    settings["atol"])
            block.solver_kwargs = {}
        yield model
    finally:
        for block, (method, rtol, atol, kwargs) in zip(blocks, saved, strict=True):
            block.method, block.rtol, block.atol, block.solver_kwargs = method, rtol, atol, kwargs


def median_ms(fn: Callable[[], Any], *, repeats: int = 5, warmup: int = 1,
              device: torch.device | str = "cpu") -> float:
    """The median wall time of ``fn()`` in milliseconds over ``repeats`` calls, after
    ``warmup`` untimed calls, the device synchronised around each call."""
    device = torch.device(device)
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, not {repeats}")
    for _ in range(warmup):
        fn()
    return 1000 * statistics.median(timed(fn, device=device)[1] for _ in range(repeats))


def step_profile(model: nn.Module, x: Tensor, y: Tensor, *, repeats: int = 3,
                 loss_fn: Callable[[Tensor, Tensor], Tensor] = F.cross_entropy
                 ) -> dict[str, Any]:
    """One training step of ``model`` on the batch ``(x, y)`` (forward, loss, backward; no
    optimiser step): its median time in ms and the NFE of the forward and the backward pass
    of the last step (``None`` for a model without ODE blocks; an adaptive solver's NFE can
    differ from step to step). The model is left as it was (:func:`training.unchanged`:
    weights, BatchNorm statistics, train/eval mode, gradients)."""
    blocks = ode_blocks(model)
    device = next(model.parameters()).device
    nfe: dict[str, int | None] = {"nfe_forward": None, "nfe_backward": None}

    def step() -> None:
        for block in blocks:
            block.reset_nfe()
        loss = loss_fn(model(x), y)
        forward = sum(block.reset_nfe() for block in blocks)
        loss.backward()
        if blocks:
            nfe.update(nfe_forward=forward, nfe_backward=sum(b.reset_nfe() for b in blocks))
        model.zero_grad(set_to_none=True)

    with unchanged(model):
        model.train()
        ms = median_ms(step, repeats=repeats, device=device)
    return {"step_ms": ms, **nfe}


def dopri5_steps(nfe: float) -> float:
    """The number of steps (accepted or rejected) behind ``nfe`` evaluations of one dopri5
    solve in torchdiffeq: two evaluations choose the first step size, then each step takes six
    new ones (its seventh stage is the next step's first). 20 evaluations are 3 steps. For an
    NFE averaged over many solves, the average number of steps."""
    if nfe < 2:
        raise ValueError(f"a dopri5 solve takes at least 2 evaluations, not {nfe}")
    return (nfe - 2) / 6


def stratified_subset(labels: Tensor | np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``n`` items drawn at random (seeded), each class in proportion to its
    share of ``labels`` (largest remainders round the counts to ``n``); all indices when
    ``n >= len(labels)``. The speed benchmark's quick mode tests on such a subset: the first
    ``n`` beats of a split ordered by record would be a few patients' beats only."""
    labels = np.asarray(labels)
    if n < 0:
        raise ValueError(f"n must be at least 0, not {n}")
    if n >= len(labels):
        return np.arange(len(labels))
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts * n / len(labels)
    take = np.floor(quota).astype(int)
    for i in np.argsort(-(quota - take), kind="stable")[: n - take.sum()]:
        take[i] += 1
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(labels == c), size=k, replace=False)
              for c, k in zip(classes, take, strict=True)]
    return np.sort(np.concatenate(chosen))


def benchmark_table(rows: list[dict[str, Any]], baseline: str) -> str:
    """The speed benchmark's rows (``benchmarks/ecg_speed.py``, ``mnist_speed.py``) as a
    Markdown table, with each row's training and evaluation time as a ratio to the row named
    ``baseline`` (10_fast_neural_odes)."""
    head = ("| configuration | NFE fwd+bwd | ms/step | s/epoch | eval s | peak MB | "
            "test acc. % (mean ± std, seeds × epochs) | accurate solve % | "
            f"train × {baseline} | eval × {baseline} |")
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        nfe = (f"{r['nfe_forward']:.1f}+{r['nfe_backward']:.1f}"
               if r["nfe_forward"] is not None else "—")
        ode = r.get("accurate_solve", {}).get("test_accuracy_mean")
        memory = f"{r['peak_memory_mb']:.0f}" if r["peak_memory_mb"] else "—"
        lines.append(
            f"| {r['name']} | {nfe} | {r['train_step_ms']:.0f} | {r['seconds_per_epoch']:.0f} | "
            f"{r['eval_test_seconds']:.1f} | {memory} | {100 * r['test_accuracy_mean']:.2f} ± "
            f"{100 * r['test_accuracy_std']:.2f} ({r['seeds']} × {r['epochs']:.2g}) | "
            + (f"{100 * ode:.2f}" if ode is not None else "—")
            + f" | {r['train_ratio']:.2f} | {r['eval_ratio']:.2f} |"
        )
    return "\n".join(lines)
