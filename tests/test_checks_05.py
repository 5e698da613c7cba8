"""Checkers of 05_neural_odes: a correct answer passes, a wrong one fails with a hint."""

import torch

from nodebook_utils import checks
from nodebook_utils.models import MLPDynamics, concat_time
from nodebook_utils.training import count_parameters

R, K = 0.8, 2.0


def lines(capsys):
    return capsys.readouterr().out.splitlines()


# ------------------------------------------------------------------ ODE block parameters


def test_parameter_count_passes_the_package_count(capsys):
    for dim, hidden in [(3, 20), (2, 32), (64, 64)]:
        want = count_parameters(MLPDynamics(dim, [hidden]))
        assert checks.check_ode_block_parameters("ex", want, dim, hidden)
    assert lines(capsys) == ["PASS ex"] * 3


def test_parameter_count_names_the_slip(capsys):
    dim, hidden = 3, 20
    want = count_parameters(MLPDynamics(dim, [hidden]))
    assert not checks.check_ode_block_parameters("ex", ..., dim, hidden)
    assert not checks.check_ode_block_parameters("ex", 2 * dim * hidden + hidden + dim, dim, hidden)
    assert not checks.check_ode_block_parameters("ex", 2 * dim * hidden, dim, hidden)
    assert not checks.check_ode_block_parameters("ex", want - dim, dim, hidden)
    assert not checks.check_ode_block_parameters("ex", want + 1000, dim, hidden)
    out = lines(capsys)
    assert out[0].startswith("FAIL ex: no answer yet")
    assert "residual block without time input" in out[1]
    assert "weights of h only" in out[2]
    assert "both layers see t" in out[3]
    assert out[4].startswith("FAIL ex: each ConcatLinear(a, b)")
    assert all(str(want) not in line for line in out)


# ------------------------------------------------------------------------- concat_time


def test_concat_time_passes_correct_solutions(capsys):
    def with_full_like(t, h):
        return torch.cat([torch.full_like(h[:, :1], float(t)), h], dim=1)

    assert checks.check_concat_time("ex", concat_time)
    assert checks.check_concat_time("ex", with_full_like)
    assert lines(capsys) == ["PASS ex"] * 2


def test_concat_time_failures_have_hints(capsys):
    def todo(t, h):
        raise NotImplementedError

    def last(t, h):
        return torch.cat([h, torch.full_like(h[:, :1], float(t))], dim=1)

    def rows(t, h):
        return torch.cat([torch.full_like(h[:1], float(t)), h], dim=0)

    def wrong_dtype(t, h):
        return torch.cat([torch.full_like(h[:, :1], float(t)), h], dim=1).float()

    def zeros(t, h):
        return torch.cat([torch.zeros_like(h[:, :1]), h], dim=1)

    for fn in (todo, last, rows, wrong_dtype, zeros):
        assert not checks.check_concat_time("ex", fn)
    out = lines(capsys)
    assert out[0] == "FAIL ex: not implemented yet: replace the raise with your code"
    assert "appended it last" in out[1]
    assert "concatenate along dim=1" in out[2]
    assert "dtype" in out[3] and "case 1" in out[3]
    assert "column 0 is t" in out[4]


# --------------------------------------------------------------------- PINN residual


def residual(model, t):
    t.requires_grad_(True)
    y = model(t)
    dy = torch.autograd.grad(y, t, torch.ones_like(y), create_graph=True)[0]
    return dy - R * y * (1 - y / K)


def test_logistic_residual_passes_a_correct_solution(capsys):
    assert checks.check_logistic_residual("ex", residual, R, K)
    assert lines(capsys) == ["PASS ex"]


def test_logistic_residual_failures_have_hints(capsys):
    def todo(model, t):
        raise NotImplementedError

    def no_requires_grad(model, t):
        y = model(t)
        return torch.autograd.grad(y.sum(), t, create_graph=True)[0] - R * y * (1 - y / K)

    def flipped(model, t):
        return -residual(model, t)

    def no_create_graph(model, t):
        t.requires_grad_(True)
        y = model(t)
        dy = torch.autograd.grad(y.sum(), t)[0]
        return dy - R * y * (1 - y / K)

    def detached(model, t):
        return residual(model, t).detach()

    def flat(model, t):
        return residual(model, t).flatten()

    def wrong_equation(model, t):
        t.requires_grad_(True)
        y = model(t)
        dy = torch.autograd.grad(y.sum(), t, create_graph=True)[0]
        return dy - R * y

    for fn in (todo, no_requires_grad, flipped, no_create_graph, detached, flat, wrong_equation):
        assert not checks.check_logistic_residual("ex", fn, R, K)
    out = lines(capsys)
    assert out[0] == "FAIL ex: not implemented yet: replace the raise with your code"
    assert "requires_grad_(True)" in out[1]
    assert "sign is flipped" in out[2]
    assert "create_graph=True" in out[3] and "gradient" in out[3]
    assert "no graph" in out[4]
    assert "shape (11,)" in out[5]
    assert "values differ" in out[6] and "the exact solution" in out[6]


# ------------------------------------------------------- what a flow can represent


FLOW_RIGHT = {"3x + 1": (True, True, True), "-x": (False, True, True),
              "x^2": (False, False, True)}


def test_flow_representable_passes_the_right_prediction_in_any_spelling(capsys):
    assert checks.check_flow_representable("ex", FLOW_RIGHT)
    assert checks.check_flow_representable(
        "ex", {"3x+1": [1, 1, 1], "- x": (0, 1, 1), "x**2": (False, False, True)})
    assert lines(capsys) == ["PASS ex"] * 2


def test_flow_representable_explains_the_first_wrong_entry(capsys):
    order_kept = dict(FLOW_RIGHT, **{"-x": (True, True, True)})
    no_flip = dict(FLOW_RIGHT, **{"-x": (False, False, True)})
    monotone = dict(FLOW_RIGHT, **{"x^2": (False, True, True)})
    no_bend = dict(FLOW_RIGHT, **{"x^2": (False, False, False)})
    no_linear = dict(FLOW_RIGHT, **{"3x + 1": (False, True, True)})
    for answer in (order_kept, no_flip, monotone, no_bend, no_linear):
        assert not checks.check_flow_representable("ex", answer)
    out = lines(capsys)
    assert "8 of 9 right" in out[0] and "-x by (a)" in out[0] and "order" in out[0]
    assert "negative weight" in out[1]
    assert "x^2 by (b)" in out[2] and "monotone" in out[2]
    assert "bend" in out[3]
    assert "linear ODE" in out[4]
    assert all("True" not in line and "False" not in line for line in out)


def test_flow_representable_placeholders_and_shapes(capsys):
    stub = {"3x + 1": (None, None, None), "-x": (None, None, None), "x^2": (None, None, None)}
    answers = [stub, ..., [True] * 9, {"3x + 1": (True, True, True)}, {"x^3": (1, 1, 1)},
               dict(FLOW_RIGHT, **{"-x": (False, True)}), dict(FLOW_RIGHT, **{"-x": ("no",) * 3})]
    for answer in answers:
        assert not checks.check_flow_representable("ex", answer)
    out = lines(capsys)
    assert "no answer yet" in out[0] and "no answer yet" in out[1]
    assert "answer with a dict" in out[2]
    assert "missing" in out[3]
    assert "unknown target 'x^3'" in out[4]
    assert "three booleans" in out[5]
    assert "answer True or False" in out[6]
