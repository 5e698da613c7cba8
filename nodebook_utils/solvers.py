"""ODE solvers written from scratch: Euler, midpoint, RK4 and adaptive Dopri5 (04_resnets_as_euler).

:func:`odeint` has the calling convention of ``torchdiffeq.odeint``: the dynamics are called as
``func(t, y)`` with ``t`` a 0-dim tensor, ``y0`` may have any shape (a batch is just a leading
dimension), and the result stacks the solution at every time in ``t`` on a new leading
dimension. Every operation is an ordinary tensor operation, so autograd can backpropagate
through a solve ("backprop through the solver"; the adjoint method of 06_adjoint_method is in
:mod:`nodebook_utils.adjoint`).

The Butcher tableaux are exposed as :data:`EULER`, :data:`MIDPOINT`, :data:`RK4` and
:data:`DOPRI5`; :func:`rk_step` takes one step with any of them, while :func:`euler_step`,
:func:`midpoint_step` and :func:`rk4_step` spell their step out by hand.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

Dynamics = Callable[[Tensor, Tensor], Tensor]
Time = float | Tensor
Norm = Callable[[Tensor], float]

__all__ = [
    "DOPRI5",
    "EULER",
    "MIDPOINT",
    "METHODS",
    "RK4",
    "TABLEAUX",
    "ButcherTableau",
    "CountNFE",
    "ODESolverError",
    "dopri5_step",
    "error_ratio",
    "euler_step",
    "implicit_euler_step",
    "initial_step_size",
    "midpoint_step",
    "mixed_norm",
    "odeint",
    "rk4_step",
    "rk_stages",
    "rk_step",
    "rms_norm",
    "stability_function",
    "stability_limit",
    "stability_radius",
    "step_factor",
]

METHODS = ("dopri5", "rk4", "midpoint", "euler")

# Step-size controller of Dopri5 (Hairer, Norsett & Wanner, Sec. II.4).
SAFETY = 0.9  # aim a little below the largest step the error estimate allows
MIN_FACTOR = 0.2  # shrink a step by at most 5x at once ...
MAX_FACTOR = 10.0  # ... and grow it by at most 10x
DEFAULT_MAX_STEPS = 10_000  # steps (accepted + rejected) in one odeint call


class ODESolverError(RuntimeError):
    """A solve that cannot go on: step size underflow, non-finite state, too many steps.

    The message names the time at which it happened (04_resnets_as_euler).
    """


@dataclass(frozen=True)
class ButcherTableau:
    """The coefficients of an explicit Runge-Kutta method (04_resnets_as_euler).

    Stage i evaluates ``k_i = f(t + c[i] h, y + h * sum_j a[i][j] k_j)`` (row ``a[i]`` has i
    entries); the step returns ``y + h * sum_i b[i] k_i``. ``b_low`` holds the weights of the
    embedded lower-order solution used for the error estimate (None for fixed-step methods).
    """

    name: str
    order: int
    c: tuple[float, ...]
    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    b_low: tuple[float, ...] | None = None


EULER = ButcherTableau("euler", 1, c=(0.0,), a=((),), b=(1.0,))
MIDPOINT = ButcherTableau("midpoint", 2, c=(0.0, 0.5), a=((), (0.5,)), b=(0.0, 1.0))
RK4 = ButcherTableau(
    "rk4",
    4,
    c=(0.0, 0.5, 0.5, 1.0),
    a=((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)),
    b=(1 / 6, 1 / 3, 1 / 3, 1 / 6),
)
# Dormand & Prince (1980): a 5th-order solution (b) with an embedded 4th-order one (b_low).
# The last row of a equals b, so the 7th stage is f at the new point: "first same as last".
DOPRI5 = ButcherTableau(
    "dopri5",
    5,
    c=(0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0),
    a=(
        (),
        (1 / 5,),
        (3 / 40, 9 / 40),
        (44 / 45, -56 / 15, 32 / 9),
        (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
        (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
        (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
    ),
    b=(35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0),
    b_low=(5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40),
)
TABLEAUX = {tableau.name: tableau for tableau in (EULER, MIDPOINT, RK4, DOPRI5)}


def stability_function(tableau: ButcherTableau, z: Any) -> Any:
    """``R(z)``: one step of ``tableau`` on ``dy/dt = lam * y`` multiplies ``y`` by ``R(h lam)``
    (04_resnets_as_euler; 11_when_neural_odes_go_wrong). With ``K`` the stages divided by
    ``lam y``, ``K = 1 + z A K``, so ``R(z) = 1 + z b^T (I - z A)^{-1} 1``; ``A`` is strictly
    lower triangular for an explicit method, so ``K`` is found stage by stage. ``z`` may be a
    number or a NumPy array."""
    ks: list[Any] = []
    for row in tableau.a:
        ks.append(1 + z * sum((a * k for a, k in zip(row, ks, strict=False)), 0.0))
    return 1 + z * sum((b * k for b, k in zip(tableau.b, ks, strict=True)), 0.0)


def stability_radius(tableau: ButcherTableau, angle: float = math.pi, *,
                     search: float = 50.0) -> float:
    """How far ``z = h lam`` may go from 0 along the ray at ``angle`` before one step of
    ``tableau`` amplifies instead of damping, ``|R(z)| > 1`` (04_resnets_as_euler;
    11_when_neural_odes_go_wrong). ``angle = pi`` is the negative real axis (a decaying mode);
    near ``pi / 2`` the ray runs along the imaginary axis (an oscillating mode), where Euler's
    radius shrinks to 0. Found on a grid of the ray up to ``search``, refined by bisection
    (to 1e-9); ``inf`` if the whole searched ray is stable."""
    direction = complex(math.cos(angle), math.sin(angle))
    s = np.linspace(0.0, search, 200_001)[1:]
    bad = np.abs(stability_function(tableau, s * direction)) > 1 + 1e-12
    if not bad.any():
        return math.inf
    first = int(np.argmax(bad))
    low, high = (float(s[first - 1]) if first else 0.0), float(s[first])
    while high - low > 1e-9:
        mid = (low + high) / 2
        stable = abs(stability_function(tableau, mid * direction)) <= 1 + 1e-12
        low, high = (mid, high) if stable else (low, mid)
    return low


def stability_limit(tableau: ButcherTableau) -> float:
    """The stability radius on the negative real axis (04_resnets_as_euler): every step
    with ``-x <= h lam <= 0`` keeps a decaying linear system decaying. 2 for Euler and the
    midpoint method, about 2.785 for RK4 and 3.307 for Dopri5; an explicit solver whose step
    times the dynamics' most negative eigenvalue passes it amplifies errors at every step."""
    return stability_radius(tableau, math.pi)


class CountNFE(nn.Module):
    """Wrap dynamics ``func(t, y)`` and count its calls in ``nfe`` (04_resnets_as_euler).

    Solve with the wrapper instead of ``func``, read ``nfe`` after the forward solve, call
    :meth:`reset`, then read it again after ``loss.backward()`` for the backward NFE. Backprop
    through :func:`odeint` replays the recorded graph and calls ``func`` zero times in backward;
    the adjoint method (06_adjoint_method) calls it once per evaluation of the augmented dynamics.
    An ``nn.Module`` ``func`` becomes a submodule, so its parameters stay visible.
    """

    def __init__(self, func: Dynamics) -> None:
        super().__init__()
        self.func = func
        self.nfe = 0

    def forward(self, t: Tensor, y: Tensor) -> Tensor:
        """Count one evaluation and return ``func(t, y)``."""
        self.nfe += 1
        return self.func(t, y)

    def reset(self) -> int:
        """Return the count so far and start again from zero."""
        count, self.nfe = self.nfe, 0
        return count


# --------------------------------------------------------------------------- one step each


def euler_step(func: Dynamics, t: Time, y: Tensor, h: float) -> Tensor:
    """One Euler step, ``y + h f(t, y)``: a residual block (04_resnets_as_euler)."""
    return y + h * func(t, y)


def midpoint_step(func: Dynamics, t: Time, y: Tensor, h: float) -> Tensor:
    """One explicit midpoint step: the slope at a half Euler step, used for the full step.

    Second order, two evaluations (04_resnets_as_euler).
    """
    k1 = func(t, y)
    k2 = func(t + h / 2, y + (h / 2) * k1)
    return y + h * k2


def rk4_step(func: Dynamics, t: Time, y: Tensor, h: float) -> Tensor:
    """One step of the classical fourth-order Runge-Kutta method (04_resnets_as_euler).

    Four evaluations; weights 1/6, 1/3, 1/3, 1/6. (``torchdiffeq``'s ``"rk4"`` uses the
    3/8-rule variant instead: also fourth order, not bit-identical.)
    """
    k1 = func(t, y)
    k2 = func(t + h / 2, y + (h / 2) * k1)
    k3 = func(t + h / 2, y + (h / 2) * k2)
    k4 = func(t + h, y + h * k3)
    return y + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)


def implicit_euler_step(func: Dynamics, t: Time, y: Tensor, h: float, *,
                        iterations: int = 4) -> Tensor:
    """One step of the implicit (backward) Euler method, ``y1 = y + h f(t + h, y1)``
    (11_when_neural_odes_go_wrong).

    The equation for ``y1`` is solved by Newton's method from ``y1 = y``: each iteration
    solves ``(I - h J) d = -(y1 - y - h f(t + h, y1))`` with ``J`` the Jacobian of ``func``
    at ``y1`` (built column by column with autograd, so meant for small states), then sets
    ``y1 = y1 + d``. For linear dynamics one iteration is exact. Its stability function is
    ``1 / (1 - z)``: stable for every step on a decaying linear system, where every explicit
    method has a finite limit (:func:`stability_limit`). Differentiable: autograd follows
    the Newton iterations.
    """
    t1 = t + h
    shape, y_flat = y.shape, y.reshape(-1)
    eye = torch.eye(y_flat.numel(), dtype=y.dtype, device=y.device)

    def f(v: Tensor) -> Tensor:
        return func(t1, v.reshape(shape)).reshape(-1)

    y1 = y_flat
    for _ in range(iterations):
        jacobian = torch.autograd.functional.jacobian(f, y1, create_graph=torch.is_grad_enabled())
        residual = y1 - y_flat - h * f(y1)
        y1 = y1 + torch.linalg.solve(eye - h * jacobian, -residual)
    return y1.reshape(shape)


def _weighted_sum(weights: Sequence[float], ks: Sequence[Tensor]) -> Tensor:
    """``sum_i w_i k_i``, skipping zero weights."""
    return sum(w * k for w, k in zip(weights, ks, strict=False) if w != 0)


def rk_stages(
    func: Dynamics,
    t: Time,
    y: Tensor,
    h: float,
    tableau: ButcherTableau,
    k1: Tensor | None = None,
) -> list[Tensor]:
    """The stage slopes ``k_1, ..., k_s`` of one explicit Runge-Kutta step (04_resnets_as_euler).

    Pass ``k1 = f(t, y)`` when it is already known (FSAL) to save one evaluation.
    """
    ks = [func(t, y) if k1 is None else k1]
    for c_i, a_i in zip(tableau.c[1:], tableau.a[1:], strict=True):
        ks.append(func(t + c_i * h, y + h * _weighted_sum(a_i, ks)))
    return ks


def rk_step(func: Dynamics, t: Time, y: Tensor, h: float, tableau: ButcherTableau) -> Tensor:
    """One explicit Runge-Kutta step with any Butcher tableau: ``y + h sum_i b_i k_i``.

    Introduced in 04_resnets_as_euler.
    """
    return y + h * _weighted_sum(tableau.b, rk_stages(func, t, y, h, tableau))


def dopri5_step(
    func: Dynamics, t: Time, y: Tensor, h: float, k1: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """One Dormand-Prince 5(4) step (04_resnets_as_euler).

    Returns ``(y_new, error, k_last)``: the 5th-order solution, the estimate of its local error
    (5th- minus embedded 4th-order solution) and ``f(t + h, y_new)``, which is the ``k1`` of the
    next step (FSAL). Six evaluations when ``k1`` is given, seven otherwise.
    """
    ks = rk_stages(func, t, y, h, DOPRI5, k1)
    y_new = y + h * _weighted_sum(DOPRI5.b, ks)
    error = h * _weighted_sum(_DOPRI5_ERROR_WEIGHTS, ks)
    return y_new, error, ks[-1]


_DOPRI5_ERROR_WEIGHTS = tuple(b - b_low for b, b_low in zip(DOPRI5.b, DOPRI5.b_low, strict=True))

_FIXED_STEPS = {"euler": euler_step, "midpoint": midpoint_step, "rk4": rk4_step}

# ------------------------------------------------------------------ step-size control (Dopri5)


def rms_norm(x: Tensor) -> float:
    """Root mean square over all entries, as a float (04_resnets_as_euler)."""
    return x.detach().pow(2).mean().sqrt().item()


def mixed_norm(sizes: Sequence[int]) -> Norm:
    """A norm for a state made of blocks laid end to end (06_adjoint_method): the largest of
    the blocks' RMS norms, as torchdiffeq's mixed norm.

    One RMS over the adjoint's ``[z, a, a_theta]`` lets tens of thousands of parameter-gradient
    entries dilute the error of ``z`` and ``a``; the maximum over the blocks keeps each
    block's error below the tolerance on its own.
    """
    sizes = [int(n) for n in sizes]

    def norm(x: Tensor) -> float:
        flat = x.detach().reshape(-1)
        if flat.numel() != sum(sizes):
            raise ValueError(f"mixed_norm expects {sum(sizes)} entries, got {flat.numel()}")
        return max(rms_norm(block) for block in flat.split(sizes) if block.numel())

    return norm


def error_ratio(
    error: Tensor, y: Tensor, y_new: Tensor, rtol: float, atol: float, norm: Norm = rms_norm
) -> float:
    """The error relative to ``atol + rtol * max(|y|, |y_new|)``, measured with ``norm``
    (default: the RMS over all entries) (04_resnets_as_euler).

    A step is accepted when this is at most 1. NaN when the step produced non-finite values.
    """
    scale = atol + rtol * torch.maximum(y.detach().abs(), y_new.detach().abs())
    return norm(error / scale)


def step_factor(ratio: float, order: int = 5) -> float:
    """How much to scale the step after a trial with this error ratio (04_resnets_as_euler).

    The error *estimate* of Dopri5 (5th- minus 4th-order solution) scales like ``h**5`` (the
    5th-order solution's own local error is O(h^6)), so ``SAFETY * ratio**(-1/order)`` aims at
    ratio 1, clipped to ``[MIN_FACTOR, MAX_FACTOR]``; a non-finite trial shrinks by
    ``MIN_FACTOR``. This is a plain I-controller: unlike Hairer et al.'s, it lets the step
    grow again right after a rejection.
    """
    if ratio == 0:
        return MAX_FACTOR
    if not math.isfinite(ratio):
        return MIN_FACTOR
    return min(MAX_FACTOR, max(MIN_FACTOR, SAFETY * ratio ** (-1 / order)))


def initial_step_size(
    func: Dynamics,
    t0: float,
    y0: Tensor,
    f0: Tensor,
    direction: float,
    rtol: float,
    atol: float,
    order: int = 5,
) -> float:
    """Hairer's heuristic for the first step (Hairer et al., Sec. II.4) (04_resnets_as_euler).

    Compares the sizes of ``y0`` and ``f0 = f(t0, y0)`` and estimates the second derivative from
    one explicit Euler step, then picks a step whose local error is about 1% of the tolerance.
    Costs one evaluation. Returns a step signed like ``direction``.
    """
    scale = atol + rtol * y0.abs()
    d0, d1 = rms_norm(y0 / scale), rms_norm(f0 / scale)
    h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
    f1 = func(t0 + direction * h0, y0 + direction * h0 * f0)
    d2 = rms_norm((f1 - f0) / scale) / h0
    largest = max(d1, d2)
    h1 = max(1e-6, h0 * 1e-3) if largest <= 1e-15 else (0.01 / largest) ** (1 / order)
    return direction * min(100 * h0, h1)


# ------------------------------------------------------------------------------- the solvers


def _check_finite(x: Tensor, t: float, what: str = "the state") -> None:
    if not torch.isfinite(x).all():
        raise ODESolverError(f"{what} became non-finite (NaN or Inf) at t={t:.6g}")


def _substeps(interval: float, step_size: float | None) -> int:
    """Equal steps of at most ``step_size`` that cover ``interval`` (one if no step_size)."""
    if step_size is None:
        return 1
    return max(1, math.ceil(abs(interval) / step_size - 1e-9))


def _solve_fixed(
    f: Dynamics,
    y0: Tensor,
    times: list[float],
    method: str,
    step_size: float | None,
    max_steps: int,
) -> list[Tensor]:
    step = _FIXED_STEPS[method]
    counts = [_substeps(t1 - t0, step_size) for t0, t1 in zip(times, times[1:], strict=False)]
    if sum(counts) > max_steps:
        raise ODESolverError(
            f"{method} needs {sum(counts)} steps from t={times[0]:.6g} to t={times[-1]:.6g}, "
            f"more than max_steps={max_steps}; use a larger step_size or raise max_steps"
        )
    ys, y = [y0], y0
    for t0, t1, n in zip(times, times[1:], counts, strict=False):
        h = (t1 - t0) / n
        for i in range(n):
            y = step(f, t0 + i * h, y, h)
            _check_finite(y, t1 if i == n - 1 else t0 + (i + 1) * h)
        ys.append(y)
    return ys


def _solve_dopri5(
    f: Dynamics,
    y0: Tensor,
    times: list[float],
    rtol: float,
    atol: float,
    first_step: float | None,
    max_steps: int,
    norm: Norm = rms_norm,
) -> list[Tensor]:
    direction = 1.0 if times[-1] > times[0] else -1.0
    # Below this the time would no longer change in y0's precision: the step has underflowed.
    min_step = 4 * torch.finfo(y0.dtype).eps * max(abs(times[0]), abs(times[-1]), 1e-300)
    t, y = times[0], y0
    k1 = f(t, y)
    _check_finite(k1, t, "func(t, y)")
    if first_step is None:
        h = initial_step_size(f, t, y, k1, direction, rtol, atol)
    else:
        h = direction * first_step
    ys, n_steps, last_trial_finite = [y0], 0, True
    for t_out in times[1:]:
        while t != t_out:
            if not math.isfinite(h):
                raise ODESolverError(
                    f"the step size became {h} at t={t:.6g}: the error scale atol + rtol |y| "
                    "is zero where the state is zero and atol = 0; use atol > 0"
                )
            if abs(h) < min_step:
                cause = "" if last_trial_finite else ": the trial steps gave non-finite values"
                raise ODESolverError(f"step size underflow (|h|={abs(h):.3g}) at t={t:.6g}{cause}")
            if n_steps >= max_steps:
                raise ODESolverError(
                    f"dopri5 reached max_steps={max_steps} at t={t:.6g} before t={t_out:.6g}; "
                    "loosen rtol/atol or raise max_steps"
                )
            n_steps += 1
            lands = abs(h) >= abs(t_out - t)  # this step reaches the output time exactly
            h_try = t_out - t if lands else h
            y_new, error, k_last = dopri5_step(f, t, y, h_try, k1)
            ratio = error_ratio(error, y, y_new, rtol, atol, norm)
            last_trial_finite = math.isfinite(ratio)
            if atol == 0 and not last_trial_finite and bool(((y == 0) & (y_new == 0)).any()):
                raise ODESolverError(
                    f"the error scale atol + rtol |y| is zero at t={t:.6g}, where an entry of "
                    "the state is zero and atol = 0; use atol > 0"
                )
            if ratio <= 1:  # accept (False for NaN)
                t, y, k1 = (t_out if lands else t + h_try), y_new, k_last
            h = h_try * step_factor(ratio)
        ys.append(y)
    return ys


def odeint(
    func: Dynamics,
    y0: Tensor,
    t: Tensor | Sequence[float],
    *,
    method: str = "dopri5",
    rtol: float = 1e-7,
    atol: float = 1e-9,
    step_size: float | None = None,
    first_step: float | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
    norm: Norm | None = None,
) -> Tensor:
    """Solve ``dy/dt = func(t, y)``, ``y(t[0]) = y0``; return ``y`` at every time in ``t``.

    Introduced in 04_resnets_as_euler. Same calling convention as ``torchdiffeq.odeint``:
    ``t`` is strictly increasing or strictly decreasing (backward in time), ``func`` receives
    ``t`` as a 0-dim tensor of ``y0``'s dtype, and the result has shape ``(len(t), *y0.shape)``.

    - ``"euler"``, ``"midpoint"``, ``"rk4"`` (fixed step): one step per interval of ``t``, or,
      with ``step_size``, equal steps of at most ``step_size`` ending exactly on each time in
      ``t``. ``rtol`` and ``atol`` are ignored.
    - ``"dopri5"`` (adaptive): steps are accepted when the RMS of the local error estimate,
      relative to ``atol + rtol * |y|``, is at most 1; every time in ``t`` is stepped to
      exactly, so every interval of ``t`` costs at least one step (6 evaluations;
      ``torchdiffeq`` interpolates instead). ``first_step``, if given, replaces Hairer's
      heuristic for the first step (torchdiffeq's name; ``step_size`` is for fixed steps
      only). ``norm`` measures the scaled error (default: RMS over all entries; see
      :func:`mixed_norm`). ``rtol`` and ``atol`` must be non-negative and not both zero.

    At most ``max_steps`` steps (accepted plus rejected; default 10,000) are taken in one call
    (for the fixed-step methods this is checked before starting). Raises
    :class:`ODESolverError`, naming the time, when the state becomes non-finite, when the step
    size underflows or becomes non-finite, or when ``max_steps`` is exceeded. Gradients with
    respect to the times are not computed: a ``t`` that requires grad is refused
    (``torchdiffeq.odeint`` computes them).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    for name, value in (("step_size", step_size), ("first_step", first_step)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number, got {value}")
    if method == "dopri5" and step_size is not None:
        raise ValueError("dopri5 chooses its own steps: step_size is for euler, midpoint and "
                         "rk4; use first_step= to set dopri5's first step")
    if method != "dopri5" and first_step is not None:
        raise ValueError(f"first_step is for dopri5; {method} takes step_size=")
    for name, value in (("rtol", rtol), ("atol", atol)):
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a non-negative number, got {value}")
    if method == "dopri5" and rtol == 0 and atol == 0:
        raise ValueError("rtol and atol are both 0: no step could ever be accepted")
    if not torch.is_floating_point(y0):
        raise TypeError(f"y0 must be a floating-point tensor, got {y0.dtype}")
    if isinstance(t, Tensor) and t.requires_grad:
        raise ValueError(
            "t requires grad, but this solver does not compute gradients with respect to the "
            "times (lesson 06 derives them); use torchdiffeq.odeint, or pass t.detach()"
        )
    t = torch.as_tensor(t)
    if t.ndim != 1 or len(t) == 0:
        raise ValueError(f"t must be a non-empty one-dimensional sequence of times, got {t.shape}")
    times = t.detach().tolist()
    steps = [t1 - t0 for t0, t1 in zip(times, times[1:], strict=False)]
    if not (all(s > 0 for s in steps) or all(s < 0 for s in steps)):
        raise ValueError("t must be strictly increasing or strictly decreasing")

    def f(s: float, y: Tensor) -> Tensor:
        return func(torch.tensor(s, dtype=y0.dtype, device=y0.device), y)

    _check_finite(y0, times[0])
    if len(times) == 1:
        ys = [y0]
    elif method == "dopri5":
        ys = _solve_dopri5(f, y0, times, rtol, atol, first_step, max_steps, norm or rms_norm)
    else:
        ys = _solve_fixed(f, y0, times, method, step_size, max_steps)
    return torch.stack(ys)
