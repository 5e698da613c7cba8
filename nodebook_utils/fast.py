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

:func:`stratified_subset` draws the speed benchmark's test beats in quick mode,
:func:`benchmark_table` shows the benchmark's rows as the lesson's table, and
:func:`meets_goal` judges a row against the lesson's :data:`GOAL` (fast and still an ODE).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchdiffeq
from torch import Tensor, nn
from torch.nn import functional as F

from .models import ODEBlock, ode_blocks
from .solvers import Dynamics
from .training import evaluate, timed, unchanged

__all__ = ["ACCURATE", "GOAL", "RegularisedODEBlock", "Row", "SteerODEBlock", "Task",
           "accurate_solve", "add_ratios", "benchmark_table", "dopri5_steps", "goal_parts",
           "goal_table", "measure_memory", "median_ms", "meets_goal", "readme_table", "regularise",
           "regularised_loss", "run_benchmark", "steer", "step_profile", "still_an_ode",
           "stratified_subset", "summarise_rows", "time_row", "time_rows", "train_rows"]

#: How :func:`accurate_solve` solves: dopri5 at a tolerance far below the training one.
ACCURATE = {"method": "dopri5", "rtol": 1e-5, "atol": 1e-5}


class RegularisedODEBlock(ODEBlock):
    """An :class:`ODEBlock` that, in training, also integrates the per-sample kinetic energy
    ``∫ |f|² dt`` and Jacobian norm ``∫ |ε^T ∂f/∂h|² dt`` (ε ~ N(0, I), fixed for one solve),
    both divided by the state's size; ``block.penalty`` holds
    ``kinetic * mean(kinetic energy) + jacobian * mean(Jacobian norm)`` of the last forward
    pass. In evaluation mode, or without gradients, it is a plain ODE block (penalty 0);
    with ``jacobian=0`` no vector-Jacobian product is computed."""

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
                if self.jacobian:
                    (vjp,) = torch.autograd.grad(f, h, eps, create_graph=recording)
                    frobenius = vjp.pow(2).flatten(1).sum(1) / size
                else:  # the kinetic energy alone: no vector-Jacobian product to pay for
                    frobenius = f.new_zeros(len(f))
            out = (f, f.pow(2).flatten(1).sum(1) / size, frobenius)
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


class SteerODEBlock(ODEBlock):
    """An :class:`ODEBlock` whose end time is drawn anew for every training batch, uniformly
    from ``[t1 - spread, t1 + spread]`` (STEER: Ghosh, Behl, Dupont, Torr & Namboodiri, 2020).
    With a fixed-step solver the number of steps stays ``steps``, so the step size varies
    with the end time: the network cannot fit one discretisation (Ott et al., 2021). In
    evaluation mode it solves to ``t1`` like a plain block."""

    def __init__(self, func: Dynamics, *, spread: float = 0.5, steps: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(func, **kwargs)
        if not 0 <= spread < self.t_span[1] - self.t_span[0]:
            raise ValueError(f"spread must be in [0, t1 - t0), not {spread}")
        self.spread, self.steps = spread, steps

    def forward(self, x: Tensor) -> Tensor:
        """The state at ``t1``, or in training at a random end time around it."""
        if not self.training:
            return super().forward(x)
        t0, t1 = (float(v) for v in self.t_span)
        end = t1 + self.spread * (2 * torch.rand(()).item() - 1)
        saved = self.solver_kwargs
        if self.steps is not None:  # the same number of fixed steps over the drawn interval
            options = {**(saved.get("options") or {}), "step_size": (end - t0) / self.steps}
            self.solver_kwargs = {**saved, "options": options}
        try:
            return self.trajectory(x, torch.tensor([t0, end]))[-1]
        finally:
            self.solver_kwargs = saved


def _swap_blocks(model: nn.Module, make: Callable[[ODEBlock], ODEBlock]) -> nn.Module:
    """``model`` with each of its ODE blocks replaced by ``make(block)`` (in place)."""
    for parent in model.modules():
        for name, child in parent.named_children():
            if isinstance(child, ODEBlock):
                setattr(parent, name, make(child))
    return model


def regularise(model: nn.Module, *, kinetic: float, jacobian: float) -> nn.Module:
    """``model`` with every ODE block replaced by a :class:`RegularisedODEBlock` with the
    same dynamics (the same weights), solver and times (10_fast_neural_odes)."""
    def make(block: ODEBlock) -> ODEBlock:
        t0, t1 = (float(v) for v in block.t_span)
        return RegularisedODEBlock(block.func.func, t0=t0, t1=t1, kinetic=kinetic,
                                   jacobian=jacobian, method=block.method, rtol=block.rtol,
                                   atol=block.atol, adjoint=block.adjoint,
                                   **block.solver_kwargs)
    return _swap_blocks(model, make)


def steer(model: nn.Module, *, spread: float) -> nn.Module:
    """``model`` with every fixed-step ODE block replaced by a :class:`SteerODEBlock` with
    the same dynamics, solver and number of steps, and end times drawn from
    ``[t1 - spread, t1 + spread]`` in training (10_fast_neural_odes)."""
    def make(block: ODEBlock) -> ODEBlock:
        t0, t1 = (float(v) for v in block.t_span)
        step = (block.solver_kwargs.get("options") or {}).get("step_size")
        if step is None:
            raise ValueError("STEER keeps the number of fixed steps: give the block a step_size")
        return SteerODEBlock(block.func.func, t0=t0, t1=t1, spread=spread,
                             steps=round((t1 - t0) / step), method=block.method,
                             rtol=block.rtol, atol=block.atol, adjoint=block.adjoint,
                             **block.solver_kwargs)
    return _swap_blocks(model, make)


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


#: How :func:`op_shares` groups PyTorch's operators: the first category whose word is in the
#: operator's name (forward and backward alike), else "other".
OP_CATEGORIES = {"convolutions": "convolution", "GroupNorm": "group_norm"}


def op_shares(fn: Callable[[], Any], *, repeats: int = 3) -> dict[str, float]:
    """Where the CPU time of ``fn()`` goes (10_fast_neural_odes): the share of the operators'
    own (self) CPU time per category of :data:`OP_CATEGORIES` and "other", over ``repeats``
    calls under ``torch.profiler`` after one untimed call; the shares sum to 1. On a GPU this
    is the time spent launching work, not the kernels' time."""
    from torch.profiler import ProfilerActivity, profile

    from .memory import quiet_stderr

    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, not {repeats}")
    fn()
    prof = profile(activities=[ProfilerActivity.CPU])
    with quiet_stderr():  # the profiler logs its start and stop there
        prof.start()
    try:
        for _ in range(repeats):
            fn()
    finally:
        with quiet_stderr():
            prof.stop()
    totals = dict.fromkeys([*OP_CATEGORIES, "other"], 0.0)
    for event in prof.key_averages():
        category = next((c for c, word in OP_CATEGORIES.items() if word in event.key), "other")
        totals[category] += event.self_cpu_time_total
    whole = sum(totals.values())
    if whole <= 0:
        raise ValueError("the profiler recorded no operator time: fn ran no PyTorch operators")
    return {category: time / whole for category, time in totals.items()}


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


# --- the speed benchmarks (benchmarks/ecg_speed.py and mnist_speed.py) --------------------


def still_an_ode(model: nn.Module, loader: Any, device: torch.device | str) -> dict[str, Any]:
    """Test accuracy and NFE per batch when the trained model's ODE blocks are solved
    accurately (:data:`ACCURATE`), the training solver restored afterwards: a model that
    learned a flow keeps its accuracy, a discrete map in disguise does not (Ott et al., ICLR
    2021)."""
    with accurate_solve(model):
        result = evaluate(model, loader, device=device, progress=False)
    return {"accuracy": result["accuracy"], "nfe": result.get("nfe")}


@dataclass(frozen=True)
class Row:
    """One configuration of a speed benchmark: how to build a fresh model, how many seeds and
    epochs it trains, and what the JSON says about it (``details``: solver and options)."""

    name: str
    build: Callable[[], nn.Module]
    seeds: int = 1
    epochs: int = 5
    regularised: bool = False  # trains with :func:`regularised_loss`
    notes: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def loss(self, model: nn.Module) -> Callable[[Tensor, Tensor], Tensor]:
        """The training loss of ``model``: cross-entropy, plus the penalties if regularised."""
        return regularised_loss(model) if self.regularised else F.cross_entropy


@dataclass
class Task:
    """What a speed benchmark trains and tests on. ``train(row, seed, epochs, checkpoint)``
    trains a fresh seeded model of ``row`` (its own seeded data order; after every epoch a
    checkpoint file, from which an interrupted run continues: :func:`training.fit`) and
    returns it with a record holding at least ``test_accuracy``, ``steps``, ``epochs`` and
    ``parameters``. The timing
    phase times every row's training step on ``timing_batches`` (the same batches for every
    row) and its evaluation of ``test_loader``."""

    name: str
    train: Callable[[Row, int, int, Path], tuple[nn.Module, dict[str, Any]]]
    test_loader: Any
    timing_batches: list[tuple[Tensor, Tensor]]
    steps_per_epoch: int
    device: torch.device


def _weights_path(folder: Path, row: Row, seed: int) -> Path:
    slug = "".join(c if c.isalnum() else "-" for c in row.name.lower()).strip("-")
    return folder / f"{slug}.seed{seed}.pt"


def _load_state(path: Path | None, settings: dict[str, Any]) -> dict[str, Any]:
    """The saved per-seed records of an interrupted run with the same settings, or a new
    state; a run with other settings is not mixed in."""
    if path is None or not path.exists():
        return {"settings": settings, "seeds": {}}
    state = json.loads(path.read_text(encoding="utf-8"))
    if state.get("settings") != settings:
        raise ValueError(f"{path} holds a run with other settings ({state.get('settings')}); "
                         "delete it or use the same settings to continue it")
    return state


def train_rows(rows: list[Row], task: Task, *, epochs: int | None, state_path: Path | None,
               weights: Path, settings: dict[str, Any], log: Callable[[str], None] = print
               ) -> dict[str, dict[str, dict[str, Any]]]:
    """Phase 1: train every seed of every row (``epochs`` overrides each row's), test it,
    re-solve it accurately (:func:`still_an_ode`) and save its weights; each finished seed is
    written to ``state_path`` at once, and a rerun with the same settings continues where the
    last one stopped. Returns ``{row name: {seed: record}}``."""
    from .experiments.common import hardware, jsonable

    state = _load_state(state_path, jsonable(settings))
    weights.mkdir(parents=True, exist_ok=True)
    for row in rows:
        done = state["seeds"].setdefault(row.name, {})
        for seed in range(row.seeds):
            path = _weights_path(weights, row, seed)
            if str(seed) in done and path.exists():
                continue
            checkpoint = path.with_suffix(".epochs.pt")  # an unfinished seed's last epoch
            model, record = task.train(row, seed, epochs or row.epochs, checkpoint)
            if ode_blocks(model):
                resolved = still_an_ode(model, task.test_loader, task.device)
                record["resolve_accuracy"], record["resolve_nfe"] = (resolved["accuracy"],
                                                                     resolved["nfe"])
            record["trained_on"] = hardware(task.device)["summary"]
            torch.save(model.state_dict(), path)
            checkpoint.unlink(missing_ok=True)
            done[str(seed)] = jsonable(record)
            if state_path is not None:
                state_path.parent.mkdir(parents=True, exist_ok=True)
                state_path.write_text(json.dumps(state), encoding="utf-8")
            log(f"{row.name}, seed {seed}: test accuracy {record['test_accuracy']:.4f}")
    return state["seeds"]


def _trained(row: Row, weights: Path, device: torch.device) -> nn.Module:
    model = row.build().to(device)
    model.load_state_dict(torch.load(_weights_path(weights, row, 0), map_location=device))
    return model


def time_row(model: nn.Module, row: Row, task: Task, *, warmup: int = 3) -> dict[str, Any]:
    """Phase 2 for one row: the mean time of a training step (forward, loss, backward, SGD
    step) over ``task.timing_batches`` after ``warmup`` untimed steps, with the NFE of each
    pass, and the time and NFE per batch of evaluating ``task.test_loader``. The model's
    weights change (it trains): pass a copy that is not needed afterwards."""
    device, blocks = task.device, ode_blocks(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss_fn = row.loss(model)
    seconds, forward, backward = [], [], []
    batches = [(x.to(device), y.to(device)) for x, y in task.timing_batches]
    model.train()
    for i, (x, y) in enumerate([*batches[:warmup], *batches]):
        def step(x: Tensor = x, y: Tensor = y) -> tuple[int, int]:
            optimizer.zero_grad(set_to_none=True)
            for block in blocks:
                block.reset_nfe()
            loss = loss_fn(model(x), y)
            nfe_forward = sum(block.reset_nfe() for block in blocks)
            loss.backward()
            optimizer.step()
            return nfe_forward, sum(block.reset_nfe() for block in blocks)

        (nfe_f, nfe_b), elapsed = timed(step, device=device)
        if i >= min(warmup, len(batches)):
            seconds.append(elapsed)
            forward.append(nfe_f)
            backward.append(nfe_b)
    return {"train_step_ms": 1000 * float(np.mean(seconds)),
            "nfe_forward": float(np.mean(forward)) if blocks else None,
            "nfe_backward": float(np.mean(backward)) if blocks else None,
            "timed_steps": len(seconds)}


def time_rows(rows: list[Row], task: Task, *, weights: Path, baseline: str,
              log: Callable[[str], None] = print) -> dict[str, dict[str, Any]]:
    """Phase 2: in this process, one row after another, each row's trained seed-0 model
    (:func:`time_row`, then its test-set evaluation with the trained weights); the baseline
    is timed first and again last, and its two timings are averaged, so a drift of the
    machine over the phase shows (``baseline_drift``: last / first)."""
    order = [r for r in rows if r.name == baseline] + [r for r in rows if r.name != baseline]
    order += order[:1]
    timings: dict[str, list[dict[str, Any]]] = {}
    for row in order:
        timing = time_row(_trained(row, weights, task.device), row, task)
        model = _trained(row, weights, task.device)
        tested = evaluate(model, [next(iter(task.test_loader))], device=task.device,
                          progress=False)  # one batch untimed: lazy allocations
        tested = evaluate(model, task.test_loader, device=task.device, progress=False)
        timing.update(eval_test_seconds=tested["seconds"], eval_nfe=tested.get("nfe"))
        timings.setdefault(row.name, []).append(timing)
        log(f"timed {row.name}: {timing['train_step_ms']:.0f} ms/step, "
            f"{timing['eval_test_seconds']:.1f} s to test")
    merged = {}
    for name, runs in timings.items():
        merged[name] = {key: (float(np.mean([r[key] for r in runs]))
                              if runs[0][key] is not None else None) for key in runs[0]}
        if len(runs) > 1:
            merged[name]["baseline_drift"] = runs[-1]["train_step_ms"] / runs[0]["train_step_ms"]
    return merged


def measure_memory(rows: list[Row], task: Task, *, weights: Path) -> dict[str, dict[str, Any]]:
    """Phase 3, after every timing of the run (the first memory measurement in a process
    changes the allocator's behaviour for the rest of it): one training step's stored and
    peak tensor memory of each row's trained seed-0 model (:func:`memory.training_step_memory`)."""
    from .memory import training_step_memory

    return {row.name: training_step_memory(_trained(row, weights, task.device),
                                           task.timing_batches[0], task.device)
            for row in rows}


def summarise_rows(rows: list[Row], records: dict[str, dict[str, dict[str, Any]]],
                   timings: dict[str, dict[str, Any]], memory: dict[str, dict[str, Any]],
                   task: Task, *, baseline: str, original: str) -> list[dict[str, Any]]:
    """One JSON row per configuration: the contracted keys (times and NFE from the timing
    phase, accuracy and the accurate re-solve as means over the row's seeds, each seed's drop
    measured against its own accuracy) and ratios to ``baseline`` measured in this run."""
    from .experiments.common import spread

    out = []
    for row in rows:
        seeds = [records[row.name][str(s)] for s in range(row.seeds)]
        accuracy = spread([r["test_accuracy"] for r in seeds])
        timing, mem = timings[row.name], memory[row.name]
        summary = {
            "name": row.name, "notes": row.notes, **row.details,
            "parameters": seeds[0]["parameters"], "seeds": len(seeds),
            "steps": seeds[0]["steps"], "epochs": seeds[0]["epochs"],
            "nfe_forward": timing["nfe_forward"], "nfe_backward": timing["nfe_backward"],
            "train_step_ms": timing["train_step_ms"],
            "seconds_per_epoch": timing["train_step_ms"] * task.steps_per_epoch / 1000,
            "eval_test_seconds": timing["eval_test_seconds"], "eval_nfe": timing["eval_nfe"],
            "timed_steps": timing["timed_steps"],
            "peak_memory_mb": mem["peak_mib"], "saved_memory_mb": mem["saved_mib"],
            "memory_measure": mem["measure"],
            "test_accuracy_mean": accuracy["mean"], "test_accuracy_std": accuracy["std"],
            "test_accuracies": accuracy["values"],
            "trained_step_ms": [r.get("trained_step_ms") for r in seeds],
            "trained_on": sorted({r["trained_on"] for r in seeds}),
            **{key: seeds[0][key] for key in ("macro_f1",) if key in seeds[0]},
        }
        if "baseline_drift" in timing:
            summary["baseline_drift"] = timing["baseline_drift"]
        if all("resolve_accuracy" in r for r in seeds):
            drops = [100 * (r["test_accuracy"] - r["resolve_accuracy"]) for r in seeds]
            summary.update(
                resolve_solver=ACCURATE, resolve_seeds=len(seeds),
                resolve_accuracies=[r["resolve_accuracy"] for r in seeds],
                resolve_accuracy_mean=float(np.mean([r["resolve_accuracy"] for r in seeds])),
                resolve_drops_pp=drops, resolve_drop_mean=float(np.mean(drops)),
                resolve_nfe=float(np.mean([r["resolve_nfe"] for r in seeds])))
        out.append(summary)
    add_ratios(out, baseline, original)
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def add_ratios(rows: list[dict[str, Any]], baseline: str, original: str) -> None:
    """Add to each row its training-step, evaluation and memory ratios to the row named
    ``baseline``, its accuracy gap to it in percentage points, and its training speed-up over
    the first row whose name starts with ``original`` (``speedup_over_<original>``)."""
    base = next(r for r in rows if r["name"] == baseline)
    first = next((r for r in rows if r["name"].startswith(original)), None)
    for row in rows:
        row["train_ratio"] = _ratio(row["train_step_ms"], base["train_step_ms"])
        row["eval_ratio"] = _ratio(row["eval_test_seconds"], base["eval_test_seconds"])
        row["memory_ratio"] = _ratio(row["peak_memory_mb"], base["peak_memory_mb"])
        row["accuracy_gap_pp"] = 100 * (base["test_accuracy_mean"] - row["test_accuracy_mean"])
        row[f"speedup_over_{original}"] = (_ratio(first["train_step_ms"], row["train_step_ms"])
                                           if first else None)


#: Lesson 10's goal for a Neural ODE beside the ResNet (issue 20): at most 0.8x its training
#: step and test-set evaluation time (ratios measured in one run), at most 0.3 percentage
#: points below its test accuracy, and at most 0.3 points lost when re-solved accurately
#: (means over at least 3 seeds of 5 epochs, each seed's drop against its own accuracy).
GOAL = {"train_ratio": 0.8, "eval_ratio": 0.8, "accuracy_gap_pp": 0.3, "resolve_drop_pp": 0.3,
        "seeds": 3, "epochs": 5}


def goal_parts(row: dict[str, Any], goal: dict[str, float] = GOAL) -> dict[str, bool]:
    """Which parts of ``goal`` a benchmark row (with its ratios: :func:`add_ratios`) meets:
    ``faster to train``, ``faster to evaluate``, ``as accurate``, ``still an ODE`` (re-solved
    for every seed) and ``enough evidence`` (seeds and epochs)."""
    drop = row.get("resolve_drop_mean")
    return {
        "faster to train": row["train_ratio"] <= goal["train_ratio"],
        "faster to evaluate": row["eval_ratio"] <= goal["eval_ratio"],
        "as accurate": row["accuracy_gap_pp"] <= goal["accuracy_gap_pp"],
        "still an ODE": (drop is not None and drop <= goal["resolve_drop_pp"]
                         and row.get("resolve_seeds", 0) == row["seeds"]),
        "enough evidence": row["seeds"] >= goal["seeds"] and row["epochs"] >= goal["epochs"] - 1e-9,
    }


def meets_goal(row: dict[str, Any], goal: dict[str, float] = GOAL) -> bool:
    """Whether a Neural ODE row meets every part of ``goal`` (:func:`goal_parts`)."""
    return row["nfe_forward"] is not None and all(goal_parts(row, goal).values())


def goal_table(rows: list[dict[str, Any]], goal: dict[str, float] = GOAL) -> str:
    """The Neural ODE rows against ``goal`` as a Markdown table (10_fast_neural_odes): each
    part's number with a mark (✓ met, ✗ missed; :func:`goal_parts`), the drop re-solved with
    every seed's own drop, and whether the row meets the whole goal."""
    def mark(ok: bool) -> str:
        return "✓" if ok else "✗"

    lines = ["| configuration | train × ResNet | eval × ResNet | accuracy gap (pp) | "
             "drop re-solved (pp; per seed) | seeds × epochs | goal |", "|---" * 7 + "|"]
    for r in rows:
        if r["nfe_forward"] is None:
            continue
        parts = goal_parts(r, goal)
        drop = ("—" if r.get("resolve_drop_mean") is None else
                f"{r['resolve_drop_mean']:+.2f} ("
                + ", ".join(f"{d:+.2f}" for d in r["resolve_drops_pp"]) + ")")
        lines.append(
            f"| {r['name']} | {r['train_ratio']:.2f} {mark(parts['faster to train'])} | "
            f"{r['eval_ratio']:.2f} {mark(parts['faster to evaluate'])} | "
            f"{r['accuracy_gap_pp']:+.2f} {mark(parts['as accurate'])} | "
            f"{drop} {mark(parts['still an ODE'])} | "
            f"{r['seeds']} × {r['epochs']:.0f} {mark(parts['enough evidence'])} | "
            f"{'**met**' if all(parts.values()) else 'missed'} |")
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.2f}"


def benchmark_table(rows: list[dict[str, Any]], baseline: str) -> str:
    """A speed benchmark's rows as a Markdown table (10_fast_neural_odes): NFE, times, peak
    memory, test accuracy (mean ± sd over seeds; "—" where one seed measured no spread),
    the accuracy re-solved accurately and its mean drop, and the time ratios to
    ``baseline``."""
    head = ("| configuration | NFE fwd+bwd | ms/step | s/epoch | eval s | peak MB | "
            "test acc. % (mean ± sd, seeds × epochs) | re-solved % (drop pp) | "
            f"train × {baseline} | eval × {baseline} |")
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        nfe = (f"{r['nfe_forward']:.1f}+{r['nfe_backward']:.1f}"
               if r["nfe_forward"] is not None else "—")
        resolved = (f"{_pct(r['resolve_accuracy_mean'])} ({r['resolve_drop_mean']:+.2f})"
                    if r.get("resolve_accuracy_mean") is not None else "—")
        memory = f"{r['peak_memory_mb']:.0f}" if r["peak_memory_mb"] else "—"
        lines.append(
            f"| {r['name']} | {nfe} | {r['train_step_ms']:.0f} | {r['seconds_per_epoch']:.0f} | "
            f"{r['eval_test_seconds']:.1f} | {memory} | {_pct(r['test_accuracy_mean'])} ± "
            f"{_pct(r['test_accuracy_std'])} ({r['seeds']} × {r['epochs']:.2g}) | {resolved} | "
            f"{r['train_ratio']:.2f} | {r['eval_ratio']:.2f} |")
    return "\n".join(lines)


def readme_table(result: dict[str, Any], original: str) -> str:
    """The README's summary of a committed benchmark run: the hardware, then per
    configuration its time ratios to the ResNet, its speed-up over the row whose name starts
    with ``original``, its test accuracy with the seeds and epochs behind it, and its mean
    drop when re-solved accurately."""
    key = f"speedup_over_{original}"
    lines = [f"Measured on {result['hardware']['summary']} ({result['mode']} run).", "",
             f"| configuration | train × ResNet | eval × ResNet | speed-up over {original} | "
             "test accuracy % (seeds × epochs) | drop re-solved (pp) |",
             "|---|---|---|---|---|---|"]
    for r in result["rows"]:
        speedup = f"{r[key]:.1f}×" if r.get(key) else "—"
        drop = (f"{r['resolve_drop_mean']:+.2f}" if r.get("resolve_drop_mean") is not None
                else "—")
        lines.append(f"| {r['name']} | {r['train_ratio']:.2f} | {r['eval_ratio']:.2f} | "
                     f"{speedup} | {_pct(r['test_accuracy_mean'])} ± "
                     f"{_pct(r['test_accuracy_std'])} ({r['seeds']} × {r['epochs']:.0f}) | "
                     f"{drop} |")
    return "\n".join(lines)


def benchmark_parser(description: str, *, quick: str, epochs: str, timing: str
                     ) -> argparse.ArgumentParser:
    """The command line both speed benchmarks share (``benchmarks/``): ``--quick``, ``--json``,
    ``--only``, ``--epochs``, ``--steps``, ``--seeds``, ``--timing-steps``, ``--weights``,
    ``--train-only``, ``--fresh``, with the help texts of their defaults; a script adds its own
    flags and checks them all with :func:`check_benchmark_args`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument("--json", type=Path, help="write {hardware, rows, ...} here")
    parser.add_argument("--only", nargs="*", default=[],
                        help="configuration names to run (the ResNet always runs)")
    parser.add_argument("--epochs", type=int, help=epochs)
    parser.add_argument("--steps", type=int, help="at most this many steps per epoch")
    parser.add_argument("--seeds", type=int, help="seeds for every configuration")
    parser.add_argument("--timing-steps", type=int, help=timing)
    parser.add_argument("--weights", type=Path, help="keep trained weights and finished seeds "
                        "here (default: $NODEBOOK_DATA/benchmarks/<name>-<mode>)")
    parser.add_argument("--train-only", action="store_true",
                        help="train (and re-solve) every seed, then stop: no timing, no JSON "
                        "(training can share the machine; timing cannot)")
    parser.add_argument("--fresh", action="store_true",
                        help="discard what an earlier run left in the weights folder")
    return parser


def check_benchmark_args(parser: argparse.ArgumentParser, args: argparse.Namespace,
                         rows: Sequence[Row], positive: Sequence[str]) -> None:
    """Stop with a clear error (exit 2) before anything trains: an ``--only`` name that is no
    row of ``rows``, or a flag of ``positive`` given below 1."""
    names = [row.name for row in rows]
    unknown = [n for n in args.only if n not in names]
    if unknown:
        parser.error(f"unknown configuration(s) {unknown}; choose from {names}")
    for flag in ("epochs", "steps", "seeds", "timing_steps", *positive):
        value = getattr(args, flag)
        if value is not None and value < 1:
            parser.error(f"--{flag.replace('_', '-')} must be at least 1, not {value}")


def select_rows(rows: Sequence[Row], only: Sequence[str], seeds: int | None,
                baseline: str = "resnet") -> list[Row]:
    """The rows named in ``only`` (all when empty) and always ``baseline``, each with
    ``seeds`` seeds when given."""
    chosen = [r for r in rows if not only or r.name == baseline or r.name in only]
    return [Row(**{**r.__dict__, "seeds": seeds}) for r in chosen] if seeds else chosen


def run_benchmark(rows: list[Row], task: Task, *, baseline: str, original: str,
                  json_path: Path | None, weights: Path, epochs: int | None = None,
                  info: dict[str, Any] | None = None, quiet: bool = False,
                  train_only: bool = False) -> dict[str, Any]:
    """A speed benchmark in three phases: train every seed of every row, then time every
    row's trained model in this one process, then measure memory. The trained weights and
    each finished seed's record go to the folder ``weights`` (outside the repository), so a
    rerun with the same settings continues an interrupted run. Writes ``{benchmark, mode,
    budget, ..., hardware, environment, rows}`` to ``json_path`` and returns it; prints the
    table unless ``quiet``. ``train_only`` stops after the first phase: training does not
    need the machine to itself, timing does."""
    from .experiments.common import environment, hardware, jsonable

    log = (lambda text: None) if quiet else (lambda text: print(text, file=sys.stderr,
                                                                flush=True))
    start = time.perf_counter()
    settings = {"benchmark": task.name, "epochs": epochs, **(info or {})}
    records = train_rows(rows, task, epochs=epochs, state_path=weights / "seeds.json",
                         weights=weights,
                         settings=settings, log=log)
    if train_only:  # phase 1 only (e.g. in the background, niced): nothing timed, no JSON
        return {"benchmark": task.name, "trained": records}
    timings = time_rows(rows, task, weights=weights, baseline=baseline, log=log)
    memory = measure_memory(rows, task, weights=weights)
    result = {**(info or {}), "benchmark": task.name,
              "hardware": hardware(task.device), "environment": environment(),
              "seconds": time.perf_counter() - start,
              "rows": summarise_rows(rows, records, timings, memory, task, baseline=baseline,
                                     original=original)}
    if not quiet:
        print(benchmark_table(result["rows"], baseline))
        print(f"\n{result['hardware']['summary']}")
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(jsonable(result), indent=1) + "\n", encoding="utf-8")
    return result
