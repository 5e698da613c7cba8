"""Checkers of 04_resnets_as_euler: a correct answer passes, a wrong one fails with a hint."""

import math

import numpy as np
import torch

from nodebook_utils import checks, solvers

HEUN = solvers.ButcherTableau("heun", 2, c=(0.0, 1.0), a=((), (1.0,)), b=(0.5, 0.5))


def lines(capsys):
    return capsys.readouterr().out.splitlines()


def heun_step(f, t, y, h):
    k1 = f(t, y)
    k2 = f(t + h, y + h * k1)
    return y + h / 2 * (k1 + k2)


# ------------------------------------------------------------------------------ check_rk_step


def test_check_rk_step_passes_correct_steps(capsys):
    assert checks.check_rk_step("ex", heun_step, HEUN)
    assert checks.check_rk_step("ex", solvers.rk4_step, solvers.RK4)
    assert checks.check_rk_step("ex", solvers.midpoint_step, solvers.MIDPOINT)

    def from_tableau(f, t, y, h):
        return solvers.rk_step(f, t, y, h, solvers.DOPRI5)

    assert checks.check_rk_step("ex", from_tableau, solvers.DOPRI5)

    def python_float_times(f, t, y, h):  # passing t as a float is fine too
        return heun_step(f, float(t), y, h)

    assert checks.check_rk_step("ex", python_float_times, HEUN)
    assert lines(capsys) == ["PASS ex"] * 5


def test_check_rk_step_placeholder_and_errors(capsys):
    def todo(f, t, y, h):
        raise NotImplementedError

    def nothing(f, t, y, h):
        return ...

    def broken(f, t, y, h):
        return y + h * f(t)

    def not_a_tensor(f, t, y, h):
        return "y"

    assert not checks.check_rk_step("ex", todo, HEUN)
    assert not checks.check_rk_step("ex", nothing, HEUN)
    assert not checks.check_rk_step("ex", broken, HEUN)
    assert not checks.check_rk_step("ex", not_a_tensor, HEUN)
    out = lines(capsys)
    assert out[0] == "FAIL ex: not implemented yet: replace the raise with your code"
    assert out[1].startswith("FAIL ex: your function returned nothing")
    assert out[2].startswith("FAIL ex: case") and "raised TypeError" in out[2]
    assert out[3].startswith("FAIL ex: case 0") and "return a tensor" in out[3]


def test_check_rk_step_names_the_slip(capsys):
    def euler_instead(f, t, y, h):
        return y + h * f(t, y)

    def midpoint_instead(f, t, y, h):
        return solvers.midpoint_step(f, t, y, h)

    def stages_at_t(f, t, y, h):
        k1 = f(t, y)
        k2 = f(t, y + h * k1)
        return y + h / 2 * (k1 + k2)

    def increment_only(f, t, y, h):
        return heun_step(f, t, y, h) - y

    def wrong_weights(f, t, y, h):
        k1 = f(t, y)
        k2 = f(t + h, y + h * k1)
        return y + h * (k1 + k2) / 3

    def too_many_calls(f, t, y, h):
        k2 = f(t + h, y + h * f(t, y))
        return y + h / 2 * (f(t, y) + k2)

    def flattens(f, t, y, h):
        return heun_step(f, t, y, h).reshape(-1)

    for fn in (euler_instead, midpoint_instead, stages_at_t, increment_only, wrong_weights,
               too_many_calls, flattens):
        assert not checks.check_rk_step("ex", fn, HEUN)
    euler, midpoint, at_t, increment, weights, calls, shape = lines(capsys)
    assert euler.startswith("FAIL ex: case 0") and "one euler step" in euler
    assert "one midpoint step" in midpoint and "heun tableau" in midpoint
    assert "own time t + c_i h" in at_t
    assert "returned the increment" in increment
    assert "values differ by up to" in weights and "k_i = f(t + c_i h" in weights
    assert "f was called 3 times" in calls and "exactly 2 evaluations" in calls
    assert "case 3" in shape and "shape (10,), expected (5, 2)" in shape


# ------------------------------------------------------------------------ check_measured_order

HS = [0.125, 0.0625, 0.03125, 0.015625]
ERRORS = [2.0 * h**3 * (1 + 0.3 * h) for h in HS]  # third order, with a small higher term


def test_check_measured_order_accepts_fits_and_ratios(capsys):
    fit = np.polyfit(np.log(HS), np.log(ERRORS), 1)[0]
    last_pair = math.log2(ERRORS[-2] / ERRORS[-1])
    assert checks.check_measured_order("order", fit, HS, ERRORS)
    assert checks.check_measured_order("order", last_pair, HS, ERRORS)
    assert checks.check_measured_order("order", 3, HS, ERRORS)
    assert checks.check_measured_order("order", torch.tensor(3.05), HS, ERRORS)
    assert checks.check_measured_order("order", np.float64(2.9), HS, ERRORS)
    assert lines(capsys) == ["PASS order"] * 5


def test_check_measured_order_hints(capsys):
    ratio = ERRORS[-2] / ERRORS[-1]
    answers = [
        ...,
        [3.1, 3.0],
        -math.log2(ratio),  # flipped
        1 / 3,  # axes swapped
        math.log10(ratio),  # log base 10 of the ratio
        math.log(ratio),  # natural log of the ratio
        4.0,
        float("nan"),
    ]
    for answer in answers:
        assert not checks.check_measured_order("order", answer, HS, ERRORS)
    out = lines(capsys)
    assert "no answer yet" in out[0]
    assert "give one number" in out[1]
    assert "sign is flipped" in out[2]
    assert "swapped the axes" in out[3]
    assert "base 2" in out[4] and "base 2" in out[5]
    assert "p = log(e1 / e2) / log(h1 / h2)" in out[6]
    assert "NaN" in out[7]
    assert not any("3" in line.split(":", 1)[1] for line in out[2:6])  # no answer given away


# --------------------------------------------------------------------------- check_nfe_formula


def test_check_nfe_formula(capsys):
    stages = {"euler": 1, "midpoint": 2, "rk4": 4}

    def right(method, n_steps):
        return stages[method] * n_steps

    def todo(method, n_steps):
        raise NotImplementedError

    def nothing(method, n_steps):
        return ...

    def one_per_step(method, n_steps):
        return n_steps

    def plus_one(method, n_steps):
        return stages[method] * n_steps + 1

    def extra_step(method, n_steps):
        return stages[method] * (n_steps + 1)

    def rk4_as_three(method, n_steps):
        return {"euler": 1, "midpoint": 2, "rk4": 3}[method] * n_steps

    def fractional(method, n_steps):
        return stages[method] * n_steps / 3

    assert checks.check_nfe_formula("nfe", right)
    for fn in (todo, nothing, one_per_step, plus_one, extra_step, rk4_as_three, fractional):
        assert not checks.check_nfe_formula("nfe", fn)
    out = lines(capsys)
    assert out[0] == "PASS nfe"
    assert "not implemented yet" in out[1] and "no answer yet" in out[2]
    assert "midpoint over 1 step:" in out[3] and "once per stage" in out[3]
    assert "no extra call" in out[4] and "no extra call" in out[5]
    assert out[6].startswith("FAIL nfe: rk4 over 1 step:") and "count the stages" in out[6]
    assert "euler over 1 step: return a whole number" in out[7]


# ------------------------------------------------------------- check_euler_stability_limit


def test_check_euler_stability_limit(capsys):
    assert checks.check_euler_stability_limit("h", 0.2, 10.0)
    assert checks.check_euler_stability_limit("h", torch.tensor(2 / 3), 3.0)
    assert checks.check_euler_stability_limit("h", np.float64(0.2), 10.0)
    for answer in (..., "0.2 s", 0.1, -0.2, 5.0, 20.0, 0.3, float("inf"), float("nan")):
        assert not checks.check_euler_stability_limit("h", answer, 10.0)
    out = lines(capsys)
    assert out[:3] == ["PASS h"] * 3
    assert "no answer yet" in out[3]
    assert "give one number" in out[4]
    assert "drops to zero in one step" in out[5]
    assert "positive" in out[6]
    assert "scales like 1 / lam" in out[7] and "scales like 1 / lam" in out[8]
    assert "|factor| <= 1" in out[9]
    assert "finite" in out[10] and "finite" in out[11]
    assert not any("0.2" in line.split(":", 1)[1] for line in out[3:])  # no answer given away


def test_check_euler_stability_limit_matches_euler():
    """Just below the limit Euler's solution of y' = -lam y decays; just above it grows."""
    lam = 10.0

    def f(t, y):
        return -lam * y

    for h, grows in ((0.19, False), (0.21, True)):
        y = torch.ones(1, dtype=torch.float64)
        for _ in range(50):
            y = solvers.euler_step(f, 0.0, y, h)
        assert (abs(y.item()) > 1) == grows


def test_check_euler_stability_limit_rejects_a_bad_lam():
    import pytest

    from nodebook_utils.checks.core import CheckerUsageError

    with pytest.raises(CheckerUsageError):
        checks.check_euler_stability_limit("h", 0.2, -1.0)
