"""The from-scratch adjoint method against backprop through the solver and against torchdiffeq."""

import math

import pytest
import torch
import torchdiffeq
from torch import nn

from nodebook_utils.adjoint import odeint_adjoint
from nodebook_utils.solvers import CountNFE, mixed_norm, odeint, rms_norm

F64 = torch.float64
TIGHT = {"rtol": 1e-10, "atol": 1e-12}


class TanhMLP(nn.Module):
    """A small random time-dependent network f(t, z) acting on the last dimension."""

    def __init__(self, dim: int, hidden: int, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.net = nn.Sequential(
            nn.Linear(dim + 1, hidden), nn.Tanh(), nn.Linear(hidden, dim)
        ).to(F64)

    def forward(self, t, z):
        return self.net(torch.cat([z, t.expand(*z.shape[:-1], 1)], dim=-1))


def problem(seed, shape=(4, 3), n_times=4):
    """A random network, a random batch of initial states, random observation times."""
    gen = torch.Generator().manual_seed(seed)
    func = TanhMLP(shape[-1], 8, seed)
    y0 = torch.randn(*shape, dtype=F64, generator=gen)
    t = torch.cat([torch.zeros(1, dtype=F64), torch.rand(n_times - 1, dtype=F64, generator=gen)])
    t = torch.cumsum(t + 0.1, 0) - 0.1  # strictly increasing, starting at 0
    weights = torch.randn(n_times, *shape, dtype=F64, generator=gen)
    return func, y0, t, weights


def gradients(solve, func, y0, t, weights, **options):
    """Solve, take the loss sum_i <w_i, z(t_i)>, return z and the gradients of y0 and theta."""
    y0 = y0.clone().requires_grad_(True)
    params = [p for p in func.parameters() if p.requires_grad]
    ys = solve(func, y0, t, **options)
    grads = torch.autograd.grad((weights * ys).sum(), [y0, *params])
    return ys.detach(), grads


def relative_error(a, b):
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_adjoint_matches_backprop_through_the_solver(seed):
    func, y0, t, weights = problem(seed)
    ys_adj, g_adj = gradients(odeint_adjoint, func, y0, t, weights, **TIGHT)
    ys_bp, g_bp = gradients(odeint, func, y0, t, weights, **TIGHT)
    assert torch.equal(ys_adj, ys_bp)  # the same forward solve
    for a, b in zip(g_adj, g_bp, strict=True):
        assert a.shape == b.shape and relative_error(a, b) <= 1e-6


def test_adjoint_with_fixed_steps_and_any_shape():
    func, y0, t, weights = problem(3, shape=(2, 3, 2), n_times=3)
    options = {"method": "rk4", "step_size": 0.02}
    ys_adj, g_adj = gradients(odeint_adjoint, func, y0, t, weights, **options)
    ys_bp, g_bp = gradients(odeint, func, y0, t, weights, **options)
    assert ys_adj.shape == (3, 2, 3, 2) and torch.equal(ys_adj, ys_bp)
    for a, b in zip(g_adj, g_bp, strict=True):
        assert relative_error(a, b) <= 1e-6


def test_adjoint_matches_torchdiffeq_adjoint():
    func, y0, t, weights = problem(4)
    _, ours = gradients(odeint_adjoint, func, y0, t, weights, **TIGHT)
    _, theirs = gradients(torchdiffeq.odeint_adjoint, func, y0, t, weights, **TIGHT)
    for a, b in zip(ours, theirs, strict=True):
        assert relative_error(a, b) <= 1e-6


def test_loss_on_an_intermediate_time_only_and_backward_time():
    func, y0, t, weights = problem(5)
    weights[-1] = 0  # the last observation does not enter the loss
    t = t.flip(0)  # integrate backwards in time: the adjoint then runs forwards
    _, g_adj = gradients(odeint_adjoint, func, y0, t, weights, **TIGHT)
    _, g_bp = gradients(odeint, func, y0, t, weights, **TIGHT)
    for a, b in zip(g_adj, g_bp, strict=True):
        assert relative_error(a, b) <= 1e-6


def test_frozen_parameters_are_skipped():
    func, y0, t, weights = problem(6)
    func.net[0].weight.requires_grad_(False)
    ys = odeint_adjoint(func, y0.clone().requires_grad_(True), t, **TIGHT)
    (weights * ys).sum().backward()
    assert func.net[0].weight.grad is None
    assert all(p.grad is not None for p in func.parameters() if p.requires_grad)


def test_forward_keeps_no_graph_of_the_solver_and_counts_nfe():
    """rk4, one step per interval: 4 evaluations per interval forward and backward."""
    func, y0, t, weights = problem(7)
    counted = CountNFE(func)
    ys = odeint_adjoint(counted, y0.clone().requires_grad_(True), t, method="rk4")
    assert counted.reset() == 4 * (len(t) - 1)
    # the graph is one node, straight to the leaves y0 and theta: no solver operations
    leaves = [node for node, _ in ys.grad_fn.next_functions if node is not None]
    assert len(leaves) == 1 + len(list(func.parameters()))
    assert all(type(node).__name__ == "AccumulateGrad" for node in leaves)
    (weights * ys).sum().backward()
    assert counted.nfe == 4 * (len(t) - 1)


def test_needs_a_module():
    with pytest.raises(TypeError, match="nn.Module"):
        odeint_adjoint(lambda t, y: -y, torch.ones(2, dtype=F64), torch.tensor([0.0, 1.0]))


def test_double_backward_is_refused_not_answered_wrongly():
    func, y0, t, weights = problem(8)
    z = y0.clone().requires_grad_(True)
    loss = (weights * odeint_adjoint(func, z, t, **TIGHT)).sum()
    with pytest.raises(RuntimeError, match="second derivatives"):
        torch.autograd.grad(loss, z, create_graph=True)


class Shifted(nn.Module):
    """f(t, z) = tanh(W z) + shift, where shift is a tensor from outside, not a parameter."""

    def __init__(self, shift):
        super().__init__()
        torch.manual_seed(9)
        self.linear = nn.Linear(3, 3).to(F64)
        self.shift = shift

    def forward(self, t, z):
        return torch.tanh(self.linear(z)) + self.shift


def test_adjoint_params_reach_tensors_that_are_not_parameters():
    shift = torch.tensor([0.3, -0.2, 0.1], dtype=F64, requires_grad=True)
    func = Shifted(shift)
    y0 = torch.randn(5, 3, dtype=F64, generator=torch.Generator().manual_seed(1))
    t = torch.tensor([0.0, 0.5, 1.0], dtype=F64)

    def grad_of(solve, **options):
        ys = solve(func, y0, t, **TIGHT, **options)
        params = [*func.parameters(), shift]
        return torch.autograd.grad(ys.pow(2).sum(), params, allow_unused=True)

    wanted = grad_of(odeint)
    given = grad_of(odeint_adjoint, adjoint_params=[*func.parameters(), shift])
    for a, b in zip(given, wanted, strict=True):
        assert relative_error(a, b) <= 1e-6
    # without it, the shift is invisible to the adjoint: no gradient (documented)
    assert grad_of(odeint_adjoint)[-1] is None
    # a plain function works when its tensors are named
    plain = odeint_adjoint(lambda s, z: -shift * z, y0, t, adjoint_params=[shift], **TIGHT)
    (g,) = torch.autograd.grad(plain.sum(), shift)
    (g_bp,) = torch.autograd.grad(odeint(lambda s, z: -shift * z, y0, t, **TIGHT).sum(), shift)
    assert relative_error(g, g_bp) <= 1e-6


def test_dynamics_that_ignore_the_state_give_zero_products_not_a_crash():
    class Forcing(nn.Module):  # f(t, y) = -0.1 exp(-0.1 t): no parameters, no y
        def forward(self, t, y):
            return torch.full_like(y, -0.1) * torch.exp(-0.1 * t)

    y0 = torch.ones(4, dtype=F64, requires_grad=True)
    t = torch.tensor([0.0, 1.0, 2.0], dtype=F64)
    weights = torch.tensor([[1.0] * 4, [2.0] * 4, [3.0] * 4], dtype=F64)
    ys = odeint_adjoint(Forcing(), y0, t, **TIGHT)
    (grad,) = torch.autograd.grad((weights * ys).sum(), y0)
    torch.testing.assert_close(grad, weights.sum(0))  # y(t) = y0 + g(t): dL/dy0 = sum of w
    exact = torch.full((4,), math.exp(-0.2), dtype=F64)  # 1 + integral of -0.1 e^(-0.1 s)
    torch.testing.assert_close(ys[-1].detach(), exact, atol=1e-8, rtol=0)


@pytest.mark.parametrize("solve", [odeint, odeint_adjoint])
def test_times_that_require_grad_are_refused(solve):
    func, y0, t, _ = problem(10)
    with pytest.raises(ValueError, match="t requires grad"):
        solve(func, y0, t.clone().requires_grad_(True))


def test_mixed_norm_is_the_largest_rms_of_the_blocks():
    x = torch.tensor([3.0, 4.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0], dtype=F64)
    norm = mixed_norm([2, 3, 4])
    assert norm(x) == pytest.approx(max(rms_norm(x[:2]), rms_norm(x[2:5]), rms_norm(x[5:])))
    assert norm(x) == pytest.approx((12.5) ** 0.5)
    with pytest.raises(ValueError, match="9"):
        mixed_norm([2, 3])(x)


class StrongAndWide(nn.Module):
    """A strong small layer that sets the dynamics, beside a wide layer of about 67,000
    parameters whose gradients are tiny: the case where one RMS norm over [z, a, a_theta]
    lets the many tiny entries hide the error of z and a."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(11)
        self.strong = nn.Linear(16, 16).to(F64)
        with torch.no_grad():
            self.strong.weight.mul_(4.0)
        self.wide = nn.Sequential(nn.Linear(16, 2048), nn.Tanh(), nn.Linear(2048, 16)).to(F64)

    def forward(self, t, z):
        return torch.tanh(self.strong(z)) * torch.cos(3 * t) + 1e-2 * self.wide(z)


def test_many_parameters_do_not_dilute_the_state_error():
    """The backward solve controls z, a and every parameter's gradient separately (mixed
    norm): at rtol = atol = 1e-4 the gradient is about as accurate as torchdiffeq's. With one
    RMS over the augmented state it was 100 times less accurate on this problem."""
    func = StrongAndWide()
    y0 = torch.randn(8, 16, dtype=F64, generator=torch.Generator().manual_seed(2))
    t = torch.tensor([0.0, 2.0], dtype=F64)
    weights = torch.randn(2, 8, 16, dtype=F64, generator=torch.Generator().manual_seed(3))
    loose = {"rtol": 1e-4, "atol": 1e-4}
    _, reference = gradients(odeint_adjoint, func, y0, t, weights, **TIGHT)
    _, ours = gradients(odeint_adjoint, func, y0, t, weights, **loose)
    _, theirs = gradients(torchdiffeq.odeint_adjoint, func, y0, t, weights, **loose)
    flat = [torch.cat([g.flatten() for g in grads]) for grads in (reference, ours, theirs)]
    error_ours, error_theirs = relative_error(flat[1], flat[0]), relative_error(flat[2], flat[0])
    assert error_ours <= 4 * error_theirs
