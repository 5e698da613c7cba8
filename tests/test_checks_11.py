"""Checkers of 11_when_neural_odes_go_wrong: a correct answer passes, and the wrong answers a
learner would give fail with their own hint."""

import torch
from torch import nn

from nodebook_utils import checks, data
from nodebook_utils import diagnose as dg
from nodebook_utils.models import ODEBlock


def lines(capsys):
    return capsys.readouterr().out.splitlines()


def test_stable_steps(capsys):
    assert checks.check_stable_steps("ex", 15, lam=40, method="rk4")  # 40 / 2.785 = 14.4
    assert checks.check_stable_steps("ex", 20, lam=40, method="euler")
    wrong = {14: "round up", 40: "stability_limit", 20: "answer for euler", 11: "outside",
             30: "fewer are too", None: "no answer", "15": "whole number", 15.5: "whole number"}
    for answer, hint in wrong.items():
        assert not checks.check_stable_steps("ex", answer, lam=40, method="rk4")
        assert hint in lines(capsys)[-1], answer


def power_iteration(func, t, y, iterations=60, *, mode="mean"):
    v = torch.randn_like(y)
    v = v / v.norm()
    y = y.detach().requires_grad_(True)
    f = func(t, y)
    logs, rayleigh = [], None
    for _ in range(iterations):
        (w,) = torch.autograd.grad(f, y, v, retain_graph=True)
        rayleigh = (v * w).sum()
        if mode == "unnormalised":
            v = w
            continue
        logs.append(w.norm().log())
        v = w / w.norm()
    if mode == "unnormalised":
        return v.norm() ** (1 / iterations)
    if mode == "last":
        return logs[-1].exp()
    if mode == "rayleigh":
        return rayleigh
    return torch.stack(logs[iterations // 2:]).mean().exp()


def test_spectral_radius(capsys):
    assert checks.check_spectral_radius("ex", power_iteration)
    assert lines(capsys) == ["PASS ex"]
    wrong = {"last": "geometric mean", "rayleigh": "geometric mean",
             "unnormalised": "normalise the vector"}
    for mode, hint in wrong.items():
        assert not checks.check_spectral_radius(
            "ex", lambda f, t, y, mode=mode: power_iteration(f, t, y, mode=mode))
        assert hint in lines(capsys)[-1], mode

    def singular(func, t, y):  # the norm of the Jacobian, not its eigenvalues
        y = y.detach().requires_grad_(True)
        jac = torch.autograd.functional.jacobian(lambda v: func(t, v[None])[0], y[0])
        return torch.linalg.matrix_norm(jac, ord=2)

    assert not checks.check_spectral_radius("ex", singular)
    assert "singular value" in lines(capsys)[-1]
    assert not checks.check_spectral_radius(
        "ex", lambda f, t, y: abs(dg.dominant_eigenvalue(f, t, y)))
    assert "write the power iteration yourself" in lines(capsys)[-1]


class SpiralField(nn.Module):
    def forward(self, t, y):
        return data.spiral_field(y)


def spiral(method, steps, field=None):
    return ODEBlock(field or SpiralField(), 0.0, 25.0, method=method,
                    options={"step_size": 25 / steps})


def test_repaired_spiral(capsys):
    assert checks.check_repaired_spiral("ex", spiral("rk4", 25))
    assert checks.check_repaired_spiral("ex", spiral("rk4", 50))
    assert lines(capsys) == ["PASS ex", "PASS ex"]

    class Faster(nn.Module):  # changes the system instead of the solver
        def forward(self, t, y):
            return 0.1 * data.spiral_field(y)

    wrong = [(spiral("euler", 25), "unstable"), (spiral("rk4", 10), "unstable"),
             (spiral("euler", 500), "over the budget"),
             (ODEBlock(SpiralField(), 0.0, 25.0), "not a fixed-step method"),
             (spiral("rk4", 25, Faster()), "stay the spiral's"),
             (ODEBlock(SpiralField(), 0.0, 5.0, method="rk4"), "span [0, 25]"),
             (nn.Sequential(spiral("rk4", 25)), "pass the ODEBlock itself"), (None, "no answer")]
    for model, hint in wrong:
        assert not checks.check_repaired_spiral("ex", model)
        assert hint in lines(capsys)[-1], hint
