"""10_fast_neural_odes: the regularised ODE block and the accurate re-solve."""

import math

import pytest
import torch
from torch import nn

from nodebook_utils import fast, models
from nodebook_utils.models import ODEBlock


class Linear(nn.Module):
    """f(t, h) = a h: kinetic energy and Jacobian norm have closed forms."""

    def __init__(self, a: float) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.tensor(a, dtype=torch.float64))

    def forward(self, t, h):
        return self.a * h


@pytest.mark.parametrize("adjoint", [False, True])
def test_penalties_of_a_linear_ode_have_their_closed_forms(adjoint):
    torch.manual_seed(0)
    a, n, size = 0.7, 4000, 3
    block = fast.RegularisedODEBlock(Linear(a), kinetic=1.0, jacobian=0.0, method="dopri5",
                                     rtol=1e-8, atol=1e-8, adjoint=adjoint)
    x = torch.randn(n, size, dtype=torch.float64)
    out = block(x)
    torch.testing.assert_close(out, x * math.exp(a))  # the state is solved as before
    # kinetic: mean over samples of (1/size) ∫ a² |x|² e^{2at} dt
    kinetic = (a**2 * x.pow(2).sum(1) / size * (math.exp(2 * a) - 1) / (2 * a)).mean()
    torch.testing.assert_close(block.penalty, kinetic)
    block.kinetic, block.jacobian = 0.0, 1.0
    block(x)  # Jacobian a·I: |ε^T J|² / size has mean a², so its integral over [0, 1] is a²
    assert block.penalty.item() == pytest.approx(a**2, rel=0.05)
    block.penalty.backward()  # the penalty has a gradient for the parameters
    assert block.func.func.a.grad is not None and block.func.func.a.grad.item() > 0


def test_in_evaluation_the_block_is_a_plain_ode_block():
    torch.manual_seed(0)
    plain = ODEBlock(Linear(0.3), method="rk4", options={"step_size": 0.25})
    regular = fast.RegularisedODEBlock(Linear(0.3), method="rk4", options={"step_size": 0.25})
    x = torch.randn(5, 2, dtype=torch.float64)
    regular.eval()
    torch.testing.assert_close(regular(x), plain(x))
    assert regular.penalty.item() == 0.0


def test_regularised_loss_adds_each_blocks_penalty():
    torch.manual_seed(0)
    block = fast.RegularisedODEBlock(Linear(0.5), kinetic=2.0, jacobian=0.0, method="rk4",
                                     options={"step_size": 0.5})
    model = nn.Sequential(nn.Linear(4, 4).double(), block)
    x, y = torch.randn(8, 4, dtype=torch.float64), torch.randint(0, 4, (8,))
    output = model(x)
    loss = fast.regularised_loss(model)(output, y)
    plain = nn.functional.cross_entropy(output, y)
    assert block.penalty.item() > 0
    torch.testing.assert_close(loss, plain + block.penalty)


def test_accurate_solve_swaps_the_solver_and_restores_it():
    model = models.ecg_odenet(method="rk4", step_size=1.0, adjoint=False)
    (block,) = models.ode_blocks(model)
    with fast.accurate_solve(model):
        assert (block.method, block.rtol, block.solver_kwargs) == ("dopri5", 1e-5, {})
        model.eval()
        with torch.no_grad():
            block.reset_nfe()
            model(torch.randn(2, 1, 187))
            assert block.reset_nfe() > 4  # adaptive: more than RK4's one step
    assert (block.method, block.solver_kwargs) == ("rk4", {"options": {"step_size": 1.0}})


def test_median_ms_is_the_median_of_the_timed_calls(monkeypatch):
    """A fake clock that each call advances by 1, 50, 3, 7, 20 ms (after two warm-up calls
    of 900 ms): the median is 7 ms; the maximum (50), the mean (16.2) or a time that
    counts the warm-up would fail."""
    now = [0.0]
    durations = iter([0.9, 0.9, 0.001, 0.050, 0.003, 0.007, 0.020])
    monkeypatch.setattr(fast.time, "perf_counter", lambda: now[0])

    def fn():
        now[0] += next(durations)

    assert fast.median_ms(fn, repeats=5, warmup=2) == pytest.approx(7.0)
    with pytest.raises(ValueError, match="repeats"):
        fast.median_ms(fn, repeats=0)


def test_step_profile_counts_the_evaluations_of_each_pass_and_leaves_the_weights_alone():
    torch.manual_seed(0)
    x, y = torch.randn(4, 1, 187), torch.randint(0, 5, (4,))
    rk4 = models.ecg_odenet(method="rk4", step_size=0.5, adjoint=False)
    before = [p.detach().clone() for p in rk4.parameters()]
    rk4.eval()
    profile = fast.step_profile(rk4, x, y, repeats=1)
    assert (profile["nfe_forward"], profile["nfe_backward"]) == (8, 0)  # 2 steps x 4 stages
    assert profile["step_ms"] > 0 and not rk4.training  # its mode is restored
    assert all(torch.equal(a, b) for a, b in zip(before, rk4.parameters(), strict=True))
    assert all(p.grad is None for p in rk4.parameters())
    adjoint = fast.step_profile(models.ecg_odenet(), x, y, repeats=1)  # dopri5 + adjoint
    assert adjoint["nfe_forward"] >= 8 and adjoint["nfe_backward"] > 0
    resnet = fast.step_profile(models.ecg_resnet(), x, y, repeats=1)
    assert resnet["nfe_forward"] is None and resnet["nfe_backward"] is None


def test_step_profile_leaves_batchnorm_statistics_alone():
    torch.manual_seed(0)
    model = models.mnist_odenet(method="euler", step_size=0.5, adjoint=False).eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    fast.step_profile(model, torch.randn(8, 1, 28, 28) * 2 + 1, torch.randint(0, 10, (8,)),
                      repeats=2)
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    assert all(not m.training for m in model.modules())
