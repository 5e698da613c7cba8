"""Textbook ODEs with closed-form solutions, solved by the course's solvers, in the spirit of
torchdiffeq's own test suite: every method, float32 and float64, forward and backward in time,
and gradient checks of backprop through the solver and of the adjoint."""

import math

import pytest
import torch
from torch import nn

from nodebook_utils.adjoint import odeint_adjoint
from nodebook_utils.solvers import METHODS, ODESolverError, odeint

F64 = torch.float64


class Problem:
    """dy/dt = f(t, y) on [0, 1] with its exact solution."""

    def __init__(self, name, f, exact):
        self.name, self.f, self.exact = name, f, exact

    def __repr__(self):
        return self.name


A = torch.tensor([[-0.1, 2.0], [-2.0, -0.1]], dtype=F64)
PROBLEMS = [
    # y' = 3: exact for every method
    Problem("constant", lambda t, y: torch.full_like(y, 3.0),
            lambda t, dtype: (0.5 + 3.0 * t).to(dtype).reshape(-1, 1).expand(-1, 2)),
    # y' = -2 y: y = e^(-2t) y0
    Problem("decay", lambda t, y: -2.0 * y,
            lambda t, dtype: torch.exp(-2.0 * t).to(dtype)[:, None] * torch.tensor(
                [1.0, -0.5], dtype=dtype)),
    # y' = A y, a damped rotation: y = e^(At) y0
    Problem("linear system", lambda t, y: y @ A.to(y.dtype).T,
            lambda t, dtype: torch.stack([torch.linalg.matrix_exp(A * s) @ torch.tensor(
                [2.0, 0.0], dtype=F64) for s in t]).to(dtype)),
    # y' = cos(t) y (time-dependent, nonlinear in t): y = y0 exp(sin t)
    Problem("time-dependent", lambda t, y: torch.cos(t) * y,
            lambda t, dtype: torch.exp(torch.sin(t)).to(dtype)[:, None] * torch.tensor(
                [1.0, 2.0], dtype=dtype)),
]
# Steps of 1/100 and the expected worst error (global error ~ C h^order).
TOLERANCE = {"euler": 5e-2, "midpoint": 5e-4, "rk4": 1e-6, "dopri5": 1e-5}
FLOAT32_FLOOR = 2e-5


@pytest.mark.parametrize("dtype", [torch.float32, F64], ids=["float32", "float64"])
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reversed"])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("problem", PROBLEMS, ids=repr)
def test_solution_is_accurate(problem, method, reverse, dtype):
    t = torch.linspace(0.0, 1.0, 11, dtype=F64)
    if reverse:
        t = t.flip(0)
    exact = problem.exact(t, F64)
    options = ({"rtol": 1e-7, "atol": 1e-9} if method == "dopri5" else {"step_size": 0.01})
    ys = odeint(problem.f, exact[0].to(dtype), t.to(dtype), method=method, **options)
    assert ys.shape == exact.shape and ys.dtype == dtype
    error = (ys.double() - exact).abs().max().item()
    limit = TOLERANCE[method] + (FLOAT32_FLOOR if dtype == torch.float32 else 0.0)
    if problem.name == "constant":
        limit = 1e-12 if dtype == F64 else FLOAT32_FLOOR  # every method is exact here
    assert error <= limit, f"{problem} {method}: max error {error:.2e}"


class Linear(nn.Module):
    """y' = W y + b with small random W and b (parameters for the gradient checks)."""

    def __init__(self) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        self.weight = nn.Parameter(0.5 * torch.randn(3, 3, dtype=F64, generator=gen))
        self.bias = nn.Parameter(0.1 * torch.randn(3, dtype=F64, generator=gen))

    def forward(self, t, y):
        return torch.tanh(y @ self.weight.T + self.bias) * torch.cos(t)


@pytest.mark.parametrize("method", METHODS)
def test_gradcheck_backprop_through_the_solver(method):
    """Backprop through the solver is the exact derivative of what it computes."""
    t = torch.tensor([0.0, 0.4, 1.0], dtype=F64)
    func = Linear()
    y0 = torch.tensor([0.3, -0.2, 0.5], dtype=F64, requires_grad=True)
    weight = func.weight.detach().clone().requires_grad_(True)
    bias = func.bias.detach().clone().requires_grad_(True)
    options = ({"rtol": 1e-9, "atol": 1e-11} if method == "dopri5" else {"step_size": 0.05})

    def solve(y0, weight, bias):
        return odeint(lambda s, y: torch.tanh(y @ weight.T + bias) * torch.cos(s), y0, t,
                      method=method, **options)

    assert torch.autograd.gradcheck(solve, (y0, weight, bias), atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("method", METHODS)
def test_adjoint_gradient_matches_finite_differences(method):
    """The adjoint solves the continuous adjoint equations, so it matches central differences
    of the solver's output up to the solver's error: tight tolerances or small steps."""
    func = Linear()
    t = torch.tensor([0.0, 0.4, 1.0], dtype=F64)
    y0 = torch.tensor([0.3, -0.2, 0.5], dtype=F64, requires_grad=True)
    options = ({"rtol": 1e-10, "atol": 1e-12} if method == "dopri5"
               else {"step_size": 0.001 if method == "euler" else 0.01})
    weights = torch.tensor([[0.0] * 3, [1.0, -2.0, 0.5], [0.3, 0.7, -1.0]], dtype=F64)
    loss = (weights * odeint_adjoint(func, y0, t, method=method, **options)).sum()
    grads = torch.autograd.grad(loss, [y0, func.weight])
    eps = 1e-6
    for tensor, grad in zip([y0, func.weight], grads, strict=True):
        for index in [(0,), (2,)] if tensor is y0 else [(0, 1), (2, 2)]:
            with torch.no_grad():
                tensor[index] += eps
                up = (weights * odeint(func, y0, t, method=method, **options)).sum()
                tensor[index] -= 2 * eps
                down = (weights * odeint(func, y0, t, method=method, **options)).sum()
                tensor[index] += eps
            numeric = ((up - down) / (2 * eps)).item()
            scale = 1e-2 if method == "euler" else 1e-4
            assert grad[index].item() == pytest.approx(numeric, abs=scale, rel=scale)


def test_zero_atol_with_a_zero_in_the_state_is_an_error_naming_the_time():
    calls = []

    def f(t, y):
        calls.append(1)
        return -y

    with pytest.raises(ODESolverError, match="atol"):
        odeint(f, torch.tensor([1.0, 0.0], dtype=F64), torch.tensor([0.0, 1.0], dtype=F64),
               rtol=1e-6, atol=0.0)
    assert len(calls) < 20  # at once, not after max_steps trials
    # a state without zeros is fine with atol = 0
    ys = odeint(f, torch.tensor([1.0, 2.0], dtype=F64), torch.tensor([0.0, 1.0], dtype=F64),
                rtol=1e-8, atol=0.0)
    assert ys[-1, 0].item() == pytest.approx(math.exp(-1), rel=1e-6)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"rtol": -1e-3}, "rtol"),
        ({"atol": float("nan")}, "atol"),
        ({"rtol": 0.0, "atol": 0.0}, "both 0"),
        ({"step_size": 0.1}, "first_step"),
        ({"method": "rk4", "first_step": 0.1}, "step_size"),
        ({"method": "rk4", "step_size": -0.1}, "positive"),
        ({"first_step": 0.0}, "positive"),
    ],
)
def test_bad_options_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        odeint(lambda t, y: -y, torch.ones(2, dtype=F64), torch.tensor([0.0, 1.0]), **options)


def test_first_step_sets_dopri5s_first_step():
    times = []

    def f(t, y):
        times.append(t.item())
        return -y

    odeint(f, torch.ones(1, dtype=F64), torch.tensor([0.0, 1.0], dtype=F64), first_step=0.125)
    assert 0.125 in times  # the FSAL stage of the first step is evaluated at t0 + h
