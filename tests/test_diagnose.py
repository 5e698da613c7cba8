"""nodebook_utils.diagnose: known answers, each symptom on a constructed case and not on a
healthy model, the model left unchanged, clear errors (11_when_neural_odes_go_wrong)."""

import json
import math

import pytest
import torch
import torchdiffeq
from torch import nn

from nodebook_utils import diagnose as dg
from nodebook_utils.models import ODEBlock
from nodebook_utils.solvers import (
    DOPRI5,
    EULER,
    MIDPOINT,
    RK4,
    stability_limit,
    stability_radius,
)


class Linear(nn.Module):
    """``dy/dt = A y`` with ``A = Q diag(eigenvalues) Q^T``: its eigenvalues are known."""

    def __init__(self, eigenvalues: list[float], seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        q = torch.linalg.qr(torch.randn(len(eigenvalues), len(eigenvalues), generator=g))[0]
        self.A = nn.Parameter(q @ torch.diag(torch.tensor(eigenvalues)) @ q.T)

    def forward(self, t, y):
        return y @ self.A.T


class Square(nn.Module):
    """``dy/dt = y^2`` from 2 blows up at t = 0.5."""

    def forward(self, t, y):
        return y * y


class MLP(nn.Module):
    def __init__(self, d: int, width: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d, width), nn.Tanh(), nn.Linear(width, d))

    def forward(self, t, y):
        return self.net(y)


class PlainODE(nn.Module):
    """A module that calls torchdiffeq itself, as many users' models do."""

    def __init__(self, adjoint: bool = False) -> None:
        super().__init__()
        self.func = Linear([-1.0, -2.0, -3.0, -4.0])
        self.adjoint = adjoint

    def forward(self, x):
        solve = torchdiffeq.odeint_adjoint if self.adjoint else torchdiffeq.odeint
        return solve(self.func, x, torch.tensor([0.0, 1.0]), rtol=1e-3, atol=1e-3)[-1]


def symptoms(d: dg.Diagnosis) -> set[str]:
    return {f.symptom.split(" (")[0] for f in d.findings}


def block(eigenvalues, **solver):
    return nn.Sequential(ODEBlock(Linear(eigenvalues), **solver))


X = torch.randn(16, 4, generator=torch.Generator().manual_seed(1))


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_stability_limits_are_the_textbook_values():
    assert stability_limit(EULER) == pytest.approx(2.0, abs=1e-6)
    assert stability_limit(MIDPOINT) == pytest.approx(2.0, abs=1e-6)
    assert stability_limit(RK4) == pytest.approx(2.7853, abs=1e-4)
    assert stability_limit(DOPRI5) == pytest.approx(3.3066, abs=1e-3)
    # on the imaginary axis RK4 reaches 2*sqrt(2), Euler nothing
    assert stability_radius(RK4, math.pi / 2) == pytest.approx(2 * math.sqrt(2), abs=1e-4)
    assert stability_radius(EULER, math.pi / 2 + 1e-6) < 1e-4
    assert stability_limit(dg.method_tableau("dopri5")) == pytest.approx(stability_limit(DOPRI5))
    for third_order in ("heun3", "bosh3"):  # every 3-stage 3rd-order method: 2.5127
        assert stability_limit(dg.method_tableau(third_order)) == pytest.approx(2.5127, abs=1e-3)
    assert dg.method_tableau("implicit_adams") is None


def test_stability_ratio_depends_on_the_direction():
    # the same |h lam| = 1: inside Euler's interval on the real axis, outside it for a mode
    # that oscillates (the spiral's eigenvalues are -0.1 +- 2i)
    assert dg.stability_ratio("euler", complex(-1.0, 0.0)) == pytest.approx(0.5, abs=1e-3)
    assert dg.stability_ratio("euler", 0.5 * complex(-0.1, 2.0)) > 1
    assert dg.stability_ratio("rk4", 0.5 * complex(-0.1, 2.0)) < 1
    assert dg.stability_ratio("euler", complex(0.5, 0.1)) is None  # a growing mode


@pytest.mark.parametrize("eigenvalues", [[-1.0, -3.0, -10.0, -60.0], [-0.5, 2.0, -7.0, 1.0]])
def test_dominant_real_eigenvalue_within_10_percent(eigenvalues):
    lam = dg.dominant_eigenvalue(Linear(eigenvalues), torch.tensor(0.0), X)
    want = max(eigenvalues, key=abs)
    assert lam.real == pytest.approx(want, rel=0.1)
    assert abs(lam.imag) < 0.1 * abs(want)


def test_dominant_complex_pair_of_a_non_normal_matrix():
    func = nn.Linear(2, 2, bias=False)
    with torch.no_grad():  # eigenvalues -1 +- 8i, singular values 20 and 3.2
        func.weight.copy_(torch.tensor([[-1.0, 20.0], [-3.2, -1.0]]))
    lam = dg.dominant_eigenvalue(lambda t, y: func(y), torch.tensor(0.0), torch.randn(8, 2))
    assert abs(lam) == pytest.approx(math.hypot(1, 8), rel=0.1)
    assert lam.real == pytest.approx(-1.0, abs=0.5)
    assert abs(lam.imag) == pytest.approx(8.0, rel=0.1)


@pytest.mark.parametrize("adjoint", [False, True])
def test_nfe_equals_torchdiffeqs_own_count(adjoint):
    model = block([-1.0, -2.0, -5.0, -20.0], rtol=1e-4, atol=1e-4, adjoint=adjoint)
    ode = model[0]
    ode.reset_nfe()
    model(X).pow(2).mean().backward()  # the count the course's CountNFE makes
    forward_backward = ode.reset_nfe()
    model.zero_grad()
    ode.reset_nfe()
    out = model(X)
    forward = ode.reset_nfe()
    out.pow(2).mean().backward()
    backward = ode.reset_nfe()
    assert forward + backward == forward_backward
    d = dg.diagnose(model, X, memory=False, compare_gradients=False)
    report = d.blocks[0]
    assert (report.nfe_forward, report.nfe_backward) == (forward, backward)
    assert report.nfe_backward > 0 if adjoint else report.nfe_backward == 0
    # dopri5: 2 evaluations to choose the first step, then 6 per step (first same as last)
    assert forward == 2 + 6 * (report.steps_accepted + report.steps_rejected)


def test_a_module_calling_torchdiffeq_itself_is_seen():
    model = nn.Sequential(nn.Linear(4, 4), PlainODE(adjoint=True), nn.Linear(4, 3))
    counted = []
    func = model[1].func
    hook = func.register_forward_hook(lambda *_: counted.append(1))
    model(X).pow(2).mean().backward()
    hook.remove()
    d = dg.diagnose(model, X, memory=False)
    assert [b.name for b in d.blocks] == ["1"]
    assert d.blocks[0].adjoint is None  # not switchable from outside
    assert d.blocks[0].nfe_forward + d.blocks[0].nfe_backward == len(counted)
    assert d.gradient_method is None and d.gradient_relative_error is None
    json.dumps(d.to_dict())


def test_the_model_is_left_as_it_was():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.1),
                          ODEBlock(MLP(8, 16)), nn.Linear(8, 3))
    model(torch.randn(32, 4))  # BatchNorm statistics that a training step would change
    model.eval()
    model[0].train()  # a mixed mode must come back mixed
    model[4].weight.grad = torch.ones_like(model[4].weight)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    modes = [m.training for m in model.modules()]
    nfe = model[3].nfe
    batch = (torch.randn(32, 4), torch.randint(0, 3, (32,)))
    rng = torch.get_rng_state()
    d = dg.diagnose(model, batch)
    assert d.loss is not None and d.memory
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert [m.training for m in model.modules()] == modes
    assert torch.equal(model[4].weight.grad, torch.ones_like(model[4].weight))
    assert model[0].weight.grad is None
    assert model[3].nfe == nfe
    assert torch.equal(torch.get_rng_state(), rng)


def test_a_healthy_model_has_no_findings():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 64), ODEBlock(MLP(64, 1024)), nn.Linear(64, 10))
    batch = (torch.randn(1024, 16), torch.randint(0, 10, (1024,)))
    d = dg.diagnose(model, batch, memory=False)
    assert d.findings == [], str(d)
    report = d.blocks[0]
    assert report.stiffness_ratio() < 0.5
    assert d.gradient_relative_error < 1e-2
    assert d.output_change < 1e-3
    assert d.predictions_changed == 0


def test_stiffness_is_found_on_a_stiff_system_only():
    stiff = dg.diagnose(block([-1.0, -2.0, -3.0, -100.0], rtol=1e-2, atol=1e-2), X,
                        memory=False)
    assert "stiff: stability, not accuracy, sets the step size" in symptoms(stiff)
    assert max(stiff.blocks[0].spectral_radii) == pytest.approx(100, rel=0.1)
    # going backward in time the same dynamics expand: the adjoint cannot reconstruct them
    assert "the step fails with the adjoint" in symptoms(stiff)
    mild = dg.diagnose(block([-1.0, -2.0, -3.0, -4.0], rtol=1e-2, atol=1e-2), X, memory=False)
    assert not symptoms(mild) & {"stiff: stability, not accuracy, sets the step size",
                                 "the step fails with the adjoint"}


def test_an_unstable_fixed_step_and_a_model_that_is_no_ode():
    d = dg.diagnose(block([-30.0, -1.0, -2.0, -3.0], method="euler",
                          options={"step_size": 0.1}), X, memory=False)
    assert {"unstable fixed step", "not an ODE any more"} <= symptoms(d)
    ok = dg.diagnose(block([-5.0, -1.0, -2.0, -3.0], method="euler",
                           options={"step_size": 0.02}), X, memory=False)
    assert not symptoms(ok) & {"unstable fixed step", "not an ODE any more"}
    # the spiral's field (eigenvalues -0.1 +- 2i): |h lam| = 1 is inside Euler's real interval
    # but outside its region for an oscillating mode
    spiral = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        spiral.weight.copy_(torch.tensor([[-0.1, 2.0], [-2.0, -0.1]]))
    field = type("Field", (nn.Module,), {"forward": lambda self, t, y: spiral(y)})()
    field.spiral = spiral
    d = dg.diagnose(nn.Sequential(ODEBlock(field, method="euler", options={"step_size": 0.5})),
                    torch.randn(8, 2), memory=False)
    assert "unstable fixed step" in symptoms(d)
    assert max(d.blocks[0].rho_h) == pytest.approx(0.5 * math.hypot(0.1, 2), rel=0.05)


def test_a_blow_up_is_reported_not_raised():
    d = dg.diagnose(nn.Sequential(ODEBlock(Square())), torch.full((4, 4), 2.0), memory=False)
    assert d.failure.startswith("underflow in dt")
    assert {"the solve failed", "the state grows fast", "many rejected steps"} <= symptoms(d)
    assert d.blocks[0].smallest_step < 1e-10
    assert "underflow in dt" in str(d) and "underflow in dt" in d._repr_html_()


def test_growth_many_steps_and_implicit_adams():
    grows = dg.diagnose(block([6.0, 1.0, 2.0, 3.0]), X, memory=False)
    assert "the state grows fast" in symptoms(grows)
    many = dg.diagnose(block([-1.0, -2.0, -3.0, -60.0], rtol=1e-4, atol=1e-4), X, memory=False)
    assert "many steps" in symptoms(many)
    adams = dg.diagnose(block([-60.0, -1.0, -2.0, -3.0], method="implicit_adams",
                              options={"step_size": 0.1}), X, memory=False)
    assert "implicit Adams did not converge" in symptoms(adams)
    calm = dg.diagnose(block([-1.0, -2.0, -3.0, -4.0], method="implicit_adams",
                             options={"step_size": 0.1}), X, memory=False)
    assert "implicit Adams did not converge" not in symptoms(calm)


def test_adjoint_against_backprop():
    model = nn.Sequential(nn.Linear(4, 64), ODEBlock(MLP(64, 64), adjoint=True),
                          nn.Linear(64, 3))
    d = dg.diagnose(model, (X, torch.randint(0, 3, (16,))))
    assert d.gradient_method == "adjoint"
    assert d.gradient_relative_error < 1e-2
    assert set(d.memory) == {"adjoint", "backprop"}
    assert d.memory["adjoint"]["saved_mib"] < d.memory["backprop"]["saved_mib"]
    slow = d.step_seconds / d.other_step_seconds > dg.Rules().adjoint_slowdown
    assert ("the adjoint is slower than backprop" in symptoms(d)) == slow
    always = dg.diagnose(model, X, memory=False, rules=dg.Rules(adjoint_slowdown=0.0))
    assert "the adjoint is slower than backprop" in symptoms(always)
    wrong = dg.diagnose(model, X, memory=False, rules=dg.Rules(gradient_error=0.0))
    assert "adjoint gradients differ from backprop's" in symptoms(wrong)


def test_solver_overhead_is_measured():
    tiny = dg.diagnose(block([-1.0, -2.0, -3.0, -4.0]), X, memory=False)
    report = tiny.blocks[0]
    assert 0 < report.dynamics_seconds < report.solve_seconds
    assert ("the solver's overhead dominates" in symptoms(tiny)) == (
        report.overhead_share > dg.Rules().overhead_share)


def test_report_forms():
    d = dg.diagnose(block([-1.0, -2.0, -3.0, -60.0], rtol=1e-4, atol=1e-4), X, memory=False)
    data = json.loads(json.dumps(d.to_dict()))
    assert data["blocks"][0]["nfe_forward"] == d.blocks[0].nfe_forward
    assert "Findings:" in str(d) and "<table>" in d._repr_html_()
    ax = d.plot_steps()
    assert ax.get_yscale() == "log"
    assert len(ax.get_lines()) == 2  # accepted and rejected steps


def test_bad_input_gets_a_clear_error():
    with pytest.raises(ValueError, match="made no ODE solve"):
        dg.diagnose(nn.Sequential(nn.Linear(4, 3)), X)
    with pytest.raises(ValueError, match=r"could not run on the batch \(input shape \(16, 5\)\)"):
        dg.diagnose(nn.Sequential(nn.Linear(4, 4), ODEBlock(MLP(4, 8))), torch.randn(16, 5))
    with pytest.raises(TypeError, match="pair"):
        dg.diagnose(block([-1.0, -2.0, -3.0, -4.0]), [X, X, X])
    with pytest.raises(TypeError, match="torch.nn.Module"):
        dg.diagnose(lambda x: x, X)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_diagnose_on_cuda():
    model = nn.Sequential(nn.Linear(4, 16), ODEBlock(MLP(16, 32)), nn.Linear(16, 3)).cuda()
    batch = (X.cuda(), torch.randint(0, 3, (16,), device="cuda"))
    d = dg.diagnose(model, batch)
    assert d.device.startswith("cuda") and d.memory["backprop"]["peak_mib"] > 0
    assert d.blocks[0].nfe_forward > 0 and d.gradient_relative_error < 1e-2
    json.dumps(d.to_dict())
