"""The from-scratch ODE solvers: tableaux, orders, torchdiffeq, NFE, errors, autograd."""

import math

import numpy as np
import pytest
import torch
import torchdiffeq

from nodebook_utils.solvers import (
    DOPRI5,
    TABLEAUX,
    CountNFE,
    ODESolverError,
    dopri5_step,
    euler_step,
    midpoint_step,
    odeint,
    rk4_step,
    rk_step,
)

F64 = torch.float64
T_END = 2.0


def growth(t, y):
    """y' = cos(t) y: the solution y0 exp(sin t) is known and depends on t."""
    return torch.cos(t) * y


def exact(t, y0=1.0):
    return y0 * torch.exp(torch.sin(torch.as_tensor(t, dtype=F64)))


def coupled(t, y):
    """A nonlinear, time-dependent system acting on the last dimension (size 2)."""
    a = torch.tensor([[-0.5, 1.0], [-1.0, -0.2]], dtype=y.dtype)
    return torch.tanh(y) @ a.T + 0.3 * torch.sin(3 * t)


def fitted_slope(hs, errors):
    """Slope of log(error) against log(h): the observed order of convergence."""
    return np.polyfit(np.log(hs), np.log(errors), 1)[0]


# ------------------------------------------------------------------------------- tableaux


@pytest.mark.parametrize("name", list(TABLEAUX))
def test_tableaux_are_consistent(name):
    tab = TABLEAUX[name]
    assert math.isclose(sum(tab.b), 1.0, abs_tol=1e-14)
    assert len(tab.a) == len(tab.c) == len(tab.b)
    for i, (c_i, row) in enumerate(zip(tab.c, tab.a, strict=True)):
        assert len(row) == i and math.isclose(sum(row), c_i, abs_tol=1e-14)


def test_dopri5_tableau_is_fsal_with_embedded_fourth_order():
    assert DOPRI5.a[-1] == DOPRI5.b[:-1] and DOPRI5.c[-1] == 1.0
    assert math.isclose(sum(DOPRI5.b_low), 1.0, abs_tol=1e-14)


@pytest.mark.parametrize(
    "step, name", [(euler_step, "euler"), (midpoint_step, "midpoint"), (rk4_step, "rk4")]
)
def test_hand_written_steps_match_their_tableau(step, name):
    y = torch.randn(4, 2, dtype=F64, generator=torch.Generator().manual_seed(0))
    t = torch.tensor(0.3, dtype=F64)
    expected = rk_step(coupled, t, y, 0.1, TABLEAUX[name])
    torch.testing.assert_close(step(coupled, t, y, 0.1), expected, rtol=0, atol=1e-15)


# ------------------------------------------------------------------------ orders of accuracy


@pytest.mark.parametrize("method, order", [("euler", 1), ("midpoint", 2), ("rk4", 4)])
def test_fixed_step_convergence_order(method, order):
    ns = [32, 64, 128, 256]
    y0 = torch.ones(1, dtype=F64)
    errors = [
        (odeint(growth, y0, torch.linspace(0, T_END, n + 1, dtype=F64), method=method)[-1]
         - exact(T_END)).abs().item()
        for n in ns
    ]
    assert abs(fitted_slope([T_END / n for n in ns], errors) - order) <= 0.2


def test_dopri5_fifth_order_solution_as_fixed_step_method():
    """Run dopri5's tableau with equal steps (no controller): the global error is O(h^5)."""
    ns = [16, 32, 64, 128]
    errors = []
    for n in ns:
        h, y = T_END / n, torch.ones(1, dtype=F64)
        for i in range(n):
            y, _, _ = dopri5_step(growth, torch.tensor(i * h, dtype=F64), y, h)
        errors.append((y - exact(T_END)).abs().item())
    assert abs(fitted_slope([T_END / n for n in ns], errors) - 5) <= 0.2


def test_dopri5_error_estimate_has_local_order_five():
    """One step from t = 0: the estimate (5th minus 4th order solution) shrinks like h^5."""
    hs = [0.2, 0.1, 0.05, 0.025]
    y0 = torch.ones(1, dtype=F64)
    t0 = torch.tensor(0.0, dtype=F64)
    estimates = [dopri5_step(growth, t0, y0, h)[1].abs().item() for h in hs]
    true_local = [(dopri5_step(growth, t0, y0, h)[0] - exact(h)).abs().item() for h in hs]
    assert abs(fitted_slope(hs, estimates) - 5) <= 0.2
    assert abs(fitted_slope(hs, true_local) - 6) <= 0.3  # 5th order: local error O(h^6)


def test_dopri5_error_follows_tolerance_and_nfe_grows():
    t = torch.linspace(0, T_END, 5, dtype=F64)
    y0 = torch.ones(1, dtype=F64)
    nfes = []
    for tol in [1e-4, 1e-7, 1e-10]:
        f = CountNFE(growth)
        error = (odeint(f, y0, t, rtol=tol, atol=tol)[:, 0] - exact(t)).abs().max().item()
        assert error <= 10 * tol
        nfes.append(f.nfe)
    assert nfes[0] < nfes[1] < nfes[2]


# ------------------------------------------------------------------------------ torchdiffeq


@pytest.mark.parametrize("step_size", [None, 0.05])
@pytest.mark.parametrize("method", ["euler", "midpoint"])
def test_fixed_steps_match_torchdiffeq_exactly(method, step_size):
    y0 = torch.randn(3, 2, dtype=F64, generator=torch.Generator().manual_seed(1))
    t = torch.linspace(0, 1, 6, dtype=F64)
    options = None if step_size is None else {"step_size": step_size}
    ours = odeint(coupled, y0, t, method=method, step_size=step_size)
    theirs = torchdiffeq.odeint(coupled, y0, t, method=method, options=options)
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)


def test_rk4_agrees_with_torchdiffeq_38_rule():
    """torchdiffeq's "rk4" is the 3/8 rule: a different 4th-order method, same limit."""
    y0 = torch.randn(3, 2, dtype=F64, generator=torch.Generator().manual_seed(2))
    t = torch.linspace(0, 1, 6, dtype=F64)
    ours = odeint(coupled, y0, t, method="rk4", step_size=0.01)
    theirs = torchdiffeq.odeint(coupled, y0, t, method="rk4", options={"step_size": 0.01})
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-9)


@pytest.mark.parametrize("rtol, atol", [(1e-7, 1e-9), (1e-4, 1e-6)])
def test_dopri5_agrees_with_torchdiffeq(rtol, atol):
    y0 = torch.randn(3, 2, dtype=F64, generator=torch.Generator().manual_seed(3))
    t = torch.tensor([0.0, 0.1, 0.7, 1.5, 3.0], dtype=F64)
    ours = odeint(coupled, y0, t, rtol=rtol, atol=atol)
    theirs = torchdiffeq.odeint(coupled, y0, t, rtol=rtol, atol=atol)
    reference = torchdiffeq.odeint(coupled, y0, t, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=200 * (atol + rtol))
    torch.testing.assert_close(ours, reference, rtol=0, atol=100 * (atol + rtol))


# ------------------------------------------------------------------------------------- NFE


@pytest.mark.parametrize("method, per_step", [("euler", 1), ("midpoint", 2), ("rk4", 4)])
def test_fixed_step_nfe(method, per_step):
    f = CountNFE(growth)
    t = torch.tensor([0.0, 0.5, 1.0], dtype=F64)
    odeint(f, torch.ones(1, dtype=F64), t, method=method)
    assert f.reset() == 2 * per_step and f.nfe == 0
    odeint(f, torch.ones(1, dtype=F64), t, method=method, step_size=0.1)
    assert f.nfe == 10 * per_step


def test_dopri5_nfe_uses_fsal():
    """Constant state: the error is 0, so a first step of 0.1 grows 10x: 2 steps to t = 1.

    1 evaluation at t0, then 6 per step thanks to FSAL (7 stages, the last reused).
    """
    f = CountNFE(lambda t, y: torch.zeros_like(y))
    odeint(f, torch.ones(2, dtype=F64), torch.tensor([0.0, 1.0], dtype=F64), first_step=0.1)
    assert f.nfe == 1 + 6 * 2
    f.reset()
    odeint(f, torch.ones(1, dtype=F64), torch.linspace(0, T_END, 5, dtype=F64))
    assert f.nfe > 2 and (f.nfe - 2) % 6 == 0  # plus 1 for the initial step heuristic


# ---------------------------------------------------------------------------------- errors


def nan_after_half(t, y):
    return y * (torch.nan if t > 0.5 else 1.0)


def test_nan_state_names_the_time_fixed_step():
    with pytest.raises(ODESolverError, match=r"non-finite.*t=0\.6"):
        odeint(nan_after_half, torch.ones(3, dtype=F64), torch.linspace(0, 1, 11, dtype=F64),
               method="rk4")


def test_nan_dynamics_stop_dopri5_at_the_time():
    with pytest.raises(ODESolverError, match=r"underflow.*t=0\.5.*non-finite"):
        odeint(nan_after_half, torch.ones(3, dtype=F64), torch.tensor([0.0, 1.0], dtype=F64))


def test_nan_initial_state():
    with pytest.raises(ODESolverError, match=r"non-finite.*t=0\b"):
        odeint(growth, torch.tensor([1.0, math.nan], dtype=F64), torch.tensor([0.0, 1.0]))


def test_step_size_underflow_at_blow_up():
    """y' = y^2, y(0) = 1 blows up at t = 1: the steps shrink until they underflow there."""
    with pytest.raises(ODESolverError, match=r"underflow.*t=1\b"):
        odeint(lambda t, y: y**2, torch.ones(1, dtype=F64), torch.tensor([0.0, 2.0], dtype=F64))


def test_max_steps():
    t = torch.tensor([0.0, 10.0], dtype=F64)
    with pytest.raises(ODESolverError, match=r"max_steps=5 at t="):
        odeint(coupled, torch.ones(2, dtype=F64), t, max_steps=5)
    with pytest.raises(ODESolverError, match=r"max_steps=100"):
        odeint(coupled, torch.ones(2, dtype=F64), t, method="euler", step_size=0.01, max_steps=100)


def test_bad_arguments():
    y0 = torch.ones(2, dtype=F64)
    with pytest.raises(ValueError, match="unknown method"):
        odeint(coupled, y0, torch.tensor([0.0, 1.0]), method="rk45")
    with pytest.raises(ValueError, match="strictly"):
        odeint(coupled, y0, torch.tensor([0.0, 1.0, 0.5]))
    with pytest.raises(ValueError, match="step_size"):
        odeint(coupled, y0, torch.tensor([0.0, 1.0]), method="rk4", step_size=0.0)
    with pytest.raises(TypeError, match="floating"):
        odeint(coupled, torch.ones(2, dtype=torch.long), torch.tensor([0.0, 1.0]))


# ------------------------------------------------------------ shapes, directions, autograd


@pytest.mark.parametrize("method", ["euler", "midpoint", "rk4", "dopri5"])
def test_any_shape_and_batches(method):
    y0 = torch.randn(5, 3, 2, generator=torch.Generator().manual_seed(4))  # float32
    t = torch.tensor([0.0, 0.25, 1.0])
    ys = odeint(coupled, y0, t, method=method, rtol=1e-5, atol=1e-6)
    assert ys.shape == (3, 5, 3, 2) and ys.dtype == torch.float32
    assert torch.equal(ys[0], y0)
    one = odeint(coupled, y0[2, 1], t, method=method, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ys[:, 2, 1], one, rtol=0, atol=1e-4)


def test_single_time_returns_initial_state():
    y0 = torch.randn(4, 2)
    assert torch.equal(odeint(coupled, y0, torch.tensor([0.3])), y0[None])


@pytest.mark.parametrize("method", ["rk4", "dopri5"])
def test_backward_in_time(method):
    t = torch.tensor([T_END, 1.0, 0.0], dtype=F64)
    ys = odeint(growth, exact(T_END).reshape(1), t, method=method, step_size=0.01 if
                method == "rk4" else None)
    torch.testing.assert_close(ys[:, 0], exact(t), rtol=1e-7, atol=0)


@pytest.mark.parametrize("method", ["rk4", "dopri5"])
def test_autograd_through_the_solver(method):
    """y' = k y: dy(T)/dy0 = exp(kT) and dy(T)/dk = T y0 exp(kT)."""
    k = torch.tensor(-0.7, dtype=F64, requires_grad=True)
    y0 = torch.tensor([1.5], dtype=F64, requires_grad=True)
    ys = odeint(lambda t, y: k * y, y0, torch.tensor([0.0, 1.0, T_END], dtype=F64),
                method=method, step_size=0.01 if method == "rk4" else None)
    ys[-1].sum().backward()
    expected = math.exp(-0.7 * T_END)
    assert math.isclose(y0.grad.item(), expected, rel_tol=1e-6)
    assert math.isclose(k.grad.item(), T_END * 1.5 * expected, rel_tol=1e-6)


def test_gradcheck_fixed_step():
    def solve(y0, a):
        return odeint(lambda t, y: torch.tanh(y @ a) + torch.sin(t), y0,
                      torch.tensor([0.0, 0.3, 0.6], dtype=F64), method="rk4", step_size=0.1)

    gen = torch.Generator().manual_seed(5)
    y0 = torch.randn(2, 3, dtype=F64, generator=gen, requires_grad=True)
    a = torch.randn(3, 3, dtype=F64, generator=gen, requires_grad=True)
    assert torch.autograd.gradcheck(solve, (y0, a))
