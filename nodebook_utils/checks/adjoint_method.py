"""Exercise checkers of 06_adjoint_method (imported into :mod:`nodebook_utils.checks`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from .core import CheckerUsageError, Verdict, _as_float64, _call, _Hint, checker, report

__all__ = [
    "check_linear_solve_adjoint",
    "check_adjoint_step",
    "check_augmented_dimension",
    "check_checkpoint_intervals",
]


def _linear_solve_cases() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Random (A, c, g) with A well conditioned and not symmetric (06_adjoint_method)."""
    gen = torch.Generator().manual_seed(6)
    cases = []
    for n in (3, 4, 6):
        a = torch.randn(n, n, generator=gen, dtype=torch.float64) + 3 * torch.eye(
            n, dtype=torch.float64
        )
        c = torch.randn(n, generator=gen, dtype=torch.float64)
        g = torch.randn(n, generator=gen, dtype=torch.float64)
        cases.append((a, c, g))
    return cases


@checker
def check_linear_solve_adjoint(name: str, fn: Callable[..., Any], *, atol: float = 1e-8) -> Verdict:
    """Check ``fn(A, c, g) -> (dL_dc, dL_dA)`` for ``L = g^T b`` with ``A b = c``.

    The expected answer needs one adjoint solve: ``A^T s = g``, then ``dL/dc = s`` and
    ``dL/dA = -s b^T``. Compared with autograd on random non-symmetric matrices; the hint names
    the likely slip (a missing transpose, a sign, the order of the outer product)
    (06_adjoint_method).
    """
    no_answer = "no answer yet: return the pair (dL_dc, dL_dA)"
    for i, (a, c, g) in enumerate(_linear_solve_cases()):
        try:
            got = _call(fn, a.clone(), c.clone(), g.clone(), where=f"case {i}", nothing=no_answer)
        except _Hint as exc:
            return report(name, False, str(exc))
        if any(x is None or x is ... for x in _as_tuple(got)):
            return report(name, False, no_answer)
        if not isinstance(got, tuple | list) or len(got) != 2:
            return report(name, False, "return two tensors, (dL_dc, dL_dA)")
        try:
            got_c, got_a = (_as_float64(x, f"case {i}") for x in got)
        except _Hint:
            return report(name, False, "return two tensors, (dL_dc, dL_dA)")
        b = torch.linalg.solve(a, c)
        s = torch.linalg.solve(a.T, g)
        want_c, want_a = s, -torch.outer(s, b)
        n = len(c)
        if got_c.shape != (n,) or got_a.shape != (n, n):
            return report(
                name, False,
                f"case {i}: shapes {tuple(got_c.shape)} and {tuple(got_a.shape)}; dL_dc has "
                f"the shape of c ({n},), dL_dA the shape of A ({n}, {n})",
            )

        def close(x: torch.Tensor, y: torch.Tensor) -> bool:
            return bool(torch.allclose(x, y, rtol=0.0, atol=atol))

        if not close(got_c, want_c):
            if close(got_c, torch.linalg.solve(a, g)):
                hint = "the adjoint system uses the transpose: solve A^T s = g, not A s = g"
            elif close(got_c, g):
                hint = "g is dL/db; carry it back through the solve: dL/dc = s with A^T s = g"
            else:
                hint = "dL/dc = s, where s solves A^T s = g"
            return report(name, False, f"case {i}: dL_dc is wrong; {hint}")
        if not close(got_a, want_a):
            if close(got_a, -want_a):
                hint = "check the sign: increasing A shrinks b, so dL/dA = -s b^T"
            elif close(got_a, want_a.T) or close(got_a, -want_a.T):
                hint = "the order of the outer product: row i of A goes with s_i, so -s b^T"
            else:
                hint = "differentiate A b = c: A db = -dA b, so dL/dA = -s b^T"
            return report(name, False, f"case {i}: dL_dA is wrong; {hint}")
    return report(name, True)


def _as_tuple(x: Any) -> tuple:
    """``x`` as a tuple if it is a tuple or list, else a 1-tuple (06_adjoint_method)."""
    return tuple(x) if isinstance(x, tuple | list) else (x,)


def _adjoint_step_cases() -> list[tuple[Callable[[torch.Tensor], torch.Tensor], torch.Tensor,
                                        torch.Tensor, torch.Tensor]]:
    """(f_i, q_i, r_next, dphi_dq_i) for :func:`check_adjoint_step` (06_adjoint_method)."""
    gen = torch.Generator().manual_seed(60)
    f64 = torch.float64
    cases = []
    for n_in, n_out, kind in ((3, 3, "linear"), (3, 3, "tanh"), (4, 2, "tanh"), (2, 5, "euler")):
        w = torch.randn(n_out, n_in, generator=gen, dtype=f64)
        bias = torch.randn(n_out, generator=gen, dtype=f64)
        if kind == "linear":
            def f(q: torch.Tensor, w: torch.Tensor = w) -> torch.Tensor:
                return w @ q
        elif kind == "tanh":
            def f(q: torch.Tensor, w: torch.Tensor = w, bias: torch.Tensor = bias) -> torch.Tensor:
                return torch.tanh(w @ q + bias)
        else:  # an Euler step q + h g(q) needs n_out == n_in: use a square part of w
            w_sq = w[:n_in, :n_in]

            def f(q: torch.Tensor, w: torch.Tensor = w_sq) -> torch.Tensor:
                return q + 0.1 * torch.tanh(w @ q)
            n_out = n_in
        q = torch.randn(n_in, generator=gen, dtype=f64)
        r_next = torch.randn(n_out, generator=gen, dtype=f64)
        dphi = torch.randn(n_in, generator=gen, dtype=f64)
        cases.append((f, q, r_next, dphi))
    return cases


@checker
def check_adjoint_step(name: str, fn: Callable[..., Any], *, atol: float = 1e-8) -> Verdict:
    """Check one step of the discrete adjoint recursion,
    ``fn(f_i, q_i, r_next, dphi_dq_i) -> r_i = (df_i/dq_i)^T r_next + dphi_dq_i``,
    on linear maps, tanh layers (square and not) and an Euler step; the hint names the likely
    slip (no transpose, the direct term forgotten) (06_adjoint_method)."""
    for i, (f, q, r_next, dphi) in enumerate(_adjoint_step_cases()):
        jac = torch.autograd.functional.jacobian(f, q)  # (n_out, n_in)
        want = jac.T @ r_next + dphi
        where = f"case {i} (f_i maps R^{jac.shape[1]} to R^{jac.shape[0]})"
        try:
            got = _call(fn, f, q.clone(), r_next.clone(), dphi.clone(), where=where,
                        nothing="your function returned nothing: return r_i")
            got = _as_float64(got, where)
        except _Hint as exc:
            return report(name, False, str(exc))
        if got.shape != want.shape:
            return report(
                name, False,
                f"{where}: r_i has shape {tuple(got.shape)}, expected {tuple(want.shape)}, the "
                "shape of q_i: multiply r_next by the *transposed* Jacobian (a vector-Jacobian "
                "product)",
            )
        if torch.allclose(got, want, rtol=0.0, atol=atol):
            continue
        if torch.allclose(got, jac.T @ r_next, rtol=0.0, atol=atol):
            hint = "add dphi_dq_i: the loss may also depend on q_i directly"
        elif jac.shape[0] == jac.shape[1] and torch.allclose(
            got, jac @ r_next + dphi, rtol=0.0, atol=atol
        ):
            hint = "use the transposed Jacobian, (df_i/dq_i)^T r_next, not (df_i/dq_i) r_next"
        elif got.shape == r_next.shape and torch.allclose(got, r_next + dphi, rtol=0.0, atol=atol):
            hint = "r_next must go through the Jacobian of f_i at q_i"
        else:
            err = (got - want).abs().max().item()
            hint = (f"values differ by up to {err:.3g}; r_i = (df_i/dq_i)^T r_next + dphi_dq_i, "
                    "e.g. torch.autograd.grad(f_i(q), q, grad_outputs=r_next)")
        return report(name, False, f"{where}: {hint}")
    return report(name, True)


@checker
def check_augmented_dimension(
    name: str, answer: Any, func: torch.nn.Module, state_shape: Sequence[int]
) -> Verdict:
    """Check the number of entries of the augmented state ``[z, a, a_theta]`` that the adjoint
    method integrates backwards for dynamics ``func`` and a state ``z`` of shape
    ``state_shape`` (a batch included): ``2 * numel(z) + number of trainable parameters``.
    The hint names the likely slip (06_adjoint_method)."""
    if answer is None or answer is ...:
        return report(name, False, "no answer yet: replace the placeholder with your answer")
    n = 1
    for size in state_shape:
        n *= int(size)
    n_params = sum(p.numel() for p in func.parameters() if p.requires_grad)
    want = 2 * n + n_params
    if answer == want:
        return report(name, True)
    per_state = 2 * int(state_shape[-1]) + n_params
    slips = [
        (n + n_params, "the adjoint a(t) = dL/dz(t) has as many entries as z(t): count it too"),
        (2 * n, "add a_theta: one entry per trainable parameter of the network"),
        (3 * n, "a_theta has one entry per parameter, not one per entry of z"),
        (per_state, "every state of the batch has its own z and a: count numel of the batch"),
        (want + 1, "the augmented state here is [z, a, a_theta], with no entry for time"),
        (n + 2 * n_params, "a_theta is one vector as long as theta; z and a have numel(z) each"),
    ]
    for value, hint in slips:
        if answer == value:
            return report(name, False, hint)
    return report(name, False, "count numel(z) + numel(a) + numel(theta), with a shaped like z")


@checker
def check_checkpoint_intervals(
    name: str, answer: Any, lam: float = 10.0, factor: float = 10.0
) -> Verdict:
    """Check Exercise 4 of 06_adjoint_method, a derivation: the smallest number ``K`` of equal
    intervals of ``[0, 1]`` for which the backward reconstruction of ``z`` over one interval
    amplifies an error in a direction that contracts at rate ``lam`` by at most ``factor``:
    ``e^(lam / K) <= factor``, so ``K = ceil(lam / ln(factor))``. The hint names the likely
    slip (log10 for ln, times counted instead of intervals, not the smallest)."""
    if lam <= 0 or factor <= 1:
        raise CheckerUsageError("lam must be positive and factor larger than 1")
    if answer is None or answer is ...:
        return report(name, False, "no answer yet: replace the placeholder with your answer")
    if isinstance(answer, bool) or not isinstance(answer, int | float):
        return report(name, False, f"answer with a whole number of intervals, not "
                      f"{type(answer).__name__}")
    if not math.isfinite(answer) or answer <= 0:
        return report(name, False, "K is a positive whole number of intervals")
    if answer != int(answer):
        return report(name, False, "K counts intervals, a whole number: round up the K at "
                      "which e^(lam/K) equals the factor")
    k = int(answer)
    want = math.ceil(lam / math.log(factor) - 1e-12)
    if k == want:
        return report(name, True)
    if k < want:
        return report(name, False, f"with K = {k} each interval has length 1/{k}, and "
                      f"e^(lam/K) = {math.exp(lam / k):.3g} is more than {factor:g}")
    if k == math.ceil(lam / math.log10(factor) - 1e-12):
        return report(name, False, "the growth is e^(lam t), a natural exponential: solve "
                      "e^(lam/K) <= factor with the natural logarithm, not log10")
    if k == want + 1:
        return report(name, False, f"{k} intervals are enough, but is {k - 1} enough too? "
                      "(K intervals have K + 1 observation times: count intervals)")
    return report(name, False, f"{k} intervals are enough, but not the smallest number: "
                  "solve e^(lam/K) <= factor for K")
