"""Exercise checkers of 05_neural_odes (imported into :mod:`nodebook_utils.checks`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .core import Verdict, _call, _Hint, checker, report

__all__ = ["check_ode_block_parameters", "check_concat_time", "check_logistic_residual"]


@checker
def check_ode_block_parameters(name: str, answer: Any, dim: int, hidden: int) -> Verdict:
    """Check the parameter count of the dynamics ``MLPDynamics(dim, [hidden])`` of an ODE
    block, i.e. ``ConcatLinear(dim, hidden)``, tanh, ``ConcatLinear(hidden, dim)``; the hint
    names the likely slip without giving the number away (05_neural_odes)."""
    if answer is None or answer is ...:
        return report(name, False, "no answer yet: replace the placeholder with your answer")
    want = (dim + 1) * hidden + hidden + (hidden + 1) * dim + dim
    if answer == want:
        return report(name, True)
    rule = "each ConcatLinear(a, b) holds (a + 1) * b weights (one column for t) and b biases"
    if answer == 2 * dim * hidden + hidden + dim:
        hint = ("that is one residual block without time input: the time adds a weight "
                "column to each layer; " + rule)
    elif answer == 2 * dim * hidden:
        hint = "you counted the weights of h only: add the time column and the biases; " + rule
    elif answer in (want - dim, want - hidden):
        hint = "both layers see t, so both get an extra weight column; " + rule
    elif answer in (want - dim - hidden, want + dim + hidden):
        hint = "count one bias per output unit of each layer; " + rule
    else:
        hint = rule + "; the dynamics have two such layers"
    return report(name, False, hint)


def _concat_time_reference(t: Any, h: torch.Tensor) -> torch.Tensor:
    """The expected ``concat_time`` output: ``[t, h]`` along the features (05_neural_odes)."""
    t_col = torch.as_tensor(t, dtype=h.dtype).expand(h.shape[0], 1)
    return torch.cat([t_col, h], dim=1)


@checker
def check_concat_time(name: str, fn: Callable[..., Any]) -> Verdict:
    """Check a learner's ``concat_time(t, h)``: ``h`` of shape ``(N, d)``, ``t`` a float or a
    0-dim tensor; the result is ``(N, d + 1)`` with ``t`` in column 0 and ``h``'s dtype
    (05_neural_odes)."""
    gen = torch.Generator().manual_seed(5)
    cases = [
        (torch.tensor(0.5), torch.randn(4, 3, generator=gen)),
        (0.25, torch.randn(2, 5, generator=gen, dtype=torch.float64)),
        (torch.tensor(1.5, dtype=torch.float64), torch.randn(6, 1, generator=gen)),
        (torch.tensor(-2.0), torch.randn(1, 2, generator=gen)),
    ]
    for i, (t, h) in enumerate(cases):
        where = f"case {i} (t={float(t)}, h of shape {tuple(h.shape)}, {h.dtype})"
        try:
            got = _call(fn, t, h.clone(), where=where,
                        nothing="your function returned nothing: return the tensor")
        except _Hint as exc:
            return report(name, False, str(exc))
        if not isinstance(got, torch.Tensor):
            return report(name, False, f"{where}: return a tensor, not {type(got).__name__}")
        want = _concat_time_reference(t, h)
        if got.shape != want.shape:
            return report(
                name, False,
                f"{where}: shape {tuple(got.shape)}, expected {tuple(want.shape)}: make t a "
                "column of N rows (shape (N, 1)) and concatenate along dim=1, the features",
            )
        if got.dtype != h.dtype:
            return report(name, False, f"{where}: dtype {got.dtype}; give the time column "
                          "h's dtype (torch.full_like(h[:, :1], t) does)")
        if torch.equal(got, want):
            continue
        if torch.equal(got, torch.cat([h, want[:, :1]], dim=1)):
            return report(name, False, f"{where}: t must come first (column 0), as in "
                          "ConcatLinear; you appended it last")
        return report(name, False, f"{where}: values differ: column 0 is t, columns 1.. are h")
    return report(name, True)


class _LogisticSolution(torch.nn.Module):
    """The exact solution ``K / (1 + (K / y0 - 1) exp(-r t))`` with a trainable ``y0``
    (a test model for :func:`check_logistic_residual`, 05_neural_odes)."""

    def __init__(self, r: float, capacity: float, y0: float) -> None:
        super().__init__()
        self.r, self.capacity = r, capacity
        self.y0 = torch.nn.Parameter(torch.tensor(y0, dtype=torch.float64))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        k = self.capacity
        return k / (1 + (k / self.y0 - 1) * torch.exp(-self.r * t))


def _logistic_residual_reference(
    model: Callable[[torch.Tensor], torch.Tensor], t: torch.Tensor, r: float, capacity: float
) -> torch.Tensor:
    """``dy/dt - r y (1 - y / K)`` of ``y = model(t)`` by autograd (05_neural_odes)."""
    t = t.clone().requires_grad_(True)
    y = model(t)
    dy = torch.autograd.grad(y.sum(), t, create_graph=True)[0]
    return dy - r * y * (1 - y / capacity)


@checker
def check_logistic_residual(
    name: str, fn: Callable[..., Any], r: float, capacity: float, *, atol: float = 1e-8
) -> Verdict:
    """Check a learner's PINN residual ``fn(model, t)`` of the logistic equation
    ``y' = r y (1 - y / K)`` (``capacity`` is K): ``t`` has shape ``(N, 1)`` and does not
    require grad, the result is ``dy/dt - r y (1 - y/K)`` of shape ``(N, 1)``, and it must
    stay differentiable with respect to the model's parameters (``create_graph=True``).
    Tested on the exact solution (residual 0) and on small random networks (05_neural_odes)."""
    gen = torch.Generator().manual_seed(7)
    t = torch.linspace(0.0, 5.0, 11, dtype=torch.float64).unsqueeze(1)
    models: list[tuple[str, torch.nn.Module]] = [("the exact solution", _LogisticSolution(
        r, capacity, 0.1 * capacity))]
    for width in (4, 8):
        net = torch.nn.Sequential(
            torch.nn.Linear(1, width), torch.nn.Tanh(), torch.nn.Linear(width, 1)
        ).double()
        with torch.no_grad():
            for p in net.parameters():
                p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
        models.append((f"a random network of width {width}", net))
    for label, model in models:
        where = f"on {label}"
        try:
            got = _call(fn, model, t.clone(), where=f"{where}, your function",
                        nothing="your function returned nothing: return the residual")
        except _Hint as exc:
            cause = exc.__cause__
            if isinstance(cause, RuntimeError) and "does not require grad" in str(cause):
                return report(name, False, "call t.requires_grad_(True) before evaluating the "
                              "model, so that autograd can differentiate y with respect to t")
            return report(name, False, str(exc))
        if not isinstance(got, torch.Tensor):
            return report(name, False, f"return a tensor, not {type(got).__name__}")
        want = _logistic_residual_reference(model, t, r, capacity)
        if got.shape != want.shape:
            return report(name, False, f"{where}: shape {tuple(got.shape)}, expected "
                          f"{tuple(want.shape)}: one residual per time, like y = model(t)")
        diff = (got.detach().double() - want.detach()).abs().max().item()
        if diff > atol:
            if torch.allclose(got.detach().double(), -want.detach(), atol=atol):
                hint = "the sign is flipped: the residual is dy/dt - r y (1 - y/K)"
            else:
                hint = "the residual is dy/dt - r y (1 - y/K), with dy/dt from torch.autograd.grad"
            return report(name, False, f"{where}: values differ by up to {diff:.3g}; {hint}")
        if not got.requires_grad:
            return report(name, False, "the residual has no graph: pass create_graph=True to "
                          "torch.autograd.grad, and do not detach, so the loss can train the model")
        params = list(model.parameters())
        want_grads = torch.autograd.grad(want.pow(2).sum(), params)
        try:
            got_grads = torch.autograd.grad(got.pow(2).sum(), params, allow_unused=True)
            no_graph = any(
                g is None or not torch.allclose(g.double(), w, atol=1e-6, rtol=1e-6)
                for g, w in zip(got_grads, want_grads, strict=True)
            )
        except RuntimeError:
            no_graph = True
        if no_graph:
            return report(name, False, f"{where}: the gradient with respect to the model's "
                          "weights is wrong: pass create_graph=True to torch.autograd.grad "
                          "so that dy/dt itself can be differentiated")
    return report(name, True)
