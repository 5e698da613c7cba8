"""The from-scratch adjoint method against backprop through the solver and against torchdiffeq."""

import pytest
import torch
import torchdiffeq
from torch import nn

from nodebook_utils.adjoint import odeint_adjoint
from nodebook_utils.solvers import CountNFE, odeint

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
    assert len(g_adj) == 1 + len(list(func.parameters()))
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
