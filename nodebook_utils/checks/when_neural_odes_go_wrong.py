"""Exercise checkers of 11_when_neural_odes_go_wrong (imported into :mod:`nodebook_utils.checks`).

Each checker prints one PASS/FAIL line with a hint and returns a :class:`Verdict`; a learner's
exception or an unimplemented function becomes a hint, never a traceback.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .core import CheckerUsageError, Verdict, _call, _Hint, checker, report

__all__ = ["check_repaired_spiral", "check_spectral_radius", "check_stable_steps"]


# --- exercise: how many steps keep a decaying mode decaying ----------------------------------


@checker
def check_stable_steps(name: str, answer: Any, *, lam: float, method: str,
                       interval: float = 1.0) -> Verdict:
    """Check ``answer``: the fewest equal steps of torchdiffeq's fixed-step ``method`` over
    ``interval`` for which ``dy/dt = -lam y`` decays at every step (``h lam`` inside the
    method's stability interval, :func:`~nodebook_utils.solvers.stability_limit`)."""
    from ..diagnose import method_tableau
    from ..solvers import stability_limit

    tableau = method_tableau(method)
    if tableau is None or lam <= 0:
        raise CheckerUsageError(f"no stability interval for method={method!r}, lam={lam}")
    limit = stability_limit(tableau)
    want = math.ceil(lam * interval / limit - 1e-9)
    if answer is None or answer is ...:
        return report(name, False, "no answer yet: replace ... with a whole number of steps")
    if isinstance(answer, bool) or not isinstance(answer, int | float) or answer != int(answer):
        return report(name, False, f"got {answer!r}: give a whole number of steps")
    answer = int(answer)
    if answer == want:
        return report(name, True)
    if answer == math.ceil(lam * interval):
        return report(name, False, "that keeps h lam <= 1; the interval is wider: find "
                      f"{method}'s limit on the negative real axis with stability_limit")
    if answer == math.floor(lam * interval / limit):
        return report(name, False, "round up: with that many steps h lam is just beyond the "
                      "limit, and each step amplifies")
    for other in ("euler", "midpoint", "rk4", "heun3"):
        other_tableau = method_tableau(other)
        if other != method and other_tableau is not None:
            wrong = math.ceil(lam * interval / stability_limit(other_tableau) - 1e-9)
            if answer == wrong and wrong != want:
                return report(name, False, f"that is the answer for {other}; the exercise "
                              f"asks about {method}")
    if answer > want:
        return report(name, False, "that many steps are stable, but fewer are too: find the "
                      "largest stable h, then the fewest steps of at most that size")
    return report(name, False, f"with {answer} steps h lam = {lam * interval / answer:.3g} lies "
                  f"outside {method}'s stability interval [-{limit:.3f}, 0]")


# --- exercise: the spectral radius by power iteration ----------------------------------------


def _eigen_cases() -> list[tuple[str, torch.Tensor, float]]:
    """(description, matrix A of dy/dt = y A^T, its spectral radius): a dominant real decay,
    a dominant growth, and a non-normal matrix with a dominant complex pair, whose singular
    values (20, 3.2) differ from its eigenvalues' modulus (sqrt(65))."""
    gen = torch.Generator().manual_seed(11)
    q = torch.linalg.qr(torch.randn(4, 4, generator=gen))[0]
    return [
        ("eigenvalues -1, -3, -10, -60", q @ torch.diag(torch.tensor([-1.0, -3.0, -10.0, -60.0]))
         @ q.T, 60.0),
        ("eigenvalues -2, -1, 0.5, 5", q @ torch.diag(torch.tensor([-2.0, -1.0, 0.5, 5.0])) @ q.T,
         5.0),
        ("eigenvalues -1 ± 8i, not normal", torch.tensor([[-1.0, 20.0], [-3.2, -1.0]]),
         math.hypot(1.0, 8.0)),
    ]


@checker
def check_spectral_radius(name: str, fn: Callable[..., Any], *, rtol: float = 0.1) -> Verdict:
    """Check ``fn(func, t, y) -> float``: the largest eigenvalue magnitude of the Jacobian
    of ``func(t, y)`` with respect to ``y`` (batched states, float32), within ``rtol``, by
    power iteration with vector-Jacobian products (11_when_neural_odes_go_wrong). The matrix
    with a complex pair is tried from three states, each with the answer's random start seeded
    (the global random state is restored afterwards): an answer whose estimate oscillates
    cannot pass by luck. An answer that calls the package's ``dominant_eigenvalue`` fails: the
    exercise is to write it."""
    if "dominant_eigenvalue" in getattr(getattr(fn, "__code__", None), "co_names", ()):
        return report(name, False, "your function calls diagnose.dominant_eigenvalue; the "
                      "exercise is to write the power iteration yourself")
    cases = [(where, matrix, want, seed) for where, matrix, want in _eigen_cases()
             for seed in ((5,) if "normal" not in where else (5, 6, 7))]
    for where, matrix, want, seed in cases:
        y = torch.randn(6, matrix.shape[0], generator=torch.Generator().manual_seed(seed))

        def func(t: torch.Tensor, y: torch.Tensor, matrix: torch.Tensor = matrix) -> torch.Tensor:
            return y @ matrix.T

        torch.manual_seed(seed)  # the answer's random start: the same for every learner
        try:
            got = _call(fn, func, torch.tensor(0.0), y, where=where,
                        nothing="your function returned nothing: return the spectral radius")
            got = float(torch.as_tensor(got).abs().reshape(()))
        except _Hint as exc:
            return report(name, False, str(exc))
        except (TypeError, ValueError, RuntimeError):
            return report(name, False, f"{where}: return one number, the spectral radius")
        if not math.isfinite(got):
            return report(name, False, f"{where}: got {got}; normalise the vector after every "
                          "product, or its size overflows float32 (60^30 > 1e38)")
        if abs(got - want) <= rtol * want:
            continue
        singular = float(torch.linalg.matrix_norm(matrix, ord=2))
        if abs(got - singular) <= rtol * singular:
            return report(name, False, f"{where}: {got:.3g} is the largest singular value; the "
                          "eigenvalues' size is the growth rate of repeated products, averaged "
                          "over many iterations, not the norm of one product")
        if "complex" in where or "normal" in where:
            return report(name, False, f"{where}: got {got:.3g}, expected {want:.3g}. A "
                          "complex pair has no real eigenvector to converge to: take the "
                          "geometric mean of the growth factors over many iterations, not the "
                          "last one or a Rayleigh quotient")
        return report(name, False, f"{where}: got {got:.3g}, expected {want:.3g}: repeat "
                      "v <- (v^T J) / |v^T J| (torch.autograd.grad with grad_outputs=v) and "
                      "measure how fast the products grow")
    return report(name, True)


# --- exercise: repair a solver configuration, checked by diagnose -----------------------------


def _spiral_states() -> torch.Tensor:
    gen = torch.Generator().manual_seed(7)
    return torch.cat([torch.tensor([[2.0, 0.0]]), 2 * torch.randn(15, 2, generator=gen)])


@checker
def check_repaired_spiral(name: str, model: Any, *, budget: int = 200) -> Verdict:
    """Check ``model``: one course :class:`~nodebook_utils.models.ODEBlock` that solves the
    spiral's true field (:func:`~nodebook_utils.data.spiral_field`) over [0, 25] with a
    fixed-step torchdiffeq method, in at most ``budget`` evaluations, such that
    :func:`~nodebook_utils.diagnose.diagnose` reports neither an unstable step nor a model
    that is no ODE any more (11_when_neural_odes_go_wrong)."""
    from ..data import spiral_field
    from ..diagnose import diagnose
    from ..models import ODEBlock

    if model is None or model is ...:
        return report(name, False, "no answer yet: build the repaired ODEBlock")
    if not isinstance(model, ODEBlock):
        return report(name, False, f"got {type(model).__name__}: pass the ODEBlock itself")
    states = _spiral_states()
    with torch.no_grad():
        try:
            same = torch.allclose(model.func(torch.tensor(0.0), states), spiral_field(states),
                                  atol=1e-5)
        except (RuntimeError, TypeError, ValueError):
            same = False
    if not same:
        return report(name, False, "the dynamics must stay the spiral's (SpiralField()): "
                      "repair the solver, not the system")
    start, end = (float(v) for v in model.t_span)
    if (start, end) != (0.0, 25.0):
        return report(name, False, f"the block solves over [{start:g}, {end:g}]; keep lesson "
                      "07's span [0, 25]")
    if model.method not in ("euler", "midpoint", "rk4", "heun2", "heun3"):
        return report(name, False, f"{model.method!r} is not a fixed-step method; the exercise "
                      "asks for euler, midpoint, heun2, heun3 or rk4 with a step_size")
    d = diagnose(nn.Sequential(model), states, memory=False, compare_gradients=False)
    report_ = d.blocks[0]
    symptoms = {f.symptom for f in d.findings}
    if "unstable fixed step" in symptoms:
        return report(name, False, f"diagnose: unstable (|h λ| is {report_.stiffness_ratio():.2f} "
                      f"times {model.method}'s stability radius); the spiral's modes oscillate "
                      "(λ = -0.1 ± 2i), so the radius that counts is the one towards the "
                      "imaginary axis (stability_radius): smaller steps or a higher order")
    if report_.nfe_forward > budget:
        return report(name, False, f"{report_.nfe_forward} evaluations, over the budget of "
                      f"{budget}: a higher-order method can take far larger steps")
    if "not an ODE any more" in symptoms:
        return report(name, False, f"diagnose: the output moved by {d.output_change:.2g} when "
                      "re-solved accurately: stable is not yet accurate; more steps or a "
                      "higher order")
    return report(name, True)
