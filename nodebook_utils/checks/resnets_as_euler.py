"""Exercise checkers of 04_resnets_as_euler (imported into :mod:`nodebook_utils.checks`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from .core import Verdict, _as_float64, _call, _Hint, checker, report

__all__ = [
    "check_rk_step", "check_measured_order", "check_nfe_formula", "check_euler_stability_limit",
]


def _rk_cases() -> list[tuple[Callable[..., Any], torch.Tensor, torch.Tensor, float, str]]:
    """Problems for :func:`check_rk_step`: ``(f, t, y, h, what)`` in float64, scalar, vector,
    batched and backwards in time (04_resnets_as_euler)."""
    gen = torch.Generator().manual_seed(4)
    f64 = torch.float64
    a = torch.tensor([[-0.5, 1.0], [-1.0, -0.2]], dtype=f64)

    def growth(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.cos(t) * y

    def coupled(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.tanh(y) @ a.T + 0.3 * torch.sin(3 * t)

    def time(x: float) -> torch.Tensor:
        return torch.tensor(x, dtype=f64)

    return [
        (growth, time(0.0), torch.ones(1, dtype=f64), 0.1, "y' = cos(t) y from t = 0, y = 1"),
        (growth, time(0.7), torch.rand(3, generator=gen, dtype=f64) + 0.5, 0.3,
         "y' = cos(t) y on a vector of 3 states"),
        (coupled, time(0.3), torch.randn(2, generator=gen, dtype=f64), 0.2,
         "a nonlinear, time-dependent 2-d system"),
        (coupled, time(1.0), torch.randn(5, 2, generator=gen, dtype=f64), 0.05,
         "a batch of 5 states of the 2-d system"),
        (coupled, time(2.0), torch.randn(2, generator=gen, dtype=f64), -0.1,
         "a step backwards in time (h < 0)"),
    ]


@checker
def check_rk_step(
    name: str, fn: Callable[..., Any], tableau: Any, *, atol: float = 1e-10
) -> Verdict:
    """Check a learner's one-step function ``fn(f, t, y, h)`` against
    :func:`nodebook_utils.solvers.rk_step` with the given Butcher ``tableau`` on scalar, vector,
    batched and backward-in-time problems (float64), and that it calls ``f`` once per stage.
    The hint names the likely slip: another method's step, stage times left at ``t``, the
    increment returned instead of the new state (04_resnets_as_euler)."""
    from ..solvers import EULER, MIDPOINT, RK4, rk_step

    stages = len(tableau.b)
    for i, (f, t, y, h, what) in enumerate(_rk_cases()):
        where = f"case {i} ({what})"
        calls = [0]

        def counted(
            s: torch.Tensor, z: torch.Tensor, f: Callable[..., Any] = f, calls: list[int] = calls
        ) -> torch.Tensor:
            calls[0] += 1
            return f(torch.as_tensor(s, dtype=torch.float64), z)

        try:
            got = _call(fn, counted, t.clone(), y.clone(), h, where=where,
                        nothing="your function returned nothing: return the new state")
            got = _as_float64(got, where)
        except _Hint as exc:
            return report(name, False, str(exc))
        want = rk_step(f, t, y, h, tableau)
        if got.shape != want.shape:
            return report(
                name, False,
                f"{where}: shape {tuple(got.shape)}, expected {tuple(want.shape)}: the new "
                "state has the shape of y",
            )

        def close(x: torch.Tensor, reference: torch.Tensor) -> bool:
            return bool(torch.allclose(x, reference, rtol=0.0, atol=atol))

        if close(got, want):
            if calls[0] != stages:
                return report(
                    name, False,
                    f"right values, but f was called {calls[0]} times in one step; the tableau "
                    f"has {stages} stages, so one step needs exactly {stages} evaluations "
                    "(compute each slope k_i once and reuse it)",
                )
            continue
        if close(got, want - y):
            return report(name, False, f"{where}: you returned the increment h * sum_i b_i k_i; "
                          "return the new state y + h * sum_i b_i k_i")
        for other in (EULER, MIDPOINT, RK4):
            if other.name != tableau.name and close(got, rk_step(f, t, y, h, other)):
                return report(name, False, f"{where}: your step is one {other.name} step; "
                              f"use the weights and stages of the {tableau.name} tableau")

        def frozen(s: torch.Tensor, z: torch.Tensor, f: Callable[..., Any] = f,
                   t: torch.Tensor = t) -> torch.Tensor:
            return f(t, z)

        if close(got, rk_step(frozen, t, y, h, tableau)):
            return report(name, False, f"{where}: evaluate stage i at its own time t + c_i h, "
                          "not at t")
        err = (got - want).abs().max().item()
        return report(
            name, False,
            f"{where}: values differ by up to {err:.3g}; follow the tableau: "
            "k_i = f(t + c_i h, y + h sum_j a_ij k_j), then y_new = y + h sum_i b_i k_i",
        )
    return report(name, True)


def _slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ys against xs (04_resnets_as_euler)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )


@checker
def check_measured_order(
    name: str,
    answer: Any,
    step_sizes: Sequence[float],
    errors: Sequence[float],
    *,
    tol: float = 0.2,
) -> Verdict:
    """Check an order of convergence measured from ``errors`` at ``step_sizes``: it must lie
    within ``tol`` of the least-squares slope of log(error) against log(h). The hint names the
    likely slip (a flipped sign, swapped axes, a logarithm of the wrong base) without giving the
    number away (04_resnets_as_euler)."""
    import math

    if answer is None or answer is ...:
        return report(name, False, "no answer yet: replace the placeholder with your answer")
    try:
        answer = float(answer)  # a number, a one-element tensor or NumPy value
    except (TypeError, ValueError, RuntimeError):
        return report(name, False, "give one number, the order p (for example from the two "
                      "smallest step sizes)")
    if answer != answer:  # NaN
        return report(name, False, "your order is NaN: are some errors zero or negative?")
    log_h = [math.log(h) for h in step_sizes]
    log_e = [math.log(e) for e in errors]
    expected = _slope(log_h, log_e)
    if abs(answer - expected) <= tol:
        return report(name, True)
    if abs(answer + expected) <= tol:
        hint = ("the sign is flipped: the error shrinks with h, so log(error) grows with "
                "log(h) and p > 0; divide the error at the larger step by the one at the smaller")
    elif expected > 1.5 and abs(answer - 1 / expected) <= 0.05:
        hint = ("you swapped the axes: p is the change of log(error) per unit change of log(h), "
                "not the other way round")
    elif any(abs(answer - expected * math.log(2, base)) <= tol * math.log(2, base)
             for base in (10, math.e)):
        hint = ("halving h divides the error by 2^p: take the logarithm base 2 of the error "
                "ratio, or divide log(ratio of errors) by log(ratio of step sizes)")
    else:
        hint = ("fit the slope of log(error) against log(h), or use "
                "p = log(e1 / e2) / log(h1 / h2) for two step sizes h1 > h2")
    return report(name, False, hint)


@checker
def check_nfe_formula(name: str, fn: Callable[..., Any]) -> Verdict:
    """Check ``fn(method, n_steps)``, a prediction of how many times
    :func:`nodebook_utils.solvers.odeint` calls the dynamics over ``n_steps`` equal steps of
    ``"euler"``, ``"midpoint"`` or ``"rk4"``, against the calls counted with
    :class:`~nodebook_utils.solvers.CountNFE` for 1, 3 and 10 steps; the hint does not give the
    count away (04_resnets_as_euler)."""
    from ..solvers import CountNFE, odeint

    for method in ("euler", "midpoint", "rk4"):
        for n in (1, 3, 10):
            counter = CountNFE(lambda t, y: -y)
            odeint(counter, torch.ones(1, dtype=torch.float64), [0.0, 1.0], method=method,
                   step_size=1.0 / n)
            where = f"{method} over {n} step{'s' if n > 1 else ''}"
            try:
                got = _call(fn, method, n, where=where,
                            nothing="no answer yet: return the predicted count")
            except _Hint as exc:
                return report(name, False, str(exc))
            if isinstance(got, bool) or not isinstance(got, int | float) or got != int(got):
                return report(name, False, f"{where}: return a whole number, got {got!r}")
            if got == counter.nfe:
                continue
            if got == n and counter.nfe != n:
                hint = ("a step evaluates f once per stage (row of its Butcher tableau), not "
                        "once in all")
            elif got > counter.nfe and (got - counter.nfe) in (1, counter.nfe // n):
                hint = ("a fixed-step solve makes no extra call at the start or at the end "
                        "time: count only the stages of each step")
            else:
                hint = "count the stages of one step of this method and multiply by the steps"
            return report(name, False, f"{where}: {hint}")
    return report(name, True)


@checker
def check_euler_stability_limit(name: str, answer: Any, lam: float) -> Verdict:
    """Check the largest step size ``h`` for which Euler's method on ``y' = -lam * y``
    (``lam > 0``) does not let the solution grow: one step multiplies ``y`` by ``1 - h lam``,
    and ``|1 - h lam| <= 1`` holds up to ``h = 2 / lam``. The hint names the likely slip
    without giving the number away (04_resnets_as_euler)."""
    import math

    from .core import CheckerUsageError

    if not lam > 0:
        raise CheckerUsageError(f"lam={lam!r}: the test equation needs lam > 0")
    if answer is None or answer is ...:
        return report(name, False, "no answer yet: replace the placeholder with your answer")
    try:
        answer = float(answer)  # a number, a one-element tensor or NumPy value
    except (TypeError, ValueError, RuntimeError):
        return report(name, False, "give one number, the largest step size h")
    if not math.isfinite(answer):
        return report(name, False, f"{answer} is not a step size: give a finite number")
    want = 2 / lam
    if math.isclose(answer, want, rel_tol=1e-3):
        return report(name, True)
    slips = [
        (1 / lam, "at this h the factor 1 - h lam is 0 and the solution drops to zero in one "
         "step; for larger h it changes sign but can still shrink: find where |1 - h lam| "
         "reaches 1 again"),
        (-want, "a step size is positive: solve |1 - h lam| <= 1 for h > 0"),
        (lam / 2, "h is a time, so it scales like 1 / lam, not like lam"),
        (2 * lam, "h is a time, so it scales like 1 / lam, not like lam"),
    ]
    hint = next((h for value, h in slips if math.isclose(answer, value, rel_tol=1e-3)),
                "write one Euler step for y' = -lam y as y_new = (factor) * y; the solution "
                "does not grow while |factor| <= 1")
    return report(name, False, hint)
