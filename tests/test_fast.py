"""10_fast_neural_odes: the regularised ODE block and the accurate re-solve."""

import math

import numpy as np
import pytest
import torch
import torchdiffeq
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


class Tanh(nn.Module):
    """f(t, h) = tanh(h W): nonlinear, so the Jacobian penalty depends on the state."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(size, size, dtype=torch.float64) / size**0.5)

    def forward(self, t, h):
        return torch.tanh(h @ self.w)


def test_adjoint_gradients_equal_backprop_behind_a_trainable_stem():
    """The block's input requires grad (a stem before it), as in every real model."""
    grads = {}
    for adjoint in (False, True):
        torch.manual_seed(0)
        stem = nn.Linear(3, 4).double()
        block = fast.RegularisedODEBlock(Tanh(4), kinetic=0.5, jacobian=0.5, method="dopri5",
                                         rtol=1e-9, atol=1e-9, adjoint=adjoint)
        x = torch.randn(6, 3, dtype=torch.float64)
        torch.manual_seed(1)  # the same Hutchinson vectors in both runs
        (block(stem(x)).pow(2).sum() + block.penalty).backward()
        grads[adjoint] = [p.grad for p in (*stem.parameters(), *block.parameters())]
    assert all(g is not None for g in grads[True])
    for a, b in zip(grads[False], grads[True], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)


def test_kinetic_energy_alone_computes_no_vector_jacobian_product(monkeypatch):
    """Jacobian weight 0: the same penalty and gradients as with the product computed and
    weighted 0, without paying for it."""
    results = []
    for skip in (False, True):
        torch.manual_seed(0)
        block = fast.RegularisedODEBlock(Tanh(4), kinetic=0.5, jacobian=0.0, method="rk4",
                                         options={"step_size": 0.25})
        if not skip:  # the product computed (a tiny weight), its share then taken out
            block.jacobian = 1e-300
        x = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
        if skip:
            monkeypatch.setattr(torch.autograd, "grad", lambda *a, **k: pytest.fail("a VJP"))
        (block(x).sum() + block.penalty).backward()
        monkeypatch.undo()
        results.append((block.penalty.detach(), x.grad, block.func.func.w.grad))
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b)


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


def test_stratified_subset_keeps_class_shares_and_is_seeded():
    labels = np.array([0] * 600 + [4] * 380 + [1] * 15 + [2] * 5)  # ordered by record
    picked = fast.stratified_subset(labels, 100, seed=0)
    assert len(picked) == 100 and len(set(picked.tolist())) == 100
    assert np.all(np.diff(picked) > 0)  # sorted indices
    assert np.bincount(labels[picked], minlength=5).tolist() == [60, 2, 0, 0, 38]  # 1.5, 0.5
    assert not np.array_equal(picked, np.arange(100))  # not the first beats
    assert np.array_equal(picked, fast.stratified_subset(labels, 100, seed=0))
    assert not np.array_equal(picked, fast.stratified_subset(labels, 100, seed=1))
    assert np.array_equal(fast.stratified_subset(labels, 5000), np.arange(1000))
    assert len(fast.stratified_subset(torch.from_numpy(labels), 7, seed=3)) == 7


@pytest.mark.parametrize("tol", [1e-1, 1e-3, 1e-5, 1e-7])
def test_dopri5_takes_two_evaluations_then_six_per_step(tol):
    calls = [0]

    def f(t, y):
        calls[0] += 1
        return torch.stack([y[1], -y[0]])  # a rotation: more steps at tighter tolerances

    torchdiffeq.odeint(f, torch.tensor([1.0, 0.0], dtype=torch.float64),
                       torch.tensor([0.0, 3.0], dtype=torch.float64), rtol=tol, atol=tol)
    steps = fast.dopri5_steps(calls[0])
    assert steps == int(steps) >= 1
    assert fast.dopri5_steps(20) == 3
    with pytest.raises(ValueError):
        fast.dopri5_steps(1)


def test_benchmark_table_marks_a_spread_not_measured():
    """One seed measures no spread: the table says "—", never "± 0.00"."""
    row = {"name": "x", "nfe_forward": 4.0, "nfe_backward": 0.0, "train_step_ms": 50.0,
           "seconds_per_epoch": 30.0, "eval_test_seconds": 2.0, "peak_memory_mb": 10.0,
           "test_accuracy_mean": 0.97, "test_accuracy_std": None, "seeds": 1, "epochs": 5.0,
           "resolve_accuracy_mean": 0.95, "resolve_drop_mean": 2.0, "train_ratio": 0.7,
           "eval_ratio": 0.8}
    lines = fast.benchmark_table([row, {**row, "seeds": 3, "test_accuracy_std": 0.001}],
                                 "resnet").splitlines()
    assert len(lines) == 4 and all(line.count("|") == 11 for line in lines)
    assert "97.00 ± — (1 × 5)" in lines[2] and "95.00 (+2.00)" in lines[2]
    assert "97.00 ± 0.10 (3 × 5)" in lines[3]


GOAL_ROW = {"name": "heun3", "nfe_forward": 3.0, "train_ratio": 0.7, "eval_ratio": 0.75,
            "accuracy_gap_pp": 0.1, "resolve_drop_mean": 0.2, "resolve_seeds": 3, "seeds": 3,
            "epochs": 5.0}


@pytest.mark.parametrize(("change", "failed"), [
    ({}, None),
    ({"train_ratio": 0.81}, "faster to train"),
    ({"eval_ratio": 0.9}, "faster to evaluate"),
    ({"accuracy_gap_pp": 0.31}, "as accurate"),
    ({"accuracy_gap_pp": -0.5}, None),  # more accurate than the ResNet is fine
    ({"resolve_drop_mean": 2.1}, "still an ODE"),
    ({"resolve_drop_mean": None}, "still an ODE"),  # never re-solved: not shown to be an ODE
    ({"resolve_seeds": 1}, "still an ODE"),  # seed 0 re-solved only, the old mistake
    ({"seeds": 1, "resolve_seeds": 1}, "enough evidence"),
    ({"epochs": 1.0}, "enough evidence"),
])
def test_goal_names_the_part_a_row_misses(change, failed):
    parts = fast.goal_parts({**GOAL_ROW, **change})
    assert [name for name, ok in parts.items() if not ok] == ([failed] if failed else [])
    assert fast.meets_goal({**GOAL_ROW, **change}) is (failed is None)


def test_the_resnet_never_meets_the_neural_ode_goal():
    assert not fast.meets_goal({**GOAL_ROW, "name": "resnet", "nfe_forward": None,
                                "train_ratio": 1.0, "eval_ratio": 1.0, "accuracy_gap_pp": 0.0})
    assert not fast.meets_goal({**GOAL_ROW, "nfe_forward": None})


def test_goal_table_marks_each_part_and_lists_every_seeds_drop():
    rows = [{"name": "resnet", "nfe_forward": None},
            {**GOAL_ROW, "resolve_drops_pp": [0.1, 0.2, 0.3]},
            {**GOAL_ROW, "name": "midpoint", "resolve_drop_mean": 2.1,
             "resolve_drops_pp": [2.0, 2.1, 2.2]},
            {**GOAL_ROW, "name": "dopri5", "seeds": 1, "resolve_drop_mean": None}]
    lines = fast.goal_table(rows).splitlines()
    assert len(lines) == 5 and all(line.count("|") == 8 for line in lines)  # no ResNet row
    assert "+0.20 (+0.10, +0.20, +0.30) ✓" in lines[2] and lines[2].endswith("**met** |")
    assert "+2.10 (+2.00, +2.10, +2.20) ✗" in lines[3] and lines[3].endswith("missed |")
    assert "| — ✗ | 1 × 5 ✗ | missed |" in lines[4]


def test_op_shares_puts_each_operator_in_its_category():
    x = torch.randn(16, 8, 64)
    conv, norm = nn.Conv1d(8, 8, 3, padding=1), nn.GroupNorm(4, 8)
    heavy_conv = nn.Conv1d(8, 8, 31, padding=15)
    with torch.no_grad():
        convs = fast.op_shares(lambda: heavy_conv(x), repeats=2)
        norms = fast.op_shares(lambda: [norm(x) for _ in range(20)], repeats=2)
        matmuls = fast.op_shares(lambda: x.flatten(1) @ torch.randn(512, 512), repeats=2)
        both = fast.op_shares(lambda: norm(conv(x)), repeats=2)
    for shares in (convs, norms, matmuls, both):
        assert set(shares) == {"convolutions", "GroupNorm", "other"}
        assert math.isclose(sum(shares.values()), 1.0)
    assert convs["convolutions"] > 0.5 and convs["GroupNorm"] == 0
    assert norms["GroupNorm"] > 0.5 and norms["convolutions"] == 0
    assert matmuls["other"] == 1.0
    assert both["convolutions"] > 0 and both["GroupNorm"] > 0
    with pytest.raises(ValueError, match="no operator"):
        fast.op_shares(lambda: None)


def test_select_rows_keeps_the_named_rows_and_the_baseline_with_the_seeds_asked():
    rows = [fast.Row(name, lambda: nn.Identity(), seeds=3) for name in ("resnet", "a", "b")]
    assert [r.name for r in fast.select_rows(rows, [], None)] == ["resnet", "a", "b"]
    chosen = fast.select_rows(rows, ["b"], 1)
    assert [(r.name, r.seeds) for r in chosen] == [("resnet", 1), ("b", 1)]
    assert [r.seeds for r in fast.select_rows(rows, ["a"], None)] == [3, 3]
