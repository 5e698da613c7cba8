"""Exercise checkers of 07_spiral_dynamics (imported into :mod:`nodebook_utils.checks`).

Each checker prints one PASS/FAIL line with a hint and returns a :class:`Verdict`; a learner's
exception or an unimplemented function becomes a hint, never a traceback.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from .core import CheckerUsageError, Verdict, _as_float64, _call, _Hint, checker, report

__all__ = [
    "check_paired_difference",
    "check_spiral_field",
    "check_window_batch",
    "check_window_nfe",
]


# --- exercise: the training windows ----------------------------------------------------------


def _window_reference(
    y: torch.Tensor, t: torch.Tensor, starts: torch.Tensor, batch_time: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(batch_y0, batch_t, batch_y)``: shapes ``(B, d)``, ``(T,)``, ``(T, B, d)`` (07)."""
    index = starts[None, :] + torch.arange(batch_time)[:, None]  # (T, B)
    return y[starts], t[:batch_time], y[index]


def _window_cases() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]]:
    """(y, t, starts, batch_time): the lesson's sizes and two smaller ones (07). No case's
    first window starts at index 0 (times taken from the first window would then pass); each
    holds the first and the last allowed start elsewhere."""
    gen = torch.Generator().manual_seed(7)
    cases = []
    for n, batch_size, batch_time in ((500, 16, 10), (40, 5, 4), (30, 3, 7)):
        t = torch.linspace(0.0, 0.05 * (n - 1), n, dtype=torch.float64)
        y = torch.randn(n, 2, generator=gen, dtype=torch.float64)
        starts = torch.randint(0, n - batch_time, (batch_size,), generator=gen)
        starts[0] = (n - batch_time) // 2  # a first window in the middle of the data
        starts[1], starts[-1] = 0, n - batch_time - 1  # the first and the last allowed start
        cases.append((y, t, starts, batch_time))
    return cases


def _same(got: torch.Tensor, want: torch.Tensor) -> bool:
    return got.shape == want.shape and bool(torch.allclose(got, want, rtol=0.0, atol=1e-12))


@checker
def check_window_batch(name: str, fn: Callable[..., Any]) -> Verdict:
    """Check a learner's ``window_batch(y, t, starts, batch_time)`` for the spiral's training
    batches: ``y`` is the trajectory ``(n, 2)``, ``t`` the times ``(n,)``, ``starts`` a tensor
    of ``B`` start indices. Expected: ``batch_y0 = y[starts]`` ``(B, 2)``, ``batch_t =
    t[:batch_time]`` ``(batch_time,)`` and ``batch_y[k, b] = y[starts[b] + k]``
    ``(batch_time, B, 2)``, time first as ``odeint`` returns it. The hint diagnoses
    transposed axes, windows off by one, per-window times and the first window's times
    (07_spiral_dynamics)."""
    nothing = "your function returned nothing: return (batch_y0, batch_t, batch_y)"
    for i, (y, t, starts, batch_time) in enumerate(_window_cases()):
        b = len(starts)
        where = f"case {i} ({len(t)} points, {b} starts, batch_time {batch_time})"
        try:
            got = _call(fn, y.clone(), t.clone(), starts.clone(), batch_time, where=where,
                        nothing=nothing)
        except _Hint as exc:
            return report(name, False, str(exc))
        if not isinstance(got, tuple | list) or len(got) != 3:
            return report(name, False, "return three tensors: (batch_y0, batch_t, batch_y)")
        if any(x is None or x is ... for x in got):
            return report(name, False, nothing)
        try:
            got_y0, got_t, got_y = (_as_float64(x, where) for x in got)
        except _Hint as exc:
            return report(name, False, str(exc))
        want_y0, want_t, want_y = _window_reference(y, t, starts, batch_time)
        shapes = (f"expected batch_y0 {tuple(want_y0.shape)}, batch_t {tuple(want_t.shape)}, "
                  f"batch_y {tuple(want_y.shape)}")
        # batch_y: the windows
        if not _same(got_y, want_y):
            if _same(got_y, want_y.transpose(0, 1)):
                hint = ("batch_y has shape (batch_size, batch_time, 2); put time first, "
                        "(batch_time, batch_size, 2), the layout odeint returns")
            elif got_y.shape[1:] == want_y.shape[1:] and got_y.shape[0] in (
                batch_time - 1, batch_time + 1
            ):
                hint = (f"batch_y holds {got_y.shape[0]} points per window; a window holds "
                        f"batch_time = {batch_time}: y[s], y[s + 1], ..., y[s + batch_time - 1]")
            elif _same(got_y, _window_reference(y, t, starts + 1, batch_time)[2]):
                hint = "off by one: a window starts at y[s] itself, not at y[s + 1]"
            elif (starts.max() > 0 and _same(got_y, _window_reference(y, t, starts - 1,
                                                                       batch_time)[2])):
                hint = "off by one: a window starts at y[s], not at y[s - 1]"
            elif got_y.shape != want_y.shape:
                hint = f"batch_y has shape {tuple(got_y.shape)}; {shapes}"
            else:
                hint = "batch_y[k, b] must be y[starts[b] + k]"
            return report(name, False, f"{where}: {hint}")
        # batch_t: one time vector for all windows
        if not _same(got_t, want_t):
            if got_t.shape == (b, batch_time) or got_t.shape == (batch_time, b):
                hint = ("batch_t is one time vector, t[:batch_time], shared by every window: "
                        "the dynamics do not depend on t, so each window can start at t = 0")
            elif _same(got_t, t[1:batch_time + 1]):
                hint = "off by one: batch_t starts at t[0] = 0, t[:batch_time]"
            elif _same(got_t, t[starts[0]:starts[0] + batch_time]):
                hint = ("those are the first window's own times; batch_t is t[:batch_time], "
                        "from t[0] = 0 for every window: the dynamics do not depend on t, so "
                        "a window behaves the same whatever its start")
            elif got_t.shape != want_t.shape:
                hint = f"batch_t has shape {tuple(got_t.shape)}; {shapes}"
            else:
                hint = "batch_t is t[:batch_time], the first batch_time times"
            return report(name, False, f"{where}: {hint}")
        # batch_y0: the first point of each window
        if not _same(got_y0, want_y0):
            if got_y0.numel() == want_y0.numel() and torch.allclose(
                got_y0.reshape(want_y0.shape), want_y0
            ):
                hint = (f"batch_y0 has shape {tuple(got_y0.shape)}; give it shape "
                        f"{tuple(want_y0.shape)}: one starting state per window")
            else:
                hint = "batch_y0 is the first point of each window, y[starts] (= batch_y[0])"
            return report(name, False, f"{where}: {hint}")
    return report(name, True)


# --- exercise: the two conventions -----------------------------------------------------------


def _field_cases() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(A, y): the lesson's matrix and random non-symmetric ones, y of shape (N, 2) (07)."""
    gen = torch.Generator().manual_seed(70)
    cases = [(torch.tensor([[-0.1, 2.0], [-2.0, -0.1]], dtype=torch.float64),
              torch.tensor([[2.0, 0.0], [0.5, -1.0], [0.0, 1.0]], dtype=torch.float64))]
    for n in (5, 1):
        a = torch.randn(2, 2, generator=gen, dtype=torch.float64)
        a[0, 1] += 1.5  # clearly not symmetric
        cases.append((a, torch.randn(n, 2, generator=gen, dtype=torch.float64)))
    return cases


@checker
def check_spiral_field(name: str, fn: Callable[..., Any]) -> Verdict:
    """Check a learner's ``spiral_field(A, y, convention)``: for a batch of states ``y`` of
    shape ``(N, 2)`` (one state per row) the true dynamics, ``convention="Ay"`` as written
    (dy/dt = A y, i.e. ``y @ A.T`` row by row) and ``"yA"`` as the source's code computed it
    (the row-vector product ``y @ A``, i.e. dy/dt = Aᵀ y). The hint names swapped
    conventions and transposed outputs (07_spiral_dynamics)."""
    nothing = "your function returned nothing: return dy/dt, shape (N, 2)"
    for i, (a, y) in enumerate(_field_cases()):
        wants = {"Ay": y @ a.T, "yA": y @ a}
        for convention, want in wants.items():
            other = wants["yA" if convention == "Ay" else "Ay"]
            where = f"case {i} (convention {convention!r}, y of shape {tuple(y.shape)})"
            try:
                got = _call(fn, a.clone(), y.clone(), convention, where=where, nothing=nothing)
                got = _as_float64(got, where)
            except _Hint as exc:
                return report(name, False, str(exc))
            if _same(got, want):
                continue
            if _same(got, other):
                if convention == "Ay":
                    hint = ("that is y·A, the code's convention; as written, dy/dt = A y for "
                            "a column y, which for rows is y @ A.T")
                else:
                    hint = ("that is A y, as written; the code's row-vector product is y @ A "
                            "(= Aᵀ y for a column y)")
            elif got.shape == want.T.shape and got.shape != want.shape:
                hint = (f"shape {tuple(got.shape)}: keep one state per row, shape "
                        f"{tuple(want.shape)} (transpose back if you worked with columns)")
            elif got.shape != want.shape:
                hint = f"shape {tuple(got.shape)}, expected {tuple(want.shape)}, the shape of y"
            elif _same(got, -want):
                hint = "the sign is flipped"
            else:
                hint = "dy/dt = A y as written ('Ay'), y·A as coded ('yA')"
            return report(name, False, f"{where}: {hint}")
    return report(name, True)


# --- exercise: counting evaluations ----------------------------------------------------------

_STAGES = {"euler": 1, "midpoint": 2, "rk4": 4}


@checker
def check_window_nfe(
    name: str, answer: Any, method: str = "rk4", batch_time: int = 10, batch_size: int = 16
) -> Verdict:
    """Check the number of evaluations of the dynamics in the forward solve of one training
    iteration with a fixed-step ``method`` of torchdiffeq on ``batch_t = t[:batch_time]``:
    one step from each requested time to the next, i.e. ``stages * (batch_time - 1)``; the
    ``batch_size`` windows are solved together as one batch. The hint names the slip without
    giving the number away (07_spiral_dynamics)."""
    if method not in _STAGES:
        raise CheckerUsageError(f"method={method!r}; choose one of {', '.join(_STAGES)}")
    if answer is None or answer is ...:
        return report(name, False, "no answer yet: replace the placeholder with your answer")
    stages = _STAGES[method]
    want = stages * (batch_time - 1)
    if answer == want:
        return report(name, True)
    slips = {
        stages * batch_time: f"{batch_time} times have {batch_time} - 1 steps between them",
        batch_size * want: (f"the {batch_size} windows are one batched solve: each evaluation "
                            f"computes f for all {batch_size} states at once"),
        batch_size * stages * batch_time: (f"the {batch_size} windows are solved as one batch, "
                                           f"and {batch_time} times have {batch_time} - 1 steps"),
        batch_time - 1: f"one {method} step evaluates f {stages} times, not once",
        2 * want: "count the forward solve only; backprop through the solver calls f no more",
    }
    slips.pop(want, None)
    hint = slips.get(answer, f"(steps between the {batch_time} times) x (evaluations per "
                             f"{method} step)")
    return report(name, False, f"{answer} is not it: {hint}")


# --- exercise: mean, sample standard deviation and the paired difference ----------------------


def _paired_reference(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float]:
    d = [x - y for x, y in zip(a, b, strict=True)]
    n = len(d)
    mean = sum(d) / n
    std = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1))
    return mean, std, mean / (std / math.sqrt(n)) if std > 0 else math.nan


def _close(x: float, y: float) -> bool:
    return math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-12)


@checker
def check_paired_difference(
    name: str, answer: Any, a: Sequence[float], b: Sequence[float]
) -> Verdict:
    """Check ``answer = (mean_d, std_d, t)`` for the paired differences ``d = a - b`` of two
    solvers' final errors over the same seeds: the mean, the *sample* standard deviation
    (``ddof=1``) and the paired t statistic ``mean_d / (std_d / sqrt(n))`` (Student, 1908).
    The hint diagnoses ``ddof=0``, a reversed difference and the unpaired (Welch) statistic
    (07_spiral_dynamics)."""
    a, b = [float(x) for x in a], [float(x) for x in b]
    if len(a) != len(b) or len(a) < 2:
        raise CheckerUsageError("a and b need the same number (at least 2) of paired values")
    if answer is None or answer is ...:
        return report(name, False, "no answer yet: replace the placeholder with your answer")
    try:
        values = [float(x) for x in answer]
    except (TypeError, ValueError):
        return report(name, False, "give three numbers: (mean_d, std_d, t)")
    if len(values) != 3:
        return report(name, False, f"give three numbers, (mean_d, std_d, t), not {len(values)}")
    mean_d, std_d, t_stat = values
    n = len(a)
    want_mean, want_std, want_t = _paired_reference(a, b)
    if not _close(mean_d, want_mean):
        if _close(mean_d, -want_mean):
            hint = "d = a - b (the first solver minus the second), not b - a"
        else:
            hint = "mean_d is the mean of the differences a[i] - b[i] over the seeds"
        return report(name, False, f"mean_d: {hint}")
    if not _close(std_d, want_std):
        if _close(std_d, want_std * math.sqrt((n - 1) / n)):
            hint = ("that is the population standard deviation (ddof=0); use the sample one, "
                    "dividing by n - 1 (np.std(d, ddof=1))")
        else:
            var_a = sum((x - sum(a) / n) ** 2 for x in a) / (n - 1)
            var_b = sum((x - sum(b) / n) ** 2 for x in b) / (n - 1)
            if _close(std_d, math.sqrt(var_a + var_b)) or _close(
                std_d, math.sqrt(var_a) + math.sqrt(var_b)
            ):
                hint = ("that combines the two solvers' spreads; the paired test uses the "
                        "spread of the differences d[i] = a[i] - b[i] themselves")
            else:
                hint = "std_d is the sample standard deviation (ddof=1) of the differences"
        return report(name, False, f"std_d: {hint}")
    if math.isnan(want_t):
        return report(name, True)
    if not _close(t_stat, want_t):
        var_a = sum((x - sum(a) / n) ** 2 for x in a) / (n - 1)
        var_b = sum((x - sum(b) / n) ** 2 for x in b) / (n - 1)
        welch = want_mean / math.sqrt((var_a + var_b) / n) if var_a + var_b > 0 else math.nan
        if _close(t_stat, -want_t):
            hint = "the sign of t follows mean_d"
        elif _close(t_stat, want_mean / want_std):
            hint = "divide by the standard error std_d / sqrt(n), not by std_d"
        elif not math.isnan(welch) and _close(t_stat, welch):
            hint = ("that is the unpaired (Welch) statistic; the paired one uses the "
                    "differences: mean_d / (std_d / sqrt(n))")
        else:
            hint = "t = mean_d / (std_d / sqrt(n))"
        return report(name, False, f"t: {hint}")
    return report(name, True)
