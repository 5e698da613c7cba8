"""Diagnose a Neural ODE: its solver in one training step (11_when_neural_odes_go_wrong).

:func:`diagnose` runs one training step (forward and backward, no optimiser step) of a model
that contains ODE blocks, watches every ``torchdiffeq`` solve it makes, and puts the model
back exactly as it was. It works on the course's :class:`~nodebook_utils.models.ODEBlock`
and on any ``nn.Module`` that calls ``torchdiffeq.odeint`` or ``odeint_adjoint`` itself: it
swaps torchdiffeq's solver classes for recording subclasses while it runs, so every solve is
seen whichever way the model imported ``odeint``. The :class:`Diagnosis` it returns holds one
:class:`BlockReport` per module that solved, and the :class:`Finding` s: symptom, evidence
(numbers from this step) and the fix to try, each with the lesson that explains it.

The rules behind the findings are in :class:`Rules`, each with the reason for its threshold.
"""

from __future__ import annotations

import cmath
import functools
import html
import importlib
import math
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchdiffeq._impl.dopri5 import Dopri5Solver
from torchdiffeq._impl.misc import _rms_norm
from torchdiffeq._impl.rk_common import RKAdaptiveStepsizeODESolver
from torchdiffeq._impl.solvers import FixedGridODESolver

from .models import ODEBlock, ode_blocks
from .solvers import EULER, MIDPOINT, RK4, ButcherTableau, CountNFE, stability_radius
from .training import unchanged

# the module (torchdiffeq._impl re-exports a function of the same name)
_torchdiffeq_odeint = importlib.import_module("torchdiffeq._impl.odeint")

__all__ = ["BlockReport", "Diagnosis", "Finding", "Rules", "diagnose", "dominant_eigenvalue",
           "method_tableau", "stability_ratio", "torchdiffeq_methods"]

LESSON = "11_when_neural_odes_go_wrong.ipynb"

# Heun's methods as torchdiffeq takes them (fixed_grid.py): every explicit s-stage method of
# order s <= 4 has the same stability function, the Taylor polynomial of exp(z).
_HEUN2 = ButcherTableau("heun2", 2, c=(0.0, 1.0), a=((), (1.0,)), b=(0.5, 0.5))
_HEUN3 = ButcherTableau("heun3", 3, c=(0.0, 1 / 3, 2 / 3), a=((), (1 / 3,), (0.0, 2 / 3)),
                        b=(0.25, 0.0, 0.75))
_FIXED_TABLEAUX = {"euler": EULER, "midpoint": MIDPOINT, "rk4": RK4, "heun2": _HEUN2,
                   "heun3": _HEUN3}


def torchdiffeq_methods() -> list[str]:
    """The ``method=`` names the installed torchdiffeq accepts (releases differ: implicit
    Runge-Kutta methods arrived in its repository after release 0.2.5)."""
    return sorted(_torchdiffeq_odeint.SOLVERS)


def method_tableau(method: str) -> ButcherTableau | None:
    """The Butcher tableau of torchdiffeq's one-step ``method`` (fixed-step methods as
    torchdiffeq takes them, adaptive ones from their class); None for the multistep Adams
    methods and the SciPy wrapper, whose stability is not that of one Runge-Kutta step."""
    if method in _FIXED_TABLEAUX:
        return _FIXED_TABLEAUX[method]
    solver = _torchdiffeq_odeint.SOLVERS.get(method)
    if solver is None or not issubclass(solver, RKAdaptiveStepsizeODESolver):
        return None
    tableau = solver.tableau
    b = tuple(float(v) for v in tableau.c_sol)
    rows = tuple(tuple(float(v) for v in beta) for beta in tableau.beta)
    return ButcherTableau(method, solver.order, c=(0.0,) * len(b), a=((), *rows)[: len(b)], b=b)


@functools.lru_cache(maxsize=4096)
def _radius(method: str, angle: float) -> float:
    tableau = method_tableau(method)
    return math.inf if tableau is None else stability_radius(tableau, angle)


def stability_ratio(method: str, z: complex) -> float | None:
    """``|z|`` over ``method``'s stability radius in the direction of ``z = h lam``: above 1
    the step amplifies the mode it meets instead of damping it. None for a growing mode
    (``Re z > 0``: the true solution grows too) and for ``z = 0``; 0 for methods without a
    one-step stability function (Adams). Directions are rounded to a thousandth of a radian."""
    if z == 0 or z.real > 0:
        return None
    radius = _radius(method, round(math.atan2(z.imag, z.real), 3))
    return 0.0 if math.isinf(radius) else abs(z) / radius


@dataclass(frozen=True)
class Rules:
    """The thresholds of the findings, each with why it sits where it does.

    - ``stiff_fraction`` / ``stiff_share``: an adaptive explicit solver is *stability-bound*
      when at least ``stiff_share`` of its accepted steps have a stability ratio (``|h lam|``
      over the method's stability radius in the direction of ``h lam``, ``lam`` the dominant
      eigenvalue of the dynamics' Jacobian there) of at least ``stiff_fraction``. Error
      control cannot take steps much past the boundary (they amplify and are rejected), so
      steps that sit near it are set by stability, not accuracy; Hairer & Wanner's DOPRI5
      code uses the same test on the real axis (``h * rho`` near 3.25 of 3.3 over many
      steps; Solving ODEs II, Sec. IV.2).
    - A fixed-step solver with a stability ratio above 1 is *unstable* at that step: no
      threshold, the stability region is the rule.
    - ``rejected_share``: with more than this share of steps rejected the controller keeps
      overshooting; healthy dopri5 solves reject few steps (its safety factor 0.9 aims below
      the largest acceptable step).
    - ``many_steps``: an adaptive solve with more accepted steps than this costs more
      evaluations than a ResNet of that many blocks times the method's stages; trained
      classifiers in lessons 08-10 take a handful of steps.
    - ``overhead_share``: when the solver's own work (step-size control, error norms,
      interpolation, Python) takes more of the solve than the dynamics do, a faster network
      will not help: fewer, larger batches or a fixed-step solver will.
    - ``gradient_error``: adjoint and backprop gradients should agree to about the solver's
      tolerance; a relative difference above this changes what SGD does.
    - ``resolve_change`` / ``resolve_flips``: the output moves by more than this (relative)
      or more than this share of predictions change when the solve is made accurate: the
      trained model depends on its discretisation (lesson 10; Ott et al., 2021). An adaptive
      solve is allowed ten times its own tolerance, ``rtol + atol / rms(output)``, when that
      is larger: an output of the size of ``atol`` moves by its whole size.
    - ``growth``: the state's norm growing by more than this factor over the interval is the
      usual start of a blow-up (and of "underflow in dt").
    - ``adjoint_slowdown``: the adjoint is worth its extra backward solve only for the
      memory it saves; a step this much slower than with backprop is worth a decision, with
      both memories measured side by side.
    """

    stiff_fraction: float = 0.8
    stiff_share: float = 0.5
    rejected_share: float = 0.3
    many_steps: int = 20
    overhead_share: float = 0.5
    gradient_error: float = 1e-2
    resolve_change: float = 0.05
    resolve_flips: float = 0.01
    growth: float = 100.0
    adjoint_slowdown: float = 1.5


@dataclass
class Finding:
    """One problem found: what the learner sees, the numbers that show it, what to try."""

    block: str
    symptom: str
    evidence: str
    fix: str
    lesson: str = LESSON

    def __str__(self) -> str:
        return f"[{self.block}] {self.symptom}: {self.evidence}. Try: {self.fix} ({self.lesson})"


@dataclass(repr=False)
class BlockReport:
    """What one module's solves did in the diagnosed step."""

    name: str
    method: str
    adaptive: bool
    adjoint: bool | None  # None: a module calling torchdiffeq itself (not switchable)
    rtol: float | None
    atol: float | None
    nfe_forward: int = 0
    nfe_backward: int = 0
    steps_accepted: int = 0
    steps_rejected: int = 0
    step_times: list[float] = field(default_factory=list)
    step_sizes: list[float] = field(default_factory=list)
    step_accepted: list[bool] = field(default_factory=list)
    smallest_step: float | None = None
    interval: float | None = None
    failure: str | None = None
    state_growth: float | None = None
    solve_seconds: float = 0.0
    dynamics_seconds: float = 0.0
    stiffness_times: list[float] = field(default_factory=list)
    eigenvalues: list[tuple[float, float]] = field(default_factory=list)  # (real, imaginary)
    rho_h: list[float] = field(default_factory=list)  # |h lam| at the same points
    stability_ratios: list[float | None] = field(default_factory=list)
    output_change: float | None = None

    def __repr__(self) -> str:
        return (f"BlockReport({self.name!r}, {self.method}, NFE {self.nfe_forward} + "
                f"{self.nfe_backward}, steps {self.steps_accepted} accepted / "
                f"{self.steps_rejected} rejected)")

    @property
    def overhead_share(self) -> float | None:
        """The share of the forward solve's time not spent evaluating the dynamics."""
        if self.solve_seconds <= 0:
            return None
        return max(0.0, 1 - self.dynamics_seconds / self.solve_seconds)

    @property
    def rejected_share(self) -> float | None:
        total = self.steps_accepted + self.steps_rejected
        return self.steps_rejected / total if total else None

    @property
    def spectral_radii(self) -> list[float]:
        """``|lam|`` of the dominant eigenvalue at each point checked."""
        return [abs(complex(*lam)) for lam in self.eigenvalues]

    def stiffness_ratio(self) -> float | None:
        """The largest stability ratio along the trajectory (None: no decaying mode seen)."""
        ratios = [r for r in self.stability_ratios if r is not None]
        return max(ratios) if ratios else None


@dataclass(repr=False)
class Diagnosis:
    """The result of :func:`diagnose`: per-block reports, the whole step and the findings."""

    blocks: list[BlockReport]
    findings: list[Finding]
    device: str
    loss: float | None
    forward_seconds: float | None
    backward_seconds: float | None
    failure: str | None = None
    warnings: list[str] = field(default_factory=list)  # what torchdiffeq warned
    step_seconds: float | None = None  # the step again, unwatched (no counting, no syncs)
    gradient_method: str | None = None  # "adjoint", "backprop" or "mixed" (course blocks)
    other_step_seconds: float | None = None  # the step with the other gradient method
    other_failure: str | None = None  # why the step with the other method failed
    gradient_relative_error: float | None = None
    memory: dict[str, Any] | None = None  # {"configured": {...}, "other": {...}} in MiB
    output_change: float | None = None
    predictions_changed: float | None = None
    resolve: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Everything as JSON-serialisable Python values."""
        def clean(value: Any) -> Any:
            if isinstance(value, float) and not math.isfinite(value):
                return str(value)
            if isinstance(value, dict):
                return {k: clean(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [clean(v) for v in value]
            return value

        out = clean(asdict(self))
        for block, report in zip(out["blocks"], self.blocks, strict=True):
            block["overhead_share"] = report.overhead_share
            block["rejected_share"] = report.rejected_share
            block["stiffness_ratio"] = report.stiffness_ratio()
            block["spectral_radii"] = report.spectral_radii
        return out

    def summary_rows(self) -> list[tuple[str, str, str]]:
        """(block, quantity, value) rows of the report."""
        rows = []
        for b in self.blocks:
            rows += [
                (b.name, "solver", f"{b.method}" + (f", rtol {b.rtol:g}, atol {b.atol:g}"
                                                     if b.adaptive else "")
                 + {True: ", adjoint", False: ", backprop", None: ""}[b.adjoint]),
                (b.name, "NFE forward + backward", f"{b.nfe_forward} + {b.nfe_backward}"),
                (b.name, "steps accepted / rejected", f"{b.steps_accepted} / {b.steps_rejected}"),
            ]
            if b.smallest_step is not None:
                rows.append((b.name, "smallest step", f"{b.smallest_step:.3g}"
                             + (f" of an interval of {b.interval:g}" if b.interval else "")))
            if b.eigenvalues:
                i = int(np.argmax(b.rho_h))
                lam = complex(*b.eigenvalues[i])
                ratio = b.stiffness_ratio()
                rows.append((b.name, "dominant eigenvalue × step, largest",
                             f"|h λ| = {b.rho_h[i]:.3g} (λ = {lam.real:.3g}{lam.imag:+.3g}i)"))
                rows.append((b.name, "stability ratio, largest (above 1: unstable)",
                             "—" if ratio is None else f"{ratio:.3g}"))
            if b.overhead_share is not None:
                rows.append((b.name, "forward solve: dynamics / solver's own work",
                             f"{b.dynamics_seconds * 1e3:.1f} ms / "
                             f"{(b.solve_seconds - b.dynamics_seconds) * 1e3:.1f} ms"))
            if b.state_growth is not None:
                rows.append((b.name, "state norm, largest / start", _growth(b.state_growth)))
            if b.output_change is not None:
                rows.append((b.name, "output moved when re-solved accurately",
                             f"{b.output_change:.3g} (relative)"))
            if b.failure:
                rows.append((b.name, "failed", b.failure))
        if self.forward_seconds is not None:
            rows.append(("step", "forward / backward, watched",
                         f"{self.forward_seconds * 1e3:.1f} ms / "
                         f"{(self.backward_seconds or 0) * 1e3:.1f} ms"))
        if self.step_seconds is not None:
            rows.append(("step", "forward + backward, unwatched",
                         f"{self.step_seconds * 1e3:.1f} ms"))
        if self.other_step_seconds is not None:
            other = "backprop" if self.gradient_method == "adjoint" else "adjoint"
            rows.append(("step", f"whole step with {other} instead",
                         f"{self.other_step_seconds * 1e3:.1f} ms"))
        if self.gradient_relative_error is not None:
            rows.append(("step", "adjoint vs backprop gradients (relative difference)",
                         f"{self.gradient_relative_error:.2e}"))
        if self.memory:
            for key, value in self.memory.items():
                if isinstance(value, dict):
                    peak = value.get("peak_mib")
                    rows.append(("step", f"tensor memory with {key}",
                                 f"{value['saved_mib']:.2f} MiB saved for backward, peak "
                                 + ("—" if peak is None else f"{peak:.2f} MiB")))
        if self.predictions_changed is not None:
            rows.append(("step", "predictions changed when re-solved accurately",
                         f"{100 * self.predictions_changed:.1f} %"))
        return rows

    def __str__(self) -> str:
        lines = [f"Diagnosis of one training step on {self.device}"]
        if self.failure:
            lines.append(f"The step failed: {self.failure}")
        width = max((len(q) for _, q, _ in self.summary_rows()), default=0)
        block = None
        for name, quantity, value in self.summary_rows():
            if name != block:
                lines.append(f"{name}:")
                block = name
            lines.append(f"  {quantity:<{width}}  {value}")
        lines.append("Findings:" if self.findings else "Findings: none")
        lines += [f"  - {finding}" for finding in self.findings]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        esc = html.escape
        rows = "".join(f"<tr><td>{esc(n)}</td><td>{esc(q)}</td><td>{esc(v)}</td></tr>"
                       for n, q, v in self.summary_rows())
        findings = "".join(
            f"<li><b>{esc(f.symptom)}</b> ({esc(f.block)}): {esc(f.evidence)}. "
            f"<i>Try:</i> {esc(f.fix)} <small>({esc(f.lesson)})</small></li>"
            for f in self.findings) or "<li>none</li>"
        failed = f"<p><b>The step failed:</b> {esc(self.failure)}</p>" if self.failure else ""
        return (f"<div><p>Diagnosis of one training step on {esc(self.device)}</p>{failed}"
                f"<table><thead><tr><th>block</th><th>quantity</th><th>value</th></tr></thead>"
                f"<tbody>{rows}</tbody></table><p>Findings:</p><ul>{findings}</ul></div>")

    def plot_steps(self, ax: Any = None) -> Any:
        """Step size against time for every block's forward solve: accepted steps as filled
        dots, rejected ones as crosses, on a log scale. Returns the axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.2))
        markers = ("o", "s", "^", "D", "v")
        for i, b in enumerate(self.blocks):
            t, h, ok = (np.asarray(v) for v in (b.step_times, b.step_sizes, b.step_accepted))
            if not len(t):
                continue
            ax.plot(t[ok], h[ok], markers[i % len(markers)] + "-", ms=4, lw=1,
                    label=f"{b.name}: accepted")
            if (~ok).any():
                ax.plot(t[~ok], h[~ok], "x", ms=6, label=f"{b.name}: rejected")
        ax.set_yscale("log")
        ax.set_xlabel("time t where the step starts")
        ax.set_ylabel("step size h")
        ax.legend(fontsize="small")
        return ax


# ------------------------------------------------------------------------- watching solves


@dataclass
class _Solve:
    """One torchdiffeq solve as the recording solver saw it."""

    owner: str | None
    phase: str
    method: str
    adaptive: bool
    rtol: float | None
    atol: float | None
    func: Any = None
    nfe: int = 0
    dynamics_seconds: float = 0.0
    seconds: float = 0.0
    times: list[float] = field(default_factory=list)
    sizes: list[float] = field(default_factory=list)
    accepted: list[bool] = field(default_factory=list)
    points: list[tuple[Tensor, Tensor, float]] = field(default_factory=list)  # t, y, h
    norms: list[float] = field(default_factory=list)
    failure: str | None = None
    interval: float | None = None


class _Recorder:
    """Which module is running (forward hooks keep a stack) and every solve made."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.stack: list[str] = []
        self.phase = "forward"
        self.solves: list[_Solve] = []

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def start(self, method: str, solver: Any, adaptive: bool) -> _Solve:
        rtol = float(solver.rtol) if adaptive else None
        atol = float(solver.atol) if adaptive else None
        solve = _Solve(self.stack[-1] if self.stack else None, self.phase, method, adaptive,
                       rtol, atol)
        self.solves.append(solve)
        return solve


class _Metered:
    """torchdiffeq's wrapped dynamics, counted and timed; everything else passes through."""

    def __init__(self, func: Any, solve: _Solve, recorder: _Recorder) -> None:
        self._func, self._solve, self._recorder = func, solve, recorder

    def __call__(self, t: Tensor, y: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        self._recorder.sync()
        start = time.perf_counter()
        out = self._func(t, y, *args, **kwargs)
        self._recorder.sync()
        self._solve.dynamics_seconds += time.perf_counter() - start
        self._solve.nfe += 1
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._func, name)


def _recording(cls: type, method: str, recorder: _Recorder) -> type:
    """A subclass of torchdiffeq's solver ``cls`` that reports to ``recorder``."""
    adaptive = issubclass(cls, RKAdaptiveStepsizeODESolver)

    class Recording(cls):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._solve = recorder.start(method, self, adaptive)
            self._solve.func = self.func
            self.func = _Metered(self.func, self._solve, recorder)

        def _note(self, t: Tensor, y: Tensor, h: float, accepted: bool) -> None:
            s = self._solve
            s.times.append(float(t))
            s.sizes.append(h)
            s.accepted.append(accepted)
            if accepted and s.phase == "forward":
                s.norms.append(float(y.detach().norm()))
                s.points.append((t.detach().clone(), y.detach().clone(), h))

        def integrate(self, t: Tensor) -> Tensor:
            self._solve.interval = abs(float(t[-1] - t[0]))
            recorder.sync()
            start = time.perf_counter()
            try:
                out = super().integrate(t)
            except AssertionError as error:  # torchdiffeq's "underflow in dt", etc.
                self._solve.failure = str(error).split(":")[0][:200]
                raise
            recorder.sync()
            self._solve.seconds += time.perf_counter() - start
            self._solve.norms.append(float(out[-1].detach().norm()))
            return out

        if adaptive:
            def _adaptive_step(self, rk_state: Any) -> Any:
                h = rk_state.dt
                if not torch.isfinite(h):
                    h = self.min_step
                h = float(h.clamp(self.min_step, self.max_step))
                new = super()._adaptive_step(rk_state)
                self._note(rk_state.t1, rk_state.y1, h, bool(new.t1 > new.t0))
                return new
        else:
            def _step_func(self, func: Any, t0: Tensor, dt: Tensor, t1: Tensor,
                           y0: Tensor) -> Any:
                self._note(t0, y0, float(dt), True)
                return super()._step_func(func, t0, dt, t1, y0)

    Recording.__name__ = f"Recording{cls.__name__}"
    return Recording


@contextmanager
def _solvers_replaced(make: Callable[[str, type], Any]) -> Iterator[None]:
    """torchdiffeq's solver table with every entry replaced by ``make(name, cls)``;
    ``odeint`` and ``odeint_adjoint`` look solvers up there on every call."""
    table = _torchdiffeq_odeint.SOLVERS
    saved = dict(table)
    try:
        for name, cls in saved.items():
            if issubclass(cls, RKAdaptiveStepsizeODESolver | FixedGridODESolver):
                table[name] = make(name, cls)
        yield
    finally:
        table.clear()
        table.update(saved)


def _accurate(tol: float) -> Callable[[str, type], Any]:
    """Solver factories that ignore the method and options asked for and solve with dopri5
    at ``rtol = atol = tol`` (keeping only the error norm torchdiffeq chose)."""
    def make(name: str, cls: type) -> Any:
        def factory(*, func: Any, y0: Tensor, norm: Any = None, **_ignored: Any) -> Any:
            return Dopri5Solver(func=func, y0=y0, rtol=tol, atol=tol, norm=norm or _rms_norm)

        factory.valid_callbacks = Dopri5Solver.valid_callbacks  # type: ignore[attr-defined]
        return factory

    return make


@contextmanager
def _module_stack(model: nn.Module, recorder: _Recorder) -> Iterator[None]:
    """Forward hooks on every submodule that keep the name of the running ones."""
    handles = []
    for name, module in model.named_modules():
        label = name or "model"

        def push(_m: nn.Module, _args: Any, label: str = label) -> None:
            recorder.stack.append(label)

        def pop(_m: nn.Module, _args: Any, _out: Any) -> None:
            if recorder.stack:
                recorder.stack.pop()

        handles.append(module.register_forward_pre_hook(push))
        handles.append(module.register_forward_hook(pop, always_call=True))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
        recorder.stack.clear()


# ------------------------------------------------------------------------------ measuring


def dominant_eigenvalue(func: Callable[[Tensor, Tensor], Tensor], t: Tensor, y: Tensor, *,
                       iterations: int = 30, seed: int = 0) -> complex:
    """The eigenvalue of largest magnitude of the Jacobian ``d func / d y`` at ``(t, y)``
    (11_when_neural_odes_go_wrong), from vector-Jacobian products only (one backward pass
    each; the Jacobian is never built).

    Power iteration ``v <- J^T v / |J^T v|`` (``J^T`` has ``J``'s eigenvalues) turns ``v``
    towards the dominant eigenvector, or, for a dominant complex pair, into the plane the
    pair rotates. Two more products ``u1 = J^T v``, ``u2 = J^T u1`` then satisfy
    ``u2 = a u1 + b v`` in that plane, and the roots of ``x^2 - a x - b`` are the pair (or
    the dominant real eigenvalue and a smaller one): the larger root is returned. If that
    fit leaves more than 10 % of ``u2`` unexplained (several modes of equal size), the
    growth rate of the iteration is returned as a negative real number. A batch's Jacobian
    is block diagonal (one block per example, unless the dynamics mix examples), so this is
    the dominant eigenvalue over the batch."""
    generator = torch.Generator(device="cpu").manual_seed(seed)
    with torch.enable_grad():
        y = y.detach().requires_grad_(True)
        f = func(t, y)

        def vjp(v: Tensor) -> Tensor:
            return torch.autograd.grad(f, y, v.to(y.dtype), retain_graph=True)[0].double()

        v = torch.randn(y.shape, generator=generator, dtype=torch.float64).to(y.device)
        v = v / v.norm()
        logs = []
        for _ in range(iterations):
            w = vjp(v)
            norm = float(w.norm())
            if norm == 0 or not math.isfinite(norm):
                return complex(0.0 if norm == 0 else -math.inf)
            logs.append(math.log(norm))
            v = w / norm
        u1 = vjp(v)
        scale = float(u1.norm())
        u2 = vjp(u1 / scale) * scale
    basis = torch.stack([u1.flatten(), v.flatten()], dim=1)
    coef = torch.linalg.lstsq(basis.cpu(), u2.flatten()[:, None].cpu()).solution[:, 0]
    unexplained = float((basis.cpu() @ coef - u2.flatten().cpu()).norm() / u2.norm())
    half = logs[len(logs) // 2:]
    growth = math.exp(sum(half) / len(half))
    if unexplained > 0.1:
        return complex(-growth)
    a, b = float(coef[0]), float(coef[1])
    root = cmath.sqrt(a * a + 4 * b)
    return max(((a + root) / 2, (a - root) / 2), key=abs)


def _relative(a: Tensor, b: Tensor) -> float:
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


def _default_loss(output: Tensor, target: Tensor | None) -> Tensor:
    if target is None:
        return output.pow(2).mean()
    if output.ndim == 2 and not torch.is_floating_point(target):
        return F.cross_entropy(output, target)
    return F.mse_loss(output, target)


def _split(batch: Any, device: torch.device) -> tuple[Tensor, Tensor | None]:
    if isinstance(batch, Tensor):
        return batch.to(device), None
    if isinstance(batch, list | tuple) and len(batch) == 2 and isinstance(batch[0], Tensor):
        return batch[0].to(device), batch[1].to(device)
    raise TypeError("batch must be an input tensor or a pair (inputs, targets) of tensors, "
                    f"got {type(batch).__name__}")


def _gradients(model: nn.Module) -> Tensor | None:
    grads = [p.grad.flatten() for p in model.parameters() if p.grad is not None]
    return torch.cat(grads) if grads else None


# ---------------------------------------------------------------------------------- main


def diagnose(model: nn.Module, batch: Any, loss_fn: Callable[..., Tensor] | None = None, *,
             device: torch.device | str | None = None, rules: Rules = Rules(),
             stiffness_points: int = 6, memory: bool = True, compare_gradients: bool = True,
             resolve_tol: float = 1e-5) -> Diagnosis:
    """Run one training step of ``model`` on ``batch`` and report what its ODE solves did
    (11_when_neural_odes_go_wrong).

    ``batch`` is the input tensor or a pair ``(inputs, targets)``; ``loss_fn(output,
    targets)`` defaults to cross-entropy for class labels, mean squared error for other
    targets and the mean square of the output without targets. The model is put back as it
    was: weights, buffers (BatchNorm statistics), train/eval modes, gradients, NFE counters
    and the random number generators.

    Per module that solves: NFE forward and backward, accepted and rejected steps and their
    sizes, the state's growth, the time in the dynamics against the solver's own work, and
    along the trajectory (``stiffness_points`` accepted steps) the largest eigenvalue
    magnitude of the dynamics' Jacobian times the step, against the method's stability
    limit. For the course's :class:`~nodebook_utils.models.ODEBlock` s, also the step with
    the other gradient method (adjoint or backprop): its time, the gradients' relative
    difference and (``memory=True``) both steps' tensor memory, measured last because a
    memory measurement changes how the allocator behaves for the rest of the process: time
    nothing in this process after a call with ``memory=True``. Finally the model's output in
    eval mode re-solved with dopri5 at ``rtol = atol = resolve_tol``: how far it moves.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if device is None:
        param = next(iter(model.parameters()), None)
        device = param.device if param is not None else torch.device("cpu")
    device = torch.device(device)
    x, y = _split(batch, device)
    loss_fn = loss_fn or _default_loss
    counters = [(m, m.nfe) for m in model.modules() if isinstance(m, CountNFE)]
    rng = torch.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    try:
        with unchanged(model):
            return _diagnose(model, x, y, loss_fn, device, rules, stiffness_points, memory,
                             compare_gradients, resolve_tol)
    finally:
        for module, count in counters:
            module.nfe = count
        torch.set_rng_state(rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)


def _step(model: nn.Module, x: Tensor, y: Tensor | None, loss_fn: Callable[..., Tensor],
          recorder: _Recorder | None) -> tuple[Tensor, float, float]:
    """Forward and backward; the two times. Gradients are set to None first."""
    for p in model.parameters():
        p.grad = None
    sync = recorder.sync if recorder else (lambda: None)
    sync()
    start = time.perf_counter()
    if recorder:
        recorder.phase = "forward"
    loss = loss_fn(model(x), y)
    sync()
    forward = time.perf_counter() - start
    if recorder:
        recorder.phase = "backward"
    start = time.perf_counter()
    loss.backward()
    sync()
    return loss.detach(), forward, time.perf_counter() - start


def _diagnose(model: nn.Module, x: Tensor, y: Tensor | None, loss_fn: Callable[..., Tensor],
              device: torch.device, rules: Rules, stiffness_points: int, memory: bool,
              compare_gradients: bool, resolve_tol: float) -> Diagnosis:
    model.train()
    recorder = _Recorder(device)
    failure, loss, forward, backward = None, None, None, None
    with warnings.catch_warnings(record=True) as caught, \
            _solvers_replaced(lambda name, cls: _recording(cls, name, recorder)), \
            _module_stack(model, recorder):
        warnings.simplefilter("always")
        try:
            loss, forward, backward = _step(model, x, y, loss_fn, recorder)
        except AssertionError as error:
            failure = str(error).split(":")[0][:200] or "a torchdiffeq assertion failed"
        except (RuntimeError, ValueError, TypeError, IndexError) as error:
            if not recorder.solves:
                raise ValueError(
                    f"the model could not run on the batch (input shape {tuple(x.shape)}): "
                    f"{type(error).__name__}: {error}. Pass a batch shaped like the model's "
                    "training inputs, or (inputs, targets) with a loss_fn that fits them"
                ) from error
            failure = f"{type(error).__name__}: {str(error)[:200]}"
    if not recorder.solves:
        raise ValueError(
            f"{type(model).__name__} made no ODE solve in its forward pass: diagnose looks at "
            "ODE blocks (the course's ODEBlock, or modules that call torchdiffeq.odeint / "
            "odeint_adjoint), and this model has none")
    blocks = _block_reports(model, recorder, stiffness_points)
    diagnosis = Diagnosis(blocks, [], str(device), None if loss is None else float(loss),
                          forward, backward, failure)
    diagnosis.warnings = sorted({str(w.message) for w in caught if "torchdiffeq" in w.filename})
    if failure is None:
        with warnings.catch_warnings():  # the configured step's warnings are reported above
            warnings.filterwarnings("ignore", module="torchdiffeq")
            _, forward_s, backward_s = _step(model, x, y, loss_fn, None)
            diagnosis.step_seconds = forward_s + backward_s
            _compare_gradient_methods(diagnosis, model, compare_gradients, x, y, loss_fn)
            _resolve(diagnosis, model, x, y, device, resolve_tol)
            if memory:  # last: measuring memory changes the allocator for the rest of the process
                _measure_memory(diagnosis, model, x, y, loss_fn, device)
    diagnosis.findings = _findings(diagnosis, rules)
    return diagnosis


def _block_reports(model: nn.Module, recorder: _Recorder, points: int) -> list[BlockReport]:
    """Group the solves by the module that made them; a backward solve of the adjoint (made
    while no module runs) belongs to the forward adjoint solves in reverse order, as
    autograd runs the backward pass in reverse."""
    named = {name or "model": module for name, module in model.named_modules()}
    forward = [s for s in recorder.solves if s.phase == "forward"]
    backward = [s for s in recorder.solves if s.phase == "backward"]
    owners: dict[str, list[_Solve]] = {}
    for s in forward:
        owners.setdefault(s.owner or "model", []).append(s)
    adjoint_owners = [s.owner or "model" for s in forward
                      if isinstance(named.get(s.owner or "model"), ODEBlock)
                      and named[s.owner or "model"].adjoint]
    unmatched = [s for s in backward if s.owner is None]
    reports = []
    back_nfe: dict[str, int] = {}
    if adjoint_owners and len(unmatched) == len(adjoint_owners):
        for owner, s in zip(reversed(adjoint_owners), unmatched, strict=True):
            back_nfe[owner] = back_nfe.get(owner, 0) + s.nfe
    else:  # plain odeint_adjoint calls: attribute in reverse order of the forward solves
        names = [s.owner or "model" for s in forward][::-1]
        for owner, s in zip(names, unmatched, strict=False):
            back_nfe[owner] = back_nfe.get(owner, 0) + s.nfe
    for owner, solves in owners.items():
        first = solves[0]
        module = named.get(owner)
        report = BlockReport(
            name=owner, method=first.method, adaptive=first.adaptive,
            adjoint=bool(module.adjoint) if isinstance(module, ODEBlock) else None,
            rtol=first.rtol, atol=first.atol,
            nfe_forward=sum(s.nfe for s in solves), nfe_backward=back_nfe.get(owner, 0),
            steps_accepted=sum(sum(s.accepted) for s in solves),
            steps_rejected=sum(len(s.accepted) - sum(s.accepted) for s in solves),
            step_times=[t for s in solves for t in s.times],
            step_sizes=[h for s in solves for h in s.sizes],
            step_accepted=[a for s in solves for a in s.accepted],
            failure=next((s.failure for s in solves if s.failure), None),
            solve_seconds=sum(s.seconds for s in solves),
            dynamics_seconds=sum(s.dynamics_seconds for s in solves if s.seconds),
        )
        accepted = [h for h, a in zip(report.step_sizes, report.step_accepted, strict=True) if a]
        report.smallest_step = min(accepted) if accepted else (
            min(report.step_sizes) if report.step_sizes else None)
        report.interval = first.interval
        norms = [n for s in solves for n in s.norms]
        if len(norms) >= 2 and norms[0] > 0:
            report.state_growth = max(norms) / norms[0]
        _stiffness(report, solves, points)
        reports.append(report)
    return reports


def _stiffness(report: BlockReport, solves: list[_Solve], points: int) -> None:
    """The dominant eigenvalue, ``|h lam|`` and the stability ratio at up to ``points``
    accepted steps spread over the solve."""
    candidates = [(s.func, t, y, h) for s in solves for (t, y, h) in s.points]
    if not candidates or points <= 0:
        return
    picks = np.unique(np.linspace(0, len(candidates) - 1, min(points, len(candidates)))
                      .round().astype(int))
    for i in picks:
        func, t, y, h = candidates[int(i)]
        lam = dominant_eigenvalue(func, t, y)
        report.stiffness_times.append(float(t))
        report.eigenvalues.append((lam.real, lam.imag))
        report.rho_h.append(abs(lam) * abs(h))
        report.stability_ratios.append(stability_ratio(report.method, lam * abs(h)))


def _flip(model: nn.Module) -> list[ODEBlock]:
    blocks = ode_blocks(model)
    for block in blocks:
        block.adjoint = not block.adjoint
    return blocks


def _compare_gradient_methods(diagnosis: Diagnosis, model: nn.Module, compare: bool,
                              x: Tensor, y: Tensor | None,
                              loss_fn: Callable[..., Tensor]) -> None:
    """For course ODEBlocks: the step again with the other gradient method (after a
    warm-up step): its time and the gradients' relative difference."""
    blocks = ode_blocks(model)
    if not blocks:
        return
    methods = {b.adjoint for b in blocks}
    diagnosis.gradient_method = ("mixed" if len(methods) > 1
                                 else "adjoint" if methods.pop() else "backprop")
    if not compare:
        return
    configured = _gradients(model)  # from the watched step: the same gradients
    try:
        _flip(model)
        _step(model, x, y, loss_fn, None)  # warm-up: first-call allocations
        _, forward, backward = _step(model, x, y, loss_fn, None)
        other = _gradients(model)
    except AssertionError as error:  # e.g. the adjoint's backward solve blew up
        diagnosis.other_failure = str(error).split(":")[0][:200]
        return
    finally:
        _flip(model)
    diagnosis.other_step_seconds = forward + backward
    if configured is not None and other is not None and diagnosis.gradient_method != "mixed":
        adjoint, backprop = ((configured, other) if diagnosis.gradient_method == "adjoint"
                             else (other, configured))
        diagnosis.gradient_relative_error = _relative(adjoint, backprop)


def _measure_memory(diagnosis: Diagnosis, model: nn.Module, x: Tensor, y: Tensor | None,
                    loss_fn: Callable[..., Tensor], device: torch.device) -> None:
    """Tensor memory of the step (what autograd saves for backward, and the allocator's
    peak; :mod:`nodebook_utils.memory`), with the configured gradient method and, for the
    course's ODEBlocks, the other one; keyed "adjoint"/"backprop", or "as called" for a
    model that calls torchdiffeq itself."""
    from .memory import SavedTensorsMeter, peak_memory

    blocks = ode_blocks(model)
    measured = {}
    for flipped in (False, True) if blocks else (False,):
        if flipped:
            _flip(model)
        try:
            meter = SavedTensorsMeter(ignore=list(model.parameters()))

            def step(meter: SavedTensorsMeter = meter) -> None:
                with meter.active():
                    loss = loss_fn(model(x), y)
                loss.backward()

            try:
                step()  # first-call allocations
            except AssertionError:  # this method fails here (other_failure says why)
                continue
            meter.storages.clear()
            for p in model.parameters():  # freed here, not inside the measured step
                p.grad = None
            peak = peak_memory(step, device)
            name = ("adjoint" if blocks[0].adjoint else "backprop") if blocks else "as called"
            measured[name] = {"saved_mib": meter.bytes / 2**20,
                              "peak_mib": None if peak["bytes"] is None
                              else peak["bytes"] / 2**20, "measure": peak["measure"]}
        finally:
            if flipped:
                _flip(model)
    diagnosis.memory = measured


def _resolve(diagnosis: Diagnosis, model: nn.Module, x: Tensor, y: Tensor | None,
             device: torch.device, tol: float) -> None:
    """The model's output in eval mode as configured and with every solve replaced by
    dopri5 at ``tol``: relative change of the output and of each block's output, and the
    share of changed predictions when the targets are class labels."""
    outputs: dict[str, list[Tensor]] = {b.name: [] for b in diagnosis.blocks}
    named = {name or "model": module for name, module in model.named_modules()}
    handles = []
    for name in outputs:
        module = named.get(name)
        if module is not None:
            handles.append(module.register_forward_hook(
                lambda _m, _a, out, name=name: outputs[name].append(
                    out.detach() if isinstance(out, Tensor) else torch.tensor(float("nan")))))
    model.eval()
    try:
        with torch.no_grad():
            plain = model(x)
            with _solvers_replaced(_accurate(tol)):
                accurate = model(x)
    finally:
        for handle in handles:
            handle.remove()
    diagnosis.output_change = _relative(plain, accurate)
    allows = 0.0
    for block in diagnosis.blocks:
        pair = outputs[block.name]
        if len(pair) >= 2 and pair[0].shape == pair[-1].shape:
            block.output_change = _relative(pair[0], pair[len(pair) // 2])
            if block.adaptive and block.rtol is not None and block.atol is not None:
                scale = float(pair[0].double().pow(2).mean().sqrt()) or 1.0
                allows = max(allows, 10 * (block.rtol + block.atol / scale))
    diagnosis.resolve = {"method": "dopri5", "rtol": tol, "atol": tol,
                         "tolerance_allows": allows}
    if plain.ndim == 2 and y is not None and not torch.is_floating_point(y):  # class scores
        diagnosis.predictions_changed = float(
            (plain.argmax(1) != accurate.argmax(1)).double().mean())


def _growth(ratio: float) -> str:
    """A growth factor as text; an overflow (inf or nan) said in words."""
    return f"{ratio:.3g}×" if math.isfinite(ratio) else "overflowed (not a finite number)"


def _findings(d: Diagnosis, rules: Rules) -> list[Finding]:
    """Apply :class:`Rules` to a diagnosis."""
    out: list[Finding] = []
    for b in d.blocks:
        if b.failure:
            smallest = ("" if b.smallest_step is None
                        else f"; the smallest step was {b.smallest_step:.3g}")
            growth = ("" if b.state_growth is None
                      else f"; the state's norm: {_growth(b.state_growth)}")
            out.append(Finding(b.name, f"the solve failed ({b.failure})",
                               f"after {b.steps_accepted} accepted and {b.steps_rejected} "
                               f"rejected steps{smallest}{growth}",
                               "look for dynamics that blow up: lower the learning rate, "
                               "normalise inside the dynamics, bound the output (tanh) or "
                               "regularise; check the data for NaN"))
        ratios = [r for r in b.stability_ratios if r is not None]
        if ratios:
            near = [r >= rules.stiff_fraction for r in ratios]
            if b.adaptive and np.mean(near) >= rules.stiff_share:
                out.append(Finding(
                    b.name, "stiff: stability, not accuracy, sets the step size",
                    f"the steps reached {max(ratios):.2f} of {b.method}'s stability radius "
                    f"(|h λ| up to {max(b.rho_h):.3g}) at {sum(near)} of {len(near)} points",
                    "an explicit solver cannot take larger steps here; make the dynamics "
                    "less stiff (Jacobian-norm regularisation, lesson 10) or use an implicit "
                    "method"))
            if not b.adaptive and max(ratios) > 1:
                out.append(Finding(
                    b.name, "unstable fixed step",
                    f"|h λ| reached {max(ratios):.2f} times {b.method}'s stability radius in "
                    "the direction of λ: errors grow at every step",
                    "take more, smaller steps, or regularise the dynamics' Jacobian"))
        share = b.rejected_share
        if share is not None and share > rules.rejected_share:
            out.append(Finding(b.name, "many rejected steps",
                               f"{b.steps_rejected} of {b.steps_accepted + b.steps_rejected} "
                               f"steps rejected", "check for stiffness; a tolerance below "
                               "float32's precision (about 1e-7) cannot be met"))
        if b.adaptive and b.steps_accepted > rules.many_steps:
            out.append(Finding(b.name, "many steps",
                               f"{b.steps_accepted} accepted steps, {b.nfe_forward} "
                               "evaluations in the forward pass",
                               "loosen rtol/atol, regularise (kinetic energy, Jacobian norm; "
                               "lesson 10) or use a fixed-step solver"))
        overhead = b.overhead_share
        if overhead is not None and overhead > rules.overhead_share:
            out.append(Finding(b.name, "the solver's overhead dominates",
                               f"{100 * overhead:.0f} % of the forward solve is not the "
                               "dynamics", "larger batches, fewer solves, a fixed-step "
                               "solver; on a GPU, small kernels wait on their launches"))
        if b.state_growth is not None and b.state_growth > rules.growth:
            out.append(Finding(b.name, "the state grows fast",
                               f"its norm, largest over start: {_growth(b.state_growth)}",
                               "normalise the state, bound the dynamics' output, lower the "
                               "learning rate"))
    if any("iteration did not converge" in w for w in d.warnings):
        out.append(Finding("step", "implicit Adams did not converge",
                           "torchdiffeq warned: " + "; ".join(d.warnings),
                           "torchdiffeq's implicit Adams solves its implicit equation by "
                           "fixed-point iteration, which converges only when the step times "
                           "the dynamics' Lipschitz constant is below 1: smaller steps, or "
                           "dynamics that are less stiff"))
    if d.gradient_relative_error is not None and d.gradient_relative_error > rules.gradient_error:
        out.append(Finding("step", "adjoint gradients differ from backprop's",
                           f"relative difference {d.gradient_relative_error:.2e}",
                           "the adjoint re-solves the state backward in time, and dynamics "
                           "that contract fast going forward expand fast going backward "
                           "(Gholami et al., 2019): train with backprop; otherwise tighten "
                           "adjoint_rtol and adjoint_atol"))
    if d.other_failure:
        other = "backprop" if d.gradient_method == "adjoint" else "the adjoint"
        out.append(Finding("step", f"the step fails with {other}",
                           f"torchdiffeq stopped: {d.other_failure}",
                           "keep the current gradient method; the adjoint re-solves the state "
                           "backward in time, and dynamics that contract fast going forward "
                           "expand fast going backward (Gholami et al., 2019)"))
    if d.gradient_method == "adjoint" and d.other_step_seconds and d.step_seconds:
        slowdown = d.step_seconds / d.other_step_seconds
        if slowdown > rules.adjoint_slowdown:
            memory_text = ""
            if d.memory and {"adjoint", "backprop"} <= set(d.memory):
                memory_text = (f"; backprop stores {d.memory['backprop']['saved_mib']:.3g} MiB "
                               f"for the backward pass, the adjoint "
                               f"{d.memory['adjoint']['saved_mib']:.3g} MiB")
            out.append(Finding("step", "the adjoint is slower than backprop",
                               f"the step takes {slowdown:.2g}× as long as with backprop"
                               f"{memory_text}", "if backprop's memory fits, train with it "
                               "(adjoint=False); the adjoint pays for memory with a second "
                               "solve"))
    flips = d.predictions_changed
    allowed = max(rules.resolve_change, d.resolve.get("tolerance_allows", 0.0))
    if (d.output_change is not None and d.output_change > allowed) or (
            flips is not None and flips > rules.resolve_flips):
        flip_text = "" if flips is None else f", {100 * flips:.1f} % of predictions changed"
        out.append(Finding("model", "not an ODE any more",
                           f"re-solved with dopri5 at {d.resolve.get('rtol', 0):g} the output "
                           f"moved by {d.output_change:.3g} (relative){flip_text}",
                           "the model fits its solver's discretisation: train with an "
                           "adaptive solver or varied step sizes (lesson 10)"))
    return out
